/* The transport table (transport.h): the first row that claims a request
 * serves it. */
#include "transport.h"

#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static bool is_stateless(mt_mcp_version v, struct evhttp_request *req)
{
    (void)req;
    return mt_mcp_version_is_stateless(v);
}

/* 2024-11-05 HTTP+SSE: the stream is a GET without Mcp-Session-Id, its
 * messages POSTs to the endpoint URI (?sessionId=) it announced. */
static bool is_http_sse(mt_mcp_version v, struct evhttp_request *req)
{
    (void)v;
    if (evhttp_find_header(evhttp_request_get_input_headers(req), "Mcp-Session-Id"))
        return false;
    enum evhttp_cmd_type c = evhttp_request_get_command(req);
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    bool has_sid = q && (strncmp(q, "sessionId=", 10) == 0 || strstr(q, "&sessionId="));
    return c == EVHTTP_REQ_GET || (c == EVHTTP_REQ_POST && has_sid);
}

static bool any(mt_mcp_version v, struct evhttp_request *req)
{
    (void)v;
    (void)req;
    return true;
}

static const struct {
    const proxy_transport *t;
    bool (*claims)(mt_mcp_version v, struct evhttp_request *req);
} rows[] = {
    {&proxy_transport_stateless, is_stateless},
    {&proxy_transport_http_sse, is_http_sse},
    {&proxy_transport_sessions, any},
};

const proxy_transport *proxy_transport_pick(mt_mcp_version v, struct evhttp_request *req)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].claims(v, req))
            return rows[i].t;
    return &proxy_transport_sessions;
}
