/* Configuration of mcptrail-approvals: the option table (one declaration per
 * key drives the config file, MCPTRAIL_* environment, flags, --help and
 * docs/configuration.md) and the struct it fills.
 *
 * Like sidecar/options.c, options.c is compiled into libmcptrail so the
 * library's mt_cfg_doc_sections lists this table and the docs drift test in
 * tests/lib covers it; it depends on lib headers only. */
#ifndef MT_APPROVALS_OPTIONS_H
#define MT_APPROVALS_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "mcptrail/config.h"

typedef struct mt_approvals_config {
    mt_common_config common;

    char *api_address;
    int64_t api_port;
    int64_t api_max_body;
    char *console_dir; /* NULL: MT_CONSOLE_DIR_DEFAULT; "none": no console */

    char *jwks_file;
    char *auth_issuer;
    mt_strlist auth_audiences;
    mt_strlist auth_algs;
    int64_t auth_leeway_ms;
    char *groups_claim;

    mt_cfg_secret signing_key; /* PKCS#8 PEM Ed25519 private key */
    mt_strlist signing_previous; /* PEM public keys of retired signing keys */
    char *trust_file;            /* sidecar and bot keys (trust.h) */

    char *topic_requests;
    char *topic_votes;
    char *topic_decisions;
    int64_t replay_window_ms;
    int64_t decision_ttl_ms;
    int64_t expiry_grace_ms;
} mt_approvals_config;

extern const mt_cfg_option mt_approvals_options[];
extern const mt_cfg_spec mt_approvals_spec;

/* Cross-option checks (alg allow-list, ...). */
mt_err mt_approvals_config_finish(mt_approvals_config *cfg, mt_errbuf *eb);

#endif
