/* MCP 2025 Streamable HTTP sessions (2025-03-26, 2025-06-18, 2025-11-25;
 * transport.h): the upstream assigns an Mcp-Session-Id on initialize, every
 * later request carries it, DELETE ends it. The sidecar records every
 * message of one MCP session in one recorded session, through the session
 * map (also used by the 2024-11-05 transport). */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "mcptrail/log.h"
#include "transport.h"

#define SESSION_MAP_MAX 10000u /* upstream session ids remembered (oldest dropped) */

/* ---- session map: upstream Mcp-Session-Id -> recorded session ------------ */

static unsigned smap_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h % SESSION_MAP_BUCKETS;
}

static smap_entry **smap_slot(mt_proxy *p, const char *upstream_id)
{
    smap_entry **e = &p->smap[smap_hash(upstream_id)];
    while (*e && strcmp((*e)->upstream_id, upstream_id) != 0)
        e = &(*e)->next;
    return e;
}

void proxy_smap_remove(mt_proxy *p, const char *upstream_id)
{
    smap_entry **slot = smap_slot(p, upstream_id);
    smap_entry *e = *slot;
    if (!e)
        return;
    *slot = e->next;
    if (e->older)
        e->older->newer = e->newer;
    else
        p->smap_oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        p->smap_newest = e->older;
    p->smap_n--;
    free(e->upstream_id);
    free(e->rec_id);
    free(e);
}

/* Recorder session id for an upstream Mcp-Session-Id; NULL when unknown. */
const char *proxy_smap_get(mt_proxy *p, const char *upstream_id)
{
    smap_entry *e = *smap_slot(p, upstream_id);
    return e ? e->rec_id : NULL;
}

void proxy_smap_put(mt_proxy *p, const char *upstream_id, const char *rec_id)
{
    proxy_smap_remove(p, upstream_id);
    if (p->smap_n >= SESSION_MAP_MAX && p->smap_oldest) {
        char *old = strdup(p->smap_oldest->upstream_id);
        if (old)
            proxy_smap_remove(p, old);
        free(old);
    }
    smap_entry *e = calloc(1, sizeof *e);
    if (!e || !(e->upstream_id = strdup(upstream_id)) || !(e->rec_id = strdup(rec_id))) {
        if (e)
            free(e->upstream_id);
        free(e);
        mt_logs(MT_LOG_ERROR, "proxy", "session map: out of memory", NULL);
        return;
    }
    smap_entry **slot = &p->smap[smap_hash(upstream_id)];
    e->next = *slot;
    *slot = e;
    e->older = p->smap_newest;
    if (p->smap_newest)
        p->smap_newest->newer = e;
    else
        p->smap_oldest = e;
    p->smap_newest = e;
    p->smap_n++;
}

void proxy_smap_free(mt_proxy *p)
{
    while (p->smap_oldest) {
        char *id = strdup(p->smap_oldest->upstream_id);
        if (!id)
            break;
        proxy_smap_remove(p, id);
        free(id);
    }
}

void proxy_session_attach(fwd *f, char *client_sid)
{
    mt_proxy *p = f->p;
    mt_errbuf eb = {{0}};
    if (client_sid && mt_mcp_check_session_id(client_sid, strlen(client_sid), &eb) != MT_OK) {
        free(client_sid);
        client_sid = NULL;
    }
    f->sess.client_sid = client_sid;
    if (p->rec) {
        const char *key = client_sid ? proxy_smap_get(p, client_sid) : NULL;
        f->session = mt_rec_session_get(p->rec, key ? key : client_sid);
    }
    f->sess.end = client_sid == NULL;
}

/* ---- the transport -------------------------------------------------------- */

static bool sessions_session(fwd *f, struct evhttp_request *req)
{
    const char *sid = evhttp_find_header(evhttp_request_get_input_headers(req), "Mcp-Session-Id");
    proxy_session_attach(f, sid ? strdup(sid) : NULL);
    return true;
}

static bool sessions_request(fwd *f, struct evhttp_request *req, const mt_mcp_batch *b,
                             proxy_refusal *r)
{
    (void)r;
    const mt_mcp_msg *m = &b->msgs[0];
    f->sess.is_initialize =
        !evhttp_find_header(evhttp_request_get_input_headers(req), "Mcp-Session-Id") &&
        m->method && strcmp(m->method, "initialize") == 0;
    return true;
}

/* Links the MCP session the upstream created on initialize to the recorded
 * session the initialize request went to (see the session notes in
 * docs/sidecar.md). */
static void sessions_response_headers(fwd *f, int code, struct evkeyvalq *h)
{
    const char *usid = h ? evhttp_find_header(h, "Mcp-Session-Id") : NULL;
    if (f->sess.is_initialize && f->session && usid && code >= 200 && code < 300 &&
        mt_mcp_check_session_id(usid, strlen(usid), &(mt_errbuf){{0}}) == MT_OK) {
        proxy_smap_put(f->p, usid, mt_rec_session_id(f->session));
        free(f->sess.upstream_sid);
        f->sess.upstream_sid = strdup(usid); /* NULL on no memory: the field is then null */
        f->sess.end = false;
        mt_logs(MT_LOG_INFO, "proxy", "MCP session recorded", "mcp_session_id", usid,
                "recorded_session_id", mt_rec_session_id(f->session), NULL);
    }
    if (f->method_name && strcmp(f->method_name, "DELETE") == 0 && f->sess.client_sid &&
        code >= 200 && code < 300) {
        f->sess.end = true;
        proxy_smap_remove(f->p, f->sess.client_sid);
    }
}

const proxy_transport proxy_transport_sessions = {
    .name = "2025 Streamable HTTP sessions",
    .session = sessions_session,
    .request = sessions_request,
    .response_headers = sessions_response_headers,
};
