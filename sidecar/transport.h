/* The MCP HTTP transports the proxy engine serves (docs/sidecar.md
 * "Transports"). Internal to the sidecar, like proxy_internal.h.
 *
 * The engine (proxy.c: connections, limits, checks every request gets,
 * forwarding, the SSE relay, the recording gate; proxy_hold.c: approval
 * holds) calls a transport for what its protocol generation adds:
 *
 *   session           which recorded session the request belongs to;
 *   request           checks and bookkeeping on the parsed request beyond
 *                     JSON-RPC (2025: initialize; 2026-07-28: Mcp-Param-*,
 *                     multi-round-trip state);
 *   response_headers  what the upstream's headers say (2025: the session id
 *                     it assigned, the end of a deleted session);
 *   message           each upstream message before it is recorded and
 *                     relayed (a JSON body, or one SSE event's data): the
 *                     2024-11-05 endpoint rewrite, 2026-07-28 sealing;
 *   finish            the exchange is freed.
 *
 * proxy_transport_pick chooses one per request (table in transport.c).
 * Adding a transport is one file defining a proxy_transport, and a row. */
#ifndef MCPTRAIL_SIDECAR_TRANSPORT_H
#define MCPTRAIL_SIDECAR_TRANSPORT_H

#include "proxy_internal.h"

typedef struct proxy_transport {
    const char *name;
    /* Sets f->sess and f->session. false: refused (the answer is under way). */
    bool (*session)(fwd *f, struct evhttp_request *req);
    /* The parsed request; false: refused for r. NULL: nothing to add. */
    bool (*request)(fwd *f, struct evhttp_request *req, const mt_mcp_batch *b,
                    proxy_refusal *r);
    /* NULL: nothing to learn from the upstream's status and headers. */
    void (*response_headers)(fwd *f, int status, struct evkeyvalq *h);
    /* e: the SSE event (NULL: a JSON body). true: the message is rewritten
     * into out (the engine rebuilds the SSE event around it). result_type
     * and sealed are for the record (2026-07-28 calls). NULL: unchanged. */
    bool (*message)(fwd *f, const mt_sse_event *e, const char *data, size_t len, mt_buf *out,
                    const char **result_type, bool *sealed);
    /* NULL: nothing to release. */
    void (*finish)(fwd *f);
} proxy_transport;

extern const proxy_transport proxy_transport_http_sse;  /* 2024-11-05 HTTP+SSE */
extern const proxy_transport proxy_transport_sessions;  /* 2025 Streamable HTTP sessions */
extern const proxy_transport proxy_transport_stateless; /* 2026-07-28 */

/* The transport of a request whose MCP-Protocol-Version parsed as v. */
const proxy_transport *proxy_transport_pick(mt_mcp_version v, struct evhttp_request *req);

/* ---- shared by the sessionful transports (transport_sessions.c) ---------- */

/* Upstream (or 2024-11-05 query) session id -> recorder session id. */
const char *proxy_smap_get(mt_proxy *p, const char *upstream_id);
void proxy_smap_put(mt_proxy *p, const char *upstream_id, const char *rec_id);
void proxy_smap_remove(mt_proxy *p, const char *upstream_id);
void proxy_smap_free(mt_proxy *p);
/* f's recorded session for a (validated or NULL) client session id: the MCP
 * session's through the map, else one for this request alone. */
void proxy_session_attach(fwd *f, char *client_sid);

#endif
