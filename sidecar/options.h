/* Configuration of mcptrail-sidecar: the option table (one declaration per
 * key drives the config file, MCPTRAIL_* environment, flags, --help and
 * docs/configuration.md) and the struct it fills.
 *
 * options.c is compiled into libmcptrail (see sidecar/CMakeLists.txt) so the
 * library's mt_cfg_doc_sections can list this table and the docs drift test
 * in tests/lib sees it; it therefore depends on lib headers only. */
#ifndef MCPTRAIL_SIDECAR_OPTIONS_H
#define MCPTRAIL_SIDECAR_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "mcptrail/config.h"

typedef enum mt_sidecar_record_mode {
    MT_RECORD_STRICT = 0, /* release nothing until its event is acked */
    MT_RECORD_ASYNC = 1,  /* forward at once; spool when Kafka is away */
} mt_sidecar_record_mode;

typedef enum mt_sidecar_client_auth {
    MT_CLIENT_AUTH_REQUIRE = 0,  /* handshake fails without a verified client cert */
    MT_CLIENT_AUTH_OPTIONAL = 1, /* a cert is verified when sent; none is fine */
    MT_CLIENT_AUTH_NONE = 2,     /* no client certificate is requested */
} mt_sidecar_client_auth;

typedef struct mt_sidecar_config {
    mt_common_config common;

    char *listen_address;
    int64_t listen_port;
    char *upstream_host;
    int64_t upstream_port;
    int64_t upstream_max_idle;
    char *upstream_path_prefix;
    mt_cfg_secret upstream_credential; /* whole Authorization value for upstream */
    mt_strlist upstream_command;       /* stdio server argv; empty: HTTP upstream */
    mt_strlist upstream_env_allow;     /* names passed from our environment */
    bool upstream_env_inherit;         /* pass all of it but MCPTRAIL_* instead */
    mt_strlist upstream_env;           /* NAME=value set for the server */
    char *upstream_cwd;
    int64_t upstream_max_processes;
    int64_t upstream_max_line_bytes;
    int64_t upstream_max_pending;
    int64_t upstream_max_buffered;
    int64_t upstream_restart_backoff_ms;
    int64_t upstream_session_idle_ms;
    int64_t upstream_stop_grace_ms;
    char *admin_address;
    int64_t admin_port;

    char *tls_cert;
    char *tls_key;
    char *tls_client_ca;
    int tls_client_auth; /* mt_sidecar_client_auth */

    int64_t max_header_bytes;
    int64_t max_body_bytes;
    int64_t max_connections;
    int64_t idle_timeout_ms;
    int64_t request_timeout_ms;
    mt_strlist allowed_origins;
    mt_strlist allowed_hosts;
    char *public_base_url; /* 2024-11-05 endpoint rewriting */

    char *jwks_file;
    char *jwks_url;        /* https:// only; exclusive with jwks_file */
    char *jwks_ca_file;    /* NULL: system CA store */
    char *jwks_cache_file; /* last good fetched JWKS; NULL: none */
    int64_t jwks_refresh_ms;
    int64_t jwks_min_refresh_ms;
    int64_t jwks_timeout_ms;
    char *auth_issuer;
    mt_strlist auth_audiences;
    mt_strlist auth_algs;
    int64_t auth_leeway_ms;
    bool auth_anonymous;
    char *resource_url;          /* "resource" of the RFC 9728 document */
    char *resource_metadata_url; /* advertised in WWW-Authenticate */
    mt_strlist authorization_servers;

    int record_mode; /* mt_sidecar_record_mode */
    char *record_topic;
    char *spool_dir;
    int64_t spool_max_bytes;
    int64_t spool_sync_interval_ms;
    int64_t heartbeat_interval_ms;
    char *mask_rules_file;
    char *mask_cache_dir;
    bool mask_client_responses; /* also mask what the client receives */
    mt_cfg_secret hmac_key;
    char *source_cluster;
    char *source_namespace;
    char *source_pod;

    char *policy_file; /* NULL: no policy, every message allowed */

    mt_strlist approvals_decision_keys; /* PEM public keys; empty: no holds possible */
    mt_cfg_secret approvals_signing_key; /* signs ApprovalRequests and cancel votes */
    mt_cfg_secret record_signing_key;    /* signs stream checkpoints */
    char *approvals_console_url;
    char *approvals_topic_requests, *approvals_topic_votes, *approvals_topic_decisions;
    int64_t approvals_progress_ms;
    int64_t approvals_grace_ms;
    int64_t approvals_lookback_ms;
    int64_t approvals_max_pending;
    mt_strlist approvals_state_keys;   /* MRTR state keys (first seals); empty: per process */
    int64_t approvals_state_ttl_ms;    /* life of a sealed requestState after release */
    bool approvals_url_elicitation;    /* hold nothing open for URL-capable 2026 clients */
    char *approvals_topic_claims;      /* single-use claims across replicas; NULL: per replica */
} mt_sidecar_config;

extern const mt_cfg_option mt_sidecar_options[];
extern const mt_cfg_spec mt_sidecar_spec;

/* Fills defaults that depend on the environment (source.pod from HOSTNAME)
 * and checks cross-option rules (tls cert without key, ...). */
mt_err mt_sidecar_config_finish(mt_sidecar_config *cfg, mt_errbuf *eb);

#endif
