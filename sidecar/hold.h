/* Approval holds: the sidecar's side of just-in-time approvals (DESIGN.md
 * "Approvals", docs/approvals.md "The sidecar's hold").
 *
 * A call that the policy marks `approve` becomes a hold: an ApprovalRequest,
 * signed with the sidecar's key (approvals and bots trust no unsigned one),
 * is published on the requests topic (key approval_id), and the hub reads
 * the decisions topic until a decision arrives that
 *   - verifies (Ed25519) under one of the configured public keys (by key_id),
 *   - names the hold's approval_id and its request_hash (SHA-256 of the
 *     exact request body bytes),
 *   - is not expired (approved decisions past `expires` count as expired),
 *   - was not used before (an approval releases one call, once).
 * Everything else is ignored and reported to the hold it concerns (its
 * approval_id, else the pending hold with the same request_hash) so the
 * proxy records it in that session; decisions concerning no hold are only
 * logged and counted.
 *
 * Wait holds call `decided` exactly once (a verified decision, or the
 * sidecar's own expiry at `expires` + grace), unless the owner cancels
 * first. Ticket holds live in a table keyed by (request_hash, requester
 * subject): the call is answered at once, and the identical request retried
 * by the same subject looks its ticket up (mt_hold_ticket_find).
 *
 * Decisions are read from (now - decision_lookback) on at start, so ticket
 * approvals decided while the sidecar restarted are seen. Pending holds and
 * tickets live in memory only: after a restart a retried ticket request is
 * held again (fail closed). All calls from the event loop's thread. */
#ifndef MCPTRAIL_SIDECAR_HOLD_H
#define MCPTRAIL_SIDECAR_HOLD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "mcptrail/avro.h"
#include "mcptrail/crypto.h"
#include "mcptrail/err.h"
#include "mcptrail/kafka.h"
#include "mcptrail/policy.h"

struct event_base;

#define MT_HOLD_DEFAULT_REQUESTS_TOPIC "mcptrail.approval.requests"
#define MT_HOLD_DEFAULT_VOTES_TOPIC "mcptrail.approval.votes"
#define MT_HOLD_DEFAULT_DECISIONS_TOPIC "mcptrail.approval.decisions"

typedef struct mt_hold_hub_config {
    mt_kafka_config kafka;
    const char *topic_requests, *topic_votes, *topic_decisions; /* NULL: defaults */
    const char *topic_claims;     /* single-use claims of sealed states; NULL: per replica */
    const char *const *decision_key_files; /* PEM Ed25519 public keys (rotation: several) */
    size_t ndecision_keys;
    const char *console_url;     /* base URL of the console; NULL: none in requests */
    int64_t decision_lookback_ms; /* how far back decisions are read at start */
    int64_t expiry_grace_ms;      /* sidecar expiry of a wait hold: expires + grace */
    size_t max_pending;           /* wait holds + tickets at once */
    const char *voter;            /* subject of the sidecar's cancel votes */
    const mt_ed25519_key *signing_key; /* signs requests and cancel votes (private) */
    const mt_avro_registry *schemas;
} mt_hold_hub_config;

typedef struct mt_hold_hub mt_hold_hub;
typedef struct mt_hold mt_hold;

typedef enum mt_hold_outcome {
    MT_HOLD_APPROVED,
    MT_HOLD_DENIED,
    MT_HOLD_EXPIRED,
    MT_HOLD_CANCELLED,
} mt_hold_outcome;

/* A verified decision for a hold. */
typedef struct mt_hold_verdict {
    mt_hold_outcome outcome;
    const json_t *decision; /* the ApprovalDecision (JSON mapping); NULL: the sidecar's own
                               expiry */
    const char *approval_id;
} mt_hold_verdict;

/* A decision that was not acted upon. */
typedef struct mt_hold_ignored {
    const char *approval_id; /* as the decision claims it */
    const char *reason;      /* bad_signature, unknown_key, request_hash_mismatch,
                                already_used, unknown_approval, malformed */
    const char *decision;    /* claimed decision symbol, or NULL */
    const char *key_id;
} mt_hold_ignored;

typedef struct mt_hold_callbacks {
    /* The ApprovalRequest was acknowledged by Kafka (MT_OK) or could not be
     * published (the hold is then over; free it with mt_hold_finish). */
    void (*published)(void *arg, mt_err err);
    void (*decided)(void *arg, const mt_hold_verdict *v);
    void (*ignored)(void *arg, const mt_hold_ignored *ig);
} mt_hold_callbacks;

/* What the proxy knows about the held call. Strings are copied. */
typedef struct mt_hold_request {
    const uint8_t *request_hash;   /* 32 bytes */
    const char *session_id, *event_id;
    const json_t *identity;        /* SessionEvent Identity JSON */
    const char *method, *tool;
    const char *arguments_masked;  /* JSON text, or NULL */
    const char *justification;     /* masked, or NULL */
    const char *rule_id;
    const mt_policy_approval *approval;
} mt_hold_request;

mt_err mt_hold_hub_new(const mt_hold_hub_config *cfg, struct event_base *base,
                       mt_hold_hub **out, mt_errbuf *eb);
void mt_hold_hub_free(mt_hold_hub *hub);
/* The decisions topic is assigned and read (for /readyz). */
bool mt_hold_hub_ready(const mt_hold_hub *hub);

typedef struct mt_hold_metrics {
    uint64_t requested, approved, denied, expired, cancelled, ignored, pending;
} mt_hold_metrics;
void mt_hold_hub_metrics(const mt_hold_hub *hub, mt_hold_metrics *out);

/* Starts a hold: generates approval_id (out, 37 bytes), publishes the
 * ApprovalRequest. Wait holds then report through cb; ticket holds
 * (approval->hold == ticket) only call cb->published and go to the ticket
 * table. MT_ERR_TOO_LARGE when max_pending holds exist. */
mt_err mt_hold_start(mt_hold_hub *hub, const mt_hold_request *rq, const mt_hold_callbacks *cb,
                     void *arg, mt_hold **out, char approval_id[37], mt_errbuf *eb);

/* The owner is done with a wait hold (after `decided`, or a failed
 * publish): no more callbacks; a decided approval stays marked used. */
void mt_hold_finish(mt_hold_hub *hub, mt_hold *h);

/* The client cancelled or left: publishes a cancel vote (source sidecar,
 * signed with the same key as the request) with reason, and frees the hold
 * (no more callbacks). */
void mt_hold_cancel(mt_hold_hub *hub, mt_hold *h, const char *reason);

/* Ticket lookup for a retried request: the ticket of (request_hash,
 * subject), or NULL. */
typedef enum mt_ticket_state {
    MT_TICKET_PENDING,
    MT_TICKET_APPROVED,
    MT_TICKET_DENIED,
    MT_TICKET_EXPIRED,
} mt_ticket_state;
typedef struct mt_ticket mt_ticket;
mt_ticket *mt_hold_ticket_find(mt_hold_hub *hub, const uint8_t *request_hash,
                               const char *subject);
mt_ticket_state mt_hold_ticket_state(mt_hold_hub *hub, mt_ticket *t);
const char *mt_hold_ticket_approval_id(const mt_ticket *t);
const json_t *mt_hold_ticket_decision(const mt_ticket *t); /* NULL while pending */
int64_t mt_hold_ticket_expires(const mt_ticket *t);
/* The retry consumed the ticket (approved: released once; denied/expired:
 * answered): it is removed and its approval marked used. */
void mt_hold_ticket_consume(mt_hold_hub *hub, mt_ticket *t);

/* A verified decision of an approval that no hold of this sidecar names
 * (another replica's, or this one's before a restart), read from the
 * decisions topic: its outcome (approved past `expires` reads expired) and
 * the decision (borrowed until the next hub call). false: none seen for
 * (approval_id, request_hash). */
bool mt_hold_decision_lookup(mt_hold_hub *hub, const char *approval_id,
                             const uint8_t *request_hash, mt_hold_outcome *out,
                             const json_t **decision);
/* An approval released one call here already (replays are refused). */
bool mt_hold_approval_used(const mt_hold_hub *hub, const char *approval_id);
void mt_hold_mark_used(mt_hold_hub *hub, const char *approval_id, const uint8_t *request_hash);

/* ---- single use across replicas ------------------------------------------
 * A sealed requestState (mrtr.h) must pass once per deployment, not once per
 * replica. With topic_claims set, the replica about to use one publishes a
 * claim (key: the state's nonce; value: "<claimant> <expires_ms>", text) and
 * waits until it reads the claims back: the first claim of a nonce in its
 * partition wins, every other is a replay. Claims are read from
 * decision_lookback on (with the decisions) and remembered until their
 * state expires; the table is bounded (when full, claims fail closed until
 * entries expire). */
typedef struct mt_hold_claim mt_hold_claim;
#define MT_HOLD_CLAIM_KEY_MAX 40 /* a nonce (32 hex), or "a:" + an approval id */
/* won: this replica's claim came first. why: the reason when not won. */
typedef void (*mt_hold_claim_cb)(void *arg, bool won, const char *why);
/* Whether claims are configured (topic_claims). */
bool mt_hold_claims_on(const mt_hold_hub *hub);
/* Starts a claim of key (a sealed state's nonce, or "a:<approval_id>" when
 * an approval asked by URL elicitation is released: that release happens
 * once per deployment too): cb runs exactly once (within CLAIM_WAIT_MS), unless
 * cancelled first. MT_ERR_STATE (why in eb): the claims are not readable yet,
 * the table is full, or the nonce was claimed already (a replay): no
 * callback then. */
mt_err mt_hold_claim_start(mt_hold_hub *hub, const char *nonce, int64_t expires_ms,
                           mt_hold_claim_cb cb, void *arg, mt_hold_claim **out, mt_errbuf *eb);
void mt_hold_claim_cancel(mt_hold_hub *hub, mt_hold_claim *c);

/* Console link of an approval (console_url + "#/approvals/" + id) into out;
 * "" when no console_url is configured. */
void mt_hold_console_link(const mt_hold_hub *hub, const char *approval_id, char *out,
                          size_t outlen);

/* Approvers of a decision as the SessionEvent's ApprovalInfo JSON
 * {approval_id, decision, approvers: [subjects]} (new reference). decision
 * NULL: pending (decision null). */
json_t *mt_hold_approval_info(const char *approval_id, const char *decision_symbol,
                              const json_t *decision);

const char *mt_hold_outcome_symbol(mt_hold_outcome o);

#endif
