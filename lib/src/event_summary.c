/* SessionEvent summary decoder (see event.h). Field order mirrors
 * schemas/session_event.avsc; the fingerprint check in mt_rev_parse is what
 * guarantees the order, so a schema change shows up as MT_ERR_UNKNOWN_SCHEMA
 * rather than as silently misread fields. */
#include "mcptrail/event.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *const mt_rev_kind_names[MT_REV_KINDS] = {
    "session_start", "request",          "response",    "notification",
    "sse_event",     "error",            "policy_denied", "approval_requested",
    "approval_decided", "auth_failed",   "session_end", "heartbeat",
    "instance_start", "instance_stop"};
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

static const uint8_t *opt_fixed32(rd *r)
{
    if (!get_branch(r, 2) || r->err)
        return NULL;
    const uint8_t *p = r->p;
    skip_bytes(r, 32);
    return r->err ? NULL : p;
}

static const uint8_t *fixed32(rd *r)
{
    const uint8_t *p = r->p;
    skip_bytes(r, 32);
    return r->err ? NULL : p;
}

/* The version of value's header: 3 for fp (the current schema), 2 and 1
 * for the fixed earlier ones, 0 none of them. */
static int version_of(const uint8_t *value, uint64_t fp)
{
    uint64_t got = 0;
    for (int i = 0; i < 8; i++)
        got |= (uint64_t)value[2 + i] << (8 * i);
    return got == fp ? 3 : got == MT_SESSION_EVENT_FP_V2 ? 2 : got == MT_SESSION_EVENT_FP_V1 ? 1 : 0;
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

size_t mt_stream_checkpoint_message(const char *instance_id, size_t id_len, int64_t seq,
                                    const uint8_t *prev_hash, uint8_t *out)
{
    static const char label[] = "mcptrail stream checkpoint v1";
    if (id_len > MT_STREAM_CHECKPOINT_MAX - sizeof label - 1 - 8 - 32)
        return 0;
    size_t n = 0;
    memcpy(out, label, sizeof label); /* with its NUL */
    n += sizeof label;
    memcpy(out + n, instance_id, id_len);
    n += id_len;
    out[n++] = 0;
    for (int i = 7; i >= 0; i--)
        out[n++] = (uint8_t)((uint64_t)seq >> (8 * i));
    if (prev_hash)
        memcpy(out + n, prev_hash, 32);
    else
        memset(out + n, 0, 32);
    return n + 32;
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
    if (!(ev->version = version_of(value, fp)))
        return MT_ERR_UNKNOWN_SCHEMA;
    rd r = {value + 10, value + len, MT_OK};
    int blocks = 0;

    ev->event_id = get_string(&r);
    ev->session_id = get_string(&r);
    ev->seq = get_long(&r);
    ev->stream_seq = ev->session_prev = -1;
    if (ev->version >= 2 && get_branch(&r, 2)) {
        ev->instance_id = get_string(&r);
        ev->stream_seq = get_long(&r);
        ev->stream_prev = opt_fixed32(&r);
        ev->session_prev = opt_long(&r, -1);
        if (get_branch(&r, 2)) {
            ev->stream_key_id = get_string(&r);
            ev->stream_sig = r.p;
            skip_bytes(&r, 64);
        }
    }
    ev->ts_us = get_long(&r);
    ev->kind = get_enum(&r, ev->version >= 2 ? MT_REV_KINDS : MT_REV_KINDS_V1);
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
    ev->run_attempt = -1;
    if (get_branch(&r, 2)) {
        ev->has_ci = true;
        ev->repository = opt_string(&r);
        ev->workflow = opt_string(&r);
        ev->job = opt_string(&r);
        ev->run_id = opt_string(&r);
        ev->run_attempt = opt_long(&r, -1);
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
        ev->protocol_version = opt_string(&r);
        ev->mcp_session_id = opt_string(&r);
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
    ev->traceparent = opt_string(&r);
    ev->sidecar_version = get_string(&r);
    ev->prev_hash = opt_fixed32(&r);
    if (ev->version >= 2 && get_branch(&r, 2)) {
        ev->has_instance = true;
        ev->config_sha256 = fixed32(&r);
        ev->policy_sha256 = opt_fixed32(&r);
        ev->host = get_string(&r);
        ev->pid = get_long(&r);
        ev->listen = get_string(&r);
        ev->heartbeat_ms = get_long(&r);
        ev->mode = get_string(&r);
    }
    if (ev->version >= 3) {
        if (get_branch(&r, 2)) {
            ev->call_id = get_string(&r);
            ev->call_round = get_long(&r);
            ev->result_type = opt_string(&r);
            ev->call_sealed = get_bool(&r);
        }
        if (get_branch(&r, 2)) {
            ev->has_client = true;
            ev->client_name = opt_string(&r);
            ev->client_version = opt_string(&r);
            ev->client_capabilities = opt_string(&r);
        }
    }
    if (r.err)
        return r.err;
    if (r.p != r.end)
        return MT_ERR_SCHEMA; /* trailing bytes */
    return MT_OK;
}

/* ---- JSON writer ----------------------------------------------------------- */

typedef struct jw {
    rd r;
    mt_buf *out;
    mt_err err;
} jw;

static void put(jw *w, const void *p, size_t n)
{
    if (!w->err && mt_buf_append(w->out, p, n))
        w->err = MT_ERR_NOMEM;
}

static void puts_(jw *w, const char *s)
{
    put(w, s, strlen(s));
}

static void put_escaped(jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    /* worst case: every byte becomes \u00XX */
    if (w->err || n > (SIZE_MAX - 2) / 6 || mt_buf_reserve(w->out, 6 * n + 2)) {
        w->err = w->err ? w->err : MT_ERR_NOMEM;
        return;
    }
    char *o = (char *)w->out->data + w->out->len, *o0 = o;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    w->out->len += (size_t)(o - o0);
}

static void key(jw *w, const char *k, bool first)
{
    if (!first)
        put(w, ",", 1);
    put(w, "\"", 1);
    puts_(w, k);
    put(w, "\":", 2);
}

static void w_string(jw *w, const char *k, bool first)
{
    key(w, k, first);
    mt_sv v = get_string(&w->r);
    if (!w->r.err)
        put_escaped(w, v.p, v.n);
}

static void w_long_v(jw *w, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    put(w, b, (size_t)n);
}

static void w_long(jw *w, const char *k, bool first)
{
    key(w, k, first);
    int64_t v = get_long(&w->r);
    if (!w->r.err)
        w_long_v(w, v);
}

static void w_enum(jw *w, const char *k, bool first, const char *const *names, int n)
{
    key(w, k, first);
    int i = get_enum(&w->r, n);
    if (!w->r.err) {
        put(w, "\"", 1);
        puts_(w, names[i]);
        put(w, "\"", 1);
    }
}

/* ["null", T]: returns true when T follows (the caller writes it). */
static bool w_opt(jw *w, const char *k, bool first)
{
    key(w, k, first);
    bool some = get_branch(&w->r, 2) == 1;
    if (!some && !w->r.err)
        puts_(w, "null");
    return some && !w->r.err;
}

static void w_opt_string(jw *w, const char *k, bool first)
{
    if (w_opt(w, k, first)) {
        mt_sv v = get_string(&w->r);
        if (!w->r.err)
            put_escaped(w, v.p, v.n);
    }
}

static void w_opt_long(jw *w, const char *k, bool first)
{
    if (w_opt(w, k, first)) {
        int64_t v = get_long(&w->r);
        if (!w->r.err)
            w_long_v(w, v);
    }
}

static void w_fixed_v(jw *w, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if ((size_t)(w->r.end - w->r.p) < len) {
        w->r.err = MT_ERR_TRUNCATED;
        return;
    }
    char h[2 * 64 + 2]; /* len <= 64 */
    h[0] = '"';
    for (size_t i = 0; i < len; i++) {
        h[1 + 2 * i] = hex[w->r.p[i] >> 4];
        h[2 + 2 * i] = hex[w->r.p[i] & 15];
    }
    h[2 * len + 1] = '"';
    put(w, h, 2 * len + 2);
    w->r.p += len;
}

static void w_opt_fixed32(jw *w, const char *k, bool first)
{
    if (w_opt(w, k, first))
        w_fixed_v(w, 32);
}

static const char *const mask_actions[4] = {"redact", "tokenize", "partial", "drop"};

mt_err mt_rev_write_json(const uint8_t *value, size_t len, uint64_t fp, mt_buf *out)
{
    mt_rev check;
    mt_err err = mt_rev_parse(value, len, fp, &check); /* validates everything first */
    if (err)
        return err;
    size_t start = out->len;
    jw w = {{value + 10, value + len, MT_OK}, out, MT_OK};
    int blocks = 0;
    put(&w, "{", 1);
    bool v2 = check.version >= 2, v3 = check.version >= 3;
    w_string(&w, "event_id", true);
    w_string(&w, "session_id", false);
    w_long(&w, "seq", false);
    if (!v2) {
        puts_(&w, ",\"stream\":null");
    } else if (w_opt(&w, "stream", false)) {
        put(&w, "{", 1);
        w_string(&w, "instance_id", true);
        w_long(&w, "seq", false);
        w_opt_fixed32(&w, "prev_hash", false);
        w_opt_long(&w, "session_prev", false);
        if (w_opt(&w, "signature", false)) {
            put(&w, "{", 1);
            w_string(&w, "key_id", true);
            key(&w, "value", false);
            w_fixed_v(&w, 64);
            put(&w, "}", 1);
        }
        put(&w, "}", 1);
    }
    w_long(&w, "ts", false);
    w_enum(&w, "kind", false, mt_rev_kind_names, v2 ? MT_REV_KINDS : MT_REV_KINDS_V1);
    w_enum(&w, "direction", false, mt_rev_direction_names, 3);
    key(&w, "source", false);
    put(&w, "{", 1);
    w_string(&w, "cluster", true);
    w_string(&w, "namespace", false);
    w_string(&w, "pod", false);
    w_string(&w, "upstream", false);
    put(&w, "}", 1);
    key(&w, "identity", false);
    put(&w, "{", 1);
    w_opt_string(&w, "issuer", true);
    w_opt_string(&w, "subject", false);
    w_opt_string(&w, "audience", false);
    w_opt_string(&w, "auth_method", false);
    w_opt_fixed32(&w, "token_fingerprint", false);
    if (w_opt(&w, "ci", false)) {
        put(&w, "{", 1);
        w_opt_string(&w, "repository", true);
        w_opt_string(&w, "workflow", false);
        w_opt_string(&w, "job", false);
        w_opt_string(&w, "run_id", false);
        w_opt_long(&w, "run_attempt", false);
        w_opt_string(&w, "sha", false);
        w_opt_string(&w, "ref", false);
        w_opt_string(&w, "actor", false);
        w_opt_string(&w, "environment", false);
        put(&w, "}", 1);
    }
    put(&w, "}", 1);
    if (w_opt(&w, "http", false)) {
        put(&w, "{", 1);
        w_string(&w, "method", true);
        w_string(&w, "path", false);
        w_opt_long(&w, "status", false);
        w_opt_string(&w, "sse_event_id", false);
        w_opt_string(&w, "protocol_version", false);
        w_opt_string(&w, "mcp_session_id", false);
        put(&w, "}", 1);
    }
    if (w_opt(&w, "rpc", false)) {
        put(&w, "{", 1);
        w_opt_string(&w, "id", true);
        w_opt_string(&w, "method", false);
        w_opt_string(&w, "tool", false);
        w_opt_string(&w, "resource_uri", false);
        key(&w, "is_error", false);
        puts_(&w, get_bool(&w.r) ? "true" : "false");
        w_opt_long(&w, "error_code", false);
        put(&w, "}", 1);
    }
    w_opt_string(&w, "payload_masked", false);
    w_opt_fixed32(&w, "payload_hmac", false);
    key(&w, "mask_summary", false);
    put(&w, "[", 1);
    bool firstm = true;
    for (int64_t n; (n = block_count(&w.r, &blocks)) > 0;) {
        for (int64_t i = 0; i < n && !w.r.err; i++) {
            if (!firstm)
                put(&w, ",", 1);
            firstm = false;
            put(&w, "{", 1);
            w_string(&w, "detector", true);
            w_enum(&w, "action", false, mask_actions, 4);
            w_long(&w, "count", false);
            put(&w, "}", 1);
        }
    }
    put(&w, "]", 1);
    if (w_opt(&w, "policy", false)) {
        put(&w, "{", 1);
        w_string(&w, "rule_id", true);
        w_enum(&w, "action", false, mt_rev_policy_names, MT_REV_POLICY_ACTIONS);
        put(&w, "}", 1);
    }
    if (w_opt(&w, "approval", false)) {
        put(&w, "{", 1);
        w_string(&w, "approval_id", true);
        if (w_opt(&w, "decision", false)) {
            int d = get_enum(&w.r, MT_REV_DECISIONS);
            if (!w.r.err) {
                put(&w, "\"", 1);
                puts_(&w, mt_rev_decision_names[d]);
                put(&w, "\"", 1);
            }
        }
        key(&w, "approvers", false);
        put(&w, "[", 1);
        bool firsta = true;
        for (int64_t n; (n = block_count(&w.r, &blocks)) > 0;) {
            for (int64_t i = 0; i < n && !w.r.err; i++) {
                if (!firsta)
                    put(&w, ",", 1);
                firsta = false;
                mt_sv v = get_string(&w.r);
                if (!w.r.err)
                    put_escaped(&w, v.p, v.n);
            }
        }
        put(&w, "]", 1);
        put(&w, "}", 1);
    }
    w_opt_string(&w, "justification", false);
    w_opt_long(&w, "latency_us", false);
    w_opt_string(&w, "traceparent", false);
    w_string(&w, "sidecar_version", false);
    w_opt_fixed32(&w, "prev_hash", false);
    if (!v2) {
        puts_(&w, ",\"instance\":null");
    } else if (w_opt(&w, "instance", false)) {
        put(&w, "{", 1);
        key(&w, "config_sha256", true);
        w_fixed_v(&w, 32);
        w_opt_fixed32(&w, "policy_sha256", false);
        w_string(&w, "host", false);
        w_long(&w, "pid", false);
        w_string(&w, "listen", false);
        w_long(&w, "heartbeat_ms", false);
        w_string(&w, "mode", false);
        put(&w, "}", 1);
    }
    if (!v3) {
        puts_(&w, ",\"call\":null,\"client\":null");
    } else {
        if (w_opt(&w, "call", false)) {
            put(&w, "{", 1);
            w_string(&w, "call_id", true);
            w_long(&w, "round", false);
            w_opt_string(&w, "result_type", false);
            key(&w, "sealed", false);
            puts_(&w, get_bool(&w.r) ? "true" : "false");
            put(&w, "}", 1);
        }
        if (w_opt(&w, "client", false)) {
            put(&w, "{", 1);
            w_opt_string(&w, "name", true);
            w_opt_string(&w, "version", false);
            w_opt_string(&w, "capabilities", false);
            put(&w, "}", 1);
        }
    }
    put(&w, "}", 1);
    err = w.r.err ? w.r.err : w.err;
    if (err)
        out->len = start;
    return err;
}

/* ---- re-indenter -------------------------------------------------------------- */

static mt_err add(mt_buf *o, const void *p, size_t n)
{
    return mt_buf_append(o, p, n);
}

static mt_err newline(mt_buf *o, const char *prefix, int depth)
{
    mt_err e = add(o, "\n", 1);
    if (!e)
        e = add(o, prefix, strlen(prefix));
    for (int i = 0; i < depth && !e; i++)
        e = add(o, "  ", 2);
    return e;
}

static size_t skip_ws(const char *t, size_t i, size_t n)
{
    while (i < n && (t[i] == ' ' || t[i] == '\n' || t[i] == '\r' || t[i] == '\t'))
        i++;
    return i;
}

#define REINDENT_MAX_DEPTH 256

mt_err mt_json_reindent(const char *t, size_t n, const char *prefix, mt_buf *o)
{
    size_t start = o->len;
    char stack[REINDENT_MAX_DEPTH];
    int depth = 0;
    mt_err e = MT_OK;
    size_t i = skip_ws(t, 0, n);
    if (i == n)
        return MT_ERR_PARSE;
    while (i < n && !e) {
        char c = t[i];
        if (c == '"') {
            size_t j = i + 1;
            while (j < n && t[j] != '"')
                j += t[j] == '\\' ? 2 : 1;
            if (j >= n) {
                e = MT_ERR_PARSE;
                break;
            }
            e = add(o, t + i, j + 1 - i);
            i = j + 1;
        } else if (c == '{' || c == '[') {
            if (depth == REINDENT_MAX_DEPTH) {
                e = MT_ERR_PARSE;
                break;
            }
            char close = c == '{' ? '}' : ']';
            size_t j = skip_ws(t, i + 1, n);
            if (j < n && t[j] == close) { /* empty container stays on one line */
                char pair[2] = {c, close};
                e = add(o, pair, 2);
                i = j + 1;
            } else {
                stack[depth++] = close;
                e = add(o, &c, 1);
                if (!e)
                    e = newline(o, prefix, depth);
                i = j;
            }
            continue;
        } else if (c == '}' || c == ']') {
            if (depth == 0 || stack[depth - 1] != c) {
                e = MT_ERR_PARSE;
                break;
            }
            depth--;
            e = newline(o, prefix, depth);
            if (!e)
                e = add(o, &c, 1);
            i++;
        } else if (c == ',') {
            if (depth == 0) {
                e = MT_ERR_PARSE;
                break;
            }
            e = add(o, ",", 1);
            if (!e)
                e = newline(o, prefix, depth);
            i = skip_ws(t, i + 1, n);
            continue;
        } else if (c == ':') {
            e = add(o, ": ", 2);
            i = skip_ws(t, i + 1, n);
            continue;
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            i++;
        } else {
            size_t j = i;
            /* strchr finds the terminator for a NUL byte: treat NUL as text */
            while (j < n && (t[j] == '\0' || !strchr(",:{}[]\" \n\r\t", t[j])))
                j++;
            e = add(o, t + i, j - i);
            i = j;
        }
    }
    if (!e && depth != 0)
        e = MT_ERR_PARSE;
    if (e)
        o->len = start;
    return e;
}
