/* mcptrail-sidecar option table; see options.h. Pods set listen.address to
 * 0.0.0.0 (the Helm chart does); the default only binds loopback so a
 * developer's sidecar is never reachable from the network by accident. */
#include "options.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const record_modes[] = {"strict", "async", NULL};
static const char *const client_auths[] = {"require", "optional", "none", NULL};

#define O(field) offsetof(mt_sidecar_config, field)

const mt_cfg_option mt_sidecar_options[] = {
    {"listen.address", MT_CFG_STRING, "127.0.0.1",
     "Address the MCP endpoint listens on. Pods use `0.0.0.0`; the default keeps a "
     "developer's sidecar on loopback.",
     O(listen_address), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"listen.port", MT_CFG_INT, "8080", "TCP port for MCP clients (0: ephemeral, for tests).",
     O(listen_port), 0, 65535, NULL, 0},
    {"upstream.host", MT_CFG_STRING, "127.0.0.1",
     "Host of the MCP server the sidecar protects (the pod's loopback).", O(upstream_host), 0,
     0, NULL, MT_CFG_F_REQUIRED},
    {"upstream.port", MT_CFG_INT, "3000", "TCP port of the upstream MCP server.",
     O(upstream_port), 1, 65535, NULL, 0},
    {"upstream.max_idle_connections", MT_CFG_INT, "64",
     "Idle keep-alive connections to the upstream kept for reuse (0: a new connection per "
     "request). A connection returns to the pool when its exchange completed cleanly; SSE "
     "streams hold theirs, broken ones are dropped.",
     O(upstream_max_idle), 0, 4096, NULL, 0},
    {"upstream.path_prefix", MT_CFG_STRING, "",
     "Prefix prepended to the request path when forwarding (e.g. `/v1`); empty keeps the "
     "client's path.",
     O(upstream_path_prefix), 0, 0, NULL, 0},
    {"upstream.credential_file", MT_CFG_SECRET_FILE, NULL,
     "File holding the complete `Authorization` value sent upstream (e.g. `Bearer ...`). "
     "The client's own token is never forwarded; unset: no Authorization upstream.",
     O(upstream_credential), 0, 0, NULL, 0},
    {"upstream.command", MT_CFG_LIST, NULL,
     "A stdio MCP server the sidecar runs itself instead of reaching upstream.host: its "
     "argv as a JSON array (`[\"npx\",\"-y\",\"@scope/server\"]`; the first item is "
     "looked up in PATH). One process per 2025 MCP session, one shared process for "
     "2026-07-28 clients (docs/sidecar.md \"stdio servers\"). Unset: the HTTP upstream.",
     O(upstream_command), 0, 0, NULL, 0},
    {"upstream.env_allow", MT_CFG_LIST, "PATH,HOME,LANG,LC_ALL,TZ,TMPDIR,NODE_PATH",
     "Environment variables passed from the sidecar's environment to upstream.command's "
     "processes (names; nothing else is passed, so the sidecar's own settings and secrets "
     "stay out).",
     O(upstream_env_allow), 0, 0, NULL, 0},
    {"upstream.env_inherit", MT_CFG_BOOL, "false",
     "Pass upstream.command's processes the sidecar's whole environment except the "
     "`MCPTRAIL_*` variables, instead of upstream.env_allow. The injector's stdio mode sets "
     "it: the server then keeps its container's variables, `envFrom` and the image's `ENV`.",
     O(upstream_env_inherit), 0, 0, NULL, 0},
    {"upstream.env", MT_CFG_LIST, NULL,
     "Variables set for upstream.command's processes, `NAME=value` items (or a JSON "
     "object); they win over upstream.env_allow.",
     O(upstream_env), 0, 0, NULL, MT_CFG_F_KEYVALUE},
    {"upstream.cwd", MT_CFG_STRING, NULL,
     "Working directory of upstream.command's processes; unset: the sidecar's.",
     O(upstream_cwd), 0, 0, NULL, 0},
    {"upstream.max_processes", MT_CFG_INT, "64",
     "Server processes of upstream.command running at once (MCP sessions plus the shared "
     "2026-07-28 one); an initialize beyond gets 503.",
     O(upstream_max_processes), 1, 100000, NULL, 0},
    {"upstream.max_line_bytes", MT_CFG_SIZE, "16MiB",
     "Longest message a stdio server may write (one line of stdout). A longer line is a "
     "protocol error: the process is stopped, its requests get an error.",
     O(upstream_max_line_bytes), 1024, (int64_t)1 << 30, NULL, 0},
    {"upstream.max_pending", MT_CFG_INT, "256",
     "Requests in flight to one stdio server process; beyond, a request gets a JSON-RPC "
     "error (HTTP 429).",
     O(upstream_max_pending), 1, 100000, NULL, 0},
    {"upstream.max_buffered_bytes", MT_CFG_SIZE, "32MiB",
     "Bytes queued for one stdio server's stdin (a server that stops reading); beyond, a "
     "request gets a JSON-RPC error (HTTP 429).",
     O(upstream_max_buffered), 65536, (int64_t)1 << 32, NULL, 0},
    {"upstream.restart_backoff", MT_CFG_DURATION, "250ms",
     "First wait before the shared 2026-07-28 server process is started again after it "
     "exited; doubles per consecutive crash up to 30s, back to this after 60s of uptime.",
     O(upstream_restart_backoff_ms), 10, 60000, NULL, 0},
    {"upstream.session_idle_timeout", MT_CFG_DURATION, "30m",
     "A 2025 MCP session's server process with no request for this long is stopped (its "
     "session then gets 404, the client starts a new one).",
     O(upstream_session_idle_ms), 1000, (int64_t)604800000, NULL, 0},
    {"upstream.stop_grace", MT_CFG_DURATION, "5s",
     "After its stdin is closed, time a server process has to exit before SIGTERM, and "
     "again before SIGKILL (to its process group).",
     O(upstream_stop_grace_ms), 0, 600000, NULL, 0},
    {"admin.address", MT_CFG_STRING, "127.0.0.1",
     "Address of the admin port (/healthz, /readyz, /metrics).", O(admin_address), 0, 0, NULL,
     MT_CFG_F_REQUIRED},
    {"admin.port", MT_CFG_INT, "9090", "Admin port (0: ephemeral).", O(admin_port), 0, 65535,
     NULL, 0},
    {"tls.cert_file", MT_CFG_STRING, NULL,
     "PEM certificate chain for HTTPS on the MCP endpoint; unset: plain HTTP.", O(tls_cert), 0,
     0, NULL, 0},
    {"tls.key_file", MT_CFG_STRING, NULL, "PEM private key matching tls.cert_file.", O(tls_key),
     0, 0, NULL, 0},
    {"tls.client_ca_file", MT_CFG_STRING, NULL,
     "PEM CA bundle that signs client certificates (mTLS); tls.client_auth says whether a "
     "certificate is required. A verified certificate is the caller's identity when no "
     "bearer token is sent: the SPIFFE ID of its URI SAN (issuer: the trust domain), else "
     "its subject DN; auth_method `mtls`, token_fingerprint = SHA-256 of the certificate.",
     O(tls_client_ca), 0, 0, NULL, 0},
    {"tls.client_auth", MT_CFG_ENUM, "require",
     "With tls.client_ca_file: `require` refuses a TLS handshake without a client "
     "certificate it signed; `optional` verifies a certificate when one is sent and accepts "
     "clients without one (they then need a bearer token, or auth.anonymous). A certificate "
     "from another CA fails the handshake either way. `none` requests no certificate (and "
     "needs tls.client_ca_file unset).",
     O(tls_client_auth), 0, 0, client_auths, 0},
    {"limits.max_header_bytes", MT_CFG_SIZE, "16KiB",
     "Largest request header block accepted (431/400 beyond).", O(max_header_bytes), 1024,
     (int64_t)1 << 24, NULL, 0},
    {"limits.max_body_bytes", MT_CFG_SIZE, "4MiB", "Largest request body accepted (413 beyond).",
     O(max_body_bytes), 1024, (int64_t)1 << 30, NULL, 0},
    {"limits.max_connections", MT_CFG_INT, "1024",
     "Client connections served at once; further connections are refused.",
     O(max_connections), 1, 1000000, NULL, 0},
    {"limits.idle_timeout", MT_CFG_DURATION, "60s",
     "Client connection idle/read/write timeout.", O(idle_timeout_ms), 1000,
     (int64_t)86400000, NULL, 0},
    {"limits.request_timeout", MT_CFG_DURATION, "300s",
     "Upper bound on one upstream exchange; SSE streams are bounded by the idle timeout "
     "between events instead.",
     O(request_timeout_ms), 1000, (int64_t)86400000, NULL, 0},
    {"http.allowed_origins", MT_CFG_LIST, NULL,
     "Origin header values accepted (exact match); requests with another Origin get 403. "
     "Unset: an Origin whose host[:port] is in http.allowed_hosts is accepted. Requests "
     "without Origin (non-browser clients) are accepted.",
     O(allowed_origins), 0, 0, NULL, 0},
    {"http.allowed_hosts", MT_CFG_LIST, "localhost,127.0.0.1",
     "Host header values accepted, with or without port (DNS-rebinding defence); others get "
     "403. `*` accepts any.",
     O(allowed_hosts), 0, 0, NULL, 0},
    {"http.public_base_url", MT_CFG_STRING, NULL,
     "Base URL clients reach the sidecar at (`https://mcp.example/prefix`). The 2024-11-05 "
     "HTTP+SSE `endpoint` event is rewritten to point there. Unset: derived from the "
     "request's Host header.",
     O(public_base_url), 0, 0, NULL, 0},
    {"auth.jwks_file", MT_CFG_STRING, NULL,
     "JWKS (JSON) with the keys that sign client tokens. Unset (and no auth.jwks_url): no "
     "bearer token is accepted; only mTLS or anonymous access, if configured.",
     O(jwks_file), 0, 0, NULL, 0},
    {"auth.jwks_url", MT_CFG_STRING, NULL,
     "`https://` URL of the identity provider's JWKS (instead of auth.jwks_file). Fetched "
     "at start: the sidecar does not start without it unless auth.jwks_cache_file holds a "
     "copy from an earlier run. Refreshed every auth.jwks_refresh and when a token names an "
     "unknown `kid` (at most once per auth.jwks_min_refresh; that token gets 401, a retry "
     "after the refresh passes). The server certificate and host name are verified; no "
     "redirects; at most 1 MiB within auth.jwks_timeout. A failed refresh is logged and the "
     "keys in use stay.",
     O(jwks_url), 0, 0, NULL, 0},
    {"auth.jwks_ca_file", MT_CFG_STRING, NULL,
     "PEM CA bundle that verifies the auth.jwks_url server; unset: the system CA store.",
     O(jwks_ca_file), 0, 0, NULL, 0},
    {"auth.jwks_cache_file", MT_CFG_STRING, NULL,
     "File the last good JWKS fetched from auth.jwks_url is written to (mode 0600), and "
     "read at start when the URL cannot be reached. Unset: no cache, start fails without "
     "the URL.",
     O(jwks_cache_file), 0, 0, NULL, 0},
    {"auth.jwks_refresh", MT_CFG_DURATION, "5m", "Period of the auth.jwks_url refresh.",
     O(jwks_refresh_ms), 10000, (int64_t)86400000, NULL, 0},
    {"auth.jwks_min_refresh", MT_CFG_DURATION, "30s",
     "Least time between two refreshes caused by tokens with an unknown `kid`, so tokens "
     "with made-up kids cannot flood the identity provider.",
     O(jwks_min_refresh_ms), 1000, 3600000, NULL, 0},
    {"auth.jwks_timeout", MT_CFG_DURATION, "10s",
     "Bound on one auth.jwks_url fetch, connect to last byte.", O(jwks_timeout_ms), 1000,
     120000, NULL, 0},
    {"auth.issuer", MT_CFG_STRING, NULL, "Required `iss` of client tokens.", O(auth_issuer), 0,
     0, NULL, 0},
    {"auth.audiences", MT_CFG_LIST, NULL, "Accepted `aud` values (any one must match).",
     O(auth_audiences), 0, 0, NULL, 0},
    {"auth.algs", MT_CFG_LIST, "RS256,ES256,EdDSA",
     "Accepted signature algorithms (`none` and HMAC algorithms are never accepted).",
     O(auth_algs), 0, 0, NULL, 0},
    {"auth.leeway", MT_CFG_DURATION, "30s", "Clock skew tolerated on exp/nbf/iat.",
     O(auth_leeway_ms), 0, 600000, NULL, 0},
    {"auth.anonymous", MT_CFG_BOOL, "false",
     "Accept requests without a token (recorded with auth_method `anonymous`). Development "
     "only.",
     O(auth_anonymous), 0, 0, NULL, 0},
    {"auth.resource", MT_CFG_STRING, NULL,
     "This protected resource's URL (`resource` of the RFC 9728 metadata). Unset: derived "
     "from the request's Host.",
     O(resource_url), 0, 0, NULL, 0},
    {"auth.resource_metadata_url", MT_CFG_STRING, NULL,
     "URL advertised in `WWW-Authenticate: Bearer resource_metadata=...`. Unset: "
     "`/.well-known/oauth-protected-resource` on the request's Host.",
     O(resource_metadata_url), 0, 0, NULL, 0},
    {"auth.authorization_servers", MT_CFG_LIST, NULL,
     "Issuer URLs listed as `authorization_servers` in the resource metadata.",
     O(authorization_servers), 0, 0, NULL, 0},
    {"record.mode", MT_CFG_ENUM, "strict",
     "`strict`: a message is forwarded only after its event is acknowledged by Kafka; "
     "`async`: forward at once, spool to disk while Kafka is unreachable.",
     O(record_mode), 0, 0, record_modes, 0},
    {"record.topic", MT_CFG_STRING, "mcptrail.events", "Topic receiving SessionEvent records.",
     O(record_topic), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"record.spool_dir", MT_CFG_STRING, "/var/lib/mcptrail/spool",
     "Directory of the async-mode spool.", O(spool_dir), 0, 0, NULL, 0},
    {"record.spool_sync_interval", MT_CFG_DURATION, "100ms",
     "Async mode: least time between two fdatasync rounds of the spool (group commit). "
     "A kill -9 loses nothing either way (written data is in the page cache); a power "
     "loss may lose the events of the last interval. 0: sync after every event-loop turn "
     "(lowest loss window, higher tail latency).",
     O(spool_sync_interval_ms), 0, (int64_t)60000, NULL, 0},
    {"record.heartbeat_interval", MT_CFG_DURATION, "30s",
     "An idle sidecar records a heartbeat event when nothing was recorded for this long, so "
     "its stream shows it alive: `mcptrail-archiver verify` reports an instance whose last "
     "event is older than twice this (plus a slack) at the archive's end, without an "
     "instance_stop, as a missing tail (docs/archive.md \"Streams\").",
     O(heartbeat_interval_ms), 1000, (int64_t)3600000, NULL, 0},
    {"record.spool_max_bytes", MT_CFG_SIZE, "256MiB",
     "Spool bound; when full, async mode fails closed like strict mode.", O(spool_max_bytes),
     0, (int64_t)1 << 40, NULL, 0},
    {"mask.rules_file", MT_CFG_STRING, NULL,
     "Masking rules (JSON, docs/masking.md): user regex rules, allow-lists, actions, "
     "tokenize key. Unset: the built-in detectors with their default actions. A bad rule "
     "stops start-up with its id.",
     O(mask_rules_file), 0, 0, NULL, 0},
    {"mask.cache_dir", MT_CFG_STRING, NULL,
     "Where the compiled masking database is kept between starts (HMAC-checked with a key "
     "derived from record.hmac_key): start-up reads it in milliseconds instead of "
     "compiling for ~100 ms. Unset: compile at every start.",
     O(mask_cache_dir), 0, 0, NULL, 0},
    {"mask.client_responses", MT_CFG_BOOL, "false",
     "Also mask what the client receives: JSON responses and each SSE event's data go to "
     "the client as recorded (masked), so secrets a server returns never land in CI "
     "console logs. Off: the client gets the server's bytes unchanged (only the record is "
     "masked).",
     O(mask_client_responses), 0, 0, NULL, 0},
    {"record.hmac_key_file", MT_CFG_SECRET_FILE, NULL,
     "Key for payload_hmac (HMAC-SHA256 over the raw payload). Required: the sidecar "
     "refuses to start without it.",
     O(hmac_key), 0, 0, NULL, 0},
    {"record.signing_key_file", MT_CFG_SECRET_FILE, NULL,
     "PKCS#8 PEM Ed25519 private key that signs the stream's checkpoints (instance_start, "
     "heartbeats, instance_stop, at most one other event a second): `mcptrail-archiver "
     "verify --sidecar-key PUB.pem` then proves every event before a checkpoint came from "
     "this sidecar (docs/archive.md \"Streams\"). May be the approvals.signing_key_file key. "
     "Unset: checkpoints are not signed.",
     O(record_signing_key), 0, 0, NULL, 0},
    {"source.cluster", MT_CFG_STRING, "", "Cluster name recorded in every event.",
     O(source_cluster), 0, 0, NULL, 0},
    {"source.namespace", MT_CFG_STRING, "", "Kubernetes namespace recorded in every event.",
     O(source_namespace), 0, 0, NULL, 0},
    {"source.pod", MT_CFG_STRING, NULL, "Pod name recorded in every event; unset: `$HOSTNAME`.",
     O(source_pod), 0, 0, NULL, 0},
    {"policy.file", MT_CFG_STRING, NULL,
     "Policy file (JSON, see docs/policy.md) deciding allow, deny or record-only for every "
     "JSON-RPC message a client sends. Loaded at start (an invalid file stops the sidecar) "
     "and again on SIGHUP (an invalid file is logged and the previous policy kept). Unset: "
     "no policy, every message is allowed and events carry no policy.",
     O(policy_file), 0, 0, NULL, 0},
    {"approvals.decision_keys", MT_CFG_LIST, NULL,
     "PEM Ed25519 public keys of mcptrail-approvals (several during a key rotation). A "
     "decision is acted on only when its signature verifies under the key its key_id "
     "names. Unset: calls the policy marks `approve` are refused (-32007).",
     O(approvals_decision_keys), 0, 0, NULL, 0},
    {"approvals.signing_key_file", MT_CFG_SECRET_FILE, NULL,
     "PKCS#8 PEM Ed25519 private key that signs this sidecar's ApprovalRequests and cancel "
     "votes; mcptrail-approvals and the bots act only on requests signed by a key their "
     "trust.file names (docs/approvals.md \"Who may vote\"). Required with "
     "approvals.decision_keys. The key id is logged at start.",
     O(approvals_signing_key), 0, 0, NULL, 0},
    {"approvals.console_url", MT_CFG_STRING, NULL,
     "Base URL of the approvals console; each ApprovalRequest and ticket error carries "
     "`<url>#/approvals/<approval_id>`. Unset: no link.",
     O(approvals_console_url), 0, 0, NULL, 0},
    {"approvals.topic_requests", MT_CFG_STRING, "mcptrail.approval.requests",
     "Topic the sidecar publishes ApprovalRequest records to.", O(approvals_topic_requests), 0,
     0, NULL, MT_CFG_F_REQUIRED},
    {"approvals.topic_votes", MT_CFG_STRING, "mcptrail.approval.votes",
     "Topic of the sidecar's cancel votes (client cancelled or disconnected).",
     O(approvals_topic_votes), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"approvals.topic_decisions", MT_CFG_STRING, "mcptrail.approval.decisions",
     "Topic the signed ApprovalDecision records are read from.", O(approvals_topic_decisions),
     0, 0, NULL, MT_CFG_F_REQUIRED},
    {"approvals.progress_interval", MT_CFG_DURATION, "10s",
     "While a call waits for its decision, a client that sent a progressToken and accepts "
     "SSE gets notifications/progress this often (the reply becomes an SSE stream). 0: never.",
     O(approvals_progress_ms), 0, (int64_t)3600000, NULL, 0},
    {"approvals.expiry_grace", MT_CFG_DURATION, "5s",
     "A waiting call without a decision is answered `approval expired` (-32005) this long "
     "after the approval's expiry (mcptrail-approvals normally decides `expired` first).",
     O(approvals_grace_ms), 0, (int64_t)600000, NULL, 0},
    {"approvals.decision_lookback", MT_CFG_DURATION, "24h",
     "At start, decisions are read from this far back, so ticket approvals decided while "
     "the sidecar restarted are seen.",
     O(approvals_lookback_ms), 0, (int64_t)7 * 86400000, NULL, 0},
    {"approvals.max_pending", MT_CFG_INT, "1000",
     "Calls held (waiting or as tickets) at once; beyond, a held call is refused (-32007).",
     O(approvals_max_pending), 1, 1000000, NULL, 0},
    {"approvals.state_key_files", MT_CFG_LIST, NULL,
     "Files of at least 32 bytes of secret that seal the requestState the sidecar hands a "
     "2026-07-28 client (multi-round-trip calls, docs/sidecar.md \"Multi-round-trip "
     "calls\"). The first seals, all open (rotation). Give every replica of a deployment "
     "the same files so a retry may land on any of them. Unset: a random key per process "
     "(retries must come back to the same sidecar, and a restart refuses them).",
     O(approvals_state_keys), 0, 0, NULL, 0},
    {"approvals.state_ttl", MT_CFG_DURATION, "10m",
     "How long a sealed requestState of an approved call stays valid: the time a client has "
     "to answer the server's next input request.",
     O(approvals_state_ttl_ms), 1000, (int64_t)86400000, NULL, 0},
    {"approvals.topic_claims", MT_CFG_STRING, NULL,
     "Topic where replicas claim each sealed requestState before using it, so a state "
     "passes once per deployment (docs/sidecar.md \"Multi-round-trip calls\"); every "
     "replica reads and writes it (create it like the decisions topic, e.g. "
     "mcptrail.approval.claims). Unset: single use is per replica only (a state replayed "
     "to another replica passes there once).",
     O(approvals_topic_claims), 0, 0, NULL, 0},
    {"approvals.url_elicitation", MT_CFG_BOOL, "true",
     "A held call from a 2026-07-28 client that declares URL elicitation (and with "
     "approvals.console_url set) is answered at once with an input-required result asking "
     "it to open the approval's console page; its retry passes once the signed decision "
     "exists. No request is held open. Off: such clients are held like older ones.",
     O(approvals_url_elicitation), 0, 0, NULL, 0},
    MT_CFG_END,
};

const mt_cfg_spec mt_sidecar_spec = {
    .program = "mcptrail-sidecar",
    .summary = "MCP reverse proxy that authenticates clients and records every message to Kafka.",
    .env_prefix = "MCPTRAIL_",
    .parts = {{mt_cfg_common_options, offsetof(mt_sidecar_config, common)},
              {mt_sidecar_options, 0},
              {NULL, 0}},
};

mt_err mt_sidecar_config_finish(mt_sidecar_config *cfg, mt_errbuf *eb)
{
    if (!cfg->source_pod) {
        const char *h = getenv("HOSTNAME");
        cfg->source_pod = strdup(h ? h : "");
        if (!cfg->source_pod)
            return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
        return mt_fail(eb, MT_ERR_CONFIG,
                       "tls.cert_file and tls.key_file must be set together");
    if (cfg->tls_client_ca && !cfg->tls_cert)
        return mt_fail(eb, MT_ERR_CONFIG, "tls.client_ca_file needs tls.cert_file");
    if (cfg->tls_client_ca && cfg->tls_client_auth == MT_CLIENT_AUTH_NONE)
        return mt_fail(eb, MT_ERR_CONFIG,
                       "tls.client_auth 'none' contradicts tls.client_ca_file (unset one)");
    if (cfg->jwks_url && cfg->jwks_file)
        return mt_fail(eb, MT_ERR_CONFIG,
                       "auth.jwks_url and auth.jwks_file are exclusive: set one of them");
    if (cfg->jwks_url && strncmp(cfg->jwks_url, "https://", 8) != 0)
        return mt_fail(eb, MT_ERR_CONFIG,
                       "auth.jwks_url '%s' must start with https:// (keys are never fetched "
                       "over plain HTTP)",
                       cfg->jwks_url);
    if (!cfg->jwks_url && (cfg->jwks_ca_file || cfg->jwks_cache_file))
        return mt_fail(eb, MT_ERR_CONFIG,
                       "auth.jwks_ca_file and auth.jwks_cache_file need auth.jwks_url");
    if (cfg->upstream_command.n && !cfg->upstream_command.items[0][0])
        return mt_fail(eb, MT_ERR_CONFIG, "upstream.command: the program name is empty");
    for (size_t i = 0; i < cfg->upstream_env_allow.n; i++)
        if (!cfg->upstream_env_allow.items[i][0] || strchr(cfg->upstream_env_allow.items[i], '='))
            return mt_fail(eb, MT_ERR_CONFIG,
                           "upstream.env_allow: '%s' is not a variable name (use "
                           "upstream.env for NAME=value)",
                           cfg->upstream_env_allow.items[i]);
    for (size_t i = 0; i < cfg->auth_algs.n; i++) {
        const char *a = cfg->auth_algs.items[i];
        if (strcmp(a, "none") == 0 || strncmp(a, "HS", 2) == 0)
            return mt_fail(eb, MT_ERR_CONFIG,
                           "auth.algs: '%s' is never accepted (use RS*, PS*, ES* or EdDSA)", a);
    }
    return MT_OK;
}
