/* proxy: the engine against a tiny in-test upstream (an evhttp server on an
 * ephemeral port answering JSON and an SSE stream), all on one event loop
 * (tests/support/proxy_fixture.h). Every exchange runs the loop until its
 * completion callback breaks it (bounded by a deadline timer), so nothing
 * waits on wall-clock sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin.h"
#include "proxy_fixture.h"

/* The SSE stream, sent in pieces that split events and lines on purpose. */
static const char *const sse_pieces[] = {
    "id: 1\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n",
    "\n: keep-alive\n\nid: 2\r\ndata: {\"jsonrpc\":\"2.0\",",
    "\"id\":1,\"result\":{}}\r\n\r\n",
};

typedef struct fixture {
    mt_pfx px;                 /* loop, upstream stub, proxy, client's last response */
    mt_admin *admin;
    char upstream_authz[256]; /* Authorization the upstream received */
    const char *const *hdrs;   /* extra request headers, name/value pairs, NULL-ended */
    uint16_t up_peer_port;     /* sidecar-side port of the upstream's last request */
    size_t up_requests;        /* requests the upstream received */
    const char *reload_with;   /* upstream handler: rewrite the policy and reload */
    char pol_dir[64];          /* temp dir of the policy file ("" when none) */
    char pol_path[128];
} fixture;

/* --- the in-test upstream ---------------------------------------------- */

static void up_sse_send(evutil_socket_t fd, short what, void *arg);
static void write_file(const char *path, const char *text);

typedef struct sse_state {
    struct evhttp_request *req;
    size_t next;
    struct event *ev;
} sse_state;

static void up_sse_send(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sse_state *st = arg;
    if (st->next == sizeof sse_pieces / sizeof sse_pieces[0]) {
        evhttp_send_reply_end(st->req);
        event_free(st->ev);
        free(st);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, sse_pieces[st->next], strlen(sse_pieces[st->next]));
    st->next++;
    evhttp_send_reply_chunk(st->req, b);
    evbuffer_free(b);
    /* next piece on a later loop turn, so the proxy sees separate reads */
    event_active(st->ev, EV_TIMEOUT, 0);
}

/* The held stream's peer (the proxy) left: libevent detached the request;
 * ending the reply frees it. */
static void hold_closed(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    struct evhttp_request *req = arg;
    if (!evhttp_request_get_connection(req))
        evhttp_send_reply_end(req);
}

static void on_upstream(struct evhttp_request *req, void *arg)
{
    fixture *f = arg;
    f->up_requests++;
    if (f->reload_with) {
        /* mid-exchange reload: the exchange keeps the policy that decided it */
        write_file(f->pol_path, f->reload_with);
        mt_errbuf eb = {{0}};
        if (mt_proxy_reload_policy(f->px.proxy, &eb) != MT_OK)
            fail_msg("reload: %s", eb.msg);
        f->reload_with = NULL;
    }
    const char *authz = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    snprintf(f->upstream_authz, sizeof f->upstream_authz, "%s", authz ? authz : "");
    char *peer = NULL;
    ev_uint16_t peer_port = 0;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &peer_port);
    f->up_peer_port = peer_port;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    if (strcmp(path, "/hold-sse") == 0) {
        /* one event, then the stream stays open (freed with the upstream) */
        static const char ev1[] = "data: {\"jsonrpc\":\"2.0\",\"method\":\"n\"}\n\n";
        evhttp_add_header(oh, "Content-Type", "text/event-stream");
        evhttp_send_reply_start(req, 200, "OK");
        struct evbuffer *b = evbuffer_new();
        evbuffer_add(b, ev1, sizeof ev1 - 1);
        evhttp_send_reply_chunk(req, b);
        evbuffer_free(b);
        evhttp_connection_set_closecb(evhttp_request_get_connection(req), hold_closed, req);
        return;
    }
    if (strcmp(path, "/legacy-sse") == 0) {
        /* 2024-11-05 HTTP+SSE: the endpoint event names the messages URI */
        static const char ep[] = "event: endpoint\ndata: http://127.0.0.1:1/messages?sessionId=abc\n\n";
        evhttp_add_header(oh, "Content-Type", "text/event-stream");
        struct evbuffer *b = evbuffer_new();
        evbuffer_add(b, ep, sizeof ep - 1);
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
        return;
    }
    if (strcmp(path, "/sse") == 0) {
        evhttp_add_header(oh, "Content-Type", "text/event-stream");
        evhttp_add_header(oh, "Mcp-Session-Id", "s-1");
        evhttp_send_reply_start(req, 200, "OK");
        sse_state *st = calloc(1, sizeof *st);
        st->req = req;
        st->ev = event_new(f->px.base, -1, 0, up_sse_send, st);
        event_active(st->ev, EV_TIMEOUT, 0);
        return;
    }
    /* echo the JSON-RPC request id back in a result */
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"echo\":");
    if (evbuffer_get_length(in))
        evbuffer_add_buffer(out, in);
    else
        evbuffer_add_printf(out, "null");
    evbuffer_add_printf(out, "}}");
    evhttp_add_header(oh, "Content-Type", "application/json");
    evhttp_add_header(oh, "Mcp-Session-Id", "s-1");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

/* --- the test client ------------------------------------------------------ */

/* One request to port (0: the proxy's); waits (deadline 10 s) for the response. */
static void do_request(fixture *f, uint16_t port, enum evhttp_cmd_type cmd, const char *path,
                       const char *host, const char *authz, const char *body, size_t body_len)
{
    mt_pfx_req r = {.port = port, .cmd = cmd, .path = path, .host = host, .authz = authz,
                    .hdrs = f->hdrs, .body = body, .body_len = body_len};
    mt_errbuf eb = {{0}};
    if (mt_pfx_request(&f->px, &r, &eb))
        fail_msg("%s", eb.msg);
}

static void post(fixture *f, const char *path, const char *body)
{
    do_request(f, 0, EVHTTP_REQ_POST, path, "localhost", NULL, body, strlen(body));
}

/* --- fixture -------------------------------------------------------------- */

static int setup_with(void **state, const char *const *extra, size_t nextra)
{
    fixture *f = calloc(1, sizeof *f);
    static const char *const base_opts[] = {"--admin.port=0", "--auth.anonymous=true",
                                            "--limits.max_body_bytes=4KiB"};
    const char *opts[32];
    size_t nopts = 0;
    for (size_t i = 0; i < sizeof base_opts / sizeof base_opts[0]; i++)
        opts[nopts++] = base_opts[i];
    for (size_t i = 0; i < nextra && nopts < 32; i++)
        opts[nopts++] = extra[i];
    mt_errbuf eb = {{0}};
    if (mt_pfx_init(&f->px, on_upstream, f, &eb) ||
        mt_pfx_start(&f->px, "test_proxy", opts, nopts, &eb))
        fail_msg("fixture: %s", eb.msg);
    mt_admin_config ac = {.address = "127.0.0.1", .port = 0, .metrics = &f->px.metrics,
                          .proxy = f->px.proxy};
    assert_int_equal(mt_admin_new(f->px.base, &ac, &f->admin, &eb), MT_OK);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, NULL, 0);
}

static int setup_auth(void **state)
{
    static const char *const extra[] = {"--auth.anonymous=false",
                                        "--auth.authorization_servers=https://issuer.example"};
    return setup_with(state, extra, 2);
}

/* Policy used by the policy tests: deletes denied, reads record-only, the
 * rest allowed. */
static const char policy_a[] =
    "{\"version\":1,\"default\":\"allow\",\"rules\":["
    "{\"id\":\"deny-delete\",\"match\":{\"method\":\"tools/call\",\"tool\":\"delete_*\"},"
    "\"action\":\"deny\",\"message\":\"no deletes\"},"
    "{\"id\":\"review-reads\",\"match\":{\"method\":\"tools/call\",\"tool\":\"read_*\"},"
    "\"action\":\"record-only\"}]}";

static char pol_dir_next[64], pol_path_next[128];

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
}

static int setup_policy(void **state)
{
    snprintf(pol_dir_next, sizeof pol_dir_next, "/tmp/mt-test-policy-XXXXXX");
    assert_non_null(mkdtemp(pol_dir_next));
    snprintf(pol_path_next, sizeof pol_path_next, "%s/policy.json", pol_dir_next);
    write_file(pol_path_next, policy_a);
    char opt[200];
    snprintf(opt, sizeof opt, "--policy.file=%s", pol_path_next);
    const char *const extra[] = {opt};
    int rc = setup_with(state, extra, 1);
    fixture *f = *state;
    memcpy(f->pol_dir, pol_dir_next, sizeof f->pol_dir);
    memcpy(f->pol_path, pol_path_next, sizeof f->pol_path);
    return rc;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->pol_dir[0]) {
        unlink(f->pol_path);
        rmdir(f->pol_dir);
    }
    mt_admin_free(f->admin);
    mt_pfx_fini(&f->px);
    free(f);
    return 0;
}

/* --- tests ---------------------------------------------------------------- */

/* mask.client_responses: off, the client gets the server's bytes; on, the
 * JSON response it gets is masked like the record (the echo upstream returns
 * the request, so a key in the request comes back in the response). */
static void client_responses_masked_only_when_asked(void **state)
{
    fixture *f = *state;
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"env\",\"arguments\":{\"aws\":\"AKIAQWERTYUIOPASDFGH\"}}}";
    post(f, "/mcp", req);
    assert_int_equal(f->px.status, 200);
    assert_non_null(strstr(f->px.body, "AKIAQWERTYUIOPASDFGH"));
}

static void client_responses_masked_when_asked(void **state)
{
    fixture *f = *state;
    mt_errbuf eb = {{0}};
    if (mt_pfx_record(&f->px, MT_REC_STRICT, 10000, NULL, &eb))
        fail_msg("recorder: %s", eb.msg);
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                      "{\"name\":\"env\",\"arguments\":{\"aws\":\"AKIAQWERTYUIOPASDFGH\"}}}";
    post(f, "/mcp", req);
    assert_int_equal(f->px.status, 200);
    assert_null(strstr(f->px.body, "AKIAQWERTYUIOPASDFGH"));
    assert_non_null(strstr(f->px.body, "[REDACTED:"));
    json_t *j = json_loads(f->px.body, 0, NULL); /* still valid JSON-RPC */
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 1);
    json_decref(j);
    mt_pfx_unrecord(&f->px);
}

static int setup_mask_client(void **state)
{
    static const char *const extra[] = {"--mask.client_responses=true"};
    return setup_with(state, extra, 1);
}


static void json_response_is_passed_through(void **state)
{
    fixture *f = *state;
    const char *req = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";
    post(f, "/mcp", req);
    assert_int_equal(f->px.status, 200);
    char want[256];
    snprintf(want, sizeof want, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"echo\":%s}}", req);
    assert_string_equal(f->px.body, want);
    assert_string_equal(f->px.content_type, "application/json");
    assert_int_equal(f->px.metrics.requests_by_code[200], 1);
}

static void sse_is_relayed_event_by_event_byte_identical(void **state)
{
    fixture *f = *state;
    post(f, "/sse", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}");
    assert_int_equal(f->px.status, 200);
    assert_string_equal(f->px.content_type, "text/event-stream");
    char want[512] = "";
    for (size_t i = 0; i < sizeof sse_pieces / sizeof sse_pieces[0]; i++)
        strncat(want, sse_pieces[i], sizeof want - strlen(want) - 1);
    assert_int_equal(f->px.body_len, strlen(want));
    assert_memory_equal(f->px.body, want, f->px.body_len);
    assert_true(f->px.chunks >= 2); /* delivered as it came, not at the end */
}

static void host_not_allowed_is_403(void **state)
{
    fixture *f = *state;
    const char *b = "{}";
    do_request(f, 0, EVHTTP_REQ_POST, "/mcp", "evil.example", NULL, b, strlen(b));
    assert_int_equal(f->px.status, 403);
    assert_non_null(strstr(f->px.body, "host_not_allowed"));
}

static void origin_of_an_allowed_host_passes_and_others_are_403(void **state)
{
    fixture *f = *state;
    static const char *const ok[] = {"Origin", "http://localhost:8080", NULL};
    static const char *const bad[] = {"Origin", "http://evil.example", NULL};
    f->hdrs = ok;
    post(f, "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_int_equal(f->px.status, 200);
    f->hdrs = bad;
    post(f, "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_int_equal(f->px.status, 403);
    assert_non_null(strstr(f->px.body, "origin_not_allowed"));
    f->hdrs = NULL;
}

static void oversized_body_is_413(void **state)
{
    fixture *f = *state;
    size_t n = 8192;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    post(f, "/mcp", big);
    free(big);
    assert_int_equal(f->px.status, 413);
}

static void missing_token_is_401_with_resource_metadata(void **state)
{
    fixture *f = *state;
    post(f, "/mcp", "{}");
    assert_int_equal(f->px.status, 401);
    assert_string_equal(f->px.www_auth, "Bearer resource_metadata=\"http://localhost/.well-known/"
                                     "oauth-protected-resource\"");
    assert_string_equal(f->upstream_authz, ""); /* never reached upstream */
}

static void bad_token_is_401_invalid_token(void **state)
{
    fixture *f = *state;
    do_request(f, 0, EVHTTP_REQ_POST, "/mcp", "localhost", "Bearer not-a-jwt", "{}", 2);
    assert_int_equal(f->px.status, 401);
    assert_non_null(strstr(f->px.www_auth, "error=\"invalid_token\""));
}

static void well_known_metadata_is_served(void **state)
{
    fixture *f = *state;
    do_request(f, 0, EVHTTP_REQ_GET, "/.well-known/oauth-protected-resource", "localhost", NULL,
               NULL, 0);
    assert_int_equal(f->px.status, 200);
    assert_non_null(strstr(f->px.body, "\"resource\":\"http://localhost/mcp\""));
    assert_non_null(strstr(f->px.body, "\"authorization_servers\":[\"https://issuer.example\"]"));
    assert_non_null(strstr(f->px.body, "\"bearer_methods_supported\":[\"header\"]"));
}

static void upstream_down_is_502_jsonrpc_error(void **state)
{
    fixture *f = *state;
    evhttp_free(f->px.up); /* nothing listens on the upstream port now */
    f->px.up = evhttp_new(f->px.base);
    post(f, "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}");
    assert_int_equal(f->px.status, 502);
    assert_non_null(strstr(f->px.body, "\"id\":7"));
    assert_non_null(strstr(f->px.body, "\"code\":-32603"));
}

static void upstream_connection_is_reused(void **state)
{
    fixture *f = *state;
    post(f, "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_int_equal(f->px.status, 200);
    uint16_t first = f->up_peer_port;
    assert_int_not_equal(first, 0);
    post(f, "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
    assert_int_equal(f->px.status, 200);
    assert_int_equal(f->up_peer_port, first); /* same keep-alive connection */

    /* the upstream restarts: the pooled connection is closed, the next
     * request reconnects instead of failing */
    evhttp_free(f->px.up);
    f->px.up = evhttp_new(f->px.base);
    evhttp_set_gencb(f->px.up, on_upstream, f);
    assert_int_equal(evhttp_bind_socket(f->px.up, "127.0.0.1", f->px.up_port), 0);
    event_base_loop(f->px.base, EVLOOP_NONBLOCK); /* lets the pool see the close */
    post(f, "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    assert_int_equal(f->px.status, 200);
    assert_int_not_equal(f->up_peer_port, first);
}

static void client_authorization_is_replaced_upstream(void **state)
{
    fixture *f = *state;
    post(f, "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_int_equal(f->px.status, 200);
    assert_string_equal(f->upstream_authz, ""); /* no credential configured: none sent */
}

static void admin_healthz_and_metrics(void **state)
{
    fixture *f = *state;
    post(f, "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_int_equal(f->px.status, 200);
    do_request(f, mt_admin_port(f->admin), EVHTTP_REQ_GET, "/healthz", "localhost", NULL, NULL,
               0);
    assert_int_equal(f->px.status, 200);
    do_request(f, mt_admin_port(f->admin), EVHTTP_REQ_GET, "/readyz", "localhost", NULL, NULL,
               0);
    assert_int_equal(f->px.status, 200);
    do_request(f, mt_admin_port(f->admin), EVHTTP_REQ_GET, "/metrics", "localhost", NULL, NULL,
               0);
    assert_int_equal(f->px.status, 200);
    assert_non_null(strstr(f->px.body, "mcptrail_requests_total{code=\"200\"} 1\n"));
    assert_non_null(strstr(f->px.body, "mcptrail_request_duration_seconds_count 1\n"));
    assert_non_null(strstr(f->px.body, "mcptrail_events_produced_total 0\n"));
    assert_non_null(strstr(f->px.body, "mcptrail_active_sessions 0\n"));
}

/* Strict recording against librdkafka's mock cluster: the request and the
 * response are both acked before the client gets the answer; with every
 * broker down the request is refused and never reaches the upstream. */
static void record_strict(fixture *f, int timeout_ms)
{
    mt_errbuf eb = {{0}};
    if (mt_pfx_record(&f->px, MT_REC_STRICT, timeout_ms, NULL, &eb))
        fail_msg("recorder: %s", eb.msg);
}

static void strict_mode_records_request_and_response_before_release(void **state)
{
    fixture *f = *state;
    record_strict(f, 10000);
    post(f, "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
    assert_int_equal(f->px.status, 200);
    mt_rec_metrics rm;
    mt_rec_metrics_get(f->px.rec, &rm);
    assert_int_equal(rm.produced, 2);
    post(f, "/sse", "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}}");
    assert_int_equal(f->px.status, 200);
    mt_rec_metrics_get(f->px.rec, &rm);
    /* request + two dispatched SSE events (the keep-alive block is forwarded,
     * not recorded); a stateless exchange has no session_end (the stream
     * proves nothing followed): exactly these. */
    assert_int_equal(rm.produced, 2 + 1 + 2);
    mt_pfx_unrecord(&f->px);
}

static void strict_mode_kafka_down_refuses_unrecorded_request(void **state)
{
    fixture *f = *state;
    record_strict(f, 1000);
    rd_kafka_mock_broker_set_down(f->px.kafka.mc, 1);
    post(f, "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}");
    assert_int_equal(f->px.status, 503);
    assert_non_null(strstr(f->px.body, "request not recorded: Kafka unavailable"));
    assert_non_null(strstr(f->px.body, "\"id\":5"));
    assert_string_equal(f->upstream_authz, ""); /* upstream never called */
    assert_int_equal(f->px.metrics.requests_by_code[200], 0);
    mt_pfx_unrecord(&f->px);
}

/* Every SessionEvent on the mock topic, decoded, until one of kind `last`
 * arrives (deadline 10 s). Returns a new JSON array. */
static json_t *consume_until(fixture *f, const char *last)
{
    json_t *all = NULL;
    mt_errbuf eb = {{0}};
    mt_err err = mt_pfx_events_until(&f->px, last, 10000, &all, &eb);
    if (err) {
        json_decref(all);
        fail_msg("%s", eb.msg);
    }
    return all;
}

static const char *rpc_str(json_t *ev, const char *field)
{
    json_t *rpc = mt_mock_kafka_branch(json_object_get(ev, "rpc"));
    return json_string_value(mt_mock_kafka_branch(json_object_get(rpc, field)));
}

static void mcp_session_is_one_gapless_recorded_session(void **state)
{
    fixture *f = *state;
    record_strict(f, 10000);
    post(f, "/mcp", "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{}}");
    assert_int_equal(f->px.status, 200);
    static const char *const sid[] = {"Mcp-Session-Id", "s-1", "MCP-Protocol-Version",
                                      "2025-06-18", NULL};
    f->hdrs = sid;
    post(f, "/mcp",
         "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
         "\"echo\"}}");
    assert_int_equal(f->px.status, 200);
    do_request(f, 0, EVHTTP_REQ_DELETE, "/mcp", "localhost", NULL, NULL, 0);
    assert_int_equal(f->px.status, 200);
    f->hdrs = NULL;
    json_t *all = consume_until(f, "session_end");
    static const char *const kinds[] = {"request", "response", "request",    "response",
                                        "request", "response", "session_end"};
    assert_int_equal(json_array_size(all), 7);
    const char *session = json_string_value(json_object_get(json_array_get(all, 0), "session_id"));
    for (size_t i = 0; i < 7; i++) {
        json_t *e = json_array_get(all, i);
        assert_string_equal(json_string_value(json_object_get(e, "kind")), kinds[i]);
        assert_string_equal(json_string_value(json_object_get(e, "session_id")), session);
        assert_int_equal(json_integer_value(json_object_get(e, "seq")), i);
    }
    assert_string_not_equal(session, "s-1"); /* the sidecar's own id, linked by the map */
    assert_string_equal(rpc_str(json_array_get(all, 0), "method"), "initialize");
    assert_string_equal(rpc_str(json_array_get(all, 2), "tool"), "echo");
    assert_string_equal(rpc_str(json_array_get(all, 3), "tool"), "echo");
    assert_string_equal(rpc_str(json_array_get(all, 3), "id"), "1");
    /* The upstream's Mcp-Session-Id is on every event from the initialize response on. */
    assert_true(json_is_null(
        json_object_get(json_object_get(json_array_get(all, 0), "http"), "mcp_session_id")));
    for (size_t i = 1; i < 6; i++)
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(json_array_get(all, i), "http"), "mcp_session_id")),
                            "s-1");
    json_decref(all);
    mt_pfx_unrecord(&f->px);
}

/* A client that leaves mid-stream: the exchange is cleaned up (LeakSanitizer
 * checks the detached client request is freed) and the upstream cancelled. */
static void inflight_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fixture *f = arg;
    if (mt_proxy_inflight(f->px.proxy) == 0)
        event_base_loopbreak(f->px.base);
}

static void on_first_chunk_close(struct evhttp_request *req, void *arg)
{
    (void)req;
    fixture *f = arg;
    f->px.chunks++;
    event_base_loopbreak(f->px.base);
}

static void client_leaving_mid_sse_frees_the_exchange(void **state)
{
    fixture *f = *state;
    struct evhttp_connection *c =
        evhttp_connection_base_new(f->px.base, NULL, "127.0.0.1", mt_proxy_port(f->px.proxy));
    struct evhttp_request *r = evhttp_request_new(mt_pfx_on_response, &f->px);
    evhttp_request_set_chunked_cb(r, on_first_chunk_close);
    evhttp_add_header(evhttp_request_get_output_headers(r), "Host", "localhost");
    assert_int_equal(evhttp_make_request(c, r, EVHTTP_REQ_GET, "/hold-sse"), 0);
    f->px.chunks = 0;
    assert_int_equal(mt_pfx_run(&f->px, 10), MT_OK);
    assert_int_equal(f->px.chunks, 1);
    evhttp_connection_free(c); /* leave mid-stream */
    struct event *tick = event_new(f->px.base, -1, EV_PERSIST, inflight_check, f);
    struct timeval iv = {0, 20000};
    event_add(tick, &iv);
    assert_int_equal(mt_pfx_run(&f->px, 10), MT_OK); /* not the deadline */
    event_free(tick);
    assert_int_equal(mt_proxy_inflight(f->px.proxy), 0);
}

static void legacy_endpoint_event_points_at_the_sidecar(void **state)
{
    fixture *f = *state;
    do_request(f, 0, EVHTTP_REQ_GET, "/legacy-sse", "localhost", NULL, NULL, 0);
    assert_int_equal(f->px.status, 200);
    assert_string_equal(f->px.body,
                        "event: endpoint\ndata: http://localhost/messages?sessionId=abc\n\n");
}

static void public_base_url_option_drives_the_endpoint_rewrite(void **state)
{
    fixture *f = *state;
    do_request(f, 0, EVHTTP_REQ_GET, "/legacy-sse", "localhost", NULL, NULL, 0);
    assert_int_equal(f->px.status, 200);
    assert_string_equal(
        f->px.body, "event: endpoint\ndata: https://mcp.example/p/messages?sessionId=abc\n\n");
}

static int setup_public_url(void **state)
{
    static const char *const extra[] = {"--http.public_base_url=https://mcp.example/p"};
    return setup_with(state, extra, 1);
}

/* --- policy ---------------------------------------------------------------- */

static const char *policy_field(json_t *ev, const char *field)
{
    json_t *pol = mt_mock_kafka_branch(json_object_get(ev, "policy"));
    return json_string_value(mt_mock_kafka_branch(json_object_get(pol, field)));
}

static void call_tool(fixture *f, int id, const char *tool)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":"
             "\"%s\",\"arguments\":{\"path\":\"/x\"}}}",
             id, tool);
    post(f, "/mcp", body);
}

static void assert_denied(fixture *f, int id)
{
    assert_int_equal(f->px.status, 200);
    assert_string_equal(f->px.content_type, "application/json");
    json_t *r = json_loads(f->px.body, 0, NULL);
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), id);
    json_t *err = json_object_get(r, "error");
    assert_int_equal(json_integer_value(json_object_get(err, "code")), -32001);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(err, "data"), "rule_id")),
        "deny-delete");
    json_decref(r);
}

static void policy_deny_blocks_matching_tool_and_is_recorded(void **state)
{
    fixture *f = *state;
    record_strict(f, 10000);
    call_tool(f, 7, "delete_file");
    assert_denied(f, 7);
    assert_int_equal(f->up_requests, 0); /* never forwarded */
    json_t *all = consume_until(f, "policy_denied");
    assert_int_equal(json_array_size(all), 1); /* one event: no session_end */
    json_t *ev = json_array_get(all, 0);
    assert_string_equal(json_string_value(json_object_get(ev, "kind")), "policy_denied");
    assert_string_equal(policy_field(ev, "rule_id"), "deny-delete");
    assert_string_equal(policy_field(ev, "action"), "deny");
    assert_string_equal(rpc_str(ev, "tool"), "delete_file");
    json_t *rpc = mt_mock_kafka_branch(json_object_get(ev, "rpc"));
    assert_int_equal(
        json_integer_value(mt_mock_kafka_branch(json_object_get(rpc, "error_code"))), -32001);
    assert_false(json_is_null(json_object_get(ev, "payload"))); /* the (masked) request */
    json_decref(all);
    mt_pfx_unrecord(&f->px);
}

/* Every event of an allowed exchange carries the decision. */
static void policy_decision_on_every_event(fixture *f, const char *tool, const char *rule,
                                           const char *action)
{
    record_strict(f, 10000);
    call_tool(f, 3, tool);
    assert_int_equal(f->px.status, 200);
    assert_int_equal(f->up_requests, 1);
    assert_non_null(strstr(f->px.body, "\"echo\":"));
    json_t *all = consume_until(f, "response");
    assert_int_equal(json_array_size(all), 2); /* a stateless exchange: two events */
    for (size_t i = 0; i < 2; i++) {
        json_t *ev = json_array_get(all, i);
        assert_string_equal(json_string_value(json_object_get(ev, "kind")),
                            i == 0 ? "request" : "response");
        assert_string_equal(policy_field(ev, "rule_id"), rule);
        assert_string_equal(policy_field(ev, "action"), action);
    }
    json_decref(all);
    mt_pfx_unrecord(&f->px);
}

static void policy_non_matching_tool_passes_with_policy_recorded(void **state)
{
    policy_decision_on_every_event(*state, "echo", "default", "allow");
}

static void policy_record_only_is_forwarded_and_recorded_as_such(void **state)
{
    policy_decision_on_every_event(*state, "read_file", "review-reads", "record_only");
}

/* A reload while the exchange is at the upstream: its response is still
 * recorded with the old policy's decision (whose strings the old policy
 * owns: freed only after the exchange, ASan checks), the next request
 * gets the new one. */
static void policy_reload_mid_exchange_keeps_the_deciding_policy(void **state)
{
    fixture *f = *state;
    f->reload_with = "{\"version\":1,\"default\":\"deny\",\"rules\":[]}";
    policy_decision_on_every_event(f, "read_file", "review-reads", "record_only");
    assert_int_equal(mt_proxy_policy_rules(f->px.proxy), 0);
    call_tool(f, 9, "read_file");
    assert_int_equal(f->px.status, 200);
    assert_non_null(strstr(f->px.body, "\"rule_id\":\"default\""));
    assert_int_equal(f->up_requests, 1);
}

static void policy_deny_in_a_batch_denies_the_whole_post(void **state)
{
    fixture *f = *state;
    static const char *const v[] = {"MCP-Protocol-Version", "2025-03-26", NULL};
    f->hdrs = v;
    post(f, "/mcp",
         "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\"}},"
         "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
         "\"delete_x\"}}]");
    f->hdrs = NULL;
    assert_int_equal(f->px.status, 200);
    assert_int_equal(f->up_requests, 0);
    json_t *r = json_loads(f->px.body, 0, NULL);
    assert_true(json_is_array(r));
    assert_int_equal(json_array_size(r), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(r, i);
        assert_int_equal(json_integer_value(json_object_get(e, "id")), (json_int_t)i + 1);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(e, "error"), "code")), -32001);
    }
    json_decref(r);
}

static void policy_reload_changes_the_next_decision(void **state)
{
    fixture *f = *state;
    call_tool(f, 1, "delete_file");
    assert_denied(f, 1);
    assert_int_equal(mt_proxy_policy_rules(f->px.proxy), 2);
    write_file(f->pol_path, "{\"version\":1,\"default\":\"allow\",\"rules\":[]}");
    mt_errbuf eb = {{0}};
    if (mt_proxy_reload_policy(f->px.proxy, &eb) != MT_OK)
        fail_msg("reload: %s", eb.msg);
    assert_int_equal(mt_proxy_policy_rules(f->px.proxy), 0);
    call_tool(f, 2, "delete_file");
    assert_int_equal(f->px.status, 200);
    assert_int_equal(f->up_requests, 1);
    assert_non_null(strstr(f->px.body, "\"echo\":"));
}

static void policy_broken_reload_keeps_the_old_policy(void **state)
{
    fixture *f = *state;
    write_file(f->pol_path, "{\"version\":1,\"default\":\"permit\",\"rules\":[]}");
    mt_errbuf eb = {{0}};
    assert_int_not_equal(mt_proxy_reload_policy(f->px.proxy, &eb), MT_OK);
    assert_non_null(strstr(eb.msg, f->pol_path)); /* the loader's message */
    write_file(f->pol_path, "{not json");
    assert_int_not_equal(mt_proxy_reload_policy(f->px.proxy, &eb), MT_OK);
    assert_int_equal(mt_proxy_policy_rules(f->px.proxy), 2);
    call_tool(f, 4, "delete_file");
    assert_denied(f, 4);
    assert_int_equal(f->up_requests, 0);
}

static void policy_file_that_does_not_load_stops_start(void **state)
{
    (void)state;
    mt_sidecar_config cfg = {0};
    const char *argv[] = {"test_proxy", "--listen.port=0", "--auth.anonymous=true",
                          "--policy.file=/nonexistent/policy.json"};
    char *envp[] = {NULL};
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_cfg_load(&mt_sidecar_spec, &cfg, 4, (char *const *)argv, envp, NULL, &eb),
                     MT_OK);
    assert_int_equal(mt_sidecar_config_finish(&cfg, &eb), MT_OK);
    struct event_base *base = event_base_new();
    mt_sidecar_metrics metrics = {0};
    mt_proxy *p = NULL;
    assert_int_not_equal(mt_proxy_new(base, &cfg, &metrics, &p, &eb), MT_OK);
    assert_null(p);
    assert_non_null(strstr(eb.msg, "/nonexistent/policy.json"));
    event_base_free(base);
    mt_cfg_free(&mt_sidecar_spec, &cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(client_responses_masked_only_when_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(client_responses_masked_when_asked, setup_mask_client,
                                        teardown),
        cmocka_unit_test_setup_teardown(json_response_is_passed_through, setup, teardown),
        cmocka_unit_test_setup_teardown(sse_is_relayed_event_by_event_byte_identical, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(host_not_allowed_is_403, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_body_is_413, setup, teardown),
        cmocka_unit_test_setup_teardown(origin_of_an_allowed_host_passes_and_others_are_403,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(missing_token_is_401_with_resource_metadata,
                                        setup_auth, teardown),
        cmocka_unit_test_setup_teardown(bad_token_is_401_invalid_token, setup_auth, teardown),
        cmocka_unit_test_setup_teardown(well_known_metadata_is_served, setup_auth, teardown),
        cmocka_unit_test_setup_teardown(upstream_down_is_502_jsonrpc_error, setup, teardown),
        cmocka_unit_test_setup_teardown(client_authorization_is_replaced_upstream, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(upstream_connection_is_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(admin_healthz_and_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(strict_mode_records_request_and_response_before_release,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(strict_mode_kafka_down_refuses_unrecorded_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(mcp_session_is_one_gapless_recorded_session, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(legacy_endpoint_event_points_at_the_sidecar, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(client_leaving_mid_sse_frees_the_exchange, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(public_base_url_option_drives_the_endpoint_rewrite,
                                        setup_public_url, teardown),
        cmocka_unit_test_setup_teardown(policy_deny_blocks_matching_tool_and_is_recorded,
                                        setup_policy, teardown),
        cmocka_unit_test_setup_teardown(policy_non_matching_tool_passes_with_policy_recorded,
                                        setup_policy, teardown),
        cmocka_unit_test_setup_teardown(policy_record_only_is_forwarded_and_recorded_as_such,
                                        setup_policy, teardown),
        cmocka_unit_test_setup_teardown(policy_reload_mid_exchange_keeps_the_deciding_policy,
                                        setup_policy, teardown),
        cmocka_unit_test_setup_teardown(policy_deny_in_a_batch_denies_the_whole_post,
                                        setup_policy, teardown),
        cmocka_unit_test_setup_teardown(policy_reload_changes_the_next_decision, setup_policy,
                                        teardown),
        cmocka_unit_test_setup_teardown(policy_broken_reload_keeps_the_old_policy, setup_policy,
                                        teardown),
        cmocka_unit_test(policy_file_that_does_not_load_stops_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
