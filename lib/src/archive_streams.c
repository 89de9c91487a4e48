/* Completeness of sidecar streams (see archive.h "streams" and
 * docs/archive.md "Streams").
 *
 * Each instance's observations are kept compactly (about 80 bytes each),
 * sorted by seq at check time and walked once:
 *   - the same seq twice with the same record hash is a duplicate delivery
 *     (at-least-once; replay drops it by event_id); with different hashes a
 *     fork (two different events claim one position);
 *   - consecutive seqs must chain: prev of seq n = hash of seq n-1;
 *   - a gap is judged by the links into it: a surviving event whose
 *     session_prev names a missing seq shows that its session lost events
 *     (event-missing); a gap nothing links into lost whole sessions, or the
 *     ends of sessions whose later events would have linked (session-missing);
 *   - the tail: instance_stop ends it cleanly; otherwise a later instance
 *     that started at the same place (cluster/namespace/pod, host, listen
 *     address) means the process died without stopping (unclean-stop);
 *     otherwise silence past 2 x heartbeat + slack before the end of what
 *     the archive covers means the tail is missing (only the instance_start
 *     left: the instance is missing). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcptrail/archive.h"
#include "mcptrail/event.h"
#include "mcptrail/strmap.h"

const char *const mt_stream_problem_names[MT_SP_N] = {
    "event-missing", "session-missing",    "instance-tail-missing", "instance-missing",
    "unclean-stop",  "stream-chain-break", "stream-fork",           "stream-signature-bad",
    "stream-unsigned",
};

typedef struct obs {
    uint32_t inst;
    uint8_t kind;
    bool has_prev;
    uint8_t sig;
    int32_t partition;
    int64_t seq, session_prev, ts_us, offset;
    uint8_t own[16], prev[16];
} obs;

typedef struct inst {
    uint32_t idx;
    bool has_start;
    int64_t start_ts_us, heartbeat_ms;
    char *place;
} inst;

struct mt_streams {
    mt_strmap ids; /* instance id -> inst */
    inst **by_idx;
    size_t ninst, cap_inst;
    obs *o;
    size_t n, cap;
    bool judge_sigs;
};

void mt_streams_judge_signatures(mt_streams *s, bool on)
{
    s->judge_sigs = on;
}

void mt_stream_obs_of(const mt_rev *ev, const uint8_t record_sha[MT_SHA256_LEN],
                      char place[MT_STREAM_PLACE_MAX], mt_stream_obs *o)
{
    *o = (mt_stream_obs){.instance_id = ev->instance_id.p, .instance_len = ev->instance_id.n,
                         .seq = ev->stream_seq, .session_prev = ev->session_prev,
                         .ts_us = ev->ts_us, .kind = ev->kind,
                         .has_prev = ev->stream_prev != NULL};
    memcpy(o->own, record_sha, sizeof o->own);
    if (ev->stream_prev)
        memcpy(o->prev, ev->stream_prev, sizeof o->prev);
    if (!ev->has_instance)
        return;
    o->heartbeat_ms = ev->heartbeat_ms;
    int n = snprintf(place, MT_STREAM_PLACE_MAX, "%.*s/%.*s/%.*s %.*s %.*s", (int)ev->cluster.n,
                     ev->cluster.p, (int)ev->namespace_.n, ev->namespace_.p, (int)ev->pod.n,
                     ev->pod.p, (int)ev->host.n, ev->host.p, (int)ev->listen.n, ev->listen.p);
    if (n > 0) {
        o->place = place;
        o->place_len = (size_t)n < MT_STREAM_PLACE_MAX ? (size_t)n : MT_STREAM_PLACE_MAX - 1;
    }
}

mt_err mt_streams_new(mt_streams **out, mt_errbuf *eb)
{
    mt_streams *s = calloc(1, sizeof *s);
    if (!s)
        return mt_fail(eb, MT_ERR_NOMEM, "streams: out of memory");
    mt_strmap_init(&s->ids, sizeof(inst));
    *out = s;
    return MT_OK;
}

void mt_streams_free(mt_streams *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ninst; i++)
        free(s->by_idx[i]->place);
    free(s->by_idx);
    free(s->o);
    mt_strmap_free(&s->ids);
    free(s);
}

mt_err mt_streams_add(mt_streams *s, const mt_stream_obs *o)
{
    if (o->seq < 0)
        return MT_OK; /* never written by a sidecar; the record is judged elsewhere */
    bool created;
    inst *in = mt_strmap_get(&s->ids, o->instance_id, o->instance_len, &created);
    if (!in)
        return MT_ERR_NOMEM;
    if (created) {
        if (s->ninst == s->cap_inst) {
            size_t nc = s->cap_inst ? 2 * s->cap_inst : 16;
            inst **nb = realloc(s->by_idx, nc * sizeof *nb);
            if (!nb)
                return MT_ERR_NOMEM;
            s->by_idx = nb;
            s->cap_inst = nc;
        }
        in->idx = (uint32_t)s->ninst;
        s->by_idx[s->ninst++] = in;
    }
    if (o->kind == MT_REV_KIND_INSTANCE_START && !in->has_start) {
        in->has_start = true;
        in->start_ts_us = o->ts_us;
        in->heartbeat_ms = o->heartbeat_ms;
        if (o->place && !(in->place = strndup(o->place, o->place_len)))
            return MT_ERR_NOMEM;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 1024;
        obs *no = realloc(s->o, nc * sizeof *no);
        if (!no)
            return MT_ERR_NOMEM;
        s->o = no;
        s->cap = nc;
    }
    obs *e = &s->o[s->n++];
    *e = (obs){.inst = in->idx, .kind = (uint8_t)o->kind, .has_prev = o->has_prev,
               .sig = (uint8_t)o->sig,
               .partition = o->partition, .seq = o->seq,
               .session_prev = o->session_prev >= 0 ? o->session_prev : -1,
               .ts_us = o->ts_us, .offset = o->offset};
    memcpy(e->own, o->own, sizeof e->own);
    memcpy(e->prev, o->prev, sizeof e->prev);
    return MT_OK;
}

static int cmp_obs(const void *a, const void *b)
{
    const obs *x = a, *y = b;
    if (x->inst != y->inst)
        return x->inst < y->inst ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return memcmp(x->own, y->own, sizeof x->own);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Number of values of the sorted v[0..n) in [lo, hi]. */
static size_t count_in(const int64_t *v, size_t n, int64_t lo, int64_t hi)
{
    size_t a = 0, b = n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (v[m] < lo)
            a = m + 1;
        else
            b = m;
    }
    size_t k = a;
    while (k < n && v[k] <= hi)
        k++;
    return k - a;
}

static bool present(const obs *o, size_t n, int64_t seq)
{
    size_t a = 0, b = n;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (o[m].seq < seq)
            a = m + 1;
        else
            b = m;
    }
    return a < n && o[a].seq == seq;
}

static void fmt_ts(int64_t us, char *out, size_t cap)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((us / 1000) % 1000));
}

typedef struct judge {
    mt_stream_report_cb cb;
    void *ctx;
    unsigned problems;
} judge;

static void report(judge *j, mt_stream_problem c, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(judge *j, mt_stream_problem c, const char *where, const char *fmt, ...)
{
    char detail[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    j->problems++;
    if (j->cb)
        j->cb(j->ctx, c, where, detail);
}

/* A later instance that started at the same place after ts_us, or NULL. */
static const inst *successor(const mt_streams *s, const inst *in, int64_t ts_us,
                             const char **id_out)
{
    const inst *best = NULL;
    for (size_t i = 0; in->place && i < s->ninst; i++) {
        const inst *o = s->by_idx[i];
        if (o == in || !o->has_start || !o->place || strcmp(o->place, in->place) != 0 ||
            o->start_ts_us < ts_us)
            continue;
        if (!best || o->start_ts_us < best->start_ts_us)
            best = o;
    }
    if (best)
        *id_out = mt_strmap_key(&s->ids, best, NULL);
    return best;
}

static void check_gap(judge *j, const char *id, int64_t lo, int64_t hi, const int64_t *refs,
                      size_t nrefs, const char *after)
{
    char where[160];
    snprintf(where, sizeof where, "stream %s seq %" PRId64 "..%" PRId64, id, lo, hi);
    size_t linked = count_in(refs, nrefs, lo, hi);
    if (linked)
        report(j, MT_SP_EVENT_MISSING, where, "%" PRId64 " event(s) missing %s; %zu of them "
               "belong to sessions that have surviving events (their later events link to "
               "them)", hi - lo + 1, after, linked);
    else
        report(j, MT_SP_SESSION_MISSING, where, "%" PRId64 " event(s) missing %s and no "
               "surviving event links to them: whole sessions (or the ends of sessions) are "
               "gone", hi - lo + 1, after);
}

void mt_streams_check(mt_streams *s, int64_t coverage_end_ms, mt_stream_report_cb cb,
                      mt_stream_instance_cb icb, void *ctx, mt_streams_summary *sum)
{
    judge j = {cb, ctx, 0};
    memset(sum, 0, sizeof *sum);
    sum->instances = s->ninst;
    if (s->n)
        qsort(s->o, s->n, sizeof *s->o, cmp_obs);
    /* instances in the order they were first added (deterministic for an archive) */
    for (size_t a = 0, b; a < s->n; a = b) {
        uint32_t ix = s->o[a].inst;
        for (b = a; b < s->n && s->o[b].inst == ix;)
            b++;
        const inst *in = s->by_idx[ix];
        const char *id = mt_strmap_key(&s->ids, in, NULL);
        /* dedupe in place: o[0..n) then holds one observation per seq */
        obs *o = s->o + a;
        size_t n = 0;
        unsigned before = j.problems;
        char where[160], ts1[64], ts2[64];
        for (size_t k = 0; k < b - a; k++) {
            if (n && o[n - 1].seq == o[k].seq) {
                if (memcmp(o[n - 1].own, o[k].own, sizeof o[k].own) != 0) {
                    snprintf(where, sizeof where, "stream %s seq %" PRId64, id, o[k].seq);
                    report(&j, MT_SP_FORK, where, "two different events claim this position "
                           "(partition %" PRId32 " offset %" PRId64 " and partition %" PRId32
                           " offset %" PRId64 ")", o[n - 1].partition, o[n - 1].offset,
                           o[k].partition, o[k].offset);
                }
                continue;
            }
            o[n++] = o[k];
        }
        sum->events += n;
        /* seqs named by session_prev but absent */
        int64_t *refs = malloc((n ? n : 1) * sizeof *refs);
        size_t nrefs = 0;
        for (size_t k = 0; refs && k < n; k++)
            if (o[k].session_prev >= 0 && !present(o, n, o[k].session_prev))
                refs[nrefs++] = o[k].session_prev;
        if (refs)
            qsort(refs, nrefs, sizeof *refs, cmp_i64);
        if (o[0].seq > 0)
            check_gap(&j, id, 0, o[0].seq - 1, refs, nrefs, "at the start of the instance");
        for (size_t k = 1; k < n; k++) {
            if (o[k].seq > o[k - 1].seq + 1) {
                char after[64];
                snprintf(after, sizeof after, "after seq %" PRId64, o[k - 1].seq);
                check_gap(&j, id, o[k - 1].seq + 1, o[k].seq - 1, refs, nrefs, after);
            } else if (!o[k].has_prev || memcmp(o[k].prev, o[k - 1].own, sizeof o[k].prev)) {
                snprintf(where, sizeof where, "stream %s seq %" PRId64, id, o[k].seq);
                report(&j, MT_SP_CHAIN_BREAK, where, "prev_hash does not name the event at seq "
                       "%" PRId64 " (partition %" PRId32 " offset %" PRId64 "): an event was "
                       "altered or replaced before it was archived", o[k - 1].seq,
                       o[k].partition, o[k].offset);
            }
        }
        free(refs);
        /* signatures: each checkpoint vouches for every earlier event (the chain) */
        int64_t signed_seq = -1;
        if (s->judge_sigs) {
            size_t bad = 0;
            int64_t first_bad = -1;
            for (size_t k = 0; k < n; k++) {
                if (o[k].sig == MT_STREAM_SIG_VALID)
                    signed_seq = o[k].seq;
                else if (o[k].sig != MT_STREAM_SIG_NONE && bad++ == 0)
                    first_bad = o[k].seq;
            }
            snprintf(where, sizeof where, "stream %s", id);
            if (bad)
                report(&j, MT_SP_SIGNATURE, where, "%zu checkpoint(s), the first at seq %" PRId64
                       ", do not verify under the given sidecar keys (bad signature or unknown "
                       "key): events were forged or re-signed", bad, first_bad);
            if (signed_seq < 0)
                report(&j, MT_SP_UNSIGNED, where, "no checkpoint of its %zu events verifies "
                       "under the given sidecar keys: nothing vouches that its sidecar wrote "
                       "them", n);
            else if (o[n - 1].kind == MT_REV_KIND_INSTANCE_STOP && signed_seq != o[n - 1].seq)
                report(&j, MT_SP_UNSIGNED, where, "its instance_stop (seq %" PRId64 ") is not "
                       "signed: events after seq %" PRId64 " are not vouched for",
                       o[n - 1].seq, signed_seq);
        }
        /* the tail */
        const obs *last = &o[n - 1];
        int64_t hb = in->has_start && in->heartbeat_ms > 0 ? in->heartbeat_ms
                                                           : MT_STREAM_DEFAULT_HEARTBEAT_MS;
        int64_t window = 2 * hb + MT_STREAM_SLACK_MS;
        int64_t last_ms = last->ts_us / 1000;
        fmt_ts(last->ts_us, ts1, sizeof ts1);
        const char *state = "live";
        const char *next_id = NULL;
        const inst *next = NULL;
        snprintf(where, sizeof where, "stream %s", id);
        if (last->kind == MT_REV_KIND_INSTANCE_STOP) {
            state = "stopped cleanly";
            sum->stopped++;
        } else if ((next = successor(s, in, last->ts_us, &next_id)) != NULL) {
            fmt_ts(next->start_ts_us, ts2, sizeof ts2);
            report(&j, MT_SP_UNCLEAN_STOP, where, "no instance_stop after seq %" PRId64 " (%s); "
                   "instance %s started at the same place (%s) at %s: the process ended "
                   "without a clean stop (crash, kill -9), events it had not handed on are "
                   "lost", last->seq, ts1, next_id, in->place, ts2);
            state = "unclean stop";
            sum->unclean++;
        } else if (coverage_end_ms > 0 && coverage_end_ms - last_ms > window) {
            if (n == 1 && last->kind == MT_REV_KIND_INSTANCE_START && last->seq == 0)
                report(&j, MT_SP_INSTANCE_MISSING, where, "only its instance_start (%s) is in "
                       "the archive, which covers %" PRId64 " ms past it; a running instance "
                       "records at least every %" PRId64 " ms: everything after its start is "
                       "missing", ts1, coverage_end_ms - last_ms, 2 * hb);
            else
                report(&j, MT_SP_TAIL_MISSING, where, "last event seq %" PRId64 " at %s, no "
                       "instance_stop, and nothing for %" PRId64 " ms before the end of the "
                       "archive (a running instance records at least every %" PRId64 " ms): "
                       "its tail is missing", last->seq, ts1, coverage_end_ms - last_ms, 2 * hb);
            state = "tail missing";
        } else {
            sum->live++;
        }
        if (icb) {
            mt_stream_instance si = {id, in->place, o[0].seq, last->seq, n, o[0].ts_us,
                                     last->ts_us, state, j.problems - before, signed_seq};
            icb(ctx, &si);
        }
    }
}
