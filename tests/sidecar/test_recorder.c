/* recorder: strict and async recording of SessionEvents against librdkafka's
 * in-process mock cluster (1 broker, tests/support/mock_kafka.h, so brokers
 * can be taken down and up), consumed back
 * and decoded: gapless seq, prev_hash chain, payload HMAC, masking, spool
 * behaviour (broker down, spool full, replay after a simulated crash).
 * Waiting is done by running the libevent loop in slices bounded by
 * event_base_loopexit until a condition holds or a deadline passes. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>

#include "mcptrail/avro.h"
#include "mcptrail/crypto.h"
#include "mcptrail/kafka.h"
#include "mock_kafka.h"
#include "recorder.h"

#define TOPIC "mcptrail.events"
#define MAXEV 128

static const uint8_t hmac_key[] = "test-recording-key-0123456789abcdef";
/* A JWT-shaped string (header.payload.signature, base64url). */
#define JWT "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"

static void mock_start(mt_mock_kafka *m)
{
    mt_errbuf eb = {{0}};
    if (mt_mock_kafka_start(m, 1, TOPIC, 1, &eb))
        fail_msg("%s", eb.msg);
}

typedef struct results {
    unsigned n;
    mt_err err[MAXEV];
} results;

static void on_done(void *arg, mt_err err)
{
    results *r = arg;
    assert_true(r->n < MAXEV);
    r->err[r->n++] = err;
}

typedef bool (*cond_fn)(void *ctx);

/* Runs the loop in 50 ms slices until cond holds or timeout_ms passes. */
static bool run_until(struct event_base *base, cond_fn cond, void *ctx, int timeout_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (cond(ctx))
            return true;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (el > timeout_ms)
            return false;
        struct timeval slice = {0, 50000};
        event_base_loopexit(base, &slice);
        event_base_dispatch(base);
    }
}

typedef struct want_done {
    results *r;
    unsigned n;
} want_done;

static bool done_reached(void *ctx)
{
    want_done *w = ctx;
    return w->r->n >= w->n;
}

typedef struct want_metrics {
    mt_recorder *rec;
    uint64_t produced;
} want_metrics;

static bool produced_and_spool_empty(void *ctx)
{
    want_metrics *w = ctx;
    mt_rec_metrics m;
    mt_rec_metrics_get(w->rec, &m);
    return m.produced >= w->produced && m.spool_bytes == 0;
}

static const mt_kafka_prop quiet_props[] = {{"log_level", "3"},
                                            {"reconnect.backoff.max.ms", "200"}};

static mt_recorder *recorder_for(const mt_mock_kafka *m, struct event_base *base, mt_rec_mode mode,
                                 const char *spool_dir, uint64_t spool_max, size_t max_inflight,
                                 int timeout_ms)
{
    mt_recorder_config cfg = {
        .kafka = {.bootstrap = m->bootstrap, .client_id = "test-recorder", .props = quiet_props,
                  .nprops = 2},
        .topic = TOPIC,
        .mode = mode,
        .delivery_timeout_ms = timeout_ms,
        .max_inflight = max_inflight,
        .spool_dir = spool_dir,
        .spool_max_bytes = spool_max,
        .hmac_key = hmac_key,
        .hmac_key_len = sizeof hmac_key - 1,
        .source_cluster = "test",
        .source_namespace = "ns",
        .source_pod = "pod-0",
        .source_upstream = "127.0.0.1:3001",
        .sidecar_version = "0.1.0-test",
    };
    mt_recorder *rec = NULL;
    mt_errbuf eb = {{0}};
    if (mt_recorder_new(&cfg, base, &rec, &eb) != MT_OK)
        fail_msg("mt_recorder_new: %s", eb.msg);
    return rec;
}

static char payload_buf[MAXEV][512];

static mt_rec_event request_event(unsigned i, size_t *len_out)
{
    int n = snprintf(payload_buf[i], sizeof payload_buf[i],
                     "{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"tools/call\",\"params\":{"
                     "\"name\":\"search\",\"arguments\":{\"Password\":\"hunter2-%u\","
                     "\"note\":\"use " JWT " please\",\"q\":\"plain %u\"}}}",
                     i, i, i);
    *len_out = (size_t)n;
    char id[16];
    snprintf(id, sizeof id, "%u", i);
    mt_rec_event ev = {
        .kind = "request",
        .direction = "client_to_server",
        .http = {.method = "POST", .path = "/mcp", .protocol_version = "2025-06-18"},
        .rpc = {.present = true, .id = NULL, .method = "tools/call", .tool = "search"},
        .payload = payload_buf[i],
        .payload_len = (size_t)n,
        .latency_us = -1,
        .traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    };
    return ev;
}

static void emit_n(mt_recorder *rec, mt_rec_session *s, unsigned from, unsigned n, results *r)
{
    for (unsigned i = from; i < from + n; i++) {
        size_t len;
        mt_rec_event ev = request_event(i, &len);
        mt_rec_emit(rec, s, &ev, on_done, r);
    }
}

/* Consumes the topic from the start until `want` records and EOF; returns
 * the decoded datums in offset order and the raw values' SHA-256 / HMAC
 * checks applied by the caller. */
typedef struct consumed {
    unsigned n;
    json_t *ev[MAXEV * 2];
    uint8_t hash[MAXEV * 2][MT_SHA256_LEN];
    mt_avro_registry *reg; /* while consuming */
} consumed;

static mt_err decode_and_hash(void *ctx, mt_consumer *c, const mt_kafka_msg *msg, mt_errbuf *eb)
{
    (void)c;
    consumed *out = ctx;
    assert_true(out->n < MAXEV * 2);
    json_t *d = NULL;
    mt_err err = mt_avro_decode(out->reg, msg->value, msg->value_len, NULL, &d, eb);
    if (err)
        return err;
    const void *hv;
    size_t hl;
    assert_int_equal(mt_kafka_msg_header(msg, MT_KAFKA_HEADER_FINGERPRINT, &hv, &hl), MT_OK);
    assert_int_equal(hl, 16);
    mt_sha256(msg->value, msg->value_len, out->hash[out->n]);
    out->ev[out->n++] = d;
    return MT_OK;
}

static void consume(const mt_mock_kafka *m, const char *group, unsigned want, consumed *out)
{
    memset(out, 0, sizeof *out);
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_avro_registry_load(NULL, &out->reg, &eb), MT_OK);
    unsigned got = 0;
    mt_err err = mt_mock_kafka_consume(m, group, want, 30000, decode_and_hash, out, &got, &eb);
    mt_avro_registry_free(out->reg);
    out->reg = NULL;
    if (err)
        fail_msg("consume: %s", eb.msg);
    assert_true(out->n >= want);
}

static void consumed_free(consumed *c)
{
    for (unsigned i = 0; i < c->n; i++)
        json_decref(c->ev[i]);
}

/* seq 0..n-1 in order (duplicates by event_id skipped) and the hash chain. */
static void assert_chain(const consumed *c, const char *session, unsigned n)
{
    unsigned next = 0;
    const uint8_t *prev = NULL;
    char seen_ids[MAXEV * 2][40];
    unsigned nseen = 0;
    for (unsigned i = 0; i < c->n; i++) {
        json_t *e = c->ev[i];
        if (strcmp(json_string_value(json_object_get(e, "session_id")), session) != 0)
            continue;
        const char *id = json_string_value(json_object_get(e, "event_id"));
        bool dup = false;
        for (unsigned k = 0; k < nseen; k++)
            dup |= strcmp(seen_ids[k], id) == 0;
        if (dup)
            continue;
        snprintf(seen_ids[nseen++], sizeof seen_ids[0], "%s", id);
        assert_int_equal(json_integer_value(json_object_get(e, "seq")), next);
        json_t *ph = json_object_get(e, "prev_hash");
        if (next == 0) {
            assert_true(json_is_null(ph));
        } else {
            char hex[65];
            mt_hex_encode(prev, MT_SHA256_LEN, hex, sizeof hex);
            assert_string_equal(json_string_value(ph), hex);
        }
        prev = c->hash[i];
        next++;
    }
    assert_int_equal(next, n);
}

/* Consumes (as a new `group`) the n events of `session` and checks their chain. */
static void assert_recorded_chain(const mt_mock_kafka *m, const char *group, const char *session,
                                  unsigned n)
{
    consumed c;
    consume(m, group, n, &c);
    assert_chain(&c, session, n);
    consumed_free(&c);
}

static void make_spool_dir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/mt-rec-spool-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void remove_spool_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- tests --------------------------------------------------------------- */

static void payloads_that_are_not_text_are_described_and_justifications_masked(void **state)
{
    (void)state;
    mt_mock_kafka m;
    mock_start(&m);
    struct event_base *base = event_base_new();
    mt_recorder *rec = recorder_for(&m, base, MT_REC_STRICT, NULL, 0, 0, 0);
    mt_rec_session *s = mt_rec_session_get(rec, "sess-bin");
    static const char bin[] = {'a', 0, (char)0xff};
    mt_rec_event ev = {.kind = "response", .direction = "server_to_client",
                       .payload = bin, .payload_len = sizeof bin, .latency_us = -1,
                       .justification = "deploy, approved by bob; token " JWT};
    results r = {0};
    mt_rec_emit(rec, s, &ev, on_done, &r);
    want_done w = {&r, 1};
    assert_true(run_until(base, done_reached, &w, 20000));
    assert_int_equal(r.err[0], MT_OK);
    consumed c;
    consume(&m, "g-bin", 1, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(json_string_value(json_object_get(c.ev[0], "payload_masked")),
                        "[binary payload: 3 bytes]");
    const char *j = json_string_value(json_object_get(c.ev[0], "justification"));
    assert_null(strstr(j, "eyJ"));
    assert_non_null(strstr(j, "approved by bob"));
    consumed_free(&c);
    mt_rec_session_release(rec, s);
    mt_recorder_free(rec);
    event_base_free(base);
    mt_mock_kafka_stop(&m);
}

static void strict_events_are_acked_chained_hmaced_and_masked(void **state)
{
    (void)state;
    mt_mock_kafka m;
    mock_start(&m);
    struct event_base *base = event_base_new();
    mt_recorder *rec = recorder_for(&m, base, MT_REC_STRICT, NULL, 0, 0, 0);
    mt_rec_session *s = mt_rec_session_get(rec, "sess-strict");
    assert_non_null(s);
    results r = {0};
    const unsigned n = 6;
    emit_n(rec, s, 0, n, &r);
    assert_int_equal(r.n, 0); /* strict: nothing before the ack */
    want_done w = {&r, n};
    assert_true(run_until(base, done_reached, &w, 20000));
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(r.err[i], MT_OK);
    mt_rec_metrics mm;
    mt_rec_metrics_get(rec, &mm);
    assert_int_equal(mm.produced, n);
    assert_int_equal(mm.active_sessions, 1);
    assert_int_equal(mt_rec_session_next_seq(s), n);

    consumed c;
    consume(&m, "g-strict", n, &c);
    assert_int_equal(c.n, n);
    assert_chain(&c, "sess-strict", n);
    for (unsigned i = 0; i < n; i++) {
        json_t *e = c.ev[i];
        uint8_t mac[MT_SHA256_LEN];
        char hex[65];
        assert_int_equal(mt_hmac_sha256(hmac_key, sizeof hmac_key - 1, payload_buf[i],
                                        strlen(payload_buf[i]), mac, NULL),
                         MT_OK);
        mt_hex_encode(mac, sizeof mac, hex, sizeof hex);
        assert_string_equal(json_string_value(json_object_get(e, "payload_hmac")), hex);
        const char *pm = json_string_value(json_object_get(e, "payload_masked"));
        assert_null(strstr(pm, "hunter2"));
        assert_null(strstr(pm, "eyJ"));
        assert_non_null(strstr(pm, "\"Password\":\"[REDACTED:secret_field]\""));
        assert_non_null(strstr(pm, "use [REDACTED:jwt] please"));
        assert_non_null(strstr(pm, "plain"));
        json_t *ms = json_object_get(e, "mask_summary");
        assert_int_equal(json_array_size(ms), 2);
        json_t *m0 = json_array_get(ms, 0), *m1 = json_array_get(ms, 1);
        assert_string_equal(json_string_value(json_object_get(m0, "detector")), "field_name");
        assert_int_equal(json_integer_value(json_object_get(m0, "count")), 1);
        assert_string_equal(json_string_value(json_object_get(m0, "action")), "redact");
        assert_string_equal(json_string_value(json_object_get(m1, "detector")), "jwt");
        assert_int_equal(json_integer_value(json_object_get(m1, "count")), 1);
        assert_string_equal(json_string_value(json_object_get(e, "kind")), "request");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(e, "source"), "pod")), "pod-0");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(e, "rpc"), "tool")), "search");
        const char *eid = json_string_value(json_object_get(e, "event_id"));
        assert_int_equal(strlen(eid), 36);
        assert_int_equal(eid[14], '7');
    }
    consumed_free(&c);

    /* session_end removes the session; a later get starts a fresh chain. */
    results r2 = {0};
    assert_int_equal(mt_rec_session_end(rec, s, on_done, &r2), MT_OK);
    size_t len;
    mt_rec_event ev = request_event(0, &len);
    assert_int_equal(mt_rec_emit(rec, s, &ev, on_done, &r2), MT_ERR_STATE);
    mt_rec_session_release(rec, s);
    want_done w2 = {&r2, 2};
    assert_true(run_until(base, done_reached, &w2, 20000));
    mt_rec_metrics_get(rec, &mm);
    assert_int_equal(mm.active_sessions, 0);
    s = mt_rec_session_get(rec, "sess-strict");
    assert_int_equal(mt_rec_session_next_seq(s), 0);
    mt_rec_session_release(rec, s);

    mt_recorder_free(rec);
    event_base_free(base);
    mt_mock_kafka_stop(&m);
}

static void strict_with_broker_down_reports_an_error(void **state)
{
    (void)state;
    mt_mock_kafka m;
    mock_start(&m);
    rd_kafka_mock_broker_set_down(m.mc, 1);
    struct event_base *base = event_base_new();
    mt_recorder *rec = recorder_for(&m, base, MT_REC_STRICT, NULL, 0, 0, 1000);
    mt_rec_session *s = mt_rec_session_get(rec, NULL); /* stateless: generated id */
    assert_non_null(s);
    assert_int_equal(strlen(mt_rec_session_id(s)), 36);
    results r = {0};
    emit_n(rec, s, 0, 2, &r);
    want_done w = {&r, 2};
    assert_true(run_until(base, done_reached, &w, 15000));
    assert_int_not_equal(r.err[0], MT_OK);
    assert_int_not_equal(r.err[1], MT_OK);
    mt_rec_metrics mm;
    mt_rec_metrics_get(rec, &mm);
    assert_int_equal(mm.failed, 2);
    assert_int_equal(mm.produced, 0);
    mt_rec_session_release(rec, s);
    mt_recorder_free(rec);
    event_base_free(base);
    mt_mock_kafka_stop(&m);
}

static void async_spools_while_broker_down_and_delivers_in_order(void **state)
{
    (void)state;
    char dir[64];
    make_spool_dir(dir, sizeof dir);
    mt_mock_kafka m;
    mock_start(&m);
    rd_kafka_mock_broker_set_down(m.mc, 1);
    struct event_base *base = event_base_new();
    mt_recorder *rec = recorder_for(&m, base, MT_REC_ASYNC, dir, 0, 2, 60000);
    mt_rec_session *s = mt_rec_session_get(rec, "sess-async");
    results r = {0};
    const unsigned n = 20;
    emit_n(rec, s, 0, n, &r);
    assert_int_equal(r.n, n); /* async: callbacks at once */
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(r.err[i], MT_OK);
    mt_rec_metrics mm;
    mt_rec_metrics_get(rec, &mm);
    assert_int_equal(mm.spooled, n); /* write-ahead: every async event */
    assert_true(mm.spool_bytes > 0);
    rd_kafka_mock_broker_set_up(m.mc, 1);
    want_metrics w = {rec, n};
    assert_true(run_until(base, produced_and_spool_empty, &w, 30000));
    mt_rec_session_release(rec, s);
    mt_recorder_free(rec);
    event_base_free(base);

    assert_recorded_chain(&m, "g-async", "sess-async", n);
    mt_mock_kafka_stop(&m);
    remove_spool_dir(dir);
}

static void async_spool_full_fails_closed(void **state)
{
    (void)state;
    char dir[64];
    make_spool_dir(dir, sizeof dir);
    mt_mock_kafka m;
    mock_start(&m);
    rd_kafka_mock_broker_set_down(m.mc, 1);
    struct event_base *base = event_base_new();
    mt_recorder *rec = recorder_for(&m, base, MT_REC_ASYNC, dir, 4096, 1, 60000);
    mt_rec_session *s = mt_rec_session_get(rec, "sess-full");
    results r = {0};
    emit_n(rec, s, 0, 30, &r);
    assert_int_equal(r.n, 30);
    assert_int_equal(r.err[0], MT_OK);
    assert_int_equal(r.err[29], MT_ERR_TOO_LARGE);
    unsigned refused = 0;
    for (unsigned i = 0; i < 30; i++)
        refused += r.err[i] == MT_ERR_TOO_LARGE;
    mt_rec_metrics mm;
    mt_rec_metrics_get(rec, &mm);
    assert_true(mm.spool_bytes <= 4096);
    assert_int_equal(mm.failed, refused);
    /* Refused events leave no gap: the next seq follows the last accepted. */
    assert_int_equal(mt_rec_session_next_seq(s), 30 - refused);
    mt_rec_session_release(rec, s);
    mt_recorder_free(rec);
    event_base_free(base);
    mt_mock_kafka_stop(&m);
    remove_spool_dir(dir);
}

static void restart_replays_a_non_empty_spool(void **state)
{
    (void)state;
    char dir[64];
    make_spool_dir(dir, sizeof dir);
    mt_mock_kafka m;
    mock_start(&m);
    rd_kafka_mock_broker_set_down(m.mc, 1);
    struct event_base *base = event_base_new();
    mt_recorder *rec = recorder_for(&m, base, MT_REC_ASYNC, dir, 0, 3, 60000);
    mt_rec_session *s = mt_rec_session_get(rec, "sess-crash");
    results r = {0};
    const unsigned n = 12;
    emit_n(rec, s, 0, n, &r);
    mt_rec_session_release(rec, s);
    /* "Crash": no flush; the 3 in-flight events go to the spool's head. */
    mt_recorder_free(rec);

    /* A torn write at the tail (crash mid-append) is cut off at start. */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "printf 'torn' >> \"$(ls %s/spool-*.log | tail -n 1)\"", dir);
    assert_int_equal(system(cmd), 0);

    rd_kafka_mock_broker_set_up(m.mc, 1);
    rec = recorder_for(&m, base, MT_REC_ASYNC, dir, 0, 3, 60000);
    mt_rec_metrics mm;
    mt_rec_metrics_get(rec, &mm);
    assert_true(mm.spool_bytes > 0);
    want_metrics w = {rec, n};
    assert_true(run_until(base, produced_and_spool_empty, &w, 30000));
    mt_recorder_free(rec);
    event_base_free(base);

    assert_recorded_chain(&m, "g-crash", "sess-crash", n);
    mt_mock_kafka_stop(&m);
    remove_spool_dir(dir);
}

/* Acceptance 4: a child process records async events with the broker up, sees
 * some of them acked, records more and is SIGKILLed before their acks are
 * processed. A recorder restarted on the same spool delivers every event
 * (duplicates only for acks not yet recorded; dropped by event_id). The child
 * is forked before the mock cluster exists so it inherits no librdkafka
 * threads; it gets the bootstrap address through a pipe. */
static void async_kill9_replays_every_unacked_event(void **state)
{
    (void)state;
    char dir[64];
    make_spool_dir(dir, sizeof dir);
    const unsigned first = 10, n = 30;
    int bp[2];
    assert_int_equal(pipe(bp), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(bp[1]);
        mt_mock_kafka m = {0};
        ssize_t got = read(bp[0], m.bootstrap, sizeof m.bootstrap - 1);
        if (got <= 0)
            _exit(2);
        struct event_base *base = event_base_new();
        mt_recorder *rec = recorder_for(&m, base, MT_REC_ASYNC, dir, 0, 0, 60000);
        mt_rec_session *s = mt_rec_session_get(rec, "sess-kill9");
        results r = {0};
        emit_n(rec, s, 0, first, &r);
        want_metrics w = {rec, first};
        if (!run_until(base, produced_and_spool_empty, &w, 20000))
            _exit(3);
        /* One more loop turn writes the ack marker. */
        struct timeval slice = {0, 20000};
        event_base_loopexit(base, &slice);
        event_base_dispatch(base);
        emit_n(rec, s, first, n - first, &r);
        for (unsigned i = 0; i < n; i++)
            if (r.err[i] != MT_OK)
                _exit(4);
        raise(SIGKILL); /* acks of the last events never processed */
        _exit(5);
    }
    close(bp[0]);
    mt_mock_kafka m;
    mock_start(&m);
    assert_int_equal(write(bp[1], m.bootstrap, strlen(m.bootstrap)), (ssize_t)strlen(m.bootstrap));
    close(bp[1]);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
        fail_msg("child did not die by SIGKILL (status %d)", st);

    struct event_base *base = event_base_new();
    mt_recorder *rec = recorder_for(&m, base, MT_REC_ASYNC, dir, 0, 0, 60000);
    mt_rec_metrics mm;
    mt_rec_metrics_get(rec, &mm);
    /* The marker excluded what was acked before the kill. */
    want_metrics w = {rec, 1};
    assert_true(run_until(base, produced_and_spool_empty, &w, 30000));
    mt_rec_metrics_get(rec, &mm);
    assert_true(mm.produced <= n - first);
    mt_recorder_free(rec);
    event_base_free(base);

    assert_recorded_chain(&m, "g-kill9", "sess-kill9", n);
    mt_mock_kafka_stop(&m);
    remove_spool_dir(dir);
}

static void lru_eviction_records_session_end(void **state)
{
    (void)state;
    mt_mock_kafka m;
    mock_start(&m);
    struct event_base *base = event_base_new();
    mt_recorder_config cfg = {
        .kafka = {.bootstrap = m.bootstrap, .props = quiet_props, .nprops = 2},
        .mode = MT_REC_STRICT,
        .topic = TOPIC,
        .hmac_key = hmac_key,
        .hmac_key_len = 8,
        .max_sessions = 2,
    };
    mt_recorder *rec = NULL;
    assert_int_equal(mt_recorder_new(&cfg, base, &rec, NULL), MT_OK);
    mt_rec_session *a = mt_rec_session_get(rec, "a");
    mt_rec_session *b = mt_rec_session_get(rec, "b");
    /* Both held: no room for a third. */
    assert_null(mt_rec_session_get(rec, "c"));
    mt_rec_session_release(rec, a);
    mt_rec_session *c = mt_rec_session_get(rec, "c"); /* evicts a */
    assert_non_null(c);
    mt_rec_metrics mm;
    mt_rec_metrics_get(rec, &mm);
    assert_int_equal(mm.active_sessions, 2);
    mt_rec_session_release(rec, b);
    mt_rec_session_release(rec, c);
    assert_int_equal(mt_recorder_flush(rec, 20000, NULL), MT_OK);
    mt_rec_metrics_get(rec, &mm);
    assert_int_equal(mm.produced, 1);
    mt_recorder_free(rec);
    event_base_free(base);

    consumed cs;
    consume(&m, "g-lru", 1, &cs);
    assert_string_equal(json_string_value(json_object_get(cs.ev[0], "session_id")), "a");
    assert_string_equal(json_string_value(json_object_get(cs.ev[0], "kind")), "session_end");
    assert_string_equal(json_string_value(json_object_get(cs.ev[0], "direction")), "internal");
    consumed_free(&cs);
    mt_mock_kafka_stop(&m);
}

static bool never(void *ctx)
{
    (void)ctx;
    return false;
}

static void replay_failure_rewinds_and_resends_in_order(void **state)
{
    (void)state;
    char dir[64];
    make_spool_dir(dir, sizeof dir);
    mt_mock_kafka m;
    mock_start(&m);
    rd_kafka_mock_broker_set_down(m.mc, 1);
    struct event_base *base = event_base_new();
    mt_recorder *rec = recorder_for(&m, base, MT_REC_ASYNC, dir, 0, 1, 60000);
    mt_rec_session *s = mt_rec_session_get(rec, "sess-rewind");
    results r = {0};
    const unsigned n = 8;
    emit_n(rec, s, 0, n, &r);
    mt_rec_session_release(rec, s);
    mt_recorder_free(rec);

    /* Restart while Kafka is still down: replayed records time out (500 ms)
     * and the replay rewinds to the first unacknowledged record. */
    rec = recorder_for(&m, base, MT_REC_ASYNC, dir, 0, 0, 500);
    assert_false(run_until(base, never, NULL, 1500));
    mt_rec_metrics mm;
    mt_rec_metrics_get(rec, &mm);
    assert_int_equal(mm.produced, 0);
    assert_true(mm.spool_bytes > 0);
    rd_kafka_mock_broker_set_up(m.mc, 1);
    want_metrics w = {rec, n};
    bool ok = run_until(base, produced_and_spool_empty, &w, 30000);
    mt_rec_metrics_get(rec, &mm);
    if (!ok)
        fail_msg("produced %" PRIu64 " failed %" PRIu64 " spool_bytes %" PRIu64, mm.produced,
                 mm.failed, mm.spool_bytes);
    mt_recorder_free(rec);
    event_base_free(base);

    assert_recorded_chain(&m, "g-rewind", "sess-rewind", n);
    mt_mock_kafka_stop(&m);
    remove_spool_dir(dir);
}

typedef struct want_sessions {
    mt_recorder *rec;
    uint64_t active, produced;
} want_sessions;

static bool sessions_reached(void *ctx)
{
    want_sessions *w = ctx;
    mt_rec_metrics m;
    mt_rec_metrics_get(w->rec, &m);
    return m.active_sessions == w->active && m.produced >= w->produced;
}

static void idle_session_ends_with_session_end(void **state)
{
    (void)state;
    mt_mock_kafka m;
    mock_start(&m);
    struct event_base *base = event_base_new();
    mt_recorder_config cfg = {
        .kafka = {.bootstrap = m.bootstrap, .props = quiet_props, .nprops = 2},
        .mode = MT_REC_STRICT,
        .topic = TOPIC,
        .hmac_key = hmac_key,
        .hmac_key_len = 8,
        .session_idle_s = 1,
    };
    mt_recorder *rec = NULL;
    assert_int_equal(mt_recorder_new(&cfg, base, &rec, NULL), MT_OK);
    mt_rec_session *s = mt_rec_session_get(rec, "idle");
    results r = {0};
    emit_n(rec, s, 0, 1, &r);
    mt_rec_session_release(rec, s);
    want_sessions w = {rec, 0, 2};
    assert_true(run_until(base, sessions_reached, &w, 10000));
    mt_recorder_free(rec);
    event_base_free(base);

    consumed cs;
    consume(&m, "g-idle", 2, &cs);
    assert_chain(&cs, "idle", 2);
    assert_string_equal(json_string_value(json_object_get(cs.ev[1], "kind")), "session_end");
    consumed_free(&cs);
    mt_mock_kafka_stop(&m);
}

/* The stream: instance_start at seq 0, every event of every session numbered
 * and chained in one sequence, session_prev naming the session's previous
 * event, an idle heartbeat, instance_stop last; a closed one-exchange session
 * records nothing more. */
static void stream_numbers_and_chains_every_event_of_the_instance(void **state)
{
    (void)state;
    mt_mock_kafka m;
    mock_start(&m);
    struct event_base *base = event_base_new();
    mt_recorder_config cfg = {
        .kafka = {.bootstrap = m.bootstrap, .props = quiet_props, .nprops = 2},
        .mode = MT_REC_STRICT,
        .topic = TOPIC,
        .hmac_key = hmac_key,
        .hmac_key_len = 8,
        .heartbeat_ms = 1000,
    };
    mt_recorder *rec = NULL;
    assert_int_equal(mt_recorder_new(&cfg, base, &rec, NULL), MT_OK);
    uint8_t csha[MT_SHA256_LEN] = {1, 2, 3};
    mt_rec_instance info = {csha, NULL, "127.0.0.1:8080"};
    assert_int_equal(mt_rec_instance_start(rec, &info, NULL), MT_OK);
    results r = {0};
    mt_rec_session *a = mt_rec_session_get(rec, "sess-a");
    mt_rec_session *b = mt_rec_session_get(rec, NULL); /* one exchange */
    emit_n(rec, a, 0, 1, &r);
    emit_n(rec, b, 1, 1, &r);
    emit_n(rec, a, 2, 1, &r);
    emit_n(rec, b, 3, 1, &r);
    mt_rec_session_close(rec, b);
    mt_rec_session_release(rec, b);
    want_done w = {&r, 4};
    assert_true(run_until(base, done_reached, &w, 20000));
    /* idle: a heartbeat follows (instance_start, 4 requests and it acknowledged); a
     * loaded machine may fit a second one in before the stop */
    want_metrics wm = {rec, 6};
    assert_true(run_until(base, produced_and_spool_empty, &wm, 20000));
    assert_int_equal(mt_rec_instance_stop(rec, NULL, NULL), MT_OK);
    assert_int_equal(mt_recorder_flush(rec, 10000, NULL), MT_OK);
    mt_rec_session_release(rec, a);
    char iid[37];
    snprintf(iid, sizeof iid, "%s", mt_rec_instance_id(rec));
    mt_recorder_free(rec);
    event_base_free(base);

    consumed cs;
    consume(&m, "g-stream", 7, &cs); /* and whatever else is there (up to EOF) */
    /* by stream seq (the mock topic has several partitions) */
    json_t *by[16] = {0};
    unsigned nh = 0;
    for (unsigned i = 0; i < cs.n; i++) {
        json_t *st = json_object_get(cs.ev[i], "stream");
        assert_string_equal(json_string_value(json_object_get(st, "instance_id")), iid);
        json_int_t q = json_integer_value(json_object_get(st, "seq"));
        assert_true(q >= 0 && q < 16 && !by[q]);
        by[q] = cs.ev[i];
        nh += strcmp(json_string_value(json_object_get(cs.ev[i], "kind")), "heartbeat") == 0;
    }
    assert_true(nh >= 1 && nh <= 2);
    unsigned n = 6 + nh;
    assert_int_equal(cs.n, n);
    for (unsigned q = 0; q < n; q++) {
        assert_non_null(by[q]);
        json_t *st = json_object_get(by[q], "stream");
        json_t *ph = json_object_get(st, "prev_hash");
        if (q == 0) {
            assert_true(json_is_null(ph));
            continue;
        }
        for (unsigned i = 0; i < cs.n; i++) /* prev_hash = SHA-256 of seq q-1's record */
            if (cs.ev[i] == by[q - 1]) {
                char hex[65];
                mt_hex_encode(cs.hash[i], MT_SHA256_LEN, hex, sizeof hex);
                assert_string_equal(json_string_value(ph), hex);
            }
    }
    const char *kinds[] = {"instance_start", "request", "request", "request", "request"};
    for (unsigned q = 0; q < 5; q++)
        assert_string_equal(json_string_value(json_object_get(by[q], "kind")), kinds[q]);
    assert_string_equal(json_string_value(json_object_get(by[n - 1], "kind")), "instance_stop");
    /* instance events live in the instance's session; instance_start says what ran */
    assert_string_equal(json_string_value(json_object_get(by[0], "session_id")), iid);
    json_t *inst = json_object_get(by[0], "instance");
    assert_string_equal(json_string_value(json_object_get(inst, "listen")), "127.0.0.1:8080");
    assert_int_equal(json_integer_value(json_object_get(inst, "heartbeat_ms")), 1000);
    assert_string_equal(json_string_value(json_object_get(inst, "mode")), "strict");
    assert_true(json_is_null(json_object_get(inst, "policy_sha256")));
    assert_true(json_is_null(json_object_get(by[1], "instance")));
    /* session_prev: sess-a's second event (seq 3) follows its first (seq 1) */
    assert_true(json_is_null(json_object_get(json_object_get(by[1], "stream"), "session_prev")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(by[3], "stream"), "session_prev")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(by[4], "stream"), "session_prev")), 2);
    /* the closed one-exchange session: two events, no session_end */
    for (unsigned i = 0; i < cs.n; i++)
        assert_string_not_equal(json_string_value(json_object_get(cs.ev[i], "kind")),
                                "session_end");
    consumed_free(&cs);
    mt_mock_kafka_stop(&m);
}

static void identity_http_rpc_and_justification_are_recorded(void **state)
{
    (void)state;
    mt_mock_kafka m;
    mock_start(&m);
    struct event_base *base = event_base_new();
    mt_recorder *rec = recorder_for(&m, base, MT_REC_STRICT, NULL, 0, 0, 0);
    mt_rec_session *s = mt_rec_session_get(rec, "sess-fields");
    json_t *ident = json_pack("{s:s,s:s,s:s,s:s}", "issuer", "https://issuer", "subject", "ci-bot",
                              "audience", "mcptrail", "auth_method", "jwt");
    const char *body = "{\"jsonrpc\":\"2.0\",\"id\":\"7\",\"error\":{\"code\":-32601,"
                       "\"message\":\"nope\"}}";
    mt_rec_event ev = {
        .kind = "response",
        .direction = "server_to_client",
        .identity = ident,
        .http = {.method = "POST", .path = "/mcp", .status = 200, .sse_event_id = "ev-3",
                 .mcp_session_id = "upstream-sess-9"},
        .rpc = {.present = true, .id = "\"7\"", .is_error = true, .has_error_code = true,
                .error_code = -32601},
        .payload = body,
        .payload_len = strlen(body),
        .policy_rule_id = "default",
        .policy_action = "allow",
        .justification = "ticket 42, token Bearer abcdef123456",
        .latency_us = 1234,
        .call = {.call_id = "0199b000-0000-7000-8000-0000000000c1", .round = 2,
                 .result_type = "input_required", .sealed = true},
        .client = {.name = "ci-client", .version = "2.4.0",
                   .capabilities = "{\"elicitation\":{\"url\":{}}}"},
    };
    results r = {0};
    assert_int_equal(mt_rec_emit(rec, s, &ev, on_done, &r), MT_OK);
    json_decref(ident);
    want_done w = {&r, 1};
    assert_true(run_until(base, done_reached, &w, 20000));
    assert_int_equal(r.err[0], MT_OK);
    mt_rec_session_release(rec, s);
    mt_recorder_free(rec);
    event_base_free(base);

    consumed c;
    consume(&m, "g-fields", 1, &c);
    json_t *e = c.ev[0];
    json_t *id = json_object_get(e, "identity");
    assert_string_equal(json_string_value(json_object_get(id, "subject")), "ci-bot");
    assert_true(json_is_null(json_object_get(id, "ci")));
    json_t *http = json_object_get(e, "http");
    assert_int_equal(json_integer_value(json_object_get(http, "status")), 200);
    assert_string_equal(json_string_value(json_object_get(http, "sse_event_id")), "ev-3");
    assert_string_equal(json_string_value(json_object_get(http, "mcp_session_id")),
                        "upstream-sess-9");
    json_t *rpc = json_object_get(e, "rpc");
    assert_string_equal(json_string_value(json_object_get(rpc, "id")), "\"7\"");
    assert_true(json_is_true(json_object_get(rpc, "is_error")));
    assert_int_equal(json_integer_value(json_object_get(rpc, "error_code")), -32601);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(e, "policy"), "action")), "allow");
    const char *just = json_string_value(json_object_get(e, "justification"));
    assert_non_null(strstr(just, "ticket 42"));
    assert_null(strstr(just, "abcdef"));
    assert_int_equal(json_integer_value(json_object_get(e, "latency_us")), 1234);
    assert_int_equal(json_array_size(json_object_get(e, "mask_summary")), 0);
    /* version 3: logical call, client metadata masked as text */
    json_t *call = json_object_get(e, "call");
    assert_string_equal(json_string_value(json_object_get(call, "call_id")),
                        "0199b000-0000-7000-8000-0000000000c1");
    assert_int_equal(json_integer_value(json_object_get(call, "round")), 2);
    assert_string_equal(json_string_value(json_object_get(call, "result_type")),
                        "input_required");
    assert_true(json_is_true(json_object_get(call, "sealed")));
    json_t *cl = json_object_get(e, "client");
    assert_string_equal(json_string_value(json_object_get(cl, "name")), "ci-client");
    assert_string_equal(json_string_value(json_object_get(cl, "capabilities")),
                        "{\"elicitation\":{\"url\":{}}}");
    consumed_free(&c);
    mt_mock_kafka_stop(&m);
}

static bool sync_round_done(void *ctx)
{
    want_metrics *w = ctx; /* produced: the round count to exceed */
    return mt_rec_test_sync_rounds(w->rec) > w->produced;
}

/* The durability syscalls run on the syncer thread: with it paused, async
 * emits still return at once, loop turns (which request a sync) still run,
 * and events are produced and acked; nothing waits for the sync. */
static void async_emit_never_blocks_on_sync(void **state)
{
    (void)state;
    char dir[64];
    make_spool_dir(dir, sizeof dir);
    mt_mock_kafka m;
    mock_start(&m);
    struct event_base *base = event_base_new();
    mt_recorder *rec = recorder_for(&m, base, MT_REC_ASYNC, dir, 0, 8, 60000);
    mt_rec_session *s = mt_rec_session_get(rec, "sess-nosync");
    want_metrics w0 = {rec, 0};
    assert_true(run_until(base, produced_and_spool_empty, &w0, 5000));
    mt_rec_test_pause_syncer(rec, true);
    uint64_t rounds = mt_rec_test_sync_rounds(rec);
    results r = {0};
    const unsigned n = 120;
    for (unsigned b = 0; b < n; b += 20) {
        emit_n(rec, s, b, 20, &r);
        assert_int_equal(r.n, b + 20); /* callbacks before return */
        struct timeval turn = {0, 1000};
        event_base_loopexit(base, &turn);
        event_base_dispatch(base); /* on_fsync runs: it must not wait */
    }
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(r.err[i], MT_OK);
    want_metrics w = {rec, n};
    assert_true(run_until(base, produced_and_spool_empty, &w, 30000));
    assert_int_equal(mt_rec_test_sync_rounds(rec), rounds); /* still paused */
    mt_rec_test_pause_syncer(rec, false);
    want_metrics wr = {rec, rounds};
    assert_true(run_until(base, sync_round_done, &wr, 10000));
    mt_rec_session_release(rec, s);
    mt_recorder_free(rec);
    event_base_free(base);

    assert_recorded_chain(&m, "g-nosync", "sess-nosync", n);
    mt_mock_kafka_stop(&m);
    remove_spool_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strict_events_are_acked_chained_hmaced_and_masked),
        cmocka_unit_test(payloads_that_are_not_text_are_described_and_justifications_masked),
        cmocka_unit_test(identity_http_rpc_and_justification_are_recorded),
        cmocka_unit_test(strict_with_broker_down_reports_an_error),
        cmocka_unit_test(async_spools_while_broker_down_and_delivers_in_order),
        cmocka_unit_test(async_spool_full_fails_closed),
        cmocka_unit_test(restart_replays_a_non_empty_spool),
        cmocka_unit_test(async_kill9_replays_every_unacked_event),
        cmocka_unit_test(lru_eviction_records_session_end),
        cmocka_unit_test(replay_failure_rewinds_and_resends_in_order),
        cmocka_unit_test(idle_session_ends_with_session_end),
        cmocka_unit_test(stream_numbers_and_chains_every_event_of_the_instance),
        cmocka_unit_test(async_emit_never_blocks_on_sync),
    };
    if (getenv("MT_TEST_FILTER"))
        cmocka_set_test_filter(getenv("MT_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
