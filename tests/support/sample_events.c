/* Sample records for tests (see sample_events.h). Values derive from i through
 * a splitmix64 stream so records are deterministic yet differ per i; hashes
 * and signatures are pseudo-random hex of the right length, not real digests. */
#include "sample_events.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static uint64_t splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* nbytes pseudo-random bytes as lowercase hex into out (2*nbytes+1 chars). */
static void hex_bytes(uint64_t seed, size_t nbytes, char *out, size_t outlen)
{
    static const char digits[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t k = 0; k < nbytes && n + 2 < outlen; k++) {
        uint64_t r = splitmix(seed * 131 + k);
        out[n++] = digits[(r >> 4) & 0xf];
        out[n++] = digits[r & 0xf];
    }
    out[n] = '\0';
}

/* UUIDv7 layout: 48-bit ms timestamp, version 7, variant 10, random rest. */
static void uuid7(uint64_t seed, uint64_t ms, char *out, size_t outlen)
{
    uint64_t r = splitmix(seed);
    uint64_t r2 = splitmix(seed ^ 0x5555);
    snprintf(out, outlen, "%08" PRIx64 "-%04" PRIx64 "-7%03" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
             (uint64_t)((ms >> 16) & 0xffffffffu), (uint64_t)(ms & 0xffffu), (uint64_t)(r & 0xfffu),
             (uint64_t)(0x8000u | ((r >> 12) & 0x3fffu)), (uint64_t)(r2 & 0xffffffffffffULL));
}

static const char *const tools[] = {"search_code",    "read_file",    "create_issue", "run_query",
                                    "deploy_service", "list_buckets", "send_message"};
#define NTOOLS (sizeof tools / sizeof tools[0])

static const char *const kinds[] = {
    "session_start",    "request",     "response",      "notification",
    "sse_event",        "error",       "policy_denied", "approval_requested",
    "approval_decided", "auth_failed", "session_end",   "heartbeat",
    "instance_start",   "instance_stop"};
#define NKINDS (sizeof kinds / sizeof kinds[0])

#define BASE_US 1767225600000000LL /* 2026-01-01T00:00:00Z */

static json_t *identity(uint64_t i)
{
    char fp[65];
    hex_bytes(i ^ 0x1d, 32, fp, sizeof fp);
    if (i % 9 == 8) /* unauthenticated: every field null */
        return json_pack("{s:n,s:n,s:n,s:s,s:n,s:n}", "issuer", "subject", "audience",
                         "auth_method", "none", "token_fingerprint", "ci");
    char run_id[32];
    snprintf(run_id, sizeof run_id, "%" PRIu64, (uint64_t)9000000000u + i);
    json_t *ci =
        (i % 4 == 3)
            ? json_null()
            : json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s,s:o}", "repository", "acme/payments-api",
                        "workflow", "deploy.yml", "job", "release", "run_id", run_id, "run_attempt",
                        (int)(1 + i % 3), "sha", "3f2a9c1e5b7d4f60a8e2c9b1d3f5a7c9e1b3d5f7", "ref",
                        "refs/heads/main", "actor", (i % 2) ? "zoë-müller" : "octocat",
                        "environment", (i % 5 == 0) ? json_null() : json_string("production"));
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "issuer",
                     "https://token.actions.githubusercontent.com", "subject",
                     "repo:acme/payments-api:ref:refs/heads/main", "audience", "mcptrail",
                     "auth_method", "jwt", "token_fingerprint", fp, "ci", ci);
}

json_t *mt_sample_session_event(uint64_t i)
{
    char event_id[40], session_id[40], hmac[65], prev[65], sse[32], rpc_id[32], payload[512];
    int64_t ts = BASE_US + (int64_t)(i * 1371);
    uuid7(i, (uint64_t)(ts / 1000), event_id, sizeof event_id);
    uuid7(0xabcdef00ULL + i / 16, (uint64_t)(BASE_US / 1000) + i / 16, session_id,
          sizeof session_id);
    hex_bytes(i ^ 0x77, 32, hmac, sizeof hmac);
    hex_bytes(i ^ 0x99, 32, prev, sizeof prev);
    const char *kind = kinds[i % NKINDS];
    const char *tool = tools[(i / 3) % NTOOLS];
    int is_response = (i % NKINDS == 2 || i % NKINDS == 4);
    int internal = (i % NKINDS == 0 || i % NKINDS == 10 || i % NKINDS == 11 || i % NKINDS == 6 ||
                    i % NKINDS == 7 || i % NKINDS == 8 || i % NKINDS >= 12);
    snprintf(sse, sizeof sse, "ev-%" PRIu64, i);
    snprintf(rpc_id, sizeof rpc_id, "%" PRIu64, i % 1000);
    snprintf(payload, sizeof payload,
             "{\"jsonrpc\":\"2.0\",\"id\":%" PRIu64 ",\"method\":\"tools/call\",\"params\":{"
             "\"name\":\"%s\",\"arguments\":{\"query\":\"select * from invoices where "
             "customer_id = %" PRIu64 " and status = 'open' order by due_date\","
             "\"api_key\":\"[REDACTED:generic_api_key]\",\"note\":\"%s\","
             "\"card\":\"************%04" PRIu64 "\"}}}",
             i % 1000, tool, i * 7919,
             (i % 3 == 0) ? "Grüße aus Zürich — 日本語テキスト ✓" : "plain ascii note", i % 10000);

    json_t *http =
        internal ? json_null()
                 : json_pack("{s:s,s:s,s:o,s:o,s:s,s:o}", "method", "POST", "path", "/mcp",
                             "status", is_response ? json_integer(200) : json_null(),
                             "sse_event_id", (i % NKINDS == 4) ? json_string(sse) : json_null(),
                             "protocol_version", "2025-06-18", "mcp_session_id",
                             (i % 3 == 1) ? json_string("upstream-session-7f3a") : json_null());
    json_t *rpc =
        (i % NKINDS == 0 || i % NKINDS == 11 || i % NKINDS >= 12)
            ? json_null()
            : json_pack("{s:o,s:o,s:s,s:o,s:b,s:o}", "id",
                        (i % NKINDS == 3) ? json_null() : json_string(rpc_id), "method",
                        is_response ? json_null() : json_string("tools/call"), "tool", tool,
                        "resource_uri",
                        (i % 7 == 0) ? json_string("file:///srv/data/report.csv") : json_null(),
                        "is_error", i % NKINDS == 5, "error_code",
                        (i % NKINDS == 5) ? json_integer(-32603) : json_null());
    json_t *mask = json_array();
    if (i % 3 != 0) {
        json_array_append_new(mask, json_pack("{s:s,s:s,s:I}", "detector", "generic_api_key",
                                              "action", "redact", "count", (json_int_t)1));
        json_array_append_new(mask, json_pack("{s:s,s:s,s:I}", "detector", "card_number", "action",
                                              "partial", "count", (json_int_t)(i % 4)));
    }
    json_t *policy = (i % NKINDS == 1 || i % NKINDS == 6 || i % NKINDS == 7)
                         ? json_pack("{s:s,s:s}", "rule_id",
                                     (i % NKINDS == 6) ? "deny-prod-deploy" : "default", "action",
                                     (i % NKINDS == 6)   ? "deny"
                                     : (i % NKINDS == 7) ? "approve"
                                                         : "allow")
                         : json_null();
    json_t *approval = json_null();
    if (i % NKINDS == 7 || i % NKINDS == 8) {
        char aid[40];
        uuid7(i ^ 0xa11, (uint64_t)(ts / 1000), aid, sizeof aid);
        approval = json_pack("{s:s,s:o,s:o}", "approval_id", aid, "decision",
                             (i % NKINDS == 8) ? json_string("approved") : json_null(), "approvers",
                             (i % NKINDS == 8) ? json_pack("[s,s]", "alice@example.com", "bob")
                                               : json_array());
    }
    /* stream: instance changes every 64 events, one in 9 records has none
     * (as version 1 records read) */
    json_t *stream = json_null();
    if (i % 9 != 8) {
        char iid[40], sprev[65];
        uuid7(0x1175ULL + i / 64, (uint64_t)(BASE_US / 1000) + i / 64, iid, sizeof iid);
        hex_bytes(i ^ 0x5757, 32, sprev, sizeof sprev);
        char ssig[129];
        hex_bytes(i ^ 0x5151, 64, ssig, sizeof ssig);
        stream = json_pack("{s:s,s:I,s:o,s:o,s:o}", "instance_id", iid, "seq",
                           (json_int_t)(i % 64), "prev_hash",
                           (i % 64 == 0) ? json_null() : json_string(sprev), "session_prev",
                           (i % 16 == 0) ? json_null() : json_integer((json_int_t)(i % 64) - 1),
                           "signature",
                           (i % 5 == 0) ? json_pack("{s:s,s:s}", "key_id", "5a6b7c8d9e0f1a2b",
                                                    "value", ssig)
                                        : json_null());
    }
    json_t *instance = json_null();
    if (i % NKINDS == 12) {
        char csha[65], psha[65];
        hex_bytes(i ^ 0xc0f, 32, csha, sizeof csha);
        hex_bytes(i ^ 0x901, 32, psha, sizeof psha);
        instance = json_pack("{s:s,s:o,s:s,s:I,s:s,s:I,s:s}", "config_sha256", csha,
                             "policy_sha256", (i % 2) ? json_string(psha) : json_null(), "host",
                             "payments-mcp-7f9c6d8b5-x2k4q", "pid", (json_int_t)(1 + i % 40000),
                             "listen", "0.0.0.0:8443", "heartbeat_ms", (json_int_t)30000, "mode",
                             (i % 2) ? "strict" : "async");
    }
    /* logical call (tools/call requests and responses), client metadata: version 3 */
    json_t *call = json_null(), *client = json_null();
    if (!internal && i % 3 != 2) {
        char cid[48];
        snprintf(cid, sizeof cid, "0199b000-0000-7000-8000-%012" PRIx64,
                 (i / 4) & UINT64_C(0xffffffffffff));
        call = json_pack("{s:s,s:I,s:o,s:b}", "call_id", cid, "round", (json_int_t)(1 + i % 3),
                         "result_type",
                         is_response ? json_string((i % 2) ? "input_required" : "complete")
                                     : json_null(),
                         "sealed", (int)(i % 4 == 1));
    }
    if (!internal && !is_response && i % 2 == 0)
        client = json_pack("{s:s,s:o,s:o}", "name", "mcptrail-ts-client", "version",
                           (i % 4) ? json_string("2.4.0") : json_null(), "capabilities",
                           (i % 8) ? json_string("{\"elicitation\":{\"form\":{},\"url\":{}}}")
                                   : json_null());
    return json_pack(
        "{s:s,s:s,s:I,s:o,s:I,s:s,s:s,s:{s:s,s:s,s:s,s:s},s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
        "s:o,s:o,s:s,s:o,s:o,s:o,s:o}",
        "event_id", event_id, "session_id", session_id, "seq", (json_int_t)(i % 16), "stream",
        stream, "ts",
        (json_int_t)ts, "kind", kind, "direction",
        internal      ? "internal"
        : is_response ? "server_to_client"
                      : "client_to_server",
        "source", "cluster", "prod-eu-1", "namespace", "payments", "pod",
        "payments-mcp-7f9c6d8b5-x2k4q", "upstream", "127.0.0.1:8080", "identity", identity(i),
        "http", http, "rpc", rpc, "payload_masked",
        (i % NKINDS == 11) ? json_null() : json_string(payload), "payload_hmac",
        (i % NKINDS == 11) ? json_null() : json_string(hmac), "mask_summary", mask, "policy",
        policy, "approval", approval, "justification",
        (i % 5 == 1) ? json_string("rotate leaked credential, ticket OPS-1234 — dringend")
                     : json_null(),
        "latency_us",
        is_response ? json_integer((i % 11 == 0) ? (json_int_t)9007199254740993LL
                                                 : (json_int_t)(1200 + i % 5000))
                    : json_null(),
        "traceparent",
        (i % 2) ? json_string("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                : json_null(),
        "sidecar_version", "0.1.0", "prev_hash", (i % 16 == 0) ? json_null() : json_string(prev),
        "instance", instance, "call", call, "client", client);
}

json_t *mt_sample_approval_request(uint64_t i)
{
    char aid[40], sid[40], eid[40], hash[65], args[256], url[128], sig[129];
    uint64_t ms = (uint64_t)(BASE_US / 1000) + i * 10;
    uuid7(i ^ 0xa11, ms, aid, sizeof aid);
    hex_bytes(i ^ 0x5168, 64, sig, sizeof sig);
    uuid7(0xabcdef00ULL + i, ms, sid, sizeof sid);
    uuid7(i ^ 0xe7e7, ms, eid, sizeof eid);
    hex_bytes(i ^ 0x4a5, 32, hash, sizeof hash);
    snprintf(args, sizeof args,
             "{\"service\":\"payments-api\",\"version\":\"v%" PRIu64 ".%" PRIu64
             "\",\"token\":\"[REDACTED:github_pat]\",\"comment\":\"%s\"}",
             i % 10, i % 7, (i % 2) ? "Freigabe bitte — 承認" : "release");
    snprintf(url, sizeof url, "https://mcptrail.example.com/approvals/%s", aid);
    json_t *groups = (i % 3 == 0) ? json_array() : json_pack("[s,s]", "sre", "payments-leads");
    return json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:I,s:o,s:o,s:s,s:s,s:o,s:s,s:o,s:i,s:b,s:o,s:b,s:s,s:o,s:o}",
        "approval_id", aid,
        "request_hash", hash, "session_id", sid, "event_id", eid, "created",
        (json_int_t)(ms * 1000), "expires", (json_int_t)(ms * 1000 + 900000000LL), "identity",
        identity(i), "tool", (i % 4 == 0) ? json_null() : json_string(tools[i % NTOOLS]), "method",
        "tools/call", "arguments_masked", args, "justification",
        (i % 2) ? json_string("hotfix for INC-42") : json_null(), "rule_id",
        "prod-deploy-needs-approval", "approver_groups", groups, "min_approvals", (int)(1 + i % 2),
        "four_eyes", i % 5 != 0, "console_url", (i % 3 == 1) ? json_null() : json_string(url),
        "reason_required", i % 2 == 0, "hold_mode", (i % 4 == 3) ? "ticket" : "wait", "key_id",
        (i % 5 == 4) ? json_null() : json_string("3f1c2a9e8b7d6c5a"), "signature",
        (i % 5 == 4) ? json_null() : json_string(sig));
}

json_t *mt_sample_approval_vote(uint64_t i)
{
    char aid[40], hash[65], sig[129];
    uint64_t ms = (uint64_t)(BASE_US / 1000) + i * 10;
    uuid7(i ^ 0xa11, ms, aid, sizeof aid);
    hex_bytes(i ^ 0x4a5, 32, hash, sizeof hash);
    hex_bytes(i ^ 0x5169, 64, sig, sizeof sig);
    static const char *const sources[] = {"api", "console", "bot"};
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:o},s:s,s:o,s:I,s:s,s:o,s:o}", "approval_id", aid,
                     "request_hash", hash, "voter", "subject",
                     (i % 2) ? "alice@example.com" : "Jürgen Ølsen", "issuer",
                     "https://login.example.com", "groups",
                     (i % 3 == 0) ? json_array() : json_pack("[s]", "sre"), "vote",
                     (i % 4 == 3) ? "deny" : "approve", "reason",
                     (i % 2) ? json_string("checked the diff, LGTM 👍") : json_null(), "ts",
                     (json_int_t)(ms * 1000 + 5000000), "source", sources[i % 3], "key_id",
                     (i % 5 == 4) ? json_null() : json_string("8e2d4b6a1c3f5e7d"), "signature",
                     (i % 5 == 4) ? json_null() : json_string(sig));
}

json_t *mt_sample_approval_decision(uint64_t i)
{
    char aid[40], hash[65], sig[129];
    uint64_t ms = (uint64_t)(BASE_US / 1000) + i * 10;
    uuid7(i ^ 0xa11, ms, aid, sizeof aid);
    hex_bytes(i ^ 0x4a5, 32, hash, sizeof hash);
    hex_bytes(i ^ 0x5167, 64, sig, sizeof sig);
    static const char *const decisions[] = {"approved", "denied", "expired", "cancelled"};
    const char *d = decisions[i % 4];
    json_t *approvers = json_array();
    if (i % 4 == 0) {
        json_array_append_new(approvers,
                              json_pack("{s:s,s:s,s:s,s:I}", "subject", "alice@example.com",
                                        "issuer", "https://login.example.com", "reason", "ok", "ts",
                                        (json_int_t)(ms * 1000 + 1000)));
        json_array_append_new(approvers, json_pack("{s:s,s:s,s:n,s:I}", "subject", "bob", "issuer",
                                                   "https://login.example.com", "reason", "ts",
                                                   (json_int_t)(ms * 1000 + 2000)));
    } else if (i % 4 == 1) {
        json_array_append_new(approvers, json_pack("{s:s,s:s,s:s,s:I}", "subject", "carol",
                                                   "issuer", "https://login.example.com", "reason",
                                                   "nicht während des Freeze", "ts",
                                                   (json_int_t)(ms * 1000 + 3000)));
    }
    return json_pack("{s:s,s:s,s:s,s:I,s:o,s:I,s:s,s:s}", "approval_id", aid, "request_hash", hash,
                     "decision", d, "expires", (json_int_t)(ms * 1000 + 900000000LL), "approvers",
                     approvers, "decided", (json_int_t)(ms * 1000 + 4000), "key_id",
                     "approvals-2026-01", "signature", sig);
}
