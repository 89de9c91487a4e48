/* mcptrail-wrap option table; see options.h. */
#include "options.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const record_modes[] = {"strict", "async", NULL};

#define O(field) offsetof(mt_wrap_config, field)

const mt_cfg_option mt_wrap_options[] = {
    {"identity.token_file", MT_CFG_STRING, NULL,
     "File holding the job's OIDC token (a CI system that writes one, or a token fetched "
     "before). Tried first.",
     O(token_file), 0, 0, NULL, 0},
    {"identity.token_env", MT_CFG_STRING, "MCPTRAIL_ID_TOKEN",
     "Environment variable holding the job's OIDC token: GitLab CI's `id_tokens:` "
     "(`MCPTRAIL_ID_TOKEN: {aud: mcptrail}` in .gitlab-ci.yml). Used when "
     "identity.token_file is unset and the variable is set; it is not passed to the server.",
     O(token_env), 0, 0, NULL, 0},
    {"identity.github_audience", MT_CFG_STRING, NULL,
     "GitHub Actions (`permissions: id-token: write`): when no token was found above, the "
     "token is requested from ACTIONS_ID_TOKEN_REQUEST_URL with "
     "ACTIONS_ID_TOKEN_REQUEST_TOKEN for this audience. Unset: not requested.",
     O(github_audience), 0, 0, NULL, 0},
    {"identity.ca_file", MT_CFG_STRING, NULL,
     "PEM CA bundle that verifies the token request's server (identity.github_audience); "
     "unset: the system store.",
     O(github_ca_file), 0, 0, NULL, 0},
    {"auth.jwks_file", MT_CFG_STRING, NULL,
     "JWKS (JSON) with the keys that sign the CI system's tokens. The token is verified at "
     "start like the sidecar verifies a client's (auth.*); without a verified token (and "
     "without auth.anonymous) the wrapper does not start the server.",
     O(jwks_file), 0, 0, NULL, 0},
    {"auth.issuer", MT_CFG_STRING, NULL, "Required `iss` of the token.", O(auth_issuer), 0, 0,
     NULL, 0},
    {"auth.audiences", MT_CFG_LIST, NULL, "Accepted `aud` values (any one must match).",
     O(auth_audiences), 0, 0, NULL, 0},
    {"auth.algs", MT_CFG_LIST, "RS256,ES256,EdDSA",
     "Accepted signature algorithms (`none` and HMAC algorithms are never accepted).",
     O(auth_algs), 0, 0, NULL, 0},
    {"auth.leeway", MT_CFG_DURATION, "30s", "Clock skew tolerated on exp/nbf/iat.",
     O(auth_leeway_ms), 0, 600000, NULL, 0},
    {"auth.anonymous", MT_CFG_BOOL, "false",
     "Run without a token (events carry auth_method `anonymous`). Development only.",
     O(auth_anonymous), 0, 0, NULL, 0},
    {"record.mode", MT_CFG_ENUM, "strict",
     "`strict`: a message passes (either way) only after its event is acknowledged by "
     "Kafka; a request that cannot be recorded gets a JSON-RPC error and never reaches the "
     "server. `async`: pass at once, spool to disk while Kafka is unreachable.",
     O(record_mode), 0, 0, record_modes, 0},
    {"record.topic", MT_CFG_STRING, "mcptrail.events", "Topic receiving SessionEvent records.",
     O(record_topic), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"record.spool_dir", MT_CFG_STRING, NULL,
     "Directory of the async-mode spool (required with record.mode async; one per wrapper "
     "process).",
     O(spool_dir), 0, 0, NULL, 0},
    {"record.spool_max_bytes", MT_CFG_SIZE, "256MiB",
     "Spool bound; when full, async mode fails closed like strict mode.", O(spool_max_bytes),
     0, (int64_t)1 << 40, NULL, 0},
    {"record.spool_sync_interval", MT_CFG_DURATION, "100ms",
     "Async mode: least time between two fdatasync rounds of the spool.",
     O(spool_sync_interval_ms), 0, (int64_t)60000, NULL, 0},
    {"record.heartbeat_interval", MT_CFG_DURATION, "30s",
     "Idle heartbeat of the wrapper's stream (as the sidecar's).", O(heartbeat_interval_ms),
     1000, (int64_t)3600000, NULL, 0},
    {"record.hmac_key_file", MT_CFG_SECRET_FILE, NULL,
     "Key for payload_hmac (HMAC-SHA256 over the raw payload). Required.", O(hmac_key), 0, 0,
     NULL, 0},
    {"record.signing_key_file", MT_CFG_SECRET_FILE, NULL,
     "PKCS#8 PEM Ed25519 private key that signs the stream's checkpoints; unset: unsigned.",
     O(record_signing_key), 0, 0, NULL, 0},
    {"mask.rules_file", MT_CFG_STRING, NULL,
     "Masking rules (docs/masking.md); unset: the built-in detectors.", O(mask_rules_file), 0,
     0, NULL, 0},
    {"mask.cache_dir", MT_CFG_STRING, NULL,
     "Where the compiled masking database is kept between starts; unset: compile at start.",
     O(mask_cache_dir), 0, 0, NULL, 0},
    {"source.cluster", MT_CFG_STRING, "", "Recorded in every event (e.g. the CI system).",
     O(source_cluster), 0, 0, NULL, 0},
    {"source.namespace", MT_CFG_STRING, "", "Recorded in every event (e.g. the project).",
     O(source_namespace), 0, 0, NULL, 0},
    {"source.pod", MT_CFG_STRING, NULL, "Recorded in every event; unset: `$HOSTNAME`.",
     O(source_pod), 0, 0, NULL, 0},
    {"policy.file", MT_CFG_STRING, NULL,
     "Policy file (docs/policy.md) deciding allow, deny or record-only for every request "
     "the client sends. `approve` rules refuse the call (-32007): the wrapper holds no "
     "calls yet. Unset: every message is allowed.",
     O(policy_file), 0, 0, NULL, 0},
    {"upstream.env_allow", MT_CFG_LIST, "PATH,HOME,LANG,LC_ALL,TZ,TMPDIR,NODE_PATH",
     "Environment variables passed from the wrapper's environment to the server (names); "
     "the token variables are never passed unless listed.",
     O(env_allow), 0, 0, NULL, 0},
    {"upstream.env", MT_CFG_LIST, NULL, "Variables set for the server, `NAME=value` items.",
     O(env), 0, 0, NULL, MT_CFG_F_KEYVALUE},
    {"upstream.cwd", MT_CFG_STRING, NULL, "Working directory of the server; unset: ours.",
     O(cwd), 0, 0, NULL, 0},
    {"upstream.max_line_bytes", MT_CFG_SIZE, "16MiB",
     "Longest message either side may write (one line). A longer line from the client gets "
     "a JSON-RPC error; from the server, it is stopped.",
     O(max_line_bytes), 1024, (int64_t)1 << 30, NULL, 0},
    {"upstream.max_buffered_bytes", MT_CFG_SIZE, "32MiB",
     "Bytes queued for the server's stdin at most (a server that stops reading).",
     O(max_buffered), 65536, (int64_t)1 << 32, NULL, 0},
    {"upstream.stop_grace", MT_CFG_DURATION, "5s",
     "After the server's stdin is closed, time it has to exit before SIGTERM, and again "
     "before SIGKILL (to its process group).",
     O(stop_grace_ms), 0, 600000, NULL, 0},
    MT_CFG_END,
};

const mt_cfg_spec mt_wrap_spec = {
    .program = "mcptrail-wrap",
    .summary = "Records a stdio MCP server's traffic to Kafka with the CI job's identity: "
               "mcptrail-wrap [options] -- COMMAND ARGS...",
    .env_prefix = "MCPTRAIL_",
    .positional = "-- COMMAND ARGS...",
    .parts = {{mt_cfg_common_options, offsetof(mt_wrap_config, common)},
              {mt_wrap_options, 0},
              {NULL, 0}},
};

mt_err mt_wrap_config_finish(mt_wrap_config *cfg, mt_errbuf *eb)
{
    if (!cfg->source_pod) {
        const char *h = getenv("HOSTNAME");
        cfg->source_pod = strdup(h ? h : "");
        if (!cfg->source_pod)
            return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    if (cfg->record_mode == 1 && !cfg->spool_dir)
        return mt_fail(eb, MT_ERR_CONFIG, "record.mode async needs record.spool_dir");
    if (!cfg->auth_anonymous &&
        (!cfg->jwks_file || !cfg->auth_issuer || cfg->auth_audiences.n == 0))
        return mt_fail(eb, MT_ERR_CONFIG,
                       "auth.jwks_file, auth.issuer and auth.audiences are required to verify "
                       "the job's token (or auth.anonymous for development)");
    for (size_t i = 0; i < cfg->auth_algs.n; i++) {
        const char *a = cfg->auth_algs.items[i];
        if (strcmp(a, "none") == 0 || strncmp(a, "HS", 2) == 0)
            return mt_fail(eb, MT_ERR_CONFIG,
                           "auth.algs: '%s' is never accepted (use RS*, PS*, ES* or EdDSA)", a);
    }
    return MT_OK;
}
