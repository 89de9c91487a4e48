/* MCP 2026-07-28 (transport.h): stateless Streamable HTTP. No session: each
 * request is recorded in a session of its own, and the rounds of one
 * multi-round-trip call are tied together by call id instead
 * (proxy_mrtr.c). Every request carries _meta client info; a tools/call's
 * Mcp-Param-* headers must agree with its arguments (mcp_params.h). */
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "transport.h"

static bool stateless_session(fwd *f, struct evhttp_request *req)
{
    (void)req;
    proxy_session_attach(f, NULL);
    return true;
}

static const char *request_header(void *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

static bool stateless_request(fwd *f, struct evhttp_request *req, const mt_mcp_batch *b,
                              proxy_refusal *r)
{
    if (b->is_batch)
        return true; /* 2026-07-28 has no batches; the parser refused them already */
    const mt_mcp_msg *m = &b->msgs[0];
    mt_errbuf eb = {{0}};
    const char *cell = NULL;
    if (m->tool_name && m->method && strcmp(m->method, "tools/call") == 0 &&
        mt_mcp_params_check(f->p->params, m->tool_name, json_object_get(m->params, "arguments"),
                            request_header, req, &cell, &eb) != MT_OK) {
        r->code = MT_MCP_HEADER_MISMATCH;
        r->reason = cell;
        size_t n = strnlen(eb.msg, sizeof r->msg - 1);
        memcpy(r->msg, eb.msg, n);
        r->msg[n] = '\0';
        return false;
    }
    return proxy_mrtr_request(f, m, r);
}

static bool stateless_message(fwd *f, const mt_sse_event *e, const char *data, size_t len,
                              mt_buf *out, const char **result_type, bool *sealed)
{
    (void)e;
    return proxy_mrtr_response(f, data, len, out, result_type, sealed);
}

const proxy_transport proxy_transport_stateless = {
    .name = "2026-07-28 stateless",
    .session = stateless_session,
    .request = stateless_request,
    .message = stateless_message,
};
