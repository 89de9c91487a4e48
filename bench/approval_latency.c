/* approval_latency: how long a held call takes from its approval decision to the upstream
 * (issue 6, acceptance 5), next to the Kafka floor measured in the same run.
 *
 *   approval_latency --sidecar URL --upstream-port P --key SIGNER.pem
 *                    --requests TOPIC --decisions TOPIC [--n N]
 *
 * One process plays every part but the sidecar: the upstream MCP endpoint (evhttp on
 * 127.0.0.1:P answering a fixed JSON-RPC result), the client (one held tools/call at a
 * time through the sidecar, each with distinct arguments), the approver (reads each
 * ApprovalRequest, signs an `approved` decision with SIGNER.pem and produces it), and a
 * plain reader of the decisions topic (the baseline: what any consumer needs to see a
 * decision). All times come from one CLOCK_MONOTONIC. Per call:
 *   published  = the decision's produce() call returned (handed to Kafka, acks=all)
 *   forwarded  = the upstream received the held call
 *   seen       = the baseline reader received the decision
 * Prints "name<TAB>n<TAB>p50_ms<TAB>p95_ms<TAB>p99_ms<TAB>max_ms" rows for
 * decision->forwarded and decision->seen (baseline). Brokers: MT_KAFKA_BROKERS. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "mcptrail/approval.h"
#include "mcptrail/avro.h"
#include "mcptrail/kafka.h"

#define MAX_N 10000

typedef struct bench {
    struct event_base *base;
    struct evhttp_connection *client;
    const char *host, *path;
    int sport;
    int n, done, next;
    double t_pub[MAX_N], t_fwd[MAX_N], t_seen[MAX_N];
    char ids[MAX_N][37]; /* approval id of call n */
    mt_producer *prod;
    mt_consumer *req_reader, *dec_reader;
    const mt_avro_registry *reg;
    const mt_avro_schema *s_dec;
    mt_ed25519_key *key;
    const char *t_dec;
    int failures;
} bench;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void send_call(bench *b);

static void send_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    send_call(arg);
}

static void on_reply(struct evhttp_request *req, void *arg)
{
    bench *b = arg;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code != 200) {
        if (b->done == 0 && b->failures++ < 100) { /* sidecar not up yet: retry */
            struct timeval tv = {0, 200000};
            event_base_once(b->base, -1, EV_TIMEOUT, send_later, b, &tv);
            return;
        }
        fprintf(stderr, "approval_latency: call %d answered %d\n", b->next, code);
        event_base_loopbreak(b->base);
        return;
    }
    b->done++;
    if (b->done >= b->n) {
        event_base_loopbreak(b->base);
        return;
    }
    b->next++;
    send_call(b);
}

static void send_call(bench *b)
{
    struct evhttp_request *r = evhttp_request_new(on_reply, b);
    char body[256];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"deploy\",\"arguments\":{\"environment\":\"production\",\"n\":%d}}}",
             b->next, b->next);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    evhttp_add_header(h, "Host", b->host);
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Accept", "application/json, text/event-stream");
    evhttp_add_header(h, "MCP-Protocol-Version", "2025-06-18");
    evbuffer_add(evhttp_request_get_output_buffer(r), body, strlen(body));
    evhttp_make_request(b->client, r, EVHTTP_REQ_POST, b->path);
}

/* The upstream: notes the arrival of call n and answers a fixed result. */
static void on_upstream(struct evhttp_request *req, void *arg)
{
    bench *b = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_t *j = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, NULL);
    json_int_t n = json_integer_value(
        json_object_get(json_object_get(json_object_get(j, "params"), "arguments"), "n"));
    json_decref(j);
    if (n >= 0 && n < MAX_N)
        b->t_fwd[n] = now_ms();
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "{\"jsonrpc\":\"2.0\",\"id\":%" JSON_INTEGER_FORMAT
                             ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]}}",
                        n);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void on_delivery(const mt_delivery *d, void *ctx)
{
    (void)ctx;
    if (d->err != MT_OK)
        fprintf(stderr, "approval_latency: decision not delivered: %s\n", d->errstr);
}

/* The approver: an approved, signed decision for each ApprovalRequest. */
static void approve(bench *b, const json_t *rq)
{
    json_t *args = json_loads(json_string_value(json_object_get(rq, "arguments_masked")), 0, NULL);
    json_int_t n = json_integer_value(json_object_get(json_object_get(args, "arguments"), "n"));
    json_decref(args);
    int64_t now = wall_us();
    json_t *d = json_pack("{s:O, s:O, s:s, s:I, s:[{s:s, s:s, s:n, s:I}], s:I, s:s, s:s}",
                          "approval_id", json_object_get(rq, "approval_id"), "request_hash",
                          json_object_get(rq, "request_hash"), "decision", "approved", "expires",
                          (json_int_t)(now + 60000000), "approvers", "subject", "bench",
                          "issuer", "bench", "reason", "ts", (json_int_t)now, "decided",
                          (json_int_t)now, "key_id", "", "signature", "");
    mt_errbuf eb = {{0}};
    mt_buf enc = MT_BUF_INIT;
    if (mt_approval_sign(b->s_dec, d, b->key, &eb) != MT_OK ||
        mt_avro_encode(b->s_dec, d, &enc, &eb) != MT_OK) {
        fprintf(stderr, "approval_latency: %s\n", eb.msg);
        exit(1);
    }
    const char *id = json_string_value(json_object_get(rq, "approval_id"));
    mt_kafka_avro_headers ah;
    const mt_kafka_header *hs =
        mt_kafka_avro_headers_init(&ah, mt_avro_schema_fingerprint(b->s_dec));
    if (mt_producer_send(b->prod, b->t_dec, id, strlen(id), enc.data, enc.len, hs, 2, NULL,
                         &eb) != MT_OK) {
        fprintf(stderr, "approval_latency: produce: %s\n", eb.msg);
        exit(1);
    }
    if (n >= 0 && n < MAX_N) {
        b->t_pub[n] = now_ms();
        snprintf(b->ids[n], sizeof b->ids[n], "%s", id);
    }
    mt_buf_free(&enc);
    json_decref(d);
}

static void poll_reader(bench *b, mt_consumer *c, bool requests)
{
    for (;;) {
        mt_kafka_msg m;
        mt_errbuf eb = {{0}};
        if (mt_consumer_poll(c, 0, &m, &eb) != MT_OK)
            return;
        json_t *rec = NULL;
        if (!m.eof && m.value &&
            mt_avro_decode(b->reg, m.value, m.value_len, NULL, &rec, &eb) == MT_OK) {
            if (requests) {
                approve(b, rec);
            } else {
                double t = now_ms();
                const char *id = json_string_value(json_object_get(rec, "approval_id"));
                for (int i = b->next; id && i >= 0 && i > b->next - 4; i--)
                    if (strcmp(b->ids[i], id) == 0 && b->t_seen[i] == 0)
                        b->t_seen[i] = t;
            }
        }
        json_decref(rec);
        mt_kafka_msg_release(&m);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    bench *b = arg;
    poll_reader(b, b->req_reader, true);
    poll_reader(b, b->dec_reader, false);
    mt_producer_poll(b->prod, 0);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void row(const char *name, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    if (n == 0) {
        printf("%s\t0\t-\t-\t-\t-\n", name);
        return;
    }
#define PCT(p) v[(int)((double)(n - 1) * (p) + 0.5)]
    printf("%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\n", name, n, PCT(0.50), PCT(0.95), PCT(0.99),
           v[n - 1]);
}

int main(int argc, char **argv)
{
    static bench b;
    const char *url = NULL, *key = NULL, *t_req = NULL;
    int uport = 0;
    b.n = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--sidecar")) url = argv[i + 1];
        else if (!strcmp(argv[i], "--upstream-port")) uport = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--key")) key = argv[i + 1];
        else if (!strcmp(argv[i], "--requests")) t_req = argv[i + 1];
        else if (!strcmp(argv[i], "--decisions")) b.t_dec = argv[i + 1];
        else if (!strcmp(argv[i], "--n")) b.n = atoi(argv[i + 1]);
    }
    const char *bs = getenv("MT_KAFKA_BROKERS");
    if (!url || !uport || !key || !t_req || !b.t_dec || !bs || b.n < 1 || b.n > MAX_N) {
        fprintf(stderr, "usage: approval_latency --sidecar URL --upstream-port P --key PEM "
                        "--requests T --decisions T [--n N] (MT_KAFKA_BROKERS set)\n");
        return 2;
    }
    static char host[256], path[256];
    if (sscanf(url, "http://%255[^:]:%d%255s", host, &b.sport, path) != 3)
        return 2;
    b.host = host;
    b.path = path;
    mt_errbuf eb = {{0}};
    mt_avro_registry *reg = NULL;
    if (mt_avro_registry_load(NULL, &reg, &eb) != MT_OK ||
        mt_ed25519_load_private_pem_file(key, &b.key, &eb) != MT_OK) {
        fprintf(stderr, "approval_latency: %s\n", eb.msg);
        return 1;
    }
    b.reg = reg;
    b.s_dec = mt_avro_registry_find(reg, MT_APPROVAL_DECISION_SCHEMA);
    mt_kafka_config kc = {.bootstrap = bs, .client_id = "approval-latency"};
    const mt_kafka_prop pp[] = {{"linger.ms", "0"}};
    mt_kafka_config pk = kc;
    pk.props = pp;
    pk.nprops = 1;
    mt_producer_config pc = {.kafka = pk, .on_delivery = on_delivery};
    const char *rt[] = {t_req}, *dt[] = {b.t_dec};
    mt_consumer_config rc = {.kafka = kc, .group_id = "approval-latency", .topics = rt,
                             .ntopics = 1, .assign_only = 1};
    mt_consumer_config dc = rc;
    dc.topics = dt;
    int64_t from = wall_us() / 1000;
    if (mt_producer_new(&pc, &b.prod, &eb) != MT_OK ||
        mt_consumer_new(&rc, &b.req_reader, &eb) != MT_OK ||
        mt_consumer_new(&dc, &b.dec_reader, &eb) != MT_OK ||
        mt_consumer_assign_all(b.req_reader, from, 10000, &eb) != MT_OK ||
        mt_consumer_assign_all(b.dec_reader, from, 10000, &eb) != MT_OK) {
        fprintf(stderr, "approval_latency: %s\n", eb.msg);
        return 1;
    }
    b.base = event_base_new();
    struct evhttp *up = evhttp_new(b.base);
    if (!up || evhttp_bind_socket(up, "127.0.0.1", (ev_uint16_t)uport) != 0) {
        fprintf(stderr, "approval_latency: cannot listen on 127.0.0.1:%d\n", uport);
        return 1;
    }
    evhttp_set_gencb(up, on_upstream, &b);
    /* Kafka readers are polled every millisecond: the same cadence for both paths. */
    struct event *tick = event_new(b.base, -1, EV_PERSIST, on_tick, &b);
    struct timeval tv = {0, 1000};
    event_add(tick, &tv);
    b.client = evhttp_connection_base_new(b.base, NULL, host, (ev_uint16_t)b.sport);
    evhttp_connection_set_timeout(b.client, 60);
    fprintf(stderr, "approval_latency: upstream on %d, %d held calls through %s\n", uport, b.n,
            url);
    send_call(&b);
    event_base_dispatch(b.base);
    static double fwd[MAX_N], seen[MAX_N];
    int nf = 0, ns = 0;
    for (int i = 0; i < b.done; i++) {
        if (b.t_pub[i] > 0 && b.t_fwd[i] > 0)
            fwd[nf++] = b.t_fwd[i] - b.t_pub[i];
        if (b.t_pub[i] > 0 && b.t_seen[i] > 0)
            seen[ns++] = b.t_seen[i] - b.t_pub[i];
    }
    row("decision_to_forwarded", fwd, nf);
    row("decision_to_seen_baseline", seen, ns);
    evhttp_connection_free(b.client);
    event_free(tick);
    evhttp_free(up);
    event_base_free(b.base);
    mt_consumer_destroy(b.req_reader);
    mt_consumer_destroy(b.dec_reader);
    mt_producer_flush(b.prod, 5000, &eb);
    mt_producer_destroy(b.prod);
    mt_ed25519_free(b.key);
    mt_avro_registry_free(reg);
    return b.done == b.n ? 0 : 1;
}
