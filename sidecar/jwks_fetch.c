/* JWKS fetcher (see jwks_fetch.h).
 *
 * One fetch at a time: an evhttp_connection over a bufferevent_openssl
 * created for that fetch, one GET, and a deadline timer. The connection is
 * freed from a deferred event (libevent must not free a connection inside
 * its own callbacks), or directly by the deadline timer, which is not an
 * evhttp callback. The synchronous start-up fetch runs the same code on a
 * private event_base that is dispatched until the fetch ends. */
#include "jwks_fetch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mcptrail/log.h"

#define MAX_HEADER_BYTES ((ev_ssize_t)16 * 1024)

struct mt_jwks_fetch {
    struct event_base *base; /* the proxy's loop */
    char *url, *host, *path, *cache_file;
    uint16_t port;
    bool host_is_ip;
    SSL_CTX *ctx;
    int64_t refresh_ms, min_refresh_ms, timeout_ms;
    size_t max_bytes;
    void (*on_keys)(void *arg, mt_jwks *jwks);
    void *arg;
    struct event *refresh_timer;         /* periodic, on base */
    struct event *cleanup;               /* deferred connection free, on base */
    struct evhttp_connection *dead_conn; /* waiting for cleanup */

    /* the fetch in flight */
    struct event_base *fbase; /* base it runs on (base or a private one) */
    struct evhttp_connection *conn;
    struct bufferevent *bev; /* owned by conn */
    struct event *deadline;
    bool busy, sync;
    enum evhttp_request_error req_err;
    bool have_req_err;
    mt_jwks *sync_result;
    char sync_why[256];

    bool ondemand_ever;
    struct timespec last_ondemand;
    mt_jwks_fetch_stats stats;
};

static int64_t ms_since(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static struct timeval tv_ms(int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static void arm_refresh(mt_jwks_fetch *f, int64_t ms)
{
    struct timeval tv = tv_ms(ms);
    evtimer_add(f->refresh_timer, &tv);
}

/* --- cache file ------------------------------------------------------------ */

static void cache_write(mt_jwks_fetch *f, const void *data, size_t len)
{
    if (!f->cache_file)
        return;
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp", f->cache_file);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0;
    const char *p = data;
    size_t left = len;
    while (ok && left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        if (ok) {
            p += w;
            left -= (size_t)w;
        }
    }
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (ok && rename(tmp, f->cache_file) != 0)
        ok = false;
    if (!ok) {
        mt_logs(MT_LOG_WARN, "jwks", "cannot write the JWKS cache file; fetching still works",
                "cache_file", f->cache_file, "error", strerror(errno), NULL);
        (void)unlink(tmp);
    }
}

/* --- one fetch ----------------------------------------------------------- */

static void drop_conn_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_jwks_fetch *f = arg;
    if (f->dead_conn) {
        evhttp_connection_free(f->dead_conn);
        f->dead_conn = NULL;
    }
}

/* Ends the fetch in flight: j (owned) is the new key set or NULL with why.
 * from_http: called from inside an evhttp callback, so the connection is
 * freed later. */
static void finish(mt_jwks_fetch *f, mt_jwks *j, const char *why, bool from_http)
{
    struct evhttp_connection *c = f->conn;
    f->conn = NULL;
    f->bev = NULL;
    f->busy = false;
    if (f->deadline) {
        event_free(f->deadline);
        f->deadline = NULL;
    }
    if (f->sync) {
        /* the private base is dispatched by mt_jwks_fetch_initial, which
         * frees the connection once the loop has returned */
        f->dead_conn = c;
        f->sync_result = j;
        snprintf(f->sync_why, sizeof f->sync_why, "%s", j ? "" : why);
        event_base_loopbreak(f->fbase);
        return;
    }
    if (from_http) {
        if (f->dead_conn) /* cannot happen: one fetch at a time, cleanup runs first */
            evhttp_connection_free(f->dead_conn);
        f->dead_conn = c;
        event_active(f->cleanup, EV_TIMEOUT, 0);
    } else {
        evhttp_connection_free(c);
    }
    if (!j) {
        f->stats.fetch_failed++;
        mt_logs(MT_LOG_ERROR, "jwks", "JWKS refresh failed; keeping the keys in use", "url", f->url,
                "reason", why, NULL);
        return;
    }
    f->stats.fetch_ok++;
    f->stats.last_ok_unix = (int64_t)time(NULL);
    char nkeys[32];
    snprintf(nkeys, sizeof nkeys, "%zu", mt_jwks_count(j));
    mt_logs(MT_LOG_INFO, "jwks", "JWKS refreshed", "url", f->url, "keys", nkeys, NULL);
    f->on_keys(f->arg, j);
}

static const char *req_err_text(enum evhttp_request_error e)
{
    switch (e) {
    case EVREQ_HTTP_TIMEOUT:
        return "timed out";
    case EVREQ_HTTP_EOF:
        return "connection closed before a complete response";
    case EVREQ_HTTP_INVALID_HEADER:
        return "invalid HTTP response header";
    case EVREQ_HTTP_BUFFER_ERROR:
        return "connection or TLS error";
    case EVREQ_HTTP_REQUEST_CANCEL:
        return "cancelled";
    case EVREQ_HTTP_DATA_TOO_LONG:
        return "response too large";
    }
    return "HTTP error";
}

static void on_req_error(enum evhttp_request_error e, void *arg)
{
    mt_jwks_fetch *f = arg;
    f->req_err = e;
    f->have_req_err = true;
}

/* Why a request ended without a response: prefer the TLS reason. */
static void transport_why(mt_jwks_fetch *f, char *out, size_t outlen)
{
    SSL *ssl = f->bev ? bufferevent_openssl_get_ssl(f->bev) : NULL;
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long oe = f->bev ? bufferevent_get_openssl_error(f->bev) : 0;
    if (vr != X509_V_OK) {
        snprintf(out, outlen, "TLS: server certificate not trusted (%s); check auth.jwks_ca_file",
                 X509_verify_cert_error_string(vr));
    } else if (oe) {
        char buf[200];
        ERR_error_string_n(oe, buf, sizeof buf);
        snprintf(out, outlen, "TLS: %s", buf);
    } else if (f->have_req_err && f->req_err == EVREQ_HTTP_DATA_TOO_LONG) {
        snprintf(out, outlen, "response larger than %zu bytes", f->max_bytes);
    } else {
        snprintf(out, outlen, "%s",
                 f->have_req_err ? req_err_text(f->req_err) : "connection failed");
    }
}

static void on_done(struct evhttp_request *req, void *arg)
{
    mt_jwks_fetch *f = arg;
    char why[512];
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (!req || code == 0) {
        transport_why(f, why, sizeof why);
        finish(f, NULL, why, true);
        return;
    }
    if (code != 200) {
        snprintf(why, sizeof why, "HTTP status %d (redirects are not followed)", code);
        finish(f, NULL, why, true);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > f->max_bytes) { /* evhttp enforces it; this is the belt */
        snprintf(why, sizeof why, "response larger than %zu bytes", f->max_bytes);
        finish(f, NULL, why, true);
        return;
    }
    const char *data = len ? (const char *)evbuffer_pullup(in, -1) : "";
    mt_jwks *j = NULL;
    mt_errbuf eb = {{0}};
    if (mt_jwks_parse(data, len, &j, &eb) != MT_OK) {
        snprintf(why, sizeof why, "invalid JWKS: %.400s", eb.msg);
        finish(f, NULL, why, true);
        return;
    }
    cache_write(f, data, len);
    finish(f, j, NULL, true);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_jwks_fetch *f = arg;
    char why[96];
    snprintf(why, sizeof why, "no complete response within %lld ms", (long long)f->timeout_ms);
    finish(f, NULL, why, false);
}

/* Starts a GET on fbase. On failure nothing is in flight and why is set. */
static bool start_fetch(mt_jwks_fetch *f, struct event_base *fbase, char *why, size_t whylen)
{
    SSL *ssl = SSL_new(f->ctx);
    if (!ssl) {
        snprintf(why, whylen, "SSL_new failed");
        return false;
    }
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    int ok = f->host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, f->host)
                           : (X509_VERIFY_PARAM_set1_host(vp, f->host, 0) &&
                              SSL_set_tlsext_host_name(ssl, f->host));
    if (!ok) {
        SSL_free(ssl);
        snprintf(why, whylen, "cannot set the TLS peer name '%s'", f->host);
        return false;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        fbase, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        snprintf(why, whylen, "cannot create a TLS bufferevent");
        return false;
    }
    /* A peer that closes without close_notify still ends the body cleanly
     * only when Content-Length said so; evhttp checks that. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    struct evhttp_connection *c =
        evhttp_connection_base_bufferevent_new(fbase, NULL, bev, f->host, f->port);
    if (!c) {
        bufferevent_free(bev);
        snprintf(why, whylen, "cannot create an HTTP connection");
        return false;
    }
    struct timeval tv = tv_ms(f->timeout_ms);
    evhttp_connection_set_timeout_tv(c, &tv);
    evhttp_connection_set_max_body_size(c, (ev_ssize_t)f->max_bytes);
    evhttp_connection_set_max_headers_size(c, MAX_HEADER_BYTES);
    struct evhttp_request *r = evhttp_request_new(on_done, f);
    struct event *dl = evtimer_new(fbase, on_deadline, f);
    if (!r || !dl) {
        if (r)
            evhttp_request_free(r);
        if (dl)
            event_free(dl);
        evhttp_connection_free(c);
        snprintf(why, whylen, "out of memory");
        return false;
    }
    evhttp_request_set_error_cb(r, on_req_error);
    struct evkeyvalq *h = evhttp_request_get_output_headers(r);
    char hostport[300];
    bool v6 = strchr(f->host, ':') != NULL;
    if (f->port == 443)
        snprintf(hostport, sizeof hostport, v6 ? "[%s]" : "%s", f->host);
    else
        snprintf(hostport, sizeof hostport, v6 ? "[%s]:%u" : "%s:%u", f->host, (unsigned)f->port);
    evhttp_add_header(h, "Host", hostport);
    evhttp_add_header(h, "Accept", "application/jwk-set+json, application/json");
    evhttp_add_header(h, "Connection", "close");
    evhttp_add_header(h, "User-Agent", "mcptrail-sidecar");
    f->fbase = fbase;
    f->conn = c;
    f->bev = bev;
    f->deadline = dl;
    f->have_req_err = false;
    f->busy = true;
    if (evhttp_make_request(c, r, EVHTTP_REQ_GET, f->path) != 0) {
        /* evhttp freed r */
        f->busy = false;
        f->conn = NULL;
        f->bev = NULL;
        f->deadline = NULL;
        event_free(dl);
        evhttp_connection_free(c);
        snprintf(why, whylen, "cannot send the request");
        return false;
    }
    evtimer_add(dl, &tv);
    return true;
}

static void fetch_async(mt_jwks_fetch *f)
{
    char why[256];
    if (f->busy)
        return;
    if (!start_fetch(f, f->base, why, sizeof why)) {
        f->stats.fetch_failed++;
        mt_logs(MT_LOG_ERROR, "jwks", "JWKS refresh failed; keeping the keys in use", "url", f->url,
                "reason", why, NULL);
    }
}

static void on_refresh_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_jwks_fetch *f = arg;
    fetch_async(f);
    arm_refresh(f, f->refresh_ms);
}

/* --- API ------------------------------------------------------------------ */

mt_err mt_jwks_fetch_new(struct event_base *base, const mt_jwks_fetch_config *cfg,
                         mt_jwks_fetch **out, mt_errbuf *eb)
{
    *out = NULL;
    if (!cfg->url || !cfg->on_keys || cfg->refresh_ms <= 0 || cfg->timeout_ms <= 0 ||
        cfg->min_refresh_ms < 0)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "jwks fetch: incomplete configuration");
    struct evhttp_uri *u = evhttp_uri_parse(cfg->url);
    if (!u)
        return mt_fail(eb, MT_ERR_CONFIG, "auth.jwks_url: '%s' is not a URL", cfg->url);
    mt_err err = MT_OK;
    const char *scheme = evhttp_uri_get_scheme(u);
    const char *host = evhttp_uri_get_host(u);
    int port = evhttp_uri_get_port(u);
    const char *path = evhttp_uri_get_path(u);
    const char *query = evhttp_uri_get_query(u);
    if (!scheme || strcasecmp(scheme, "https") != 0) {
        evhttp_uri_free(u);
        return mt_fail(eb, MT_ERR_CONFIG,
                       "auth.jwks_url: '%s' must be an https:// URL (keys are never fetched "
                       "over plain HTTP)",
                       cfg->url);
    }
    if (!host || !host[0] || evhttp_uri_get_userinfo(u)) {
        evhttp_uri_free(u);
        return mt_fail(eb, MT_ERR_CONFIG, "auth.jwks_url: '%s' needs a host (and no user info)",
                       cfg->url);
    }
    mt_jwks_fetch *f = calloc(1, sizeof *f);
    if (!f) {
        evhttp_uri_free(u);
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    f->base = base;
    f->port = (uint16_t)(port > 0 ? port : 443);
    f->refresh_ms = cfg->refresh_ms;
    f->min_refresh_ms = cfg->min_refresh_ms;
    f->timeout_ms = cfg->timeout_ms;
    f->max_bytes = cfg->max_bytes ? cfg->max_bytes : MT_JWKS_MAX_BYTES;
    f->on_keys = cfg->on_keys;
    f->arg = cfg->arg;
    f->url = strdup(cfg->url);
    /* an IPv6 literal comes bracketed; connect and verify without brackets */
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']')
        f->host = strndup(host + 1, hl - 2);
    else
        f->host = strdup(host);
    size_t plen = (path && path[0] ? strlen(path) : 1) + (query ? strlen(query) + 1 : 0) + 1;
    f->path = malloc(plen);
    if (f->path)
        snprintf(f->path, plen, "%s%s%s", path && path[0] ? path : "/", query ? "?" : "",
                 query ? query : "");
    f->cache_file = cfg->cache_file ? strdup(cfg->cache_file) : NULL;
    evhttp_uri_free(u);
    if (!f->url || !f->host || !f->path || (cfg->cache_file && !f->cache_file)) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    unsigned char addr[16];
    f->host_is_ip =
        inet_pton(AF_INET, f->host, addr) == 1 || inet_pton(AF_INET6, f->host, addr) == 1;

    f->ctx = SSL_CTX_new(TLS_client_method());
    if (!f->ctx) {
        err = mt_fail(eb, MT_ERR_CRYPTO, "SSL_CTX_new failed");
        goto fail;
    }
    SSL_CTX_set_min_proto_version(f->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(f->ctx, SSL_VERIFY_PEER, NULL);
    if (cfg->ca_file) {
        if (SSL_CTX_load_verify_locations(f->ctx, cfg->ca_file, NULL) != 1) {
            ERR_clear_error();
            err = mt_fail(eb, MT_ERR_CONFIG,
                          "auth.jwks_ca_file: cannot load '%s' (a PEM CA bundle is needed)",
                          cfg->ca_file);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(f->ctx) != 1) {
        ERR_clear_error();
        err = mt_fail(eb, MT_ERR_CONFIG,
                      "auth.jwks_url: cannot load the system CA store; set auth.jwks_ca_file");
        goto fail;
    }
    f->refresh_timer = evtimer_new(base, on_refresh_timer, f);
    f->cleanup = event_new(base, -1, 0, drop_conn_cb, f);
    if (!f->refresh_timer || !f->cleanup) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    *out = f;
    return MT_OK;

fail:
    mt_jwks_fetch_free(f);
    return err;
}

mt_err mt_jwks_fetch_initial(mt_jwks_fetch *f, mt_jwks **out, mt_errbuf *eb)
{
    *out = NULL;
    char why[256] = "";
    struct event_base *pb = event_base_new();
    if (!pb)
        return mt_fail(eb, MT_ERR_NOMEM, "event_base_new failed");
    f->sync = true;
    f->sync_result = NULL;
    if (start_fetch(f, pb, why, sizeof why)) {
        event_base_dispatch(pb);
        snprintf(why, sizeof why, "%s", f->sync_why);
    }
    if (f->dead_conn) {
        evhttp_connection_free(f->dead_conn);
        f->dead_conn = NULL;
    }
    event_base_free(pb);
    f->sync = false;
    f->fbase = NULL;
    mt_jwks *j = f->sync_result;
    f->sync_result = NULL;
    if (j) {
        f->stats.fetch_ok++;
        f->stats.last_ok_unix = (int64_t)time(NULL);
    } else {
        f->stats.fetch_failed++;
        mt_errbuf ceb = {{0}};
        if (f->cache_file && mt_jwks_load_file(f->cache_file, &j, &ceb) == MT_OK) {
            mt_logs(MT_LOG_WARN, "jwks",
                    "JWKS fetch failed at start; using the cached copy and retrying", "url", f->url,
                    "reason", why, "cache_file", f->cache_file, NULL);
        } else {
            return mt_fail(eb, MT_ERR_IO,
                           "auth.jwks_url: cannot fetch '%s': %s%s%s; the sidecar needs its "
                           "keys to start (check the URL, network and auth.jwks_ca_file)",
                           f->url, why, f->cache_file ? "; no usable cache: " : "",
                           f->cache_file ? ceb.msg : "");
        }
        /* retry soon rather than at the next full period */
        arm_refresh(f, f->min_refresh_ms > 0 ? f->min_refresh_ms : 1000);
        *out = j;
        return MT_OK;
    }
    arm_refresh(f, f->refresh_ms);
    *out = j;
    return MT_OK;
}

bool mt_jwks_fetch_refresh_now(mt_jwks_fetch *f)
{
    if (f->busy || (f->ondemand_ever && ms_since(&f->last_ondemand) < f->min_refresh_ms)) {
        f->stats.ondemand_limited++;
        return false;
    }
    f->ondemand_ever = true;
    clock_gettime(CLOCK_MONOTONIC, &f->last_ondemand);
    f->stats.ondemand_started++;
    fetch_async(f);
    return f->busy;
}

bool mt_jwks_fetch_busy(const mt_jwks_fetch *f)
{
    return f->busy;
}

void mt_jwks_fetch_get_stats(const mt_jwks_fetch *f, mt_jwks_fetch_stats *out)
{
    *out = f->stats;
}

void mt_jwks_fetch_free(mt_jwks_fetch *f)
{
    if (!f)
        return;
    if (f->conn)
        evhttp_connection_free(f->conn);
    if (f->dead_conn)
        evhttp_connection_free(f->dead_conn);
    if (f->deadline)
        event_free(f->deadline);
    if (f->refresh_timer)
        event_free(f->refresh_timer);
    if (f->cleanup)
        event_free(f->cleanup);
    if (f->ctx)
        SSL_CTX_free(f->ctx);
    free(f->url);
    free(f->host);
    free(f->path);
    free(f->cache_file);
    free(f);
}
