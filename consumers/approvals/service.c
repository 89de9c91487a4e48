/* mcptrail-approvals engine; the design is in service.h. Everything runs on
 * the caller's event loop thread: the Kafka reader wakes the loop through
 * librdkafka's queue io-event pipe, the producer through its wake-up fd, and
 * a tick (TICK_MS) expires approvals, retries unpublished decisions and
 * polls both clients as a safety net. */
#include "service.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <librdkafka/rdkafka.h>

#include "mcptrail/approval.h"
#include "mcptrail/json.h"
#include "mcptrail/log.h"
#include "mcptrail/runtime.h"
#include "ingest.h"

enum {
    TICK_MS = 200,
    POLL_BATCH = 500,      /* records per wake-up, so the API stays responsive */
    META_TIMEOUT_MS = 500, /* one metadata attempt per tick until the topics exist */
    REASON_MAX = 2000,     /* characters (code points) of a vote reason */
    FLUSH_MS = 5000,
    DELIVERY_TIMEOUT_MS = 30000,
    ORPHANS_MAX = 1024,     /* votes kept while their request is not read yet */
    ORPHANS_PER_APPROVAL = 16,
    ORPHAN_WAIT_MS = 60000, /* ... for at most this long */
};

enum { K_REQ = 0, K_VOTE = 1, K_DEC = 2, K_N = 3 };

/* A partition of the approval topics that has reported its end. */
typedef struct part_state {
    int kind;
    int32_t partition;
} part_state;

/* Why a vote or request was not applied: the trust verdicts, then the
 * state machine's rejections. /metrics prints every reason, zeros too. */
static const char *const reject_reasons[] = {
    "unsigned", "unknown_key", "bad_signature", "wrong_role", "identity_not_allowed",
    "group_not_allowed", "retired_key", "unknown_approval", "hash_mismatch", "already_decided", "expired",
    "not_in_group", "self_approval", "reason_required", "already_voted", "cancel_not_sidecar",
    "sidecar_not_cancel", "cancel_foreign_sidecar", "invalid_vote",
};
#define NREASONS (sizeof reject_reasons / sizeof reject_reasons[0])

typedef struct metrics {
    uint64_t records, records_old, records_bad, requests, requests_dup, requests_conflict;
    uint64_t votes_counted, votes_duplicate;
    uint64_t votes_rejected[NREASONS], requests_rejected[NREASONS];
    uint64_t decisions_sent, decisions_acked, decisions_failed, decisions_read,
        decisions_bad_sig;
    uint64_t api_requests, api_auth_failures, api_votes;
} metrics;

struct mt_approvals {
    mt_approvals_params p;
    const mt_approvals_config *cfg;
    const mt_avro_schema *schema[K_N];
    const char *topic[K_N];
    mt_appr_table tbl;

    mt_consumer *reader; /* assign-only: every partition from the beginning */
    int reader_pipe[2];
    struct event *reader_ev;
    bool assigned;
    part_state *parts; /* partitions at their end (neof of them) */
    size_t neof;
    bool ready;
    bool closing; /* HTTP server gone: vote reports answer nobody */
    json_t *buffered[K_N]; /* arrays of datums read during the replay */
    /* Live, the three topics are fetched independently, so a vote can be
     * read before the request it answers (a bot that votes at once): such
     * votes wait here, [{"vote": datum, "at": ms}], until the request
     * arrives or ORPHAN_WAIT_MS passes (then: unknown_approval). */
    json_t *orphans;

    mt_producer *prod;
    int wake[2];
    struct event *wake_ev;
    struct event *tick_ev;

    struct evhttp *http;
    int port;
    mt_jwt_policy policy;

    metrics m;
};

typedef struct send_ctx {
    mt_approvals *s;
    int kind; /* K_VOTE (an API vote awaiting its HTTP answer) or K_DEC */
    char *approval_id;
    struct evhttp_request *req;
    char vote[8];
    int64_t ts;
} send_ctx;




/* ---- decoding records into state-machine inputs ------------------------ */

static void publish(mt_approvals *s, mt_appr *a);

static void count_reason(uint64_t *counters, const char *reason)
{
    for (size_t i = 0; i < NREASONS; i++)
        if (strcmp(reject_reasons[i], reason) == 0) {
            counters[i]++;
            return;
        }
}

/* A record that is not applied (already noted in the approval's history by
 * ingest.c): logged and counted. */
static void reject(mt_approvals *s, const char *what, const json_t *d, const char *reason,
                   const char *detail)
{
    bool vote = strcmp(what, "vote") == 0;
    if (strcmp(reason, "malformed") == 0)
        s->m.records_bad++;
    else
        count_reason(vote ? s->m.votes_rejected : s->m.requests_rejected, reason);
    const json_t *who = json_object_get(d, vote ? "voter" : "identity");
    mt_logs(MT_LOG_WARN, "approvals",
            vote ? "vote not counted" : "approval request ignored", "approval_id",
            json_string_value(json_object_get(d, "approval_id")), "reason", reason, "detail",
            detail, "voter", json_string_value(json_object_get(who, "subject")), "issuer",
            json_string_value(json_object_get(who, "issuer")), "vote",
            json_string_value(json_object_get(d, "vote")), "source",
            json_string_value(json_object_get(d, "source")), "key_id",
            json_string_value(json_object_get(d, "key_id")), NULL);
}

static void apply_vote(mt_approvals *s, json_t *d);

/* Votes that waited for this approval's request, in the order read. */
static void adopt_orphans(mt_approvals *s, const char *approval_id)
{
    json_t *mine = json_array();
    for (size_t i = 0; mine && i < json_array_size(s->orphans);) {
        json_t *v = json_object_get(json_array_get(s->orphans, i), "vote");
        if (strcmp(json_string_value(json_object_get(v, "approval_id")), approval_id) == 0) {
            json_array_append(mine, v);
            json_array_remove(s->orphans, i);
        } else {
            i++;
        }
    }
    size_t i;
    json_t *v;
    json_array_foreach(mine, i, v) apply_vote(s, v);
    json_decref(mine);
}

static size_t orphans_for(const mt_approvals *s, const char *approval_id)
{
    size_t n = 0, i;
    json_t *o;
    json_array_foreach(s->orphans, i, o)
    {
        const char *id = json_string_value(
            json_object_get(json_object_get(o, "vote"), "approval_id"));
        n += approval_id && id && strcmp(id, approval_id) == 0;
    }
    return n;
}

/* Votes whose request never came. */
static void expire_orphans(mt_approvals *s)
{
    int64_t now = mt_now_us() / 1000;
    while (json_array_size(s->orphans) > 0) {
        json_t *o = json_array_get(s->orphans, 0);
        if (now - json_integer_value(json_object_get(o, "at")) < ORPHAN_WAIT_MS)
            return;
        reject(s, "vote", json_object_get(o, "vote"), "unknown_approval",
               "no request with this approval id arrived");
        json_array_remove(s->orphans, 0);
    }
}

static void apply_request(mt_approvals *s, json_t *d)
{
    mt_appr_ingest in;
    mt_appr_ingest_request(&s->tbl, s->p.trust, s->schema[K_REQ], d, &in);
    const char *id = json_string_value(json_object_get(d, "approval_id"));
    if (in.reason) {
        reject(s, "request", d, in.reason, in.detail);
    } else if (in.added == MT_APPR_ADDED) {
        s->m.requests++;
        mt_logs(MT_LOG_INFO, "approvals", "approval pending", "approval_id", id, "rule_id",
                json_string_value(json_object_get(d, "rule_id")), "sidecar", in.signer->name,
                NULL);
        adopt_orphans(s, id);
    } else if (in.added == MT_APPR_ADD_DUPLICATE) {
        s->m.requests_dup++;
    } else {
        s->m.requests_conflict++;
        mt_logs(MT_LOG_WARN, "approvals",
                "request ignored: its approval id is already used with another request hash",
                "approval_id", id, NULL);
    }
}

static void apply_vote(mt_approvals *s, json_t *d)
{
    mt_appr_ingest in;
    /* Live, a fresh vote for an approval not read yet waits for its request
     * (bounded in all and per approval; an old signed vote written again
     * cannot take the room: it is not fresh). */
    bool defer = s->ready && json_array_size(s->orphans) < ORPHANS_MAX &&
                 json_integer_value(json_object_get(d, "ts")) / 1000 >=
                     mt_now_us() / 1000 - ORPHAN_WAIT_MS &&
                 orphans_for(s, json_string_value(json_object_get(d, "approval_id"))) <
                     ORPHANS_PER_APPROVAL;
    mt_appr_ingest_vote(&s->tbl, s->p.trust, s->schema[K_VOTE], d, defer, &in);
    const char *id = json_string_value(json_object_get(d, "approval_id"));
    if (in.deferred) {
        json_array_append_new(s->orphans, json_pack("{s:O,s:I}", "vote", d, "at",
                                                     (json_int_t)(mt_now_us() / 1000)));
        mt_logs(MT_LOG_DEBUG, "approvals", "vote for an approval not read yet; kept until its "
                "request arrives", "approval_id", id, NULL);
        return;
    }
    if (in.reason) {
        reject(s, "vote", d, in.reason, in.detail);
    } else {
        bool dup = in.outcome == MT_APPR_DUPLICATE;
        if (dup)
            s->m.votes_duplicate++;
        else
            s->m.votes_counted++;
        json_t *voter = json_object_get(d, "voter");
        mt_logs(dup ? MT_LOG_DEBUG : MT_LOG_INFO, "approvals",
                dup ? "vote already counted" : "vote counted", "approval_id", id, "vote",
                json_string_value(json_object_get(d, "vote")), "voter",
                json_string_value(json_object_get(voter, "subject")), "issuer",
                json_string_value(json_object_get(voter, "issuer")), "signed_by",
                in.signer->name, "outcome", mt_appr_outcome_name(in.outcome), "state",
                in.a ? mt_appr_state_name(in.a->state) : NULL, NULL);
    }
    if (in.a && (in.outcome == MT_APPR_DECIDED || in.outcome == MT_APPR_TOO_LATE))
        publish(s, in.a);
}

static void apply_decision(mt_approvals *s, json_t *d)
{
    mt_appr_ingest in;
    mt_appr_ingest_decision(&s->tbl, s->p.trust, s->schema[K_DEC], d, &in);
    const char *id = json_string_value(json_object_get(d, "approval_id"));
    if (in.reason && strcmp(in.reason, "malformed") == 0) {
        s->m.records_bad++;
        mt_logs(MT_LOG_WARN, "approvals", "decision on the topic not adopted", "approval_id",
                id, "detail", in.detail, NULL);
        return;
    }
    if (in.reason) {
        s->m.decisions_bad_sig++;
        mt_logs(MT_LOG_WARN, "approvals", "decision on the topic does not verify; ignored",
                "approval_id", id, "key_id", json_string_value(json_object_get(d, "key_id")),
                "reason", in.reason, "error", in.detail, NULL);
        return;
    }
    s->m.decisions_read++;
    if (in.detail[0])
        mt_logs(MT_LOG_WARN, "approvals", in.detail, "approval_id", id, NULL);
}

static void apply(mt_approvals *s, int kind, json_t *d)
{
    switch (kind) {
    case K_REQ: apply_request(s, d); break;
    case K_VOTE: apply_vote(s, d); break;
    case K_DEC: apply_decision(s, d); break;
    }
}

/* ---- publishing decisions ---------------------------------------------- */

static json_t *decision_json(const mt_approvals *s, const mt_appr *a)
{
    json_t *approvers = json_array();
    for (size_t i = 0; approvers && i < a->nvotes; i++) {
        const mt_appr_vote *v = &a->votes[i];
        bool counted = (a->state == MT_APPR_APPROVED && v->kind == MT_APPR_VOTE_APPROVE) ||
                       (a->state == MT_APPR_DENIED && v->kind == MT_APPR_VOTE_DENY) ||
                       (a->state == MT_APPR_CANCELLED && v->kind == MT_APPR_VOTE_CANCEL);
        if (counted)
            json_array_append_new(approvers,
                                  json_pack("{s:s,s:s,s:o,s:I}", "subject", v->subject, "issuer",
                                            v->issuer, "reason",
                                            v->reason ? json_string(v->reason) : json_null(),
                                            "ts", (json_int_t)v->ts));
    }
    char hex[2 * MT_APPR_HASH_LEN + 1];
    mt_hex_encode(a->request_hash, MT_APPR_HASH_LEN, hex, sizeof hex);
    return json_pack("{s:s,s:s,s:s,s:I,s:o,s:I,s:s,s:s}", "approval_id", a->approval_id,
                     "request_hash", hex, "decision", mt_appr_state_name(a->state), "expires",
                     (json_int_t)(a->decided + s->cfg->decision_ttl_ms * 1000), "approvers",
                     approvers, "decided", (json_int_t)a->decided, "key_id", "", "signature",
                     "");
}

static void publish(mt_approvals *s, mt_appr *a)
{
    if (!s->ready || a->state == MT_APPR_PENDING || a->published || a->publishing)
        return;
    mt_errbuf eb = {{0}};
    mt_buf buf = MT_BUF_INIT;
    send_ctx *ctx = NULL;
    json_t *d = decision_json(s, a);
    mt_err err = d ? mt_approval_sign(s->schema[K_DEC], d, s->p.key, &eb)
                   : mt_fail(&eb, MT_ERR_NOMEM, "out of memory");
    if (err == MT_OK)
        err = mt_avro_encode(s->schema[K_DEC], d, &buf, &eb);
    if (err == MT_OK && !(ctx = calloc(1, sizeof *ctx)))
        err = mt_fail(&eb, MT_ERR_NOMEM, "out of memory");
    if (err == MT_OK && !(ctx->approval_id = strdup(a->approval_id)))
        err = mt_fail(&eb, MT_ERR_NOMEM, "out of memory");
    if (err == MT_OK) {
        ctx->s = s;
        ctx->kind = K_DEC;
        mt_kafka_avro_headers ah;
        const mt_kafka_header *h =
            mt_kafka_avro_headers_init(&ah, mt_avro_schema_fingerprint(s->schema[K_DEC]));
        err = mt_producer_send(s->prod, s->topic[K_DEC], a->approval_id,
                               strlen(a->approval_id), buf.data, buf.len, h, 2, ctx, &eb);
    }
    if (err == MT_OK) {
        a->publishing = true;
        json_decref(a->decision);
        a->decision = d;
        d = NULL;
        ctx = NULL;
        s->m.decisions_sent++;
    } else {
        /* Retried by the next tick. */
        mt_logs(err == MT_ERR_TOO_LARGE ? MT_LOG_DEBUG : MT_LOG_ERROR, "approvals",
                "decision not sent yet; will retry", "approval_id", a->approval_id, "error",
                eb.msg, NULL);
    }
    if (ctx)
        free(ctx->approval_id);
    free(ctx);
    json_decref(d);
    mt_buf_free(&buf);
}

static void publish_all(mt_approvals *s)
{
    for (size_t i = 0; i < s->tbl.n; i++)
        publish(s, s->tbl.items[i]);
}

static void on_expired(mt_appr *a, void *ctx)
{
    mt_approvals *s = ctx;
    mt_logs(MT_LOG_INFO, "approvals", "approval expired", "approval_id", a->approval_id, NULL);
    publish(s, a);
}

/* ---- HTTP helpers ------------------------------------------------------ */

static void reply_json(struct evhttp_request *req, int code, json_t *body)
{
    struct evbuffer *b = evbuffer_new();
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!b || !text) {
        free(text);
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(b, text, strlen(text));
    evbuffer_add(b, "\n", 1);
    free(text);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    const char *reason = code == 200   ? "OK"
                         : code == 202 ? "Accepted"
                         : code == 400 ? "Bad Request"
                         : code == 401 ? "Unauthorized"
                         : code == 403 ? "Forbidden"
                         : code == 404 ? "Not Found"
                         : code == 405 ? "Method Not Allowed"
                         : code == 409 ? "Conflict"
                         : code == 413 ? "Payload Too Large"
                         : code == 422 ? "Unprocessable Content"
                         : code == 503 ? "Service Unavailable"
                                       : "Error";
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}

/* message may quote client input (a field name, a token's claim) cut at a
 * byte limit: bytes that are not valid UTF-8 become '?', or jansson would
 * refuse the string and the client would get a 500 instead of its error. */
static void reply_error(struct evhttp_request *req, int code, const char *error,
                        const char *message)
{
    char safe[700];
    snprintf(safe, sizeof safe, "%s", message);
    size_t len = strlen(safe), bad;
    while ((bad = mt_utf8_check(safe, len)) < len)
        safe[bad] = '?';
    reply_json(req, code, json_pack("{s:s,s:s}", "error", error, "message", safe));
}

/* The trust-file name of a key id, or null. */
static json_t *key_name(const mt_approvals *s, const char *key_id)
{
    const mt_trust_key *k = key_id && key_id[0] ? mt_trust_find(s->p.trust, key_id) : NULL;
    return k ? json_string(k->name) : json_null();
}

static json_t *nullable(const char *v)
{
    return v ? json_string(v) : json_null();
}

static json_t *approval_json(const mt_approvals *s, const mt_appr *a)
{
    char hex[2 * MT_APPR_HASH_LEN + 1];
    mt_hex_encode(a->request_hash, MT_APPR_HASH_LEN, hex, sizeof hex);
    json_t *votes = json_array(), *groups = json_array(), *rejected = json_array();
    for (size_t i = 0; votes && i < a->nvotes; i++) {
        const mt_appr_vote *v = &a->votes[i];
        json_array_append_new(
            votes, json_pack("{s:s,s:s,s:s,s:o,s:I,s:s,s:o,s:o}", "subject", v->subject,
                             "issuer", v->issuer, "vote", mt_appr_vote_kind_name(v->kind),
                             "reason", nullable(v->reason), "ts", (json_int_t)v->ts, "source",
                             mt_appr_source_name(v->source), "key_id",
                             nullable(v->key_id[0] ? v->key_id : NULL), "signed_by",
                             key_name(s, v->key_id)));
    }
    for (size_t i = 0; rejected && i < a->nrejected; i++) {
        const mt_appr_rejection *r = &a->rejected[i];
        json_array_append_new(
            rejected, json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:s,s:I}", "what", r->what, "subject",
                                nullable(r->subject), "issuer", nullable(r->issuer), "vote",
                                nullable(r->vote), "source", nullable(r->source), "key_id",
                                nullable(r->key_id), "reason", r->reason, "ts",
                                (json_int_t)r->ts));
    }
    for (size_t i = 0; groups && i < a->ngroups; i++)
        json_array_append_new(groups, json_string(a->groups[i]));
    json_t *out = json_pack(
        "{s:s,s:s,s:s,s:I,s:I,s:o,s:I,s:I,s:o,s:b,s:b,s:{s:o,s:o},s:o,s:b,s:O?,s:O?}",
        "approval_id", a->approval_id, "state", mt_appr_state_name(a->state), "request_hash",
        hex, "created", (json_int_t)a->created, "expires", (json_int_t)a->expires, "decided",
        a->state == MT_APPR_PENDING ? json_null() : json_integer((json_int_t)a->decided),
        "min_approvals", (json_int_t)a->min_approvals, "approvals",
        (json_int_t)mt_appr_approvals(a), "approver_groups", groups, "four_eyes",
        (int)a->four_eyes, "reason_required", (int)a->reason_required, "requester", "issuer",
        a->requester_issuer ? json_string(a->requester_issuer) : json_null(), "subject",
        a->requester_subject ? json_string(a->requester_subject) : json_null(), "votes", votes,
        "published", (int)a->published, "request", a->record, "decision",
        a->published ? a->decision : NULL);
    if (out)
        json_object_set_new(
            out, "requested_by",
            a->request_key[0] ? json_pack("{s:s,s:o}", "key_id", a->request_key, "name",
                                          key_name(s, a->request_key))
                              : json_null());
    if (out)
        json_object_set_new(out, "rejected", rejected ? rejected : json_array());
    else
        json_decref(rejected);
    if (out)
        json_object_set_new(out, "rejected_total", json_integer((json_int_t)a->rejected_total));
    return out;
}

/* Verifies the bearer token. On failure the reply is sent and false returned. */
static bool authenticate(mt_approvals *s, struct evhttp_request *req, mt_identity *id,
                         json_t **groups)
{
    const char *auth =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 || !auth[7]) {
        s->m.api_auth_failures++;
        evhttp_add_header(oh, "WWW-Authenticate", "Bearer realm=\"mcptrail-approvals\"");
        reply_error(req, 401, "unauthenticated",
                    "send an approver token: Authorization: Bearer <JWT>");
        return false;
    }
    mt_errbuf eb = {{0}};
    const char *tok = auth + 7;
    if (mt_jwt_verify(s->p.jwks, &s->policy, tok, strlen(tok), mt_now_us() / 1000000, id, &eb) !=
        MT_OK) {
        s->m.api_auth_failures++;
        evhttp_add_header(oh, "WWW-Authenticate",
                          "Bearer realm=\"mcptrail-approvals\", error=\"invalid_token\"");
        char msg[600];
        snprintf(msg, sizeof msg, "token rejected: %s", eb.msg);
        reply_error(req, 401, "invalid_token", msg);
        return false;
    }
    if (!id->subject || !id->issuer) {
        mt_identity_free(id);
        reply_error(req, 401, "invalid_token", "token has no subject");
        return false;
    }
    json_t *g = json_object_get(id->claims, s->cfg->groups_claim);
    *groups = json_array();
    if (json_is_string(g))
        json_array_append(*groups, g);
    else if (json_is_array(g))
        json_array_extend(*groups, g);
    return true;
}

static void handle_list(mt_approvals *s, struct evhttp_request *req)
{
    struct evkeyvalq q;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    const char *want = "pending";
    bool all = false;
    mt_appr_state st = MT_APPR_PENDING;
    TAILQ_INIT(&q);
    if (query && evhttp_parse_query_str(query, &q) != 0) {
        reply_error(req, 400, "bad_query", "query string does not parse");
        return;
    }
    const char *v = evhttp_find_header(&q, "state");
    if (v)
        want = v;
    if (strcmp(want, "all") == 0)
        all = true;
    else if (!mt_appr_state_parse(want, &st)) {
        evhttp_clear_headers(&q);
        reply_error(req, 400, "bad_query",
                    "state must be one of pending, approved, denied, expired, cancelled, all");
        return;
    }
    evhttp_clear_headers(&q);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < s->tbl.n; i++) {
        const mt_appr *a = s->tbl.items[i];
        if (all || a->state == st)
            json_array_append_new(arr, approval_json(s, a));
    }
    reply_json(req, 200, json_pack("{s:o,s:b}", "approvals", arr, "ready", (int)s->ready));
}

static void handle_show(mt_approvals *s, struct evhttp_request *req, const char *id)
{
    const mt_appr *a = mt_appr_find(&s->tbl, id);
    if (!a) {
        reply_error(req, 404, "unknown_approval", "no approval with this id");
        return;
    }
    reply_json(req, 200, approval_json(s, a));
}

/* Code points of valid UTF-8 (jansson only hands out valid UTF-8). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static int outcome_status(mt_appr_outcome o)
{
    switch (o) {
    case MT_APPR_COUNTED:
    case MT_APPR_DECIDED:
    case MT_APPR_DUPLICATE: return 200;
    case MT_APPR_UNKNOWN: return 404;
    case MT_APPR_NOT_IN_GROUP:
    case MT_APPR_SELF_APPROVAL:
    case MT_APPR_CANCEL_NOT_SIDECAR:
    case MT_APPR_SIDECAR_NOT_CANCEL:
    case MT_APPR_CANCEL_FOREIGN: return 403;
    case MT_APPR_REASON_REQUIRED: return 422;
    case MT_APPR_HASH_MISMATCH:
    case MT_APPR_TERMINAL:
    case MT_APPR_TOO_LATE:
    case MT_APPR_ALREADY_VOTED: return 409;
    case MT_APPR_INVALID: return 400;
    }
    return 500;
}

static void handle_vote(mt_approvals *s, struct evhttp_request *req, const char *id,
                        mt_appr_vote_kind kind, const mt_identity *who, json_t *groups)
{
    if (!s->ready) {
        reply_error(req, 503, "not_ready",
                    "the service is still replaying the approval topics; retry shortly");
        return;
    }
    /* Which client cast the vote, for the record only (the token says who):
     * the web console sends "console"; absent means "api". */
    mt_appr_source source = MT_APPR_SRC_API;
    const char *src =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Mcptrail-Vote-Source");
    if (src && strcmp(src, "console") == 0) {
        source = MT_APPR_SRC_CONSOLE;
    } else if (src && strcmp(src, "api") != 0) {
        reply_error(req, 400, "bad_header", "Mcptrail-Vote-Source must be api or console");
        return;
    }
    /* Body: empty, or {"reason": "..."}. */
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_t *body = NULL;
    const char *reason = NULL;
    if (len > 0) {
        mt_errbuf eb = {{0}};
        const unsigned char *data = evbuffer_pullup(in, (ssize_t)len);
        mt_json_limits lim = MT_JSON_LIMITS_DEFAULT;
        lim.max_bytes = (size_t)s->cfg->api_max_body;
        lim.max_depth = 4;
        if (!data || mt_json_parse(data, len, &lim, &body, &eb) != MT_OK ||
            !json_is_object(body)) {
            char msg[600];
            snprintf(msg, sizeof msg, "body must be a JSON object like {\"reason\": \"...\"}%s%s",
                     eb.msg[0] ? ": " : "", eb.msg);
            json_decref(body);
            reply_error(req, 400, "bad_body", msg);
            return;
        }
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v)
        {
            if (strcmp(k, "reason") != 0) {
                char msg[200];
                snprintf(msg, sizeof msg, "unknown field '%.60s' (only \"reason\" is accepted)",
                         k);
                json_decref(body);
                reply_error(req, 422, "bad_body", msg);
                return;
            }
        }
        json_t *r = json_object_get(body, "reason");
        if (r && !json_is_null(r) && !json_is_string(r)) {
            json_decref(body);
            reply_error(req, 422, "bad_body", "reason must be a string");
            return;
        }
        reason = json_string_value(r);
        if (reason && utf8_chars(reason) > REASON_MAX) {
            json_decref(body);
            reply_error(req, 422, "bad_body", "reason is longer than 2000 characters");
            return;
        }
    }
    const char *gv[MT_APPR_MAX_GROUPS];
    mt_appr_vote_in v = {
        .approval_id = id,
        .issuer = who->issuer,
        .subject = who->subject,
        .groups = gv,
        .ngroups = mt_appr_string_items(groups, gv, MT_APPR_MAX_GROUPS),
        .kind = kind,
        .reason = reason,
        .ts = mt_now_us(),
        .source = source,
    };
    const mt_appr *a = mt_appr_find(&s->tbl, id);
    if (a)
        memcpy(v.request_hash, a->request_hash, MT_APPR_HASH_LEN);
    mt_appr_outcome o = mt_appr_vote_check(&s->tbl, &v);
    if (o == MT_APPR_DUPLICATE) {
        json_decref(body);
        reply_json(req, 200, json_pack("{s:s,s:s,s:s,s:s}", "approval_id", id, "vote",
                                       mt_appr_vote_kind_name(kind), "status",
                                       "already_recorded", "state",
                                       mt_appr_state_name(a->state)));
        return;
    }
    if (o != MT_APPR_COUNTED) {
        json_decref(body);
        reply_error(req, outcome_status(o), mt_appr_outcome_name(o), mt_appr_outcome_text(o));
        return;
    }
    char hex[2 * MT_APPR_HASH_LEN + 1];
    mt_hex_encode(a->request_hash, MT_APPR_HASH_LEN, hex, sizeof hex);
    json_t *rec = json_pack("{s:s,s:s,s:{s:s,s:s,s:O},s:s,s:o,s:I,s:s}", "approval_id", id,
                            "request_hash", hex, "voter", "subject", who->subject, "issuer",
                            who->issuer, "groups", groups, "vote",
                            mt_appr_vote_kind_name(kind), "reason",
                            reason ? json_string(reason) : json_null(), "ts", (json_int_t)v.ts,
                            "source", mt_appr_source_name(source));
    json_decref(body);
    mt_errbuf eb = {{0}};
    mt_buf buf = MT_BUF_INIT;
    send_ctx *ctx = calloc(1, sizeof *ctx);
    /* Signed so that the service, on replay, knows the vote came through
     * the API (who voted was verified from the token) and not from a topic
     * writer claiming to be this approver. */
    mt_err err = rec && ctx ? mt_approval_sign(s->schema[K_VOTE], rec, s->p.key, &eb)
                            : MT_ERR_NOMEM;
    if (err == MT_OK)
        err = mt_avro_encode(s->schema[K_VOTE], rec, &buf, &eb);
    json_decref(rec);
    if (err == MT_OK && !(ctx->approval_id = strdup(id)))
        err = MT_ERR_NOMEM;
    if (err == MT_OK) {
        ctx->s = s;
        ctx->kind = K_VOTE;
        ctx->req = req;
        ctx->ts = v.ts;
        snprintf(ctx->vote, sizeof ctx->vote, "%s", mt_appr_vote_kind_name(kind));
        mt_kafka_avro_headers ah;
        const mt_kafka_header *h =
            mt_kafka_avro_headers_init(&ah, mt_avro_schema_fingerprint(s->schema[K_VOTE]));
        err = mt_producer_send(s->prod, s->topic[K_VOTE], id, strlen(id), buf.data, buf.len, h,
                               2, ctx, &eb);
    }
    mt_buf_free(&buf);
    if (err != MT_OK) {
        if (ctx)
            free(ctx->approval_id);
        free(ctx);
        mt_logs(MT_LOG_ERROR, "approvals", "vote not sent", "approval_id", id, "error", eb.msg,
                NULL);
        reply_error(req, 503, "kafka_unavailable",
                    "the vote could not be written to Kafka; retry shortly");
        return;
    }
    s->m.api_votes++;
    /* Answered from the delivery report. */
}

static void metrics_reply(mt_approvals *s, struct evhttp_request *req)
{
    size_t by_state[5] = {0};
    size_t unpublished = 0;
    for (size_t i = 0; i < s->tbl.n; i++) {
        const mt_appr *a = s->tbl.items[i];
        by_state[a->state]++;
        if (a->state != MT_APPR_PENDING && !a->published)
            unpublished++;
    }
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add_printf(b, "# TYPE mcptrail_approvals gauge\n");
    for (int i = 0; i < 5; i++)
        evbuffer_add_printf(b, "mcptrail_approvals{state=\"%s\"} %zu\n",
                            mt_appr_state_name((mt_appr_state)i), by_state[i]);
    evbuffer_add_printf(b,
                        "# TYPE mcptrail_approvals_unpublished_decisions gauge\n"
                        "mcptrail_approvals_unpublished_decisions %zu\n"
                        "# TYPE mcptrail_approvals_ready gauge\nmcptrail_approvals_ready %d\n",
                        unpublished, s->ready ? 1 : 0);
    const struct {
        const char *name;
        uint64_t v;
    } c[] = {
        {"records_read_total", s->m.records},
        {"records_outside_window_total", s->m.records_old},
        {"records_invalid_total", s->m.records_bad},
        {"requests_total", s->m.requests},
        {"requests_duplicate_total", s->m.requests_dup},
        {"requests_conflicting_total", s->m.requests_conflict},
        {"votes_counted_total", s->m.votes_counted},
        {"votes_duplicate_total", s->m.votes_duplicate},
        {"decisions_sent_total", s->m.decisions_sent},
        {"decisions_acked_total", s->m.decisions_acked},
        {"decisions_failed_total", s->m.decisions_failed},
        {"decisions_read_total", s->m.decisions_read},
        {"decisions_bad_signature_total", s->m.decisions_bad_sig},
        {"api_requests_total", s->m.api_requests},
        {"api_auth_failures_total", s->m.api_auth_failures},
        {"api_votes_total", s->m.api_votes},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        evbuffer_add_printf(b, "# TYPE mcptrail_approvals_%s counter\nmcptrail_approvals_%s %" PRIu64 "\n",
                            c[i].name, c[i].name, c[i].v);
    /* Rejections by reason; request reasons stop at the trust verdicts. */
    static const char *const what[2] = {"votes", "requests"};
    const uint64_t *by[2] = {s->m.votes_rejected, s->m.requests_rejected};
    for (int w = 0; w < 2; w++) {
        evbuffer_add_printf(b, "# TYPE mcptrail_approvals_%s_rejected_total counter\n", what[w]);
        for (size_t i = 0; i < (w == 0 ? NREASONS : MT_TRUST_VERDICTS - 1); i++)
            evbuffer_add_printf(b,
                                "mcptrail_approvals_%s_rejected_total{reason=\"%s\"} %" PRIu64
                                "\n",
                                what[w], reject_reasons[i], by[w][i]);
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static bool method_is(struct evhttp_request *req, enum evhttp_cmd_type want, const char *allow)
{
    if (evhttp_request_get_command(req) == want)
        return true;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Allow", allow);
    /* libevent 2.1 does not read a body sent with TRACE, HEAD or a method it
     * does not know; left in the stream it would be parsed as the next
     * request. Closing the connection after the 405 resynchronises. */
    evhttp_add_header(h, "Connection", "close");
    reply_error(req, 405, "method_not_allowed", allow[0] == 'G' ? "use GET" : "use POST");
    return false;
}

/* ---- web console (static files) --------------------------------------- */

#ifndef MT_CONSOLE_DIR_DEFAULT
#define MT_CONSOLE_DIR_DEFAULT "consumers/approvals/console"
#endif
#define CONSOLE_PREFIX "/console/"
#define CONSOLE_NAME_MAX 64
#define CONSOLE_FILE_MAX (1 << 20)

/* The console loads nothing but its own files and talks only to this
 * service's API: every fetch directive is 'self' or 'none', no inline
 * script or style, no framing, no form posts, no <base>. */
#define CONSOLE_CSP                                                                         \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "      \
    "connect-src 'self'; font-src 'none'; object-src 'none'; base-uri 'none'; "            \
    "form-action 'none'; frame-ancestors 'none'"

static const char *console_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

/* A console file name is one path segment of [A-Za-z0-9_-] with one
 * extension: no '/', no "..", no '%', no leading dot, so nothing outside
 * the console directory can be named (path traversal is not a matter of
 * normalising, it is not expressible). */
static bool console_name_ok(const char *name)
{
    size_t n = strlen(name), dots = 0;
    if (n == 0 || n > CONSOLE_NAME_MAX || name[0] == '.' || name[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '.')
            dots++;
        else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return dots == 1;
}

static void console_headers(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Security-Policy", CONSOLE_CSP);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    evhttp_add_header(h, "Cross-Origin-Opener-Policy", "same-origin");
    evhttp_add_header(h, "Cross-Origin-Resource-Policy", "same-origin");
    evhttp_add_header(h, "Cache-Control", "no-cache");
}

static void handle_console(mt_approvals *s, struct evhttp_request *req, const char *path)
{
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "Allow", "GET, HEAD");
        evhttp_add_header(h, "Connection", "close");
        reply_error(req, 405, "method_not_allowed", "use GET");
        return;
    }
    if (strcmp(path, "/console") == 0 || strcmp(path, "/") == 0) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/console/");
        evhttp_send_reply(req, 302, "Found", NULL);
        return;
    }
    const char *dir = s->cfg->console_dir ? s->cfg->console_dir : MT_CONSOLE_DIR_DEFAULT;
    const char *name = path + strlen(CONSOLE_PREFIX);
    if (!name[0])
        name = "index.html";
    const char *type = console_type(name);
    if (strcmp(dir, "none") == 0 || !console_name_ok(name) || !type) {
        reply_error(req, 404, "not_found", "no such console file");
        return;
    }
    char file[4096];
    int fd = -1;
    struct stat st;
    struct evbuffer *b = NULL;
    if ((size_t)snprintf(file, sizeof file, "%s/%s", dir, name) >= sizeof file ||
        (fd = open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0 ||
        !S_ISREG(st.st_mode) || st.st_size > CONSOLE_FILE_MAX) {
        if (fd >= 0)
            close(fd);
        else if (errno != ENOENT)
            mt_logs(MT_LOG_WARN, "approvals", "console file not readable", "file", file,
                    "error", strerror(errno), NULL);
        reply_error(req, 404, "not_found", "no such console file");
        return;
    }
    /* Small files read whole: the fd is ours from open to close. */
    size_t want = (size_t)st.st_size, got = 0;
    char *data = malloc(want ? want : 1);
    while (data && got < want) {
        ssize_t r = read(fd, data + got, want - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!data || got != want || !(b = evbuffer_new()) || evbuffer_add(b, data, got) != 0) {
        free(data);
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, 500, NULL);
        return;
    }
    free(data);
    console_headers(req);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

#define API_PREFIX "/api/v1/approvals"
#define ID_MAX 128

static void on_http(struct evhttp_request *req, void *arg)
{
    mt_approvals *s = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (!path)
        path = "/";
    if (strcmp(path, "/healthz") == 0) {
        if (method_is(req, EVHTTP_REQ_GET, "GET"))
            reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
        return;
    }
    if (strcmp(path, "/readyz") == 0) {
        if (!method_is(req, EVHTTP_REQ_GET, "GET"))
            return;
        if (s->ready)
            reply_json(req, 200, json_pack("{s:s}", "status", "ready"));
        else
            reply_json(req, 503,
                       json_pack("{s:s,s:s,s:I,s:I}", "status", "replaying", "detail",
                                 s->assigned ? "reading the approval topics to their end"
                                             : "waiting for the approval topics' metadata",
                                 "partitions", (json_int_t)mt_consumer_assigned(s->reader),
                                 "partitions_at_end", (json_int_t)s->neof));
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        if (method_is(req, EVHTTP_REQ_GET, "GET"))
            metrics_reply(s, req);
        return;
    }
    if (strcmp(path, "/") == 0 || strcmp(path, "/console") == 0 ||
        strncmp(path, CONSOLE_PREFIX, strlen(CONSOLE_PREFIX)) == 0) {
        handle_console(s, req, path);
        return;
    }
    size_t pl = strlen(API_PREFIX);
    if (strncmp(path, API_PREFIX, pl) != 0 || (path[pl] != '\0' && path[pl] != '/')) {
        reply_error(req, 404, "not_found", "no such endpoint (see docs/approvals-openapi.yaml)");
        return;
    }
    s->m.api_requests++;
    /* Route before authenticating so unknown paths get 404 either way. */
    const char *rest = path + pl;
    char id[ID_MAX + 1] = "";
    const char *action = NULL;
    if (*rest == '/' && rest[1]) {
        const char *slash = strchr(rest + 1, '/');
        size_t n = slash ? (size_t)(slash - rest - 1) : strlen(rest + 1);
        if (n == 0 || n > ID_MAX) {
            reply_error(req, 404, "unknown_approval", "no approval with this id");
            return;
        }
        memcpy(id, rest + 1, n);
        id[n] = '\0';
        if (slash) {
            action = slash + 1;
            if (strcmp(action, "approve") != 0 && strcmp(action, "deny") != 0) {
                reply_error(req, 404, "not_found", "actions are /approve and /deny");
                return;
            }
        }
    } else if (*rest == '/' || *rest == '\0') {
        rest = "";
    }
    if (action ? !method_is(req, EVHTTP_REQ_POST, "POST") : !method_is(req, EVHTTP_REQ_GET, "GET"))
        return;
    mt_identity who = {0};
    json_t *groups = NULL;
    if (!authenticate(s, req, &who, &groups))
        return;
    if (!id[0])
        handle_list(s, req);
    else if (!action)
        handle_show(s, req, id);
    else
        handle_vote(s, req, id,
                    strcmp(action, "approve") == 0 ? MT_APPR_VOTE_APPROVE : MT_APPR_VOTE_DENY,
                    &who, groups);
    json_decref(groups);
    mt_identity_free(&who);
}

/* ---- Kafka ------------------------------------------------------------- */

static void on_delivery(const mt_delivery *d, void *arg)
{
    send_ctx *ctx = d->opaque;
    mt_approvals *s = ctx->s;
    (void)arg;
    if (ctx->kind == K_VOTE && s->closing) {
        /* The connection went with the HTTP server. */
    } else if (ctx->kind == K_VOTE) {
        if (d->err == MT_OK) {
            mt_appr *a = mt_appr_find(&s->tbl, ctx->approval_id);
            reply_json(ctx->req, 202,
                       json_pack("{s:s,s:s,s:s,s:I,s:s}", "approval_id", ctx->approval_id,
                                 "vote", ctx->vote, "status", "recorded", "ts",
                                 (json_int_t)ctx->ts, "state",
                                 a ? mt_appr_state_name(a->state) : "unknown"));
        } else {
            mt_logs(MT_LOG_ERROR, "approvals", "vote not acknowledged by Kafka", "approval_id",
                    ctx->approval_id, "error", d->errstr, NULL);
            reply_error(ctx->req, 503, "kafka_unavailable",
                        "the vote was not acknowledged by Kafka; retry");
        }
    } else {
        mt_appr *a = mt_appr_find(&s->tbl, ctx->approval_id);
        if (d->err == MT_OK) {
            s->m.decisions_acked++;
            if (a) {
                a->published = true;
                a->publishing = false;
            }
            mt_log(MT_LOG_INFO, "approvals", "decision published", "approval_id",
                   json_string(ctx->approval_id), "decision",
                   json_string(a ? mt_appr_state_name(a->state) : "?"), "partition",
                   json_integer(d->partition), "offset", json_integer((json_int_t)d->offset),
                   NULL);
        } else {
            s->m.decisions_failed++;
            if (a)
                a->publishing = false;
            mt_logs(MT_LOG_ERROR, "approvals", "decision not acknowledged; will retry",
                    "approval_id", ctx->approval_id, "error", d->errstr, NULL);
        }
    }
    free(ctx->approval_id);
    free(ctx);
}

static void replay_done(mt_approvals *s)
{
    size_t counts[K_N];
    for (int k = 0; k < K_N; k++) {
        size_t i;
        json_t *d;
        counts[k] = json_array_size(s->buffered[k]);
        json_array_foreach(s->buffered[k], i, d) apply(s, k, d);
        json_array_clear(s->buffered[k]);
    }
    s->ready = true;
    mt_log(MT_LOG_INFO, "approvals", "replay complete; ready", "requests",
           json_integer((json_int_t)counts[K_REQ]), "votes",
           json_integer((json_int_t)counts[K_VOTE]), "decisions",
           json_integer((json_int_t)counts[K_DEC]), "approvals",
           json_integer((json_int_t)s->tbl.n), NULL);
    mt_appr_expire_due(&s->tbl, mt_now_us(), s->cfg->expiry_grace_ms * 1000, on_expired, s);
    publish_all(s);
}

static int kind_of_topic(const mt_approvals *s, const char *t)
{
    for (int k = 0; k < K_N; k++)
        if (strcmp(s->topic[k], t) == 0)
            return k;
    return -1;
}

/* A partition's end during the replay: once every assigned partition got
 * there, the state is complete. */
static void on_eof(mt_approvals *s, int k, int32_t partition)
{
    for (size_t i = 0; i < s->neof; i++)
        if (s->parts[i].kind == k && s->parts[i].partition == partition)
            return;
    part_state *np = realloc(s->parts, (s->neof + 1) * sizeof *np);
    if (!np)
        return; /* counted at its next EOF */
    s->parts = np;
    s->parts[s->neof++] = (part_state){k, partition};
    if (s->neof == mt_consumer_assigned(s->reader) && !s->ready)
        replay_done(s);
}

static void on_message(mt_approvals *s, const mt_kafka_msg *m)
{
    const char *tname = m->topic ? m->topic : "?";
    if (m->eof) {
        on_eof(s, kind_of_topic(s, tname), m->partition);
        return;
    }
    s->m.records++;
    int64_t ts = m->timestamp_ms;
    if (s->cfg->replay_window_ms > 0 && ts >= 0 &&
        ts < mt_now_us() / 1000 - s->cfg->replay_window_ms) {
        s->m.records_old++;
        return;
    }
    if (!m->value || m->value_len == 0)
        return; /* tombstone: nothing to apply */
    json_t *d = NULL;
    const mt_avro_schema *sch = NULL;
    mt_errbuf eb = {{0}};
    if (mt_avro_decode(s->p.schemas, m->value, m->value_len, &sch, &d, &eb) != MT_OK) {
        s->m.records_bad++;
        mt_log(MT_LOG_WARN, "approvals", "record does not decode; skipped", "topic",
               json_string(tname), "partition", json_integer(m->partition), "offset",
               json_integer((json_int_t)m->offset), "error", json_string(eb.msg), NULL);
        return;
    }
    int k = -1;
    for (int i = 0; i < K_N; i++)
        if (sch == s->schema[i])
            k = i;
    if (k < 0 || k != kind_of_topic(s, tname)) {
        s->m.records_bad++;
        mt_log(MT_LOG_WARN, "approvals", "record of an unexpected type for its topic; skipped",
               "topic", json_string(tname), "schema", json_string(mt_avro_schema_name(sch)),
               "offset", json_integer((json_int_t)m->offset), NULL);
        json_decref(d);
        return;
    }
    if (!s->ready)
        json_array_append(s->buffered[k], d);
    else
        apply(s, k, d);
    json_decref(d);
}

static void reader_poll(mt_approvals *s)
{
    if (!s->assigned)
        return;
    for (int i = 0; i < POLL_BATCH; i++) {
        mt_kafka_msg m;
        mt_errbuf eb = {{0}};
        mt_err err = mt_consumer_poll(s->reader, 0, &m, &eb);
        if (err == MT_ERR_TIMEOUT)
            return;
        if (err) {
            mt_logs(MT_LOG_WARN, "kafka", "consumer error", "error", eb.msg, NULL);
            return; /* polled again on the next tick */
        }
        on_message(s, &m);
        mt_kafka_msg_release(&m);
    }
    /* More waiting: come back on the next loop turn. */
    event_active(s->reader_ev, EV_READ, 0);
}

static void reader_assign(mt_approvals *s)
{
    mt_errbuf eb = {{0}};
    if (mt_consumer_assign_all(s->reader, 0, META_TIMEOUT_MS, &eb) != MT_OK) {
        mt_logs(MT_LOG_WARN, "approvals", "approval topics not available yet; retrying", "error",
                eb.msg, NULL);
        return;
    }
    s->assigned = true;
    mt_log(MT_LOG_INFO, "approvals", "replaying the approval topics from the beginning",
           "partitions", json_integer((json_int_t)mt_consumer_assigned(s->reader)), NULL);
}

static void on_reader_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    if (fd >= 0)
        mt_wake_drain(fd);
    reader_poll(arg);
}

static void on_producer_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    mt_approvals *s = arg;
    mt_wake_drain(fd);
    mt_producer_poll(s->prod, 0);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_approvals *s = arg;
    if (!s->assigned)
        reader_assign(s);
    reader_poll(s);
    mt_producer_poll(s->prod, 0);
    if (s->ready) {
        mt_appr_expire_due(&s->tbl, mt_now_us(), s->cfg->expiry_grace_ms * 1000, on_expired, s);
        publish_all(s);
        expire_orphans(s);
    }
}

static mt_err reader_new(mt_approvals *s, mt_errbuf *eb)
{
    mt_consumer_config cc = {
        .kafka = s->p.kafka,
        .group_id = "mcptrail-approvals-replay", /* never joined: assign-only */
        .topics = s->topic,
        .ntopics = K_N,
        .report_eof = 1,
        .assign_only = 1,
    };
    if (!cc.kafka.client_id)
        cc.kafka.client_id = "mcptrail-approvals";
    mt_err err = mt_consumer_new(&cc, &s->reader, eb);
    if (err)
        return err;
    if (mt_wake_pipe(s->reader_pipe) != 0)
        return mt_fail(eb, MT_ERR_IO, "pipe: %s", strerror(errno));
    if (mt_consumer_set_wakeup_fd(s->reader, s->reader_pipe[1]) != MT_OK)
        return mt_fail(eb, MT_ERR_KAFKA, "kafka reader: no consumer queue");
    return MT_OK;
}

mt_err mt_approvals_new(const mt_approvals_params *p, mt_approvals **out, mt_errbuf *eb)
{
    *out = NULL;
    mt_approvals *s = calloc(1, sizeof *s);
    if (!s)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    s->p = *p;
    s->cfg = p->cfg;
    s->reader_pipe[0] = s->reader_pipe[1] = s->wake[0] = s->wake[1] = -1;
    mt_appr_table_init(&s->tbl);
    mt_err err = MT_OK;
    static const char *const names[K_N] = {MT_APPROVAL_REQUEST_SCHEMA, MT_APPROVAL_VOTE_SCHEMA,
                                           MT_APPROVAL_DECISION_SCHEMA};
    s->topic[K_REQ] = s->cfg->topic_requests;
    s->topic[K_VOTE] = s->cfg->topic_votes;
    s->topic[K_DEC] = s->cfg->topic_decisions;
    if (!p->trust || !(s->orphans = json_array())) {
        err = mt_fail(eb, p->trust ? MT_ERR_NOMEM : MT_ERR_INVALID_ARG,
                      p->trust ? "out of memory" : "approvals: no trust table");
        goto fail;
    }
    for (int k = 0; k < K_N; k++) {
        s->schema[k] = mt_avro_registry_find(p->schemas, names[k]);
        s->buffered[k] = json_array();
        if (!s->schema[k]) {
            err = mt_fail(eb, MT_ERR_NOT_FOUND, "schema %s not found in the schema directory",
                          names[k]);
            goto fail;
        }
        if (!s->buffered[k]) {
            err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    if (!mt_ed25519_has_private(p->key)) {
        err = mt_fail(eb, MT_ERR_CONFIG, "signing.key_file holds no private key");
        goto fail;
    }
    s->policy = (mt_jwt_policy){
        .issuer = s->cfg->auth_issuer,
        .audiences = (const char *const *)s->cfg->auth_audiences.items,
        .naud = s->cfg->auth_audiences.n,
        .algs = (const char *const *)s->cfg->auth_algs.items,
        .nalgs = s->cfg->auth_algs.n,
        .leeway_s = s->cfg->auth_leeway_ms / 1000,
    };
    if ((err = reader_new(s, eb)) != MT_OK)
        goto fail;
    /* A vote's HTTP answer waits for its report: bound the wait (503 after
     * it); a decision that times out is simply sent again by the tick. */
    mt_producer_config pc = {.kafka = p->kafka, .on_delivery = on_delivery, .ctx = s,
                             .delivery_timeout_ms = DELIVERY_TIMEOUT_MS};
    if ((err = mt_producer_new(&pc, &s->prod, eb)) != MT_OK)
        goto fail;
    if (mt_wake_pipe(s->wake) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "pipe: %s", strerror(errno));
        goto fail;
    }
    if ((err = mt_producer_set_wakeup_fd(s->prod, s->wake[1])) != MT_OK) {
        mt_fail(eb, err, "producer wake-up fd rejected");
        goto fail;
    }
    s->wake_ev = event_new(p->base, s->wake[0], EV_READ | EV_PERSIST, on_producer_wake, s);
    s->reader_ev = event_new(p->base, s->reader_pipe[0], EV_READ | EV_PERSIST, on_reader_wake, s);
    s->tick_ev = event_new(p->base, -1, EV_PERSIST, on_tick, s);
    s->http = evhttp_new(p->base);
    if (!s->wake_ev || !s->reader_ev || !s->tick_ev || !s->http) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory (events)");
        goto fail;
    }
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(s->wake_ev, NULL);
    event_add(s->reader_ev, NULL);
    event_add(s->tick_ev, &tv);
    /* Every method reaches on_http, so an unsupported one gets a JSON 405
     * with Allow rather than libevent's HTML 501. All bits: libevent 2.1
     * marks a method it does not know (QUERY, ...) with its internal
     * "unknown" bit, which must be allowed too. */
    evhttp_set_allowed_methods(s->http, 0xffff);
    evhttp_set_max_body_size(s->http, (ev_ssize_t)s->cfg->api_max_body);
    evhttp_set_max_headers_size(s->http, 32 * 1024);
    evhttp_set_timeout(s->http, 30);
    evhttp_set_gencb(s->http, on_http, s);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(s->http, s->cfg->api_address, (uint16_t)s->cfg->api_port);
    if (!bound) {
        err = mt_fail(eb, MT_ERR_IO, "api: cannot listen on %s:%d: %s", s->cfg->api_address,
                      (int)s->cfg->api_port, strerror(errno));
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) == 0)
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    reader_assign(s);
    *out = s;
    return MT_OK;
fail:
    mt_approvals_free(s);
    return err;
}

int mt_approvals_port(const mt_approvals *s)
{
    return s->port;
}

bool mt_approvals_ready(const mt_approvals *s)
{
    return s->ready;
}

const mt_appr_table *mt_approvals_table(const mt_approvals *s)
{
    return &s->tbl;
}

void mt_approvals_free(mt_approvals *s)
{
    if (!s)
        return;
    s->closing = true;
    if (s->http)
        evhttp_free(s->http); /* before the flush: vote reports find no request */
    if (s->prod) {
        mt_errbuf eb = {{0}};
        if (mt_producer_flush(s->prod, FLUSH_MS, &eb) != MT_OK)
            mt_logs(MT_LOG_WARN, "approvals",
                    "decisions still in flight at shutdown; they are re-sent after restart",
                    "error", eb.msg, NULL);
        mt_producer_destroy(s->prod);
    }
    mt_consumer_destroy(s->reader);
    if (s->wake_ev)
        event_free(s->wake_ev);
    if (s->reader_ev)
        event_free(s->reader_ev);
    if (s->tick_ev)
        event_free(s->tick_ev);
    for (int i = 0; i < 2; i++) {
        if (s->wake[i] >= 0)
            close(s->wake[i]);
        if (s->reader_pipe[i] >= 0)
            close(s->reader_pipe[i]);
    }
    for (int k = 0; k < K_N; k++)
        json_decref(s->buffered[k]);
    json_decref(s->orphans);
    free(s->parts);
    mt_appr_table_free(&s->tbl);
    free(s);
}
