/* Tests of the approvals service loop (consumers/approvals/service.c) on
 * librdkafka's mock cluster: a request and two API votes give exactly one
 * signed decision; the API's error codes; a restart replays the topics to
 * the same state and writes no decision twice, and a pending approval
 * survives the restart and completes afterwards; the sidecar's cancel and
 * expiry are published too; forged requests and votes (unsigned, unknown
 * key, wrong role, a bot voting as someone else, a copied or tampered
 * signature, another sidecar's cancel) change nothing, are counted and are
 * listed in the approval's history, also after a restart; the web
 * console's files are served with a strict CSP and nothing outside its
 * directory can be named. The HTTP client runs on the
 * service's own event loop; every wait is a condition with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "mcptrail/approval.h"
#include "mcptrail/jwt.h"
#include "mock_kafka.h"
#include "service.h"

#define T_REQ "mcptrail.approval.requests"
#define T_VOTE "mcptrail.approval.votes"
#define T_DEC "mcptrail.approval.decisions"
#define ISS "https://login.example.com"
#define AUD "mcptrail-approvals"
#define DEADLINE_MS 20000

typedef struct fx {
    mt_mock_kafka mk;
    mt_avro_registry *reg;
    mt_ed25519_key *sign_key;
    mt_ed25519_key *sidecar_key, *sidecar2_key, *bot_key, *rogue_key;
    mt_trust trust;
    char trust_path[128], keyfiles[4][128];
    mt_jwt_key *idp;
    mt_jwks *jwks;
    char dir[64], jwks_path[128];
    mt_approvals_config cfg;
    struct event_base *base;
    mt_approvals *svc;
} fx;

static char *auds[] = {AUD};
static char *algs[] = {"EdDSA"};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int64_t wall_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void start_service(fx *f)
{
    mt_approvals_params p = {.cfg = &f->cfg,
                             .kafka = {.bootstrap = f->mk.bootstrap},
                             .schemas = f->reg,
                             .key = f->sign_key,
                             .trust = &f->trust,
                             .jwks = f->jwks,
                             .base = f->base};
    mt_errbuf eb = {{0}};
    if (mt_approvals_new(&p, &f->svc, &eb) != MT_OK)
        fail_msg("service: %s", eb.msg);
}

typedef bool (*cond_fn)(fx *f, const void *arg);

static void run_until(fx *f, cond_fn cond, const void *arg, const char *what)
{
    int64_t end = mono_ms() + DEADLINE_MS;
    while (!cond(f, arg)) {
        if (mono_ms() > end)
            fail_msg("timed out waiting for %s", what);
        event_base_loop(f->base, EVLOOP_ONCE);
    }
}

static bool is_ready(fx *f, const void *arg)
{
    (void)arg;
    return mt_approvals_ready(f->svc);
}

typedef struct want_state {
    const char *id;
    mt_appr_state state;
    size_t approvals;
    bool published;
} want_state;

static bool has_state(fx *f, const void *arg)
{
    const want_state *w = arg;
    const mt_appr *a = mt_appr_find(mt_approvals_table(f->svc), w->id);
    return a && a->state == w->state && mt_appr_approvals(a) == w->approvals &&
           a->published == w->published;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_mock_kafka_start(&f->mk, 1, T_REQ, 2, &eb), MT_OK);
    assert_int_equal(rd_kafka_mock_topic_create(f->mk.mc, T_VOTE, 2, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->mk.mc, T_DEC, 2, 1), 0);
    assert_int_equal(mt_avro_registry_load(NULL, &f->reg, &eb), MT_OK);
    assert_int_equal(mt_ed25519_generate(&f->sign_key, &eb), MT_OK);
    assert_int_equal(mt_jwt_key_generate("OKP", &f->idp, &eb), MT_OK);
    snprintf(f->dir, sizeof f->dir, "/tmp/mt-appr-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->jwks_path, sizeof f->jwks_path, "%s/jwks.json", f->dir);
    json_t *jwk = NULL;
    assert_int_equal(mt_jwt_key_public_jwk(f->idp, "idp", &jwk, &eb), MT_OK);
    json_t *jwks = json_pack("{s:[o]}", "keys", jwk);
    assert_int_equal(json_dump_file(jwks, f->jwks_path, 0), 0);
    json_decref(jwks);
    assert_int_equal(mt_jwks_load_file(f->jwks_path, &f->jwks, &eb), MT_OK);
    /* Trust: this service's key, two sidecars and a bot that votes as
     * release-bot of group bots; rogue_key is trusted by nobody. */
    assert_int_equal(mt_ed25519_generate(&f->sidecar_key, &eb), MT_OK);
    assert_int_equal(mt_ed25519_generate(&f->sidecar2_key, &eb), MT_OK);
    assert_int_equal(mt_ed25519_generate(&f->bot_key, &eb), MT_OK);
    assert_int_equal(mt_ed25519_generate(&f->rogue_key, &eb), MT_OK);
    const mt_ed25519_key *pubs[3] = {f->sidecar_key, f->sidecar2_key, f->bot_key};
    for (int i = 0; i < 3; i++) {
        snprintf(f->keyfiles[i], sizeof f->keyfiles[i], "%s/key%d.pub.pem", f->dir, i);
        assert_int_equal(mt_ed25519_write_public_pem(pubs[i], f->keyfiles[i], &eb), MT_OK);
    }
    snprintf(f->trust_path, sizeof f->trust_path, "%s/trust.json", f->dir);
    json_t *trust = json_pack(
        "{s:[{s:s,s:s},{s:s,s:s}],s:[{s:s,s:s,s:s,s:s,s:[s]}]}", "sidecars", "name", "payments",
        "public_key_file", "key0.pub.pem", "name", "ml", "public_key_file", f->keyfiles[1],
        "bots", "name", "release-bot", "public_key_file", "key2.pub.pem", "subject",
        "release-bot", "issuer", "mcptrail-approval-bot", "groups", "bots");
    assert_int_equal(json_dump_file(trust, f->trust_path, 0), 0);
    json_decref(trust);
    mt_trust_init(&f->trust);
    assert_int_equal(mt_trust_add_service(&f->trust, f->sign_key, false, &eb), MT_OK);
    if (mt_trust_load_file(&f->trust, f->trust_path, &eb) != MT_OK)
        fail_msg("trust file: %s", eb.msg);
    assert_int_equal(mt_trust_count(&f->trust, MT_TRUST_SIDECAR), 2);
    f->cfg = (mt_approvals_config){
        .api_address = "127.0.0.1",
        .api_port = 0,
        .api_max_body = 16384,
        .auth_issuer = ISS,
        .auth_audiences = {auds, 1},
        .auth_algs = {algs, 1},
        .auth_leeway_ms = 0,
        .groups_claim = "groups",
        .topic_requests = T_REQ,
        .topic_votes = T_VOTE,
        .topic_decisions = T_DEC,
        .replay_window_ms = 0,
        .decision_ttl_ms = 60000,
        .expiry_grace_ms = 0,
    };
    f->base = event_base_new();
    assert_non_null(f->base);
    start_service(f);
    run_until(f, is_ready, NULL, "replay of empty topics");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    mt_approvals_free(f->svc);
    event_base_free(f->base);
    mt_jwks_free(f->jwks);
    mt_jwt_key_free(f->idp);
    mt_ed25519_free(f->sign_key);
    mt_ed25519_free(f->sidecar_key);
    mt_ed25519_free(f->sidecar2_key);
    mt_ed25519_free(f->bot_key);
    mt_ed25519_free(f->rogue_key);
    mt_trust_free(&f->trust);
    mt_avro_registry_free(f->reg);
    mt_mock_kafka_stop(&f->mk);
    unlink(f->jwks_path);
    unlink(f->trust_path);
    for (int i = 0; i < 3; i++)
        unlink(f->keyfiles[i]);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* ---- Kafka helpers ------------------------------------------------------ */

static void on_ack(const mt_delivery *d, void *ctx)
{
    if (d->err != MT_OK)
        fail_msg("produce failed: %s", d->errstr);
    (*(int *)ctx)++;
}

/* rec signed by key (NULL: left as it is, e.g. unsigned). */
static json_t *signed_by(fx *f, const char *schema, json_t *rec, const mt_ed25519_key *key)
{
    mt_errbuf eb = {{0}};
    if (key && mt_approval_sign(mt_avro_registry_find(f->reg, schema), rec, key, &eb) != MT_OK)
        fail_msg("sign: %s", eb.msg);
    return rec;
}

static void produce(fx *f, const char *topic, const char *schema, json_t *rec)
{
    int acked = 0;
    mt_producer *p = NULL;
    mt_producer_config pc = {.kafka = {.bootstrap = f->mk.bootstrap}, .on_delivery = on_ack,
                             .ctx = &acked};
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_producer_new(&pc, &p, &eb), MT_OK);
    const mt_avro_schema *s = mt_avro_registry_find(f->reg, schema);
    mt_buf b = MT_BUF_INIT;
    if (mt_avro_encode(s, rec, &b, &eb) != MT_OK)
        fail_msg("encode: %s", eb.msg);
    const char *key = json_string_value(json_object_get(rec, "approval_id"));
    assert_int_equal(mt_producer_send(p, topic, key, strlen(key), b.data, b.len, NULL, 0, NULL,
                                      &eb),
                     MT_OK);
    assert_int_equal(mt_producer_flush(p, DEADLINE_MS, &eb), MT_OK);
    assert_int_equal(acked, 1);
    mt_producer_destroy(p);
    mt_buf_free(&b);
    json_decref(rec);
}

static void produce_request(fx *f, json_t *rec)
{
    produce(f, T_REQ, MT_APPROVAL_REQUEST_SCHEMA,
            signed_by(f, MT_APPROVAL_REQUEST_SCHEMA, rec, f->sidecar_key));
}

static json_t *request(const char *id, int min, bool reason_required)
{
    int64_t now = wall_us();
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:{s:s,s:s},s:s,s:s,s:s,s:[s],s:i,s:b,s:b}",
                     "approval_id", id, "request_hash",
                     "aa00000000000000000000000000000000000000000000000000000000000001",
                     "session_id", "s1", "event_id", "e1", "created", (json_int_t)now,
                     "expires", (json_int_t)(now + 600000000), "identity", "issuer",
                     ISS, "subject", "repo:acme/app", "tool", "deploy",
                     "method", "tools/call", "rule_id", "prod-deploy", "approver_groups", "sre",
                     "min_approvals", min, "four_eyes", 1, "reason_required",
                     (int)reason_required);
}

/* Every record of the decisions topic, decoded. */
static json_t *read_decisions(fx *f)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", f->mk.bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "test-reader", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
    for (int i = 0; i < 2; i++)
        rd_kafka_topic_partition_list_add(l, T_DEC, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    json_t *out = json_array();
    int eofs = 0;
    int64_t end = mono_ms() + DEADLINE_MS;
    while (eofs < 2 && mono_ms() < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eofs++;
        else if (!m->err) {
            json_t *d = NULL;
            mt_errbuf eb = {{0}};
            if (mt_avro_decode(f->reg, m->payload, m->len, NULL, &d, &eb) != MT_OK)
                fail_msg("decision does not decode: %s", eb.msg);
            json_array_append_new(out, d);
        }
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(eofs, 2);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return out;
}

static size_t decisions_for(json_t *all, const char *id, json_t **last)
{
    size_t n = 0, i;
    json_t *d;
    json_array_foreach(all, i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "approval_id")), id) == 0) {
            n++;
            *last = d;
        }
    }
    return n;
}

/* ---- HTTP helpers ------------------------------------------------------- */

typedef struct http_result {
    bool done;
    int status;
    json_t *body;
} http_result;

static void on_response(struct evhttp_request *req, void *arg)
{
    http_result *r = arg;
    r->done = true;
    if (!req)
        return;
    r->status = evhttp_request_get_response_code(req);
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(b);
    r->body = json_loadb((const char *)evbuffer_pullup(b, (ssize_t)n), n, 0, NULL);
}

static bool http_done(fx *f, const void *arg)
{
    (void)f;
    return ((const http_result *)arg)->done;
}

static char *token(fx *f, const char *sub, const char *groups_json)
{
    char claims[512];
    long long now = (long long)time(NULL);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld,"
             "\"groups\":%s}",
             ISS, AUD, sub, now, now + 300, groups_json);
    mt_buf out = MT_BUF_INIT;
    assert_int_equal(mt_jwt_sign(f->idp, "EdDSA", "idp", claims, strlen(claims), &out, NULL),
                     MT_OK);
    char *t = strndup((const char *)out.data, out.len);
    mt_buf_free(&out);
    return t;
}

/* Returns the status; *body (may be NULL) gets the parsed JSON. */
static int http(fx *f, enum evhttp_cmd_type method, const char *path, const char *tok,
                const char *body, json_t **json)
{
    struct evhttp_connection *c =
        evhttp_connection_base_new(f->base, NULL, "127.0.0.1", (uint16_t)mt_approvals_port(f->svc));
    http_result r = {0};
    struct evhttp_request *req = evhttp_request_new(on_response, &r);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", "127.0.0.1");
    char auth[2048];
    if (tok) {
        snprintf(auth, sizeof auth, "Bearer %s", tok);
        evhttp_add_header(h, "Authorization", auth);
    }
    if (body) {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    assert_int_equal(evhttp_make_request(c, req, method, path), 0);
    run_until(f, http_done, &r, path);
    evhttp_connection_free(c);
    if (json)
        *json = r.body;
    else
        json_decref(r.body);
    return r.status;
}

static void expect_error(fx *f, enum evhttp_cmd_type m, const char *path, const char *tok,
                         const char *body, int status, const char *error)
{
    json_t *j = NULL;
    int got = http(f, m, path, tok, body, &j);
    const char *e = json_string_value(json_object_get(j, "error"));
    if (got != status || !e || strcmp(e, error) != 0)
        fail_msg("%s: got %d %s, want %d %s", path, got, e ? e : "(no error)", status, error);
    json_decref(j);
}

/* ---- tests -------------------------------------------------------------- */

static void request_and_two_votes_give_one_signed_decision(void **state)
{
    fx *f = *state;
    char *alice = token(f, "alice", "[\"sre\"]"), *bob = token(f, "bob", "[\"sre\",\"x\"]");
    char *mallory = token(f, "mallory", "[\"dev\"]");
    char *requester = token(f, "repo:acme/app", "\"sre\"");
    produce_request(f, request("ap-1", 2, false));
    want_state pending0 = {"ap-1", MT_APPR_PENDING, 0, false};
    run_until(f, has_state, &pending0, "request ap-1 pending");

    json_t *j = NULL;
    assert_int_equal(http(f, EVHTTP_REQ_GET, "/api/v1/approvals", alice, NULL, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "approvals")), 1);
    json_decref(j);
    expect_error(f, EVHTTP_REQ_GET, "/api/v1/approvals", NULL, NULL, 401, "unauthenticated");
    expect_error(f, EVHTTP_REQ_GET, "/api/v1/approvals", "not.a.jwt", NULL, 401,
                 "invalid_token");
    expect_error(f, EVHTTP_REQ_GET, "/api/v1/approvals/nope", alice, NULL, 404,
                 "unknown_approval");
    expect_error(f, EVHTTP_REQ_GET, "/api/v1/approvals?state=maybe", alice, NULL, 400,
                 "bad_query");
    expect_error(f, EVHTTP_REQ_POST, "/api/v1/approvals/nope/approve", alice, NULL, 404,
                 "unknown_approval");
    expect_error(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-1/approve", mallory, NULL, 403,
                 "not_in_group");
    expect_error(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-1/approve", requester, NULL, 403,
                 "self_approval");
    expect_error(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-1/approve", alice, "{\"reason\":",
                 400, "bad_body");
    expect_error(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-1/approve", alice,
                 "{\"reason\":\"x\",\"extra\":1}", 422, "bad_body");
    /* An unknown field quoted in the message, cut inside a UTF-8 character:
     * still a JSON 422, not a 500. */
    char body[200] = "{\"a";
    for (int i = 0; i < 40; i++)
        strcat(body, "\xc3\xa9");
    strcat(body, "\":1}");
    expect_error(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-1/approve", alice, body, 422,
                 "bad_body");
    expect_error(f, EVHTTP_REQ_GET, "/api/v1/approvals/ap-1/approve", alice, NULL, 405,
                 "method_not_allowed");

    assert_int_equal(http(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-1/approve", alice,
                          "{\"reason\":\"diff reviewed\"}", NULL),
                     202);
    want_state one = {"ap-1", MT_APPR_PENDING, 1, false};
    run_until(f, has_state, &one, "first approval counted from the topic");
    assert_int_equal(http(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-1/approve", alice, NULL,
                          &j),
                     200);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "already_recorded");
    json_decref(j);
    assert_int_equal(http(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-1/approve", bob, NULL, NULL),
                     202);
    want_state done = {"ap-1", MT_APPR_APPROVED, 2, true};
    run_until(f, has_state, &done, "ap-1 approved and published");
    expect_error(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-1/deny", mallory, NULL, 409,
                 "already_decided");

    assert_int_equal(http(f, EVHTTP_REQ_GET, "/api/v1/approvals/ap-1", bob, NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "approved");
    assert_true(json_is_true(json_object_get(j, "published")));
    json_decref(j);

    json_t *all = read_decisions(f), *d = NULL;
    assert_int_equal(decisions_for(all, "ap-1", &d), 1);
    assert_string_equal(json_string_value(json_object_get(d, "decision")), "approved");
    assert_int_equal(json_array_size(json_object_get(d, "approvers")), 2);
    const mt_avro_schema *s = mt_avro_registry_find(f->reg, MT_APPROVAL_DECISION_SCHEMA);
    mt_errbuf eb = {{0}};
    uint8_t raw[MT_ED25519_PUBLIC_LEN];
    mt_ed25519_key *pub = NULL;
    assert_int_equal(mt_ed25519_public_raw(f->sign_key, raw, NULL), MT_OK);
    assert_int_equal(mt_ed25519_from_public_raw(raw, &pub, NULL), MT_OK);
    if (mt_approval_verify(s, d, pub, &eb) != MT_OK)
        fail_msg("decision does not verify: %s", eb.msg);
    mt_ed25519_free(pub);
    json_decref(all);

    /* /metrics and probes. */
    assert_int_equal(http(f, EVHTTP_REQ_GET, "/readyz", NULL, NULL, NULL), 200);
    assert_int_equal(http(f, EVHTTP_REQ_GET, "/healthz", NULL, NULL, NULL), 200);
    expect_error(f, EVHTTP_REQ_GET, "/nope", NULL, NULL, 404, "not_found");
    free(alice);
    free(bob);
    free(mallory);
    free(requester);
}

static void reason_required_and_deny(void **state)
{
    fx *f = *state;
    char *alice = token(f, "alice", "[\"sre\"]");
    produce_request(f, request("ap-2", 2, true));
    want_state pending0 = {"ap-2", MT_APPR_PENDING, 0, false};
    run_until(f, has_state, &pending0, "request ap-2 pending");
    expect_error(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-2/deny", alice, "{\"reason\":\" \"}",
                 422, "reason_required");
    assert_int_equal(http(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-2/deny", alice,
                          "{\"reason\":\"wrong window\"}", NULL),
                     202);
    want_state denied = {"ap-2", MT_APPR_DENIED, 0, true};
    run_until(f, has_state, &denied, "ap-2 denied and published");
    free(alice);
}

static void restart_replays_the_same_state_and_writes_no_decision_twice(void **state)
{
    fx *f = *state;
    char *alice = token(f, "alice", "[\"sre\"]"), *bob = token(f, "bob", "[\"sre\"]");
    produce_request(f, request("ap-3", 2, false));
    want_state pending0 = {"ap-3", MT_APPR_PENDING, 0, false};
    run_until(f, has_state, &pending0, "request ap-3 pending");
    assert_int_equal(http(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-3/approve", alice, NULL,
                          NULL),
                     202);
    want_state one = {"ap-3", MT_APPR_PENDING, 1, false};
    run_until(f, has_state, &one, "ap-3 one approval");

    mt_approvals_free(f->svc);
    f->svc = NULL;
    start_service(f);
    run_until(f, is_ready, NULL, "replay after restart");
    want_state ap1 = {"ap-1", MT_APPR_APPROVED, 2, true};
    want_state ap2 = {"ap-2", MT_APPR_DENIED, 0, true};
    assert_true(has_state(f, &ap1));
    assert_true(has_state(f, &ap2));
    assert_true(has_state(f, &one));

    assert_int_equal(http(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-3/approve", bob, NULL, NULL),
                     202);
    want_state done = {"ap-3", MT_APPR_APPROVED, 2, true};
    run_until(f, has_state, &done, "ap-3 approved after restart");
    json_t *all = read_decisions(f), *d = NULL;
    assert_int_equal(decisions_for(all, "ap-1", &d), 1);
    assert_int_equal(decisions_for(all, "ap-2", &d), 1);
    assert_int_equal(decisions_for(all, "ap-3", &d), 1);
    assert_int_equal(json_array_size(all), 3);
    json_decref(all);
    free(alice);
    free(bob);
}

static json_t *vote_record(const char *id, const char *sub, const char *vote,
                           const char *source)
{
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:[]},s:s,s:s,s:I,s:s}", "approval_id", id,
                     "request_hash",
                     "aa00000000000000000000000000000000000000000000000000000000000001", "voter",
                     "subject", sub, "issuer", "spiffe://cluster.local", "groups", "vote", vote,
                     "reason", "client disconnected", "ts", (json_int_t)wall_us(), "source",
                     source);
}

static void sidecar_cancel_and_expiry_are_published(void **state)
{
    fx *f = *state;
    produce_request(f, request("ap-5", 1, false));
    want_state pending0 = {"ap-5", MT_APPR_PENDING, 0, false};
    run_until(f, has_state, &pending0, "request ap-5 pending");
    /* A cancel from a bot is refused, so is one from another sidecar; the
     * requesting sidecar's decides. */
    json_t *v = vote_record("ap-5", "release-bot", "cancel", "bot");
    json_object_set_new(v, "voter", json_pack("{s:s,s:s,s:[]}", "subject", "release-bot",
                                              "issuer", "mcptrail-approval-bot", "groups"));
    produce(f, T_VOTE, MT_APPROVAL_VOTE_SCHEMA,
            signed_by(f, MT_APPROVAL_VOTE_SCHEMA, v, f->bot_key));
    produce(f, T_VOTE, MT_APPROVAL_VOTE_SCHEMA,
            signed_by(f, MT_APPROVAL_VOTE_SCHEMA,
                      vote_record("ap-5", "sidecar/pod-9", "cancel", "sidecar"),
                      f->sidecar2_key));
    produce(f, T_VOTE, MT_APPROVAL_VOTE_SCHEMA,
            signed_by(f, MT_APPROVAL_VOTE_SCHEMA,
                      vote_record("ap-5", "sidecar/pod-1", "cancel", "sidecar"),
                      f->sidecar_key));
    want_state cancelled = {"ap-5", MT_APPR_CANCELLED, 0, true};
    run_until(f, has_state, &cancelled, "ap-5 cancelled and published");

    /* A request whose expiry has passed expires at once, decided at its
     * expiry time. */
    json_t *r = request("ap-6", 1, false);
    json_object_set_new(r, "expires", json_integer(wall_us() - 1000000));
    int64_t expires = json_integer_value(json_object_get(r, "expires"));
    produce_request(f, r);
    want_state expired = {"ap-6", MT_APPR_EXPIRED, 0, true};
    run_until(f, has_state, &expired, "ap-6 expired and published");

    json_t *all = read_decisions(f), *d = NULL;
    assert_int_equal(decisions_for(all, "ap-5", &d), 1);
    assert_string_equal(json_string_value(json_object_get(d, "decision")), "cancelled");
    json_t *who = json_array_get(json_object_get(d, "approvers"), 0);
    assert_string_equal(json_string_value(json_object_get(who, "subject")), "sidecar/pod-1");
    assert_int_equal(decisions_for(all, "ap-6", &d), 1);
    assert_string_equal(json_string_value(json_object_get(d, "decision")), "expired");
    assert_int_equal(json_integer_value(json_object_get(d, "decided")), expires);
    assert_int_equal(json_array_size(json_object_get(d, "approvers")), 0);
    json_decref(all);
    const mt_appr *a = mt_appr_find(mt_approvals_table(f->svc), "ap-5");
    assert_int_equal(a->nrejected, 2);
    assert_string_equal(a->rejected[0].reason, "cancel_not_sidecar");
    assert_string_equal(a->rejected[1].reason, "cancel_foreign_sidecar");
}

/* The metric line `name{reason="r"} N`, or -1. */
static long long metric(fx *f, const char *name, const char *reason)
{
    struct evhttp_connection *c = evhttp_connection_base_new(
        f->base, NULL, "127.0.0.1", (uint16_t)mt_approvals_port(f->svc));
    http_result r = {0};
    struct evhttp_request *req = evhttp_request_new(on_response, &r);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    /* on_response parses JSON; read the text ourselves. */
    struct evbuffer *copy = evbuffer_new();
    evhttp_request_own(req);
    assert_int_equal(evhttp_make_request(c, req, EVHTTP_REQ_GET, "/metrics"), 0);
    run_until(f, http_done, &r, "/metrics");
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    evbuffer_add_buffer(copy, in);
    evbuffer_add(copy, "", 1);
    const char *text = (const char *)evbuffer_pullup(copy, -1);
    char want[200];
    snprintf(want, sizeof want, "\n%s{reason=\"%s\"} ", name, reason);
    const char *at = strstr(text, want);
    long long v = at ? strtoll(at + strlen(want), NULL, 10) : -1;
    evbuffer_free(copy);
    evhttp_request_free(req);
    evhttp_connection_free(c);
    return v;
}

/* Waits (with the deadline) until the metric reaches want: records on other
 * partitions may still be on their way. */
static void wait_metric(fx *f, const char *name, const char *reason, long long want)
{
    int64_t end = mono_ms() + DEADLINE_MS;
    long long got;
    while ((got = metric(f, name, reason)) < want) {
        if (mono_ms() > end)
            fail_msg("%s{reason=%s} is %lld after %d ms, want %lld", name, reason, got,
                     DEADLINE_MS, want);
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    }
    if (got != want)
        fail_msg("%s{reason=%s} is %lld, want %lld", name, reason, got, want);
}

static json_t *bot_vote(const char *id, const char *sub, const char *groups_json,
                        const char *vote)
{
    json_t *v = vote_record(id, sub, vote, "bot");
    json_object_set_new(v, "reason", json_string("rule 1"));
    json_object_set_new(v, "voter", json_pack("{s:s,s:s,s:o}", "subject", sub, "issuer",
                                              "mcptrail-approval-bot", "groups",
                                              json_loads(groups_json, 0, NULL)));
    return v;
}

static bool rejected_n(fx *f, const void *arg)
{
    const want_state *w = arg;
    const mt_appr *a = mt_appr_find(mt_approvals_table(f->svc), w->id);
    return a && a->rejected_total == w->approvals;
}

/* Writing the votes topic proves nothing: every forged record below is
 * ignored, counted by reason and listed in the approval's history; the
 * approval completes only with the two genuine approvers, and a restart
 * (replay of the topics) rejects exactly the same records. */
static void forged_requests_and_votes_change_nothing(void **state)
{
    fx *f = *state;
    const char *V = MT_APPROVAL_VOTE_SCHEMA, *R = MT_APPROVAL_REQUEST_SCHEMA;
    /* Forged requests: unsigned, and signed by a key nobody trusts. */
    produce(f, T_REQ, R, request("ap-forged-1", 1, false));
    produce(f, T_REQ, R, signed_by(f, R, request("ap-forged-2", 1, false), f->rogue_key));
    /* A bot key may not sign requests either. */
    produce(f, T_REQ, R, signed_by(f, R, request("ap-forged-3", 1, false), f->bot_key));
    produce_request(f, request("ap-7", 2, false));
    want_state pending = {"ap-7", MT_APPR_PENDING, 0, false};
    run_until(f, has_state, &pending, "request ap-7 pending");
    wait_metric(f, "mcptrail_approvals_requests_rejected_total", "unsigned", 1);
    wait_metric(f, "mcptrail_approvals_requests_rejected_total", "unknown_key", 1);
    wait_metric(f, "mcptrail_approvals_requests_rejected_total", "wrong_role", 1);
    const mt_appr_table *tbl = mt_approvals_table(f->svc);
    assert_null(mt_appr_find(tbl, "ap-forged-1"));
    assert_null(mt_appr_find(tbl, "ap-forged-2"));
    assert_null(mt_appr_find(tbl, "ap-forged-3"));

    /* 1. A claimed human, unsigned, straight on the topic (two of them). */
    json_t *alice = vote_record("ap-7", "alice", "approve", "bot");
    json_object_set_new(alice, "voter", json_pack("{s:s,s:s,s:[s]}", "subject", "alice", "issuer",
                                                  ISS, "groups", "sre"));
    json_t *bob = json_deep_copy(alice);
    json_object_set_new(json_object_get(bob, "voter"), "subject", json_string("bob"));
    produce(f, T_VOTE, V, json_deep_copy(alice));
    produce(f, T_VOTE, V, bob);
    /* ... claiming the API as source, signed by a key nobody trusts. */
    json_t *api = json_deep_copy(alice);
    json_object_set_new(api, "source", json_string("api"));
    produce(f, T_VOTE, V, signed_by(f, V, api, f->rogue_key));
    /* ... signed by the bot's key but claiming the API. */
    api = json_deep_copy(alice);
    json_object_set_new(api, "source", json_string("api"));
    produce(f, T_VOTE, V, signed_by(f, V, api, f->bot_key));
    /* 2. The bot's key voting as alice, and as group sre it does not hold. */
    produce(f, T_VOTE, V, signed_by(f, V, bot_vote("ap-7", "alice", "[\"bots\"]", "approve"),
                                    f->bot_key));
    produce(f, T_VOTE, V,
            signed_by(f, V, bot_vote("ap-7", "release-bot", "[\"sre\"]", "approve"),
                      f->bot_key));
    /* 3. A real signed vote (a genuine bot vote for another approval)
     * replayed for ap-7, and another for a different request hash. */
    json_t *real = signed_by(f, V, bot_vote("ap-1", "release-bot", "[\"bots\"]", "approve"),
                             f->bot_key);
    json_t *copy = json_deep_copy(real);
    json_object_set_new(copy, "approval_id", json_string("ap-7"));
    produce(f, T_VOTE, V, copy);
    copy = json_deep_copy(real);
    json_object_set_new(copy, "approval_id", json_string("ap-7"));
    json_object_set_new(copy, "request_hash",
                        json_string("bb00000000000000000000000000000000000000000000000000000000"
                                    "000001"));
    produce(f, T_VOTE, V, copy);
    /* 4. A signed vote with a tampered field. */
    json_t *t = signed_by(f, V, bot_vote("ap-7", "release-bot", "[\"bots\"]", "deny"),
                          f->bot_key);
    json_object_set_new(t, "vote", json_string("approve"));
    produce(f, T_VOTE, V, t);
    /* A sidecar approving instead of cancelling. */
    produce(f, T_VOTE, V,
            signed_by(f, V, vote_record("ap-7", "sidecar/pod-1", "approve", "sidecar"),
                      f->sidecar_key));
    /* A genuine bot vote: counted as a vote, but bots is no approver group
     * of ap-7, so it is refused by the rules, not by the signature. */
    produce(f, T_VOTE, V,
            signed_by(f, V, bot_vote("ap-7", "release-bot", "[\"bots\"]", "approve"),
                      f->bot_key));
    want_state eleven = {"ap-7", MT_APPR_PENDING, 11, false};
    run_until(f, rejected_n, &eleven, "eleven rejections on ap-7");
    assert_true(has_state(f, &pending));
    json_decref(real);
    json_decref(alice);

    static const struct {
        const char *reason;
        long long n;
    } want[] = {{"unsigned", 2}, {"unknown_key", 1}, {"wrong_role", 1},
                {"identity_not_allowed", 1}, {"group_not_allowed", 1}, {"bad_signature", 3},
                {"sidecar_not_cancel", 1}, {"not_in_group", 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        long long got = metric(f, "mcptrail_approvals_votes_rejected_total", want[i].reason);
        if (got < want[i].n) /* earlier tests add their own (cancels) */
            fail_msg("votes rejected for %s: %lld, want >= %lld", want[i].reason, got,
                     want[i].n);
    }
    char *atok = token(f, "alice", "[\"sre\"]"), *btok = token(f, "bob", "[\"sre\"]");
    json_t *j = NULL;
    assert_int_equal(http(f, EVHTTP_REQ_GET, "/api/v1/approvals/ap-7", atok, NULL, &j), 200);
    assert_int_equal(json_array_size(json_object_get(j, "votes")), 0);
    json_t *rej = json_object_get(j, "rejected");
    assert_int_equal(json_array_size(rej), 11);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rej, 0), "reason")),
                        "unsigned");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rej, 0), "subject")),
                        "alice");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "requested_by"),
                                                          "name")),
                        "payments");
    json_decref(j);

    /* The genuine approvers complete it; their votes are signed by the service. */
    assert_int_equal(http(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-7/approve", atok, NULL, NULL),
                     202);
    assert_int_equal(http(f, EVHTTP_REQ_POST, "/api/v1/approvals/ap-7/approve", btok, NULL, NULL),
                     202);
    want_state done = {"ap-7", MT_APPR_APPROVED, 2, true};
    run_until(f, has_state, &done, "ap-7 approved by alice and bob");
    assert_int_equal(http(f, EVHTTP_REQ_GET, "/api/v1/approvals/ap-7", atok, NULL, &j), 200);
    json_t *v0 = json_array_get(json_object_get(j, "votes"), 0);
    assert_string_equal(json_string_value(json_object_get(v0, "signed_by")), "service");
    json_decref(j);

    /* After a restart the same records are rejected again, nothing else. */
    mt_approvals_free(f->svc);
    f->svc = NULL;
    start_service(f);
    run_until(f, is_ready, NULL, "replay after restart");
    assert_true(has_state(f, &done));
    const mt_appr *a = mt_appr_find(mt_approvals_table(f->svc), "ap-7");
    assert_int_equal(a->rejected_total, 11);
    assert_null(mt_appr_find(mt_approvals_table(f->svc), "ap-forged-1"));
    json_t *all = read_decisions(f), *d = NULL;
    assert_int_equal(decisions_for(all, "ap-7", &d), 1);
    assert_int_equal(json_array_size(json_object_get(d, "approvers")), 2);
    json_decref(all);

    /* A bot whose key holds an approver group decides alone when the rule
     * allows one approval from bots. Produced right after the request, the
     * vote may be read first: it waits for its request. */
    json_t *r = request("ap-8", 1, false);
    json_object_set_new(r, "approver_groups", json_pack("[s,s]", "bots", "sre"));
    produce_request(f, r);
    produce(f, T_VOTE, V,
            signed_by(f, V, bot_vote("ap-8", "release-bot", "[]", "approve"), f->bot_key));
    want_state bot_done = {"ap-8", MT_APPR_APPROVED, 1, true};
    run_until(f, has_state, &bot_done, "ap-8 approved by the bot");
    free(atok);
    free(btok);
}


/* ---- web console -------------------------------------------------------- */

typedef struct raw_result {
    bool done;
    int status;
    char type[80], csp[400], location[80];
    size_t len;
    char head[64]; /* first bytes of the body */
} raw_result;

static void on_raw(struct evhttp_request *req, void *arg)
{
    raw_result *r = arg;
    r->done = true;
    if (!req)
        return;
    r->status = evhttp_request_get_response_code(req);
    struct evkeyvalq *h = evhttp_request_get_input_headers(req);
    const char *v;
    if ((v = evhttp_find_header(h, "Content-Type")))
        snprintf(r->type, sizeof r->type, "%s", v);
    if ((v = evhttp_find_header(h, "Content-Security-Policy")))
        snprintf(r->csp, sizeof r->csp, "%s", v);
    if ((v = evhttp_find_header(h, "Location")))
        snprintf(r->location, sizeof r->location, "%s", v);
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    r->len = evbuffer_get_length(b);
    evbuffer_copyout(b, r->head, sizeof r->head - 1);
}

static bool raw_done(fx *f, const void *arg)
{
    (void)f;
    return ((const raw_result *)arg)->done;
}

static raw_result get_raw(fx *f, enum evhttp_cmd_type method, const char *path)
{
    struct evhttp_connection *c = evhttp_connection_base_new(
        f->base, NULL, "127.0.0.1", (uint16_t)mt_approvals_port(f->svc));
    raw_result r;
    memset(&r, 0, sizeof r);
    struct evhttp_request *req = evhttp_request_new(on_raw, &r);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    assert_int_equal(evhttp_make_request(c, req, method, path), 0);
    run_until(f, raw_done, &r, path);
    evhttp_connection_free(c);
    return r;
}

static void console_files_are_served_with_a_strict_csp_and_nothing_else(void **state)
{
    fx *f = *state;
    /* The built-in directory (the source tree's console), no token needed. */
    raw_result r = get_raw(f, EVHTTP_REQ_GET, "/console/");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "text/html; charset=utf-8");
    assert_non_null(strstr(r.head, "<!doctype html>"));
    assert_non_null(strstr(r.csp, "default-src 'none'"));
    assert_non_null(strstr(r.csp, "script-src 'self'"));
    assert_non_null(strstr(r.csp, "connect-src 'self'"));
    assert_null(strstr(r.csp, "unsafe"));
    r = get_raw(f, EVHTTP_REQ_GET, "/console/app.js");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "text/javascript; charset=utf-8");
    r = get_raw(f, EVHTTP_REQ_GET, "/console/app.css");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.type, "text/css; charset=utf-8");
    r = get_raw(f, EVHTTP_REQ_HEAD, "/console/app.js");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    r = get_raw(f, EVHTTP_REQ_GET, "/console");
    assert_int_equal(r.status, 302);
    assert_string_equal(r.location, "/console/");
    r = get_raw(f, EVHTTP_REQ_GET, "/");
    assert_int_equal(r.status, 302);
    r = get_raw(f, EVHTTP_REQ_POST, "/console/app.js");
    assert_int_equal(r.status, 405);

    /* Nothing outside the directory can be named; unknown types are not served. */
    static const char *const bad[] = {
        "/console/../CMakeLists.txt", "/console/..%2fservice.c", "/console/%2e%2e/state.c",
        "/console/sub/app.js",        "/console/.app.js",         "/console/app.js/",
        "/console/missing.js",        "/console/index",           "/console/CMakeLists.txt",
        "/console/app..js",           "/console//etc/passwd",     "/console/app.js%00.css",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = get_raw(f, EVHTTP_REQ_GET, bad[i]);
        if (r.status != 404)
            fail_msg("%s: got %d, want 404", bad[i], r.status);
    }

    /* console.dir: a symlink inside the directory is not followed; "none" turns it off. */
    char dir[128], path[192];
    snprintf(dir, sizeof dir, "%s/console", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/index.html", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("<!doctype html><title>t</title>", fp);
    fclose(fp);
    snprintf(path, sizeof path, "%s/leak.js", dir);
    assert_int_equal(symlink(f->jwks_path, path), 0);
    f->cfg.console_dir = dir;
    r = get_raw(f, EVHTTP_REQ_GET, "/console/");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "<title>t</title>"));
    r = get_raw(f, EVHTTP_REQ_GET, "/console/leak.js");
    assert_int_equal(r.status, 404);
    f->cfg.console_dir = "none";
    r = get_raw(f, EVHTTP_REQ_GET, "/console/");
    assert_int_equal(r.status, 404);
    f->cfg.console_dir = NULL;
    unlink(path);
    snprintf(path, sizeof path, "%s/index.html", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_and_two_votes_give_one_signed_decision),
        cmocka_unit_test(reason_required_and_deny),
        cmocka_unit_test(restart_replays_the_same_state_and_writes_no_decision_twice),
        cmocka_unit_test(sidecar_cancel_and_expiry_are_published),
        cmocka_unit_test(forged_requests_and_votes_change_nothing),
        cmocka_unit_test(console_files_are_served_with_a_strict_csp_and_nothing_else),
    };
    /* One cluster and service for the group: later tests build on the
     * topics' history, as the restart test must. */
    return cmocka_run_group_tests(tests, setup, teardown);
}
