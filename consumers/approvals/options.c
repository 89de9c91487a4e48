/* mcptrail-approvals option table; see options.h. The API binds loopback by
 * default so a developer's instance is never reachable from the network by
 * accident; Deployments set api.address to 0.0.0.0. */
#include "options.h"

#include <stddef.h>
#include <string.h>

#define O(field) offsetof(mt_approvals_config, field)

const mt_cfg_option mt_approvals_options[] = {
    {"api.address", MT_CFG_STRING, "127.0.0.1",
     "Address of the HTTP API (/api/v1/approvals, /healthz, /readyz, /metrics).",
     O(api_address), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"api.port", MT_CFG_INT, "8070", "TCP port of the HTTP API (0: ephemeral, for tests).",
     O(api_port), 0, 65535, NULL, 0},
    {"api.max_body", MT_CFG_SIZE, "64KiB",
     "Largest request body the API accepts (413 above); room for a 2000-character reason "
     "written entirely in \\u escapes.",
     O(api_max_body), 256, 1 << 20, NULL, 0},
    {"console.dir", MT_CFG_STRING, NULL,
     "Directory of the web console's static files (index.html, app.js, app.css), served "
     "under /console/. Unset: the directory compiled in (MT_CONSOLE_DIR_DEFAULT, the source "
     "tree's consumers/approvals/console unless the build sets an installed path such as "
     "/usr/share/mcptrail/console). \"none\": no console (/console/ answers 404).",
     O(console_dir), 0, 0, NULL, 0},
    {"auth.jwks_file", MT_CFG_STRING, NULL,
     "JWKS file with the public keys that sign approvers' tokens.", O(jwks_file), 0, 0, NULL,
     MT_CFG_F_REQUIRED},
    {"auth.issuer", MT_CFG_STRING, NULL, "Issuer (iss) approvers' tokens must carry.",
     O(auth_issuer), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"auth.audiences", MT_CFG_LIST, NULL,
     "Audiences accepted (aud must contain one of them).", O(auth_audiences), 0, 0, NULL,
     MT_CFG_F_REQUIRED},
    {"auth.algs", MT_CFG_LIST, "EdDSA,ES256,RS256",
     "JWS algorithms accepted (never none or HS*).", O(auth_algs), 0, 0, NULL, 0},
    {"auth.leeway", MT_CFG_DURATION, "60s", "Clock skew allowed on exp/nbf/iat.",
     O(auth_leeway_ms), 0, 600000, NULL, 0},
    {"auth.groups_claim", MT_CFG_STRING, "groups",
     "Claim holding the approver's groups: an array of strings (a single string counts as "
     "one group).",
     O(groups_claim), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"signing.key_file", MT_CFG_SECRET_FILE, NULL,
     "PKCS#8 PEM Ed25519 private key that signs decisions (only this service holds it). "
     "Its key id (first 8 bytes of SHA-256 of the raw public key, hex) goes into every "
     "decision.",
     O(signing_key), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"signing.previous_public_keys", MT_CFG_LIST, NULL,
     "PEM public keys of retired signing keys (comma-separated paths): after a key "
     "rotation, decisions published under them are still adopted when the topics are "
     "replayed. Votes signed by a retired key are never counted (votes on approvals still "
     "pending at the rotation must be cast again), so a rotated-out key mints nothing. "
     "Never list a key that may have leaked.",
     O(signing_previous), 0, 0, NULL, 0},
    {"trust.file", MT_CFG_STRING, NULL,
     "JSON file naming the keys allowed to sign on the approval topics: `sidecars` (each "
     "sidecar's approvals.signing_key_file public key: ApprovalRequests and their cancel "
     "votes) and `bots` (each bot's key with the subject, issuer and groups it votes as). "
     "Unsigned or foreign requests and votes are ignored, counted and shown as rejected "
     "(docs/approvals.md \"Who may vote\").",
     O(trust_file), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"topics.requests", MT_CFG_STRING, "mcptrail.approval.requests",
     "Topic of ApprovalRequest records (written by sidecars).", O(topic_requests), 0, 0, NULL,
     MT_CFG_F_REQUIRED},
    {"topics.votes", MT_CFG_STRING, "mcptrail.approval.votes",
     "Topic of ApprovalVote records (the API, bots and sidecar cancels write here).",
     O(topic_votes), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"topics.decisions", MT_CFG_STRING, "mcptrail.approval.decisions",
     "Topic of signed ApprovalDecision records (written only by this service).",
     O(topic_decisions), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"replay.window", MT_CFG_DURATION, "168h",
     "On start the three topics are read from the beginning; records older than this are "
     "skipped (0: keep everything). Must exceed the longest approval expiry.",
     O(replay_window_ms), 0, 0, NULL, 0},
    {"decision.ttl", MT_CFG_DURATION, "15m",
     "A decision's `expires` is its decision time plus this: after it the sidecar must not "
     "act on an approval (ticket-mode retries must come before).",
     O(decision_ttl_ms), 1000, 604800000, NULL, 0},
    {"expiry.grace", MT_CFG_DURATION, "2s",
     "A pending approval is expired this long after its `expires`, so a vote cast just "
     "before expiry and still on its way through Kafka is counted.",
     O(expiry_grace_ms), 0, 60000, NULL, 0},
    MT_CFG_END,
};

const mt_cfg_spec mt_approvals_spec = {
    .program = "mcptrail-approvals",
    .summary = "Approval service: keeps the approval state machine from the approval topics, "
               "serves the approvers' HTTP API and publishes Ed25519-signed decisions.",
    .env_prefix = "MCPTRAIL_",
    .parts = {{mt_cfg_common_options, offsetof(mt_approvals_config, common)},
              {mt_approvals_options, 0},
              {NULL, 0}},
};

mt_err mt_approvals_config_finish(mt_approvals_config *cfg, mt_errbuf *eb)
{
    for (size_t i = 0; i < cfg->auth_algs.n; i++) {
        const char *a = cfg->auth_algs.items[i];
        if (strcmp(a, "none") == 0 || strncmp(a, "HS", 2) == 0)
            return mt_fail(eb, MT_ERR_CONFIG,
                           "auth.algs: '%s' is never accepted (use RS256, ES256 or EdDSA)", a);
    }
    if (cfg->auth_audiences.n == 0)
        return mt_fail(eb, MT_ERR_CONFIG, "auth.audiences: at least one audience is required");
    return MT_OK;
}
