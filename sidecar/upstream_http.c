/* The HTTP upstream (upstream.h): an MCP server at upstream.host:port,
 * reached over keep-alive connections from a LIFO pool. Each exchange has
 * its own evhttp_connection while it runs; one that completed cleanly (not
 * an SSE stream, not paused) goes back to the pool when its fwd is freed
 * (libevent must not free a connection inside its own callbacks). */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "mcptrail/log.h"

static const char *const fwd_request_headers[] = {
    "Content-Type", "Accept",   "Mcp-Session-Id", "MCP-Protocol-Version", "Last-Event-ID",
    "Mcp-Method",   "Mcp-Name", "traceparent",    "tracestate",           NULL,
};

/* 2026-07-28 Mcp-Param-* headers (x-mcp-header, mirrored tool arguments):
 * forwarded as the client sent them, the upstream validates them against
 * the body. At most 64 (the header block is bounded by limits anyway). */
static void copy_param_headers(struct evkeyvalq *from, struct evkeyvalq *to)
{
    int n = 0;
    for (struct evkeyval *h = from->tqh_first; h && n < 64; h = h->next.tqe_next)
        if (strncasecmp(h->key, "Mcp-Param-", 10) == 0 &&
            evhttp_add_header(to, h->key, h->value) == 0)
            n++;
}

static mt_err http_init(mt_proxy *p, mt_errbuf *eb)
{
    if (p->cfg->upstream_max_idle > 0) {
        p->idle = calloc((size_t)p->cfg->upstream_max_idle, sizeof *p->idle);
        if (!p->idle)
            return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        p->idle_cap = (size_t)p->cfg->upstream_max_idle;
    }
    return MT_OK;
}

static void http_free(mt_proxy *p)
{
    while (p->nidle)
        evhttp_connection_free(p->idle[--p->nidle]);
    free(p->idle);
    p->idle = NULL;
}

static int on_headers(struct evhttp_request *ureq, void *arg)
{
    return proxy_up_headers(arg, evhttp_request_get_response_code(ureq),
                            evhttp_request_get_response_code_line(ureq),
                            evhttp_request_get_input_headers(ureq));
}

static void on_chunk(struct evhttp_request *ureq, void *arg)
{
    proxy_up_body(arg, evhttp_request_get_input_buffer(ureq));
}

static void on_error(enum evhttp_request_error err, void *arg)
{
    (void)arg;
    mt_logf(MT_LOG_WARN, "proxy", "upstream request failed (evhttp error %d)", (int)err);
}

static void on_done(struct evhttp_request *ureq, void *arg)
{
    fwd *f = arg;
    f->ureq = NULL; /* libevent frees it after this callback */
    int code = ureq ? evhttp_request_get_response_code(ureq) : 0;
    /* libevent already settled the connection (idle, or reset when the
     * upstream asked to close): a complete non-SSE exchange may reuse it. */
    if (code != 0 && !f->upstream_done && !f->sse && !f->paused)
        f->uconn_reusable = true;
    proxy_up_done(f, code, ureq ? evhttp_request_get_input_headers(ureq) : NULL,
                  ureq ? evhttp_request_get_input_buffer(ureq) : NULL);
}

static void http_start(fwd *f, struct evhttp_request *creq)
{
    mt_proxy *p = f->p;
    const mt_sidecar_config *cfg = p->cfg;
    const char *uri = evhttp_request_get_uri(creq);
    char path[8192];
    int n = snprintf(path, sizeof path, "%s%s", cfg->upstream_path_prefix, uri);
    if (n < 0 || (size_t)n >= sizeof path) {
        proxy_up_http_error(f, 414, "URI Too Long", "uri_too_long", "request URI too long");
        return;
    }
    if (p->nidle) {
        f->uconn = p->idle[--p->nidle];
    } else {
        f->uconn = evhttp_connection_base_new(p->base, NULL, cfg->upstream_host,
                                              (unsigned short)cfg->upstream_port);
        if (f->uconn) {
            evhttp_connection_set_timeout(f->uconn,
                                          (int)((cfg->request_timeout_ms + 999) / 1000));
            evhttp_connection_set_retries(f->uconn, 0);
        }
    }
    f->ureq = f->uconn ? evhttp_request_new(on_done, f) : NULL;
    if (!f->ureq) {
        proxy_up_done(f, 0, NULL, NULL);
        return;
    }
    evhttp_request_set_header_cb(f->ureq, on_headers);
    evhttp_request_set_chunked_cb(f->ureq, on_chunk);
    evhttp_request_set_error_cb(f->ureq, on_error);

    struct evkeyvalq *uh = evhttp_request_get_output_headers(f->ureq);
    proxy_copy_headers(evhttp_request_get_input_headers(creq), uh, fwd_request_headers);
    copy_param_headers(evhttp_request_get_input_headers(creq), uh);
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s:%d", cfg->upstream_host, (int)cfg->upstream_port);
    evhttp_add_header(uh, "Host", hostport);
    /* The client's token stays here; the upstream gets its own credential. */
    if (cfg->upstream_credential.value)
        evhttp_add_header(uh, "Authorization", cfg->upstream_credential.value);
    /* the client's bytes, or the body without the sidecar's own requestState */
    evbuffer_add_buffer(evhttp_request_get_output_buffer(f->ureq),
                        f->fwd_body ? f->fwd_body : evhttp_request_get_input_buffer(creq));
    struct evhttp_request *ureq = f->ureq;
    if (evhttp_make_request(f->uconn, ureq, evhttp_request_get_command(creq), path) != 0) {
        f->ureq = NULL; /* evhttp_make_request frees it on failure */
        proxy_up_done(f, 0, NULL, NULL);
    }
}

static void http_cancel(fwd *f)
{
    if (f->ureq) {
        evhttp_cancel_request(f->ureq);
        f->ureq = NULL;
    }
}

static void http_pause(fwd *f, bool paused)
{
    if (!f->uconn)
        return;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(f->uconn);
    if (paused)
        bufferevent_disable(bev, EV_READ);
    else
        bufferevent_enable(bev, EV_READ);
}

/* Hands the connection back to the keep-alive pool, or frees it when it is
 * not reusable or the pool is full. */
static void http_release(fwd *f)
{
    mt_proxy *p = f->p;
    struct evhttp_connection *c = f->uconn;
    f->uconn = NULL;
    if (!c)
        return;
    if (f->uconn_reusable && p->nidle < p->idle_cap) {
        p->idle[p->nidle++] = c;
        return;
    }
    evhttp_connection_free(c);
}

const proxy_upstream proxy_upstream_http = {
    .name = "http",
    .init = http_init,
    .free = http_free,
    .start = http_start,
    .cancel = http_cancel,
    .pause = http_pause,
    .release = http_release,
};
