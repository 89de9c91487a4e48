/* MCP 2024-11-05 HTTP+SSE (transport.h): the client opens an SSE stream
 * (GET) whose first `endpoint` event names the URI to POST messages to,
 * with the session in its query (?sessionId=); answers come on the stream.
 * The sidecar rewrites that endpoint to point at itself, and records the
 * stream and the POSTs of its session in one recorded session. */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "mcptrail/log.h"
#include "transport.h"

/* Query parameter sessionId of a 2024-11-05 messages endpoint URI. */
static char *query_session_id(struct evhttp_request *req)
{
    const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq kv;
    kv.tqh_first = NULL;
    kv.tqh_last = &kv.tqh_first;
    if (!q || evhttp_parse_query_str(q, &kv) != 0)
        return NULL;
    const char *v = evhttp_find_header(&kv, "sessionId");
    char *out = v ? strdup(v) : NULL;
    evhttp_clear_headers(&kv);
    return out;
}

static bool http_sse_session(fwd *f, struct evhttp_request *req)
{
    proxy_session_attach(f, query_session_id(req));
    return true;
}

/* 2024-11-05: remembers the endpoint URI's sessionId query parameter, so
 * POSTs to the messages endpoint land in this stream's recorded session. */
static void note_legacy_session(fwd *f, const char *uri, size_t len)
{
    char tmp[2048];
    if (!f->session || len >= sizeof tmp)
        return;
    memcpy(tmp, uri, len);
    tmp[len] = '\0';
    const char *q = strchr(tmp, '?');
    const char *sid = q ? strstr(q, "sessionId=") : NULL;
    if (!sid || (sid[-1] != '?' && sid[-1] != '&'))
        return;
    sid += strlen("sessionId=");
    size_t n = strcspn(sid, "&#");
    char *v = strndup(sid, n);
    if (v && n && mt_mcp_check_session_id(v, n, &(mt_errbuf){{0}}) == MT_OK) {
        proxy_smap_put(f->p, v, mt_rec_session_id(f->session));
        free(f->sess.legacy_sid);
        f->sess.legacy_sid = v;
        f->sess.end = true; /* the stream owns the recorded session */
        return;
    }
    free(v);
}

/* The stream's first endpoint event: its URI rewritten to the sidecar. */
static bool http_sse_message(fwd *f, const mt_sse_event *e, const char *data, size_t len,
                             mt_buf *out, const char **result_type, bool *sealed)
{
    (void)result_type;
    (void)sealed;
    if (!e || f->sess.endpoint_seen || e->type_len != 8 || memcmp(e->type, "endpoint", 8) != 0)
        return false;
    f->sess.endpoint_seen = true;
    char base[1024];
    proxy_public_base(f, base, sizeof base);
    mt_errbuf reb = {{0}};
    bool ok = mt_sse_rewrite_endpoint(data, len, base, out, &reb) == MT_OK;
    if (!ok) {
        mt_buf_reset(out);
        mt_logs(MT_LOG_WARN, "proxy", "endpoint event not rewritten; forwarded unchanged",
                "reason", reb.msg, NULL);
    }
    note_legacy_session(f, ok ? (const char *)out->data : data, ok ? out->len : len);
    return ok;
}

static void http_sse_finish(fwd *f)
{
    if (f->sess.legacy_sid)
        proxy_smap_remove(f->p, f->sess.legacy_sid);
}

const proxy_transport proxy_transport_http_sse = {
    .name = "2024-11-05 HTTP+SSE",
    .session = http_sse_session,
    .message = http_sse_message,
    .finish = http_sse_finish,
};
