/* proxy identity: JWKS over HTTPS (auth.jwks_url) and mTLS client
 * certificates (tls.client_ca_file, tls.client_auth) through the whole
 * engine. The PKI is made at test time (tls_kit); the JWKS is served by an
 * HTTPS server thread; the upstream is a plain evhttp echo on the test's
 * loop; recorded events go to librdkafka's mock cluster and are decoded.
 * Every exchange runs the loop until its completion callback, bounded by a
 * deadline timer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <openssl/ssl.h>

#include "admin.h"
#include "mcptrail/avro.h"
#include "mcptrail/log.h"
#include "options.h"
#include "proxy.h"
#include "recorder.h"
#include "tls_kit.h"

#define SPIFFE_ID "spiffe://example.org/ci/deploy"

typedef struct fixture {
    char dir[64];
    tk_ca ca, other_ca;
    char srv_crt[256], srv_key[256];     /* 127.0.0.1, for the proxy and the JWKS server */
    char cli_crt[256], cli_key[256];     /* SPIFFE SVID from ca */
    char rogue_crt[256], rogue_key[256]; /* SPIFFE SVID from other_ca */
    tk_server *jwks_srv;
    mt_jwt_key *k1, *k2;
    struct event_base *base;
    struct evhttp *up;
    uint16_t up_port;
    mt_sidecar_config cfg;
    bool cfg_loaded;
    mt_sidecar_metrics metrics;
    mt_proxy *proxy;
    struct event *deadline;
    int status;
    char body[16384];
    char www_auth[512];
} fixture;

static char *jwks_text(fixture *f, bool both)
{
    json_t *keys = json_array();
    json_t *j = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwt_key_public_jwk(f->k1, "k1", &j, &eb), MT_OK);
    json_array_append_new(keys, j);
    if (both) {
        assert_int_equal(mt_jwt_key_public_jwk(f->k2, "k2", &j, &eb), MT_OK);
        json_array_append_new(keys, j);
    }
    json_t *doc = json_pack("{s:o}", "keys", keys);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

static void serve_jwks(fixture *f, bool both)
{
    char *s = jwks_text(f, both);
    tk_server_set_reply(f->jwks_srv, 200, s, strlen(s));
    free(s);
}

static void token(fixture *f, mt_jwt_key *key, const char *kid, char *out, size_t outlen)
{
    char claims[256];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"https://issuer.example\",\"aud\":\"mcptrail\",\"sub\":\"ci-bot\","
             "\"exp\":%lld}",
             (long long)time(NULL) + 600);
    mt_buf tok = {0};
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwt_sign(key, "ES256", kid, claims, strlen(claims), &tok, &eb), MT_OK);
    (void)f;
    snprintf(out, outlen, "Bearer %.*s", (int)tok.len, (const char *)tok.data);
    mt_buf_free(&tok);
}

/* --- upstream and client ------------------------------------------------------ */

static void on_upstream(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fixture *f = arg;
    f->status = -1;
    event_base_loopbreak(f->base);
}

static void on_client_done(struct evhttp_request *req, void *arg)
{
    fixture *f = arg;
    f->status = req ? evhttp_request_get_response_code(req) : 0;
    if (req) {
        const char *w =
            evhttp_find_header(evhttp_request_get_input_headers(req), "WWW-Authenticate");
        snprintf(f->www_auth, sizeof f->www_auth, "%s", w ? w : "");
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        if (n >= sizeof f->body)
            n = sizeof f->body - 1;
        evbuffer_remove(in, f->body, n);
        f->body[n] = '\0';
    }
    event_base_loopbreak(f->base);
}

/* One POST over TLS to the proxy (client certificate crt/key, or none);
 * status 0 when the connection failed (handshake refused). */
static void tls_post(fixture *f, const char *crt, const char *key, const char *authz)
{
    f->status = -2;
    f->body[0] = f->www_auth[0] = '\0';
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_load_verify_locations(ctx, f->ca.pem, NULL), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (crt) {
        assert_int_equal(SSL_CTX_use_certificate_chain_file(ctx, crt), 1);
        assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM), 1);
    }
    SSL *ssl = SSL_new(ctx);
    assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1"), 1);
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        f->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    struct evhttp_connection *c = evhttp_connection_base_bufferevent_new(
        f->base, NULL, bev, "127.0.0.1", mt_proxy_port(f->proxy));
    assert_non_null(c);
    struct evhttp_request *r = evhttp_request_new(on_client_done, f);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    evhttp_add_header(h, "Host", "localhost");
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Accept", "application/json, text/event-stream");
    if (authz)
        evhttp_add_header(h, "Authorization", authz);
    static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
    evbuffer_add(evhttp_request_get_output_buffer(r), body, sizeof body - 1);
    assert_int_equal(evhttp_make_request(c, r, EVHTTP_REQ_POST, "/mcp"), 0);
    struct timeval tv = {10, 0};
    evtimer_add(f->deadline, &tv);
    event_base_dispatch(f->base);
    evtimer_del(f->deadline);
    evhttp_connection_free(c);
    SSL_CTX_free(ctx);
    assert_int_not_equal(f->status, -1); /* deadline */
}

/* One plain-HTTP GET (the admin port). */
static void plain_get(fixture *f, uint16_t port, const char *path)
{
    f->status = -2;
    f->body[0] = '\0';
    struct evhttp_connection *c = evhttp_connection_base_new(f->base, NULL, "127.0.0.1", port);
    assert_non_null(c);
    struct evhttp_request *r = evhttp_request_new(on_client_done, f);
    evhttp_add_header(evhttp_request_get_output_headers(r), "Host", "localhost");
    assert_int_equal(evhttp_make_request(c, r, EVHTTP_REQ_GET, path), 0);
    struct timeval tv = {10, 0};
    evtimer_add(f->deadline, &tv);
    event_base_dispatch(f->base);
    evtimer_del(f->deadline);
    evhttp_connection_free(c);
    assert_int_not_equal(f->status, -1);
}

/* --- fixture ---------------------------------------------------------------- */

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    mt_log_set_level(MT_LOG_ERROR);
    snprintf(f->dir, sizeof f->dir, "/tmp/mt-test-ident-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    tk_ca_make(&f->ca, f->dir, "ca");
    tk_ca_make(&f->other_ca, f->dir, "other-ca");
    tk_leaf_make(&f->ca, f->dir, "server", "127.0.0.1", "IP:127.0.0.1", true, f->srv_crt,
                 f->srv_key);
    tk_leaf_make(&f->ca, f->dir, "client", "deploy", "URI:" SPIFFE_ID, false, f->cli_crt,
                 f->cli_key);
    tk_leaf_make(&f->other_ca, f->dir, "rogue", "deploy", "URI:" SPIFFE_ID, false, f->rogue_crt,
                 f->rogue_key);
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwt_key_generate("EC", &f->k1, &eb), MT_OK);
    assert_int_equal(mt_jwt_key_generate("EC", &f->k2, &eb), MT_OK);
    f->jwks_srv = tk_server_start(f->srv_crt, f->srv_key);
    serve_jwks(f, false);
    f->base = event_base_new();
    f->up = evhttp_new(f->base);
    evhttp_set_gencb(f->up, on_upstream, f);
    struct evhttp_bound_socket *b = evhttp_bind_socket_with_handle(f->up, "127.0.0.1", 0);
    assert_non_null(b);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&sa, &sl), 0);
    f->up_port = ntohs(sa.sin_port);
    f->deadline = evtimer_new(f->base, on_deadline, f);
    *state = f;
    return 0;
}

/* Starts the proxy with TLS (server cert from ca) plus extra options. */
static mt_err start_proxy(fixture *f, const char *const *extra, size_t nextra, mt_errbuf *eb)
{
    char upport[32], cert[300], key[300];
    snprintf(upport, sizeof upport, "--upstream.port=%u", (unsigned)f->up_port);
    snprintf(cert, sizeof cert, "--tls.cert_file=%s", f->srv_crt);
    snprintf(key, sizeof key, "--tls.key_file=%s", f->srv_key);
    const char *argv[32] = {
        "test_proxy_identity", "--listen.port=0", "--admin.port=0", upport, cert, key};
    size_t argc = 6;
    for (size_t i = 0; i < nextra && argc < 32; i++)
        argv[argc++] = extra[i];
    char *envp[] = {NULL};
    mt_err err =
        mt_cfg_load(&mt_sidecar_spec, &f->cfg, (int)argc, (char *const *)argv, envp, NULL, eb);
    if (err)
        fail_msg("config: %s", eb->msg);
    f->cfg_loaded = true;
    if ((err = mt_sidecar_config_finish(&f->cfg, eb)) != MT_OK)
        return err;
    return mt_proxy_new(f->base, &f->cfg, &f->metrics, &f->proxy, eb);
}

static void start_ok(fixture *f, const char *const *extra, size_t nextra)
{
    mt_errbuf eb = {{0}};
    if (start_proxy(f, extra, nextra, &eb) != MT_OK)
        fail_msg("proxy: %s", eb.msg);
}

static int teardown(void **state)
{
    fixture *f = *state;
    mt_proxy_free(f->proxy);
    evhttp_free(f->up);
    event_free(f->deadline);
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    event_base_free(f->base);
    if (f->cfg_loaded)
        mt_cfg_free(&mt_sidecar_spec, &f->cfg);
    tk_server_stop(f->jwks_srv);
    mt_jwt_key_free(f->k1);
    mt_jwt_key_free(f->k2);
    tk_ca_free(&f->ca);
    tk_ca_free(&f->other_ca);
    tk_rmdir(f->dir);
    free(f);
    return 0;
}

/* --- recording (mock cluster) --------------------------------------------------- */

typedef struct mockk {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    char bootstrap[256];
    mt_recorder *rec;
} mockk;

static const uint8_t hmac_key[] = "test-proxy-identity-key-0123";
static const mt_kafka_prop quiet[] = {{"log_level", "3"}};

static void record_start(fixture *f, mockk *m)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    assert_non_null(m->rk);
    m->mc = rd_kafka_mock_cluster_new(m->rk, 1);
    assert_non_null(m->mc);
    snprintf(m->bootstrap, sizeof m->bootstrap, "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
    assert_int_equal(rd_kafka_mock_topic_create(m->mc, "mcptrail.events", 1, 1), 0);
    mt_recorder_config rc = {
        .kafka = {.bootstrap = m->bootstrap, .props = quiet, .nprops = 1},
        .mode = MT_REC_STRICT,
        .delivery_timeout_ms = 10000,
        .hmac_key = hmac_key,
        .hmac_key_len = sizeof hmac_key - 1,
    };
    mt_errbuf eb = {{0}};
    if (mt_recorder_new(&rc, f->base, &m->rec, &eb) != MT_OK)
        fail_msg("mt_recorder_new: %s", eb.msg);
    mt_proxy_set_recorder(f->proxy, m->rec);
}

static void record_stop(fixture *f, mockk *m)
{
    mt_proxy_set_recorder(f->proxy, NULL);
    mt_recorder_free(m->rec);
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->rk);
}

/* The first decoded SessionEvent of kind `kind` (deadline 10 s); new ref. */
static json_t *first_event(mockk *m, const char *kind)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", m->bootstrap, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", "test_proxy_identity", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    assert_non_null(c);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, "mcptrail.events", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(c, tp), 0);
    rd_kafka_topic_partition_list_destroy(tp);
    mt_avro_registry *reg = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_avro_registry_load(NULL, &reg, &eb), MT_OK);
    json_t *found = NULL;
    time_t deadline = time(NULL) + 10;
    while (!found && time(NULL) < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(c, 200);
        if (!msg)
            continue;
        json_t *d = NULL;
        if (!msg->err && mt_avro_decode(reg, msg->payload, msg->len, NULL, &d, &eb) == MT_OK) {
            if (strcmp(json_string_value(json_object_get(d, "kind")), kind) == 0)
                found = d;
            else
                json_decref(d);
        }
        rd_kafka_message_destroy(msg);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    mt_avro_registry_free(reg);
    assert_non_null(found);
    return found;
}

/* Avro JSON mapping: a union value is {"type": value} or null. */
static json_t *branch(json_t *v)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return v;
    return json_object_iter_value(json_object_iter(v));
}

static const char *ident_str(json_t *ev, const char *field)
{
    return json_string_value(branch(json_object_get(json_object_get(ev, "identity"), field)));
}

/* --- mTLS ------------------------------------------------------------------- */

static void spiffe_client_certificate_is_the_recorded_identity(void **state)
{
    fixture *f = *state;
    char ca[300];
    snprintf(ca, sizeof ca, "--tls.client_ca_file=%s", f->ca.pem);
    const char *const extra[] = {ca};
    start_ok(f, extra, 1);
    mockk m;
    record_start(f, &m);
    tls_post(f, f->cli_crt, f->cli_key, NULL);
    assert_int_equal(f->status, 200);
    json_t *ev = first_event(&m, "request");
    assert_string_equal(ident_str(ev, "subject"), SPIFFE_ID);
    assert_string_equal(ident_str(ev, "issuer"), "example.org");
    assert_string_equal(ident_str(ev, "auth_method"), "mtls");
    char hex[65];
    tk_cert_sha256_hex(f->cli_crt, hex);
    json_t *fp = branch(json_object_get(json_object_get(ev, "identity"), "token_fingerprint"));
    char *fps = json_dumps(fp, JSON_ENCODE_ANY);
    if (!strstr(fps, hex))
        fail_msg("token_fingerprint %s is not the certificate's SHA-256 %s", fps, hex);
    free(fps);
    json_decref(ev);
    record_stop(f, &m);
}

static void client_without_certificate_is_refused_under_require(void **state)
{
    fixture *f = *state;
    char ca[300];
    snprintf(ca, sizeof ca, "--tls.client_ca_file=%s", f->ca.pem);
    const char *const extra[] = {ca, "--tls.client_auth=require", "--auth.anonymous=true"};
    start_ok(f, extra, 3);
    tls_post(f, NULL, NULL, NULL);
    assert_int_equal(f->status, 0); /* handshake refused: no HTTP response at all */
    tls_post(f, f->cli_crt, f->cli_key, NULL);
    assert_int_equal(f->status, 200);
}

static void certificate_from_another_ca_is_refused(void **state)
{
    fixture *f = *state;
    char ca[300];
    snprintf(ca, sizeof ca, "--tls.client_ca_file=%s", f->ca.pem);
    const char *const extra[] = {ca, "--tls.client_auth=optional", "--auth.anonymous=true"};
    start_ok(f, extra, 3);
    tls_post(f, f->rogue_crt, f->rogue_key, NULL);
    assert_int_equal(f->status, 0);
    assert_int_equal(f->metrics.requests_by_code[200], 0);
}

static void optional_client_auth_without_certificate_needs_a_token(void **state)
{
    fixture *f = *state;
    char ca[300];
    snprintf(ca, sizeof ca, "--tls.client_ca_file=%s", f->ca.pem);
    const char *const extra[] = {ca, "--tls.client_auth=optional"};
    start_ok(f, extra, 2);
    tls_post(f, NULL, NULL, NULL);
    assert_int_equal(f->status, 401);
    assert_non_null(strstr(f->www_auth, "Bearer"));
    tls_post(f, f->cli_crt, f->cli_key, NULL);
    assert_int_equal(f->status, 200);
}

static void client_auth_none_with_a_client_ca_is_a_config_error(void **state)
{
    fixture *f = *state;
    char ca[300];
    snprintf(ca, sizeof ca, "--tls.client_ca_file=%s", f->ca.pem);
    const char *const extra[] = {ca, "--tls.client_auth=none"};
    mt_errbuf eb = {{0}};
    assert_int_equal(start_proxy(f, extra, 2, &eb), MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "tls.client_auth"));
}

/* --- JWKS over HTTPS ---------------------------------------------------------- */

static void start_with_jwks_url(fixture *f, bool mtls)
{
    static char url[200], jca[300], cca[300];
    snprintf(url, sizeof url, "--auth.jwks_url=https://127.0.0.1:%u/jwks",
             (unsigned)tk_server_port(f->jwks_srv));
    snprintf(jca, sizeof jca, "--auth.jwks_ca_file=%s", f->ca.pem);
    snprintf(cca, sizeof cca, "--tls.client_ca_file=%s", f->ca.pem);
    const char *const extra[] = {url,
                                 jca,
                                 "--auth.issuer=https://issuer.example",
                                 "--auth.audiences=mcptrail",
                                 "--tls.client_auth=optional",
                                 cca};
    start_ok(f, extra, mtls ? 6 : 4);
}

static void rotated_key_is_accepted_after_refresh_on_unknown_kid(void **state)
{
    fixture *f = *state;
    start_with_jwks_url(f, false);
    assert_true(mt_proxy_auth_ready(f->proxy));
    char t1[2048], t2[2048];
    token(f, f->k1, "k1", t1, sizeof t1);
    token(f, f->k2, "k2", t2, sizeof t2);
    tls_post(f, NULL, NULL, t1);
    assert_int_equal(f->status, 200);
    serve_jwks(f, true); /* the IdP rotates to k2 */
    tls_post(f, NULL, NULL, t2);
    assert_int_equal(f->status, 401);
    assert_non_null(strstr(f->body, "JWKS refresh started"));
    /* wait (bounded) for the refresh the unknown kid started */
    mt_jwks_fetch_stats st = {0};
    time_t deadline = time(NULL) + 10;
    while (mt_proxy_jwks_stats(f->proxy, &st) && st.fetch_ok < 2 && time(NULL) < deadline)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(st.fetch_ok, 2);
    tls_post(f, NULL, NULL, t2);
    assert_int_equal(f->status, 200);
    /* another made-up kid right away: refused without another fetch */
    char t3[2048];
    token(f, f->k2, "k3", t3, sizeof t3);
    tls_post(f, NULL, NULL, t3);
    assert_int_equal(f->status, 401);
    assert_non_null(strstr(f->body, "rate-limited"));
    assert_int_equal(tk_server_hits(f->jwks_srv), 2);
    /* the admin port counts it all */
    mt_admin *admin = NULL;
    mt_admin_config ac = {
        .address = "127.0.0.1", .port = 0, .metrics = &f->metrics, .proxy = f->proxy};
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_admin_new(f->base, &ac, &admin, &eb), MT_OK);
    plain_get(f, mt_admin_port(admin), "/metrics");
    assert_int_equal(f->status, 200);
    assert_non_null(strstr(f->body, "mcptrail_jwks_fetch_total{result=\"ok\"} 2\n"));
    assert_non_null(
        strstr(f->body, "mcptrail_jwks_unknown_kid_refresh_total{outcome=\"started\"} 1\n"));
    assert_non_null(
        strstr(f->body, "mcptrail_jwks_unknown_kid_refresh_total{outcome=\"limited\"} 1\n"));
    mt_admin_free(admin);
}

static void bearer_token_wins_over_client_certificate(void **state)
{
    fixture *f = *state;
    start_with_jwks_url(f, true);
    mockk m;
    record_start(f, &m);
    char t1[2048];
    token(f, f->k1, "k1", t1, sizeof t1);
    tls_post(f, f->cli_crt, f->cli_key, "Bearer not-a-token");
    assert_int_equal(f->status, 401); /* a valid certificate does not rescue a bad token */
    tls_post(f, f->cli_crt, f->cli_key, t1);
    assert_int_equal(f->status, 200);
    json_t *ev = first_event(&m, "request");
    assert_string_equal(ident_str(ev, "auth_method"), "jwt");
    assert_string_equal(ident_str(ev, "subject"), "ci-bot");
    json_decref(ev);
    record_stop(f, &m);
}

static void unreachable_jwks_url_stops_start(void **state)
{
    fixture *f = *state;
    char url[200], jca[300];
    snprintf(url, sizeof url, "--auth.jwks_url=https://127.0.0.1:%u/jwks",
             (unsigned)tk_server_port(f->jwks_srv));
    snprintf(jca, sizeof jca, "--auth.jwks_ca_file=%s", f->other_ca.pem); /* wrong CA */
    const char *const extra[] = {url, jca, "--auth.issuer=https://issuer.example",
                                 "--auth.audiences=mcptrail"};
    mt_errbuf eb = {{0}};
    assert_int_equal(start_proxy(f, extra, 4, &eb), MT_ERR_IO);
    assert_non_null(strstr(eb.msg, "auth.jwks_url"));
    assert_non_null(strstr(eb.msg, "not trusted"));
    assert_null(f->proxy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(spiffe_client_certificate_is_the_recorded_identity, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(client_without_certificate_is_refused_under_require, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(certificate_from_another_ca_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(optional_client_auth_without_certificate_needs_a_token,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(client_auth_none_with_a_client_ca_is_a_config_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(rotated_key_is_accepted_after_refresh_on_unknown_kid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bearer_token_wins_over_client_certificate, setup, teardown),
        cmocka_unit_test_setup_teardown(unreachable_jwks_url_stops_start, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
