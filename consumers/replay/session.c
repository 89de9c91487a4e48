/* Session reconstruction (see replay.h) and the terminal / JSON Lines
 * renderers of `show` and `play`. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "replay.h"

typedef struct collect_ctx {
    mt_replay_set *set;
    uint64_t fp, vote_fp, decision_fp;
    mt_err err;
} collect_ctx;

static mt_replay_session *find_session(mt_replay_set *set, mt_sv id)
{
    /* a handful of sessions per export: linear search is fine */
    for (size_t i = 0; i < set->n; i++)
        if (strlen(set->s[i].id) == id.n && memcmp(set->s[i].id, id.p, id.n) == 0)
            return &set->s[i];
    return NULL;
}

static uint64_t fp_of(const uint8_t *v, size_t len)
{
    uint64_t fp = 0;
    if (len < 10 || v[0] != 0xC3 || v[1] != 0x01)
        return 0;
    for (int i = 0; i < 8; i++)
        fp |= (uint64_t)v[2 + i] << (8 * i);
    return fp;
}

static int on_record(const mt_replay_rec *r, void *vctx)
{
    collect_ctx *c = vctx;
    mt_rev ev;
    mt_err err = mt_rev_parse(r->value, r->len, c->fp, &ev);
    if (err == MT_ERR_UNKNOWN_SCHEMA) {
        uint64_t fp = fp_of(r->value, r->len);
        if (fp && (fp == c->vote_fp || fp == c->decision_fp)) {
            mt_replay_set *set = c->set;
            uint8_t **nv = realloc(set->approvals, (set->napprovals + 1) * sizeof *nv);
            size_t *nl = nv ? realloc(set->approval_len, (set->napprovals + 1) * sizeof *nl)
                            : NULL;
            if (nv)
                set->approvals = nv;
            if (!nv || !nl)
                return c->err = MT_ERR_NOMEM, 1;
            set->approval_len = nl;
            if (!(nv[set->napprovals] = malloc(r->len)))
                return c->err = MT_ERR_NOMEM, 1;
            memcpy(nv[set->napprovals], r->value, r->len);
            nl[set->napprovals++] = r->len;
        }
        return 0;
    }
    if (err) {
        c->set->bad_records++;
        return 0;
    }
    mt_replay_session *s = find_session(c->set, ev.session_id);
    if (!s)
        return 0;
    if (mt_array_reserve((void **)&s->ev, &s->cap, s->n + 1, sizeof *s->ev, 64))
        return c->err = MT_ERR_NOMEM, 1;
    mt_replay_event *e = &s->ev[s->n];
    if (!(e->value = malloc(r->len)))
        return c->err = MT_ERR_NOMEM, 1;
    memcpy(e->value, r->value, r->len);
    e->len = r->len;
    e->seg = r->seg;
    e->partition = r->partition;
    e->offset = r->offset;
    /* re-parse on the copy so the views point into memory we own */
    mt_rev_parse(e->value, e->len, c->fp, &e->rev);
    s->n++;
    return 0;
}

static int cmp_event(const void *a, const void *b)
{
    const mt_replay_event *x = a, *y = b;
    if (x->rev.seq != y->rev.seq)
        return x->rev.seq < y->rev.seq ? -1 : 1;
    size_t n = x->rev.event_id.n < y->rev.event_id.n ? x->rev.event_id.n : y->rev.event_id.n;
    int c = memcmp(x->rev.event_id.p, y->rev.event_id.p, n);
    if (c)
        return c;
    if (x->rev.event_id.n != y->rev.event_id.n)
        return x->rev.event_id.n < y->rev.event_id.n ? -1 : 1;
    /* same event: keep the first archived copy first */
    if (x->partition != y->partition)
        return x->partition < y->partition ? -1 : 1;
    return x->offset < y->offset ? -1 : (x->offset > y->offset);
}

static bool same_id(const mt_replay_event *a, const mt_replay_event *b)
{
    return a->rev.event_id.n == b->rev.event_id.n &&
           memcmp(a->rev.event_id.p, b->rev.event_id.p, a->rev.event_id.n) == 0;
}

static mt_err add_dup(mt_replay_session *s, const mt_replay_event *e, bool conflict)
{
    if (!conflict && s->ndups && s->dups[s->ndups - 1].seq == e->rev.seq &&
        !s->dups[s->ndups - 1].conflict &&
        strlen(s->dups[s->ndups - 1].event_id) == e->rev.event_id.n &&
        memcmp(s->dups[s->ndups - 1].event_id, e->rev.event_id.p, e->rev.event_id.n) == 0) {
        s->dups[s->ndups - 1].dropped++;
        return MT_OK;
    }
    mt_replay_dup *nv = realloc(s->dups, (s->ndups + 1) * sizeof *nv);
    if (!nv)
        return MT_ERR_NOMEM;
    s->dups = nv;
    mt_replay_dup *d = &s->dups[s->ndups++];
    d->event_id = strndup(e->rev.event_id.p, e->rev.event_id.n);
    d->seq = e->rev.seq;
    d->dropped = conflict ? 0 : 1;
    d->conflict = conflict;
    return d->event_id ? MT_OK : MT_ERR_NOMEM;
}

static mt_err add_gap(mt_replay_session *s, int64_t from, int64_t to)
{
    mt_replay_gap *nv = realloc(s->gaps, (s->ngaps + 1) * sizeof *nv);
    if (!nv)
        return MT_ERR_NOMEM;
    s->gaps = nv;
    s->gaps[s->ngaps++] = (mt_replay_gap){from, to, NULL};
    return MT_OK;
}

/* Sort by (seq, event_id, position); drop repeated event_ids; a second
 * event_id on a seq is kept (both are shown) and reported as a conflict. */
static mt_err finish_session(mt_replay_session *s)
{
    if (s->n == 0)
        return MT_OK;
    qsort(s->ev, s->n, sizeof *s->ev, cmp_event);
    size_t k = 0;
    mt_err err = MT_OK;
    for (size_t i = 0; i < s->n && !err; i++) {
        mt_replay_event *e = &s->ev[i];
        bool dup = false;
        /* an event_id may repeat on another seq only if a record is corrupt;
         * duplicates from retries share the seq, so look back over this seq */
        for (size_t j = k; j-- > 0 && s->ev[j].rev.seq == e->rev.seq;)
            if (same_id(&s->ev[j], e)) {
                dup = true;
                break;
            }
        if (dup) {
            s->dropped++;
            err = add_dup(s, e, false);
            free(e->value);
            continue;
        }
        if (k > 0 && s->ev[k - 1].rev.seq == e->rev.seq)
            err = add_dup(s, e, true);
        if (k != i) {
            s->ev[k] = *e;
        }
        k++;
    }
    s->n = k;
    mt_seq_walk w = {0};
    for (size_t i = 0; i < s->n && !err; i++) {
        mt_replay_gap g;
        if (mt_seq_walk_next(&w, s->ev[i].rev.seq, &g))
            err = add_gap(s, g.from_seq, g.to_seq);
        if (s->ev[i].rev.kind == 10)
            s->has_end = true;
    }
    return err;
}

mt_err mt_replay_collect(mt_replay_source *src, const mt_avro_registry *reg,
                         const char *const *ids, size_t nids, mt_replay_set *set,
                         mt_errbuf *eb)
{
    memset(set, 0, sizeof *set);
    const mt_avro_schema *ev = mt_avro_registry_find(reg, "dev.mcptrail.SessionEvent");
    const mt_avro_schema *vote = mt_avro_registry_find(reg, "dev.mcptrail.ApprovalVote");
    const mt_avro_schema *dec = mt_avro_registry_find(reg, "dev.mcptrail.ApprovalDecision");
    if (!ev)
        return mt_fail(eb, MT_ERR_NOT_FOUND, "schema dev.mcptrail.SessionEvent not loaded");
    set->s = calloc(nids ? nids : 1, sizeof *set->s);
    if (!set->s)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nids; i++) {
        if (!(set->s[i].id = strdup(ids[i])))
            return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        set->n++;
    }
    collect_ctx c = {set, mt_avro_schema_fingerprint(ev),
                     vote ? mt_avro_schema_fingerprint(vote) : 0,
                     dec ? mt_avro_schema_fingerprint(dec) : 0, MT_OK};
    mt_err err = mt_replay_scan(src, on_record, &c, eb);
    if (err == MT_ERR_STATE)
        err = mt_fail(eb, c.err ? c.err : MT_ERR_NOMEM, "out of memory collecting sessions");
    for (size_t i = 0; i < set->n && !err; i++)
        if (finish_session(&set->s[i]))
            err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    return err;
}

/* Time order across recorded sessions; within one instance the stream
 * decides ties; within one recorded session its seq. */
static int cmp_time(const void *a, const void *b)
{
    const mt_replay_event *x = a, *y = b;
    if (x->rev.ts_us != y->rev.ts_us)
        return x->rev.ts_us < y->rev.ts_us ? -1 : 1;
    if (x->rev.instance_id.p && y->rev.instance_id.p && x->rev.instance_id.n == y->rev.instance_id.n &&
        memcmp(x->rev.instance_id.p, y->rev.instance_id.p, x->rev.instance_id.n) == 0 &&
        x->rev.stream_seq != y->rev.stream_seq)
        return x->rev.stream_seq < y->rev.stream_seq ? -1 : 1;
    if (x->rev.session_id.n == y->rev.session_id.n &&
        memcmp(x->rev.session_id.p, y->rev.session_id.p, x->rev.session_id.n) == 0 &&
        x->rev.seq != y->rev.seq)
        return x->rev.seq < y->rev.seq ? -1 : 1;
    return cmp_event(a, b);
}

static void session_free(mt_replay_session *s)
{
    for (size_t j = 0; j < s->n; j++)
        free(s->ev[j].value);
    for (size_t j = 0; j < s->ndups; j++)
        free(s->dups[j].event_id);
    for (size_t j = 0; j < s->ngaps; j++)
        free(s->gaps[j].session);
    free(s->ev);
    free(s->gaps);
    free(s->dups);
    free(s->id);
}

mt_err mt_replay_set_group(mt_replay_set *set, const mt_replay_group *g, size_t ng)
{
    mt_replay_session *out = calloc(ng ? ng : 1, sizeof *out);
    if (!out)
        return MT_ERR_NOMEM;
    mt_err err = MT_OK;
    for (size_t k = 0; k < ng && !err; k++) {
        mt_replay_session *l = &out[k];
        l->kind = g[k].kind;
        l->nmembers = g[k].n;
        if (!(l->id = strdup(g[k].id))) {
            err = MT_ERR_NOMEM;
            break;
        }
        for (size_t i = g[k].first; i < g[k].first + g[k].n && !err; i++) {
            mt_replay_session *m = &set->s[i];
            if (mt_array_reserve((void **)&l->ev, &l->cap, l->n + m->n, sizeof *l->ev, 64) ||
                (m->ngaps && !(l->gaps = realloc(l->gaps, (l->ngaps + m->ngaps) * sizeof *l->gaps))) ||
                (m->ndups && !(l->dups = realloc(l->dups, (l->ndups + m->ndups) * sizeof *l->dups)))) {
                err = MT_ERR_NOMEM;
                break;
            }
            if (m->n)
                memcpy(l->ev + l->n, m->ev, m->n * sizeof *m->ev);
            l->n += m->n;
            m->n = 0; /* the values moved */
            for (size_t j = 0; j < m->ngaps; j++) {
                l->gaps[l->ngaps] = m->gaps[j];
                if (g[k].n > 1 && !l->gaps[l->ngaps].session)
                    l->gaps[l->ngaps].session = strdup(m->id);
                m->gaps[j].session = NULL;
                l->ngaps++;
            }
            if (m->ndups)
                memcpy(l->dups + l->ndups, m->dups, m->ndups * sizeof *m->dups);
            l->ndups += m->ndups;
            m->ndups = 0;
            l->dropped += m->dropped;
            l->has_end |= m->has_end;
        }
        if (l->n > 1 && g[k].n > 1)
            qsort(l->ev, l->n, sizeof *l->ev, cmp_time);
    }
    for (size_t i = 0; i < set->n; i++)
        session_free(&set->s[i]);
    free(set->s);
    set->s = out;
    set->n = ng;
    return err;
}

void mt_replay_set_free(mt_replay_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        session_free(&set->s[i]);
    free(set->s);
    for (size_t i = 0; i < set->napprovals; i++)
        free(set->approvals[i]);
    free(set->approvals);
    free(set->approval_len);
    memset(set, 0, sizeof *set);
}

void mt_fmt_time_us(int64_t us, char *out, size_t n)
{
    time_t sec = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    int64_t frac = us - (int64_t)sec * 1000000;
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%06" PRId64 "Z", base, frac);
}

#define RED "\033[1;31m"
#define YEL "\033[33m"
#define GRN "\033[32m"
#define CYN "\033[36m"
#define DIM "\033[2m"
#define BLD "\033[1m"
#define RST "\033[0m"

void mt_replay_print_problems(FILE *out, const mt_replay_session *s, bool color)
{
    const char *r = color ? RED : "", *z = color ? RST : "";
    for (size_t i = 0; i < s->ngaps; i++)
        fprintf(out, "%sGAP: session %s: seq %" PRId64 "..%" PRId64 " missing (%" PRId64
                " event%s)%s\n",
                r, s->gaps[i].session ? s->gaps[i].session : s->id, s->gaps[i].from_seq,
                s->gaps[i].to_seq,
                s->gaps[i].to_seq - s->gaps[i].from_seq + 1,
                s->gaps[i].to_seq == s->gaps[i].from_seq ? "" : "s", z);
    for (size_t i = 0; i < s->ndups; i++) {
        if (s->dups[i].conflict)
            fprintf(out, "%sCONFLICT: session %s: seq %" PRId64 " carried by a second event_id %s%s\n",
                    r, s->id, s->dups[i].seq, s->dups[i].event_id, z);
        else
            fprintf(out, "DUPLICATE: session %s: event_id %s (seq %" PRId64 ") %u extra cop%s dropped\n",
                    s->id, s->dups[i].event_id, s->dups[i].seq, s->dups[i].dropped,
                    s->dups[i].dropped == 1 ? "y" : "ies");
    }
}

static void put_sv(FILE *out, mt_sv v)
{
    if (v.p)
        fwrite(v.p, 1, v.n, out);
    else
        fputs("-", out);
}

static const char *kind_color(int kind)
{
    switch (kind) {
    case 1:
        return CYN;
    case 2:
        return GRN;
    case 5:
    case 6:
    case 9:
        return RED;
    case 7:
    case 8:
        return YEL;
    default:
        return DIM;
    }
}

/* Pretty JSON of the masked payload, indented by 4; raw text if not JSON. */
static void print_payload(FILE *out, mt_sv p)
{
    mt_buf b = {0};
    fputs("    ", out);
    if (mt_json_reindent(p.p, p.n, "    ", &b) == MT_OK)
        fwrite(b.data, 1, b.len, out);
    else
        fwrite(p.p, 1, p.n, out);
    fputc('\n', out);
    mt_buf_free(&b);
}

mt_err mt_replay_print_event(FILE *out, const mt_render_opts *o, const mt_replay_session *s,
                             size_t i, mt_errbuf *eb)
{
    (void)eb;
    const mt_rev *e = &s->ev[i].rev;
    const char *c = o->color ? kind_color(e->kind) : "", *z = o->color ? RST : "";
    const char *d = o->color ? DIM : "";
    char t[40];
    mt_fmt_time_us(e->ts_us, t, sizeof t);
    double rel = (double)(e->ts_us - s->ev[0].rev.ts_us) / 1e6;
    if (i > 0 && s->ev[i - 1].rev.seq + 1 < e->seq)
        fprintf(out, "%s!!! GAP: seq %" PRId64 "..%" PRId64 " missing !!!%s\n",
                o->color ? RED : "", s->ev[i - 1].rev.seq + 1, e->seq - 1, z);
    fprintf(out, "%s%s +%.6fs%s #%" PRId64 " %s%-18s%s %s", d, t, rel, z, e->seq, c,
            mt_rev_kind_names[e->kind], z, mt_rev_direction_names[e->direction]);
    if (e->http_method.p) {
        fputs("  ", out);
        put_sv(out, e->http_method);
        fputc(' ', out);
        put_sv(out, e->http_path);
    }
    if (e->http_status >= 0)
        fprintf(out, " -> %" PRId64, e->http_status);
    if (e->rpc_method.p) {
        fputs("  ", out);
        put_sv(out, e->rpc_method);
    }
    if (e->tool.p) {
        fputs(" tool=", out);
        put_sv(out, e->tool);
    }
    if (e->rpc_id.p) {
        fputs(" id=", out);
        put_sv(out, e->rpc_id);
    }
    if (e->is_error)
        fprintf(out, " %sERROR%s", o->color ? RED : "", z);
    if (e->latency_us >= 0)
        fprintf(out, " latency=%.3fms", (double)e->latency_us / 1000.0);
    fputc('\n', out);
    if (e->policy_action >= 0) {
        fprintf(out, "    policy: %s (rule ", mt_rev_policy_names[e->policy_action]);
        put_sv(out, e->rule_id);
        fputs(")\n", out);
    }
    if (e->approval_id.p) {
        fputs("    approval: ", out);
        put_sv(out, e->approval_id);
        fprintf(out, " %s, %u approver%s\n",
                e->decision >= 0 ? mt_rev_decision_names[e->decision] : "pending",
                e->napprovers, e->napprovers == 1 ? "" : "s");
    }
    if (e->justification.p) {
        fputs("    justification: ", out);
        put_sv(out, e->justification);
        fputc('\n', out);
    }
    if (e->mask_total)
        fprintf(out, "    masked: %" PRId64 " value%s\n", e->mask_total,
                e->mask_total == 1 ? "" : "s");
    if (e->payload.p)
        print_payload(out, e->payload);
    return MT_OK;
}

mt_err mt_replay_print_text(FILE *out, const mt_render_opts *o, const mt_replay_session *s,
                            mt_errbuf *eb)
{
    const char *b = o->color ? BLD : "", *z = o->color ? RST : "";
    fprintf(out, "%ssession %s%s: %zu events", b, s->id, z, s->n);
    if (s->dropped)
        fprintf(out, ", %" PRIu64 " duplicate record%s dropped", s->dropped,
                s->dropped == 1 ? "" : "s");
    if (o->src)
        fprintf(out, ", source %s", mt_replay_integrity_name(o->src->integrity));
    fputc('\n', out);
    if (s->n) {
        const mt_rev *e = NULL;
        for (size_t i = 0; i < s->n && !e; i++)
            if (s->ev[i].rev.subject.p)
                e = &s->ev[i].rev;
        if (e) {
            fputs("identity: ", out);
            put_sv(out, e->subject);
            fputs(" (", out);
            put_sv(out, e->issuer);
            fputs(", ", out);
            put_sv(out, e->auth_method);
            fputs(")", out);
            if (e->has_ci) {
                fputs("  ci: ", out);
                put_sv(out, e->repository);
                fputs(" / ", out);
                put_sv(out, e->workflow);
                fputs(" run ", out);
                put_sv(out, e->run_id);
                fputs(" by ", out);
                put_sv(out, e->actor);
            }
            fputc('\n', out);
        }
    }
    if (s->kind && strcmp(s->kind, "recorded") != 0) {
        /* the sidecar instances (streams) the events came from (version 1
         * sessions have none and print as they always did) */
        const char *seen[8];
        size_t ns = 0;
        bool more = false;
        for (size_t i = 0; i < s->n; i++) {
            const mt_rev *e = &s->ev[i].rev;
            if (!e->instance_id.p)
                continue;
            size_t k = 0;
            while (k < ns && strncmp(seen[k], e->instance_id.p, e->instance_id.n) != 0)
                k++;
            if (k < ns)
                continue;
            if (ns == 8)
                more = true;
            else
                seen[ns++] = e->instance_id.p;
        }
        fprintf(out, "logical session: %s, %zu recorded session%s", s->kind, s->nmembers,
                s->nmembers == 1 ? "" : "s");
        if (ns) {
            fputs(", streams:", out);
            for (size_t k = 0; k < ns; k++)
                fprintf(out, " %.36s", seen[k]);
            if (more)
                fputs(" ...", out);
        }
        fputc('\n', out);
    }
    mt_replay_print_problems(out, s, o->color);
    bool one_shot = s->kind && strcmp(s->kind, "mcp") != 0 && strcmp(s->kind, "recorded") != 0;
    if (s->n && !s->has_end && !one_shot)
        fprintf(out, "note: no session_end event (session still open, or its tail is missing)\n");
    for (size_t i = 0; i < s->n; i++) {
        mt_err err = mt_replay_print_event(out, o, s, i, eb);
        if (err)
            return err;
    }
    return MT_OK;
}

mt_err mt_replay_print_jsonl(FILE *out, const mt_render_opts *o, const mt_replay_session *s,
                             mt_errbuf *eb)
{
    const mt_avro_schema *sch = mt_avro_registry_find(o->reg, "dev.mcptrail.SessionEvent");
    if (!sch)
        return mt_fail(eb, MT_ERR_NOT_FOUND, "schema dev.mcptrail.SessionEvent not loaded");
    uint64_t fp = mt_avro_schema_fingerprint(sch);
    mt_buf b = {0};
    mt_err err = MT_OK;
    for (size_t i = 0; i < s->n && !err; i++) {
        b.len = 0;
        err = mt_rev_write_json(s->ev[i].value, s->ev[i].len, fp, &b);
        if (err) {
            mt_fail(eb, err, "session %s seq %" PRId64 ": event does not decode", s->id,
                    s->ev[i].rev.seq);
            break;
        }
        mt_buf_append_byte(&b, '\n');
        fwrite(b.data, 1, b.len, out);
    }
    mt_buf_free(&b);
    return err;
}
