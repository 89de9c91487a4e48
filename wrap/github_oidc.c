/* GitHub Actions' OIDC token request; see github_oidc.h. A blocking fetch on
 * a private event_base (it runs once, before anything else starts). */
#include "github_oidc.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MAX_BODY 65536

typedef struct fetch {
    struct event_base *base;
    int status;
    bool done;
    mt_buf body;
} fetch;

static void on_done(struct evhttp_request *req, void *arg)
{
    fetch *f = arg;
    f->done = true;
    if (req) {
        f->status = evhttp_request_get_response_code(req);
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        if (n <= MAX_BODY && mt_buf_append(&f->body, evbuffer_pullup(in, -1), n) != MT_OK)
            f->status = -1;
    }
    event_base_loopexit(f->base, NULL);
}

/* "%XX" for everything but unreserved characters (RFC 3986). */
static mt_err append_encoded(mt_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        mt_err err = plain ? mt_buf_append(b, (const char *)&c, 1) : mt_buf_append(b, e, 3);
        if (err)
            return err;
    }
    return MT_OK;
}

mt_err mt_github_id_token(const char *audience, const char *ca_file, int timeout_ms,
                          mt_buf *out, mt_errbuf *eb)
{
    const char *url = getenv("ACTIONS_ID_TOKEN_REQUEST_URL");
    const char *rtok = getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    if (!url || !*url || !rtok || !*rtok)
        return mt_fail(eb, MT_ERR_NOT_FOUND,
                       "ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set "
                       "(not a GitHub Actions job, or the job lacks permissions: id-token: write)");
    mt_err err = MT_OK;
    fetch f = {.body = MT_BUF_INIT};
    mt_buf target = MT_BUF_INIT, authz = MT_BUF_INIT;
    SSL_CTX *ctx = NULL;
    struct evhttp_connection *conn = NULL;
    struct evhttp_uri *u = evhttp_uri_parse(url);
    const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
    const char *host = u ? evhttp_uri_get_host(u) : NULL;
    if (!u || !scheme || strcmp(scheme, "https") != 0 || !host || !*host) {
        err = mt_fail(eb, MT_ERR_CONFIG, "ACTIONS_ID_TOKEN_REQUEST_URL is not an https:// URL");
        goto out;
    }
    int port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 443;
    const char *path = evhttp_uri_get_path(u);
    const char *query = evhttp_uri_get_query(u);
    if ((err = mt_buf_append(&target, path && *path ? path : "/", strlen(path && *path ? path : "/"))) ||
        (err = mt_buf_append(&target, "?", 1)) ||
        (query && ((err = mt_buf_append(&target, query, strlen(query))) ||
                   (err = mt_buf_append(&target, "&", 1)))) ||
        (err = mt_buf_append(&target, "audience=", 9)) ||
        (err = append_encoded(&target, audience)) || (err = mt_buf_append(&target, "", 1)) ||
        (err = mt_buf_append(&authz, "Bearer ", 7)) ||
        (err = mt_buf_append(&authz, rtok, strlen(rtok))) || (err = mt_buf_append(&authz, "", 1))) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (!(f.base = event_base_new()) || !(ctx = SSL_CTX_new(TLS_client_method()))) {
        err = mt_fail(eb, MT_ERR_NOMEM, "cannot set up TLS");
        goto out;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if ((ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                 : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
        err = mt_fail(eb, MT_ERR_CONFIG, "cannot load the CA certificates%s%s",
                      ca_file ? " of " : "", ca_file ? ca_file : "");
        goto out;
    }
    SSL *ssl = SSL_new(ctx);
    unsigned char addr[16];
    bool ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    X509_VERIFY_PARAM *vp = ssl ? SSL_get0_param(ssl) : NULL;
    if (!ssl || !(ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host)
                     : X509_VERIFY_PARAM_set1_host(vp, host, 0) &&
                           SSL_set_tlsext_host_name(ssl, host))) {
        SSL_free(ssl);
        err = mt_fail(eb, MT_ERR_CRYPTO, "cannot set the TLS peer name '%s'", host);
        goto out;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(
        f.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        SSL_free(ssl);
        err = mt_fail(eb, MT_ERR_NOMEM, "cannot create a TLS connection");
        goto out;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    if (!(conn = evhttp_connection_base_bufferevent_new(f.base, NULL, bev, host,
                                                        (unsigned short)port))) {
        bufferevent_free(bev);
        err = mt_fail(eb, MT_ERR_NOMEM, "cannot create an HTTP connection");
        goto out;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(conn, &tv);
    evhttp_connection_set_max_body_size(conn, MAX_BODY);
    evhttp_connection_set_retries(conn, 0);
    struct evhttp_request *req = evhttp_request_new(on_done, &f);
    if (!req) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto out;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char hostport[300];
    bool v6 = strchr(host, ':') != NULL;
    snprintf(hostport, sizeof hostport, port == 443 ? (v6 ? "[%s]" : "%s") : (v6 ? "[%s]:%d" : "%s:%d"),
             host, port);
    evhttp_add_header(h, "Host", hostport);
    evhttp_add_header(h, "Authorization", (const char *)authz.data);
    evhttp_add_header(h, "Accept", "application/json");
    evhttp_add_header(h, "User-Agent", "mcptrail-wrap");
    if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, (const char *)target.data) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "cannot send the token request");
        goto out;
    }
    event_base_dispatch(f.base);
    if (f.status != 200) {
        err = mt_fail(eb, MT_ERR_IO, "the GitHub Actions token request %s (HTTP %d)",
                      f.status ? "was refused" : "failed (connection, TLS or timeout)", f.status);
        goto out;
    }
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)f.body.data, f.body.len, 0, &jerr);
    const char *v = json_string_value(json_object_get(doc, "value"));
    if (!v || !*v)
        err = mt_fail(eb, MT_ERR_PARSE, "the GitHub Actions token answer has no \"value\"");
    else
        err = mt_buf_append(out, v, strlen(v));
    json_decref(doc);
out:
    if (conn)
        evhttp_connection_free(conn);
    if (f.base)
        event_base_free(f.base);
    if (ctx)
        SSL_CTX_free(ctx);
    if (u)
        evhttp_uri_free(u);
    OPENSSL_cleanse(authz.data, authz.len);
    OPENSSL_cleanse(f.body.data, f.body.len);
    mt_buf_free(&authz);
    mt_buf_free(&target);
    mt_buf_free(&f.body);
    return err;
}
