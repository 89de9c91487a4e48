/* mcptrail-wrap's relay; see relay.h. */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "mcptrail/buf.h"
#include "mcptrail/log.h"
#include "mcp.h"
#include "proxy.h"

#define OUT_HIGH_WATER ((size_t)4 << 20) /* client not reading: the server's stdout pauses */

/* One message on its way, in one direction's queue (released in order). */
typedef struct msg_node {
    struct msg_node *next;
    struct mt_wrap_relay *r;
    char *line;          /* what passes (the message, or the wrapper's own answer) */
    size_t len;
    bool to_server;      /* c2s: forwarded to the server; else written to the client */
    bool acked;
    mt_err err;
    json_t *ids;         /* requests this line carries (c2s) or answers (s2c), each
                            {"id": JSON text, "method", "tool"}: c2s ones become pending
                            once forwarded; if the line cannot pass, each is answered with
                            an error so no client waits forever. NULL: none */
} msg_node;

typedef struct queue {
    msg_node *head, *tail;
} queue;

/* A forwarded request the server has not answered. */
typedef struct pending {
    char *id;   /* JSON text */
    char *tool; /* NULL unless tools/call */
    char *method;
} pending;

struct mt_wrap_relay {
    mt_wrap_relay_config cfg;
    mt_rec_session *session;
    mt_child *child;
    struct bufferevent *in, *out;
    queue c2s, s2c;
    pending *pend;
    size_t npend, cap;
    bool in_eof, child_done, out_paused, done, ended, skip_line;
    size_t in_scanned; /* stdin bytes searched for a newline (mt_line_take) */
    unsigned acks; /* recorder callbacks still to come */
    int exit_code;
    struct event *finish_ev;
};

static void try_finish(mt_wrap_relay *r);
static void maybe_close_server(mt_wrap_relay *r);

/* ---- pending requests ----------------------------------------------------- */

static void pend_add(mt_wrap_relay *r, const char *id, const char *method, const char *tool)
{
    if (r->npend == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        pending *np = realloc(r->pend, nc * sizeof *np);
        if (!np)
            return;
        r->pend = np;
        r->cap = nc;
    }
    pending *p = &r->pend[r->npend];
    p->id = strdup(id);
    p->method = method ? strdup(method) : NULL;
    p->tool = tool ? strdup(tool) : NULL;
    if (p->id)
        r->npend++;
}

/* Removes id's entry; *tool and *method get its strings (free them). */
static bool pend_take(mt_wrap_relay *r, const char *id, char **method, char **tool)
{
    for (size_t i = 0; id && i < r->npend; i++)
        if (strcmp(r->pend[i].id, id) == 0) {
            *method = r->pend[i].method;
            *tool = r->pend[i].tool;
            free(r->pend[i].id);
            r->pend[i] = r->pend[--r->npend];
            return true;
        }
    return false;
}

/* ---- recording and releasing ----------------------------------------------- */

static void fill_event(mt_wrap_relay *r, mt_rec_event *ev, const char *kind,
                       const char *direction, const mt_mcp_msg *m)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->direction = direction;
    ev->identity = r->cfg.identity;
    ev->latency_us = -1;
    if (m) {
        ev->rpc.present = true;
        ev->rpc.id = m->id;
        ev->rpc.method = m->method;
        ev->rpc.tool = m->tool_name ? m->tool_name : m->prompt_name;
        ev->rpc.resource_uri = m->resource_uri;
        ev->rpc.is_error = m->is_error;
        ev->rpc.has_error_code = m->kind == MT_MCP_ERROR_RESPONSE;
        ev->rpc.error_code = m->error_code;
    }
}

static void node_free(msg_node *n)
{
    free(n->line);
    json_decref(n->ids);
    free(n);
}

/* {"jsonrpc":"2.0","id":ID,"error":{"code":C,"message":M,"data":{"mcptrail":COND}}}
 * as a malloc'd line; NULL: no memory. */
static char *error_line(const char *id, int code, const char *message, const char *condition)
{
    mt_buf b = MT_BUF_INIT;
    json_t *data = json_pack("{s:s}", "mcptrail", condition);
    mt_errbuf eb = {{0}};
    mt_err err = mt_mcp_error_body(id, code, message, data, &b, &eb);
    json_decref(data);
    if (err == MT_OK)
        err = mt_buf_append(&b, "", 1);
    if (err != MT_OK) {
        mt_buf_free(&b);
        return NULL;
    }
    return (char *)b.data; /* the buffer's bytes, NUL-terminated */
}

static void write_client(mt_wrap_relay *r, const char *line, size_t len)
{
    if (!r->out)
        return;
    struct evbuffer *o = bufferevent_get_output(r->out);
    evbuffer_add(o, line, len);
    evbuffer_add(o, "\n", 1);
    if (!r->out_paused && evbuffer_get_length(o) > OUT_HIGH_WATER && r->child) {
        r->out_paused = true;
        mt_child_pause(r->child, true);
    }
}

/* The wrapper's own JSON-RPC error answer for request id (not recorded:
 * used when recording is what failed). */
static void answer_unrecorded(mt_wrap_relay *r, const char *id, const char *message,
                              const char *condition)
{
    char *body = error_line(id, MT_RPC_INTERNAL_ERROR, message, condition);
    if (body)
        write_client(r, body, strlen(body));
    free(body);
}

/* The same for every entry of ids (see msg_node). */
static void answer_all(mt_wrap_relay *r, const json_t *ids, const char *message,
                       const char *condition)
{
    size_t i;
    json_t *e;
    json_array_foreach(ids, i, e)
        answer_unrecorded(r, json_string_value(json_object_get(e, "id")), message, condition);
}

/* {"id","method","tool"} of the messages of b: its requests (answers false)
 * or its responses (answers true). NULL: none. */
static json_t *ids_of(const mt_mcp_batch *b, bool answers)
{
    json_t *a = NULL;
    for (size_t i = 0; i < b->n; i++) {
        const mt_mcp_msg *m = &b->msgs[i];
        bool is_answer = m->kind == MT_MCP_RESPONSE || m->kind == MT_MCP_ERROR_RESPONSE;
        if (!m->id || strcmp(m->id, "null") == 0 || is_answer != answers ||
            (!answers && m->kind != MT_MCP_REQUEST))
            continue;
        if (!a && !(a = json_array()))
            return NULL;
        json_array_append_new(a, json_pack("{s:s, s:s?, s:s?}", "id", m->id, "method", m->method,
                                           "tool", m->tool_name));
    }
    return a;
}

static void release(mt_wrap_relay *r, queue *q)
{
    while (q->head && q->head->acked) {
        msg_node *n = q->head;
        q->head = n->next;
        if (!q->head)
            q->tail = NULL;
        if (n->err != MT_OK) {
            mt_logs(MT_LOG_ERROR, "wrap", n->to_server ? "message not recorded; not forwarded"
                                                      : "server message not recorded; not passed on",
                    "error", mt_errname(n->err), NULL);
            answer_all(r, n->ids,
                       n->to_server ? MT_RPC_MSG_NOT_RECORDED
                                    : "answer not recorded: Kafka unavailable",
                       "not_recorded");
        } else if (n->to_server) {
            mt_err err = r->child ? mt_child_send(r->child, n->line, n->len) : MT_ERR_STATE;
            size_t i;
            json_t *e;
            if (err == MT_OK) {
                json_array_foreach(n->ids, i, e)
                    pend_add(r, json_string_value(json_object_get(e, "id")),
                             json_string_value(json_object_get(e, "method")),
                             json_string_value(json_object_get(e, "tool")));
            } else {
                answer_all(r, n->ids,
                           err == MT_ERR_TOO_LARGE ? "MCP server is not reading its input"
                                                   : "MCP server process is not running",
                           "upstream_unavailable");
            }
        } else if (n->line) {
            write_client(r, n->line, n->len);
        }
        node_free(n);
    }
    if (q == &r->c2s)
        maybe_close_server(r);
    try_finish(r);
}

static void on_recorded(void *arg, mt_err err)
{
    msg_node *n = arg;
    mt_wrap_relay *r = n->r;
    r->acks--;
    n->acked = true;
    n->err = err;
    release(r, n->to_server ? &r->c2s : &r->s2c);
}

/* Queues line (taken; NULL: nothing passes, e.g. an exit event) in its
 * direction and records ev (its payload set; NULL: nothing to record) for
 * it; it passes once recorded and everything before it passed. */
static void enqueue(mt_wrap_relay *r, bool to_server, char *line, size_t len,
                    const mt_rec_event *ev, json_t *ids)
{
    msg_node *n = calloc(1, sizeof *n);
    if (!n) {
        free(line);
        json_decref(ids);
        return;
    }
    n->r = r;
    n->line = line;
    n->len = len;
    n->to_server = to_server;
    n->ids = ids;
    queue *q = to_server ? &r->c2s : &r->s2c;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    if (!ev || !r->session) {
        n->acked = true;
        release(r, q);
        return;
    }
    r->acks++;
    (void)mt_rec_emit(r->cfg.rec, r->session, ev, on_recorded, n); /* cb runs exactly once */
}

/* The wrapper answers a client line itself (policy, bad input): one error
 * for each request of b (an array when b is a batch), or for id when b is
 * NULL; the answer is recorded (kind, the client's line as payload, m's rpc
 * fields) and then written. */
static void answer_recorded(mt_wrap_relay *r, const mt_mcp_batch *b, const mt_mcp_msg *m,
                            const char *id, const char *kind, const char *req_line,
                            size_t req_len, int code, const char *message,
                            const char *condition, const mt_policy_decision *d)
{
    json_t *ids = b ? ids_of(b, false) : id ? json_pack("[{s:s}]", "id", id) : NULL;
    mt_buf body = MT_BUF_INIT;
    bool batch = b && b->is_batch && json_array_size(ids) > 0;
    mt_err err = batch ? mt_buf_append(&body, "[", 1) : MT_OK;
    size_t n = json_array_size(ids) ? json_array_size(ids) : 1;
    for (size_t i = 0; i < n && err == MT_OK && (batch || i == 0); i++) {
        const char *one = json_string_value(json_object_get(json_array_get(ids, i), "id"));
        char *e = error_line(one, code, message, condition);
        err = !e ? MT_ERR_NOMEM
                 : (i ? mt_buf_append(&body, ",", 1) : MT_OK) == MT_OK
                       ? mt_buf_append(&body, e, strlen(e))
                       : MT_ERR_NOMEM;
        free(e);
    }
    if (err == MT_OK && batch)
        err = mt_buf_append(&body, "]", 1);
    if (err == MT_OK)
        err = mt_buf_append(&body, "", 1);
    if (err != MT_OK) {
        mt_buf_free(&body);
        json_decref(ids);
        return;
    }
    mt_rec_event ev;
    fill_event(r, &ev, kind, "internal", m);
    ev.rpc.present = true;
    ev.rpc.id = m ? m->id : id;
    ev.rpc.is_error = true;
    ev.rpc.has_error_code = true;
    ev.rpc.error_code = code;
    ev.payload = req_line;
    ev.payload_len = req_len;
    if (d) {
        ev.policy_rule_id = d->rule_id;
        ev.policy_action = d->action == MT_POLICY_APPROVE ? "approve" : "deny";
    }
    enqueue(r, false, (char *)body.data, body.len - 1, &ev, ids);
}

/* ---- the client's side ---------------------------------------------------- */

static const char *action_symbol(mt_policy_action a)
{
    return a == MT_POLICY_DENY          ? "deny"
           : a == MT_POLICY_RECORD_ONLY ? "record_only"
           : a == MT_POLICY_APPROVE     ? "approve"
                                        : "allow";
}

/* The policy's decision on every request of b, as the sidecar decides a
 * body: the first deny (or approve) refuses the whole line; else the first
 * request's decision is the line's. false: no request to decide. */
static bool decide(mt_wrap_relay *r, const mt_mcp_batch *b, mt_policy_decision *d,
                   const mt_mcp_msg **at)
{
    bool any = false;
    const char *sub = json_string_value(json_object_get(r->cfg.identity, "subject"));
    json_t *ci = json_object_get(r->cfg.identity, "ci");
    const char *repo = json_string_value(json_object_get(ci, "repository"));
    for (size_t i = 0; i < b->n; i++) {
        const mt_mcp_msg *m = &b->msgs[i];
        if (m->kind != MT_MCP_REQUEST)
            continue;
        mt_policy_input in = {m->method, m->tool_name, json_object_get(m->params, "arguments"),
                              r->cfg.claims, sub, repo};
        mt_policy_decision one;
        mt_policy_eval(r->cfg.policy, &in, &one);
        if (!any || one.action == MT_POLICY_DENY || one.action == MT_POLICY_APPROVE) {
            *d = one;
            *at = m;
        }
        any = true;
        if (one.action == MT_POLICY_DENY || one.action == MT_POLICY_APPROVE)
            break;
    }
    return any;
}

static void client_line(mt_wrap_relay *r, char *line, size_t len)
{
    mt_mcp_limits lim = MT_MCP_LIMITS_DEFAULT;
    lim.max_bytes = r->cfg.max_line;
    lim.allow_batch = true; /* 2025-03-26 clients may batch */
    mt_mcp_batch b;
    mt_errbuf eb = {{0}};
    if (mt_mcp_parse(line, len, &lim, &b, &eb) != MT_OK) {
        mt_logs(MT_LOG_WARN, "wrap", "client message refused", "error", eb.msg, NULL);
        const char *id = b.err_id && strcmp(b.err_id, "null") != 0 ? b.err_id : NULL;
        answer_recorded(r, NULL, NULL, id, "error", line, len,
                        b.rpc_code ? b.rpc_code : MT_MCP_PARSE_ERROR, eb.msg,
                        b.rpc_code == MT_MCP_INVALID_REQUEST ? "invalid_request" : "parse_error",
                        NULL);
        mt_mcp_batch_free(&b);
        free(line);
        return;
    }
    const mt_mcp_msg *m = &b.msgs[0];
    mt_policy_decision d = {0};
    const mt_mcp_msg *at = m;
    bool decided = r->cfg.policy && decide(r, &b, &d, &at);
    if (decided && (d.action == MT_POLICY_DENY || d.action == MT_POLICY_APPROVE)) {
        bool approve = d.action == MT_POLICY_APPROVE;
        const char *msg = approve ? "approval required: mcptrail-wrap holds no calls for "
                                    "approval (serve the tool through mcptrail-sidecar)"
                          : d.message ? d.message
                                      : "denied by policy";
        answer_recorded(r, &b, at, NULL, "policy_denied", line, len,
                        approve ? MT_RPC_APPROVAL_UNAVAILABLE : MT_POLICY_DENY_CODE, msg,
                        approve ? "approval_unavailable" : "policy_denied", &d);
        mt_mcp_batch_free(&b);
        free(line);
        return;
    }
    mt_rec_event ev;
    const char *kind = m->kind == MT_MCP_REQUEST        ? "request"
                       : m->kind == MT_MCP_NOTIFICATION ? "notification"
                                                        : "response";
    fill_event(r, &ev, kind, "client_to_server", m);
    ev.payload = line;
    ev.payload_len = len;
    if (decided) {
        ev.policy_rule_id = d.rule_id;
        ev.policy_action = action_symbol(d.action);
    }
    enqueue(r, true, line, len, &ev, ids_of(&b, false));
    mt_mcp_batch_free(&b);
}

static void on_in_read(struct bufferevent *bev, void *arg)
{
    mt_wrap_relay *r = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        char *line;
        size_t len;
        int k = mt_line_take(in, r->cfg.max_line, &r->in_scanned, &line, &len);
        if (k == 1) {
            client_line(r, line, len);
            continue;
        }
        if (k == -1) { /* over the limit: answered, the line skipped */
            mt_logs(MT_LOG_WARN, "wrap",
                    "client line longer than upstream.max_line_bytes; refused", NULL);
            answer_recorded(r, NULL, NULL, NULL, "error", NULL, 0, MT_MCP_INVALID_REQUEST,
                            "message longer than upstream.max_line_bytes", "too_large", NULL);
            r->in_scanned = 0;
            struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
            if (eol.pos < 0) {
                r->skip_line = true;
                evbuffer_drain(in, evbuffer_get_length(in));
                return;
            }
            evbuffer_drain(in, (size_t)eol.pos + 1);
            continue;
        }
        if (k == -2)
            continue;
        return;
    }
}

/* Reads stdin; the rest of a refused over-long line is skipped first. */
static void on_in(struct bufferevent *bev, void *arg)
{
    mt_wrap_relay *r = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (r->skip_line) {
        struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
        if (eol.pos < 0) {
            evbuffer_drain(in, evbuffer_get_length(in));
            return;
        }
        evbuffer_drain(in, (size_t)eol.pos + 1);
        r->skip_line = false;
    }
    on_in_read(bev, arg);
}

static void on_in_event(struct bufferevent *bev, short what, void *arg)
{
    mt_wrap_relay *r = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        on_in(bev, r);
        mt_wrap_relay_stop(r);
    }
}

static void on_out_written(struct bufferevent *bev, void *arg)
{
    (void)bev;
    mt_wrap_relay *r = arg;
    if (r->out_paused && r->child) {
        r->out_paused = false;
        mt_child_pause(r->child, false);
    }
    try_finish(r);
}

static void on_out_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    mt_wrap_relay *r = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        mt_logs(MT_LOG_WARN, "wrap", "the client closed its end; stopping the server", NULL);
        bufferevent_free(r->out);
        r->out = NULL;
        mt_wrap_relay_stop(r);
    }
}

/* ---- the server's side ---------------------------------------------------- */

static void server_line(void *arg, char *line, size_t len)
{
    mt_wrap_relay *r = arg;
    mt_mcp_limits lim = MT_MCP_LIMITS_DEFAULT;
    lim.max_bytes = r->cfg.max_line;
    lim.allow_batch = true;
    mt_mcp_batch b;
    mt_errbuf eb = {{0}};
    if (mt_mcp_parse(line, len, &lim, &b, &eb) != MT_OK) {
        char head[161];
        snprintf(head, sizeof head, "%.160s", line);
        mt_logs(MT_LOG_ERROR, "wrap",
                "server wrote a line that is not JSON-RPC on stdout; stopping it", "line", head,
                "error", eb.msg, NULL);
        mt_mcp_batch_free(&b);
        mt_child_stop(r->child, "writing a line that is not JSON-RPC to stdout");
        return;
    }
    const mt_mcp_msg *m = &b.msgs[0];
    char *method = NULL, *tool = NULL;
    bool answer = m->kind == MT_MCP_RESPONSE || m->kind == MT_MCP_ERROR_RESPONSE;
    json_t *answered = ids_of(&b, true); /* answered with an error if not recorded */
    for (size_t i = 0; i < b.n; i++) {
        char *mm = NULL, *tt = NULL;
        bool is_answer = b.msgs[i].kind == MT_MCP_RESPONSE || b.msgs[i].kind == MT_MCP_ERROR_RESPONSE;
        if (is_answer && pend_take(r, b.msgs[i].id, &mm, &tt) && i == 0) {
            method = mm, tool = tt;
            continue;
        }
        free(mm);
        free(tt);
    }
    mt_rec_event ev;
    fill_event(r, &ev,
               answer ? "response" : m->kind == MT_MCP_REQUEST ? "request" : "notification",
               "server_to_client", m);
    if (answer) {
        ev.rpc.method = method;
        ev.rpc.tool = tool;
    }
    ev.payload = line;
    ev.payload_len = len;
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, line, len + 1);
        enqueue(r, false, copy, len, &ev, answered);
    } else {
        json_decref(answered);
    }
    free(method);
    free(tool);
    mt_mcp_batch_free(&b);
}

static void server_exit(void *arg, const mt_child_exit *ex)
{
    mt_wrap_relay *r = arg;
    char how[200];
    mt_child_describe_exit(ex, how, sizeof how);
    r->exit_code = ex->exited ? ex->code : 128 + ex->signal;
    bool clean = ex->exited && ex->code == 0 && !ex->protocol && r->npend == 0;
    mt_logs(clean ? MT_LOG_INFO : MT_LOG_WARN, "wrap", "server process ended", "how", how, NULL);
    if (!clean) {
        json_t *info = json_pack("{s:s, s:s, s:i, s:I}", "mcptrail", "upstream_exit", "how", how,
                                 "pid", (int)mt_child_pid(r->child), "requests_unanswered",
                                 (json_int_t)r->npend);
        char *text = info ? json_dumps(info, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(info);
        if (text) {
            mt_rec_event ev;
            fill_event(r, &ev, "error", "internal", NULL);
            ev.payload = text;
            ev.payload_len = strlen(text);
            enqueue(r, false, NULL, 0, &ev, NULL);
        }
        free(text);
    }
    /* every request the server still owed gets its answer */
    char msg[256];
    snprintf(msg, sizeof msg, "MCP server process %s", how);
    while (r->npend) {
        pending *p = &r->pend[--r->npend];
        char *body = error_line(p->id, MT_RPC_INTERNAL_ERROR, msg, "upstream_exited");
        if (body) {
            mt_rec_event ev;
            mt_mcp_msg m = {.kind = MT_MCP_ERROR_RESPONSE, .id = p->id, .is_error = true,
                            .error_code = MT_RPC_INTERNAL_ERROR};
            fill_event(r, &ev, "response", "internal", &m);
            ev.rpc.method = p->method;
            ev.rpc.tool = p->tool;
            ev.payload = body;
            ev.payload_len = strlen(body);
            enqueue(r, false, body, strlen(body), &ev, json_pack("[{s:s}]", "id", p->id));
        }
        free(p->id);
        free(p->method);
        free(p->tool);
    }
    r->child_done = true;
    try_finish(r);
}

/* ---- life ------------------------------------------------------------------- */

static void on_finish(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_wrap_relay *r = arg;
    if (r->cfg.on_done)
        r->cfg.on_done(r->cfg.arg);
}

static void on_session_end(void *arg, mt_err err)
{
    mt_wrap_relay *r = arg;
    r->acks--;
    if (err != MT_OK)
        mt_logs(MT_LOG_ERROR, "wrap", "session_end not recorded", "error", mt_errname(err), NULL);
    try_finish(r);
}

/* Done once the server ended, both queues passed, every event is settled
 * and what was written to the client is out: the session is ended, then
 * the owner told (from a fresh loop turn). */
static void try_finish(mt_wrap_relay *r)
{
    if (r->done || !r->child_done || r->c2s.head || r->s2c.head || r->acks)
        return;
    if (r->out && evbuffer_get_length(bufferevent_get_output(r->out)))
        return;
    if (!r->ended && r->session) {
        r->ended = true;
        r->acks++;
        (void)mt_rec_session_end(r->cfg.rec, r->session, on_session_end, r); /* cb runs once */
        return;
    }
    r->done = true;
    struct timeval now = {0, 0};
    if (r->finish_ev)
        event_add(r->finish_ev, &now);
}

/* stdin's EOF or a stop signal: once every client message passed, the
 * server's stdin is closed (the MCP stdio way to ask it to exit). */
static void maybe_close_server(mt_wrap_relay *r)
{
    if (r->in_eof && !r->c2s.head && r->child && !r->child_done)
        mt_child_stop(r->child, NULL);
}

void mt_wrap_relay_stop(mt_wrap_relay *r)
{
    if (r->in) {
        bufferevent_free(r->in);
        r->in = NULL;
    }
    r->in_eof = true;
    maybe_close_server(r);
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

mt_err mt_wrap_relay_start(const mt_wrap_relay_config *cfg, mt_wrap_relay **out, mt_errbuf *eb)
{
    mt_wrap_relay *r = calloc(1, sizeof *r);
    if (!r)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    r->cfg = *cfg;
    mt_err err = MT_OK;
    if (set_nonblock(cfg->in_fd) != 0 || set_nonblock(cfg->out_fd) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "stdin/stdout: %s", strerror(errno));
        goto fail;
    }
    if (cfg->rec && !(r->session = mt_rec_session_get(cfg->rec, NULL))) {
        err = mt_fail(eb, MT_ERR_NOMEM, "cannot open the recorded session");
        goto fail;
    }
    r->in = bufferevent_socket_new(cfg->base, cfg->in_fd, 0);
    r->out = bufferevent_socket_new(cfg->base, cfg->out_fd, 0);
    r->finish_ev = evtimer_new(cfg->base, on_finish, r);
    if (!r->in || !r->out || !r->finish_ev) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    bufferevent_setcb(r->in, on_in, NULL, on_in_event, r);
    bufferevent_setcb(r->out, NULL, on_out_written, on_out_event, r);
    mt_child_cbs cbs = {server_line, server_exit};
    if ((err = mt_child_start(cfg->base, cfg->child, &cbs, r, &r->child, eb)) != MT_OK)
        goto fail;
    bufferevent_enable(r->in, EV_READ);
    bufferevent_enable(r->out, EV_WRITE);
    *out = r;
    return MT_OK;
fail:
    mt_wrap_relay_free(r);
    return err;
}

int mt_wrap_relay_exit_code(const mt_wrap_relay *r)
{
    return r->exit_code;
}

void mt_wrap_relay_free(mt_wrap_relay *r)
{
    if (!r)
        return;
    mt_child_free(r->child);
    if (r->in)
        bufferevent_free(r->in);
    if (r->out)
        bufferevent_free(r->out);
    if (r->finish_ev)
        event_free(r->finish_ev);
    for (queue *q = &r->c2s; q; q = q == &r->c2s ? &r->s2c : NULL)
        while (q->head) {
            msg_node *n = q->head;
            q->head = n->next;
            node_free(n);
        }
    for (size_t i = 0; i < r->npend; i++) {
        free(r->pend[i].id);
        free(r->pend[i].method);
        free(r->pend[i].tool);
    }
    free(r->pend);
    if (r->session)
        mt_rec_session_release(r->cfg.rec, r->session);
    free(r);
}
