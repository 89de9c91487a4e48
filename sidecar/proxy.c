/* Sidecar engine (see proxy.h): evhttp server, checks, forwarding and
 * streaming. Split like h2o's proxy: the engine here owns connections and
 * byte movement; checks (allow-lists, auth) are small handlers called in a
 * fixed order from on_request(); the configurator is options.c.
 *
 * One `fwd` object lives per client request that is forwarded. It has two
 * independent ends: the client request (owned by evhttp until we answer or
 * the client disconnects) and the upstream exchange (its own
 * evhttp_connection, freed from a deferred callback because libevent must
 * not free a connection inside its own callbacks). The fwd is freed when
 * both ends are finished.
 *
 * Recording goes through one gate, fwd_record(): it calls `then` once the
 * message may be released (strict: after the recorder's ack; async or no
 * recorder: at once). Nothing reaches the upstream or the client except
 * through that gate. */
#include "proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "mcptrail/jwt.h"
#include "mcptrail/log.h"
#include "recorder.h"

#define WELL_KNOWN_PRM "/.well-known/oauth-protected-resource"
#define MAX_SSE_EVENT ((size_t)16 << 20) /* one event larger than this is an upstream bug */
#define MAX_UPSTREAM_JSON ((size_t)64 << 20)

const double mt_metrics_bucket_le[MT_METRICS_NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,  0.1,    0.25,  0.5,  1,
                                                          2.5,   10};

struct mt_proxy {
    struct event_base *base;
    const mt_sidecar_config *cfg;
    mt_sidecar_metrics *m;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    SSL_CTX *ssl_ctx;
    mt_recorder *rec;      /* NULL: nothing recorded */
    mt_jwks *jwks;         /* NULL: no JWKS configured, tokens are refused */
    mt_jwt_policy policy;  /* borrows cfg's strings */
    uint16_t port;
    size_t inflight;
    void (*drained_cb)(void *arg);
    void *drained_arg;
};

static void check_drained(mt_proxy *p)
{
    if (p->drained_cb && p->inflight == 0) {
        void (*cb)(void *) = p->drained_cb;
        p->drained_cb = NULL;
        cb(p->drained_arg);
    }
}

typedef struct sse_queue_storage {
    void *head, *tail;
} sse_queue_storage;

typedef struct fwd {
    mt_proxy *p;
    struct evhttp_request *creq;     /* NULL once answered or the client left */
    struct evhttp_connection *cconn; /* client connection (closecb registered) */
    struct evhttp_request *ureq;     /* NULL once libevent finished it */
    struct evhttp_connection *uconn;
    struct timespec t0;
    char *rpc_id;      /* JSON text of the request id, for our own errors */
    char *rpc_method;
    mt_rec_session *session;
    unsigned pending_acks;   /* recorder callbacks still to come */
    bool record_failed;
    sse_queue_storage queue; /* SSE events waiting for their ack, in order */
    const char *method_name; /* "POST"... (static) */
    char *path;
    char *protocol_version;
    char *traceparent;
    int reply_code;          /* JSON response held for its ack */
    json_t *identity;  /* SessionEvent identity of the authenticated caller */
    int status;        /* upstream status */
    bool sse;          /* response is text/event-stream, relayed per event */
    bool started;      /* reply headers sent to the client */
    bool upstream_done;
    bool client_done;
    bool paused;       /* upstream reads disabled for back-pressure */
    bool free_scheduled;
    struct evbuffer *pending; /* SSE bytes not yet forming a whole event, or JSON body */
} fwd;

/* --- small helpers -------------------------------------------------------- */

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void count_reply(mt_proxy *p, int code, const struct timespec *t0)
{
    if (code >= 0 && code < 600)
        p->m->requests_by_code[code]++;
    if (!t0)
        return;
    double s = elapsed_s(t0);
    p->m->latency_count++;
    p->m->latency_sum_s += s;
    for (size_t i = 0; i < MT_METRICS_NBUCKETS; i++) {
        if (s <= mt_metrics_bucket_le[i]) {
            p->m->latency_buckets[i]++;
            break;
        }
    }
}

/* Sends a JSON body (stolen) with status code. */
static void send_json(mt_proxy *p, struct evhttp_request *req, int code, const char *reason,
                      json_t *body, const struct timespec *t0)
{
    struct evbuffer *out = evbuffer_new();
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
    evhttp_add_header(oh, "Content-Type", "application/json");
    evhttp_add_header(oh, "Cache-Control", "no-store");
    if (out && text)
        evbuffer_add(out, text, strlen(text));
    evhttp_send_reply(req, code, reason, out);
    count_reply(p, code, t0);
    free(text);
    if (out)
        evbuffer_free(out);
}

static void send_http_error(mt_proxy *p, struct evhttp_request *req, int code,
                            const char *reason, const char *error, const char *description)
{
    send_json(p, req, code, reason,
              json_pack("{s:s, s:s}", "error", error, "error_description", description), NULL);
}

/* JSON-RPC error answered by the sidecar itself (HTTP 200 would hide the
 * failure from plain HTTP monitoring, so the status says what happened). */
static void send_rpc_error(mt_proxy *p, struct evhttp_request *req, int http_code,
                           const char *reason, const char *rpc_id, const char *message,
                           const char *condition, const struct timespec *t0)
{
    json_t *id = rpc_id ? json_loads(rpc_id, JSON_DECODE_ANY, NULL) : NULL;
    json_t *body = json_pack("{s:s, s:o, s:{s:i, s:s, s:{s:s}}}", "jsonrpc", "2.0", "id",
                             id ? id : json_null(), "error", "code", MT_RPC_INTERNAL_ERROR,
                             "message", message, "data", "mcptrail", condition);
    send_json(p, req, http_code, reason, body, t0);
}

static const char *header(struct evhttp_request *req, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

/* Host without its port ("[::1]:80" -> "[::1]"); out bounded by outlen. */
static void host_only(const char *host, char *out, size_t outlen)
{
    size_t n = strlen(host);
    const char *colon = strrchr(host, ':');
    if (colon && (host[0] != '[' || (colon > host && colon[-1] == ']')))
        n = (size_t)(colon - host);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, host, n);
    out[n] = '\0';
}

static bool list_has(const mt_strlist *l, const char *v)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], "*") == 0 || strcasecmp(l->items[i], v) == 0)
            return true;
    return false;
}

/* --- checks (handlers) ---------------------------------------------------- */

static bool check_host_origin(mt_proxy *p, struct evhttp_request *req)
{
    const char *host = header(req, "Host");
    char h[256];
    if (!host) {
        send_http_error(p, req, 403, "Forbidden", "host_not_allowed", "missing Host header");
        return false;
    }
    host_only(host, h, sizeof h);
    if (!list_has(&p->cfg->allowed_hosts, host) && !list_has(&p->cfg->allowed_hosts, h)) {
        mt_logs(MT_LOG_WARN, "proxy", "Host not allowed", "host", host, NULL);
        send_http_error(p, req, 403, "Forbidden", "host_not_allowed",
                        "Host header is not in http.allowed_hosts");
        return false;
    }
    const char *origin = header(req, "Origin");
    if (origin && !list_has(&p->cfg->allowed_origins, origin)) {
        mt_logs(MT_LOG_WARN, "proxy", "Origin not allowed", "origin", origin, NULL);
        send_http_error(p, req, 403, "Forbidden", "origin_not_allowed",
                        "Origin header is not in http.allowed_origins");
        return false;
    }
    return true;
}

/* Base URL of this resource as the client sees it. */
static void self_url(mt_proxy *p, struct evhttp_request *req, const char *path, char *out,
                     size_t outlen)
{
    const char *host = header(req, "Host");
    snprintf(out, outlen, "%s://%s%s", p->ssl_ctx ? "https" : "http", host ? host : "localhost",
             path);
}

static void metadata_url(mt_proxy *p, struct evhttp_request *req, char *out, size_t outlen)
{
    if (p->cfg->resource_metadata_url)
        snprintf(out, outlen, "%s", p->cfg->resource_metadata_url);
    else
        self_url(p, req, WELL_KNOWN_PRM, out, outlen);
}

/* RFC 9728 protected resource metadata. */
static void serve_resource_metadata(mt_proxy *p, struct evhttp_request *req)
{
    char resource[1024];
    if (p->cfg->resource_url)
        snprintf(resource, sizeof resource, "%s", p->cfg->resource_url);
    else
        self_url(p, req, "/mcp", resource, sizeof resource);
    json_t *doc = json_object();
    json_t *as = json_array(), *algs = json_array();
    for (size_t i = 0; i < p->cfg->authorization_servers.n; i++)
        json_array_append_new(as, json_string(p->cfg->authorization_servers.items[i]));
    if (p->cfg->auth_issuer && p->cfg->authorization_servers.n == 0)
        json_array_append_new(as, json_string(p->cfg->auth_issuer));
    for (size_t i = 0; i < p->cfg->auth_algs.n; i++)
        json_array_append_new(algs, json_string(p->cfg->auth_algs.items[i]));
    json_object_set_new(doc, "resource", json_string(resource));
    json_object_set_new(doc, "authorization_servers", as);
    json_object_set_new(doc, "bearer_methods_supported", json_pack("[s]", "header"));
    json_object_set_new(doc, "resource_signing_alg_values_supported", algs);
    json_object_set_new(doc, "resource_name", json_string("mcptrail-protected MCP server"));
    send_json(p, req, 200, "OK", doc, NULL);
}

typedef enum auth_result { AUTH_OK, AUTH_MISSING, AUTH_INVALID } auth_result;

/* Authentication: a Bearer JWT verified against the JWKS and the auth.*
 * policy. A request without a token passes only when auth.anonymous is set;
 * a token that cannot be verified (no JWKS, bad signature, claims) never
 * counts as authenticated. On success *identity is the SessionEvent
 * identity JSON (new reference). */
static auth_result proxy_authenticate(mt_proxy *p, struct evhttp_request *req,
                                      json_t **identity, const char **why, mt_errbuf *eb)
{
    const char *authz = header(req, "Authorization");
    if (!authz || authz[0] == '\0') {
        *why = "no bearer token";
        if (!p->cfg->auth_anonymous)
            return AUTH_MISSING;
        *identity = json_pack("{s:n, s:n, s:n, s:s, s:n, s:n}", "issuer", "subject",
                              "audience", "auth_method", "anonymous", "token_fingerprint", "ci");
        return AUTH_OK;
    }
    if (strncasecmp(authz, "Bearer ", 7) != 0) {
        *why = "Authorization is not a Bearer token";
        return AUTH_INVALID;
    }
    if (!p->jwks) {
        *why = "no JWKS configured (auth.jwks_file)";
        return AUTH_INVALID;
    }
    const char *tok = authz + 7;
    while (*tok == ' ')
        tok++;
    mt_identity id;
    if (mt_jwt_verify(p->jwks, &p->policy, tok, strlen(tok), (int64_t)time(NULL), &id, eb) !=
        MT_OK) {
        *why = eb->msg;
        return AUTH_INVALID;
    }
    *identity = mt_identity_to_json(&id);
    mt_identity_free(&id);
    return *identity ? AUTH_OK : AUTH_INVALID;
}

static void send_unauthorized(mt_proxy *p, struct evhttp_request *req, auth_result r,
                              const char *why)
{
    char url[1024], www[1280];
    metadata_url(p, req, url, sizeof url);
    if (r == AUTH_MISSING)
        snprintf(www, sizeof www, "Bearer resource_metadata=\"%s\"", url);
    else
        snprintf(www, sizeof www,
                 "Bearer error=\"invalid_token\", resource_metadata=\"%s\"", url);
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", www);
    mt_logs(MT_LOG_INFO, "auth", "request refused", "reason", why, NULL);
    send_http_error(p, req, 401, "Unauthorized",
                    r == AUTH_MISSING ? "unauthorized" : "invalid_token", why);
}

/* --- forwarding ----------------------------------------------------------- */

static const char *const fwd_request_headers[] = {
    "Content-Type", "Accept",   "Mcp-Session-Id", "MCP-Protocol-Version", "Last-Event-ID",
    "Mcp-Method",   "Mcp-Name", "traceparent",    "tracestate",           NULL,
};
static const char *const fwd_response_headers[] = {
    "Content-Type", "Mcp-Session-Id", "MCP-Protocol-Version", "Cache-Control", NULL,
};

static void copy_headers(struct evkeyvalq *from, struct evkeyvalq *to,
                         const char *const *names)
{
    for (size_t i = 0; names[i]; i++) {
        const char *v = evhttp_find_header(from, names[i]);
        if (v)
            evhttp_add_header(to, names[i], v);
    }
}

static void fwd_maybe_free(fwd *f);
static void start_upstream(fwd *f, struct evhttp_request *creq);

static void fwd_free_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fwd *f = arg;
    if (f->uconn)
        evhttp_connection_free(f->uconn);
    if (f->pending)
        evbuffer_free(f->pending);
    mt_proxy *p = f->p;
    p->inflight--;
    free(f->rpc_id);
    free(f->rpc_method);
    free(f->path);
    free(f->protocol_version);
    free(f->traceparent);
    if (f->session)
        mt_rec_session_release(p->rec, f->session);
    json_decref(f->identity);
    free(f);
    check_drained(p);
}

/* Frees f from a fresh loop iteration once both ends are finished. */
static void fwd_maybe_free(fwd *f)
{
    if (!f->upstream_done || !f->client_done || f->pending_acks || f->free_scheduled)
        return;
    f->free_scheduled = true;
    if (f->cconn)
        evhttp_connection_set_closecb(f->cconn, NULL, NULL);
    struct timeval now = {0, 0};
    if (event_base_once(f->p->base, -1, EV_TIMEOUT, fwd_free_cb, f, &now) != 0)
        mt_logs(MT_LOG_ERROR, "proxy", "cannot schedule request cleanup (leaked)", NULL);
}

static void client_finished(fwd *f)
{
    f->creq = NULL;
    f->client_done = true;
    fwd_maybe_free(f);
}

/* The client disconnected: abandon the upstream exchange. */
static void on_client_close(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    fwd *f = arg;
    f->cconn = NULL;
    if (f->creq)
        mt_logs(MT_LOG_INFO, "proxy", "client left before the response ended", NULL);
    if (!f->upstream_done && f->ureq) {
        evhttp_cancel_request(f->ureq);
        f->ureq = NULL;
        f->upstream_done = true;
    }
    if (f->creq && f->started)
        count_reply(f->p, f->status, &f->t0);
    f->creq = NULL;
    f->client_done = true;
    fwd_maybe_free(f);
}

static void resume_upstream(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    fwd *f = arg;
    if (f->paused && f->uconn && !f->upstream_done) {
        f->paused = false;
        bufferevent_enable(evhttp_connection_get_bufferevent(f->uconn), EV_READ);
    }
}

/* Relays one complete SSE event (raw bytes, byte for byte) to the client.
 * When the client's output buffer is above the high-water mark, upstream
 * reads pause until this chunk has been written out. */
static void sse_send_event(fwd *f, const void *raw, size_t len)
{
    if (!f->creq)
        return;
    struct evbuffer *chunk = evbuffer_new();
    if (!chunk)
        return;
    evbuffer_add(chunk, raw, len);
    struct evhttp_connection *cc = evhttp_request_get_connection(f->creq);
    struct bufferevent *cbev = cc ? evhttp_connection_get_bufferevent(cc) : NULL;
    bool over = cbev && evbuffer_get_length(bufferevent_get_output(cbev)) + len >
                            MT_PROXY_CLIENT_HIGH_WATER;
    if (over && f->uconn && !f->upstream_done) {
        f->paused = true;
        bufferevent_disable(evhttp_connection_get_bufferevent(f->uconn), EV_READ);
        evhttp_send_reply_chunk_with_cb(f->creq, chunk, resume_upstream, f);
    } else {
        evhttp_send_reply_chunk(f->creq, chunk);
    }
    evbuffer_free(chunk);
}

/* Length of the first complete event in buf (through its blank line), or 0.
 * Accepts LF, CRLF and CR line ends as the SSE grammar does. */
static size_t sse_event_end(struct evbuffer *buf)
{
    size_t len = evbuffer_get_length(buf);
    if (len < 2)
        return 0;
    unsigned char *d = evbuffer_pullup(buf, -1);
    for (size_t i = 0; i + 1 < len; i++) {
        if (d[i] == '\n' && d[i + 1] == '\n')
            return i + 2;
        if (d[i] == '\r' && d[i + 1] == '\n') {
            if (i + 3 < len && d[i + 2] == '\r' && d[i + 3] == '\n')
                return i + 4;
            if (i + 2 < len && d[i + 2] == '\n')
                return i + 3;
        } else if (d[i] == '\r' && d[i + 1] == '\r') {
            return i + 2;
        } else if (d[i] == '\n' && d[i + 1] == '\r' && i + 2 < len && d[i + 2] != '\n') {
            return i + 2;
        }
    }
    return 0;
}

/* --- recording gate ------------------------------------------------------- */

typedef struct sse_node {
    fwd *f;
    struct sse_node *next;
    struct evbuffer *raw;
    bool acked;
    mt_err err;
} sse_node;

/* fwd's strict-SSE queue lives in a side list: head/tail pointers. */
typedef struct sse_queue {
    sse_node *head, *tail;
} sse_queue;

static sse_queue *fwd_queue(fwd *f)
{
    _Static_assert(sizeof(sse_queue) == sizeof(sse_queue_storage), "queue layout");
    return (sse_queue *)(void *)&f->queue;
}

static void fill_event(fwd *f, mt_rec_event *ev, const char *kind, const char *direction,
                       int status, const void *payload, size_t len)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->direction = direction;
    ev->identity = f->identity;
    ev->http.method = f->method_name;
    ev->http.path = f->path;
    ev->http.status = status;
    ev->http.protocol_version = f->protocol_version;
    ev->rpc.present = f->rpc_id != NULL || f->rpc_method != NULL;
    ev->rpc.id = f->rpc_id;
    ev->rpc.method = f->rpc_method;
    ev->payload = payload;
    ev->payload_len = len;
    ev->latency_us = status ? (int64_t)(elapsed_s(&f->t0) * 1e6) : -1;
    ev->traceparent = f->traceparent;
}

/* Emits with a NUL-terminated copy of the payload: the masking code treats
 * non-JSON payloads as C strings. cb runs exactly once (see recorder.h). */
static void emit_payload(fwd *f, mt_rec_event *ev, const void *payload, size_t len,
                         mt_rec_done_cb cb, void *arg)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        f->pending_acks++;
        cb(arg, MT_ERR_NOMEM);
        return;
    }
    if (len)
        memcpy(copy, payload, len);
    copy[len] = '\0';
    ev->payload = len ? copy : NULL;
    ev->payload_len = len;
    f->pending_acks++;
    (void)mt_rec_emit(f->p->rec, f->session, ev, cb, arg);
    free(copy);
}

static void sse_maybe_end(fwd *f)
{
    if (!f->upstream_done || fwd_queue(f)->head || !f->creq)
        return;
    evhttp_send_reply_end(f->creq);
    count_reply(f->p, f->status, &f->t0);
    client_finished(f);
}

static void sse_release(fwd *f)
{
    sse_queue *q = fwd_queue(f);
    while (q->head && q->head->acked) {
        sse_node *n = q->head;
        q->head = n->next;
        if (!q->head)
            q->tail = NULL;
        if (n->err != MT_OK && !f->record_failed) {
            /* An event that is not recorded is never released: end the
             * stream here; the client resumes with Last-Event-ID. */
            f->record_failed = true;
            mt_logs(MT_LOG_ERROR, "proxy", "SSE event not recorded; closing the stream", NULL);
            if (f->ureq) {
                evhttp_cancel_request(f->ureq);
                f->ureq = NULL;
            }
            f->upstream_done = true;
        }
        if (!f->record_failed && f->creq) {
            unsigned char *d = evbuffer_pullup(n->raw, -1);
            sse_send_event(f, d, evbuffer_get_length(n->raw));
        }
        evbuffer_free(n->raw);
        free(n);
    }
    sse_maybe_end(f);
}

static void on_sse_recorded(void *arg, mt_err err)
{
    sse_node *n = arg;
    fwd *f = n->f;
    f->pending_acks--;
    n->acked = true;
    n->err = err;
    sse_release(f);
    fwd_maybe_free(f);
}

/* Queues one SSE event; it is sent once recorded (at once without recorder
 * or in async mode), always in stream order. */
static void sse_record_event(fwd *f, const void *raw, size_t len)
{
    sse_node *n = calloc(1, sizeof *n);
    if (!n || !(n->raw = evbuffer_new())) {
        free(n);
        return;
    }
    n->f = f;
    evbuffer_add(n->raw, raw, len);
    sse_queue *q = fwd_queue(f);
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    if (!f->p->rec || !f->session) {
        n->acked = true;
        sse_release(f);
        return;
    }
    mt_rec_event ev;
    fill_event(f, &ev, "sse_event", "server_to_client", f->status, NULL, 0);
    emit_payload(f, &ev, raw, len, on_sse_recorded, n);
}

static void sse_drain(fwd *f, bool final)
{
    size_t n;
    while ((n = sse_event_end(f->pending)) > 0) {
        unsigned char *d = evbuffer_pullup(f->pending, (ev_ssize_t)n);
        sse_record_event(f, d, n);
        evbuffer_drain(f->pending, n);
    }
    size_t rest = evbuffer_get_length(f->pending);
    if (final && rest > 0) {
        /* The stream ended inside an event: pass the bytes on unchanged so
         * the relay stays byte-identical. */
        unsigned char *d = evbuffer_pullup(f->pending, -1);
        sse_record_event(f, d, rest);
        evbuffer_drain(f->pending, rest);
    } else if (rest > MAX_SSE_EVENT) {
        mt_logs(MT_LOG_ERROR, "proxy", "upstream SSE event too large; closing stream", NULL);
        if (f->ureq) {
            evhttp_cancel_request(f->ureq);
            f->ureq = NULL;
        }
        f->upstream_done = true;
        sse_maybe_end(f);
    }
}

static int on_upstream_headers(struct evhttp_request *ureq, void *arg)
{
    fwd *f = arg;
    f->status = evhttp_request_get_response_code(ureq);
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(ureq), "Content-Type");
    f->sse = ct && strncasecmp(ct, "text/event-stream", 17) == 0;
    if (!f->creq)
        return -1; /* client gone: stop */
    if (f->sse) {
        copy_headers(evhttp_request_get_input_headers(ureq),
                     evhttp_request_get_output_headers(f->creq), fwd_response_headers);
        evhttp_send_reply_start(f->creq, f->status,
                                evhttp_request_get_response_code_line(ureq));
        f->started = true;
    }
    return 0;
}

static void on_upstream_chunk(struct evhttp_request *ureq, void *arg)
{
    fwd *f = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(ureq);
    if (!f->creq) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    evbuffer_add_buffer(f->pending, in);
    if (f->sse) {
        sse_drain(f, false);
    } else if (evbuffer_get_length(f->pending) > MAX_UPSTREAM_JSON) {
        mt_logs(MT_LOG_ERROR, "proxy", "upstream response too large", NULL);
        evbuffer_drain(f->pending, evbuffer_get_length(f->pending));
    }
}

static void on_upstream_error(enum evhttp_request_error err, void *arg)
{
    fwd *f = arg;
    mt_logf(MT_LOG_WARN, "proxy", "upstream request failed (evhttp error %d)", (int)err);
    (void)f;
}

static void on_response_recorded(fwd *f, mt_err err)
{
    if (!f->creq)
        return;
    if (err != MT_OK) {
        mt_logs(MT_LOG_ERROR, "proxy", "response not recorded; not released", "error",
                mt_errname(err), NULL);
        evhttp_clear_headers(evhttp_request_get_output_headers(f->creq));
        send_rpc_error(f->p, f->creq, 503, "Service Unavailable", f->rpc_id,
                       MT_RPC_MSG_NOT_RECORDED, "not_recorded", &f->t0);
    } else {
        evhttp_send_reply(f->creq, f->reply_code, NULL, f->pending);
        count_reply(f->p, f->reply_code, &f->t0);
    }
    client_finished(f);
}

static void on_response_recorded_cb(void *arg, mt_err err)
{
    fwd *f = arg;
    f->pending_acks--;
    on_response_recorded(f, err);
    fwd_maybe_free(f);
}

static void on_upstream_done(struct evhttp_request *ureq, void *arg)
{
    fwd *f = arg;
    f->ureq = NULL; /* libevent frees it after this callback */
    f->upstream_done = true;
    int code = ureq ? evhttp_request_get_response_code(ureq) : 0;
    if (!f->creq) {
        fwd_maybe_free(f);
        return;
    }
    if (code == 0) {
        if (f->started) {
            evhttp_send_reply_end(f->creq);
            count_reply(f->p, f->status, &f->t0);
        } else {
            send_rpc_error(f->p, f->creq, 502, "Bad Gateway", f->rpc_id, MT_RPC_MSG_UPSTREAM,
                           "upstream_unavailable", &f->t0);
        }
        client_finished(f);
        return;
    }
    if (f->sse) {
        if (ureq)
            evbuffer_add_buffer(f->pending, evhttp_request_get_input_buffer(ureq));
        sse_drain(f, true);
        sse_maybe_end(f);
        return;
    }
    evbuffer_add_buffer(f->pending, evhttp_request_get_input_buffer(ureq));
    copy_headers(evhttp_request_get_input_headers(ureq),
                 evhttp_request_get_output_headers(f->creq), fwd_response_headers);
    f->reply_code = code;
    if (!f->p->rec || !f->session) {
        on_response_recorded(f, MT_OK);
        return;
    }
    mt_rec_event ev;
    size_t len = evbuffer_get_length(f->pending);
    fill_event(f, &ev, "response", "server_to_client", code, NULL, 0);
    emit_payload(f, &ev, len ? evbuffer_pullup(f->pending, -1) : NULL, len,
                 on_response_recorded_cb, f);
}

/* The id (JSON text) and method of a single JSON-RPC message, for records
 * and for errors the sidecar answers itself. */
static void request_rpc(fwd *f, struct evbuffer *body)
{
    size_t len = evbuffer_get_length(body);
    if (len == 0)
        return;
    const char *d = (const char *)evbuffer_pullup(body, -1);
    json_t *msg = json_loadb(d, len, 0, NULL);
    json_t *id = json_is_object(msg) ? json_object_get(msg, "id") : NULL;
    const char *method = json_is_object(msg) ? json_string_value(json_object_get(msg, "method"))
                                              : NULL;
    f->rpc_id = id ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    f->rpc_method = method ? strdup(method) : NULL;
    json_decref(msg);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void on_request_recorded(void *arg, mt_err err)
{
    fwd *f = arg;
    f->pending_acks--;
    if (f->creq) {
        if (err != MT_OK) {
            mt_logs(MT_LOG_ERROR, "proxy", "request not recorded; not forwarded", "error",
                    mt_errname(err), NULL);
            send_rpc_error(f->p, f->creq, 503, "Service Unavailable", f->rpc_id,
                           MT_RPC_MSG_NOT_RECORDED, "not_recorded", &f->t0);
            f->upstream_done = true;
            client_finished(f);
        } else {
            start_upstream(f, f->creq);
        }
    }
    fwd_maybe_free(f);
}

static void start_upstream(fwd *f, struct evhttp_request *creq)
{
    mt_proxy *p = f->p;
    const mt_sidecar_config *cfg = p->cfg;
    f->uconn = evhttp_connection_base_new(p->base, NULL, cfg->upstream_host,
                                          (unsigned short)cfg->upstream_port);
    f->ureq = f->uconn ? evhttp_request_new(on_upstream_done, f) : NULL;
    if (!f->ureq)
        goto fail;
    evhttp_connection_set_timeout(f->uconn, (int)((cfg->request_timeout_ms + 999) / 1000));
    evhttp_connection_set_retries(f->uconn, 0);
    evhttp_request_set_header_cb(f->ureq, on_upstream_headers);
    evhttp_request_set_chunked_cb(f->ureq, on_upstream_chunk);
    evhttp_request_set_error_cb(f->ureq, on_upstream_error);

    struct evkeyvalq *uh = evhttp_request_get_output_headers(f->ureq);
    copy_headers(evhttp_request_get_input_headers(creq), uh, fwd_request_headers);
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s:%d", cfg->upstream_host, (int)cfg->upstream_port);
    evhttp_add_header(uh, "Host", hostport);
    /* The client's token stays here; the upstream gets its own credential. */
    if (cfg->upstream_credential.value)
        evhttp_add_header(uh, "Authorization", cfg->upstream_credential.value);
    evbuffer_add_buffer(evhttp_request_get_output_buffer(f->ureq),
                        evhttp_request_get_input_buffer(creq));

    const char *uri = evhttp_request_get_uri(creq);
    char path[8192];
    int n = snprintf(path, sizeof path, "%s%s", cfg->upstream_path_prefix, uri);
    if (n < 0 || (size_t)n >= sizeof path) {
        send_http_error(p, creq, 414, "URI Too Long", "uri_too_long", "request URI too long");
        goto fail_answered;
    }
    struct evhttp_request *ureq = f->ureq;
    if (evhttp_make_request(f->uconn, ureq, evhttp_request_get_command(creq), path) != 0) {
        f->ureq = NULL; /* evhttp_make_request frees it on failure */
        goto fail;
    }
    return;

fail:
    if (f->ureq) {
        evhttp_request_free(f->ureq);
        f->ureq = NULL;
    }
    send_rpc_error(p, creq, 502, "Bad Gateway", f->rpc_id, MT_RPC_MSG_UPSTREAM,
                   "upstream_unavailable", &f->t0);
fail_answered:
    f->upstream_done = true;
    client_finished(f);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    mt_proxy *p = arg;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    if ((int64_t)p->inflight >= p->cfg->max_connections) {
        send_http_error(p, req, 503, "Service Unavailable", "overloaded",
                        "too many requests in flight (limits.max_connections)");
        return;
    }
    if (!check_host_origin(p, req))
        return;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    if (path && strncmp(path, WELL_KNOWN_PRM, strlen(WELL_KNOWN_PRM)) == 0) {
        if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
            send_http_error(p, req, 405, "Method Not Allowed", "method_not_allowed", "use GET");
            return;
        }
        serve_resource_metadata(p, req);
        return;
    }
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_POST && cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_DELETE) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, POST, DELETE");
        send_http_error(p, req, 405, "Method Not Allowed", "method_not_allowed",
                        "MCP endpoints take GET, POST and DELETE");
        return;
    }
    const char *why = NULL;
    json_t *identity = NULL;
    mt_errbuf aeb = {{0}};
    auth_result ar = proxy_authenticate(p, req, &identity, &why, &aeb);
    if (ar != AUTH_OK) {
        send_unauthorized(p, req, ar, why);
        return;
    }

    fwd *f = calloc(1, sizeof *f);
    if (!f || !(f->pending = evbuffer_new())) {
        free(f);
        json_decref(identity);
        send_http_error(p, req, 500, "Internal Server Error", "nomem", "out of memory");
        return;
    }
    f->p = p;
    f->identity = identity;
    f->t0 = t0;
    f->creq = req;
    f->cconn = evhttp_request_get_connection(req);
    p->inflight++;
    if (f->cconn)
        evhttp_connection_set_closecb(f->cconn, on_client_close, f);
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    request_rpc(f, body);
    static const char *const names[] = {"GET", "POST", "HEAD", "PUT", "DELETE",
                                         "OPTIONS", "TRACE", "CONNECT", "PATCH"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (cmd == (enum evhttp_cmd_type)(1 << i))
            f->method_name = names[i];
    f->path = dup_or_null(path);
    f->protocol_version = dup_or_null(header(req, "MCP-Protocol-Version"));
    f->traceparent = dup_or_null(header(req, "traceparent"));
    if (!p->rec) {
        start_upstream(f, req);
        return;
    }
    f->session = mt_rec_session_get(p->rec, header(req, "Mcp-Session-Id"));
    if (!f->session) {
        send_rpc_error(p, req, 503, "Service Unavailable", f->rpc_id, MT_RPC_MSG_NOT_RECORDED,
                       "no_session", &t0);
        f->upstream_done = true;
        client_finished(f);
        return;
    }
    mt_rec_event ev;
    size_t blen = evbuffer_get_length(body);
    fill_event(f, &ev, f->rpc_id || !f->rpc_method ? "request" : "notification",
               "client_to_server", 0, NULL, 0);
    emit_payload(f, &ev, blen ? evbuffer_pullup(body, -1) : NULL, blen, on_request_recorded, f);
}

/* --- TLS -------------------------------------------------------------------- */

static struct bufferevent *tls_bevcb(struct event_base *base, void *arg)
{
    mt_proxy *p = arg;
    SSL *ssl = SSL_new(p->ssl_ctx);
    if (!ssl)
        return NULL;
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static mt_err tls_setup(mt_proxy *p, mt_errbuf *eb)
{
    const mt_sidecar_config *cfg = p->cfg;
    p->ssl_ctx = SSL_CTX_new(TLS_server_method());
    if (!p->ssl_ctx)
        return mt_fail(eb, MT_ERR_CRYPTO, "SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(p->ssl_ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(p->ssl_ctx, cfg->tls_cert) != 1)
        return mt_fail(eb, MT_ERR_CONFIG, "tls.cert_file: cannot load '%s'", cfg->tls_cert);
    if (SSL_CTX_use_PrivateKey_file(p->ssl_ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(p->ssl_ctx) != 1)
        return mt_fail(eb, MT_ERR_CONFIG,
                       "tls.key_file: cannot load '%s' or it does not match the certificate",
                       cfg->tls_key);
    if (cfg->tls_client_ca) {
        if (SSL_CTX_load_verify_locations(p->ssl_ctx, cfg->tls_client_ca, NULL) != 1)
            return mt_fail(eb, MT_ERR_CONFIG, "tls.client_ca_file: cannot load '%s'",
                           cfg->tls_client_ca);
        SSL_CTX_set_verify(p->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    evhttp_set_bevcb(p->http, tls_bevcb, p);
    return MT_OK;
}

/* --- lifecycle -------------------------------------------------------------- */

mt_err mt_proxy_new(struct event_base *base, const mt_sidecar_config *cfg,
                    mt_sidecar_metrics *metrics, mt_proxy **out, mt_errbuf *eb)
{
    mt_err err = MT_OK;
    mt_proxy *p = calloc(1, sizeof *p);
    if (!p)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    p->base = base;
    p->cfg = cfg;
    p->m = metrics;
    p->http = evhttp_new(base);
    if (!p->http) {
        err = mt_fail(eb, MT_ERR_NOMEM, "evhttp_new failed");
        goto fail;
    }
    evhttp_set_max_headers_size(p->http, (ev_ssize_t)cfg->max_header_bytes);
    evhttp_set_max_body_size(p->http, (ev_ssize_t)cfg->max_body_bytes);
    struct timeval tv = {(time_t)(cfg->idle_timeout_ms / 1000),
                         (suseconds_t)((cfg->idle_timeout_ms % 1000) * 1000)};
    evhttp_set_timeout_tv(p->http, &tv);
    evhttp_set_allowed_methods(p->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(p->http, on_request, p);
    if (cfg->jwks_file) {
        if ((err = mt_jwks_load_file(cfg->jwks_file, &p->jwks, eb)) != MT_OK)
            goto fail;
        if (!cfg->auth_issuer || cfg->auth_audiences.n == 0 || cfg->auth_algs.n == 0) {
            err = mt_fail(eb, MT_ERR_CONFIG,
                          "auth.jwks_file needs auth.issuer, auth.audiences and auth.algs");
            goto fail;
        }
        p->policy.issuer = cfg->auth_issuer;
        p->policy.audiences = (const char *const *)cfg->auth_audiences.items;
        p->policy.naud = cfg->auth_audiences.n;
        p->policy.algs = (const char *const *)cfg->auth_algs.items;
        p->policy.nalgs = cfg->auth_algs.n;
        p->policy.leeway_s = cfg->auth_leeway_ms / 1000;
    }
    if (cfg->tls_cert && (err = tls_setup(p, eb)) != MT_OK)
        goto fail;
    p->bound = evhttp_bind_socket_with_handle(p->http, cfg->listen_address,
                                              (uint16_t)cfg->listen_port);
    if (!p->bound) {
        err = mt_fail(eb, MT_ERR_IO, "cannot listen on %s:%d (address in use or invalid)",
                      cfg->listen_address, (int)cfg->listen_port);
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(p->bound), (struct sockaddr *)&ss, &sl) == 0)
        p->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    *out = p;
    return MT_OK;

fail:
    mt_proxy_free(p);
    return err;
}

void mt_proxy_set_recorder(mt_proxy *p, struct mt_recorder *rec)
{
    p->rec = rec;
}

uint16_t mt_proxy_port(const mt_proxy *p)
{
    return p->port;
}

void mt_proxy_stop_accepting(mt_proxy *p)
{
    if (p->bound) {
        evhttp_del_accept_socket(p->http, p->bound);
        p->bound = NULL;
    }
}

void mt_proxy_drain(mt_proxy *p, void (*cb)(void *arg), void *arg)
{
    mt_proxy_stop_accepting(p);
    p->drained_cb = cb;
    p->drained_arg = arg;
    check_drained(p);
}

size_t mt_proxy_inflight(const mt_proxy *p)
{
    return p->inflight;
}

bool mt_proxy_auth_ready(const mt_proxy *p)
{
    return !p->cfg->jwks_file || p->jwks;
}

void mt_proxy_free(mt_proxy *p)
{
    if (!p)
        return;
    if (p->http)
        evhttp_free(p->http);
    if (p->ssl_ctx)
        SSL_CTX_free(p->ssl_ctx);
    mt_jwks_free(p->jwks);
    free(p);
}
