/* SessionEvent summary decoder (see event.h). Field order mirrors
 * schemas/session_event.avsc; the fingerprint check in mt_rev_parse is what
 * guarantees the order, so a schema change shows up as MT_ERR_UNKNOWN_SCHEMA
 * rather than as silently misread fields. */
#include "event.h"

#include <string.h>

const char *const mt_rev_kind_names[MT_REV_KINDS] = {
    "session_start", "request",          "response",    "notification",
    "sse_event",     "error",            "policy_denied", "approval_requested",
    "approval_decided", "auth_failed",   "session_end", "heartbeat"};
const char *const mt_rev_direction_names[3] = {"client_to_server", "server_to_client",
                                               "internal"};
const char *const mt_rev_policy_names[MT_REV_POLICY_ACTIONS] = {"allow", "deny", "approve",
                                                                "record_only"};
const char *const mt_rev_decision_names[MT_REV_DECISIONS] = {"approved", "denied", "expired",
                                                             "cancelled"};

/* Array blocks in one datum; each block holds at least one item. */
#define MAX_BLOCKS 100000

typedef struct rd {
    const uint8_t *p, *end;
    mt_err err;
} rd;

static int64_t get_long(rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (r->p >= r->end) {
            if (!r->err)
                r->err = MT_ERR_TRUNCATED;
            return 0;
        }
        uint8_t b = *r->p++;
        if (shift == 63 && (b & 0x7e)) {
            if (!r->err)
                r->err = MT_ERR_SCHEMA; /* more than 64 bits */
            return 0;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
    }
    if (!r->err)
        r->err = MT_ERR_SCHEMA;
    return 0;
}

static void skip_bytes(rd *r, size_t n)
{
    if (r->err)
        return;
    if ((size_t)(r->end - r->p) < n) {
        r->err = MT_ERR_TRUNCATED;
        r->p = r->end;
        return;
    }
    r->p += n;
}

static mt_sv get_string(rd *r)
{
    mt_sv v = {NULL, 0};
    int64_t n = get_long(r);
    if (r->err)
        return v;
    if (n < 0) {
        r->err = MT_ERR_SCHEMA;
        return v;
    }
    if ((uint64_t)n > (uint64_t)(r->end - r->p)) {
        r->err = MT_ERR_TRUNCATED;
        return v;
    }
    v.p = (const char *)r->p;
    v.n = (size_t)n;
    r->p += n;
    return v;
}

/* Union branch index in [0, nbranches). */
static int get_branch(rd *r, int nbranches)
{
    int64_t b = get_long(r);
    if (r->err)
        return 0;
    if (b < 0 || b >= nbranches) {
        r->err = MT_ERR_SCHEMA;
        return 0;
    }
    return (int)b;
}

static int get_enum(rd *r, int nsymbols)
{
    return get_branch(r, nsymbols);
}

static mt_sv opt_string(rd *r)
{
    mt_sv none = {NULL, 0};
    return get_branch(r, 2) ? get_string(r) : none;
}

static int64_t opt_long(rd *r, int64_t if_null)
{
    return get_branch(r, 2) ? get_long(r) : if_null;
}

static void opt_fixed32(rd *r)
{
    if (get_branch(r, 2))
        skip_bytes(r, 32);
}

static bool get_bool(rd *r)
{
    if (r->err)
        return false;
    if (r->p >= r->end) {
        r->err = MT_ERR_TRUNCATED;
        return false;
    }
    uint8_t b = *r->p++;
    if (b > 1)
        r->err = MT_ERR_SCHEMA;
    return b == 1;
}

/* Next array block's item count (0 ends the array). */
static int64_t block_count(rd *r, int *blocks)
{
    int64_t n = get_long(r);
    if (r->err)
        return 0;
    if (n < 0) {
        if (n == INT64_MIN) {
            r->err = MT_ERR_SCHEMA;
            return 0;
        }
        n = -n;
        int64_t size = get_long(r); /* byte size of the block, not needed */
        if (!r->err && size < 0)
            r->err = MT_ERR_SCHEMA;
    }
    if (n > 0 && ++*blocks > MAX_BLOCKS) {
        r->err = MT_ERR_TOO_LARGE;
        return 0;
    }
    /* every item takes at least one byte */
    if (!r->err && (uint64_t)n > (uint64_t)(r->end - r->p)) {
        r->err = MT_ERR_TRUNCATED;
        return 0;
    }
    return r->err ? 0 : n;
}

bool mt_sv_eq(mt_sv v, const char *s)
{
    if (!v.p)
        return false;
    size_t n = strlen(s);
    return n == v.n && memcmp(v.p, s, n) == 0;
}

mt_err mt_rev_parse(const uint8_t *value, size_t len, uint64_t fp, mt_rev *ev)
{
    memset(ev, 0, sizeof *ev);
    if (len < 10)
        return MT_ERR_TRUNCATED;
    if (value[0] != 0xC3 || value[1] != 0x01)
        return MT_ERR_BAD_MAGIC;
    uint64_t got = 0;
    for (int i = 0; i < 8; i++)
        got |= (uint64_t)value[2 + i] << (8 * i);
    if (got != fp)
        return MT_ERR_UNKNOWN_SCHEMA;
    rd r = {value + 10, value + len, MT_OK};
    int blocks = 0;

    ev->event_id = get_string(&r);
    ev->session_id = get_string(&r);
    ev->seq = get_long(&r);
    ev->ts_us = get_long(&r);
    ev->kind = get_enum(&r, MT_REV_KINDS);
    ev->direction = get_enum(&r, 3);
    ev->cluster = get_string(&r);
    ev->namespace_ = get_string(&r);
    ev->pod = get_string(&r);
    ev->upstream = get_string(&r);
    /* identity */
    ev->issuer = opt_string(&r);
    ev->subject = opt_string(&r);
    (void)opt_string(&r); /* audience */
    ev->auth_method = opt_string(&r);
    opt_fixed32(&r); /* token_fingerprint */
    if (get_branch(&r, 2)) {
        ev->has_ci = true;
        ev->repository = opt_string(&r);
        ev->workflow = opt_string(&r);
        ev->job = opt_string(&r);
        ev->run_id = opt_string(&r);
        (void)opt_long(&r, 0); /* run_attempt */
        ev->sha = opt_string(&r);
        ev->ref = opt_string(&r);
        ev->actor = opt_string(&r);
        ev->environment = opt_string(&r);
    }
    ev->http_status = -1;
    if (get_branch(&r, 2)) {
        ev->http_method = get_string(&r);
        ev->http_path = get_string(&r);
        ev->http_status = opt_long(&r, -1);
        (void)opt_string(&r); /* sse_event_id */
        (void)opt_string(&r); /* protocol_version */
        (void)opt_string(&r); /* mcp_session_id */
    }
    if (get_branch(&r, 2)) {
        ev->rpc_id = opt_string(&r);
        ev->rpc_method = opt_string(&r);
        ev->tool = opt_string(&r);
        (void)opt_string(&r); /* resource_uri */
        ev->is_error = get_bool(&r);
        ev->error_code = opt_long(&r, 0);
    }
    ev->payload = opt_string(&r);
    opt_fixed32(&r); /* payload_hmac */
    for (int64_t n; (n = block_count(&r, &blocks)) > 0;) {
        for (int64_t i = 0; i < n && !r.err; i++) {
            (void)get_string(&r); /* detector */
            (void)get_enum(&r, 4);
            int64_t c = get_long(&r);
            if (c > 0 && ev->mask_total <= INT64_MAX - c)
                ev->mask_total += c;
            ev->mask_entries++;
        }
    }
    ev->policy_action = -1;
    if (get_branch(&r, 2)) {
        ev->rule_id = get_string(&r);
        ev->policy_action = get_enum(&r, MT_REV_POLICY_ACTIONS);
    }
    ev->decision = -1;
    if (get_branch(&r, 2)) {
        ev->approval_id = get_string(&r);
        if (get_branch(&r, 2))
            ev->decision = get_enum(&r, MT_REV_DECISIONS);
        for (int64_t n; (n = block_count(&r, &blocks)) > 0;) {
            for (int64_t i = 0; i < n && !r.err; i++) {
                (void)get_string(&r);
                ev->napprovers++;
            }
        }
    }
    ev->justification = opt_string(&r);
    ev->latency_us = opt_long(&r, -1);
    (void)opt_string(&r); /* traceparent */
    ev->sidecar_version = get_string(&r);
    opt_fixed32(&r); /* prev_hash */
    if (r.err)
        return r.err;
    if (r.p != r.end)
        return MT_ERR_SCHEMA; /* trailing bytes */
    return MT_OK;
}
