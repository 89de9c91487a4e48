/* Where the proxy engine sends what it forwards (docs/sidecar.md
 * "Upstreams"). Internal to the sidecar, like transport.h.
 *
 * The transports (transport.h) say what a protocol generation adds to an
 * exchange; an upstream says where the exchange goes:
 *
 *   http   an MCP server over HTTP (upstream.host / upstream.port), through
 *          a keep-alive pool (upstream_http.c);
 *   stdio  MCP server processes the sidecar starts itself and speaks
 *          newline-delimited JSON-RPC to (upstream.command, upstream_stdio.c),
 *          served to clients as Streamable HTTP.
 *
 * The engine calls start once the request may go (recorded, approved). The
 * upstream answers through proxy_up_headers, proxy_up_body and
 * proxy_up_done, in that order, exactly as an HTTP response arrives: the
 * engine's recording, masking, SSE relay and back-pressure are the same for
 * both. After cancel (the client left, a stream event was not recorded) the
 * upstream calls none of them again for that exchange. */
#ifndef MCPTRAIL_SIDECAR_UPSTREAM_H
#define MCPTRAIL_SIDECAR_UPSTREAM_H

#include <stdbool.h>

#include "proxy_internal.h"

struct evkeyvalq;

typedef struct proxy_upstream {
    const char *name;
    mt_err (*init)(mt_proxy *p, mt_errbuf *eb);
    void (*free)(mt_proxy *p);
    /* Sends f's request (creq: the client's; f->fwd_body when set replaces its body). */
    void (*start)(fwd *f, struct evhttp_request *creq);
    void (*cancel)(fwd *f);
    /* Back-pressure: stop/resume reading f's response. NULL: none needed. */
    void (*pause)(fwd *f, bool paused);
    /* f is being freed. NULL: nothing to release. */
    void (*release)(fwd *f);
} proxy_upstream;

extern const proxy_upstream proxy_upstream_http;
extern const proxy_upstream proxy_upstream_stdio;

/* ---- what an upstream calls (proxy.c) ------------------------------------ */

/* The response's status line and headers. -1: the client is gone, stop. */
int proxy_up_headers(fwd *f, int status, const char *reason, struct evkeyvalq *h);
/* Response bytes (drained from in). */
void proxy_up_body(fwd *f, struct evbuffer *in);
/* The response ended: code is its status and body what remains of it (both
 * may be NULL); code 0: the exchange failed (the client gets a 502, or its
 * stream an error event). */
void proxy_up_done(fwd *f, int code, struct evkeyvalq *h, struct evbuffer *body);
/* The sidecar answers f itself with an HTTP error (JSON {error,
 * error_description}), not recorded as an upstream response. */
void proxy_up_http_error(fwd *f, int code, const char *reason, const char *error,
                         const char *description);
/* Copies the named headers present in from (may be NULL) to to. */
void proxy_copy_headers(struct evkeyvalq *from, struct evkeyvalq *to, const char *const *names);

#endif
