/* The approval state machine of mcptrail-approvals: pure (no I/O, no clock,
 * no Kafka), so every rule is unit-tested in isolation and a replay of the
 * topics reproduces the same state.
 *
 *   pending -> approved | denied | expired | cancelled   (terminal is final)
 *
 * Inputs are the three record kinds of the approval topics, already decoded:
 * requests (mt_appr_add_request), votes and cancellations (mt_appr_vote),
 * decisions read back from mcptrail.approval.decisions
 * (mt_appr_adopt_decision), plus the passage of time (mt_appr_expire_due),
 * which the caller drives with its own clock.
 *
 * Votes reach the state machine only after their signature was checked
 * against the key their source requires (trust.h); signer_key names that
 * key. Rules applied to a vote, in this order (the first failing one is
 * the outcome; nothing changes on a rejection):
 *   1. the approval exists                               (UNKNOWN)
 *   2. the vote names the request's hash                 (HASH_MISMATCH)
 *   3. cancel: source must be the sidecar                (CANCEL_NOT_SIDECAR)
 *      a sidecar votes nothing but cancel                (SIDECAR_NOT_CANCEL)
 *      cancel: signed by the key that signed the request (CANCEL_FOREIGN)
 *   4. the approval is pending                           (TERMINAL)
 *   5. cancel -> cancelled                               (DECIDED)
 *   6. the voter holds one of approver_groups (an empty
 *      list admits nobody: fail closed)                  (NOT_IN_GROUP)
 *   7. four_eyes: the requester (same issuer and
 *      subject) never approves its own request           (SELF_APPROVAL)
 *   8. reason_required: a non-blank reason               (REASON_REQUIRED)
 *   9. one vote per voter (issuer + subject): the same vote again is
 *      DUPLICATE (idempotent, no change), a different one ALREADY_VOTED
 *  10. vote time < expires; otherwise (for a vote that passed 5-9: an
 *      ineligible voter's ts changes nothing) the approval becomes
 *      expired, decided at `expires`                     (TOO_LATE)
 *  11. deny -> denied at once (one eligible deny is a veto);
 *      approve -> counted; min_approvals distinct approvals -> approved.
 *
 * Rejected votes (and requests naming a known approval) are kept in the
 * approval's history with the reason (mt_appr_note_rejected, bounded), so
 * the API and console show forgery attempts next to the counted votes.
 *
 * Times are microseconds since the Unix epoch. The decision time is the
 * time of the record that decided (vote ts, or `expires` for expiry), never
 * the wall clock, so a replay computes identical decisions. */
#ifndef MT_APPROVALS_STATE_H
#define MT_APPROVALS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mcptrail/err.h"

#define MT_APPR_HASH_LEN 32
#define MT_APPR_MAX_GROUPS 64      /* approver_groups / voter groups considered */
#define MT_APPR_MAX_VOTES 64       /* counted votes kept per approval */
#define MT_APPR_MAX_MIN_APPROVALS 64
#define MT_APPR_MAX_REJECTED 32    /* rejected records kept per approval (all are counted) */
#define MT_APPR_KEY_ID_SIZE 17     /* 16 hex digits + NUL, as MT_ED25519_KEY_ID_SIZE */
#define MT_APPR_REJECTED_FIELD_MAX 128 /* bytes kept of a rejected record's claimed names */

typedef enum mt_appr_state {
    MT_APPR_PENDING = 0,
    MT_APPR_APPROVED,
    MT_APPR_DENIED,
    MT_APPR_EXPIRED,
    MT_APPR_CANCELLED,
} mt_appr_state;

typedef enum mt_appr_vote_kind {
    MT_APPR_VOTE_APPROVE = 0,
    MT_APPR_VOTE_DENY,
    MT_APPR_VOTE_CANCEL,
} mt_appr_vote_kind;

typedef enum mt_appr_source {
    MT_APPR_SRC_API = 0,
    MT_APPR_SRC_CONSOLE,
    MT_APPR_SRC_BOT,
    MT_APPR_SRC_SIDECAR,
} mt_appr_source;

typedef enum mt_appr_outcome {
    MT_APPR_COUNTED = 0,     /* vote recorded, still pending */
    MT_APPR_DECIDED,         /* vote recorded and the approval became terminal */
    MT_APPR_DUPLICATE,       /* same voter, same vote again: no change */
    MT_APPR_UNKNOWN,         /* no such approval */
    MT_APPR_HASH_MISMATCH,   /* vote for another request hash */
    MT_APPR_TERMINAL,        /* approval already decided */
    MT_APPR_TOO_LATE,        /* vote at/after expiry: the approval is now expired */
    MT_APPR_NOT_IN_GROUP,    /* voter holds none of approver_groups */
    MT_APPR_SELF_APPROVAL,   /* four-eyes: the requester approving itself */
    MT_APPR_REASON_REQUIRED, /* rule demands a reason */
    MT_APPR_ALREADY_VOTED,   /* voter already cast a different vote */
    MT_APPR_CANCEL_NOT_SIDECAR, /* cancel from a source other than the sidecar */
    MT_APPR_SIDECAR_NOT_CANCEL, /* a sidecar voting approve or deny */
    MT_APPR_CANCEL_FOREIGN,     /* cancel signed by another sidecar than the requester */
    MT_APPR_INVALID,         /* malformed input (NULL ids, ...) */
} mt_appr_outcome;

/* A request as the state machine needs it. Strings are copied. */
typedef struct mt_appr_request {
    const char *approval_id;
    uint8_t request_hash[MT_APPR_HASH_LEN];
    const char *requester_issuer;  /* NULL when the identity has none */
    const char *requester_subject; /* NULL when the identity has none */
    const char *const *groups;
    size_t ngroups;
    int64_t min_approvals; /* < 1 is treated as 1 */
    bool four_eyes;
    bool reason_required;
    int64_t created, expires;
    const char *key_id; /* the sidecar key that signed the request */
    json_t *record; /* the decoded ApprovalRequest, for display; borrowed, incref'd */
} mt_appr_request;

typedef struct mt_appr_vote_in {
    const char *approval_id;
    uint8_t request_hash[MT_APPR_HASH_LEN];
    const char *issuer, *subject;
    const char *const *groups;
    size_t ngroups;
    mt_appr_vote_kind kind;
    const char *reason; /* NULL: none */
    int64_t ts;
    mt_appr_source source;
    const char *signer_key; /* key id that signed the vote (checked by trust.h) */
} mt_appr_vote_in;

/* A record that was not counted, as it claimed to be. */
typedef struct mt_appr_rejection {
    char *what;            /* "vote" or "request" */
    char *issuer, *subject; /* claimed voter (votes) or requester (requests) */
    char *vote, *source;    /* claimed symbols, NULL when absent */
    char *key_id;          /* claimed signing key, NULL when unsigned */
    char *reason;          /* verdict or outcome name: unsigned, bad_signature, ... */
    int64_t ts;
} mt_appr_rejection;

/* A counted vote (approvals, the deciding deny, or the cancel). */
typedef struct mt_appr_vote {
    char *issuer, *subject, *reason;
    mt_appr_vote_kind kind;
    mt_appr_source source;
    int64_t ts;
    char key_id[MT_APPR_KEY_ID_SIZE]; /* the key that signed it */
} mt_appr_vote;

typedef struct mt_appr {
    char *approval_id;
    uint8_t request_hash[MT_APPR_HASH_LEN];
    char *requester_issuer, *requester_subject;
    char **groups;
    size_t ngroups;
    int64_t min_approvals;
    bool four_eyes, reason_required;
    int64_t created, expires;
    char request_key[MT_APPR_KEY_ID_SIZE]; /* sidecar key of the request; "" if unknown */
    json_t *record;         /* NULL for an approval known only from its decision */

    mt_appr_state state;
    int64_t decided;        /* 0 while pending */
    mt_appr_vote votes[MT_APPR_MAX_VOTES];
    size_t nvotes;
    mt_appr_rejection *rejected; /* the first MT_APPR_MAX_REJECTED, oldest first */
    size_t nrejected;
    uint64_t rejected_total;     /* all of them */

    /* Publication bookkeeping, owned by the service: */
    bool published;  /* a decision for this id is on the decisions topic (acked or read) */
    bool publishing; /* a decision was sent and waits for its delivery report */
    json_t *decision; /* the signed decision (sent or read back), or NULL */
} mt_appr;

typedef struct mt_appr_table {
    mt_appr **items;
    size_t n, cap;
} mt_appr_table;

void mt_appr_table_init(mt_appr_table *t);
void mt_appr_table_free(mt_appr_table *t);
mt_appr *mt_appr_find(const mt_appr_table *t, const char *approval_id);

typedef enum mt_appr_add_result {
    MT_APPR_ADDED = 0,
    MT_APPR_ADD_DUPLICATE, /* same id and hash already known: ignored */
    MT_APPR_ADD_CONFLICT,  /* same id, another hash: ignored (first wins) */
} mt_appr_add_result;

/* Adds a pending approval. MT_ERR_INVALID_ARG for a missing id,
 * MT_ERR_NOMEM; *res tells duplicates apart. */
mt_err mt_appr_add_request(mt_appr_table *t, const mt_appr_request *r, mt_appr_add_result *res);

/* Applies one vote or cancel (see the rules above). *out (may be NULL)
 * points at the approval the vote named, when it exists. */
mt_appr_outcome mt_appr_vote_apply(mt_appr_table *t, const mt_appr_vote_in *v, mt_appr **out);

/* Expires every pending approval whose expires + grace_us <= now_us;
 * calls on_decided for each. Returns how many expired. */
size_t mt_appr_expire_due(mt_appr_table *t, int64_t now_us, int64_t grace_us,
                          void (*on_decided)(mt_appr *a, void *ctx), void *ctx);

/* A decision read from the decisions topic is authoritative (it is what was
 * signed and what the sidecar acts on): the approval takes its state,
 * decided time and marks published; an unknown id gets an entry built from
 * the decision alone. `decision` is incref'd. */
mt_err mt_appr_adopt_decision(mt_appr_table *t, const char *approval_id,
                              const uint8_t hash[MT_APPR_HASH_LEN], mt_appr_state state,
                              int64_t decided, json_t *decision, mt_appr **out);

/* Names: "pending", ...; "approve"/"deny"/"cancel"; "api"/...; outcome
 * "counted", "unknown_approval", ... and a sentence for API errors. */
const char *mt_appr_state_name(mt_appr_state s);
bool mt_appr_state_parse(const char *name, mt_appr_state *out);
const char *mt_appr_vote_kind_name(mt_appr_vote_kind k);
bool mt_appr_vote_kind_parse(const char *name, mt_appr_vote_kind *out);
const char *mt_appr_source_name(mt_appr_source s);
bool mt_appr_source_parse(const char *name, mt_appr_source *out);
const char *mt_appr_outcome_name(mt_appr_outcome o);
const char *mt_appr_outcome_text(mt_appr_outcome o);

/* Adds a rejected record to a's history (kept while fewer than
 * MT_APPR_MAX_REJECTED are, always counted). r's strings are copied;
 * MT_ERR_NOMEM leaves the history as it was (still counted). */
mt_err mt_appr_note_rejected(mt_appr *a, const mt_appr_rejection *r);

/* Counted approve votes. */
size_t mt_appr_approvals(const mt_appr *a);

/* Checks rules 1-10 without changing anything, for the HTTP API to refuse a
 * vote before publishing it. Returns MT_APPR_COUNTED when the vote would be
 * accepted (v->ts is the time used for the expiry rule). */
mt_appr_outcome mt_appr_vote_check(const mt_appr_table *t, const mt_appr_vote_in *v);

#endif
