/* Approval holds; see hold.h. */
#include "hold.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "mcptrail/approval.h"
#include "mcptrail/log.h"
#include "mcptrail/runtime.h"

#define ASSIGN_RETRY_MS 1000
#define META_TIMEOUT_MS 5000
#define USED_RING 4096          /* approval ids remembered as used */
#define FOREIGN_RING 1024       /* verified decisions of approvals held elsewhere */
#define TICKET_KEEP_US (3600LL * 1000000) /* expired tickets linger, then go */
#define CLAIM_SLOTS 131072u     /* claimed nonces remembered (open addressing) */
#define CLAIM_PROBE 64u         /* longest probe; beyond: the table is full */
#define CLAIM_WAIT_MS 5000      /* a claim not read back by then fails */

typedef enum hold_state { H_PUBLISHING, H_WAITING, H_DECIDED } hold_state;

struct mt_hold {
    mt_hold_hub *hub;
    mt_hold *prev, *next;
    char approval_id[37];
    uint8_t hash[MT_SHA256_LEN];
    char *subject; /* requester, for ticket lookups */
    bool ticket;
    hold_state state;
    int64_t expires_us;
    mt_hold_callbacks cb;
    void *arg;
    struct event *timer; /* wait holds: the sidecar's expiry */
    /* tickets */
    mt_ticket_state tstate;
    json_t *decision;
};

struct mt_ticket { /* a ticket is a hold with ticket = true */
    mt_hold h;
};

typedef struct dkey {
    mt_ed25519_key *key;
    char id[MT_ED25519_KEY_ID_SIZE];
} dkey;

struct mt_hold_hub {
    mt_hold_hub_config cfg;
    char *topic_req, *topic_vote, *topic_dec, *console_url, *voter;
    struct event_base *base;
    mt_producer *prod;
    mt_consumer *cons;
    int prod_pipe[2], cons_pipe[2];
    struct event *prod_ev, *cons_ev, *tick;
    bool assigned;
    const mt_avro_schema *s_req, *s_vote, *s_dec;
    dkey *keys;
    size_t nkeys;
    mt_hold *holds; /* wait holds and tickets */
    size_t nholds;
    struct {
        char id[37];
        uint8_t hash[MT_SHA256_LEN];
    } used[USED_RING];
    size_t used_next, used_n;
    /* Verified decisions of approvals no hold here names (another replica's
     * URL-elicitation approvals, or ours before a restart): a retry carrying a
     * sealed state may land on any replica (mt_hold_decision_lookup). */
    struct {
        char id[37];
        uint8_t hash[MT_SHA256_LEN];
        mt_hold_outcome outcome;
        json_t *decision;
    } foreign[FOREIGN_RING];
    size_t foreign_next;
    /* single-use claims (topic_claims; NULL: off) */
    char *topic_claims;
    struct claim_slot {
        char nonce[MT_HOLD_CLAIM_KEY_MAX + 1];
        char owner[49];
        int64_t expires_ms;
    } *claims;
    int64_t claims_full_until_ms; /* a claim could not be stored: fail closed until then */
    mt_hold_claim *claiming;      /* claims waiting to be read back */
    char instance[33];            /* this hub's claimant id (random) */
    uint64_t claim_seq;
    mt_hold_metrics m;
};

struct mt_hold_claim {
    mt_hold_hub *hub;
    mt_hold_claim *prev, *next;
    char nonce[MT_HOLD_CLAIM_KEY_MAX + 1];
    char owner[49];
    mt_hold_claim_cb cb;
    void *arg;
    struct event *timer;
};

/* A message in flight on the producer. */
typedef struct pub {
    mt_hold_hub *hub;
    char approval_id[MT_HOLD_CLAIM_KEY_MAX + 1]; /* a claim: its key */
    bool is_request;
    bool is_claim;
} pub;




static void to_hex(const uint8_t *b, size_t n, char *out)
{
    (void)mt_hex_encode(b, n, out, n * 2 + 1);
}

const char *mt_hold_outcome_symbol(mt_hold_outcome o)
{
    switch (o) {
    case MT_HOLD_APPROVED: return "approved";
    case MT_HOLD_DENIED: return "denied";
    case MT_HOLD_EXPIRED: return "expired";
    case MT_HOLD_CANCELLED: return "cancelled";
    }
    return "?";
}

/* ---- the hold table -------------------------------------------------------- */

static void link_hold(mt_hold_hub *hub, mt_hold *h)
{
    h->next = hub->holds;
    if (hub->holds)
        hub->holds->prev = h;
    hub->holds = h;
    hub->nholds++;
}

static void free_hold(mt_hold_hub *hub, mt_hold *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else if (hub->holds == h)
        hub->holds = h->next;
    if (h->next)
        h->next->prev = h->prev;
    hub->nholds--;
    if (h->timer)
        event_free(h->timer);
    json_decref(h->decision);
    free(h->subject);
    free(h);
}

static mt_hold *find_by_id(mt_hold_hub *hub, const char *approval_id)
{
    for (mt_hold *h = hub->holds; h; h = h->next)
        if (strcmp(h->approval_id, approval_id) == 0)
            return h;
    return NULL;
}

/* The pending wait hold (or ticket) with this request hash, if any. */
static mt_hold *find_pending_by_hash(mt_hold_hub *hub, const uint8_t *hash)
{
    for (mt_hold *h = hub->holds; h; h = h->next)
        if (memcmp(h->hash, hash, MT_SHA256_LEN) == 0 &&
            (h->ticket ? h->tstate == MT_TICKET_PENDING : h->state != H_DECIDED))
            return h;
    return NULL;
}

static void mark_used(mt_hold_hub *hub, const mt_hold *h)
{
    memcpy(hub->used[hub->used_next].id, h->approval_id, sizeof h->approval_id);
    memcpy(hub->used[hub->used_next].hash, h->hash, MT_SHA256_LEN);
    hub->used_next = (hub->used_next + 1) % USED_RING;
    if (hub->used_n < USED_RING)
        hub->used_n++;
}

static bool was_used(const mt_hold_hub *hub, const char *approval_id)
{
    for (size_t i = 0; i < hub->used_n; i++)
        if (strcmp(hub->used[i].id, approval_id) == 0)
            return true;
    return false;
}

static void remember_foreign(mt_hold_hub *hub, const char *id, const uint8_t *hash,
                             mt_hold_outcome out, const json_t *d)
{
    size_t slot = hub->foreign_next;
    for (size_t i = 0; i < FOREIGN_RING; i++)
        if (hub->foreign[i].decision && strcmp(hub->foreign[i].id, id) == 0)
            slot = i; /* a later decision for the same approval replaces it */
    if (slot == hub->foreign_next)
        hub->foreign_next = (hub->foreign_next + 1) % FOREIGN_RING;
    json_decref(hub->foreign[slot].decision);
    snprintf(hub->foreign[slot].id, sizeof hub->foreign[slot].id, "%s", id);
    memcpy(hub->foreign[slot].hash, hash, MT_SHA256_LEN);
    hub->foreign[slot].outcome = out;
    hub->foreign[slot].decision = json_deep_copy(d);
}

bool mt_hold_decision_lookup(mt_hold_hub *hub, const char *approval_id,
                             const uint8_t *request_hash, mt_hold_outcome *out,
                             const json_t **decision)
{
    for (size_t i = 0; hub && i < FOREIGN_RING; i++) {
        if (!hub->foreign[i].decision || strcmp(hub->foreign[i].id, approval_id) != 0 ||
            memcmp(hub->foreign[i].hash, request_hash, MT_SHA256_LEN) != 0)
            continue;
        mt_hold_outcome o = hub->foreign[i].outcome;
        json_int_t exp = json_integer_value(json_object_get(hub->foreign[i].decision, "expires"));
        if (o == MT_HOLD_APPROVED && exp < mt_now_us())
            o = MT_HOLD_EXPIRED;
        *out = o;
        *decision = hub->foreign[i].decision;
        return true;
    }
    return false;
}

bool mt_hold_approval_used(const mt_hold_hub *hub, const char *approval_id)
{
    return hub && was_used(hub, approval_id);
}

void mt_hold_mark_used(mt_hold_hub *hub, const char *approval_id, const uint8_t *request_hash)
{
    mt_hold h;
    memset(&h, 0, sizeof h);
    snprintf(h.approval_id, sizeof h.approval_id, "%s", approval_id);
    memcpy(h.hash, request_hash, MT_SHA256_LEN);
    mark_used(hub, &h);
}

/* ---- publishing --------------------------------------------------------- */

/* Signs rec with the sidecar's key and publishes it. */
static mt_err produce(mt_hold_hub *hub, const char *topic, const mt_avro_schema *s,
                      json_t *rec, const char *approval_id, bool is_request, mt_errbuf *eb)
{
    mt_buf b = MT_BUF_INIT;
    mt_err err = mt_approval_sign(s, rec, hub->cfg.signing_key, eb);
    if (err == MT_OK)
        err = mt_avro_encode(s, rec, &b, eb);
    if (err != MT_OK) {
        mt_buf_free(&b);
        return err;
    }
    pub *pb = calloc(1, sizeof *pb);
    if (!pb) {
        mt_buf_free(&b);
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    pb->hub = hub;
    pb->is_request = is_request;
    snprintf(pb->approval_id, sizeof pb->approval_id, "%s", approval_id);
    mt_kafka_avro_headers ah;
    const mt_kafka_header *hs = mt_kafka_avro_headers_init(&ah, mt_avro_schema_fingerprint(s));
    err = mt_producer_send(hub->prod, topic, approval_id, strlen(approval_id), b.data, b.len, hs,
                           2, pb, eb);
    mt_buf_free(&b);
    if (err != MT_OK)
        free(pb);
    return err;
}

/* ---- single-use claims ----------------------------------------------------- */

static struct claim_slot *claim_find(mt_hold_hub *hub, const char *nonce, bool for_insert,
                                     int64_t now_ms)
{
    uint32_t h = 2166136261u;
    for (const char *c = nonce; *c; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    for (unsigned i = 0; i < CLAIM_PROBE; i++) {
        struct claim_slot *sl = &hub->claims[(h + i) % CLAIM_SLOTS];
        bool live = sl->nonce[0] && sl->expires_ms > now_ms;
        if (live && strcmp(sl->nonce, nonce) == 0)
            return sl;
        if (for_insert && !live)
            return sl;
    }
    return NULL;
}

static void claim_free(mt_hold_hub *hub, mt_hold_claim *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (hub->claiming == c)
        hub->claiming = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->timer)
        event_free(c->timer);
    free(c);
}

/* The claims of nonce are settled: winner is the first claimant read (NULL:
 * ours failed for `why`). */
static void claims_resolve(mt_hold_hub *hub, const char *nonce, const char *winner,
                           const char *why)
{
    for (mt_hold_claim *c = hub->claiming, *next; c; c = next) {
        next = c->next;
        if (strcmp(c->nonce, nonce) != 0)
            continue;
        bool won = winner && strcmp(winner, c->owner) == 0;
        mt_hold_claim_cb cb = c->cb;
        void *arg = c->arg;
        claim_free(hub, c);
        cb(arg, won, won ? NULL : winner ? "already used (claimed by another request)" : why);
    }
}

/* A record of the claims topic: the first claim of a nonce is remembered. */
static void on_claim(mt_hold_hub *hub, const mt_kafka_msg *m)
{
    char nonce[MT_HOLD_CLAIM_KEY_MAX + 1], owner[49];
    long long exp = 0;
    if (!m->key || m->key_len == 0 || m->key_len >= sizeof nonce || !m->value ||
        m->value_len == 0 || m->value_len > 80)
        return;
    memcpy(nonce, m->key, m->key_len);
    nonce[m->key_len] = '\0';
    char v[81];
    memcpy(v, m->value, m->value_len);
    v[m->value_len] = '\0';
    if (sscanf(v, "%48s %lld", owner, &exp) != 2)
        return;
    int64_t now = mt_now_us() / 1000;
    if (exp <= now)
        return; /* its state is expired: no retry carrying it passes anyway */
    struct claim_slot *sl = claim_find(hub, nonce, false, now);
    if (!sl) {
        if ((sl = claim_find(hub, nonce, true, now))) {
            snprintf(sl->nonce, sizeof sl->nonce, "%s", nonce);
            snprintf(sl->owner, sizeof sl->owner, "%s", owner);
            sl->expires_ms = exp;
        } else {
            if (exp > hub->claims_full_until_ms)
                hub->claims_full_until_ms = exp;
            mt_logs(MT_LOG_WARN, "approvals", "claims table full; sealed states refused until "
                    "entries expire", NULL);
            claims_resolve(hub, nonce, owner, NULL);
            return;
        }
    }
    claims_resolve(hub, nonce, sl->owner, NULL);
}

static void on_claim_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_hold_claim *c = arg;
    mt_hold_hub *hub = c->hub;
    mt_hold_claim_cb cb = c->cb;
    void *carg = c->arg;
    claim_free(hub, c);
    cb(carg, false, "claim not read back in time");
}

bool mt_hold_claims_on(const mt_hold_hub *hub)
{
    return hub && hub->topic_claims;
}

mt_err mt_hold_claim_start(mt_hold_hub *hub, const char *nonce, int64_t expires_ms,
                           mt_hold_claim_cb cb, void *arg, mt_hold_claim **out, mt_errbuf *eb)
{
    *out = NULL;
    int64_t now = mt_now_us() / 1000;
    if (strlen(nonce) > MT_HOLD_CLAIM_KEY_MAX)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "claim key too long");
    if (!hub->topic_claims || !hub->assigned)
        return mt_fail(eb, MT_ERR_STATE, "single-use claims are not readable yet");
    if (now < hub->claims_full_until_ms)
        return mt_fail(eb, MT_ERR_STATE, "single-use claims table full");
    if (claim_find(hub, nonce, false, now))
        return mt_fail(eb, MT_ERR_STATE, "already used");
    mt_hold_claim *c = calloc(1, sizeof *c);
    pub *pb = calloc(1, sizeof *pb);
    if (!c || !pb) {
        free(c);
        free(pb);
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    c->hub = hub;
    c->cb = cb;
    c->arg = arg;
    snprintf(c->nonce, sizeof c->nonce, "%s", nonce);
    snprintf(c->owner, sizeof c->owner, "%s.%llu", hub->instance,
             (unsigned long long)++hub->claim_seq);
    pb->hub = hub;
    pb->is_claim = true;
    snprintf(pb->approval_id, sizeof pb->approval_id, "%s", nonce);
    char value[96];
    int n = snprintf(value, sizeof value, "%s %lld", c->owner, (long long)expires_ms);
    struct timeval tv = {CLAIM_WAIT_MS / 1000, (CLAIM_WAIT_MS % 1000) * 1000};
    mt_err err = MT_OK;
    if (!(c->timer = evtimer_new(hub->base, on_claim_timeout, c)) ||
        evtimer_add(c->timer, &tv) != 0) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    } else {
        err = mt_producer_send(hub->prod, hub->topic_claims, nonce, strlen(nonce), value,
                               (size_t)n, NULL, 0, pb, eb);
    }
    if (err != MT_OK) {
        if (c->timer)
            event_free(c->timer);
        free(c);
        free(pb);
        return err;
    }
    c->next = hub->claiming;
    if (hub->claiming)
        hub->claiming->prev = c;
    hub->claiming = c;
    *out = c;
    return MT_OK;
}

void mt_hold_claim_cancel(mt_hold_hub *hub, mt_hold_claim *c)
{
    if (c)
        claim_free(hub, c);
}

static void on_delivery(const mt_delivery *d, void *ctx)
{
    (void)ctx;
    pub *pb = d->opaque;
    mt_hold_hub *hub = pb->hub;
    if (pb->is_claim) {
        if (d->err != MT_OK)
            claims_resolve(hub, pb->approval_id, NULL, "claim not published");
        free(pb);
        return;
    }
    if (d->err != MT_OK)
        mt_logs(MT_LOG_WARN, "approvals", pb->is_request ? "approval request not published"
                                                          : "cancel vote not published",
                "approval_id", pb->approval_id, "error", d->errstr, NULL);
    if (pb->is_request) {
        mt_hold *h = find_by_id(hub, pb->approval_id);
        if (h && h->state == H_PUBLISHING) {
            h->state = d->err == MT_OK ? H_WAITING : H_DECIDED;
            if (h->cb.published)
                h->cb.published(h->arg, d->err); /* may finish h */
        }
    }
    free(pb);
}

static json_t *approval_request_json(mt_hold_hub *hub, const mt_hold *h,
                                     const mt_hold_request *rq, int64_t created)
{
    const mt_policy_approval *ap = rq->approval;
    char hash[65], link[1024];
    to_hex(h->hash, MT_SHA256_LEN, hash);
    mt_hold_console_link(hub, h->approval_id, link, sizeof link);
    json_t *groups = json_array();
    for (size_t i = 0; groups && i < ap->ngroups; i++)
        json_array_append_new(groups, json_string(ap->groups[i]));
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:O, s:s?, s:s, s:s?, s:s?, s:s, s:o, "
                     "s:i, s:b, s:s?, s:b, s:s}",
                     "approval_id", h->approval_id, "request_hash", hash, "session_id",
                     rq->session_id, "event_id", rq->event_id ? rq->event_id : "", "created",
                     (json_int_t)created, "expires", (json_int_t)h->expires_us, "identity",
                     (json_t *)rq->identity, "tool", rq->tool, "method",
                     rq->method ? rq->method : "", "arguments_masked", rq->arguments_masked,
                     "justification", rq->justification, "rule_id", rq->rule_id, "approver_groups",
                     groups, "min_approvals", ap->min_approvals, "four_eyes", ap->four_eyes,
                     "console_url", link[0] ? link : NULL, "reason_required",
                     ap->reason_required, "hold_mode",
                     ap->hold == MT_POLICY_HOLD_TICKET ? "ticket" : "wait");
}

/* ---- decisions ------------------------------------------------------------ */

static void on_expiry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_hold *h = arg;
    if (h->state == H_DECIDED)
        return;
    h->state = H_DECIDED;
    h->hub->m.expired++;
    mark_used(h->hub, h);
    mt_logs(MT_LOG_INFO, "approvals", "approval expired without a decision", "approval_id",
            h->approval_id, NULL);
    mt_hold_verdict v = {MT_HOLD_EXPIRED, NULL, h->approval_id};
    h->cb.decided(h->arg, &v);
}

static void report_ignored(mt_hold_hub *hub, mt_hold *h, const mt_hold_ignored *ig)
{
    hub->m.ignored++;
    mt_logs(MT_LOG_WARN, "approvals", "approval decision ignored", "approval_id",
            ig->approval_id ? ig->approval_id : "", "reason", ig->reason, "key_id",
            ig->key_id ? ig->key_id : "", "held_approval_id", h ? h->approval_id : "", NULL);
    if (h && !h->ticket && h->cb.ignored)
        h->cb.ignored(h->arg, ig);
}

static bool parse_outcome(const char *s, mt_hold_outcome *o)
{
    static const char *const names[] = {"approved", "denied", "expired", "cancelled"};
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, names[i]) == 0) {
            *o = (mt_hold_outcome)i;
            return true;
        }
    return false;
}

static void apply_decision(mt_hold_hub *hub, const json_t *d)
{
    const char *id = json_string_value(json_object_get(d, "approval_id"));
    const char *kid = json_string_value(json_object_get(d, "key_id"));
    const char *sym = json_string_value(json_object_get(d, "decision"));
    const char *hash_hex = json_string_value(json_object_get(d, "request_hash"));
    uint8_t hash[MT_SHA256_LEN];
    mt_hold_ignored ig = {id, NULL, sym, kid};
    mt_hold_outcome out;
    size_t hn = 0;
    if (!id || !kid || !parse_outcome(sym, &out) || !hash_hex ||
        mt_hex_decode(hash_hex, strlen(hash_hex), hash, sizeof hash, &hn, NULL) != MT_OK ||
        hn != MT_SHA256_LEN) {
        ig.reason = "malformed";
        report_ignored(hub, id ? find_by_id(hub, id) : NULL, &ig);
        return;
    }
    mt_hold *h = find_by_id(hub, id);
    /* Signature first: nothing an unverified record claims is believed, but
     * it is reported to the hold it names so the session shows the attempt. */
    const dkey *k = NULL;
    for (size_t i = 0; i < hub->nkeys; i++)
        if (strcmp(hub->keys[i].id, kid) == 0)
            k = &hub->keys[i];
    mt_errbuf eb = {{0}};
    if (!k || mt_approval_verify(hub->s_dec, d, k->key, &eb) != MT_OK) {
        ig.reason = k ? "bad_signature" : "unknown_key";
        report_ignored(hub, h ? h : find_pending_by_hash(hub, hash), &ig);
        return;
    }
    if (!h) {
        remember_foreign(hub, id, hash, out, d);
        ig.reason = was_used(hub, id) ? "already_used" : "unknown_approval";
        mt_hold *other = find_pending_by_hash(hub, hash);
        if (other || strcmp(ig.reason, "already_used") == 0)
            report_ignored(hub, other, &ig);
        return; /* decisions of other sidecars' holds: not ours */
    }
    if (memcmp(h->hash, hash, MT_SHA256_LEN) != 0) {
        ig.reason = "request_hash_mismatch";
        report_ignored(hub, h, &ig);
        return;
    }
    /* A decision may overtake the delivery report of its own request (a bot
     * that answers at once): H_PUBLISHING counts as waiting. */
    if (h->ticket ? h->tstate != MT_TICKET_PENDING : h->state == H_DECIDED) {
        ig.reason = "already_decided";
        report_ignored(hub, h, &ig);
        return;
    }
    json_int_t exp = json_integer_value(json_object_get(d, "expires"));
    if (out == MT_HOLD_APPROVED && exp < mt_now_us())
        out = MT_HOLD_EXPIRED;
    hub->m.approved += out == MT_HOLD_APPROVED;
    hub->m.denied += out == MT_HOLD_DENIED;
    hub->m.expired += out == MT_HOLD_EXPIRED;
    hub->m.cancelled += out == MT_HOLD_CANCELLED;
    mt_logs(MT_LOG_INFO, "approvals", "approval decided", "approval_id", id, "decision",
            mt_hold_outcome_symbol(out), NULL);
    if (h->ticket) {
        h->tstate = out == MT_HOLD_APPROVED ? MT_TICKET_APPROVED
                    : out == MT_HOLD_DENIED ? MT_TICKET_DENIED
                                            : MT_TICKET_EXPIRED;
        h->decision = json_deep_copy(d);
        if (out == MT_HOLD_APPROVED && exp > 0)
            h->expires_us = exp;
        return;
    }
    h->state = H_DECIDED;
    mark_used(hub, h);
    mt_hold_verdict v = {out, d, h->approval_id};
    h->cb.decided(h->arg, &v);
}

static void on_record(mt_hold_hub *hub, const mt_kafka_msg *m)
{
    if (hub->topic_claims && m->topic && strcmp(m->topic, hub->topic_claims) == 0) {
        on_claim(hub, m);
        return;
    }
    if (!m->value || m->value_len == 0)
        return;
    json_t *d = NULL;
    const mt_avro_schema *s = NULL;
    mt_errbuf eb = {{0}};
    if (mt_avro_decode(hub->cfg.schemas, m->value, m->value_len, &s, &d, &eb) != MT_OK ||
        s != hub->s_dec) {
        mt_log(MT_LOG_WARN, "approvals", "record on the decisions topic is not an "
               "ApprovalDecision; skipped", "offset", json_integer((json_int_t)m->offset),
               "error", json_string(eb.msg), NULL);
        json_decref(d);
        hub->m.ignored++;
        return;
    }
    apply_decision(hub, d);
    json_decref(d);
}

static void read_decisions(mt_hold_hub *hub)
{
    for (int i = 0; i < 256; i++) {
        mt_kafka_msg m;
        mt_errbuf eb = {{0}};
        mt_err err = mt_consumer_poll(hub->cons, 0, &m, &eb);
        if (err == MT_ERR_TIMEOUT)
            return;
        if (err != MT_OK) {
            mt_logs(MT_LOG_WARN, "approvals", "decisions reader error", "error", eb.msg, NULL);
            return;
        }
        if (!m.eof)
            on_record(hub, &m);
        mt_kafka_msg_release(&m);
    }
    event_active(hub->cons_ev, EV_READ, 0); /* more waiting: next loop turn */
}

static void on_cons_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    mt_wake_drain(fd);
    read_decisions(arg);
}

static void on_prod_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    mt_hold_hub *hub = arg;
    mt_wake_drain(fd);
    mt_producer_poll(hub->prod, 0);
}

/* Assigns the decisions topic until it works; purges old tickets. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_hold_hub *hub = arg;
    if (!hub->assigned) {
        mt_errbuf eb = {{0}};
        int64_t from = mt_now_us() / 1000 - hub->cfg.decision_lookback_ms;
        if (mt_consumer_assign_all(hub->cons, from > 0 ? from : 1, META_TIMEOUT_MS, &eb) ==
            MT_OK) {
            hub->assigned = true;
            mt_logs(MT_LOG_INFO, "approvals", "reading approval decisions", "topic",
                    hub->topic_dec, NULL);
        } else {
            mt_logs(MT_LOG_WARN, "approvals", "decisions topic not readable yet; retrying",
                    "error", eb.msg, NULL);
        }
    }
    int64_t now = mt_now_us();
    for (mt_hold *h = hub->holds, *next; h; h = next) {
        next = h->next;
        if (h->ticket && now > h->expires_us + hub->cfg.expiry_grace_ms * 1000 + TICKET_KEEP_US)
            free_hold(hub, h);
    }
    read_decisions(hub);
    /* A producer recovering from a fatal error may never wake the loop. */
    if (mt_producer_retry_ms(hub->prod) >= 0)
        mt_producer_poll(hub->prod, 0);
}

/* ---- public API ----------------------------------------------------------- */

mt_err mt_hold_hub_new(const mt_hold_hub_config *cfg, struct event_base *base,
                       mt_hold_hub **out, mt_errbuf *eb)
{
    *out = NULL;
    mt_hold_hub *hub = calloc(1, sizeof *hub);
    if (!hub)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    hub->cfg = *cfg;
    hub->base = base;
    hub->prod_pipe[0] = hub->prod_pipe[1] = hub->cons_pipe[0] = hub->cons_pipe[1] = -1;
    mt_err err = MT_OK;
    hub->topic_req = strdup(cfg->topic_requests ? cfg->topic_requests
                                                : MT_HOLD_DEFAULT_REQUESTS_TOPIC);
    hub->topic_vote = strdup(cfg->topic_votes ? cfg->topic_votes : MT_HOLD_DEFAULT_VOTES_TOPIC);
    hub->topic_dec = strdup(cfg->topic_decisions ? cfg->topic_decisions
                                                 : MT_HOLD_DEFAULT_DECISIONS_TOPIC);
    hub->console_url = cfg->console_url ? strdup(cfg->console_url) : NULL;
    hub->voter = strdup(cfg->voter ? cfg->voter : "mcptrail-sidecar");
    if (!hub->topic_req || !hub->topic_vote || !hub->topic_dec || !hub->voter ||
        (cfg->console_url && !hub->console_url)) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    hub->s_req = mt_avro_registry_find(cfg->schemas, "dev.mcptrail.ApprovalRequest");
    hub->s_vote = mt_avro_registry_find(cfg->schemas, "dev.mcptrail.ApprovalVote");
    hub->s_dec = mt_avro_registry_find(cfg->schemas, MT_APPROVAL_DECISION_SCHEMA);
    if (!hub->s_req || !hub->s_vote || !hub->s_dec) {
        err = mt_fail(eb, MT_ERR_NOT_FOUND, "approval schemas not found in the schema directory");
        goto fail;
    }
    if (!cfg->signing_key || !mt_ed25519_has_private(cfg->signing_key)) {
        err = mt_fail(eb, MT_ERR_CONFIG,
                      "approvals.signing_key_file is required with approvals.decision_keys: "
                      "mcptrail-approvals ignores ApprovalRequests that are not signed by a "
                      "sidecar key it trusts");
        goto fail;
    }
    if (cfg->ndecision_keys == 0) {
        err = mt_fail(eb, MT_ERR_CONFIG,
                      "the policy holds calls for approval (action approve) but "
                      "approvals.decision_keys names no public key to verify decisions");
        goto fail;
    }
    hub->keys = calloc(cfg->ndecision_keys, sizeof *hub->keys);
    if (!hub->keys) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cfg->ndecision_keys; i++) {
        if ((err = mt_ed25519_load_public_pem_file(cfg->decision_key_files[i],
                                                   &hub->keys[i].key, eb)) != MT_OK)
            goto fail;
        hub->nkeys++;
        if ((err = mt_ed25519_key_id(hub->keys[i].key, hub->keys[i].id, eb)) != MT_OK)
            goto fail;
    }
    mt_producer_config pc = {.kafka = cfg->kafka, .on_delivery = on_delivery, .ctx = hub,
                             .delivery_timeout_ms = 30000};
    if (cfg->topic_claims && *cfg->topic_claims) {
        uint8_t r[16];
        hub->topic_claims = strdup(cfg->topic_claims);
        hub->claims = calloc(CLAIM_SLOTS, sizeof *hub->claims);
        if (!hub->topic_claims || !hub->claims) {
            err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if ((err = mt_random_bytes(r, sizeof r, eb)) != MT_OK)
            goto fail;
        to_hex(r, sizeof r, hub->instance);
    }
    const char *topics[] = {hub->topic_dec, hub->topic_claims};
    mt_consumer_config cc = {.kafka = cfg->kafka,
                             .group_id = "mcptrail-sidecar-decisions",
                             .topics = topics,
                             .ntopics = hub->topic_claims ? 2 : 1,
                             .assign_only = 1};
    if ((err = mt_producer_new(&pc, &hub->prod, eb)) != MT_OK ||
        (err = mt_consumer_new(&cc, &hub->cons, eb)) != MT_OK)
        goto fail;
    if (mt_wake_pipe(hub->prod_pipe) != 0 || mt_wake_pipe(hub->cons_pipe) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "pipe: %s", strerror(errno));
        goto fail;
    }
    hub->prod_ev = event_new(base, hub->prod_pipe[0], EV_READ | EV_PERSIST, on_prod_wake, hub);
    hub->cons_ev = event_new(base, hub->cons_pipe[0], EV_READ | EV_PERSIST, on_cons_wake, hub);
    hub->tick = event_new(base, -1, EV_PERSIST, on_tick, hub);
    struct timeval tv = {ASSIGN_RETRY_MS / 1000, (ASSIGN_RETRY_MS % 1000) * 1000};
    if (!hub->prod_ev || !hub->cons_ev || !hub->tick || event_add(hub->prod_ev, NULL) != 0 ||
        event_add(hub->cons_ev, NULL) != 0 || event_add(hub->tick, &tv) != 0 ||
        mt_producer_set_wakeup_fd(hub->prod, hub->prod_pipe[1]) != MT_OK ||
        mt_consumer_set_wakeup_fd(hub->cons, hub->cons_pipe[1]) != MT_OK) {
        err = mt_fail(eb, MT_ERR_IO, "approvals: cannot register events");
        goto fail;
    }
    on_tick(-1, 0, hub); /* assign now when the topic is there */
    *out = hub;
    return MT_OK;
fail:
    mt_hold_hub_free(hub);
    return err;
}

void mt_hold_hub_free(mt_hold_hub *hub)
{
    if (!hub)
        return;
    while (hub->holds)
        free_hold(hub, hub->holds);
    while (hub->claiming)
        claim_free(hub, hub->claiming);
    free(hub->topic_claims);
    free(hub->claims);
    for (size_t i = 0; i < FOREIGN_RING; i++)
        json_decref(hub->foreign[i].decision);
    if (hub->prod) {
        mt_errbuf eb = {{0}};
        (void)mt_producer_flush(hub->prod, 2000, &eb);
        mt_producer_destroy(hub->prod);
    }
    if (hub->cons)
        mt_consumer_destroy(hub->cons);
    if (hub->prod_ev)
        event_free(hub->prod_ev);
    if (hub->cons_ev)
        event_free(hub->cons_ev);
    if (hub->tick)
        event_free(hub->tick);
    for (int i = 0; i < 2; i++) {
        if (hub->prod_pipe[i] >= 0)
            close(hub->prod_pipe[i]);
        if (hub->cons_pipe[i] >= 0)
            close(hub->cons_pipe[i]);
    }
    for (size_t i = 0; i < hub->nkeys; i++)
        mt_ed25519_free(hub->keys[i].key);
    free(hub->keys);
    free(hub->topic_req);
    free(hub->topic_vote);
    free(hub->topic_dec);
    free(hub->console_url);
    free(hub->voter);
    free(hub);
}

bool mt_hold_hub_ready(const mt_hold_hub *hub)
{
    return hub->assigned;
}

void mt_hold_hub_metrics(const mt_hold_hub *hub, mt_hold_metrics *out)
{
    *out = hub->m;
    out->pending = hub->nholds;
}

void mt_hold_console_link(const mt_hold_hub *hub, const char *approval_id, char *out,
                          size_t outlen)
{
    if (!hub->console_url) {
        out[0] = '\0';
        return;
    }
    size_t n = strlen(hub->console_url);
    snprintf(out, outlen, "%s%s#/approvals/%s", hub->console_url,
             n && hub->console_url[n - 1] == '/' ? "" : "/", approval_id);
}

mt_err mt_hold_start(mt_hold_hub *hub, const mt_hold_request *rq, const mt_hold_callbacks *cb,
                     void *arg, mt_hold **out, char approval_id[37], mt_errbuf *eb)
{
    *out = NULL;
    if (hub->nholds >= hub->cfg.max_pending)
        return mt_fail(eb, MT_ERR_TOO_LARGE,
                       "%zu approvals are pending (approvals.max_pending); not holding more",
                       hub->nholds);
    mt_hold *h = calloc(1, sizeof *h);
    if (!h)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    h->hub = hub;
    h->ticket = rq->approval->hold == MT_POLICY_HOLD_TICKET;
    h->state = H_PUBLISHING;
    h->tstate = MT_TICKET_PENDING;
    if (cb && !h->ticket)
        h->cb = *cb; /* tickets report nothing: the retry looks them up */
    h->arg = arg;
    memcpy(h->hash, rq->request_hash, MT_SHA256_LEN);
    const char *subject = json_string_value(json_object_get(rq->identity, "subject"));
    h->subject = strdup(subject ? subject : "");
    /* UUIDv7 from the clock and RAND_bytes */
    uint8_t b[16];
    if (!h->subject || mt_random_bytes(b + 6, 10, eb) != MT_OK) {
        free(h->subject);
        free(h);
        return mt_fail(eb, MT_ERR_CRYPTO, "approval id: no randomness");
    }
    int64_t created = mt_now_us();
    uint64_t ms = (uint64_t)(created / 1000);
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f));
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
    char hx[33];
    to_hex(b, 16, hx);
    snprintf(h->approval_id, sizeof h->approval_id, "%.8s-%.4s-%.4s-%.4s-%.12s", hx, hx + 8,
             hx + 12, hx + 16, hx + 20);
    h->expires_us = created + (int64_t)rq->approval->expiry_s * 1000000;
    link_hold(hub, h);
    json_t *rec = approval_request_json(hub, h, rq, created);
    mt_err err = rec ? produce(hub, hub->topic_req, hub->s_req, rec, h->approval_id, true, eb)
                     : mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    json_decref(rec);
    if (err == MT_OK && !h->ticket) {
        int64_t due = h->expires_us + hub->cfg.expiry_grace_ms * 1000 - created;
        struct timeval tv = {(time_t)(due / 1000000), (suseconds_t)(due % 1000000)};
        if (!(h->timer = evtimer_new(hub->base, on_expiry, h)) || evtimer_add(h->timer, &tv))
            err = mt_fail(eb, MT_ERR_IO, "approval expiry timer");
    }
    if (err != MT_OK) {
        free_hold(hub, h);
        return err;
    }
    hub->m.requested++;
    memcpy(approval_id, h->approval_id, 37);
    mt_logs(MT_LOG_INFO, "approvals", "call held for approval", "approval_id", h->approval_id,
            "rule_id", rq->rule_id, "mode", h->ticket ? "ticket" : "wait", NULL);
    if (!h->ticket)
        *out = h;
    return MT_OK;
}

void mt_hold_finish(mt_hold_hub *hub, mt_hold *h)
{
    if (h)
        free_hold(hub, h);
}

void mt_hold_cancel(mt_hold_hub *hub, mt_hold *h, const char *reason)
{
    if (!h)
        return;
    if (h->state != H_DECIDED) {
        char hash[65];
        to_hex(h->hash, MT_SHA256_LEN, hash);
        json_t *vote = json_pack("{s:s, s:s, s:{s:s, s:s, s:[]}, s:s, s:s, s:I, s:s}",
                                 "approval_id", h->approval_id, "request_hash", hash, "voter",
                                 "subject", hub->voter, "issuer", "mcptrail-sidecar", "groups",
                                 "vote", "cancel", "reason", reason, "ts",
                                 (json_int_t)mt_now_us(), "source", "sidecar");
        mt_errbuf eb = {{0}};
        if (!vote ||
            produce(hub, hub->topic_vote, hub->s_vote, vote, h->approval_id, false, &eb) != MT_OK)
            mt_logs(MT_LOG_WARN, "approvals", "cancel vote not sent", "approval_id",
                    h->approval_id, "error", eb.msg, NULL);
        json_decref(vote);
        hub->m.cancelled++;
        mark_used(hub, h);
        mt_logs(MT_LOG_INFO, "approvals", "held call cancelled", "approval_id", h->approval_id,
                "reason", reason, NULL);
    }
    free_hold(hub, h);
}

mt_ticket *mt_hold_ticket_find(mt_hold_hub *hub, const uint8_t *request_hash,
                               const char *subject)
{
    for (mt_hold *h = hub->holds; h; h = h->next)
        if (h->ticket && memcmp(h->hash, request_hash, MT_SHA256_LEN) == 0 &&
            strcmp(h->subject, subject ? subject : "") == 0)
            return (mt_ticket *)(void *)h;
    return NULL;
}

mt_ticket_state mt_hold_ticket_state(mt_hold_hub *hub, mt_ticket *t)
{
    mt_hold *h = &t->h;
    int64_t now = mt_now_us();
    if (h->tstate == MT_TICKET_PENDING && now > h->expires_us + hub->cfg.expiry_grace_ms * 1000)
        h->tstate = MT_TICKET_EXPIRED;
    if (h->tstate == MT_TICKET_APPROVED && now > h->expires_us)
        h->tstate = MT_TICKET_EXPIRED;
    return h->tstate;
}

const char *mt_hold_ticket_approval_id(const mt_ticket *t)
{
    return t->h.approval_id;
}

const json_t *mt_hold_ticket_decision(const mt_ticket *t)
{
    return t->h.decision;
}

int64_t mt_hold_ticket_expires(const mt_ticket *t)
{
    return t->h.expires_us;
}

void mt_hold_ticket_consume(mt_hold_hub *hub, mt_ticket *t)
{
    mark_used(hub, &t->h);
    free_hold(hub, &t->h);
}

json_t *mt_hold_approval_info(const char *approval_id, const char *decision_symbol,
                              const json_t *decision)
{
    json_t *subs = json_array();
    const json_t *arr = decision ? json_object_get(decision, "approvers") : NULL;
    for (size_t i = 0; subs && i < json_array_size(arr); i++) {
        const char *s = json_string_value(json_object_get(json_array_get(arr, i), "subject"));
        if (s)
            json_array_append_new(subs, json_string(s));
    }
    return json_pack("{s:s, s:s?, s:o}", "approval_id", approval_id, "decision",
                     decision_symbol, "approvers", subs ? subs : json_array());
}
