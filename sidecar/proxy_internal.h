/* Shared by the proxy engine's files only (proxy.c: checks, forwarding,
 * streaming, recording gate; proxy_hold.c: approval holds): the proxy and
 * the per-request exchange (fwd) layouts, and the few functions one file
 * calls in the other. Not part of the sidecar's interface (proxy.h). */
#ifndef MCPTRAIL_SIDECAR_PROXY_INTERNAL_H
#define MCPTRAIL_SIDECAR_PROXY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "mcptrail/crypto.h"
#include "mcptrail/jwt.h"
#include "mcptrail/policy.h"
#include "hold.h"
#include "jwks_fetch.h"
#include "mcp.h"
#include "mcp_params.h"
#include "mrtr.h"
#include "proxy.h"
#include "recorder.h"
#include "sse.h"

#define SESSION_MAP_BUCKETS 1024u
#define TOKEN_CACHE_SLOTS 1024u /* verified tokens remembered (direct-mapped) */

/* A verified token: SHA-256 of the raw token -> its SessionEvent identity,
 * valid until min(exp, verified + TOKEN_CACHE_TTL_S). The token itself is
 * not stored. */
typedef struct token_entry {
    uint8_t hash[MT_SHA256_LEN];
    int64_t until; /* 0: empty slot */
    json_t *identity;
    json_t *claims; /* verified claims, for the policy; NULL when none */
} token_entry;

/* A loaded policy shared by the proxy (while it is current) and by every
 * exchange it decided: decisions borrow its strings, so it is freed only
 * when the last holder lets go. */
typedef struct pol_ref {
    mt_policy *pol;
    size_t refs;
} pol_ref;

/* Upstream Mcp-Session-Id -> recorder session id (the sidecar-generated id
 * the initialize exchange was recorded under), so every message of one MCP
 * session lands in one recorded session. Chained hash, plus an insertion
 * order list that bounds the table. */
typedef struct smap_entry {
    struct smap_entry *next;      /* bucket chain */
    struct smap_entry *older, *newer;
    char *upstream_id;
    char *rec_id;
} smap_entry;

struct proxy_upstream;
struct stdio_hub;

struct mt_proxy {
    struct event_base *base;
    const struct proxy_upstream *up; /* where requests go (upstream.h) */
    struct stdio_hub *stdio;         /* upstream.command's processes (upstream_stdio.c) */
    const mt_sidecar_config *cfg;
    mt_sidecar_metrics *m;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    SSL_CTX *ssl_ctx;
    mt_recorder *rec;      /* NULL: nothing recorded */
    mt_jwks *jwks;         /* NULL: no JWKS configured, tokens are refused */
    json_t *anon_identity; /* the identity of anonymous calls, made once */
    mt_jwks_fetch *jwks_fetch; /* auth.jwks_url; NULL: static auth.jwks_file */
    mt_jwt_policy policy;  /* borrows cfg's strings */
    pol_ref *pol;          /* current policy (policy.file); NULL: allow all */
    uint16_t port;
    size_t inflight;
    smap_entry *smap[SESSION_MAP_BUCKETS];
    smap_entry *smap_oldest, *smap_newest;
    size_t smap_n;
    void (*drained_cb)(void *arg);
    void *drained_arg;
    struct evhttp_connection **idle; /* HTTP upstream keep-alive pool (LIFO) */
    size_t nidle, idle_cap;
    token_entry tokens[TOKEN_CACHE_SLOTS];
    mt_hold_hub *holds;     /* approval holds; NULL: approve answers unavailable */
    int64_t progress_ms;    /* notifications/progress period while held; 0: none */
    struct fwd *held;       /* exchanges waiting for a decision (cancellation lookup) */
    unsigned upstream_versions; /* bit per mt_mcp_version the upstream's server/discover
                                   listed in supportedVersions; 0: not learned yet */
    /* multi-round-trip calls (proxy_mrtr.c) */
    mt_mrtr_keys *mrtr_keys;   /* seal/open requestState (approvals.state_key_files) */
    mt_mrtr_links *mrtr_links; /* server requestState -> the call it continues */
    mt_mrtr_seen *mrtr_seen;   /* nonces of sealed states already used (this replica) */
    mt_mcp_params *params;     /* x-mcp-header declarations learned from tools/list */
};

typedef struct sse_queue_storage {
    void *head, *tail;
} sse_queue_storage;

/* The request's JSON-RPC fields (its first message, for a batch). */
typedef struct fwd_rpc {
    char *id;       /* JSON text of the request id, for our own errors */
    char *method;
    char *tool;     /* tools/call or prompts/get name, also recorded on the response */
    char *resource;
    bool batch;     /* the body was a batch */
} fwd_rpc;

/* Which MCP session the exchange belongs to (the transport's business). */
typedef struct fwd_session {
    char *client_sid;   /* Mcp-Session-Id (or 2024-11-05 ?sessionId=) the client sent */
    char *upstream_sid; /* Mcp-Session-Id the upstream assigned on initialize */
    char *legacy_sid;   /* 2024-11-05 stream: sessionId of its endpoint URI */
    bool is_initialize;
    bool end;           /* session_end after the exchange (DELETE, per-request sessions) */
    bool endpoint_seen; /* 2024-11-05: first endpoint event already rewritten */
} fwd_session;

/* A 2026-07-28 request (proxy_mrtr.c): the logical call its rounds make up,
 * the sealed requestState it carried, its _meta client info. */
typedef struct fwd_call {
    bool on;                  /* a call whose result may be input_required */
    uint8_t hash[MT_SHA256_LEN];
    char id[37];              /* the logical call ("": this request starts it) */
    int round;                /* 1: first round */
    bool sealed_in;           /* the request carried a sealed requestState */
    bool covered;             /* ... RELEASED: an approval already covers the call */
    bool awaiting;            /* ... AWAITING_APPROVAL: the decision is looked up */
    bool url;                 /* the approval is asked by URL elicitation (nothing held) */
    bool approved;            /* an approval released this call (results get sealed) */
    int64_t expires_ms;       /* AWAITING: expiry of the approval its state names */
    char result_type[48];     /* resultType of the last result relayed (record) */
    bool claim_pending;       /* the sealed state's single use is claimed once recorded */
    char claim_nonce[MT_HOLD_CLAIM_KEY_MAX + 1]; /* nonce, or "a:<approval_id>" */
    int64_t claim_expires_ms;
    struct mt_hold_claim *claim; /* waiting for the claims topic */
    char *client_name, *client_version, *client_caps;
} fwd_call;

struct proxy_transport;

typedef struct fwd {
    mt_proxy *p;
    struct evhttp_request *creq;     /* NULL once answered or the client left */
    struct evhttp_connection *cconn; /* client connection (closecb registered) */
    bool up_live;        /* the upstream may still call back (upstream.h) */
    struct evhttp_request *ureq;     /* HTTP upstream: NULL once libevent finished it */
    struct evhttp_connection *uconn;
    bool uconn_reusable; /* exchange completed cleanly: back to the pool */
    struct stdio_exchange *sx;       /* stdio upstream: the exchange's routing state */
    struct timespec t0;
    fwd_rpc rpc;
    fwd_session sess;
    const struct proxy_transport *tr; /* the request's transport (transport.h) */
    mt_mcp_version version;
    bool sse_parser_on;
    mt_sse_parser sse_parser;
    struct evbuffer *reject_body; /* answer of a refused request, sent once recorded */
    int reject_code;
    const char *reject_reason;
    const char *req_kind;     /* "request" | "notification" | "response" (static) */
    bool req_is_error, req_has_code;
    long long req_code;
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
    json_t *claims;    /* its verified token claims (NULL: none), for the policy */
    pol_ref *pol;      /* policy that decided this exchange (a reference) */
    bool has_decision; /* decision holds; its strings live in pol */
    mt_policy_decision decision;
    int status;        /* upstream status */
    bool sse;          /* response is text/event-stream, relayed per event */
    bool started;      /* reply headers sent to the client */
    bool upstream_done;
    bool client_done;
    bool paused;       /* upstream reads disabled for back-pressure */
    bool free_scheduled;
    struct evbuffer *pending; /* SSE bytes not yet forming a whole event, or JSON body */
    /* approval hold (policy action approve) */
    bool hold_pending;        /* to be held once the request event is recorded */
    mt_hold *hold;            /* waiting for a decision */
    struct fwd *held_prev, *held_next;
    bool in_held;
    char approval_id[37];
    char event_id[37];        /* event_id of the recorded request */
    uint8_t req_hash[MT_SHA256_LEN];
    char *justification;
    char *progress_token;     /* JSON text of params._meta.progressToken */
    bool accepts_sse;
    bool wrapped;             /* reply started as SSE by the sidecar (progress) */
    unsigned progress_n;
    struct event *progress_ev;
    struct event *eof_ev;     /* watches a waiting client's socket for its close */
    mt_hold_outcome outcome;  /* set when decided */
    json_t *verdict;          /* the decision that ended the hold (NULL: none/own expiry) */
    struct evbuffer *fwd_body; /* body sent upstream when it differs from the client's */
    fwd_call call;            /* 2026-07-28 */
} fwd;

/* --- proxy.c ----------------------------------------------------------------- */

/* Frees f from a fresh loop iteration once both ends are finished. */
void proxy_fwd_maybe_free(fwd *f);
/* The client end is done (answered or gone); frees f if the upstream end is too. */
void proxy_client_finished(fwd *f);
/* An event of f's exchange: identity, HTTP and request rpc fields, policy decision. */
void proxy_fill_event(fwd *f, mt_rec_event *ev, const char *kind, const char *direction,
                      int status, const void *payload, size_t len);
/* Records ev with a NUL-terminated copy of payload; cb runs exactly once (recorder.h). */
void proxy_emit_payload(fwd *f, mt_rec_event *ev, const void *payload, size_t len,
                        mt_rec_done_cb cb, void *arg);
/* Recorder callback of a refusal: answers the client with f->reject_body. */
void proxy_on_reject_recorded(void *arg, mt_err err);
/* Public base URL of the sidecar as clients reach it (2024-11-05 endpoint). */
void proxy_public_base(fwd *f, char *out, size_t outlen);
/* Forwards the client's request to the upstream. */
void proxy_start_upstream(fwd *f, struct evhttp_request *creq);

/* --- proxy_mrtr.c ------------------------------------------------------------ */

/* Keys, link table and nonce set from the configuration. */
mt_err proxy_mrtr_init(mt_proxy *p, mt_errbuf *eb);
void proxy_mrtr_free(mt_proxy *p);
/* A 2026-07-28 request (not a batch): records its _meta client info; for a
 * call that may be multi-round-trip, its call hash and the requestState it
 * carries (a sealed one is opened and checked; the body the upstream gets is
 * rewritten). false: refused (answer under way). */
typedef struct proxy_refusal {
    int code;           /* JSON-RPC error code */
    const char *reason; /* recorded and counted (static) */
    char msg[640];      /* room for an errbuf's message and its context */
} proxy_refusal;
bool proxy_mrtr_request(fwd *f, const mt_mcp_msg *m, proxy_refusal *r);
/* Whether a held call of this client is asked by URL elicitation. */
bool proxy_mrtr_wants_url(fwd *f, const mt_mcp_msg *m);
/* The call, client and round of an event of f. */
void proxy_mrtr_fill(fwd *f, mt_rec_event *ev);
/* A response message of the upstream (JSON text): an input-required result
 * of an approved call gets a sealed requestState, else the server's state is
 * linked to the call. true: rewritten into out. result_type/sealed: for the
 * record. */
bool proxy_mrtr_response(fwd *f, const void *data, size_t len, mt_buf *out,
                         const char **result_type, bool *sealed);
/* The input-required result that asks the client to open the approval's
 * console page (URL elicitation), with a sealed AWAITING_APPROVAL state
 * expiring at expires_ms. NULL: cannot (no memory, too large). */
json_t *proxy_mrtr_url_result(fwd *f, const char *console_link, int64_t expires_ms,
                              mt_errbuf *eb);

/* --- proxy_hold.c ------------------------------------------------------------ */

/* Takes f out of the proxy's list of held exchanges. */
void proxy_held_unlink(fwd *f);
/* Writes a JSON body to a reply the sidecar already started as SSE (progress
 * while held): one `message` event, then the end. */
void proxy_wrapped_send(fwd *f, struct evbuffer *body);
/* The request event is recorded: hold the call (wait), or answer its ticket. */
void proxy_hold_begin(fwd *f);
/* The client cancelled or left: the approval is withdrawn and the end recorded. */
void proxy_hold_cancel(fwd *f, const char *reason);
/* The request event is recorded and its sealed requestState must be claimed
 * across replicas (approvals.topic_claims): claim, then continue (hold or
 * forward) or refuse as a replay. */
void proxy_claim_begin(fwd *f);
/* notifications/cancelled for a held request of the same MCP session. */
void proxy_cancel_held(mt_proxy *p, const char *client_sid, const json_t *request_id);

#endif
