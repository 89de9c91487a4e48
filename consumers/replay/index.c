/* The session index behind `list`: one pass over every record with the
 * summary decoder (event.h), sessions in an open-addressing hash table keyed
 * by session_id. Filters on event attributes (tool, policy action, decision,
 * identity) match a session when any of its events matches, so the index
 * keeps per-session bit sets rather than the events themselves. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/strmap.h"
#include "replay.h"

enum { M_SUBJECT = 1, M_REPO = 2, M_WORKFLOW = 4, M_RUN = 8, M_TOOL = 16 };

/* Sessions live in a dense array (v, n of vcap); the open-addressing table
 * (slots, a power of two, at most half full) holds each session's hash and
 * index, so growing it moves 16-byte slots without touching the summaries
 * or rehashing ids, and a probe compares hashes before any id bytes. */
typedef struct slot {
    uint64_t hash;
    uint32_t idx; /* index into v, + 1; 0: empty */
    uint32_t id_len;
} slot;

struct mt_replay_index {
    mt_replay_summary *v;  /* recorded sessions */
    size_t n, vcap;
    mt_replay_summary *lv; /* logical sessions (strings borrowed from v) */
    size_t nl;
    char **mem;            /* their members, one slot per recorded session */
    size_t nmem;
    slot *slots;
    size_t cap;
    const mt_replay_summary **sel;
    uint64_t events, bad;
    uint64_t fp;
    /* filter strings are compared during the build through these */
    const mt_replay_filter *f;
};

void mt_replay_filter_init(mt_replay_filter *f)
{
    memset(f, 0, sizeof *f);
    f->from_us = INT64_MIN;
    f->to_us = INT64_MAX;
    f->policy = -1;
    f->decision = -1;
}

static char *dup_sv(mt_sv v)
{
    if (!v.p)
        return NULL;
    char *s = malloc(v.n + 1);
    if (s) {
        memcpy(s, v.p, v.n);
        s[v.n] = '\0';
    }
    return s;
}

static mt_err grow(mt_replay_index *ix)
{
    size_t ncap = ix->cap ? ix->cap * 2 : 4096;
    if (ncap > UINT32_MAX)
        return MT_ERR_NOMEM;
    slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return MT_ERR_NOMEM;
    for (size_t i = 0; i < ix->cap; i++) {
        if (!ix->slots[i].idx)
            continue;
        size_t j = ix->slots[i].hash & (ncap - 1);
        while (ns[j].idx)
            j = (j + 1) & (ncap - 1);
        ns[j] = ix->slots[i];
    }
    free(ix->slots);
    ix->slots = ns;
    ix->cap = ncap;
    return MT_OK;
}

/* The session's summary, created on first sight; NULL when out of memory.
 * The pointer is valid until the next lookup (v may move). */
static mt_replay_summary *lookup(mt_replay_index *ix, mt_sv id)
{
    if (id.n > UINT32_MAX)
        return NULL;
    if ((ix->n + 1) * 2 > ix->cap && grow(ix) != MT_OK)
        return NULL;
    uint64_t h = mt_strmap_hash(id.p, id.n);
    size_t j = h & (ix->cap - 1);
    for (; ix->slots[j].idx; j = (j + 1) & (ix->cap - 1)) {
        const slot *sl = &ix->slots[j];
        if (sl->hash == h && sl->id_len == id.n) {
            mt_replay_summary *s = &ix->v[sl->idx - 1];
            if (memcmp(s->id, id.p, id.n) == 0)
                return s;
        }
    }
    if (mt_array_reserve((void **)&ix->v, &ix->vcap, ix->n + 1, sizeof *ix->v, 1024))
        return NULL;
    mt_replay_summary *s = &ix->v[ix->n];
    memset(s, 0, sizeof *s);
    if (!(s->id = dup_sv(id)))
        return NULL;
    s->first_us = INT64_MAX;
    s->last_us = INT64_MIN;
    s->max_seq = -1;
    ix->slots[j] = (slot){h, (uint32_t)(ix->n + 1), (uint32_t)id.n};
    ix->n++;
    return s;
}

static void set_once(char **dst, mt_sv v)
{
    if (!*dst && v.p)
        *dst = dup_sv(v);
}

static void add_stream(mt_replay_summary *s, const char *id, size_t n)
{
    /* most events come from the stream seen last */
    if (s->nstreams && strlen(s->streams[s->nstreams - 1]) == n &&
        memcmp(s->streams[s->nstreams - 1], id, n) == 0)
        return;
    for (size_t i = 0; i < s->nstreams; i++)
        if (strlen(s->streams[i]) == n && memcmp(s->streams[i], id, n) == 0)
            return;
    if (s->nstreams == MT_REPLAY_MAX_STREAMS) {
        s->more_streams = true;
        return;
    }
    if (!s->streams && !(s->streams = calloc(MT_REPLAY_MAX_STREAMS, sizeof *s->streams)))
        return;
    if ((s->streams[s->nstreams] = strndup(id, n)))
        s->nstreams++;
}

/* The grouping key of a one-exchange session (replay.h): CI run, else trace
 * id, else the caller; fields joined by 0x1f. */
static char *group_key(const mt_rev *ev)
{
    char buf[1024];
    int n = -1;
#define SV(v) (int)(v).n, (v).p ? (v).p : ""
    if (ev->has_ci && ev->run_id.p)
        n = snprintf(buf, sizeof buf, "ci\x1f%.*s\x1f%.*s\x1f%.*s\x1f%" PRId64 "\x1f%.*s",
                     SV(ev->issuer), SV(ev->repository), SV(ev->run_id), ev->run_attempt,
                     SV(ev->job));
    else if (ev->traceparent.p && ev->traceparent.n >= 35 && ev->traceparent.p[2] == '-')
        n = snprintf(buf, sizeof buf, "trace\x1f%.32s", ev->traceparent.p + 3);
    else if (ev->subject.p)
        n = snprintf(buf, sizeof buf, "id\x1f%.*s\x1f%.*s", SV(ev->issuer), SV(ev->subject));
#undef SV
    if (n < 0)
        return NULL;
    return strndup(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static int add_event(mt_replay_index *ix, const mt_rev *ev)
{
    ix->events++;
    mt_replay_summary *s = lookup(ix, ev->session_id);
    if (!s)
        return 1;
    s->events++;
    if (ev->ts_us < s->first_us)
        s->first_us = ev->ts_us;
    if (ev->ts_us > s->last_us)
        s->last_us = ev->ts_us;
    if (ev->seq > s->max_seq)
        s->max_seq = ev->seq;
    set_once(&s->subject, ev->subject);
    set_once(&s->repository, ev->repository);
    set_once(&s->workflow, ev->workflow);
    set_once(&s->run_id, ev->run_id);
    set_once(&s->actor, ev->actor);
    if (mt_replay_event_is_mcp(ev))
        s->mcp = true;
    if (!s->group_key && (ev->has_ci || ev->traceparent.p || ev->subject.p))
        s->group_key = group_key(ev);
    if (ev->instance_id.p)
        add_stream(s, ev->instance_id.p, ev->instance_id.n);
    if (ev->tool.p && ev->kind == 1) {
        set_once(&s->first_tool, ev->tool);
        s->tool_calls++;
    }
    if (ev->policy_action >= 0)
        s->policy_mask |= 1u << ev->policy_action;
    if (ev->decision >= 0)
        s->decision_mask |= 1u << ev->decision;
    s->kind_mask |= 1u << ev->kind;
    if (ev->is_error || ev->kind == 5 || ev->kind == 6 || ev->kind == 9)
        s->errors++;
    const mt_replay_filter *f = ix->f;
    if (f) {
        if (f->subject && mt_sv_eq(ev->subject, f->subject))
            s->matched |= M_SUBJECT;
        if (f->repository && mt_sv_eq(ev->repository, f->repository))
            s->matched |= M_REPO;
        if (f->workflow && mt_sv_eq(ev->workflow, f->workflow))
            s->matched |= M_WORKFLOW;
        if (f->run_id && mt_sv_eq(ev->run_id, f->run_id))
            s->matched |= M_RUN;
        if (f->tool && mt_sv_eq(ev->tool, f->tool))
            s->matched |= M_TOOL;
    }
    return 0;
}

static int on_record(const mt_replay_rec *r, void *ctx)
{
    mt_replay_index *ix = ctx;
    mt_rev ev;
    mt_err err = mt_rev_parse(r->value, r->len, ix->fp, &ev);
    if (err) {
        if (err != MT_ERR_UNKNOWN_SCHEMA)
            ix->bad++; /* approval records are not SessionEvents; others are broken */
        return 0;
    }
    return add_event(ix, &ev);
}

mt_err mt_replay_index_new(const mt_replay_filter *f, mt_replay_index **out)
{
    mt_replay_index *ix = calloc(1, sizeof *ix);
    if (!ix || grow(ix) != MT_OK) {
        free(ix);
        return MT_ERR_NOMEM;
    }
    ix->f = f;
    *out = ix;
    return MT_OK;
}

mt_err mt_replay_index_add(mt_replay_index *ix, const mt_rev *ev)
{
    return add_event(ix, ev) ? MT_ERR_NOMEM : MT_OK;
}

/* ---- logical sessions (replay.h) --------------------------------------------- */

bool mt_replay_event_is_mcp(const mt_rev *ev)
{
    return ev->mcp_session_id.p || mt_sv_eq(ev->rpc_method, "initialize");
}

/* No stream: not written by a stream-aware sidecar (version 1, or produced by
 * other tools), so as recorded. */
const char *mt_replay_standalone_kind(bool has_stream, bool mcp)
{
    return !has_stream ? "recorded" : mcp ? "mcp" : NULL;
}

#define INSTANCE_KINDS                                                                  \
    ((1u << MT_REV_KIND_HEARTBEAT) | (1u << MT_REV_KIND_INSTANCE_START) |             \
     (1u << MT_REV_KIND_INSTANCE_STOP))

static int cmp_grouped(const void *a, const void *b)
{
    const mt_replay_summary *x = *(const mt_replay_summary *const *)a;
    const mt_replay_summary *y = *(const mt_replay_summary *const *)b;
    int c = strcmp(x->group_key, y->group_key);
    if (c)
        return c;
    if (x->first_us != y->first_us)
        return x->first_us < y->first_us ? -1 : 1;
    return strcmp(x->id, y->id);
}

static void set_if_null(char **dst, char *v)
{
    if (!*dst)
        *dst = v;
}

/* Folds recorded session r into logical session l. */
static void fold(mt_replay_summary *l, const mt_replay_summary *r)
{
    if (r->first_us < l->first_us)
        l->first_us = r->first_us;
    if (r->last_us > l->last_us)
        l->last_us = r->last_us;
    l->events += r->events;
    set_if_null(&l->subject, r->subject);
    set_if_null(&l->repository, r->repository);
    set_if_null(&l->workflow, r->workflow);
    set_if_null(&l->run_id, r->run_id);
    set_if_null(&l->actor, r->actor);
    set_if_null(&l->first_tool, r->first_tool);
    l->tool_calls += r->tool_calls;
    l->policy_mask |= r->policy_mask;
    l->decision_mask |= r->decision_mask;
    l->kind_mask |= r->kind_mask;
    l->errors += r->errors;
    l->matched |= r->matched;
    l->seq_mismatch |= r->seq_mismatch;
    l->more_streams |= r->more_streams;
    if (!l->streams) { /* the first member's, borrowed */
        l->streams = r->streams;
        l->nstreams = r->nstreams;
        return;
    }
    for (size_t i = 0; i < r->nstreams; i++) {
        size_t k = 0;
        while (k < l->nstreams && strcmp(l->streams[k], r->streams[i]) != 0)
            k++;
        if (k < l->nstreams)
            continue;
        if (l->nstreams == MT_REPLAY_MAX_STREAMS) {
            l->more_streams = true;
            continue;
        }
        if (!l->own_streams) {
            char **own = calloc(MT_REPLAY_MAX_STREAMS, sizeof *own);
            if (!own)
                return; /* the list stays short: shown as such, never wrong */
            memcpy(own, l->streams, l->nstreams * sizeof *own);
            l->streams = own;
            l->own_streams = true;
        }
        l->streams[l->nstreams++] = r->streams[i];
    }
}

/* Members live in one array (ix->mem, a slot per recorded session) in the
 * order the logical sessions are made. */
static mt_replay_summary *new_logical(mt_replay_index *ix, const mt_replay_summary *first,
                                      const char *kind)
{
    mt_replay_summary *l = &ix->lv[ix->nl++];
    memset(l, 0, sizeof *l);
    l->id = first->id;
    l->kind = kind;
    l->first_us = INT64_MAX;
    l->last_us = INT64_MIN;
    l->members = ix->mem + ix->nmem;
    return l;
}

static void add_member(mt_replay_index *ix, mt_replay_summary *l, const mt_replay_summary *r)
{
    ix->mem[ix->nmem++] = r->id;
    l->nmembers++;
    fold(l, r);
}

static mt_err build_logical(mt_replay_index *ix, int64_t gap_us)
{
    mt_replay_summary **g = calloc(ix->n ? ix->n : 1, sizeof *g);
    if (!g || !(ix->lv = calloc(ix->n ? ix->n : 1, sizeof *ix->lv)) ||
        !(ix->mem = calloc(ix->n ? ix->n : 1, sizeof *ix->mem))) {
        free(g);
        return MT_ERR_NOMEM;
    }
    size_t ng = 0;
    for (size_t i = 0; i < ix->n; i++) {
        mt_replay_summary *r = &ix->v[i];
        r->seq_mismatch = r->max_seq + 1 != (int64_t)r->events;
        if (r->kind_mask && !(r->kind_mask & ~INSTANCE_KINDS) && r->nstreams)
            continue; /* the instance's own events */
        const char *alone = mt_replay_standalone_kind(r->nstreams || r->more_streams, r->mcp);
        if (alone || !r->group_key) {
            mt_replay_summary *l = new_logical(ix, r, alone ? alone : "exchange");
            add_member(ix, l, r);
        } else {
            g[ng++] = r;
        }
    }
    if (ng)
        qsort(g, ng, sizeof *g, cmp_grouped);
    for (size_t a = 0, b; a < ng; a = b) {
        /* one key, split at idle gaps */
        int64_t last = g[a]->last_us;
        for (b = a + 1; b < ng && strcmp(g[b]->group_key, g[a]->group_key) == 0 &&
                        g[b]->first_us - last <= gap_us;
             b++)
            if (g[b]->last_us > last)
                last = g[b]->last_us;
        const char *k = g[a]->group_key;
        mt_replay_summary *l = new_logical(ix, g[a], k[0] == 'c'   ? "ci_run"
                                                     : k[0] == 't' ? "trace"
                                                                   : "identity");
        for (size_t i = a; i < b; i++)
            add_member(ix, l, g[i]);
    }
    free(g);
    return MT_OK;
}

mt_err mt_replay_index_finish(mt_replay_index *ix)
{
    const mt_replay_filter *f = ix->f;
    return build_logical(ix, f && f->idle_gap_us > 0 ? f->idle_gap_us
                                                     : MT_REPLAY_DEFAULT_IDLE_GAP_US);
}

size_t mt_replay_index_logical_count(const mt_replay_index *ix)
{
    return ix->nl;
}

const mt_replay_summary *mt_replay_index_find(const mt_replay_index *ix, const char *id,
                                              bool *member)
{
    *member = false;
    for (size_t i = 0; i < ix->nl; i++)
        if (strcmp(ix->lv[i].id, id) == 0)
            return &ix->lv[i];
    for (size_t i = 0; i < ix->nl; i++)
        for (size_t k = 0; k < ix->lv[i].nmembers; k++)
            if (strcmp(ix->lv[i].members[k], id) == 0) {
                *member = true;
                return &ix->lv[i];
            }
    return NULL;
}

mt_err mt_replay_index_build(mt_replay_source *src, uint64_t event_fp,
                             const mt_replay_filter *f, mt_replay_index **out, mt_errbuf *eb)
{
    mt_replay_index *ix = NULL;
    if (mt_replay_index_new(f, &ix) != MT_OK)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    ix->fp = event_fp;
    mt_err err = mt_replay_scan(src, on_record, ix, eb);
    if (err == MT_ERR_STATE)
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory indexing sessions");
    if (!err && mt_replay_index_finish(ix) != MT_OK)
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory grouping sessions");
    if (err) {
        mt_replay_index_free(ix);
        return err;
    }
    *out = ix;
    return MT_OK;
}

void mt_replay_index_free(mt_replay_index *ix)
{
    if (!ix)
        return;
    for (size_t i = 0; i < ix->n; i++) {
        mt_replay_summary *s = &ix->v[i];
        free(s->id);
        free(s->subject);
        free(s->repository);
        free(s->workflow);
        free(s->run_id);
        free(s->actor);
        free(s->first_tool);
        free(s->group_key);
        for (size_t k = 0; k < s->nstreams; k++)
            free(s->streams[k]);
        free(s->streams);
    }
    for (size_t i = 0; i < ix->nl; i++)
        if (ix->lv[i].own_streams)
            free(ix->lv[i].streams);
    free(ix->mem);
    free(ix->lv);
    free(ix->v);
    free(ix->slots);
    free(ix->sel);
    free(ix);
}

uint64_t mt_replay_index_events(const mt_replay_index *ix)
{
    return ix->events;
}

uint64_t mt_replay_index_bad_records(const mt_replay_index *ix)
{
    return ix->bad;
}

static bool passes(const mt_replay_summary *s, const mt_replay_filter *f)
{
    if (s->last_us < f->from_us || s->first_us > f->to_us)
        return false;
    if ((f->subject && !(s->matched & M_SUBJECT)) || (f->repository && !(s->matched & M_REPO)) ||
        (f->workflow && !(s->matched & M_WORKFLOW)) || (f->run_id && !(s->matched & M_RUN)) ||
        (f->tool && !(s->matched & M_TOOL)))
        return false;
    if (f->policy >= 0 && !(s->policy_mask & (1u << f->policy)))
        return false;
    if (f->decision >= 0 && !(s->decision_mask & (1u << f->decision)))
        return false;
    if (f->has_errors && !s->errors)
        return false;
    return true;
}

static int cmp_summary(const void *a, const void *b)
{
    const mt_replay_summary *x = *(const mt_replay_summary *const *)a;
    const mt_replay_summary *y = *(const mt_replay_summary *const *)b;
    if (x->first_us != y->first_us)
        return x->first_us < y->first_us ? -1 : 1;
    return strcmp(x->id, y->id);
}

size_t mt_replay_index_select(mt_replay_index *ix, const mt_replay_filter *f,
                              const mt_replay_summary ***out)
{
    free(ix->sel);
    ix->sel = calloc(ix->nl ? ix->nl : 1, sizeof *ix->sel);
    size_t k = 0;
    for (size_t i = 0; ix->sel && i < ix->nl; i++)
        if (passes(&ix->lv[i], f))
            ix->sel[k++] = &ix->lv[i];
    if (k)
        qsort(ix->sel, k, sizeof *ix->sel, cmp_summary);
    *out = ix->sel;
    return k;
}

static const char *or_dash(const char *s)
{
    return s ? s : "-";
}

static void flags_text(const mt_replay_summary *s, char *out, size_t n)
{
    size_t k = 0;
    out[0] = '\0';
    if (s->errors)
        k += (size_t)snprintf(out + k, n - k, "%serrors", k ? "," : "");
    if (k < n && (s->policy_mask & 2u || s->kind_mask & (1u << 6)))
        k += (size_t)snprintf(out + k, n - k, "%sdenied", k ? "," : "");
    for (int d = 0; d < MT_REV_DECISIONS && k < n; d++)
        if (s->decision_mask & (1u << d))
            k += (size_t)snprintf(out + k, n - k, "%s%s", k ? "," : "", mt_rev_decision_names[d]);
    if (k < n && s->seq_mismatch)
        k += (size_t)snprintf(out + k, n - k, "%sseq-mismatch", k ? "," : "");
    if (k == 0)
        snprintf(out, n, "-");
}

void mt_replay_print_list_table(FILE *out, const mt_replay_summary *const *v, size_t n)
{
    fprintf(out, "%-36s  %-8s  %-24s  %9s  %6s  %5s  %4s  %-24s  %-24s  %-16s  %-10s  %-16s  %s\n",
            "SESSION", "KIND", "START (UTC)", "DURATION", "EVENTS", "CALLS", "SIDE", "SUBJECT",
            "REPOSITORY", "WORKFLOW", "RUN", "TOOL", "FLAGS");
    for (size_t i = 0; i < n; i++) {
        const mt_replay_summary *s = v[i];
        char t[40], fl[96];
        mt_fmt_time_us(s->first_us, t, sizeof t);
        t[19] = 'Z';
        t[20] = '\0';
        flags_text(s, fl, sizeof fl);
        /* CALLS: tool calls; SIDE: sidecar instances (streams) the events came from */
        fprintf(out, "%-36s  %-8s  %-24s  %8.3fs  %6" PRIu64 "  %5" PRIu32 "  %3zu%s  %-24s  %-24s  "
                "%-16s  %-10s  %-16s  %s\n",
                s->id, s->kind, t, (double)(s->last_us - s->first_us) / 1e6, s->events,
                s->tool_calls, (size_t)s->nstreams, s->more_streams ? "+" : " ", or_dash(s->subject),
                or_dash(s->repository), or_dash(s->workflow), or_dash(s->run_id),
                or_dash(s->first_tool), fl);
    }
}

static json_t *jstr_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

void mt_replay_print_list_jsonl(FILE *out, const mt_replay_summary *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const mt_replay_summary *s = v[i];
        char a[40], b[40];
        mt_fmt_time_us(s->first_us, a, sizeof a);
        mt_fmt_time_us(s->last_us, b, sizeof b);
        json_t *pol = json_array(), *dec = json_array();
        for (int k = 0; k < MT_REV_POLICY_ACTIONS; k++)
            if (s->policy_mask & (1u << k))
                json_array_append_new(pol, json_string(mt_rev_policy_names[k]));
        for (int k = 0; k < MT_REV_DECISIONS; k++)
            if (s->decision_mask & (1u << k))
                json_array_append_new(dec, json_string(mt_rev_decision_names[k]));
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:I}",
            "session_id", s->id, "start", a, "end", b, "start_us", (json_int_t)s->first_us,
            "end_us", (json_int_t)s->last_us, "events", (json_int_t)s->events, "subject",
            jstr_or_null(s->subject), "repository", jstr_or_null(s->repository), "workflow",
            jstr_or_null(s->workflow), "run_id", jstr_or_null(s->run_id), "actor",
            jstr_or_null(s->actor), "first_tool", jstr_or_null(s->first_tool), "tool_calls",
            (json_int_t)s->tool_calls, "policy_actions", pol, "decisions", dec, "errors",
            (json_int_t)s->errors);
        json_t *mem = json_array(), *st = json_array();
        for (size_t k = 0; k < s->nmembers; k++)
            json_array_append_new(mem, json_string(s->members[k]));
        for (size_t k = 0; k < s->nstreams; k++)
            json_array_append_new(st, json_string(s->streams[k]));
        if (o) {
            json_object_set_new(o, "kind", json_string(s->kind));
            json_object_set_new(o, "recorded_sessions", mem);
            json_object_set_new(o, "streams", st);
            json_object_set_new(o, "streams_truncated", json_boolean(s->more_streams));
            char *txt = json_dumps(o, JSON_COMPACT);
            if (txt)
                fprintf(out, "%s\n", txt);
            free(txt);
            json_decref(o);
        }
    }
}
