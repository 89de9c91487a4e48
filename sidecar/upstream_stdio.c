/* The stdio upstream (upstream.h): MCP servers the sidecar runs itself
 * (upstream.command), served to clients as Streamable HTTP. The model, in
 * docs/sidecar.md "stdio servers":
 *
 *  - a 2025 MCP session (initialize without Mcp-Session-Id) gets its own
 *    server process; the sidecar issues the Mcp-Session-Id, routes every
 *    later request of the session to that process, and stops it on DELETE,
 *    after upstream.session_idle_timeout, or when it exits (the session is
 *    then unknown: 404, the client starts a new one);
 *  - 2026-07-28 requests (stateless) share one process, started at the
 *    first one and restarted with back-off when it exits.
 *
 * Request ids and progress tokens are rewritten to the process's own
 * counter (one process serves many HTTP requests, and for 2026-07-28 many
 * clients) and restored on the way back. A server message goes to: the
 * request whose id it answers; the request whose progressToken or
 * (2026-07-28) subscriptionId it carries (progress of a finished request is
 * dropped). Otherwise, in a 2025 session, a server request or a log message
 * goes to the newest request stream still open (its likely cause), else the
 * GET stream; other notifications (list_changed, resources/updated) to the
 * GET stream, else the newest request stream; with no stream open, to a
 * queue the next stream gets (bounded): a session's messages all reach its
 * client. The shared 2026-07-28 process's messages go only to the request
 * in flight when there is exactly one, else nowhere (logged): never to an
 * unrelated client. A POST with requests is answered as SSE when the client
 * accepts it, else as JSON once every response is in; one without requests
 * gets 202 once its messages are queued for stdin (a batch all or nothing).
 *
 * A process that exits, writes a line that is not JSON, or a line over
 * upstream.max_line_bytes answers each request it still owed with a
 * JSON-RPC error (code -32603, data.mcptrail "upstream_exited"); the exit
 * is recorded as an `error` event (its MCP session's, or the shared
 * process's own recorded session) and logged. What the sidecar writes to a
 * process itself (the opening ping, cancels) is recorded before it is sent,
 * and not sent when it cannot be recorded. */
#include "upstream.h"
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sys/queue.h>

#include "mcptrail/crypto.h"
#include "mcptrail/log.h"
#include "child.h"

#define BACKOFF_MAX_MS 30000
#define BACKOFF_RESET_AFTER_MS 60000
#define QUEUE_MAX 256 /* unsolicited messages kept for a 2025 session's next stream */
#define SUBSCRIPTION_META "io.modelcontextprotocol/subscriptionId"
#define RPC_SERVER_ERROR -32603

typedef struct stdio_proc stdio_proc;

/* A request of an exchange the process has not answered yet. */
typedef struct pending_req {
    json_int_t wire_id;   /* the id the process saw */
    json_t *orig_id;      /* the client's id */
    json_t *token;        /* the progressToken the process saw (the wire id), or NULL */
    json_t *orig_token;   /* the client's progressToken */
    struct stdio_exchange *x;
} pending_req;

typedef struct stdio_exchange {
    fwd *f;
    stdio_proc *proc;
    struct stdio_exchange *prev, *next; /* the process's live exchanges, oldest first */
    size_t outstanding;   /* requests still to be answered */
    bool get_stream;      /* a 2025 session's GET stream (ends with the process) */
    bool sse;             /* answered as SSE (else JSON once complete) */
    bool batch;           /* the body was an array: the JSON answer is one */
    bool headers_sent;
    bool modern;          /* a 2026-07-28 request: headers wait for the first message */
    int json_status;      /* JSON answer's HTTP status (0: 200) */
    bool paused;          /* asked for back-pressure */
    size_t backlog;       /* bytes sent while paused (the shared process is not paused) */
    unsigned busy;        /* inside the engine (x_send): cancel defers the free */
    bool cancelled;
    char session_id[40];  /* Mcp-Session-Id to send (initialize), or "" */
    json_t *results;      /* JSON mode: responses collected */
    struct event *ev;     /* deferred answer, or the request timeout */
    int reply_code;       /* deferred answer: status, reason, body */
    const char *reply_reason;
    json_t *reply_body;
} stdio_exchange;

struct stdio_proc {
    struct stdio_hub *hub;
    stdio_proc *prev, *next;
    mt_child *child;
    bool modern;          /* the shared 2026-07-28 process */
    bool exited;
    char session_id[40];  /* 2025: the Mcp-Session-Id the sidecar issued */
    json_int_t next_id;
    pending_req *pend;
    size_t npend, cap;
    stdio_exchange *xs_head, *xs_tail;
    stdio_exchange *get;  /* 2025: the open GET stream */
    json_t *queue;        /* 2025: messages waiting for a stream (array) */
    size_t queue_bytes;   /* their compact size (bounded by upstream.max_buffered_bytes) */
    struct event *idle_ev;
    int64_t started_ms;
    unsigned paused;      /* exchanges asking for back-pressure */
    mt_rec_session *own;  /* shared process: the recorded session of its own life (the
                             opening ping, its exit); 2025: NULL, its MCP session's */
};

typedef struct stdio_hub {
    mt_proxy *p;
    stdio_proc *procs;
    size_t nprocs;
    stdio_proc *modern;
    int64_t backoff_ms;       /* next restart delay of the shared process */
    int64_t not_before_ms;    /* the shared process is not started before this */
    uint64_t restarts;
} stdio_hub;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_tv(struct timeval *tv, int64_t ms)
{
    tv->tv_sec = (time_t)(ms / 1000);
    tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}

/* ---- recording the process's life --------------------------------------- */

/* The recorded session of what concerns the process itself (a held
 * reference; NULL: none): its MCP session's (2025), else its own. */
static mt_rec_session *proc_session(stdio_proc *pr)
{
    mt_proxy *p = pr->hub->p;
    if (!p->rec)
        return NULL;
    if (!pr->session_id[0])
        return pr->own ? mt_rec_session_get(p->rec, mt_rec_session_id(pr->own)) : NULL;
    const char *rec_id = proxy_smap_get(p, pr->session_id);
    return rec_id ? mt_rec_session_get(p->rec, rec_id) : NULL;
}

/* An `internal` event of the process carrying text (rpc null). */
static void internal_event(mt_rec_event *ev, const stdio_proc *pr, const char *kind,
                           const char *text)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->direction = "internal";
    ev->latency_us = -1;
    ev->payload = text;
    ev->payload_len = strlen(text);
    ev->http.mcp_session_id = pr->session_id[0] ? pr->session_id : NULL;
}

/* An `error` event about the process, in proc_session's session. */
static void record_proc_event(stdio_proc *pr, const char *what, json_t *info)
{
    mt_proxy *p = pr->hub->p;
    if (!p->rec) {
        json_decref(info);
        return;
    }
    mt_rec_session *s = proc_session(pr);
    json_object_set_new(info, "mcptrail", json_string(what));
    char *text = json_dumps(info, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(info);
    if (s && text) {
        mt_rec_event ev;
        internal_event(&ev, pr, "error", text);
        (void)mt_rec_emit(p->rec, s, &ev, NULL, NULL);
    }
    if (s)
        mt_rec_session_release(p->rec, s);
    free(text);
}

/* A message the sidecar itself sends the process (the opening ping, the
 * notifications/cancelled of a request whose client left or timed out):
 * recorded as an `internal` event of session s (NULL: proc_session's) before
 * it is queued for stdin (not held for the acknowledgement:
 * neither changes what the server does for a client), then sent. */
static void send_own(stdio_proc *pr, mt_rec_session *s, const char *kind, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    if (!text)
        return;
    mt_proxy *p = pr->hub->p;
    mt_rec_session *own = NULL;
    if (p->rec && !s)
        s = own = proc_session(pr);
    bool recorded = !p->rec; /* nothing is recorded without a recorder */
    if (p->rec && s) {
        mt_rec_event ev;
        internal_event(&ev, pr, kind, text);
        ev.rpc.present = true;
        ev.rpc.method = json_string_value(json_object_get(msg, "method"));
        char *id = json_object_get(msg, "id")
                       ? json_dumps(json_object_get(msg, "id"), JSON_ENCODE_ANY | JSON_COMPACT)
                       : NULL;
        ev.rpc.id = id;
        recorded = mt_rec_emit(p->rec, s, &ev, NULL, NULL) == MT_OK;
        free(id);
    }
    if (own)
        mt_rec_session_release(p->rec, own);
    if (recorded) /* what cannot be recorded is not sent */
        (void)mt_child_send(pr->child, text, strlen(text));
    else
        mt_logs(MT_LOG_WARN, "stdio", "own message not recorded; not sent", "method",
                json_string_value(json_object_get(msg, "method")), NULL);
    free(text);
}

/* notifications/cancelled for the request the process knows as wire_id. */
static void send_cancel(stdio_proc *pr, mt_rec_session *s, json_int_t wire_id, const char *why)
{
    json_t *c = json_pack("{s:s, s:s, s:{s:I, s:s}}", "jsonrpc", "2.0", "method",
                          "notifications/cancelled", "params", "requestId", wire_id, "reason",
                          why);
    if (c)
        send_own(pr, s, "notification", c);
    json_decref(c);
}

/* ---- answering the client ------------------------------------------------ */

static void x_headers(stdio_exchange *x, const char *ctype, struct evkeyvalq *h)
{
    evhttp_add_header(h, "Content-Type", ctype);
    if (x->sse)
        evhttp_add_header(h, "Cache-Control", "no-cache");
    if (x->session_id[0])
        evhttp_add_header(h, "Mcp-Session-Id", x->session_id);
}

static void pend_clear(pending_req *pq)
{
    json_decref(pq->orig_id);
    json_decref(pq->token);
    json_decref(pq->orig_token);
}

static void x_detach(stdio_exchange *x)
{
    stdio_proc *pr = x->proc;
    if (!pr)
        return;
    for (size_t i = 0; i < pr->npend;) {
        if (pr->pend[i].x == x) {
            pend_clear(&pr->pend[i]);
            pr->pend[i] = pr->pend[--pr->npend];
        } else {
            i++;
        }
    }
    if (x->prev)
        x->prev->next = x->next;
    else if (pr->xs_head == x)
        pr->xs_head = x->next;
    if (x->next)
        x->next->prev = x->prev;
    else if (pr->xs_tail == x)
        pr->xs_tail = x->prev;
    x->prev = x->next = NULL;
    if (pr->get == x)
        pr->get = NULL;
    if (x->paused && !pr->modern && --pr->paused == 0)
        mt_child_pause(pr->child, false);
    x->paused = false;
    x->proc = NULL;
}

static void x_free(stdio_exchange *x)
{
    if (!x)
        return;
    x_detach(x);
    if (x->ev)
        event_free(x->ev);
    json_decref(x->results);
    json_decref(x->reply_body);
    if (x->f)
        x->f->sx = NULL;
    free(x);
}

static void send_cancel(stdio_proc *pr, mt_rec_session *s, json_int_t wire_id, const char *why);

/* The process is told x's requests are abandoned (before x is freed). */
static void x_cancel_pending(stdio_exchange *x, const char *why)
{
    stdio_proc *pr = x->proc;
    for (size_t i = 0; pr && i < pr->npend; i++)
        if (pr->pend[i].x == x)
            send_cancel(pr, x->f->session, pr->pend[i].wire_id, why);
}

/* Starts an SSE answer (status 200) so messages can flow. false: the client
 * is gone; x is freed and the engine told. */
static bool x_start_sse(stdio_exchange *x)
{
    struct evkeyvalq h;
    TAILQ_INIT(&h);
    x_headers(x, "text/event-stream", &h);
    fwd *f = x->f;
    int r = proxy_up_headers(f, 200, "OK", &h);
    evhttp_clear_headers(&h);
    x->headers_sent = true;
    if (r == 0)
        return true;
    x_cancel_pending(x, "client disconnected");
    x_free(x);
    proxy_up_done(f, 0, NULL, NULL);
    return false;
}

/* The exchange's answer is complete: the engine gets the end of it. */
static void x_finish(stdio_exchange *x)
{
    fwd *f = x->f;
    x_detach(x);
    if (x->ev)
        event_del(x->ev);
    struct evkeyvalq h;
    TAILQ_INIT(&h);
    struct evbuffer *body = NULL;
    if (x->sse && !x->headers_sent && !x_start_sse(x))
        return; /* x is gone */
    int code = x->json_status ? x->json_status : 200;
    const char *reason = code == 200 ? "OK" : code == 404 ? "Not Found" : "Bad Request";
    if (!x->sse) {
        json_t *doc = x->batch ? json_incref(x->results)
                               : json_incref(json_array_get(x->results, 0));
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        body = evbuffer_new();
        if (text && body)
            evbuffer_add(body, text, strlen(text));
        free(text);
        x_headers(x, "application/json", &h);
        if (proxy_up_headers(f, code, reason, &h) != 0) {
            evhttp_clear_headers(&h);
            if (body)
                evbuffer_free(body);
            x_free(x);
            proxy_up_done(f, 0, NULL, NULL);
            return;
        }
    }
    x_free(x);
    proxy_up_done(f, code, &h, body);
    evhttp_clear_headers(&h);
    if (body)
        evbuffer_free(body);
}

static void x_arm_timeout(stdio_exchange *x);

/* One message (compact JSON) to the exchange: an SSE event, or (JSON mode)
 * a response kept for the answer. false: x is gone (the engine cancelled
 * it while recording the event: strict mode, Kafka refused it). */
static bool x_send(stdio_exchange *x, json_t *msg)
{
    if (!x->sse) {
        if (json_object_get(msg, "method") == NULL)
            json_array_append(x->results, msg);
        return true;
    }
    if (!x->headers_sent && !x_start_sse(x))
        return false; /* the client is gone (x freed) */
    char *text = json_dumps(msg, JSON_COMPACT);
    struct evbuffer *b = evbuffer_new();
    if (text && b) {
        evbuffer_add_printf(b, "event: message\ndata: %s\n\n", text);
        size_t n = evbuffer_get_length(b);
        x->busy++;
        proxy_up_body(x->f, b);
        x->busy--;
        if (x->paused)
            x->backlog += n;
    }
    free(text);
    if (b)
        evbuffer_free(b);
    if (x->cancelled) {
        x_free(x);
        return false;
    }
    if (x->backlog > (size_t)x->f->p->cfg->upstream_max_buffered) {
        /* a client of the shared process that does not read: its stream ends
         * (the process is never paused for one client) */
        mt_logs(MT_LOG_WARN, "stdio", "client does not read its stream; ending it", NULL);
        fwd *f = x->f;
        x_cancel_pending(x, "client does not read its stream");
        x_free(x);
        proxy_up_done(f, 0, NULL, NULL);
        return false;
    }
    x_arm_timeout(x);
    return true;
}

static void on_deferred(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stdio_exchange *x = arg;
    fwd *f = x->f;
    struct evkeyvalq h;
    TAILQ_INIT(&h);
    struct evbuffer *body = evbuffer_new();
    char *text = x->reply_body ? json_dumps(x->reply_body, JSON_COMPACT) : NULL;
    if (text && body) {
        evbuffer_add(body, text, strlen(text));
        evhttp_add_header(&h, "Content-Type", "application/json");
    }
    free(text);
    if (x->reply_code == 405)
        evhttp_add_header(&h, "Allow", "POST");
    int code = x->reply_code;
    const char *reason = x->reply_reason;
    x_free(x);
    if (proxy_up_headers(f, code, reason, &h) == 0)
        proxy_up_done(f, code, &h, body);
    evhttp_clear_headers(&h);
    if (body)
        evbuffer_free(body);
}

/* Answers f from the next loop turn with status code and a JSON-RPC error
 * body (rpc_code 0: no body), as the server's own HTTP answer would be. */
static void reply_later(fwd *f, int code, const char *reason, int rpc_code, const char *msg)
{
    stdio_exchange *x = calloc(1, sizeof *x);
    if (!x) {
        proxy_up_done(f, 0, NULL, NULL);
        return;
    }
    x->f = f;
    f->sx = x;
    x->reply_code = code;
    x->reply_reason = reason;
    if (rpc_code)
        x->reply_body = json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", "error",
                                  "code", rpc_code, "message", msg);
    x->ev = evtimer_new(f->p->base, on_deferred, x);
    struct timeval tv = {0, 0};
    if (!x->ev || event_add(x->ev, &tv) != 0) {
        x_free(x);
        proxy_up_done(f, 0, NULL, NULL);
    }
}

/* A JSON-RPC error answering one pending request (the process cannot). */
static json_t *error_response(json_t *orig_id, int code, const char *message,
                              const char *condition)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s, s:{s:s}}}", "jsonrpc", "2.0", "id",
                     orig_id ? orig_id : json_null(), "error", "code", code, "message", message,
                     "data", "mcptrail", condition);
}

/* Every request x still owes gets an error; then x ends. */
static void x_fail(stdio_exchange *x, const char *message, const char *condition)
{
    stdio_proc *pr = x->proc;
    for (size_t i = 0; pr && i < pr->npend; i++) {
        if (pr->pend[i].x != x)
            continue;
        json_t *e = error_response(pr->pend[i].orig_id, RPC_SERVER_ERROR, message, condition);
        bool alive = !e || x_send(x, e);
        json_decref(e);
        if (!alive)
            return;
    }
    x->outstanding = 0;
    x_finish(x);
}

/* ---- the processes ------------------------------------------------------- */

static void proc_line(void *arg, char *line, size_t len);
static void proc_exit(void *arg, const mt_child_exit *ex);

static void proc_unlink(stdio_proc *pr)
{
    stdio_hub *hub = pr->hub;
    if (pr->prev)
        pr->prev->next = pr->next;
    else if (hub->procs == pr)
        hub->procs = pr->next;
    if (pr->next)
        pr->next->prev = pr->prev;
    pr->prev = pr->next = NULL;
    if (hub->modern == pr)
        hub->modern = NULL;
    hub->nprocs--;
}

static void proc_free(stdio_proc *pr)
{
    while (pr->xs_head)
        x_detach(pr->xs_head);
    for (size_t i = 0; i < pr->npend; i++)
        pend_clear(&pr->pend[i]);
    free(pr->pend);
    json_decref(pr->queue);
    if (pr->idle_ev)
        event_free(pr->idle_ev);
    mt_child_free(pr->child);
    if (pr->own) {
        mt_recorder *rec = pr->hub->p->rec;
        (void)mt_rec_session_end(rec, pr->own, NULL, NULL);
        mt_rec_session_release(rec, pr->own);
    }
    free(pr);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stdio_proc *pr = arg;
    if (pr->xs_head) { /* a stream is still open: look again later */
        struct timeval tv;
        set_tv(&tv, pr->hub->p->cfg->upstream_session_idle_ms);
        event_add(pr->idle_ev, &tv);
        return;
    }
    mt_logs(MT_LOG_INFO, "stdio", "MCP session idle; stopping its server", "mcp_session_id",
            pr->session_id, NULL);
    mt_child_stop(pr->child, NULL);
}

static void uuid4(char out[37])
{
    uint8_t b[16];
    if (mt_random_bytes(b, sizeof b, &(mt_errbuf){{0}}) != MT_OK)
        memset(b, 0, sizeof b); /* RAND_bytes does not fail once seeded */
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* The shared process's first message is the sidecar's ping with the
 * 2026-07-28 envelope: SDK servers (serveStdio) pin a stdio connection to
 * the era of its first message, and a client's request without a valid
 * envelope must not pin it to 2025 (over HTTP each request is judged on its
 * own). Its answer is not relayed. */
static void open_modern(stdio_proc *pr)
{
    if (pr->npend == pr->cap) {
        pending_req *np = realloc(pr->pend, 16 * sizeof *np);
        if (!np)
            return;
        pr->pend = np;
        pr->cap = 16;
    }
    json_int_t id = pr->next_id++;
    json_t *ping = json_pack("{s:s, s:I, s:s, s:{s:{s:s, s:{s:s, s:s}, s:{}}}}", "jsonrpc", "2.0",
                             "id", id, "method", "ping", "params", "_meta",
                             "io.modelcontextprotocol/protocolVersion", "2026-07-28",
                             "io.modelcontextprotocol/clientInfo", "name", "mcptrail-sidecar",
                             "version", MT_VERSION, "io.modelcontextprotocol/clientCapabilities");
    if (ping) {
        pr->pend[pr->npend++] = (pending_req){.wire_id = id};
        send_own(pr, NULL, "request", ping);
    }
    json_decref(ping);
}

static stdio_proc *proc_start(stdio_hub *hub, bool modern, mt_errbuf *eb)
{
    const mt_sidecar_config *cfg = hub->p->cfg;
    if (hub->nprocs >= (size_t)cfg->upstream_max_processes) {
        mt_fail(eb, MT_ERR_TOO_LARGE, "upstream.max_processes (%lld) server processes running",
                (long long)cfg->upstream_max_processes);
        return NULL;
    }
    stdio_proc *pr = calloc(1, sizeof *pr);
    if (!pr) {
        mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        return NULL;
    }
    pr->hub = hub;
    pr->modern = modern;
    pr->next_id = 1;
    pr->started_ms = now_ms();
    if (!modern)
        uuid4(pr->session_id);
    mt_child_spec spec = {
        .argv = &cfg->upstream_command,
        .env_allow = &cfg->upstream_env_allow,
        .inherit_env = cfg->upstream_env_inherit,
        .env = &cfg->upstream_env,
        .cwd = cfg->upstream_cwd,
        .max_line = (size_t)cfg->upstream_max_line_bytes,
        .max_buffered = (size_t)cfg->upstream_max_buffered,
        .stop_grace_ms = cfg->upstream_stop_grace_ms,
        .log_name = "stdio",
    };
    mt_child_cbs cbs = {proc_line, proc_exit};
    if (mt_child_start(hub->p->base, &spec, &cbs, pr, &pr->child, eb) != MT_OK) {
        free(pr);
        return NULL;
    }
    if (!modern) {
        pr->idle_ev = evtimer_new(hub->p->base, on_idle, pr);
        struct timeval tv;
        set_tv(&tv, cfg->upstream_session_idle_ms);
        if (pr->idle_ev)
            event_add(pr->idle_ev, &tv);
    }
    pr->next = hub->procs;
    if (hub->procs)
        hub->procs->prev = pr;
    hub->procs = pr;
    hub->nprocs++;
    if (modern) {
        hub->modern = pr;
        if (hub->p->rec)
            pr->own = mt_rec_session_get(hub->p->rec, NULL);
        open_modern(pr);
    }
    return pr;
}

static stdio_proc *find_session(stdio_hub *hub, const char *sid)
{
    for (stdio_proc *pr = hub->procs; pr; pr = pr->next)
        if (!pr->modern && !pr->exited && mt_child_running(pr->child) &&
            strcmp(pr->session_id, sid) == 0)
            return pr;
    return NULL;
}

static pending_req *find_pending(stdio_proc *pr, json_int_t wire_id)
{
    for (size_t i = 0; i < pr->npend; i++)
        if (pr->pend[i].wire_id == wire_id)
            return &pr->pend[i];
    return NULL;
}

static pending_req *find_by_token(stdio_proc *pr, const json_t *token)
{
    for (size_t i = 0; token && i < pr->npend; i++)
        if (pr->pend[i].token && json_equal(pr->pend[i].token, token))
            return &pr->pend[i];
    return NULL;
}

/* The newest request stream of pr still open (NULL: none). */
static stdio_exchange *newest_call(stdio_proc *pr)
{
    for (stdio_exchange *x = pr->xs_tail; x; x = x->prev)
        if (x->sse && !x->get_stream)
            return x;
    return NULL;
}

/* A server message that answers no request and names none (see the top of
 * the file). */
static void deliver_unsolicited(stdio_proc *pr, json_t *msg)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    if (pr->modern) {
        stdio_exchange *only = pr->xs_head && !pr->xs_head->next ? pr->xs_head : NULL;
        if (only && only->sse) {
            (void)x_send(only, msg);
            return;
        }
        mt_logs(MT_LOG_INFO, "stdio", "shared server's message for no single request; "
                "not relayed", "method", method ? method : "(none)", NULL);
        return;
    }
    bool to_call = json_object_get(msg, "id") != NULL ||
                   (method && strcmp(method, "notifications/message") == 0);
    stdio_exchange *to = to_call ? newest_call(pr) : pr->get;
    if (!to)
        to = to_call ? pr->get : newest_call(pr);
    if (to) {
        (void)x_send(to, msg);
        return;
    }
    /* no stream open: kept for the next one (GET, or a request's) */
    if (!pr->queue)
        pr->queue = json_array();
    size_t sz = json_dumpb(msg, NULL, 0, JSON_COMPACT);
    while (json_array_size(pr->queue) &&
           (json_array_size(pr->queue) >= QUEUE_MAX ||
            pr->queue_bytes + sz > (size_t)pr->hub->p->cfg->upstream_max_buffered)) {
        mt_logs(MT_LOG_WARN, "stdio", "session message queue full; oldest message dropped",
                "mcp_session_id", pr->session_id, NULL);
        size_t old = json_dumpb(json_array_get(pr->queue, 0), NULL, 0, JSON_COMPACT);
        pr->queue_bytes -= old < pr->queue_bytes ? old : pr->queue_bytes;
        json_array_remove(pr->queue, 0);
    }
    if (json_array_append(pr->queue, msg) == 0)
        pr->queue_bytes += sz;
}

/* Messages queued while no stream was open go out on x. false: x is gone. */
static bool drain_queue(stdio_proc *pr, stdio_exchange *x)
{
    json_t *q = pr->queue;
    pr->queue = NULL;
    pr->queue_bytes = 0;
    size_t i;
    json_t *m;
    bool alive = true;
    json_array_foreach(q, i, m)
        if (!(alive = x_send(x, m)))
            break;
    json_decref(q);
    return alive;
}

static void route_one(stdio_proc *pr, json_t *msg)
{
    json_t *method = json_object_get(msg, "method");
    json_t *id = json_object_get(msg, "id");
    if (!method) { /* a response */
        pending_req *pq = json_is_integer(id) ? find_pending(pr, json_integer_value(id)) : NULL;
        if (!pq) {
            mt_logs(MT_LOG_WARN, "stdio", "server answered an id it was not asked; dropped",
                    NULL);
            return;
        }
        stdio_exchange *x = pq->x;
        json_object_set(msg, "id", pq->orig_id);
        pend_clear(pq);
        *pq = pr->pend[--pr->npend];
        if (!x) /* the sidecar's own request (the opening ping) */
            return;
        if (x->modern && !x->headers_sent && x->outstanding == 1 && !x->batch) {
            int st = mt_mcp_error_http_status(msg);
            if (st) {
                x->sse = false;
                x->json_status = st;
            }
        }
        if (x_send(x, msg) && x->outstanding && --x->outstanding == 0)
            x_finish(x);
        return;
    }
    json_t *params = json_object_get(msg, "params");
    if (!id) {
        json_t *ptok = json_object_get(params, "progressToken");
        pending_req *tq = find_by_token(pr, ptok);
        if (ptok && !tq) { /* a finished request's progress: its token is the process's own */
            mt_logs(MT_LOG_DEBUG, "stdio", "progress for no request in flight; dropped", NULL);
            return;
        }
        stdio_exchange *x = tq ? tq->x : NULL;
        if (tq) /* the client's own token back */
            json_object_set(params, "progressToken", tq->orig_token);
        json_t *meta = json_object_get(params, "_meta");
        json_t *sub = json_object_get(meta, SUBSCRIPTION_META);
        if (!x && pr->modern && json_is_integer(sub)) {
            pending_req *pq = find_pending(pr, json_integer_value(sub));
            if (pq) {
                json_object_set(meta, SUBSCRIPTION_META, pq->orig_id);
                x = pq->x;
            }
        }
        if (x) {
            (void)x_send(x, msg);
            return;
        }
    }
    deliver_unsolicited(pr, msg);
}

static void proc_line(void *arg, char *line, size_t len)
{
    stdio_proc *pr = arg;
    json_error_t jerr;
    json_t *m = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!m || !(json_is_object(m) || json_is_array(m))) {
        char head[161];
        snprintf(head, sizeof head, "%.160s", line);
        mt_logs(MT_LOG_ERROR, "stdio", "server wrote a line that is not JSON-RPC on stdout; "
                "stopping it", "line", head, NULL);
        json_decref(m);
        mt_child_stop(pr->child, "writing a line that is not JSON-RPC to stdout");
        return;
    }
    if (json_is_array(m)) {
        size_t i;
        json_t *e;
        json_array_foreach(m, i, e)
            if (json_is_object(e))
                route_one(pr, e);
    } else {
        route_one(pr, m);
    }
    json_decref(m);
}

static void proc_exit(void *arg, const mt_child_exit *ex)
{
    stdio_proc *pr = arg;
    stdio_hub *hub = pr->hub;
    pr->exited = true;
    char how[200];
    mt_child_describe_exit(ex, how, sizeof how);
    char pid[24];
    snprintf(pid, sizeof pid, "%d", (int)mt_child_pid(pr->child));
    bool owed = pr->npend > 0;
    /* the shared process comes back on the next request, after the back-off */
    int64_t restart_in = -1;
    if (pr->modern) {
        int64_t up = now_ms() - pr->started_ms;
        if (up >= BACKOFF_RESET_AFTER_MS || hub->backoff_ms == 0)
            hub->backoff_ms = hub->p->cfg->upstream_restart_backoff_ms;
        restart_in = hub->backoff_ms;
        hub->not_before_ms = now_ms() + hub->backoff_ms;
        hub->backoff_ms = hub->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                              : hub->backoff_ms * 2;
        hub->restarts++;
    }
    bool clean = ex->exited && ex->code == 0 && !ex->protocol && !owed;
    mt_logs(clean ? MT_LOG_INFO : MT_LOG_WARN, "stdio", "server process ended", "pid", pid,
            "how", how, "mcp_session_id", pr->session_id[0] ? pr->session_id : NULL, NULL);
    if (!clean || pr->modern) {
        json_t *info = json_pack("{s:s, s:I, s:s, s:b}", "pid", pid, "requests_unanswered",
                                 (json_int_t)pr->npend, "how", how, "shared", pr->modern);
        if (info && restart_in >= 0)
            json_object_set_new(info, "restart_in_ms", json_integer(restart_in));
        if (info)
            record_proc_event(pr, "upstream_exit", info);
    }
    char msg[256];
    snprintf(msg, sizeof msg, "MCP server process %s", how);
    while (pr->xs_head) {
        stdio_exchange *x = pr->xs_head;
        if (x->get_stream) {
            x->outstanding = 0;
            x_finish(x);
        } else {
            x_fail(x, msg, "upstream_exited");
        }
    }
    proc_unlink(pr);
    proc_free(pr);
}

/* ---- sending a request --------------------------------------------------- */

/* A body's messages: msg itself, or each element of a batch. */
static size_t msg_count(const json_t *msg)
{
    return json_is_array(msg) ? json_array_size(msg) : 1;
}

static json_t *msg_at(json_t *msg, size_t i)
{
    return json_is_array(msg) ? json_array_get(msg, i) : msg;
}

/* Rewrites the requests of msg (object or array) to fresh wire ids and
 * registers them for x. false: too many in flight. */
static bool register_requests(stdio_proc *pr, stdio_exchange *x, json_t *msg)
{
    for (size_t i = 0, n = msg_count(msg); i < n; i++) {
        json_t *m = msg_at(msg, i);
        json_t *id = json_object_get(m, "id");
        json_t *params = json_object_get(m, "params");
        if (!json_is_object(m) || !json_object_get(m, "method") || !id)
            continue;
        if (pr->npend >= (size_t)pr->hub->p->cfg->upstream_max_pending)
            return false;
        if (pr->npend == pr->cap) {
            size_t nc = pr->cap ? pr->cap * 2 : 16;
            pending_req *np = realloc(pr->pend, nc * sizeof *np);
            if (!np)
                return false;
            pr->pend = np;
            pr->cap = nc;
        }
        pending_req *pq = &pr->pend[pr->npend++];
        pq->wire_id = pr->next_id++;
        pq->orig_id = json_incref(id);
        /* progress tokens are the client's too: unique per process like ids */
        json_t *meta = json_object_get(params, "_meta");
        json_t *token = json_object_get(meta, "progressToken");
        pq->orig_token = token ? json_incref(token) : NULL;
        pq->token = token ? json_integer(pq->wire_id) : NULL;
        if (token)
            json_object_set(meta, "progressToken", pq->token);
        pq->x = x;
        json_object_set_new(m, "id", json_integer(pq->wire_id));
        x->outstanding++;
    }
    return true;
}

/* notifications/cancelled of a client request: the wire id it got, when it
 * is one of this 2025 session process's (else the notification is not
 * forwarded; for the shared 2026-07-28 process never: a 2026-07-28 client
 * cancels by closing its stream, and the sidecar then tells the process). */
static bool translate_cancel(stdio_proc *pr, json_t *m)
{
    if (pr->modern) /* ids are not unique across its clients; a client that leaves cancels */
        return false;
    json_t *params = json_object_get(m, "params");
    json_t *rid = json_object_get(params, "requestId");
    for (size_t i = 0; rid && i < pr->npend; i++)
        if (json_equal(pr->pend[i].orig_id, rid)) {
            json_object_set_new(params, "requestId", json_integer(pr->pend[i].wire_id));
            return true;
        }
    return false;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    stdio_exchange *x = arg;
    x_cancel_pending(x, "request timed out");
    mt_logs(MT_LOG_WARN, "stdio", "request to the stdio server timed out", NULL);
    x_fail(x, "MCP server did not answer within limits.request_timeout", "upstream_timeout");
}

/* Queues msg's messages for the server's stdin. false: one could not be
 * (a server that does not read, or one that is stopping). */
static bool send_messages(stdio_proc *pr, json_t *msg)
{
    /* all or nothing: a request is never left half-sent in a batch */
    size_t total = 0;
    for (size_t i = 0, n = msg_count(msg); i < n; i++)
        total += json_dumpb(msg_at(msg, i), NULL, 0, JSON_COMPACT) + 1;
    if (!mt_child_running(pr->child) ||
        mt_child_buffered(pr->child) + total > (size_t)pr->hub->p->cfg->upstream_max_buffered) {
        mt_logs(MT_LOG_WARN, "stdio", "messages not queued: the server is not taking them", NULL);
        return false;
    }
    bool all = true;
    for (size_t i = 0, n = msg_count(msg); i < n; i++) {
        json_t *m = msg_at(msg, i);
        const char *method = json_string_value(json_object_get(m, "method"));
        if (method && !json_object_get(m, "id") &&
            strcmp(method, "notifications/cancelled") == 0 && !translate_cancel(pr, m))
            continue;
        char *t = json_dumps(m, JSON_COMPACT);
        mt_err err = t ? mt_child_send(pr->child, t, strlen(t)) : MT_ERR_NOMEM;
        free(t);
        if (err != MT_OK) {
            mt_logs(MT_LOG_WARN, "stdio", "message not queued for the server's stdin", "error",
                    mt_errname(err), NULL);
            all = false;
        }
    }
    return all;
}

static stdio_exchange *x_new(fwd *f, stdio_proc *pr)
{
    stdio_exchange *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->f = f;
    x->proc = pr;
    f->sx = x;
    x->prev = pr->xs_tail;
    if (pr->xs_tail)
        pr->xs_tail->next = x;
    else
        pr->xs_head = x;
    pr->xs_tail = x;
    if (pr->idle_ev) {
        struct timeval tv;
        set_tv(&tv, pr->hub->p->cfg->upstream_session_idle_ms);
        event_add(pr->idle_ev, &tv);
    }
    return x;
}

static bool has_request(json_t *msg)
{
    for (size_t i = 0, n = msg_count(msg); i < n; i++) {
        json_t *m = msg_at(msg, i);
        if (json_object_get(m, "method") && json_object_get(m, "id"))
            return true;
    }
    return false;
}

static bool is_initialize(json_t *msg)
{
    json_t *m = msg_at(msg, 0);
    const char *method = json_string_value(json_object_get(m, "method"));
    return method && strcmp(method, "initialize") == 0 && json_object_get(m, "id");
}

static void open_get_stream(fwd *f, stdio_proc *pr)
{
    if (pr->get) {
        reply_later(f, 409, "Conflict", -32000,
                    "Conflict: only one SSE stream is allowed per session");
        return;
    }
    stdio_exchange *x = x_new(f, pr);
    if (!x) {
        proxy_up_done(f, 0, NULL, NULL);
        return;
    }
    x->get_stream = true;
    x->sse = true;
    pr->get = x;
    if (x_start_sse(x))
        (void)drain_queue(pr, x);
}

static void stdio_start(fwd *f, struct evhttp_request *creq)
{
    stdio_hub *hub = f->p->stdio;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(creq);
    bool modern = f->tr == &proxy_transport_stateless;
    const char *sid = evhttp_find_header(evhttp_request_get_input_headers(creq),
                                         "Mcp-Session-Id");
    if (cmd != EVHTTP_REQ_POST && (modern || !sid)) {
        reply_later(f, 405, "Method Not Allowed", -32000,
                    modern ? "Method not allowed: this server is stateless"
                           : "Method not allowed: the stdio upstream serves Streamable "
                             "HTTP (GET needs an Mcp-Session-Id)");
        return;
    }
    stdio_proc *pr = NULL;
    if (sid && !modern) {
        pr = find_session(hub, sid);
        if (!pr) {
            reply_later(f, 404, "Not Found", -32001, "Session not found");
            return;
        }
        if (cmd == EVHTTP_REQ_DELETE) {
            mt_logs(MT_LOG_INFO, "stdio", "MCP session deleted; stopping its server",
                    "mcp_session_id", sid, NULL);
            mt_child_stop(pr->child, NULL);
            pr->exited = true; /* no new request reaches it */
            reply_later(f, 200, "OK", 0, NULL);
            return;
        }
        if (cmd == EVHTTP_REQ_GET) {
            open_get_stream(f, pr);
            return;
        }
        if (cmd != EVHTTP_REQ_POST) {
            reply_later(f, 405, "Method Not Allowed", -32000, "Method not allowed");
            return;
        }
    }
    struct evbuffer *in = f->fwd_body ? f->fwd_body : evhttp_request_get_input_buffer(creq);
    size_t len = evbuffer_get_length(in);
    json_error_t jerr;
    json_t *msg = len ? json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, &jerr) : NULL;
    evbuffer_drain(in, len);
    if (!msg || !(json_is_object(msg) || json_is_array(msg))) {
        json_decref(msg);
        reply_later(f, 400, "Bad Request", -32700, "Parse error");
        return;
    }
    if (!pr && !modern) {
        if (!is_initialize(msg)) {
            json_decref(msg);
            reply_later(f, 400, "Bad Request", -32000,
                        "Bad Request: Mcp-Session-Id header is required");
            return;
        }
        mt_errbuf eb = {{0}};
        if (!(pr = proc_start(hub, false, &eb))) {
            mt_logs(MT_LOG_ERROR, "stdio", "cannot start a server for a new MCP session",
                    "error", eb.msg, NULL);
            json_decref(msg);
            reply_later(f, 503, "Service Unavailable", RPC_SERVER_ERROR,
                        "MCP server process could not be started");
            return;
        }
    }
    if (modern) {
        pr = hub->modern;
        if (pr && !mt_child_running(pr->child)) { /* stopping: the next one takes over */
            hub->modern = NULL;
            pr = NULL;
        }
        if (!pr && now_ms() < hub->not_before_ms) {
            json_decref(msg);
            reply_later(f, 503, "Service Unavailable", RPC_SERVER_ERROR,
                        "MCP server process is restarting");
            return;
        }
        mt_errbuf eb = {{0}};
        if (!pr && !(pr = proc_start(hub, true, &eb))) {
            mt_logs(MT_LOG_ERROR, "stdio", "cannot start the shared server", "error", eb.msg,
                    NULL);
            json_decref(msg);
            reply_later(f, 503, "Service Unavailable", RPC_SERVER_ERROR,
                        "MCP server process could not be started");
            return;
        }
    }
    if (mt_child_buffered(pr->child) > (size_t)f->p->cfg->upstream_max_buffered / 2 &&
        has_request(msg)) {
        json_decref(msg);
        reply_later(f, 429, "Too Many Requests", RPC_SERVER_ERROR,
                    "MCP server is not reading its input");
        return;
    }
    if (!has_request(msg)) {
        bool sent = send_messages(pr, msg);
        json_decref(msg);
        if (sent)
            reply_later(f, 202, "Accepted", 0, NULL);
        else
            reply_later(f, 503, "Service Unavailable", RPC_SERVER_ERROR,
                        "MCP server process is not taking messages");
        return;
    }
    stdio_exchange *x = x_new(f, pr);
    if (!x) {
        json_decref(msg);
        proxy_up_done(f, 0, NULL, NULL);
        return;
    }
    const char *accept = evhttp_find_header(evhttp_request_get_input_headers(creq), "Accept");
    x->sse = accept && strstr(accept, "text/event-stream") != NULL;
    x->batch = json_is_array(msg);
    x->results = json_array();
    if (!pr->modern && is_initialize(msg))
        snprintf(x->session_id, sizeof x->session_id, "%s", pr->session_id);
    if (!register_requests(pr, x, msg)) {
        json_decref(msg);
        x_free(x);
        reply_later(f, 429, "Too Many Requests", RPC_SERVER_ERROR,
                    "too many requests in flight to the MCP server (upstream.max_pending)");
        return;
    }
    bool sent = send_messages(pr, msg);
    json_decref(msg);
    if (!sent) { /* the requests cannot reach the server: answered now, not timed out */
        x->modern = pr->modern;
        x_fail(x, "MCP server process is not taking requests", "upstream_unavailable");
        return;
    }
    x->modern = pr->modern;
    if (x->sse && !pr->modern && (!x_start_sse(x) || !drain_queue(pr, x)))
        return;
    x->ev = evtimer_new(f->p->base, on_timeout, x);
    x_arm_timeout(x);
}

/* limits.request_timeout bounds the wait for the next message of a request
 * stream (as between the events of an HTTP upstream's stream). */
static void x_arm_timeout(stdio_exchange *x)
{
    if (!x->ev || x->get_stream || !x->outstanding)
        return;
    struct timeval tv;
    set_tv(&tv, x->f->p->cfg->request_timeout_ms);
    event_add(x->ev, &tv);
}

/* The client left (or a stream event was not recorded): the process is
 * told the requests are cancelled; a GET stream just closes. */
static void stdio_cancel(fwd *f)
{
    stdio_exchange *x = f->sx;
    if (!x)
        return;
    x_cancel_pending(x, "client disconnected");
    if (x->busy)
        x->cancelled = true; /* freed when the delivery under way returns */
    else
        x_free(x);
}

/* Back-pressure from a slow client: a 2025 session's process is its
 * client's alone, so its stdout is read no further until the client caught
 * up. The shared 2026-07-28 process is never paused for one client: one
 * that lets more than upstream.max_buffered_bytes pile up while asked to
 * wait has its stream ended (x_send). */
static void stdio_pause(fwd *f, bool paused)
{
    stdio_exchange *x = f->sx;
    stdio_proc *pr = x ? x->proc : NULL;
    if (!pr || x->paused == paused)
        return;
    x->paused = paused;
    if (!paused)
        x->backlog = 0;
    if (pr->modern)
        return; /* its backlog is bounded in x_send instead */
    if (paused && pr->paused++ == 0)
        mt_child_pause(pr->child, true);
    else if (!paused && --pr->paused == 0)
        mt_child_pause(pr->child, false);
}

static void stdio_release(fwd *f)
{
    x_free(f->sx);
}

static mt_err stdio_init(mt_proxy *p, mt_errbuf *eb)
{
    stdio_hub *hub = calloc(1, sizeof *hub);
    if (!hub)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    hub->p = p;
    p->stdio = hub;
    return MT_OK;
}

static void stdio_free(mt_proxy *p)
{
    stdio_hub *hub = p->stdio;
    if (!hub)
        return;
    size_t n = 0;
    for (stdio_proc *pr = hub->procs; pr; pr = pr->next)
        n++;
    mt_child **cs = calloc(n ? n : 1, sizeof *cs);
    size_t k = 0;
    for (stdio_proc *pr = hub->procs; cs && pr; pr = pr->next)
        cs[k++] = pr->child;
    if (cs && k) {
        char nb[24];
        snprintf(nb, sizeof nb, "%zu", k);
        mt_logs(MT_LOG_INFO, "stdio", "stopping the server processes", "count", nb, NULL);
        mt_child_shutdown(cs, k, p->cfg->upstream_stop_grace_ms);
    }
    free(cs);
    while (hub->procs) {
        stdio_proc *pr = hub->procs;
        proc_unlink(pr);
        proc_free(pr);
    }
    free(hub);
    p->stdio = NULL;
}

const proxy_upstream proxy_upstream_stdio = {
    .name = "stdio",
    .init = stdio_init,
    .free = stdio_free,
    .start = stdio_start,
    .cancel = stdio_cancel,
    .pause = stdio_pause,
    .release = stdio_release,
};
