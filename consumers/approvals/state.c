/* Approval state machine; the rules and their order are in state.h.
 *
 * The table is a plain array searched linearly: the service keeps only the
 * approvals of its replay window, a few thousand at most, and every
 * operation is one lookup. Swap in a hash map if that ever changes. */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

void mt_appr_table_init(mt_appr_table *t)
{
    memset(t, 0, sizeof *t);
}

static void vote_free(mt_appr_vote *v)
{
    free(v->issuer);
    free(v->subject);
    free(v->reason);
    memset(v, 0, sizeof *v);
}

static void rejection_free(mt_appr_rejection *r)
{
    free(r->what);
    free(r->issuer);
    free(r->subject);
    free(r->vote);
    free(r->source);
    free(r->key_id);
    free(r->reason);
    memset(r, 0, sizeof *r);
}

static void appr_free(mt_appr *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nrejected; i++)
        rejection_free(&a->rejected[i]);
    free(a->rejected);
    free(a->approval_id);
    free(a->requester_issuer);
    free(a->requester_subject);
    for (size_t i = 0; i < a->ngroups; i++)
        free(a->groups[i]);
    free(a->groups);
    for (size_t i = 0; i < a->nvotes; i++)
        vote_free(&a->votes[i]);
    json_decref(a->record);
    json_decref(a->decision);
    free(a);
}

void mt_appr_table_free(mt_appr_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        appr_free(t->items[i]);
    free(t->items);
    memset(t, 0, sizeof *t);
}

mt_appr *mt_appr_find(const mt_appr_table *t, const char *approval_id)
{
    if (!approval_id)
        return NULL;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->items[i]->approval_id, approval_id) == 0)
            return t->items[i];
    return NULL;
}

static mt_err table_push(mt_appr_table *t, mt_appr *a)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        mt_appr **items = realloc(t->items, cap * sizeof *items);
        if (!items)
            return MT_ERR_NOMEM;
        t->items = items;
        t->cap = cap;
    }
    t->items[t->n++] = a;
    return MT_OK;
}

mt_err mt_appr_add_request(mt_appr_table *t, const mt_appr_request *r, mt_appr_add_result *res)
{
    if (!r || !r->approval_id || !*r->approval_id || (r->ngroups && !r->groups))
        return MT_ERR_INVALID_ARG;
    mt_appr *old = mt_appr_find(t, r->approval_id);
    if (old) {
        /* An entry created from a decision alone gets its request details. */
        bool same = memcmp(old->request_hash, r->request_hash, MT_APPR_HASH_LEN) == 0;
        if (same && !old->record && r->record)
            old->record = json_incref(r->record);
        if (res)
            *res = same ? MT_APPR_ADD_DUPLICATE : MT_APPR_ADD_CONFLICT;
        return MT_OK;
    }
    mt_appr *a = calloc(1, sizeof *a);
    if (!a)
        return MT_ERR_NOMEM;
    size_t ng = r->ngroups > MT_APPR_MAX_GROUPS ? MT_APPR_MAX_GROUPS : r->ngroups;
    a->approval_id = strdup(r->approval_id);
    a->requester_issuer = dup_or_null(r->requester_issuer);
    a->requester_subject = dup_or_null(r->requester_subject);
    a->groups = ng ? calloc(ng, sizeof *a->groups) : NULL;
    bool oom = !a->approval_id || (r->requester_issuer && !a->requester_issuer) ||
               (r->requester_subject && !a->requester_subject) || (ng && !a->groups);
    for (size_t i = 0; !oom && i < ng; i++) {
        a->groups[i] = dup_or_null(r->groups[i]);
        if (!a->groups[i])
            oom = true;
        else
            a->ngroups++;
    }
    if (oom) {
        appr_free(a);
        return MT_ERR_NOMEM;
    }
    memcpy(a->request_hash, r->request_hash, MT_APPR_HASH_LEN);
    a->min_approvals = r->min_approvals < 1 ? 1 : r->min_approvals;
    if (a->min_approvals > MT_APPR_MAX_MIN_APPROVALS)
        a->min_approvals = MT_APPR_MAX_MIN_APPROVALS;
    a->four_eyes = r->four_eyes;
    a->reason_required = r->reason_required;
    a->created = r->created;
    a->expires = r->expires;
    snprintf(a->request_key, sizeof a->request_key, "%s", r->key_id ? r->key_id : "");
    a->record = r->record ? json_incref(r->record) : NULL;
    a->state = MT_APPR_PENDING;
    if (table_push(t, a) != MT_OK) {
        appr_free(a);
        return MT_ERR_NOMEM;
    }
    if (res)
        *res = MT_APPR_ADDED;
    return MT_OK;
}

static bool blank(const char *s)
{
    if (!s)
        return true;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

static bool in_groups(const mt_appr *a, const mt_appr_vote_in *v)
{
    size_t nv = v->ngroups > MT_APPR_MAX_GROUPS ? MT_APPR_MAX_GROUPS : v->ngroups;
    for (size_t i = 0; i < a->ngroups; i++)
        for (size_t j = 0; j < nv; j++)
            if (str_eq(a->groups[i], v->groups[j]))
                return true;
    return false;
}

static const mt_appr_vote *vote_of(const mt_appr *a, const char *issuer, const char *subject)
{
    for (size_t i = 0; i < a->nvotes; i++)
        if (str_eq(a->votes[i].issuer, issuer) && str_eq(a->votes[i].subject, subject))
            return &a->votes[i];
    return NULL;
}

/* s cut to at most max bytes on a UTF-8 character boundary (the history
 * holds what a forger claimed: it is bounded, and stays valid UTF-8). */
static char *dup_cut(const char *s, size_t max)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return strndup(s, n);
}

mt_err mt_appr_note_rejected(mt_appr *a, const mt_appr_rejection *r)
{
    if (!a || !r)
        return MT_ERR_INVALID_ARG;
    a->rejected_total++;
    if (a->nrejected >= MT_APPR_MAX_REJECTED)
        return MT_OK;
    if (!a->rejected && !(a->rejected = calloc(MT_APPR_MAX_REJECTED, sizeof *a->rejected)))
        return MT_ERR_NOMEM;
    mt_appr_rejection *d = &a->rejected[a->nrejected];
    d->what = dup_or_null(r->what ? r->what : "vote");
    d->issuer = dup_cut(r->issuer, MT_APPR_REJECTED_FIELD_MAX);
    d->subject = dup_cut(r->subject, MT_APPR_REJECTED_FIELD_MAX);
    d->vote = dup_cut(r->vote, 16);
    d->source = dup_cut(r->source, 16);
    d->key_id = dup_cut(r->key_id, MT_APPR_KEY_ID_SIZE - 1);
    d->reason = dup_or_null(r->reason ? r->reason : "rejected");
    d->ts = r->ts;
    if (!d->what || !d->reason || (r->issuer && !d->issuer) || (r->subject && !d->subject) ||
        (r->vote && !d->vote) || (r->source && !d->source) || (r->key_id && !d->key_id)) {
        rejection_free(d);
        return MT_ERR_NOMEM;
    }
    a->nrejected++;
    return MT_OK;
}

size_t mt_appr_approvals(const mt_appr *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->nvotes; i++)
        if (a->votes[i].kind == MT_APPR_VOTE_APPROVE)
            n++;
    return n;
}

/* Rules 1-10; for EXPIRED the caller (apply) performs the transition. */
static mt_appr_outcome check(const mt_appr_table *t, const mt_appr_vote_in *v, mt_appr **out)
{
    if (!v || !v->approval_id || !v->issuer || !v->subject || !*v->subject ||
        (v->ngroups && !v->groups))
        return MT_APPR_INVALID;
    mt_appr *a = mt_appr_find(t, v->approval_id);
    if (out)
        *out = a;
    if (!a)
        return MT_APPR_UNKNOWN;
    if (memcmp(a->request_hash, v->request_hash, MT_APPR_HASH_LEN) != 0)
        return MT_APPR_HASH_MISMATCH;
    if (v->kind == MT_APPR_VOTE_CANCEL && v->source != MT_APPR_SRC_SIDECAR)
        return MT_APPR_CANCEL_NOT_SIDECAR;
    if (v->source == MT_APPR_SRC_SIDECAR && v->kind != MT_APPR_VOTE_CANCEL)
        return MT_APPR_SIDECAR_NOT_CANCEL;
    if (v->kind == MT_APPR_VOTE_CANCEL &&
        (!a->request_key[0] || !str_eq(a->request_key, v->signer_key)))
        return MT_APPR_CANCEL_FOREIGN;
    if (a->state != MT_APPR_PENDING) {
        const mt_appr_vote *prev = vote_of(a, v->issuer, v->subject);
        if (prev && prev->kind == v->kind)
            return MT_APPR_DUPLICATE; /* e.g. the deciding vote read twice */
        return MT_APPR_TERMINAL;
    }
    /* A vote at or after the expiry expires the approval, but only one that
     * would otherwise count: a voter's signed ts must not let an ineligible
     * voter end someone else's approval early. */
    bool late = v->ts >= a->expires;
    if (v->kind == MT_APPR_VOTE_CANCEL)
        return late ? MT_APPR_TOO_LATE : MT_APPR_COUNTED;
    if (!in_groups(a, v))
        return MT_APPR_NOT_IN_GROUP;
    if (a->four_eyes && v->kind == MT_APPR_VOTE_APPROVE && str_eq(a->requester_issuer, v->issuer) &&
        str_eq(a->requester_subject, v->subject))
        return MT_APPR_SELF_APPROVAL;
    if (a->reason_required && blank(v->reason))
        return MT_APPR_REASON_REQUIRED;
    const mt_appr_vote *prev = vote_of(a, v->issuer, v->subject);
    if (prev)
        return prev->kind == v->kind ? MT_APPR_DUPLICATE : MT_APPR_ALREADY_VOTED;
    if (late)
        return MT_APPR_TOO_LATE;
    if (a->nvotes >= MT_APPR_MAX_VOTES)
        return MT_APPR_INVALID;
    return MT_APPR_COUNTED;
}

mt_appr_outcome mt_appr_vote_check(const mt_appr_table *t, const mt_appr_vote_in *v)
{
    return check(t, v, NULL);
}

static void decide(mt_appr *a, mt_appr_state s, int64_t when)
{
    a->state = s;
    a->decided = when;
}

mt_appr_outcome mt_appr_vote_apply(mt_appr_table *t, const mt_appr_vote_in *v, mt_appr **out)
{
    mt_appr *a = NULL;
    mt_appr_outcome o = check(t, v, &a);
    if (out)
        *out = a;
    if (o == MT_APPR_TOO_LATE) {
        decide(a, MT_APPR_EXPIRED, a->expires);
        return o;
    }
    if (o != MT_APPR_COUNTED)
        return o;
    mt_appr_vote *slot = &a->votes[a->nvotes];
    slot->issuer = strdup(v->issuer);
    slot->subject = strdup(v->subject);
    slot->reason = dup_or_null(v->reason);
    if (!slot->issuer || !slot->subject || (v->reason && !slot->reason)) {
        vote_free(slot);
        return MT_APPR_INVALID;
    }
    slot->kind = v->kind;
    slot->source = v->source;
    slot->ts = v->ts;
    snprintf(slot->key_id, sizeof slot->key_id, "%s", v->signer_key ? v->signer_key : "");
    a->nvotes++;
    switch (v->kind) {
    case MT_APPR_VOTE_CANCEL:
        decide(a, MT_APPR_CANCELLED, v->ts);
        return MT_APPR_DECIDED;
    case MT_APPR_VOTE_DENY:
        decide(a, MT_APPR_DENIED, v->ts);
        return MT_APPR_DECIDED;
    case MT_APPR_VOTE_APPROVE:
        if ((int64_t)mt_appr_approvals(a) >= a->min_approvals) {
            decide(a, MT_APPR_APPROVED, v->ts);
            return MT_APPR_DECIDED;
        }
        return MT_APPR_COUNTED;
    }
    return MT_APPR_COUNTED;
}

size_t mt_appr_expire_due(mt_appr_table *t, int64_t now_us, int64_t grace_us,
                          void (*on_decided)(mt_appr *a, void *ctx), void *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        mt_appr *a = t->items[i];
        if (a->state != MT_APPR_PENDING || a->expires > now_us - grace_us)
            continue;
        decide(a, MT_APPR_EXPIRED, a->expires);
        n++;
        if (on_decided)
            on_decided(a, ctx);
    }
    return n;
}

mt_err mt_appr_adopt_decision(mt_appr_table *t, const char *approval_id,
                              const uint8_t hash[MT_APPR_HASH_LEN], mt_appr_state state,
                              int64_t decided, json_t *decision, mt_appr **out)
{
    if (!approval_id || !*approval_id || state == MT_APPR_PENDING)
        return MT_ERR_INVALID_ARG;
    mt_appr *a = mt_appr_find(t, approval_id);
    if (!a) {
        a = calloc(1, sizeof *a);
        if (!a || !(a->approval_id = strdup(approval_id)) || table_push(t, a) != MT_OK) {
            appr_free(a);
            return MT_ERR_NOMEM;
        }
        memcpy(a->request_hash, hash, MT_APPR_HASH_LEN);
        a->min_approvals = 1;
    }
    decide(a, state, decided);
    a->published = true;
    a->publishing = false;
    if (decision && a->decision != decision) {
        json_decref(a->decision);
        a->decision = json_incref(decision);
    }
    if (out)
        *out = a;
    return MT_OK;
}

static const char *const state_names[] = {"pending", "approved", "denied", "expired",
                                          "cancelled"};
static const char *const kind_names[] = {"approve", "deny", "cancel"};
static const char *const source_names[] = {"api", "console", "bot", "sidecar"};

static bool parse_name(const char *const *names, size_t n, const char *s, int *out)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0) {
            *out = (int)i;
            return true;
        }
    return false;
}

const char *mt_appr_state_name(mt_appr_state s)
{
    return (unsigned)s < 5 ? state_names[s] : "?";
}

bool mt_appr_state_parse(const char *name, mt_appr_state *out)
{
    int i;
    if (!parse_name(state_names, 5, name, &i))
        return false;
    *out = (mt_appr_state)i;
    return true;
}

const char *mt_appr_vote_kind_name(mt_appr_vote_kind k)
{
    return (unsigned)k < 3 ? kind_names[k] : "?";
}

bool mt_appr_vote_kind_parse(const char *name, mt_appr_vote_kind *out)
{
    int i;
    if (!parse_name(kind_names, 3, name, &i))
        return false;
    *out = (mt_appr_vote_kind)i;
    return true;
}

const char *mt_appr_source_name(mt_appr_source s)
{
    return (unsigned)s < 4 ? source_names[s] : "?";
}

bool mt_appr_source_parse(const char *name, mt_appr_source *out)
{
    int i;
    if (!parse_name(source_names, 4, name, &i))
        return false;
    *out = (mt_appr_source)i;
    return true;
}

const char *mt_appr_outcome_name(mt_appr_outcome o)
{
    switch (o) {
    case MT_APPR_COUNTED: return "counted";
    case MT_APPR_DECIDED: return "decided";
    case MT_APPR_DUPLICATE: return "duplicate";
    case MT_APPR_UNKNOWN: return "unknown_approval";
    case MT_APPR_HASH_MISMATCH: return "hash_mismatch";
    case MT_APPR_TERMINAL: return "already_decided";
    case MT_APPR_TOO_LATE: return "expired";
    case MT_APPR_NOT_IN_GROUP: return "not_in_group";
    case MT_APPR_SELF_APPROVAL: return "self_approval";
    case MT_APPR_REASON_REQUIRED: return "reason_required";
    case MT_APPR_ALREADY_VOTED: return "already_voted";
    case MT_APPR_CANCEL_NOT_SIDECAR: return "cancel_not_sidecar";
    case MT_APPR_SIDECAR_NOT_CANCEL: return "sidecar_not_cancel";
    case MT_APPR_CANCEL_FOREIGN: return "cancel_foreign_sidecar";
    case MT_APPR_INVALID: return "invalid_vote";
    }
    return "?";
}

const char *mt_appr_outcome_text(mt_appr_outcome o)
{
    switch (o) {
    case MT_APPR_COUNTED: return "vote counted";
    case MT_APPR_DECIDED: return "vote counted; the approval is decided";
    case MT_APPR_DUPLICATE: return "this vote was already recorded";
    case MT_APPR_UNKNOWN: return "no approval with this id";
    case MT_APPR_HASH_MISMATCH: return "the vote names another request hash";
    case MT_APPR_TERMINAL: return "the approval is already decided";
    case MT_APPR_TOO_LATE: return "the approval has expired";
    case MT_APPR_NOT_IN_GROUP: return "you hold none of the approver groups of this approval";
    case MT_APPR_SELF_APPROVAL:
        return "four-eyes rule: the requester cannot approve its own request";
    case MT_APPR_REASON_REQUIRED: return "this approval requires a non-empty reason";
    case MT_APPR_ALREADY_VOTED: return "you already voted differently on this approval";
    case MT_APPR_CANCEL_NOT_SIDECAR: return "only the sidecar can cancel an approval";
    case MT_APPR_SIDECAR_NOT_CANCEL: return "a sidecar can only cancel, never approve or deny";
    case MT_APPR_CANCEL_FOREIGN:
        return "only the sidecar that requested the approval can cancel it";
    case MT_APPR_INVALID: return "malformed vote";
    }
    return "?";
}
