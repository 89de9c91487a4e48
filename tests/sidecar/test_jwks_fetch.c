/* jwks_fetch: auth.jwks_url against a real HTTPS server (tls_kit: a PKI made
 * at test time, an evhttp+OpenSSL server on 127.0.0.1 in its own thread).
 * Asynchronous refreshes run on the test's event loop until a condition
 * holds, bounded by a deadline; nothing waits on a sleep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "jwks_fetch.h"
#include "mcptrail/log.h"
#include "tls_kit.h"

typedef struct fixture {
    char dir[64];
    tk_ca ca, other_ca;
    char srv_crt[256], srv_key[256];
    tk_server *srv;
    char url[128];
    struct event_base *base;
    mt_jwt_key *k1, *k2;
    char *jwks1, *jwks12; /* {k1} and {k1,k2} */
    mt_jwks *got;         /* last key set delivered by on_keys */
    unsigned deliveries;
    FILE *log;
} fixture;

static char *jwks_text(mt_jwt_key *a, const char *kida, mt_jwt_key *b, const char *kidb)
{
    json_t *keys = json_array();
    json_t *j = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwt_key_public_jwk(a, kida, &j, &eb), MT_OK);
    json_array_append_new(keys, j);
    if (b) {
        assert_int_equal(mt_jwt_key_public_jwk(b, kidb, &j, &eb), MT_OK);
        json_array_append_new(keys, j);
    }
    json_t *doc = json_pack("{s:o}", "keys", keys);
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mt-test-jwks-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    tk_ca_make(&f->ca, f->dir, "ca");
    tk_ca_make(&f->other_ca, f->dir, "other-ca");
    tk_leaf_make(&f->ca, f->dir, "server", "127.0.0.1", "IP:127.0.0.1", true, f->srv_crt,
                 f->srv_key);
    f->srv = tk_server_start(f->srv_crt, f->srv_key);
    snprintf(f->url, sizeof f->url, "https://127.0.0.1:%u/jwks", (unsigned)tk_server_port(f->srv));
    f->base = event_base_new();
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwt_key_generate("EC", &f->k1, &eb), MT_OK);
    assert_int_equal(mt_jwt_key_generate("EC", &f->k2, &eb), MT_OK);
    f->jwks1 = jwks_text(f->k1, "k1", NULL, NULL);
    f->jwks12 = jwks_text(f->k1, "k1", f->k2, "k2");
    tk_server_set_reply(f->srv, 200, f->jwks1, strlen(f->jwks1));
    f->log = tmpfile();
    mt_log_set_file(f->log);
    mt_log_set_level(MT_LOG_INFO);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    mt_log_set_file(stderr);
    fclose(f->log);
    tk_server_stop(f->srv);
    event_base_free(f->base);
    mt_jwks_free(f->got);
    mt_jwt_key_free(f->k1);
    mt_jwt_key_free(f->k2);
    free(f->jwks1);
    free(f->jwks12);
    tk_ca_free(&f->ca);
    tk_ca_free(&f->other_ca);
    tk_rmdir(f->dir);
    free(f);
    return 0;
}

static void on_keys(void *arg, mt_jwks *j)
{
    fixture *f = arg;
    mt_jwks_free(f->got);
    f->got = j;
    f->deliveries++;
}

static mt_jwks_fetch *new_fetch(fixture *f, const char *ca, const char *cache,
                                int64_t min_refresh_ms)
{
    mt_jwks_fetch_config c = {.url = f->url,
                              .ca_file = ca,
                              .cache_file = cache,
                              .refresh_ms = 3600000,
                              .min_refresh_ms = min_refresh_ms,
                              .timeout_ms = 5000,
                              .on_keys = on_keys,
                              .arg = f};
    mt_jwks_fetch *fe = NULL;
    mt_errbuf eb = {{0}};
    if (mt_jwks_fetch_new(f->base, &c, &fe, &eb) != MT_OK)
        fail_msg("mt_jwks_fetch_new: %s", eb.msg);
    return fe;
}

/* Runs the loop until the fetch in flight has ended (deadline 10 s). */
static void run_until_idle(fixture *f, mt_jwks_fetch *fe)
{
    time_t deadline = time(NULL) + 10;
    while (mt_jwks_fetch_busy(fe) && time(NULL) < deadline)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_false(mt_jwks_fetch_busy(fe));
    /* the deferred connection free */
    event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static bool log_has(fixture *f, const char *needle)
{
    fflush(f->log);
    long n = ftell(f->log);
    char *buf = calloc(1, (size_t)n + 1);
    rewind(f->log);
    size_t got = fread(buf, 1, (size_t)n, f->log);
    fseek(f->log, 0, SEEK_END);
    bool yes = got > 0 && strstr(buf, needle) != NULL;
    free(buf);
    return yes;
}

static mt_err verify_with(const mt_jwks *j, mt_jwt_key *key, const char *kid)
{
    static const char *const auds[] = {"mcptrail"};
    static const char *const algs[] = {"ES256"};
    mt_jwt_policy pol = {"https://issuer.example", auds, 1, algs, 1, 30};
    char claims[256];
    int64_t now = (int64_t)time(NULL);
    snprintf(claims, sizeof claims,
             "{\"iss\":\"https://issuer.example\",\"aud\":\"mcptrail\",\"sub\":\"ci\","
             "\"exp\":%lld}",
             (long long)(now + 600));
    mt_buf tok = {0};
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwt_sign(key, "ES256", kid, claims, strlen(claims), &tok, &eb), MT_OK);
    mt_identity id;
    mt_err err = mt_jwt_verify(j, &pol, (const char *)tok.data, tok.len, now, &id, &eb);
    mt_identity_free(&id);
    mt_buf_free(&tok);
    return err;
}

/* --- tests ------------------------------------------------------------------ */

static void initial_fetch_loads_the_keys(void **state)
{
    fixture *f = *state;
    mt_jwks_fetch *fe = new_fetch(f, f->ca.pem, NULL, 1000);
    mt_jwks *j = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwks_fetch_initial(fe, &j, &eb), MT_OK);
    assert_int_equal(mt_jwks_count(j), 1);
    assert_int_equal(verify_with(j, f->k1, "k1"), MT_OK);
    assert_int_equal(tk_server_hits(f->srv), 1);
    mt_jwks_fetch_stats st;
    mt_jwks_fetch_get_stats(fe, &st);
    assert_int_equal(st.fetch_ok, 1);
    mt_jwks_free(j);
    mt_jwks_fetch_free(fe);
}

static void rotated_key_is_found_after_refresh_on_unknown_kid(void **state)
{
    fixture *f = *state;
    mt_jwks_fetch *fe = new_fetch(f, f->ca.pem, NULL, 1000);
    mt_jwks *j = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwks_fetch_initial(fe, &j, &eb), MT_OK);
    /* the IdP rotates: k2 signs from now on */
    tk_server_set_reply(f->srv, 200, f->jwks12, strlen(f->jwks12));
    assert_int_equal(verify_with(j, f->k2, "k2"), MT_ERR_NOT_FOUND);
    assert_true(mt_jwks_fetch_refresh_now(fe));
    run_until_idle(f, fe);
    assert_int_equal(f->deliveries, 1);
    assert_int_equal(mt_jwks_count(f->got), 2);
    assert_int_equal(verify_with(f->got, f->k2, "k2"), MT_OK);
    assert_true(log_has(f, "JWKS refreshed"));
    mt_jwks_free(j);
    mt_jwks_fetch_free(fe);
}

static void unknown_kid_refreshes_are_rate_limited(void **state)
{
    fixture *f = *state;
    mt_jwks_fetch *fe = new_fetch(f, f->ca.pem, NULL, 3600000);
    mt_jwks *j = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwks_fetch_initial(fe, &j, &eb), MT_OK);
    assert_true(mt_jwks_fetch_refresh_now(fe));
    assert_false(mt_jwks_fetch_refresh_now(fe)); /* one in flight */
    run_until_idle(f, fe);
    for (int i = 0; i < 100; i++) /* a flood of made-up kids */
        assert_false(mt_jwks_fetch_refresh_now(fe));
    run_until_idle(f, fe);
    assert_int_equal(tk_server_hits(f->srv), 2); /* start + one refresh */
    mt_jwks_fetch_stats st;
    mt_jwks_fetch_get_stats(fe, &st);
    assert_int_equal(st.ondemand_started, 1);
    assert_int_equal(st.ondemand_limited, 101);
    mt_jwks_free(j);
    mt_jwks_fetch_free(fe);
}

/* A bad document never replaces the keys: on_keys is not called and the
 * log says why. */
static void bad_refresh_keeps_the_keys(fixture *f, int status, const char *body, size_t len,
                                       const char *logged)
{
    mt_jwks_fetch *fe = new_fetch(f, f->ca.pem, NULL, 0);
    mt_jwks *j = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwks_fetch_initial(fe, &j, &eb), MT_OK);
    tk_server_set_reply(f->srv, status, body, len);
    assert_true(mt_jwks_fetch_refresh_now(fe));
    run_until_idle(f, fe);
    assert_int_equal(f->deliveries, 0);
    mt_jwks_fetch_stats st;
    mt_jwks_fetch_get_stats(fe, &st);
    assert_int_equal(st.fetch_failed, 1);
    assert_true(log_has(f, "JWKS refresh failed; keeping the keys in use"));
    if (!log_has(f, logged))
        fail_msg("log lacks '%s'", logged);
    assert_int_equal(verify_with(j, f->k1, "k1"), MT_OK);
    mt_jwks_free(j);
    mt_jwks_fetch_free(fe);
}

static void oversized_response_is_rejected(void **state)
{
    fixture *f = *state;
    size_t n = MT_JWKS_MAX_BYTES + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    memcpy(big, f->jwks12, strlen(f->jwks12)); /* valid JSON, then too much padding */
    bad_refresh_keeps_the_keys(f, 200, big, n, "larger than 1048576 bytes");
    free(big);
}

static void malformed_response_is_rejected(void **state)
{
    fixture *f = *state;
    static const char junk[] = "{\"keys\":[{\"kty\":\"EC\",";
    bad_refresh_keeps_the_keys(f, 200, junk, sizeof junk - 1, "invalid JWKS");
}

static void http_error_status_is_rejected(void **state)
{
    fixture *f = *state;
    bad_refresh_keeps_the_keys(f, 503, "busy", 4, "HTTP status 503");
}

static void untrusted_server_certificate_is_refused(void **state)
{
    fixture *f = *state;
    mt_jwks_fetch *fe = new_fetch(f, f->other_ca.pem, NULL, 1000);
    mt_jwks *j = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwks_fetch_initial(fe, &j, &eb), MT_ERR_IO);
    assert_null(j);
    assert_non_null(strstr(eb.msg, "server certificate not trusted"));
    assert_non_null(strstr(eb.msg, f->url));
    mt_jwks_fetch_free(fe);
}

static void wrong_host_name_is_refused(void **state)
{
    fixture *f = *state;
    /* "localhost" is not in the server certificate (IP:127.0.0.1 only) */
    snprintf(f->url, sizeof f->url, "https://localhost:%u/jwks", (unsigned)tk_server_port(f->srv));
    mt_jwks_fetch *fe = new_fetch(f, f->ca.pem, NULL, 1000);
    mt_jwks *j = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwks_fetch_initial(fe, &j, &eb), MT_ERR_IO);
    assert_non_null(strstr(eb.msg, "not trusted"));
    mt_jwks_fetch_free(fe);
}

static void silent_server_times_out(void **state)
{
    fixture *f = *state;
    /* a listener nobody accepts from: TCP connects, TLS never answers */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(f->url, sizeof f->url, "https://127.0.0.1:%u/jwks", (unsigned)ntohs(sa.sin_port));
    mt_jwks_fetch_config c = {.url = f->url,
                              .ca_file = f->ca.pem,
                              .refresh_ms = 3600000,
                              .timeout_ms = 300,
                              .on_keys = on_keys,
                              .arg = f};
    mt_jwks_fetch *fe = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwks_fetch_new(f->base, &c, &fe, &eb), MT_OK);
    mt_jwks *j = NULL;
    assert_int_equal(mt_jwks_fetch_initial(fe, &j, &eb), MT_ERR_IO);
    if (!strstr(eb.msg, "timed out") && !strstr(eb.msg, "within 300 ms"))
        fail_msg("unexpected: %s", eb.msg);
    mt_jwks_fetch_free(fe);
    close(fd);
}

static void plain_http_url_is_a_config_error(void **state)
{
    fixture *f = *state;
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%u/jwks", (unsigned)tk_server_port(f->srv));
    mt_jwks_fetch_config c = {
        .url = f->url, .refresh_ms = 1000, .timeout_ms = 1000, .on_keys = on_keys, .arg = f};
    mt_jwks_fetch *fe = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwks_fetch_new(f->base, &c, &fe, &eb), MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "https://"));
    assert_null(fe);
}

static void url_forms(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *url;
        mt_err want;
    } cases[] = {
        {"https://[::1]:8443/jwks", MT_OK},
        {"https://idp.example/.well-known/jwks?x=1", MT_OK},
        {"https:///jwks", MT_ERR_CONFIG},
        {"https://user@idp.example/jwks", MT_ERR_CONFIG},
        {"ftp://idp.example/jwks", MT_ERR_CONFIG},
        {"not a url", MT_ERR_CONFIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mt_jwks_fetch_config c = {.url = cases[i].url,
                                  .ca_file = f->ca.pem,
                                  .refresh_ms = 1000,
                                  .timeout_ms = 1000,
                                  .on_keys = on_keys,
                                  .arg = f};
        mt_jwks_fetch *fe = NULL;
        mt_errbuf eb = {{0}};
        mt_err err = mt_jwks_fetch_new(f->base, &c, &fe, &eb);
        if (err != cases[i].want)
            fail_msg("%s: got %d (%s)", cases[i].url, (int)err, eb.msg);
        mt_jwks_fetch_free(fe);
    }
}

static void cache_file_is_written_and_used_when_the_url_is_down(void **state)
{
    fixture *f = *state;
    char cache[128];
    snprintf(cache, sizeof cache, "%s/jwks-cache.json", f->dir);
    mt_jwks_fetch *fe = new_fetch(f, f->ca.pem, cache, 1000);
    mt_jwks *j = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_jwks_fetch_initial(fe, &j, &eb), MT_OK);
    mt_jwks_free(j);
    mt_jwks_fetch_free(fe);
    assert_int_equal(access(cache, R_OK), 0);
    /* next start: the IdP answers garbage, the cached copy is used */
    tk_server_set_reply(f->srv, 500, "down", 4);
    fe = new_fetch(f, f->ca.pem, cache, 1000);
    j = NULL;
    assert_int_equal(mt_jwks_fetch_initial(fe, &j, &eb), MT_OK);
    assert_int_equal(verify_with(j, f->k1, "k1"), MT_OK);
    assert_true(log_has(f, "using the cached copy"));
    mt_jwks_free(j);
    mt_jwks_fetch_free(fe);
    /* no cache: the start fails and says why */
    unlink(cache);
    fe = new_fetch(f, f->ca.pem, cache, 1000);
    assert_int_equal(mt_jwks_fetch_initial(fe, &j, &eb), MT_ERR_IO);
    assert_non_null(strstr(eb.msg, "HTTP status 500"));
    mt_jwks_fetch_free(fe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(initial_fetch_loads_the_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(rotated_key_is_found_after_refresh_on_unknown_kid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(unknown_kid_refreshes_are_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_response_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_response_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(http_error_status_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(untrusted_server_certificate_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(wrong_host_name_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(plain_http_url_is_a_config_error, setup, teardown),
        cmocka_unit_test_setup_teardown(url_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(silent_server_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(cache_file_is_written_and_used_when_the_url_is_down, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
