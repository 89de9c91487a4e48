/* proxy bad-input table (issue 4, acceptance 3): every row sends one bad
 * request through the in-process engine (in-test upstream, librdkafka mock
 * cluster as Kafka, strict recording unless the row says otherwise) and
 * checks the HTTP status, the JSON-RPC error code and the SessionEvent kind
 * recorded for it, consumed back from the mock cluster and decoded. The same
 * table is in docs/sidecar.md; rows where no event can exist say why there.
 *
 * Every wait runs the event loop until a completion callback breaks it,
 * bounded by a deadline timer; nothing sleeps (tests/support/proxy_fixture.h). */
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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "mcp.h"
#include "mcptrail/crypto.h"
#include "mcptrail/jwt.h"
#include "proxy_fixture.h"

#define ISS "https://issuer.example"
#define AUD "mcptrail"
#define PING "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}"

/* ---- keys and tokens (group state) ----------------------------------------- */

static struct {
    char dir[96];
    char jwks_path[160];
    mt_jwt_key *rs;    /* in the JWKS as kid "rs" */
    mt_jwt_key *other; /* not in the JWKS */
} K;

static char *b64s(const void *d, size_t n)
{
    mt_buf b = MT_BUF_INIT;
    assert_int_equal(mt_b64url_encode(d, n, &b), MT_OK);
    assert_int_equal(mt_buf_append_byte(&b, 0), MT_OK);
    return (char *)b.data;
}

static char *claims(const char *iss, const char *aud, int64_t exp_delta)
{
    int64_t now = (int64_t)time(NULL);
    char *s = NULL;
    json_t *c = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", iss, "aud", aud, "sub", "agent-1",
                          "iat", (json_int_t)(now - 60), "exp", (json_int_t)(now + exp_delta));
    s = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return s;
}

static char *mint(const mt_jwt_key *k, const char *kid, const char *iss, const char *aud,
                  int64_t exp_delta)
{
    char *c = claims(iss, aud, exp_delta);
    mt_buf b = MT_BUF_INIT;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwt_sign(k, mt_jwt_key_alg(k), kid, c, strlen(c), &b, &eb), MT_OK);
    assert_int_equal(mt_buf_append_byte(&b, 0), MT_OK);
    free(c);
    return (char *)b.data;
}

/* header.payload.sig with a chosen header; sig = HMAC-SHA256(key) or empty. */
static char *forge(const char *hdr, const void *hkey, size_t hkey_len)
{
    char *c = claims(ISS, AUD, 600);
    char *h = b64s(hdr, strlen(hdr)), *p = b64s(c, strlen(c));
    char input[4096];
    snprintf(input, sizeof input, "%s.%s", h, p);
    char *sig = NULL;
    if (hkey) {
        uint8_t mac[MT_SHA256_LEN];
        mt_errbuf eb = {{0}};
        assert_int_equal(mt_hmac_sha256(hkey, hkey_len, input, strlen(input), mac, &eb), MT_OK);
        sig = b64s(mac, sizeof mac);
    }
    size_t cap = strlen(input) + 2 + (sig ? strlen(sig) : 0);
    char *out = malloc(cap);
    snprintf(out, cap, "%s.%s", input, sig ? sig : "");
    free(c);
    free(h);
    free(p);
    free(sig);
    return out;
}

static int group_setup(void **state)
{
    (void)state;
    mt_errbuf eb = {{0}};
    snprintf(K.dir, sizeof K.dir, "/tmp/mt_badinput_XXXXXX");
    if (!mkdtemp(K.dir))
        return -1;
    if (mt_jwt_key_generate("RSA", &K.rs, &eb) || mt_jwt_key_generate("RSA", &K.other, &eb))
        return -1;
    json_t *jwk = NULL;
    if (mt_jwt_key_public_jwk(K.rs, "rs", &jwk, &eb))
        return -1;
    json_t *doc = json_pack("{s:[o]}", "keys", jwk);
    snprintf(K.jwks_path, sizeof K.jwks_path, "%s/jwks.json", K.dir);
    int rc = json_dump_file(doc, K.jwks_path, JSON_COMPACT);
    json_decref(doc);
    return rc;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(K.jwks_path);
    rmdir(K.dir);
    mt_jwt_key_free(K.rs);
    mt_jwt_key_free(K.other);
    return 0;
}

/* ---- fixture ------------------------------------------------------------------ */

typedef enum up_mode { UP_HTTP, UP_RESET, UP_DOWN } up_mode;

typedef struct fixture {
    mt_pfx px; /* loop, upstream stub, proxy, recorder, client's last response */
    struct evconnlistener *reset_up; /* UP_RESET: raw upstream that breaks SSE */
    unsigned upstream_calls;
    char spool[128];
    char *token; /* valid */
} fixture;

static void on_upstream(struct evhttp_request *req, void *arg)
{
    fixture *f = arg;
    f->upstream_calls++;
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

/* Raw upstream: answers the first request with a chunked SSE stream that
 * holds one whole event and half of the next, then closes the socket. */
static const char reset_reply[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    "3a\r\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}\n\n\r\n"
    "10\r\nid: 2\ndata: {\"json\r\n";

static void reset_written(struct bufferevent *bev, void *arg)
{
    (void)arg;
    bufferevent_free(bev); /* closes: the stream breaks mid-event */
}

static void reset_read(struct bufferevent *bev, void *arg)
{
    fixture *f = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!evbuffer_search(in, "\r\n\r\n", 4, NULL).pos && evbuffer_get_length(in) < 4)
        return;
    if (evbuffer_search(in, "\r\n\r\n", 4, NULL).pos < 0)
        return;
    f->upstream_calls++;
    evbuffer_drain(in, evbuffer_get_length(in));
    bufferevent_setcb(bev, NULL, reset_written, NULL, f);
    bufferevent_write(bev, reset_reply, sizeof reset_reply - 1);
}

static void reset_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                         int salen, void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    fixture *f = arg;
    struct bufferevent *bev = bufferevent_socket_new(f->px.base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(bev, reset_read, NULL, NULL, f);
    bufferevent_enable(bev, EV_READ);
}

static uint16_t port_of(evutil_socket_t fd)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    return ntohs(sin.sin_port);
}

/* kafka_down: 1 s delivery timeout so the broker-down rows fail fast; the
 * others get 30 s so a loaded machine never turns an ack into a failure. */
static int setup_with(void **state, up_mode mode, mt_rec_mode rmode, bool kafka_down)
{
    fixture *f = calloc(1, sizeof *f);
    mt_errbuf eb = {{0}};
    if (mt_pfx_init(&f->px, on_upstream, f, &eb))
        fail_msg("fixture: %s", eb.msg);
    if (mode == UP_RESET) {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        f->reset_up = evconnlistener_new_bind(f->px.base, reset_accept, f,
                                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                                              (struct sockaddr *)&sin, sizeof sin);
        assert_non_null(f->reset_up);
        f->px.up_port = port_of(evconnlistener_get_fd(f->reset_up));
    } else if (mode == UP_DOWN) {
        evhttp_free(f->px.up); /* nothing listens on up_port any more */
        f->px.up = NULL;
    }
    char jwks[200];
    snprintf(jwks, sizeof jwks, "--auth.jwks_file=%s", K.jwks_path);
    const char *const opts[] = {jwks,
                                "--auth.issuer=" ISS,
                                "--auth.audiences=" AUD,
                                "--auth.algs=RS256",
                                "--limits.max_body_bytes=4KiB",
                                "--limits.max_header_bytes=4KiB",
                                "--limits.idle_timeout=1s"};
    if (mt_pfx_start(&f->px, "test_proxy_badinput", opts, sizeof opts / sizeof opts[0], &eb))
        fail_msg("proxy: %s", eb.msg);
    if (rmode == MT_REC_ASYNC) {
        snprintf(f->spool, sizeof f->spool, "%s/spool-XXXXXX", K.dir);
        assert_non_null(mkdtemp(f->spool));
    }
    if (mt_pfx_record(&f->px, rmode, kafka_down ? 1000 : 30000,
                      rmode == MT_REC_ASYNC ? f->spool : NULL, &eb))
        fail_msg("recorder: %s", eb.msg);
    f->token = mint(K.rs, "rs", ISS, AUD, 600);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, UP_HTTP, MT_REC_STRICT, false);
}
static int setup_kafka_down(void **state)
{
    return setup_with(state, UP_HTTP, MT_REC_STRICT, true);
}
static int setup_reset(void **state)
{
    return setup_with(state, UP_RESET, MT_REC_STRICT, false);
}
static int setup_down(void **state)
{
    return setup_with(state, UP_DOWN, MT_REC_STRICT, false);
}
static int setup_async(void **state)
{
    return setup_with(state, UP_HTTP, MT_REC_ASYNC, true);
}

static void rm_tree(const char *dir)
{
    char cmd[300];
    if (dir[0] && strncmp(dir, "/tmp/mt_badinput_", 17) == 0) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->reset_up)
        evconnlistener_free(f->reset_up);
    mt_pfx_fini(&f->px);
    rm_tree(f->spool);
    free(f->token);
    free(f);
    return 0;
}

/* ---- client ------------------------------------------------------------------- */

/* POST body to /mcp with authz (NULL: none) and extra header pairs. */
static void post(fixture *f, const char *authz, const char *body, size_t len,
                 const char *const *hdrs)
{
    mt_pfx_req r = {.authz = authz, .hdrs = hdrs, .body = body, .body_len = len};
    mt_errbuf eb = {{0}};
    if (mt_pfx_request(&f->px, &r, &eb))
        fail_msg("%s", eb.msg);
}

static void post_bearer(fixture *f, const char *token, const char *body,
                        const char *const *hdrs)
{
    char authz[8192];
    snprintf(authz, sizeof authz, "Bearer %s", token);
    post(f, authz, body, strlen(body), hdrs);
}

static long long rpc_code_of(const fixture *f)
{
    json_t *j = json_loads(f->px.body ? f->px.body : "", 0, NULL);
    json_t *c = json_object_get(json_object_get(j, "error"), "code");
    long long v = json_is_integer(c) ? (long long)json_integer_value(c) : 0;
    json_decref(j);
    return v;
}

/* Raw TCP exchange: sends req, then reads until the proxy closes (bounded). */
typedef struct raw {
    fixture *f;
    struct evbuffer *got;
    bool closed;
} raw;

static void raw_read(struct bufferevent *bev, void *arg)
{
    raw *r = arg;
    evbuffer_add_buffer(r->got, bufferevent_get_input(bev));
}

static void raw_event(struct bufferevent *bev, short what, void *arg)
{
    raw *r = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        evbuffer_add_buffer(r->got, bufferevent_get_input(bev));
        r->closed = true;
        event_base_loopbreak(r->f->px.base);
    }
}

static void raw_exchange(fixture *f, const char *req, size_t len, raw *r)
{
    r->f = f;
    r->got = evbuffer_new();
    r->closed = false;
    struct bufferevent *bev = bufferevent_socket_new(f->px.base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_port = htons(mt_proxy_port(f->px.proxy))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bufferevent_setcb(bev, raw_read, NULL, raw_event, r);
    bufferevent_enable(bev, EV_READ);
    assert_int_equal(bufferevent_socket_connect(bev, (struct sockaddr *)&sin, sizeof sin), 0);
    bufferevent_write(bev, req, len);
    assert_int_equal(mt_pfx_run(&f->px, 10), MT_OK);
    bufferevent_free(bev);
    assert_true(r->closed);
}

/* ---- recorded events -------------------------------------------------------- */

/* The first SessionEvent of kind `kind` on the topic (new reference), read
 * from the start with a plain assigned consumer; fails after 30 s. The
 * refusal was answered after the event's ack (strict), so it is there. */
static json_t *recorded(fixture *f, const char *kind)
{
    json_t *all = NULL;
    mt_errbuf eb = {{0}};
    if (mt_pfx_events_until(&f->px, kind, 30000, &all, &eb)) {
        json_decref(all);
        fail_msg("no %s event recorded: %s", kind, eb.msg);
    }
    json_t *found = json_incref(json_array_get(all, json_array_size(all) - 1));
    json_decref(all);
    return found;
}

static void assert_error_event(fixture *f, long long code)
{
    json_t *e = recorded(f, "error");
    json_t *rpc = mt_mock_kafka_branch(json_object_get(e, "rpc"));
    assert_true(json_is_object(rpc));
    assert_int_equal(
        json_integer_value(mt_mock_kafka_branch(json_object_get(rpc, "error_code"))), code);
    json_decref(e);
}

static void assert_auth_failed_event(fixture *f, bool with_token)
{
    json_t *e = recorded(f, "auth_failed");
    json_t *id = json_object_get(e, "identity");
    assert_true(json_is_null(mt_mock_kafka_branch(json_object_get(id, "issuer"))));
    assert_true(json_is_null(mt_mock_kafka_branch(json_object_get(id, "subject"))));
    assert_int_equal(!json_is_null(json_object_get(id, "token_fingerprint")), with_token);
    json_t *pm = mt_mock_kafka_branch(json_object_get(e, "payload_masked"));
    assert_true(json_is_string(pm) && json_string_length(pm) > 0); /* the reason */
    json_decref(e);
}

/* ---- the table ----------------------------------------------------------------- */

static void expect_401(fixture *f, const char *token)
{
    if (token)
        post_bearer(f, token, PING, NULL);
    else
        post(f, NULL, PING, strlen(PING), NULL);
    assert_int_equal(f->px.status, 401);
    assert_non_null(strstr(f->px.body, token ? "\"invalid_token\"" : "\"unauthorized\""));
    assert_int_equal(f->upstream_calls, 0);
    assert_auth_failed_event(f, token != NULL);
}

static void no_token_is_401_auth_failed(void **state)
{
    expect_401(*state, NULL);
}

static void expired_token_is_401_auth_failed(void **state)
{
    char *t = mint(K.rs, "rs", ISS, AUD, -3600);
    expect_401(*state, t);
    free(t);
}

static void wrong_audience_is_401_auth_failed(void **state)
{
    char *t = mint(K.rs, "rs", ISS, "someone-else", 600);
    expect_401(*state, t);
    free(t);
}

static void wrong_issuer_is_401_auth_failed(void **state)
{
    char *t = mint(K.rs, "rs", "https://evil.example", AUD, 600);
    expect_401(*state, t);
    free(t);
}

static void alg_none_is_401_auth_failed(void **state)
{
    char *t = forge("{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"rs\"}", NULL, 0);
    expect_401(*state, t);
    free(t);
}

static void hs256_with_public_key_is_401_auth_failed(void **state)
{
    mt_buf der = MT_BUF_INIT;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwt_key_public_der(K.rs, &der, &eb), MT_OK);
    char *t = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"rs\"}", der.data, der.len);
    mt_buf_free(&der);
    expect_401(*state, t);
    free(t);
}

static void unknown_kid_is_401_auth_failed(void **state)
{
    char *t = mint(K.other, "nope", ISS, AUD, 600);
    expect_401(*state, t);
    free(t);
}

/* The second request with the same token is served from the verified-token
 * cache; a token differing in one signature byte is still verified (and
 * refused with auth_failed). */
static void verified_token_cache_keeps_refusing_forgeries(void **state)
{
    fixture *f = *state;
    post_bearer(f, f->token, PING, NULL);
    assert_int_equal(f->px.status, 200);
    post_bearer(f, f->token, PING, NULL);
    assert_int_equal(f->px.status, 200);
    assert_int_equal(f->upstream_calls, 2);
    char *bad = strdup(f->token);
    char *last = bad + strlen(bad) - 2; /* a signature byte (not the final padding bits) */
    *last = *last == 'A' ? 'B' : 'A';
    f->upstream_calls = 0;
    expect_401(f, bad);
    free(bad);
}

static void malformed_json_is_400_parse_error(void **state)
{
    fixture *f = *state;
    post_bearer(f, f->token, "{\"jsonrpc\":\"2.0\",", NULL);
    assert_int_equal(f->px.status, 400);
    assert_int_equal(rpc_code_of(f), MT_MCP_PARSE_ERROR);
    assert_int_equal(f->upstream_calls, 0);
    assert_error_event(f, MT_MCP_PARSE_ERROR);
}

static void invalid_jsonrpc_is_400_invalid_request_with_id(void **state)
{
    fixture *f = *state;
    post_bearer(f, f->token, "{\"jsonrpc\":\"1.0\",\"id\":3,\"method\":\"ping\"}", NULL);
    assert_int_equal(f->px.status, 400);
    assert_int_equal(rpc_code_of(f), MT_MCP_INVALID_REQUEST);
    assert_non_null(strstr(f->px.body, "\"id\":3"));
    assert_int_equal(f->upstream_calls, 0);
    assert_error_event(f, MT_MCP_INVALID_REQUEST);
}

static void header_mismatch_2026_is_400(void **state)
{
    fixture *f = *state;
    static const char *const h[] = {"MCP-Protocol-Version", "2026-07-28", "Mcp-Method",
                                    "tools/list", "Mcp-Name", "echo", NULL};
    post_bearer(f, f->token,
                "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":"
                "\"echo\"}}",
                h);
    assert_int_equal(f->px.status, 400);
    assert_int_equal(rpc_code_of(f), MT_MCP_HEADER_MISMATCH);
    assert_non_null(strstr(f->px.body, "\"id\":4"));
    assert_int_equal(f->upstream_calls, 0);
    assert_error_event(f, MT_MCP_HEADER_MISMATCH);
}

/* The 2026-07-28 UnsupportedProtocolVersionError: 400, -32022 for the
 * request's id, data {requested, supported}. */
static void unknown_protocol_version_is_400(void **state)
{
    fixture *f = *state;
    static const char *const h[] = {"MCP-Protocol-Version", "1999-01-01", NULL};
    post_bearer(f, f->token, PING, h);
    assert_int_equal(f->px.status, 400);
    assert_int_equal(rpc_code_of(f), MT_MCP_UNSUPPORTED_VERSION);
    json_t *j = json_loads(f->px.body ? f->px.body : "", 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 7);
    json_t *data = json_object_get(json_object_get(j, "error"), "data");
    assert_string_equal(json_string_value(json_object_get(data, "requested")), "1999-01-01");
    json_t *sup = json_object_get(data, "supported");
    assert_int_equal(json_array_size(sup), 5);
    assert_string_equal(json_string_value(json_array_get(sup, 4)), "2026-07-28");
    json_decref(j);
    assert_error_event(f, MT_MCP_UNSUPPORTED_VERSION);
}

static void oversized_body_is_json_413(void **state)
{
    fixture *f = *state;
    size_t n = 6000; /* over limits.max_body_bytes (4 KiB) */
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, PING, strlen(PING));
    big[n] = '\0';
    post_bearer(f, f->token, big, NULL);
    free(big);
    assert_int_equal(f->px.status, 413);
    assert_int_equal(rpc_code_of(f), MT_MCP_INVALID_REQUEST);
    assert_int_equal(f->upstream_calls, 0);
    assert_error_event(f, MT_MCP_INVALID_REQUEST);
}

static void header_flood_is_refused_by_libevent(void **state)
{
    fixture *f = *state;
    size_t cap = 16384;
    char *req = malloc(cap);
    size_t n = (size_t)snprintf(req, cap, "POST /mcp HTTP/1.1\r\nHost: localhost\r\n");
    for (int i = 0; n + 64 < cap - 64; i++)
        n += (size_t)snprintf(req + n, cap - n, "X-Flood-%04d: %040d\r\n", i, i);
    n += (size_t)snprintf(req + n, cap - n, "Content-Length: 2\r\n\r\n{}");
    raw r;
    raw_exchange(f, req, n, &r);
    free(req);
    /* libevent answers before any handler runs (no event can be recorded) */
    size_t len = evbuffer_get_length(r.got);
    char *got = calloc(1, len + 1);
    evbuffer_remove(r.got, got, len);
    evbuffer_free(r.got);
    /* libevent's own HTML 400 and Connection: close */
    assert_true(len > 12);
    assert_memory_equal(got, "HTTP/1.1 400", 12);
    assert_non_null(strstr(got, "Connection: close"));
    free(got);
    assert_int_equal(f->upstream_calls, 0);
    mt_rec_metrics rm;
    mt_rec_metrics_get(f->px.rec, &rm);
    assert_int_equal(rm.produced + rm.failed + rm.spooled, 0);
}

static void slow_client_is_closed_at_idle_timeout(void **state)
{
    fixture *f = *state;
    const char *part = "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Le";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    raw r;
    raw_exchange(f, part, strlen(part), &r); /* returns when the proxy closes */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    evbuffer_free(r.got);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(s < 5.0); /* limits.idle_timeout = 1s, bounded */
    assert_int_equal(f->upstream_calls, 0);
}

static void upstream_down_is_502_with_error_event(void **state)
{
    fixture *f = *state;
    post_bearer(f, f->token, PING, NULL);
    assert_int_equal(f->px.status, 502);
    assert_int_equal(rpc_code_of(f), MT_RPC_INTERNAL_ERROR);
    assert_non_null(strstr(f->px.body, "\"id\":7"));
    assert_error_event(f, MT_RPC_INTERNAL_ERROR);
    json_decref(recorded(f, "request")); /* the request itself was recorded first */
}

static void upstream_reset_mid_sse_ends_stream_with_error_event(void **state)
{
    fixture *f = *state;
    post_bearer(f, f->token, PING, NULL);
    assert_int_equal(f->px.status, 200); /* headers were sent; the stream ends cleanly */
    assert_int_equal(f->upstream_calls, 1);
    assert_non_null(strstr(f->px.body, "notifications/x"));
    json_t *e = recorded(f, "error");
    json_t *pm = mt_mock_kafka_branch(json_object_get(e, "payload_masked"));
    assert_non_null(strstr(json_string_value(pm), "reset"));
    json_decref(e);
    json_decref(recorded(f, "sse_event"));
}

static void kafka_down_strict_is_503_and_upstream_never_called(void **state)
{
    fixture *f = *state;
    rd_kafka_mock_broker_set_down(f->px.kafka.mc, 1);
    post_bearer(f, f->token, PING, NULL);
    assert_int_equal(f->px.status, 503);
    assert_int_equal(rpc_code_of(f), MT_RPC_INTERNAL_ERROR);
    assert_non_null(strstr(f->px.body, MT_RPC_MSG_NOT_RECORDED));
    assert_int_equal(f->upstream_calls, 0);
    mt_rec_metrics rm;
    mt_rec_metrics_get(f->px.rec, &rm);
    assert_true(rm.failed >= 1); /* Kafka is down: the failure is what is counted */
}

static void spool_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fixture *f = arg;
    mt_rec_metrics rm;
    mt_rec_metrics_get(f->px.rec, &rm);
    if (rm.spooled >= 2)
        event_base_loopbreak(f->px.base);
}

static void kafka_down_async_forwards_and_spools(void **state)
{
    fixture *f = *state;
    rd_kafka_mock_broker_set_down(f->px.kafka.mc, 1);
    post_bearer(f, f->token, PING, NULL);
    assert_int_equal(f->px.status, 200);
    assert_int_equal(f->upstream_calls, 1);
    /* request + response reach the spool once their delivery fails (1 s) */
    struct event *tick = event_new(f->px.base, -1, EV_PERSIST, spool_check, f);
    struct timeval iv = {0, 50000};
    event_add(tick, &iv);
    assert_int_equal(mt_pfx_run(&f->px, 15), MT_OK);
    event_free(tick);
    mt_rec_metrics rm;
    mt_rec_metrics_get(f->px.rec, &rm);
    assert_true(rm.spooled >= 2);
}

int main(void)
{
#define T(fn, s) cmocka_unit_test_setup_teardown(fn, s, teardown)
    const struct CMUnitTest tests[] = {
        T(no_token_is_401_auth_failed, setup),
        T(expired_token_is_401_auth_failed, setup),
        T(wrong_audience_is_401_auth_failed, setup),
        T(wrong_issuer_is_401_auth_failed, setup),
        T(alg_none_is_401_auth_failed, setup),
        T(hs256_with_public_key_is_401_auth_failed, setup),
        T(unknown_kid_is_401_auth_failed, setup),
        T(verified_token_cache_keeps_refusing_forgeries, setup),
        T(malformed_json_is_400_parse_error, setup),
        T(invalid_jsonrpc_is_400_invalid_request_with_id, setup),
        T(header_mismatch_2026_is_400, setup),
        T(unknown_protocol_version_is_400, setup),
        T(oversized_body_is_json_413, setup),
        T(header_flood_is_refused_by_libevent, setup),
        T(slow_client_is_closed_at_idle_timeout, setup),
        T(upstream_down_is_502_with_error_event, setup_down),
        T(upstream_reset_mid_sse_ends_stream_with_error_event, setup_reset),
        T(kafka_down_strict_is_503_and_upstream_never_called, setup_kafka_down),
        T(kafka_down_async_forwards_and_spools, setup_async),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
