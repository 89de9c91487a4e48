/* Sidecar engine (see proxy.h): evhttp server, checks, forwarding and
 * streaming. Split like h2o's proxy: the engine here owns connections and
 * byte movement; checks (allow-lists, auth) are small handlers called in a
 * fixed order from on_request(); the configurator is options.c; approval
 * holds are in proxy_hold.c, and the layouts both files share in
 * proxy_internal.h.
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
#include "proxy_internal.h"
#include "transport.h"
#include "upstream.h"

#include <arpa/inet.h>
#include <errno.h>
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

#include "mcptrail/crypto.h"
#include "mcptrail/jwt.h"
#include "mcptrail/log.h"
#include "mcptrail/policy.h"
#include "hold.h"
#include "jwks_fetch.h"
#include "mcp.h"
#include "mtls.h"
#include "recorder.h"
#include "sse.h"

#define WELL_KNOWN_PRM "/.well-known/oauth-protected-resource"
#define MAX_SSE_EVENT ((size_t)16 << 20) /* one event larger than this is an upstream bug */
#define MAX_UPSTREAM_JSON ((size_t)64 << 20)
#define REASON_UPSTREAM_RESET "upstream reset the SSE stream mid-event"
#define TOKEN_CACHE_TTL_S 60    /* a cached verification is redone at least this often */


static void pol_release(pol_ref *r)
{
    if (r && --r->refs == 0) {
        mt_policy_free(r->pol);
        free(r);
    }
}


const double mt_metrics_bucket_le[MT_METRICS_NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,  0.1,    0.25,  0.5,  1,
                                                          2.5,   10};


static void check_drained(mt_proxy *p)
{
    if (p->drained_cb && p->inflight == 0) {
        void (*cb)(void *) = p->drained_cb;
        p->drained_cb = NULL;
        cb(p->drained_arg);
    }
}



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

/* With http.allowed_origins unset, an Origin whose host[:port] is an allowed
 * Host is accepted (the same-site case browsers send, as the MCP SDKs'
 * localhost protection does); a configured list is exact. */
static bool origin_is_allowed_host(mt_proxy *p, const char *origin)
{
    if (p->cfg->allowed_origins.n > 0)
        return false;
    const char *hp = strstr(origin, "://");
    if (!hp)
        return false;
    hp += 3;
    char hostport[256], h[256];
    size_t n = strcspn(hp, "/");
    if (n == 0 || n >= sizeof hostport)
        return false;
    memcpy(hostport, hp, n);
    hostport[n] = '\0';
    host_only(hostport, h, sizeof h);
    return list_has(&p->cfg->allowed_hosts, hostport) || list_has(&p->cfg->allowed_hosts, h);
}

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
    if (origin && !list_has(&p->cfg->allowed_origins, origin) && !origin_is_allowed_host(p, origin)) {
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

/* The verified client certificate of req's TLS connection, or NULL (plain
 * HTTP, no tls.client_ca_file, or the client sent none). OpenSSL already
 * refused the handshake of a certificate that does not verify. */
static X509 *client_cert(mt_proxy *p, struct evhttp_request *req)
{
    if (!p->ssl_ctx || !p->cfg->tls_client_ca)
        return NULL;
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    if (!ssl || SSL_get_verify_result(ssl) != X509_V_OK)
        return NULL;
    return SSL_get0_peer_certificate(ssl);
}

/* Authentication: a Bearer JWT verified against the JWKS and the auth.*
 * policy. A bearer token, when sent, decides alone (a verified client
 * certificate does not rescue a bad token). A request without a token is
 * identified by its verified mTLS client certificate, else passes only when
 * auth.anonymous is set; a token that cannot be verified (no JWKS, bad
 * signature, claims) never counts as authenticated. A token whose kid the
 * fetched JWKS (auth.jwks_url) lacks is refused and starts a rate-limited
 * refresh, so a retry after a key rotation passes. On success *identity is
 * the SessionEvent identity JSON (new reference). */
static auth_result proxy_authenticate(mt_proxy *p, struct evhttp_request *req,
                                      json_t **identity, json_t **claims, const char **why,
                                      mt_errbuf *eb)
{
    const char *authz = header(req, "Authorization");
    if (!authz || authz[0] == '\0') {
        X509 *cert = client_cert(p, req);
        if (cert) {
            mt_identity cid;
            if (mt_mtls_identity(cert, &cid, eb) != MT_OK) {
                *why = eb->msg;
                return AUTH_INVALID;
            }
            *identity = mt_identity_to_json(&cid);
            mt_identity_free(&cid);
            *why = "out of memory";
            return *identity ? AUTH_OK : AUTH_INVALID;
        }
        *why = "no bearer token";
        if (!p->cfg->auth_anonymous)
            return AUTH_MISSING;
        if (!p->anon_identity)
            p->anon_identity = json_pack("{s:n, s:n, s:n, s:s, s:n, s:n}", "issuer", "subject",
                                         "audience", "auth_method", "anonymous",
                                         "token_fingerprint", "ci");
        *identity = json_incref(p->anon_identity); /* recorder copies; never mutated */
        *why = "out of memory";
        return *identity ? AUTH_OK : AUTH_INVALID;
    }
    if (strncasecmp(authz, "Bearer ", 7) != 0) {
        *why = "Authorization is not a Bearer token";
        return AUTH_INVALID;
    }
    if (!p->jwks) {
        *why = "no JWKS configured (auth.jwks_file or auth.jwks_url)";
        return AUTH_INVALID;
    }
    const char *tok = authz + 7;
    while (*tok == ' ')
        tok++;
    size_t toklen = strlen(tok);
    int64_t now = (int64_t)time(NULL);
    uint8_t h[MT_SHA256_LEN];
    token_entry *slot = NULL;
    if (mt_sha256(tok, toklen, h) == MT_OK) {
        uint32_t ix;
        memcpy(&ix, h, sizeof ix);
        slot = &p->tokens[ix % TOKEN_CACHE_SLOTS];
        if (slot->until > now && memcmp(slot->hash, h, sizeof h) == 0) {
            *identity = json_incref(slot->identity); /* recorder copies; never mutated */
            *claims = json_incref(slot->claims);
            return AUTH_OK;
        }
    }
    mt_identity id;
    mt_err verr = mt_jwt_verify(p->jwks, &p->policy, tok, toklen, now, &id, eb);
    if (verr != MT_OK) {
        if (verr == MT_ERR_NOT_FOUND && p->jwks_fetch) {
            bool started = mt_jwks_fetch_refresh_now(p->jwks_fetch);
            size_t n = strlen(eb->msg);
            snprintf(eb->msg + n, sizeof eb->msg - n, "%s",
                     started ? "; JWKS refresh started, retry shortly"
                             : "; JWKS refresh rate-limited, retry later");
        }
        *why = eb->msg;
        return AUTH_INVALID;
    }
    *identity = mt_identity_to_json(&id);
    *claims = json_incref(id.claims);
    json_t *exp = id.claims ? json_object_get(id.claims, "exp") : NULL;
    int64_t until = now + TOKEN_CACHE_TTL_S;
    if (json_is_integer(exp) && (int64_t)json_integer_value(exp) < until)
        until = (int64_t)json_integer_value(exp);
    else if (json_is_real(exp) && json_real_value(exp) < (double)until)
        until = (int64_t)json_real_value(exp);
    mt_identity_free(&id);
    if (slot && *identity && until > now) {
        json_decref(slot->identity);
        memcpy(slot->hash, h, sizeof h);
        slot->until = until;
        slot->identity = json_incref(*identity);
        json_decref(slot->claims);
        slot->claims = json_incref(*claims);
    }
    return *identity ? AUTH_OK : AUTH_INVALID;
}

/* --- forwarding ----------------------------------------------------------- */

static const char *const fwd_response_headers[] = {
    "Content-Type", "Mcp-Session-Id", "MCP-Protocol-Version", "Cache-Control", NULL,
};

void proxy_copy_headers(struct evkeyvalq *from, struct evkeyvalq *to, const char *const *names)
{
    for (size_t i = 0; from && names[i]; i++) {
        const char *v = evhttp_find_header(from, names[i]);
        if (v)
            evhttp_add_header(to, names[i], v);
    }
}

/* The upstream will not call back for f any more. */
static void upstream_cancel(fwd *f)
{
    if (f->up_live) {
        f->up_live = false;
        f->p->up->cancel(f);
    }
}

static void fwd_free_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fwd *f = arg;
    if (f->p->up->release)
        f->p->up->release(f);
    if (f->pending)
        evbuffer_free(f->pending);
    mt_proxy *p = f->p;
    p->inflight--;
    if (f->reject_body)
        evbuffer_free(f->reject_body);
    if (f->sse_parser_on)
        mt_sse_parser_free(&f->sse_parser);
    if (f->tr && f->tr->finish)
        f->tr->finish(f);
    /* An MCP session's end (DELETE, a 2024-11-05 stream closed) is recorded;
     * a one-exchange session (stateless call, refused request) just closes:
     * its request and response are all it has (the stream proves the rest). */
    if (f->sess.end && f->session && p->rec) {
        if (f->sess.client_sid || f->sess.legacy_sid)
            (void)mt_rec_session_end(p->rec, f->session, NULL, NULL);
        else
            mt_rec_session_close(p->rec, f->session);
    }
    free(f->rpc.id);
    free(f->rpc.method);
    free(f->rpc.tool);
    free(f->rpc.resource);
    free(f->sess.client_sid);
    free(f->sess.upstream_sid);
    free(f->sess.legacy_sid);
    free(f->path);
    free(f->protocol_version);
    free(f->traceparent);
    proxy_held_unlink(f);
    if (f->hold)
        mt_hold_cancel(p->holds, f->hold, "request ended");
    mt_hold_claim_cancel(p->holds, f->call.claim);
    free(f->justification);
    free(f->progress_token);
    json_decref(f->verdict);
    if (f->fwd_body)
        evbuffer_free(f->fwd_body);
    free(f->call.client_name);
    free(f->call.client_version);
    free(f->call.client_caps);
    if (f->session)
        mt_rec_session_release(p->rec, f->session);
    json_decref(f->identity);
    json_decref(f->claims);
    pol_release(f->pol);
    free(f);
    check_drained(p);
}

/* Frees f from a fresh loop iteration once both ends are finished. */
void proxy_fwd_maybe_free(fwd *f)
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

void proxy_client_finished(fwd *f)
{
    f->creq = NULL;
    f->client_done = true;
    proxy_fwd_maybe_free(f);
}

/* The client disconnected: abandon the upstream exchange. */
static void on_client_close(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    fwd *f = arg;
    f->cconn = NULL;
    if (f->creq)
        mt_logs(MT_LOG_INFO, "proxy", "client left before the response ended", NULL);
    if (f->hold) {
        struct evhttp_request *creq = f->creq;
        f->creq = NULL; /* nobody to answer */
        proxy_hold_cancel(f, "client disconnected");
        f->creq = creq;
    }
    if (!f->upstream_done && f->up_live) {
        upstream_cancel(f);
        f->upstream_done = true;
    }
    if (f->creq && f->started)
        count_reply(f->p, f->status, &f->t0);
    /* libevent detaches an unfinished request from a failed connection
     * (evcon NULL) and leaves it to us: finishing the reply frees it. */
    if (f->creq && !evhttp_request_get_connection(f->creq)) {
        if (f->started)
            evhttp_send_reply_end(f->creq);
        else
            evhttp_send_reply(f->creq, 499, "Client Closed Request", NULL);
    }
    f->creq = NULL;
    f->client_done = true;
    proxy_fwd_maybe_free(f);
}

static void resume_upstream(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    fwd *f = arg;
    if (f->paused && f->up_live && !f->upstream_done) {
        f->paused = false;
        if (f->p->up->pause)
            f->p->up->pause(f, false);
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
    if (over && f->up_live && !f->upstream_done && f->p->up->pause) {
        f->paused = true;
        f->p->up->pause(f, true);
        evhttp_send_reply_chunk_with_cb(f->creq, chunk, resume_upstream, f);
    } else {
        evhttp_send_reply_chunk(f->creq, chunk);
    }
    evbuffer_free(chunk);
}

/* --- recording gate ------------------------------------------------------- */

typedef struct sse_node {
    fwd *f;
    struct sse_node *next;
    struct evbuffer *raw; /* bytes to forward; may be empty (error events) */
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

/* SessionEvent PolicyAction symbol of a decision. */
static const char *policy_action_symbol(mt_policy_action a)
{
    switch (a) {
    case MT_POLICY_DENY:
        return "deny";
    case MT_POLICY_RECORD_ONLY:
        return "record_only";
    case MT_POLICY_APPROVE:
        return "approve";
    case MT_POLICY_ALLOW:
        break;
    }
    return "allow";
}

/* An event of this exchange; rpc comes from the request's (first) message;
 * policy is the decision of the request, when a policy decided it. */
void proxy_fill_event(fwd *f, mt_rec_event *ev, const char *kind, const char *direction,
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
    /* The MCP session's own id, so an auditor can join the record with the
     * server's logs: from the initialize response on, or as the client sent it. */
    ev->http.mcp_session_id = f->sess.upstream_sid ? f->sess.upstream_sid : f->sess.client_sid;
    ev->rpc.present = f->rpc.id != NULL || f->rpc.method != NULL;
    ev->rpc.id = f->rpc.id;
    ev->rpc.method = f->rpc.method;
    ev->rpc.tool = f->rpc.tool;
    ev->rpc.resource_uri = f->rpc.resource;
    ev->payload = payload;
    ev->payload_len = len;
    ev->latency_us = status ? (int64_t)(elapsed_s(&f->t0) * 1e6) : -1;
    ev->traceparent = f->traceparent;
    if (f->has_decision) {
        ev->policy_rule_id = f->decision.rule_id;
        ev->policy_action = policy_action_symbol(f->decision.action);
    }
    proxy_mrtr_fill(f, ev);
}

/* rpc of a message the upstream sent. A response carries no tool or URI of
 * its own: those of the request it answers are recorded with it. */
static void fill_rpc_from_msg(fwd *f, mt_rec_event *ev, const mt_mcp_msg *m)
{
    bool resp = m->kind == MT_MCP_RESPONSE || m->kind == MT_MCP_ERROR_RESPONSE;
    ev->rpc.present = true;
    ev->rpc.id = m->id;
    ev->rpc.method = m->method;
    ev->rpc.tool = m->tool_name ? m->tool_name : resp ? f->rpc.tool : NULL;
    ev->rpc.resource_uri = m->resource_uri ? m->resource_uri : resp ? f->rpc.resource : NULL;
    ev->rpc.is_error = m->is_error;
    ev->rpc.has_error_code = m->kind == MT_MCP_ERROR_RESPONSE;
    ev->rpc.error_code = m->error_code;
}

/* Classifies a body the upstream sent (JSON response or SSE data). Only for
 * the record: nothing the upstream sends is refused here. */
static bool parse_upstream(const void *data, size_t len, mt_mcp_batch *b)
{
    mt_mcp_limits lim = MT_MCP_LIMITS_DEFAULT;
    lim.max_bytes = MAX_UPSTREAM_JSON;
    lim.max_batch = 10000;
    mt_errbuf eb = {{0}};
    memset(b, 0, sizeof *b);
    if (len == 0)
        return false;
    if (mt_mcp_parse(data, len, &lim, b, &eb) != MT_OK) {
        mt_mcp_batch_free(b);
        return false;
    }
    return true;
}

/* Emits with a NUL-terminated copy of the payload: the masking code treats
 * non-JSON payloads as C strings. cb runs exactly once (see recorder.h). */
void proxy_emit_payload(fwd *f, mt_rec_event *ev, const void *payload, size_t len,
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

/* --- refusals: recorded, then answered ------------------------------------ */

void proxy_on_reject_recorded(void *arg, mt_err err)
{
    fwd *f = arg;
    f->pending_acks--;
    if (err != MT_OK)
        mt_logs(MT_LOG_WARN, "proxy", "refused request: its event was not recorded", "error",
                mt_errname(err), NULL);
    if (f->creq) {
        if (f->wrapped) {
            proxy_wrapped_send(f, f->reject_body);
        } else {
            struct evkeyvalq *oh = evhttp_request_get_output_headers(f->creq);
            evhttp_add_header(oh, "Content-Type", "application/json");
            evhttp_add_header(oh, "Cache-Control", "no-store");
            evhttp_send_reply(f->creq, f->reject_code, f->reject_reason, f->reject_body);
        }
        count_reply(f->p, f->reject_code, &f->t0);
        proxy_client_finished(f);
    }
    proxy_fwd_maybe_free(f);
}

/* Answers body (stolen) with code once ev is recorded (strict: acked or
 * failed; a refusal is answered either way, since nothing is released). */
static void reject(fwd *f, int code, const char *reason, json_t *body, mt_rec_event *ev,
                   const void *payload, size_t plen)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    f->upstream_done = true;
    f->reject_code = code;
    f->reject_reason = reason;
    if (!f->reject_body)
        f->reject_body = evbuffer_new();
    if (f->reject_body && text)
        evbuffer_add(f->reject_body, text, strlen(text));
    free(text);
    if (!f->p->rec || !f->session) {
        f->pending_acks++;
        proxy_on_reject_recorded(f, MT_OK);
        return;
    }
    proxy_emit_payload(f, ev, payload, plen, proxy_on_reject_recorded, f);
}

/* 400/413 with a JSON-RPC error, recorded as an `error` event carrying the
 * client's (masked) body and the error code. */
static void reject_rpc_data(fwd *f, int http_code, const char *reason, const char *id_json,
                            int rpc_code, const char *message, const char *condition,
                            json_t *data, struct evbuffer *body)
{
    json_t *id = id_json ? json_loads(id_json, JSON_DECODE_ANY, NULL) : NULL;
    if (!data)
        data = json_object();
    if (data)
        json_object_set_new(data, "mcptrail", json_string(condition));
    json_t *msg = json_pack("{s:s, s:o, s:{s:i, s:s, s:o}}", "jsonrpc", "2.0", "id",
                            id ? id : json_null(), "error", "code", rpc_code, "message",
                            message, "data", data);
    mt_logs(MT_LOG_INFO, "proxy", "request refused", "condition", condition, "reason", message,
            NULL);
    mt_rec_event ev;
    proxy_fill_event(f, &ev, "error", "client_to_server", http_code, NULL, 0);
    ev.rpc.present = true;
    ev.rpc.id = id_json;
    ev.rpc.is_error = true;
    ev.rpc.has_error_code = true;
    ev.rpc.error_code = rpc_code;
    size_t blen = body ? evbuffer_get_length(body) : 0;
    if (blen)
        reject(f, http_code, reason, msg, &ev, evbuffer_pullup(body, -1), blen);
    else
        reject(f, http_code, reason, msg, &ev, message, strlen(message));
}

static void reject_rpc(fwd *f, int http_code, const char *reason, const char *id_json,
                       int rpc_code, const char *message, const char *condition,
                       struct evbuffer *body)
{
    reject_rpc_data(f, http_code, reason, id_json, rpc_code, message, condition, NULL, body);
}

/* --- SSE relay ------------------------------------------------------------ */

static void sse_maybe_end(fwd *f)
{
    if (!f->upstream_done || fwd_queue(f)->head || !f->creq)
        return;
    evhttp_send_reply_end(f->creq);
    count_reply(f->p, f->status, &f->t0);
    proxy_client_finished(f);
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
            upstream_cancel(f);
            f->upstream_done = true;
        }
        size_t len = evbuffer_get_length(n->raw);
        if (!f->record_failed && f->creq && len) {
            unsigned char *d = evbuffer_pullup(n->raw, -1);
            sse_send_event(f, d, len);
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
    proxy_fwd_maybe_free(f);
}

/* Queues raw bytes for the client; they are sent once ev (NULL: nothing to
 * record) is recorded (at once without recorder or in async mode), always
 * in stream order. */
static void sse_enqueue(fwd *f, const void *raw, size_t len, mt_rec_event *ev,
                        const void *payload, size_t plen)
{
    sse_node *n = calloc(1, sizeof *n);
    if (!n || !(n->raw = evbuffer_new())) {
        free(n);
        return;
    }
    n->f = f;
    if (len)
        evbuffer_add(n->raw, raw, len);
    sse_queue *q = fwd_queue(f);
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    if (!ev || !f->p->rec || !f->session) {
        n->acked = true;
        sse_release(f);
        return;
    }
    proxy_emit_payload(f, ev, payload, plen, on_sse_recorded, n);
}

/* An `error` event in the stream's order (nothing forwarded for it). */
static void sse_error_event(fwd *f, const char *reason)
{
    mt_rec_event ev;
    proxy_fill_event(f, &ev, "error", "internal", f->status, NULL, 0);
    ev.rpc.present = false;
    sse_enqueue(f, NULL, 0, &ev, reason, strlen(reason));
}

/* Public base URL of the sidecar for 2024-11-05 endpoint rewriting. */
void proxy_public_base(fwd *f, char *out, size_t outlen)
{
    if (f->p->cfg->public_base_url && f->p->cfg->public_base_url[0])
        snprintf(out, outlen, "%s", f->p->cfg->public_base_url);
    else if (f->creq)
        self_url(f->p, f->creq, "", out, outlen);
    else
        snprintf(out, outlen, "http://localhost");
}


/* mask.client_responses: the event rebuilt with its data masked (id, event
 * type and retry kept) into blk. false: unchanged (nothing to mask, or no
 * memory: then the client gets the original bytes, as with the option off). */
/* The event e with other data (id, event type and retry kept) into blk. */
static bool sse_block_with_data(const mt_sse_event *e, const char *data, size_t mlen,
                                mt_buf *blk)
{
    char num[32];
    bool ok = true;
    if (!(e->type_len == 7 && memcmp(e->type, "message", 7) == 0))
        ok = mt_buf_append(blk, "event: ", 7) == MT_OK &&
             mt_buf_append(blk, e->type, e->type_len) == MT_OK &&
             mt_buf_append(blk, "\n", 1) == MT_OK;
    if (ok && e->id)
        ok = mt_buf_append(blk, "id: ", 4) == MT_OK &&
             mt_buf_append(blk, e->id, e->id_len) == MT_OK && mt_buf_append(blk, "\n", 1) == MT_OK;
    if (ok && e->retry_ms >= 0) {
        int n = snprintf(num, sizeof num, "retry: %lld\n", (long long)e->retry_ms);
        ok = mt_buf_append(blk, num, (size_t)n) == MT_OK;
    }
    for (size_t i = 0; ok && i <= mlen;) { /* one data: line per line */
        const char *nl = memchr(data + i, '\n', mlen - i);
        size_t n = nl ? (size_t)(nl - (data + i)) : mlen - i;
        ok = mt_buf_append(blk, "data: ", 6) == MT_OK &&
             mt_buf_append(blk, data + i, n) == MT_OK && mt_buf_append(blk, "\n", 1) == MT_OK;
        i += n + 1;
    }
    return ok && mt_buf_append(blk, "\n", 1) == MT_OK;
}

static bool mask_sse_block(fwd *f, const mt_sse_event *e, const char *data, size_t len,
                           char **masked, mt_buf *blk)
{
    mt_errbuf eb = {{0}};
    if (mt_rec_mask(f->p->rec, data, len, masked, &eb) != MT_OK)
        return false;
    size_t mlen = strlen(*masked);
    if (mlen == len && memcmp(*masked, data, len) == 0)
        return false;
    return sse_block_with_data(e, *masked, mlen, blk);
}

static void note_discover(fwd *f, const mt_mcp_msg *m);

static mt_err on_sse_block(void *ctx, const mt_sse_event *e, mt_errbuf *eb)
{
    (void)eb;
    fwd *f = ctx;
    if (!e->dispatched) {
        /* keep-alive comments, id/retry-only blocks: forwarded, not recorded */
        sse_enqueue(f, e->raw, e->raw_len, NULL, NULL, 0);
        return MT_OK;
    }
    const void *raw = e->raw;
    size_t raw_len = e->raw_len;
    const char *data = e->data;
    size_t data_len = e->data_len;
    /* the transport's rewrite (2024-11-05 endpoint, 2026-07-28 sealed state) */
    mt_buf tdata = MT_BUF_INIT, tblk = MT_BUF_INIT;
    const char *result_type = NULL;
    bool sealed = false;
    if (f->tr && f->tr->message &&
        f->tr->message(f, e, data, data_len, &tdata, &result_type, &sealed) &&
        sse_block_with_data(e, (const char *)tdata.data, tdata.len, &tblk)) {
        raw = tblk.data;
        raw_len = tblk.len;
        data = (const char *)tdata.data;
        data_len = tdata.len;
    }
    char *masked = NULL;
    mt_buf mblk = MT_BUF_INIT;
    if (f->p->cfg->mask_client_responses && f->p->rec &&
        mask_sse_block(f, e, data, data_len, &masked, &mblk)) {
        raw = mblk.data;
        raw_len = mblk.len;
    }
    char *sse_id = e->id ? strndup(e->id, e->id_len) : NULL;
    mt_mcp_batch b;
    bool parsed = parse_upstream(data, data_len, &b);
    mt_rec_event ev;
    proxy_fill_event(f, &ev, "sse_event", "server_to_client", f->status, NULL, 0);
    ev.http.sse_event_id = sse_id;
    ev.rpc.present = false;
    ev.call.result_type = result_type;
    ev.call.sealed = sealed;
    if (parsed) {
        fill_rpc_from_msg(f, &ev, &b.msgs[0]);
        note_discover(f, &b.msgs[0]);
    }
    sse_enqueue(f, raw, raw_len, &ev, data, data_len);
    if (parsed)
        mt_mcp_batch_free(&b);
    free(sse_id);
    free(masked);
    mt_buf_free(&mblk);
    mt_buf_free(&tdata);
    mt_buf_free(&tblk);
    return MT_OK;
}

/* The stream broke (upstream reset, parse limit): forward what arrived of
 * the unfinished block unchanged, record an `error` event and end the
 * client's chunked response cleanly once everything before is released. */
static void sse_abort(fwd *f, const char *reason)
{
    mt_logs(MT_LOG_WARN, "proxy", "SSE stream ended early", "reason", reason, NULL);
    upstream_cancel(f);
    f->upstream_done = true;
    if (f->sse_parser_on) {
        const uint8_t *raw;
        size_t len;
        mt_sse_pending(&f->sse_parser, &raw, &len);
        if (len)
            sse_enqueue(f, raw, len, NULL, NULL, 0);
        mt_sse_parser_free(&f->sse_parser);
        f->sse_parser_on = false;
    }
    sse_error_event(f, reason);
    sse_maybe_end(f);
}

static void sse_drain(fwd *f, bool final)
{
    if (!f->sse_parser_on) {
        mt_sse_limits lim = {64u << 10, MAX_SSE_EVENT};
        mt_sse_parser_init(&f->sse_parser, &lim);
        f->sse_parser_on = true;
    }
    size_t len = evbuffer_get_length(f->pending);
    mt_errbuf eb = {{0}};
    if (len) {
        unsigned char *d = evbuffer_pullup(f->pending, -1);
        mt_err err = mt_sse_feed(&f->sse_parser, d, len, on_sse_block, f, &eb);
        evbuffer_drain(f->pending, len);
        if (err != MT_OK) {
            sse_abort(f, eb.msg[0] ? eb.msg : "upstream SSE stream unparsable");
            return;
        }
        /* a CRLF event's closing LF goes out now, not with the next event
         * (a long-lived stream may pause after any event) */
        if (mt_sse_take_lone_lf(&f->sse_parser))
            sse_enqueue(f, "\n", 1, NULL, NULL, 0);
    }
    if (!final)
        return;
    if (mt_sse_finish(&f->sse_parser, &eb) == MT_ERR_TRUNCATED) {
        sse_abort(f, "upstream SSE stream ended inside an event");
        return;
    }
    /* a trailing LF of a CRLF blank line, a lone BOM: still the stream's bytes */
    const uint8_t *raw;
    size_t rest;
    mt_sse_pending(&f->sse_parser, &raw, &rest);
    if (rest)
        sse_enqueue(f, raw, rest, NULL, NULL, 0);
}


int proxy_up_headers(fwd *f, int status, const char *reason, struct evkeyvalq *h)
{
    f->status = status;
    const char *ct = h ? evhttp_find_header(h, "Content-Type") : NULL;
    f->sse = ct && strncasecmp(ct, "text/event-stream", 17) == 0;
    if (!f->creq)
        return -1; /* client gone: stop */
    if (f->tr && f->tr->response_headers)
        f->tr->response_headers(f, status, h);
    if (f->sse && f->wrapped)
        return 0; /* the sidecar's SSE reply (progress while held) carries the events */
    if (f->sse) {
        proxy_copy_headers(h, evhttp_request_get_output_headers(f->creq), fwd_response_headers);
        evhttp_send_reply_start(f->creq, f->status, reason);
        f->started = true;
    }
    return 0;
}

void proxy_up_body(fwd *f, struct evbuffer *in)
{
    if (!f->creq || f->upstream_done) {
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

/* mask.client_responses: a JSON response body goes to the client masked. */
static void mask_client_body(fwd *f)
{
    if (!f->p->cfg->mask_client_responses || !f->p->rec)
        return;
    size_t len = evbuffer_get_length(f->pending);
    const char *ct = evhttp_find_header(evhttp_request_get_output_headers(f->creq),
                                        "Content-Type");
    if (!len || !ct || strncasecmp(ct, "application/json", 16) != 0)
        return;
    char *masked = NULL;
    mt_errbuf eb = {{0}};
    if (mt_rec_mask(f->p->rec, evbuffer_pullup(f->pending, -1), len, &masked, &eb) != MT_OK) {
        /* never the raw body when masking was asked for */
        free(masked);
        masked = strdup("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,"
                        "\"message\":\"response could not be masked\"}}");
    }
    evbuffer_drain(f->pending, len);
    if (masked)
        evbuffer_add(f->pending, masked, strlen(masked));
    free(masked);
}

static void on_response_recorded(fwd *f, mt_err err)
{
    if (!f->creq)
        return;
    if (err != MT_OK) {
        mt_logs(MT_LOG_ERROR, "proxy", "response not recorded; not released", "error",
                mt_errname(err), NULL);
        evhttp_clear_headers(evhttp_request_get_output_headers(f->creq));
        send_rpc_error(f->p, f->creq, 503, "Service Unavailable", f->rpc.id,
                       MT_RPC_MSG_NOT_RECORDED, "not_recorded", &f->t0);
    } else if (f->wrapped) {
        mask_client_body(f);
        proxy_wrapped_send(f, f->pending);
        count_reply(f->p, f->reply_code, &f->t0);
    } else {
        mask_client_body(f);
        evhttp_send_reply(f->creq, f->reply_code, NULL, f->pending);
        count_reply(f->p, f->reply_code, &f->t0);
    }
    proxy_client_finished(f);
}

static void on_response_recorded_cb(void *arg, mt_err err)
{
    fwd *f = arg;
    f->pending_acks--;
    on_response_recorded(f, err);
    proxy_fwd_maybe_free(f);
}

static void upstream_unavailable(fwd *f)
{
    json_t *id = f->rpc.id ? json_loads(f->rpc.id, JSON_DECODE_ANY, NULL) : NULL;
    json_t *body = json_pack("{s:s, s:o, s:{s:i, s:s, s:{s:s}}}", "jsonrpc", "2.0", "id",
                             id ? id : json_null(), "error", "code", MT_RPC_INTERNAL_ERROR,
                             "message", MT_RPC_MSG_UPSTREAM, "data", "mcptrail",
                             "upstream_unavailable");
    mt_rec_event ev;
    proxy_fill_event(f, &ev, "error", "internal", 502, NULL, 0);
    ev.rpc.is_error = true;
    ev.rpc.has_error_code = true;
    ev.rpc.error_code = MT_RPC_INTERNAL_ERROR;
    reject(f, 502, "Bad Gateway", body, &ev, MT_RPC_MSG_UPSTREAM, strlen(MT_RPC_MSG_UPSTREAM));
}

void proxy_up_done(fwd *f, int code, struct evkeyvalq *h, struct evbuffer *body)
{
    f->up_live = false;
    bool was_done = f->upstream_done;
    f->upstream_done = true;
    if (!f->creq || was_done) {
        proxy_fwd_maybe_free(f);
        return;
    }
    if (code == 0) {
        if (f->started && f->sse) {
            sse_abort(f, REASON_UPSTREAM_RESET);
        } else if (f->started) {
            evhttp_send_reply_end(f->creq);
            count_reply(f->p, f->status, &f->t0);
            proxy_client_finished(f);
        } else {
            upstream_unavailable(f);
        }
        return;
    }
    if (f->sse) {
        if (body)
            evbuffer_add_buffer(f->pending, body);
        sse_drain(f, true);
        sse_maybe_end(f);
        return;
    }
    if (body)
        evbuffer_add_buffer(f->pending, body);
    proxy_copy_headers(h, evhttp_request_get_output_headers(f->creq), fwd_response_headers);
    f->reply_code = code;
    const char *result_type = NULL;
    bool sealed = false;
    {
        size_t n = evbuffer_get_length(f->pending);
        mt_buf out = MT_BUF_INIT;
        if (f->tr && f->tr->message &&
            f->tr->message(f, NULL, n ? (const char *)evbuffer_pullup(f->pending, -1) : NULL, n,
                           &out, &result_type, &sealed)) {
            evbuffer_drain(f->pending, n);
            evbuffer_add(f->pending, out.data, out.len);
        }
        mt_buf_free(&out);
    }
    if (!f->p->rec || !f->session) {
        on_response_recorded(f, MT_OK);
        return;
    }
    mt_rec_event ev;
    size_t len = evbuffer_get_length(f->pending);
    const void *d = len ? evbuffer_pullup(f->pending, -1) : NULL;
    proxy_fill_event(f, &ev, "response", "server_to_client", code, NULL, 0);
    ev.call.result_type = result_type;
    ev.call.sealed = sealed;
    mt_mcp_batch b;
    bool parsed = parse_upstream(d, len, &b);
    ev.rpc.present = false;
    if (parsed) {
        fill_rpc_from_msg(f, &ev, &b.msgs[0]);
        note_discover(f, &b.msgs[0]);
    }
    proxy_emit_payload(f, &ev, d, len, on_response_recorded_cb, f);
    if (parsed)
        mt_mcp_batch_free(&b);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void proxy_up_http_error(fwd *f, int code, const char *reason, const char *error,
                         const char *description)
{
    f->up_live = false;
    f->upstream_done = true;
    if (f->creq) {
        send_http_error(f->p, f->creq, code, reason, error, description);
        proxy_client_finished(f);
    }
}

void proxy_start_upstream(fwd *f, struct evhttp_request *creq)
{
    f->up_live = true;
    f->p->up->start(f, creq);
}

static void on_request_recorded(void *arg, mt_err err)
{
    fwd *f = arg;
    f->pending_acks--;
    if (!f->creq)
        f->upstream_done = true; /* the client left while its request was recorded */
    if (f->creq) {
        if (err != MT_OK) {
            mt_logs(MT_LOG_ERROR, "proxy", "request not recorded; not forwarded", "error",
                    mt_errname(err), NULL);
            send_rpc_error(f->p, f->creq, 503, "Service Unavailable", f->rpc.id,
                           MT_RPC_MSG_NOT_RECORDED, "not_recorded", &f->t0);
            f->upstream_done = true;
            proxy_client_finished(f);
        } else if (f->call.claim_pending) {
            proxy_claim_begin(f);
        } else if (f->hold_pending) {
            proxy_hold_begin(f);
        } else {
            proxy_start_upstream(f, f->creq);
        }
    }
    proxy_fwd_maybe_free(f);
}

/* SessionEvent identity of a refused token: nothing from the unverified
 * token is trusted, so only its fingerprint is kept. */
static json_t *failed_identity(struct evhttp_request *req)
{
    const char *authz = header(req, "Authorization");
    char hex[65] = "";
    if (authz && strncasecmp(authz, "Bearer ", 7) == 0) {
        const char *tok = authz + 7;
        while (*tok == ' ')
            tok++;
        uint8_t dg[MT_SHA256_LEN];
        if (mt_sha256(tok, strlen(tok), dg) != MT_OK ||
            mt_hex_encode(dg, sizeof dg, hex, sizeof hex) != MT_OK)
            hex[0] = '\0';
    }
    return json_pack("{s:n, s:n, s:n, s:s?, s:s?, s:n}", "issuer", "subject", "audience",
                     "auth_method", hex[0] ? "jwt" : NULL, "token_fingerprint",
                     hex[0] ? hex : NULL, "ci");
}

static void refuse_auth(fwd *f, auth_result r, const char *why)
{
    char url[1024], www[1280];
    struct evhttp_request *req = f->creq;
    metadata_url(f->p, req, url, sizeof url);
    if (r == AUTH_MISSING)
        snprintf(www, sizeof www, "Bearer resource_metadata=\"%s\"", url);
    else
        snprintf(www, sizeof www, "Bearer error=\"invalid_token\", resource_metadata=\"%s\"",
                 url);
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", www);
    mt_logs(MT_LOG_INFO, "auth", "request refused", "reason", why, NULL);
    json_decref(f->identity);
    f->identity = failed_identity(req);
    /* Its own one-event session: an unauthenticated caller never writes
     * into somebody else's recorded session. */
    if (f->p->rec)
        f->session = mt_rec_session_get(f->p->rec, NULL);
    f->sess.end = true;
    mt_rec_event ev;
    proxy_fill_event(f, &ev, "auth_failed", "client_to_server", 401, NULL, 0);
    ev.rpc.present = false;
    reject(f, 401, "Unauthorized",
           json_pack("{s:s, s:s}", "error", r == AUTH_MISSING ? "unauthorized" : "invalid_token",
                     "error_description", why),
           &ev, why, strlen(why));
}


/* Answers a denied POST: HTTP 200 (JSON-RPC convention: the transport
 * worked, the call did not) with the deny error of mt_policy_deny_response
 * (one per request of a batch, as an array), recorded as `policy_denied`
 * with the client's (masked) body. */
static void deny_by_policy(fwd *f, const mt_mcp_batch *b, struct evbuffer *body)
{
    json_t *resp;
    if (!b->is_batch) {
        resp = mt_policy_deny_response(json_object_get(b->msgs[0].json, "id"), &f->decision);
    } else {
        resp = json_array();
        for (size_t i = 0; resp && i < b->n; i++)
            if (b->msgs[i].kind == MT_MCP_REQUEST)
                json_array_append_new(
                    resp, mt_policy_deny_response(json_object_get(b->msgs[i].json, "id"),
                                                  &f->decision));
        if (resp && json_array_size(resp) == 0)
            json_array_append_new(resp, mt_policy_deny_response(NULL, &f->decision));
    }
    mt_logs(MT_LOG_INFO, "policy", "request denied", "rule_id", f->decision.rule_id, "method",
            f->rpc.method ? f->rpc.method : "", NULL);
    mt_rec_event ev;
    proxy_fill_event(f, &ev, "policy_denied", "client_to_server", 200, NULL, 0);
    ev.rpc.is_error = true;
    ev.rpc.has_error_code = true;
    ev.rpc.error_code = MT_POLICY_DENY_CODE;
    size_t blen = evbuffer_get_length(body);
    reject(f, 200, "OK", resp, &ev, blen ? evbuffer_pullup(body, -1) : NULL, blen);
}

/* Evaluates every message of a POST that has a method against the current
 * policy; the exchange keeps a reference to that policy (decisions borrow
 * its strings). Any deny denies the whole body; otherwise the decision is
 * the first approve (the whole body is held), else the first record-only
 * one, else the first message's. false: denied (answer under way). */
static bool apply_policy(fwd *f, const mt_mcp_batch *b, struct evbuffer *body)
{
    pol_ref *r = f->p->pol;
    if (!r)
        return true;
    r->refs++;
    f->pol = r;
    const char *subject = json_string_value(json_object_get(f->identity, "subject"));
    const char *repo = json_string_value(
        json_object_get(json_object_get(f->identity, "ci"), "repository"));
    for (size_t i = 0; i < b->n; i++) {
        const mt_mcp_msg *m = &b->msgs[i];
        if (!m->method)
            continue;
        mt_policy_input in = {
            .method = m->method,
            .tool = m->tool_name,
            .arguments = json_object_get(m->params, "arguments"),
            .claims = f->claims,
            .subject = subject,
            .repository = repo,
        };
        mt_policy_decision d;
        mt_policy_eval(r->pol, &in, &d);
        if (d.action == MT_POLICY_DENY) {
            f->decision = d;
            f->has_decision = true;
            deny_by_policy(f, b, body);
            return false;
        }
        /* approve > record-only > allow: the recorded decision is the strictest */
        static const int rank[] = {[MT_POLICY_ALLOW] = 0, [MT_POLICY_RECORD_ONLY] = 1,
                                   [MT_POLICY_APPROVE] = 2, [MT_POLICY_DENY] = 3};
        if (!f->has_decision || rank[d.action] > rank[f->decision.action]) {
            f->decision = d;
            f->has_decision = true;
        }
    }
    return true;
}

/* A call the policy holds for approval: request hash, justification (from
 * the rule's header or claim; refused when required and absent), progress
 * token. false: refused (answer under way). */
static bool prepare_hold(fwd *f, struct evhttp_request *req, const mt_mcp_batch *b,
                         struct evbuffer *body)
{
    const mt_policy_approval *ap = f->decision.approval;
    size_t blen = evbuffer_get_length(body);
    if (mt_sha256(blen ? evbuffer_pullup(body, -1) : (const unsigned char *)"", blen,
                  f->req_hash) != MT_OK) {
        reject_rpc(f, 500, "Internal Server Error", f->rpc.id, MT_RPC_INTERNAL_ERROR,
                   "cannot hash the request", "hash_failed", body);
        return false;
    }
    const char *just = header(req, ap->justification_header);
    if ((!just || !*just) && ap->justification_claim)
        just = json_string_value(json_object_get(f->claims, ap->justification_claim));
    if (just && *just && !(f->justification = strndup(just, 4096))) {
        reject_rpc(f, 500, "Internal Server Error", f->rpc.id, MT_RPC_INTERNAL_ERROR,
                   "out of memory", "nomem", body);
        return false;
    }
    if (ap->justification_required && !f->justification) {
        char msg[256];
        if (ap->justification_claim)
            snprintf(msg, sizeof msg,
                     "rule %s needs a justification: send header %s (or token claim %s)",
                     f->decision.rule_id, ap->justification_header, ap->justification_claim);
        else
            snprintf(msg, sizeof msg, "rule %s needs a justification: send header %s",
                     f->decision.rule_id, ap->justification_header);
        reject_rpc(f, 400, "Bad Request", f->rpc.id, MT_RPC_JUSTIFICATION_REQUIRED, msg,
                   "justification_required", body);
        return false;
    }
    if (!b->is_batch) {
        json_t *tok = json_object_get(json_object_get(b->msgs[0].params, "_meta"),
                                      "progressToken");
        if (json_is_string(tok) || json_is_integer(tok))
            f->progress_token = json_dumps(tok, JSON_ENCODE_ANY | JSON_COMPACT);
        if (f->progress_token && strlen(f->progress_token) > 512) {
            free(f->progress_token); /* an absurd token gets no progress */
            f->progress_token = NULL;
        }
    }
    const char *accept = header(req, "Accept");
    f->accepts_sse = accept && strstr(accept, "text/event-stream") != NULL;
    f->hold_pending = true;
    return true;
}

/* An MCP-Protocol-Version the sidecar does not speak: HTTP 400 with the
 * 2026-07-28 UnsupportedProtocolVersionError (-32022) for the request's id,
 * data {requested, supported}: the versions both the sidecar and the upstream
 * speak (the upstream's as its last server/discover listed them; all of the
 * sidecar's until one was seen). Recorded as an `error` event. */
/* Header bytes for a JSON string: printable ASCII kept, others '?'. */
static void printable(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; in && in[n] && n + 1 < cap; n++)
        out[n] = in[n] >= 0x20 && in[n] < 0x7f ? in[n] : '?';
    out[n] = '\0';
}

static void refuse_version(fwd *f, struct evbuffer *body, const char *msg_text)
{
    size_t blen = evbuffer_get_length(body);
    /* the id is read only from a body within limits.max_body_bytes */
    json_t *doc = blen && blen <= (size_t)f->p->cfg->max_body_bytes
                      ? json_loadb((const char *)evbuffer_pullup(body, -1), blen, 0, NULL)
                      : NULL;
    json_t *id = json_object_get(doc, "id");
    char *id_text = json_is_string(id) || json_is_integer(id)
                        ? json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT)
                        : NULL;
    json_t *supported = json_array();
    mt_mcp_version v;
    const char *name;
    for (size_t i = 0; supported && (name = mt_mcp_version_at(i, &v)); i++)
        if (!f->p->upstream_versions || (f->p->upstream_versions & (1u << v)))
            json_array_append_new(supported, json_string(name));
    char requested[65], why[256];
    printable(f->protocol_version, requested, sizeof requested);
    printable(msg_text, why, sizeof why);
    json_decref(doc);
    json_t *data = json_pack("{s:s, s:o?}", "requested", requested, "supported", supported);
    reject_rpc_data(f, 400, "Bad Request", id_text, MT_MCP_UNSUPPORTED_VERSION, why,
                    "bad_protocol_version", data, body);
    free(id_text);
}

/* server/discover results tell which versions the upstream speaks;
 * tools/list results which arguments travel in Mcp-Param-* headers. */
static void note_discover(fwd *f, const mt_mcp_msg *m)
{
    if (f->rpc.method && strcmp(f->rpc.method, "tools/list") == 0 &&
        m->kind == MT_MCP_RESPONSE && f->p->params)
        (void)mt_mcp_params_learn(f->p->params, json_object_get(m->json, "result"));
    if (!f->rpc.method || strcmp(f->rpc.method, "server/discover") != 0 ||
        m->kind != MT_MCP_RESPONSE)
        return;
    const json_t *list =
        json_object_get(json_object_get(m->json, "result"), "supportedVersions");
    unsigned bits = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        mt_mcp_version v;
        const char *name = json_string_value(json_array_get(list, i));
        mt_errbuf veb = {{0}};
        if (name && mt_mcp_parse_version(name, &v, &veb) == MT_OK)
            bits |= 1u << v;
    }
    if (bits)
        f->p->upstream_versions = bits;
}

/* Validates the MCP headers and the body, fills f's rpc fields, picks the
 * recorded session and applies the policy. false: refused (answer under
 * way). */
static bool classify(fwd *f, struct evhttp_request *req, enum evhttp_cmd_type cmd)
{
    mt_proxy *p = f->p;
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    mt_errbuf eb = {{0}};
    const char *sid = header(req, "Mcp-Session-Id");
    if (mt_mcp_parse_version(f->protocol_version, &f->version, &eb) != MT_OK) {
        f->sess.end = true;
        if (p->rec)
            f->session = mt_rec_session_get(p->rec, NULL);
        refuse_version(f, body, eb.msg);
        return false;
    }
    if (sid && mt_mcp_check_session_id(sid, strlen(sid), &eb) != MT_OK) {
        f->sess.end = true;
        if (p->rec)
            f->session = mt_rec_session_get(p->rec, NULL);
        reject_rpc(f, 400, "Bad Request", NULL, MT_MCP_INVALID_REQUEST, eb.msg,
                   "bad_session_id", body);
        return false;
    }
    /* The transport picks the recorded session: the MCP session's, else one
     * for this request alone. */
    f->tr = proxy_transport_pick(f->version, req);
    if (!f->tr->session(f, req))
        return false;

    size_t blen = evbuffer_get_length(body);
    if (cmd != EVHTTP_REQ_POST)
        return true;
    if (blen > (size_t)p->cfg->max_body_bytes) {
        char msg[160];
        snprintf(msg, sizeof msg, "request body of %zu bytes exceeds limits.max_body_bytes (%lld)",
                 blen, (long long)p->cfg->max_body_bytes);
        reject_rpc(f, 413, "Payload Too Large", NULL, MT_MCP_INVALID_REQUEST, msg,
                   "body_too_large", NULL);
        return false;
    }
    mt_mcp_limits lim = MT_MCP_LIMITS_DEFAULT;
    lim.max_bytes = (size_t)p->cfg->max_body_bytes;
    lim.allow_batch = mt_mcp_version_allows_batch(f->version);
    mt_mcp_batch b;
    const void *d = blen ? (const void *)evbuffer_pullup(body, -1) : "";
    mt_err err = mt_mcp_parse(d, blen, &lim, &b, &eb);
    if (err == MT_OK)
        err = mt_mcp_check_headers(f->version, header(req, "Mcp-Method"),
                                   header(req, "Mcp-Name"), &b, &eb);
    if (err != MT_OK) {
        bool mismatch = b.n > 0;
        int code = mismatch ? MT_MCP_HEADER_MISMATCH : b.rpc_code ? b.rpc_code
                                                                  : MT_MCP_PARSE_ERROR;
        char *id = mismatch ? dup_or_null(b.msgs[0].id)
                            : (b.err_id && strcmp(b.err_id, "null") != 0 ? strdup(b.err_id)
                                                                          : NULL);
        mt_mcp_batch_free(&b);
        reject_rpc(f, 400, "Bad Request", id, code, eb.msg,
                   mismatch                        ? "header_mismatch"
                   : code == MT_MCP_PARSE_ERROR    ? "parse_error"
                                                   : "invalid_request",
                   body);
        free(id);
        return false;
    }
    const mt_mcp_msg *m = &b.msgs[0];
    f->rpc.batch = b.is_batch;
    f->rpc.id = dup_or_null(m->id);
    f->rpc.method = dup_or_null(m->method);
    f->rpc.tool = dup_or_null(m->tool_name ? m->tool_name : m->prompt_name);
    f->rpc.resource = dup_or_null(m->resource_uri);
    f->req_kind = m->kind == MT_MCP_REQUEST        ? "request"
                  : m->kind == MT_MCP_NOTIFICATION ? "notification"
                                                   : "response";
    f->req_is_error = m->is_error;
    f->req_has_code = m->kind == MT_MCP_ERROR_RESPONSE;
    f->req_code = m->error_code;
    proxy_refusal rf = {0, NULL, ""};
    if (f->tr->request && !f->tr->request(f, req, &b, &rf)) {
        mt_mcp_batch_free(&b);
        reject_rpc(f, 400, "Bad Request", f->rpc.id, rf.code, rf.msg, rf.reason, body);
        return false;
    }
    bool ok = apply_policy(f, &b, body);
    if (ok && f->has_decision && f->decision.action == MT_POLICY_APPROVE) {
        if (f->call.awaiting) {
            f->hold_pending = true; /* its decision is looked up once recorded */
        } else if (!f->call.covered) {
            ok = prepare_hold(f, req, &b, body);
            if (ok && proxy_mrtr_wants_url(f, m)) {
                /* one approval per logical call: the retries' bytes differ */
                f->call.url = true;
                memcpy(f->req_hash, f->call.hash, sizeof f->req_hash);
            }
        }
    }
    for (size_t i = 0; ok && p->held && i < b.n; i++)
        if (b.msgs[i].method && strcmp(b.msgs[i].method, "notifications/cancelled") == 0)
            proxy_cancel_held(p, f->sess.client_sid, json_object_get(b.msgs[i].params, "requestId"));
    mt_mcp_batch_free(&b);
    return ok;
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

    fwd *f = calloc(1, sizeof *f);
    if (!f || !(f->pending = evbuffer_new())) {
        free(f);
        send_http_error(p, req, 500, "Internal Server Error", "nomem", "out of memory");
        return;
    }
    f->p = p;
    f->t0 = t0;
    f->creq = req;
    f->cconn = evhttp_request_get_connection(req);
    p->inflight++;
    if (f->cconn)
        evhttp_connection_set_closecb(f->cconn, on_client_close, f);
    static const char *const names[] = {"GET", "POST", "HEAD", "PUT", "DELETE",
                                         "OPTIONS", "TRACE", "CONNECT", "PATCH"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (cmd == (enum evhttp_cmd_type)(1 << i))
            f->method_name = names[i];
    f->path = dup_or_null(path);
    f->protocol_version = dup_or_null(header(req, "MCP-Protocol-Version"));
    f->traceparent = dup_or_null(header(req, "traceparent"));
    f->req_kind = "request";

    const char *why = NULL;
    mt_errbuf aeb = {{0}};
    auth_result ar = proxy_authenticate(p, req, &f->identity, &f->claims, &why, &aeb);
    if (ar != AUTH_OK) {
        refuse_auth(f, ar, why);
        return;
    }
    if (!classify(f, req, cmd))
        return;
    if (!p->rec) {
        proxy_start_upstream(f, req);
        return;
    }
    if (!f->session) {
        send_rpc_error(p, req, 503, "Service Unavailable", f->rpc.id, MT_RPC_MSG_NOT_RECORDED,
                       "no_session", &t0);
        f->upstream_done = true;
        proxy_client_finished(f);
        return;
    }
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    mt_rec_event ev;
    size_t blen = evbuffer_get_length(body);
    proxy_fill_event(f, &ev, f->req_kind, "client_to_server", 0, NULL, 0);
    ev.rpc.is_error = f->req_is_error;
    ev.rpc.has_error_code = f->req_has_code;
    ev.rpc.error_code = f->req_code;
    ev.justification = f->justification;
    ev.client.name = f->call.client_name;
    ev.client.version = f->call.client_version;
    ev.client.capabilities = f->call.client_caps;
    json_t *covered = f->call.covered ? mt_hold_approval_info(f->approval_id, "approved", NULL)
                                      : NULL;
    ev.approval = covered; /* a later round of a call an approval released */
    if (f->hold_pending || f->call.on)
        ev.event_id_out = f->event_id;
    proxy_emit_payload(f, &ev, blen ? evbuffer_pullup(body, -1) : NULL, blen, on_request_recorded, f);
    json_decref(covered);
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
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->tls_client_ca);
        if (SSL_CTX_load_verify_locations(p->ssl_ctx, cfg->tls_client_ca, NULL) != 1 || !names) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            return mt_fail(eb, MT_ERR_CONFIG, "tls.client_ca_file: cannot load '%s'",
                           cfg->tls_client_ca);
        }
        SSL_CTX_set_client_CA_list(p->ssl_ctx, names); /* takes names */
        int mode = SSL_VERIFY_PEER;
        if (cfg->tls_client_auth == MT_CLIENT_AUTH_REQUIRE)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(p->ssl_ctx, mode, NULL);
        /* sessions are not resumed across proxy instances; the id context
         * is required by OpenSSL for resumption with client verification */
        static const unsigned char sid_ctx[] = "mcptrail-sidecar";
        SSL_CTX_set_session_id_context(p->ssl_ctx, sid_ctx, sizeof sid_ctx - 1);
    }
    evhttp_set_bevcb(p->http, tls_bevcb, p);
    return MT_OK;
}

/* --- lifecycle -------------------------------------------------------------- */

/* A new key set from auth.jwks_url: swapped in on the loop thread (no
 * verification is running), and the token cache emptied so a removed key
 * stops authenticating at once. */
static void on_jwks(void *arg, mt_jwks *jwks)
{
    mt_proxy *p = arg;
    mt_jwks_free(p->jwks);
    p->jwks = jwks;
    for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++) {
        json_decref(p->tokens[i].identity);
        json_decref(p->tokens[i].claims);
        p->tokens[i].identity = p->tokens[i].claims = NULL;
        p->tokens[i].until = 0;
    }
}

static mt_err jwks_url_setup(mt_proxy *p, mt_errbuf *eb)
{
    const mt_sidecar_config *cfg = p->cfg;
    mt_jwks_fetch_config fc = {
        .url = cfg->jwks_url,
        .ca_file = cfg->jwks_ca_file,
        .cache_file = cfg->jwks_cache_file,
        .refresh_ms = cfg->jwks_refresh_ms,
        .min_refresh_ms = cfg->jwks_min_refresh_ms,
        .timeout_ms = cfg->jwks_timeout_ms,
        .on_keys = on_jwks,
        .arg = p,
    };
    mt_err err = mt_jwks_fetch_new(p->base, &fc, &p->jwks_fetch, eb);
    if (err == MT_OK)
        err = mt_jwks_fetch_initial(p->jwks_fetch, &p->jwks, eb);
    return err;
}

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
    p->up = cfg->upstream_command.n ? &proxy_upstream_stdio : &proxy_upstream_http;
    if ((err = p->up->init(p, eb)) != MT_OK) {
        p->up = NULL;
        goto fail;
    }
    p->http = evhttp_new(base);
    if (!p->http) {
        err = mt_fail(eb, MT_ERR_NOMEM, "evhttp_new failed");
        goto fail;
    }
    evhttp_set_max_headers_size(p->http, (ev_ssize_t)cfg->max_header_bytes);
    /* libevent refuses bodies above its limit with its own HTML 413 before
     * any handler runs; twice the configured limit lets classify() answer
     * the JSON-RPC 413 (and record it) for everything up to there. */
    evhttp_set_max_body_size(p->http, (ev_ssize_t)cfg->max_body_bytes * 2);
    struct timeval tv = {(time_t)(cfg->idle_timeout_ms / 1000),
                         (suseconds_t)((cfg->idle_timeout_ms % 1000) * 1000)};
    evhttp_set_timeout_tv(p->http, &tv);
    evhttp_set_allowed_methods(p->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(p->http, on_request, p);
    if (cfg->jwks_file || cfg->jwks_url) {
        if (!cfg->auth_issuer || cfg->auth_audiences.n == 0 || cfg->auth_algs.n == 0) {
            err = mt_fail(eb, MT_ERR_CONFIG, "%s needs auth.issuer, auth.audiences and auth.algs",
                          cfg->jwks_url ? "auth.jwks_url" : "auth.jwks_file");
            goto fail;
        }
        if (cfg->jwks_file && (err = mt_jwks_load_file(cfg->jwks_file, &p->jwks, eb)) != MT_OK)
            goto fail;
        if (cfg->jwks_url && (err = jwks_url_setup(p, eb)) != MT_OK)
            goto fail;
        p->policy.issuer = cfg->auth_issuer;
        p->policy.audiences = (const char *const *)cfg->auth_audiences.items;
        p->policy.naud = cfg->auth_audiences.n;
        p->policy.algs = (const char *const *)cfg->auth_algs.items;
        p->policy.nalgs = cfg->auth_algs.n;
        p->policy.leeway_s = cfg->auth_leeway_ms / 1000;
    }
    if (cfg->policy_file && (err = mt_proxy_reload_policy(p, eb)) != MT_OK)
        goto fail;
    if ((err = proxy_mrtr_init(p, eb)) != MT_OK)
        goto fail;
    if ((err = mt_mcp_params_new(&p->params)) != MT_OK) {
        err = mt_fail(eb, err, "out of memory");
        goto fail;
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

mt_err mt_proxy_reload_policy(mt_proxy *p, mt_errbuf *eb)
{
    if (!p->cfg->policy_file)
        return MT_OK;
    mt_policy *pol = NULL;
    mt_err err = mt_policy_load_file(p->cfg->policy_file, &pol, eb);
    if (err != MT_OK)
        return err;
    pol_ref *r = malloc(sizeof *r);
    if (!r) {
        mt_policy_free(pol);
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    r->pol = pol;
    r->refs = 1; /* the proxy's own */
    pol_release(p->pol);
    p->pol = r;
    return MT_OK;
}

long mt_proxy_policy_rules(const mt_proxy *p)
{
    return p->pol ? (long)mt_policy_rule_count(p->pol->pol) : -1;
}

void mt_proxy_set_holds(mt_proxy *p, struct mt_hold_hub *hub, int64_t progress_interval_ms)
{
    p->holds = hub;
    p->progress_ms = progress_interval_ms;
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
    return (!p->cfg->jwks_file && !p->cfg->jwks_url) || p->jwks;
}

bool mt_proxy_jwks_stats(const mt_proxy *p, mt_jwks_fetch_stats *out)
{
    if (!p->jwks_fetch)
        return false;
    mt_jwks_fetch_get_stats(p->jwks_fetch, out);
    return true;
}

void mt_proxy_free(mt_proxy *p)
{
    if (!p)
        return;
    if (p->http)
        evhttp_free(p->http);
    for (size_t i = 0; i < TOKEN_CACHE_SLOTS; i++) {
        json_decref(p->tokens[i].identity);
        json_decref(p->tokens[i].claims);
    }
    pol_release(p->pol);
    if (p->up)
        p->up->free(p);
    if (p->ssl_ctx)
        SSL_CTX_free(p->ssl_ctx);
    mt_jwks_fetch_free(p->jwks_fetch);
    mt_jwks_free(p->jwks);
    json_decref(p->anon_identity);
    proxy_mrtr_free(p);
    mt_mcp_params_free(p->params);
    proxy_smap_free(p);
    free(p);
}
