/* Configuration of mcptrail-injector: the option table (config file,
 * MCPTRAIL_* environment, flags, --help, docs/configuration.md) and the
 * struct it fills. Like sidecar/options.c, options.c is compiled into
 * libmcptrail so the reference and its drift test cover this table. */
#ifndef MT_INJECTOR_OPTIONS_H
#define MT_INJECTOR_OPTIONS_H

#include <stdint.h>

#include "mcptrail/config.h"

typedef enum mt_injector_failure_mode {
    MT_INJECTOR_FAIL = 0,   /* errors answer allowed=false (failurePolicy Fail) */
    MT_INJECTOR_IGNORE = 1, /* errors admit the pod unchanged, with a warning */
} mt_injector_failure_mode;

typedef struct mt_injector_config {
    mt_common_config common;

    char *listen_address;
    int64_t listen_port;
    char *tls_cert;
    char *tls_key;
    int64_t max_body_bytes;
    int64_t request_timeout_ms;
    char *template_file;
    char *opt_in_key;
    int failure_mode; /* mt_injector_failure_mode */
} mt_injector_config;

extern const mt_cfg_option mt_injector_options[];
extern const mt_cfg_spec mt_injector_spec;

#endif
