/* Configuration of mcptrail-wrap: the option table (the same names as the
 * sidecar's where they mean the same) and the struct it fills. Like
 * sidecar/options.c, options.c is compiled into libmcptrail so the
 * configuration reference lists it (docs/configuration.md). */
#ifndef MCPTRAIL_WRAP_OPTIONS_H
#define MCPTRAIL_WRAP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "mcptrail/config.h"

typedef struct mt_wrap_config {
    mt_common_config common;

    char *token_file;       /* identity.token_file */
    char *token_env;        /* identity.token_env */
    char *github_audience;  /* identity.github_audience */
    char *github_ca_file;   /* identity.ca_file */
    char *jwks_file;
    char *auth_issuer;
    mt_strlist auth_audiences;
    mt_strlist auth_algs;
    int64_t auth_leeway_ms;
    bool auth_anonymous;

    int record_mode; /* 0 strict, 1 async */
    char *record_topic;
    char *spool_dir;
    int64_t spool_max_bytes;
    int64_t spool_sync_interval_ms;
    int64_t heartbeat_interval_ms;
    char *mask_rules_file;
    char *mask_cache_dir;
    mt_cfg_secret hmac_key;
    mt_cfg_secret record_signing_key;
    char *source_cluster;
    char *source_namespace;
    char *source_pod;
    char *policy_file;

    mt_strlist env_allow;
    mt_strlist env;
    char *cwd;
    int64_t max_line_bytes;
    int64_t max_buffered;
    int64_t stop_grace_ms;
} mt_wrap_config;

extern const mt_cfg_option mt_wrap_options[];
extern const mt_cfg_spec mt_wrap_spec;

/* Cross-option checks and environment defaults (source.pod from HOSTNAME). */
mt_err mt_wrap_config_finish(mt_wrap_config *cfg, mt_errbuf *eb);

#endif
