/* mcptrail-injector: the mutating admission webhook that adds the mcptrail
 * sidecar to pods that opt in. One libevent loop serves HTTPS (evhttp with
 * an OpenSSL bufferevent per connection, as the sidecar's listener does):
 *
 *   POST /mutate   AdmissionReview v1 in, AdmissionReview v1 out (inject.c)
 *   GET  /healthz  the process serves HTTPS
 *   GET  /readyz   the injection template is loaded (always, once started)
 *
 * The body bound is enforced by evhttp before any byte is parsed; the review
 * itself is answered by mt_inject_review, which never fails on bad input.
 * SIGTERM/SIGINT stop the loop. SIGHUP re-reads the TLS certificate and key
 * (a rotated Secret) for new connections; a bad pair is logged and the old
 * one kept. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "inject.h"
#include "mcptrail/log.h"
#include "options.h"

#ifndef MT_VERSION
#define MT_VERSION "dev"
#endif

typedef struct injector {
    struct event_base *base;
    struct evhttp *http;
    SSL_CTX *ssl_ctx;
    const mt_injector_config *cfg;
    mt_inject_params params;
} injector;

static mt_err new_ssl_ctx(const mt_injector_config *cfg, SSL_CTX **out, mt_errbuf *eb)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return mt_fail(eb, MT_ERR_CRYPTO, "SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        SSL_CTX_free(ctx);
        return mt_fail(eb, MT_ERR_CRYPTO, "tls.cert_file: cannot load '%s' (PEM chain): %s",
                       cfg->tls_cert, ERR_reason_error_string(ERR_get_error()));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        SSL_CTX_free(ctx);
        return mt_fail(eb, MT_ERR_CRYPTO,
                       "tls.key_file: cannot load '%s' or it does not match tls.cert_file: %s",
                       cfg->tls_key, ERR_reason_error_string(ERR_get_error()));
    }
    *out = ctx;
    return MT_OK;
}

static struct bufferevent *tls_bevcb(struct event_base *base, void *arg)
{
    injector *in = arg;
    SSL *ssl = SSL_new(in->ssl_ctx);
    if (!ssl)
        return NULL;
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    evbuffer_add(out, text, strlen(text));
    evhttp_send_reply(req, code, reason, NULL);
}

static void on_mutate(injector *in, struct evhttp_request *req)
{
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        reply_text(req, 405, "Method Not Allowed", "POST an AdmissionReview to /mutate\n");
        return;
    }
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    const unsigned char *data = len ? evbuffer_pullup(body, -1) : (const unsigned char *)"";
    char *resp = NULL;
    mt_inject_outcome outcome = MT_INJECT_ERROR;
    mt_errbuf reason = {{0}};
    if (!data || mt_inject_review(&in->params, data, len, &resp, &outcome, &reason) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "injector", "cannot answer a review", "error", reason.msg, NULL);
        reply_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    if (outcome == MT_INJECT_ERROR)
        mt_logs(MT_LOG_WARN, "injector", "review refused", "reason", reason.msg, "failure_mode",
                in->params.fail_closed ? "fail" : "ignore", NULL);
    else
        mt_logs(MT_LOG_INFO, "injector", "review answered", "outcome",
                mt_inject_outcome_name(outcome), NULL);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add(evhttp_request_get_output_buffer(req), resp, strlen(resp));
    free(resp);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    injector *in = arg;
    const char *uri = evhttp_request_get_uri(req);
    const char *q = uri ? strchr(uri, '?') : NULL;
    size_t plen = uri ? (q ? (size_t)(q - uri) : strlen(uri)) : 0;
    if (plen == 7 && memcmp(uri, "/mutate", 7) == 0) {
        on_mutate(in, req);
        return;
    }
    if ((plen == 8 && memcmp(uri, "/healthz", 8) == 0) ||
        (plen == 7 && memcmp(uri, "/readyz", 7) == 0)) {
        reply_text(req, 200, "OK", "ok\n");
        return;
    }
    reply_text(req, 404, "Not Found", "not found (POST /mutate, GET /healthz, GET /readyz)\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    injector *in = arg;
    if (sig == SIGHUP) {
        mt_errbuf eb = {{0}};
        SSL_CTX *ctx = NULL;
        if (new_ssl_ctx(in->cfg, &ctx, &eb) != MT_OK) {
            mt_logs(MT_LOG_ERROR, "injector", "TLS reload failed; keeping the old certificate",
                    "error", eb.msg, NULL);
            return;
        }
        SSL_CTX_free(in->ssl_ctx); /* connections in flight hold their own reference */
        in->ssl_ctx = ctx;
        mt_logs(MT_LOG_INFO, "injector", "TLS certificate reloaded", NULL);
        return;
    }
    mt_logs(MT_LOG_INFO, "injector", "shutting down", NULL);
    event_base_loopexit(in->base, NULL);
}

int main(int argc, char **argv)
{
    int rc = 1;
    mt_errbuf eb = {{0}};
    mt_injector_config cfg = {0};
    mt_cfg_result res = {0};
    injector in = {0};
    json_t *tpl = NULL;
    struct event *sigs[3] = {NULL, NULL, NULL};

    if (mt_cfg_load(&mt_injector_spec, &cfg, argc, argv, NULL, &res, &eb) != MT_OK)
        goto fail;
    switch (res.action) {
    case MT_CFG_RUN:
        break;
    case MT_CFG_SHOW_HELP:
        rc = mt_cfg_print_help(&mt_injector_spec, stdout) == MT_OK ? 0 : 1;
        goto out;
    case MT_CFG_SHOW_VERSION:
        mt_cfg_print_version(&mt_injector_spec, stdout);
        rc = 0;
        goto out;
    case MT_CFG_PRINT_CONFIG:
        rc = mt_cfg_print_effective(&mt_injector_spec, &cfg, stdout) == MT_OK ? 0 : 1;
        goto out;
    }
    mt_log_set_level((mt_log_level)cfg.common.log_level);
    mt_log_set_format((mt_log_format)cfg.common.log_format);
    if (mt_inject_template_load(cfg.template_file, &tpl, &eb) != MT_OK)
        goto fail;
    in.cfg = &cfg;
    in.params = (mt_inject_params){.opt_in_key = cfg.opt_in_key,
                                   .fail_closed = cfg.failure_mode == MT_INJECTOR_FAIL,
                                   .tpl = tpl,
                                   .version = MT_VERSION,
                                   .max_bytes = (size_t)cfg.max_body_bytes};
    if (new_ssl_ctx(&cfg, &in.ssl_ctx, &eb) != MT_OK)
        goto fail;
    signal(SIGPIPE, SIG_IGN);
    if (!(in.base = event_base_new()) || !(in.http = evhttp_new(in.base))) {
        mt_fail(&eb, MT_ERR_NOMEM, "cannot create the event loop");
        goto fail;
    }
    evhttp_set_bevcb(in.http, tls_bevcb, &in);
    evhttp_set_allowed_methods(in.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
    evhttp_set_max_body_size(in.http, (ev_ssize_t)cfg.max_body_bytes);
    evhttp_set_max_headers_size(in.http, 16384);
    evhttp_set_timeout(in.http, (int)((cfg.request_timeout_ms + 999) / 1000));
    evhttp_set_gencb(in.http, on_request, &in);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(in.http, cfg.listen_address, (uint16_t)cfg.listen_port);
    if (!bound) {
        mt_fail(&eb, MT_ERR_IO, "cannot listen on %s:%lld (address in use or not local?)",
                cfg.listen_address, (long long)cfg.listen_port);
        goto fail;
    }
    struct sockaddr_storage ss;
    ev_socklen_t sl = sizeof ss;
    int port = (int)cfg.listen_port;
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) == 0)
        port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                        : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(in.base, signums[i], on_signal, &in);
        if (!sigs[i] || evsignal_add(sigs[i], NULL) != 0)
            goto out;
    }
    mt_log(MT_LOG_INFO, "injector", "listening", "address", json_string(cfg.listen_address), "port",
           json_integer(port), "opt_in_key", json_string(cfg.opt_in_key), "failure_mode",
           json_string(in.params.fail_closed ? "fail" : "ignore"), NULL);
    event_base_dispatch(in.base);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "mcptrail-injector: %s\n", eb.msg);
out:
    for (size_t i = 0; i < 3; i++)
        if (sigs[i])
            event_free(sigs[i]);
    if (in.http)
        evhttp_free(in.http);
    if (in.base)
        event_base_free(in.base);
    SSL_CTX_free(in.ssl_ctx);
    json_decref(tpl);
    mt_cfg_result_free(&res);
    mt_cfg_free(&mt_injector_spec, &cfg);
    return rc;
}
