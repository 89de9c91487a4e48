/* `report`: the FFIEC evidence summary of a time range (docs/evidence.md maps
 * each control to its sections). One pass over the source: the summary
 * decoder for every event, a full decode only for events with a mask summary
 * or an approval (their detail lists). Every section is a table, rendered as
 * Markdown, HTML (same strict CSP as export) or CSV (first column: section). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/archive.h"
#include "mcptrail/crypto.h"
#include "mcptrail/strmap.h"
#include "replay.h"

/* ---- small string -> counters map ------------------------------------------ */

typedef struct cnt {
    const char *key; /* the map's copy of the key */
    uint64_t a, b;   /* meaning per map (sessions/events, count) */
} cnt;

typedef mt_strmap cmap;

static cnt *cmap_get(cmap *m, const char *k, size_t kn, bool *created)
{
    bool fresh = false;
    cnt *c = mt_strmap_get(m, k, kn, &fresh);
    if (c && fresh)
        c->key = mt_strmap_key(m, c, NULL);
    if (created)
        *created = fresh;
    return c;
}

static int cmp_cnt(const void *x, const void *y)
{
    const cnt *a = *(const cnt *const *)x, *b = *(const cnt *const *)y;
    return strcmp(a->key, b->key);
}

static cnt **cmap_sorted(const cmap *m)
{
    cnt **v = calloc(m->n ? m->n : 1, sizeof *v);
    size_t k = 0, it = 0;
    void *val;
    while (v && mt_strmap_next(m, &it, &val))
        v[k++] = val;
    if (v && k)
        qsort(v, k, sizeof *v, cmp_cnt);
    return v;
}

/* ---- rows of detail tables ------------------------------------------------- */

typedef struct row {
    char *c[8];
} row;

typedef struct rows {
    row *v;
    size_t n;
} rows;

static row *rows_add(rows *r)
{
    row *nv = realloc(r->v, (r->n + 1) * sizeof *nv);
    if (!nv)
        return NULL;
    r->v = nv;
    memset(&r->v[r->n], 0, sizeof(row));
    return &r->v[r->n++];
}

static void rows_free(rows *r)
{
    for (size_t i = 0; i < r->n; i++)
        for (int k = 0; k < 8; k++)
            free(r->v[i].c[k]);
    free(r->v);
}

static char *sv_dup(mt_sv v)
{
    return v.p ? strndup(v.p, v.n) : strdup("-");
}

/* Every (seq, event_id hash) of one session, for the gaps section: a
 * session's gaps are judged over all its records, not only those in the
 * period (a seq before the period is not missing). */
typedef struct seqent {
    int64_t seq;
    uint64_t idh;
} seqent;

typedef struct seqlist {
    const char *session; /* owned by the seq_index map */
    seqent *v;
    size_t n, cap;
    bool in_period;
    uint64_t missing, conflicts; /* set by seq_problems */
} seqlist;

typedef struct rctx {
    const mt_avro_registry *reg;
    uint64_t fp;
    int64_t from, to;
    cmap sessions;   /* session id -> a: events */
    cmap by_repo;    /* "repo / workflow" -> a: sessions, b: events */
    cmap by_subject; /* subject -> a: sessions, b: events */
    cmap event_ids;  /* duplicates dropped as in show */
    cmap pairs;      /* group + session seen */
    cmap masks;      /* "detector\taction" -> a: count */
    cmap decisions;  /* approval_id -> a: index+1 into decided rows */
    cmap seq_index;  /* session id -> a: index+1 into seqs */
    seqlist *seqs;
    size_t nseqs, seqs_cap;
    rows privileged, denied, decided;
    mt_streams *streams;   /* every stream of the source, judged whole */
    mt_replay_index *ix;   /* logical sessions of the period's events */
    int64_t newest_us;     /* the source's newest event: the end of what it covers */
    rows stream_rows, stream_problems;
    uint64_t duplicates;
    uint64_t events, masked_values, auth_failed, errors;
    mt_err err;
} rctx;

/* A session counts once in every group it has events in. */
static void add_group(rctx *c, cmap *m, const char *k, size_t kn, mt_sv session)
{
    cnt *g = cmap_get(m, k, kn, NULL);
    char pair[768];
    int pn = snprintf(pair, sizeof pair, "%p\x1f%.*s\x1f%.*s", (void *)m, (int)kn, k,
                      (int)session.n, session.p);
    bool created = false;
    if (!g || pn < 0 ||
        !cmap_get(&c->pairs, pair, (size_t)pn < sizeof pair ? (size_t)pn : sizeof pair - 1,
                  &created)) {
        c->err = MT_ERR_NOMEM;
        return;
    }
    g->a += created;
    g->b++;
}

static seqlist *seqs_of(rctx *c, mt_sv session)
{
    bool created = false;
    cnt *k = cmap_get(&c->seq_index, session.p, session.n, &created);
    if (!k)
        return NULL;
    if (created) {
        if (mt_array_reserve((void **)&c->seqs, &c->seqs_cap, c->nseqs + 1, sizeof *c->seqs,
                             256))
            return NULL;
        c->seqs[c->nseqs] = (seqlist){.session = k->key};
        k->a = ++c->nseqs;
    }
    return &c->seqs[k->a - 1];
}

static int on_record(const mt_replay_rec *r, void *vctx)
{
    rctx *c = vctx;
    mt_rev e;
    if (mt_rev_parse(r->value, r->len, c->fp, &e))
        return 0;
    if (e.ts_us > c->newest_us)
        c->newest_us = e.ts_us;
    if (e.stream_seq >= 0) {
        uint8_t h[MT_SHA256_LEN];
        char place[MT_STREAM_PLACE_MAX];
        mt_stream_obs o;
        mt_sha256(r->value, r->len, h);
        mt_stream_obs_of(&e, h, place, &o);
        o.partition = r->partition;
        o.offset = r->offset;
        if (mt_streams_add(c->streams, &o))
            return c->err = MT_ERR_NOMEM, 1;
    }
    seqlist *sl = seqs_of(c, e.session_id);
    if (!sl)
        return c->err = MT_ERR_NOMEM, 1;
    if (mt_array_reserve((void **)&sl->v, &sl->cap, sl->n + 1, sizeof *sl->v, 16))
        return c->err = MT_ERR_NOMEM, 1;
    sl->v[sl->n++] = (seqent){e.seq, mt_strmap_hash(e.event_id.p, e.event_id.n)};
    if (e.ts_us < c->from || e.ts_us > c->to)
        return 0;
    sl->in_period = true;
    bool fresh = false;
    if (!cmap_get(&c->event_ids, e.event_id.p, e.event_id.n, &fresh))
        return c->err = MT_ERR_NOMEM, 1;
    if (!fresh) { /* a re-sent record (at-least-once): counted once */
        c->duplicates++;
        return 0;
    }
    c->events++;
    if (mt_replay_index_add(c->ix, &e))
        return c->err = MT_ERR_NOMEM, 1;
    /* the instance's own events belong to its stream, not to a session */
    if (e.kind == MT_REV_KIND_HEARTBEAT || e.kind == MT_REV_KIND_INSTANCE_START ||
        e.kind == MT_REV_KIND_INSTANCE_STOP)
        return 0;
    cnt *s = cmap_get(&c->sessions, e.session_id.p, e.session_id.n, NULL);
    if (!s)
        return c->err = MT_ERR_NOMEM, 1;
    s->a++;
    char key[512];
    int kn = snprintf(key, sizeof key, "%.*s / %.*s", e.repository.p ? (int)e.repository.n : 1,
                      e.repository.p ? e.repository.p : "-",
                      e.workflow.p ? (int)e.workflow.n : 1, e.workflow.p ? e.workflow.p : "-");
    add_group(c, &c->by_repo, key, (size_t)kn < sizeof key ? (size_t)kn : sizeof key - 1,
              e.session_id);
    add_group(c, &c->by_subject, e.subject.p ? e.subject.p : "-",
              e.subject.p ? e.subject.n : 1, e.session_id);
    if (e.kind == 9)
        c->auth_failed++;
    if (e.is_error)
        c->errors++;
    char t[40];
    mt_fmt_time_us(e.ts_us, t, sizeof t);
    if (e.kind == 1 && e.policy_action == 2) {
        row *w = rows_add(&c->privileged);
        if (!w)
            return c->err = MT_ERR_NOMEM, 1;
        w->c[0] = strdup(t);
        w->c[1] = sv_dup(e.session_id);
        w->c[2] = sv_dup(e.subject);
        w->c[3] = sv_dup(e.tool);
        w->c[4] = sv_dup(e.rule_id);
        w->c[5] = sv_dup(e.approval_id);
        w->c[6] = sv_dup(e.justification);
    }
    if (e.kind == 6 || (e.kind == 1 && e.policy_action == 1)) {
        row *w = rows_add(&c->denied);
        if (!w)
            return c->err = MT_ERR_NOMEM, 1;
        w->c[0] = strdup(t);
        w->c[1] = sv_dup(e.session_id);
        w->c[2] = sv_dup(e.subject);
        w->c[3] = sv_dup(e.tool);
        w->c[4] = sv_dup(e.rule_id);
        w->c[5] = strdup(mt_rev_kind_names[e.kind]);
    }
    if (e.mask_entries || (e.approval_id.p && e.decision >= 0)) {
        json_t *d = NULL;
        if (mt_avro_decode(c->reg, r->value, r->len, NULL, &d, NULL) == MT_OK) {
            size_t i;
            json_t *m;
            json_array_foreach(json_object_get(d, "mask_summary"), i, m)
            {
                const char *det = json_string_value(json_object_get(m, "detector"));
                const char *act = json_string_value(json_object_get(m, "action"));
                snprintf(key, sizeof key, "%s\t%s", det ? det : "?", act ? act : "?");
                cnt *k = cmap_get(&c->masks, key, strlen(key), NULL);
                json_int_t n = json_integer_value(json_object_get(m, "count"));
                if (k && n > 0) {
                    k->a += (uint64_t)n;
                    c->masked_values += (uint64_t)n;
                }
            }
            json_t *ap = json_object_get(d, "approval");
            if (e.decision >= 0 && json_is_object(ap)) {
                bool created = false;
                cnt *k = cmap_get(&c->decisions, e.approval_id.p, e.approval_id.n, &created);
                if (k && created) {
                    row *w = rows_add(&c->decided);
                    if (w) {
                        w->c[0] = sv_dup(e.approval_id);
                        w->c[1] = strdup(mt_rev_decision_names[e.decision]);
                        size_t ln = 0;
                        char buf[1024] = "";
                        json_t *v;
                        json_array_foreach(json_object_get(ap, "approvers"), i, v)
                        {
                            int wn = snprintf(buf + ln, sizeof buf - ln, "%s%s", i ? "; " : "",
                                              json_string_value(v) ? json_string_value(v) : "?");
                            if (wn < 0 || (size_t)wn >= sizeof buf - ln)
                                break;
                            ln += (size_t)wn;
                        }
                        w->c[2] = strdup(buf);
                        w->c[3] = strdup(t);
                        k->a = c->decided.n;
                    }
                }
            }
            json_decref(d);
        }
    }
    return 0;
}

static int cmp_seqent(const void *x, const void *y)
{
    const seqent *a = x, *b = y;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return a->idh < b->idh ? -1 : (a->idh > b->idh);
}

/* The same judgement as `show` (session.c) over sl, sorted by seq: records
 * repeating an event_id are retries; a seq carrying two event_ids is a
 * conflict; every seq from 0 to the highest seen that no record carries is
 * missing. Sets the counts and, when missing is non-NULL, writes the
 * missing ranges into it ("3-5, 9", cut with "..." past mn bytes); returns
 * whether the session has a gap or a conflict. */
static bool seq_problems(seqlist *sl, char *missing, size_t mn)
{
    uint64_t *nmissing = &sl->missing, *conflicts = &sl->conflicts;
    size_t ml = 0;
    bool cut = missing == NULL;
    mt_seq_walk w = {0};
    *nmissing = *conflicts = 0;
    if (missing)
        missing[0] = '\0';
    for (size_t i = 0; i < sl->n; i++) {
        const seqent *q = &sl->v[i];
        if (i > 0 && sl->v[i - 1].seq == q->seq) {
            *conflicts += sl->v[i - 1].idh != q->idh;
            continue;
        }
        mt_replay_gap g;
        if (mt_seq_walk_next(&w, q->seq, &g)) {
            *nmissing += (uint64_t)(g.to_seq - g.from_seq + 1);
            if (!cut) {
                const char *sep = ml ? ", " : "";
                int n = g.to_seq == g.from_seq
                            ? snprintf(missing + ml, mn - ml, "%s%" PRId64, sep, g.from_seq)
                            : snprintf(missing + ml, mn - ml, "%s%" PRId64 "-%" PRId64, sep,
                                       g.from_seq, g.to_seq);
                if (n < 0 || (size_t)n >= mn - ml - 4) {
                    cut = true;
                    missing[ml] = '\0';
                    snprintf(missing + ml, mn - ml, "%s...", sep);
                } else {
                    ml += (size_t)n;
                }
            }
        }
    }
    return *nmissing || *conflicts;
}

static int cmp_seqlist(const void *x, const void *y)
{
    return strcmp((*(const seqlist *const *)x)->session, (*(const seqlist *const *)y)->session);
}

/* ---- rendering --------------------------------------------------------------- */

typedef struct rnd {
    FILE *out;
    mt_report_format f;
    const char *section;
} rnd;

static void cell(rnd *r, const char *s, bool first)
{
    s = s ? s : "";
    if (r->f == MT_REPORT_CSV) {
        if (!first)
            fputc(',', r->out);
        bool q = strpbrk(s, ",\"\n\r") != NULL || (s[0] == '=' || s[0] == '+' || s[0] == '-' ||
                                                   s[0] == '@');
        if (q)
            fputc('"', r->out);
        /* a leading formula character is neutralised for spreadsheets */
        if (s[0] == '=' || s[0] == '+' || (s[0] == '-' && s[1]) || s[0] == '@')
            fputc('\'', r->out);
        for (const char *p = s; *p; p++) {
            if (*p == '"')
                fputc('"', r->out);
            fputc(*p, r->out);
        }
        if (q)
            fputc('"', r->out);
    } else if (r->f == MT_REPORT_HTML) {
        fputs(first ? "<tr><td>" : "</td><td>", r->out);
        mt_html_escape(r->out, s, strlen(s));
    } else {
        fputs(first ? "| " : " | ", r->out);
        for (const char *p = s; *p; p++) {
            if (*p == '|' || *p == '\\' || *p == '`' || *p == '*' || *p == '_' || *p == '<')
                fputc('\\', r->out);
            fputc(*p == '\n' ? ' ' : *p, r->out);
        }
    }
}

static void row_end(rnd *r)
{
    fputs(r->f == MT_REPORT_CSV ? "\n" : r->f == MT_REPORT_HTML ? "</td></tr>\n" : " |\n", r->out);
}

static void row_v(rnd *r, const char *const *c, int n)
{
    if (r->f == MT_REPORT_CSV) {
        cell(r, r->section, true);
        for (int i = 0; i < n; i++)
            cell(r, c[i], false);
    } else {
        for (int i = 0; i < n; i++)
            cell(r, c[i], i == 0);
    }
    row_end(r);
}

static void table_begin(rnd *r, const char *section, const char *title, const char *const *h,
                        int n)
{
    r->section = section;
    if (r->f == MT_REPORT_CSV) {
        row_v(r, h, n);
        return;
    }
    if (r->f == MT_REPORT_HTML) {
        fprintf(r->out, "<h2>%s</h2><table><tr>", title);
        for (int i = 0; i < n; i++) {
            fputs("<th>", r->out);
            mt_html_escape(r->out, h[i], strlen(h[i]));
            fputs("</th>", r->out);
        }
        fputs("</tr>\n", r->out);
        return;
    }
    fprintf(r->out, "\n## %s\n\n", title);
    row_v(r, h, n);
    for (int i = 0; i < n; i++)
        fputs(i ? "---|" : "|---|", r->out);
    fputc('\n', r->out);
}

static void table_end(rnd *r)
{
    if (r->f == MT_REPORT_HTML)
        fputs("</table>\n", r->out);
}

static void counts_table(rnd *r, const char *section, const char *title, const char *what,
                         const cmap *m)
{
    const char *h[] = {what, "sessions", "events"};
    table_begin(r, section, title, h, 3);
    cnt **v = cmap_sorted(m);
    for (size_t i = 0; v && i < m->n; i++) {
        char a[24], b[24];
        snprintf(a, sizeof a, "%" PRIu64, v[i]->a);
        snprintf(b, sizeof b, "%" PRIu64, v[i]->b);
        const char *c[] = {v[i]->key, a, b};
        row_v(r, c, 3);
    }
    free(v);
    table_end(r);
}

static void stream_row(void *ctx, const mt_stream_instance *in)
{
    rctx *c = ctx;
    row *w = rows_add(&c->stream_rows);
    if (!w)
        return;
    char a[48], b[24], t1[40], t2[40], p[16];
    snprintf(a, sizeof a, "%" PRId64 "..%" PRId64, in->first_seq, in->last_seq);
    snprintf(b, sizeof b, "%zu", in->events);
    snprintf(p, sizeof p, "%u", in->problems);
    mt_fmt_time_us(in->first_ts_us, t1, sizeof t1);
    mt_fmt_time_us(in->last_ts_us, t2, sizeof t2);
    const char *v[] = {in->id, in->place ? in->place : "(instance_start missing)", a, b, t1, t2,
                       in->state, p};
    for (int i = 0; i < 8; i++)
        w->c[i] = strdup(v[i]);
}

static void stream_problem_row(void *ctx, mt_stream_problem k, const char *where,
                               const char *detail)
{
    rctx *c = ctx;
    row *w = rows_add(&c->stream_problems);
    if (!w)
        return;
    w->c[0] = strdup(mt_stream_problem_names[k]);
    w->c[1] = strdup(where);
    w->c[2] = strdup(detail);
}

mt_err mt_replay_report(FILE *out, mt_replay_source *src, const mt_avro_registry *reg,
                        int64_t from_us, int64_t to_us, mt_report_format fmt, mt_errbuf *eb)
{
    const mt_avro_schema *ev = mt_avro_registry_find(reg, "dev.mcptrail.SessionEvent");
    if (!ev)
        return mt_fail(eb, MT_ERR_NOT_FOUND, "schema dev.mcptrail.SessionEvent not loaded");
    rctx c = {.reg = reg, .fp = mt_avro_schema_fingerprint(ev), .from = from_us, .to = to_us};
    cmap *maps[] = {&c.sessions, &c.by_repo, &c.by_subject, &c.event_ids,
                    &c.pairs,    &c.masks,   &c.decisions,  &c.seq_index};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
        mt_strmap_init(maps[i], sizeof(cnt));
    mt_err err = mt_streams_new(&c.streams, eb);
    if (!err && mt_replay_index_new(NULL, &c.ix) != MT_OK)
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory building the report");
    if (!err)
        err = mt_replay_scan(src, on_record, &c, eb);
    if (!err && !c.err && mt_replay_index_finish(c.ix) != MT_OK)
        c.err = MT_ERR_NOMEM;
    if (err == MT_ERR_STATE || (!err && c.err))
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory building the report");
    if (err)
        goto done;
    mt_streams_summary ssum;
    mt_streams_check(c.streams, c.newest_us / 1000, stream_problem_row, stream_row, &c, &ssum);
    rnd r = {out, fmt, NULL};
    char f[40] = "beginning", t[40] = "end";
    if (from_us != INT64_MIN)
        mt_fmt_time_us(from_us, f, sizeof f);
    if (to_us != INT64_MAX)
        mt_fmt_time_us(to_us, t, sizeof t);
    if (fmt == MT_REPORT_HTML) {
        mt_html_head(out, "mcptrail FFIEC evidence summary");
        fprintf(out, "<h1>mcptrail evidence summary</h1><p>Period %s to %s. Control mapping: "
                     "docs/evidence.md.</p>\n", f, t);
    } else if (fmt == MT_REPORT_MD) {
        fprintf(out, "# mcptrail evidence summary\n\nPeriod: %s to %s. Control mapping: "
                     "docs/evidence.md (FFIEC IT Examination Handbook, Information Security).\n",
                f, t);
    }
    /* sessions of the period with gaps or conflicts, by session id */
    seqlist **bad = calloc(c.nseqs ? c.nseqs : 1, sizeof *bad);
    size_t nbad = 0;
    if (!bad) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory building the report");
        goto done;
    }
    for (size_t i = 0; i < c.nseqs; i++) {
        seqlist *sl = &c.seqs[i];
        if (!sl->in_period)
            continue;
        qsort(sl->v, sl->n, sizeof *sl->v, cmp_seqent);
        if (seq_problems(sl, NULL, 0))
            bad[nbad++] = sl;
    }
    if (nbad)
        qsort(bad, nbad, sizeof *bad, cmp_seqlist);
    /* integrity */
    {
        const char *h[] = {"item", "value"};
        table_begin(&r, "integrity", "Integrity of the source (log management)", h, 2);
        char v1[64], v2[64], v3[64], v4[64], v5[64], v6[64], v7[64];
        snprintf(v6, sizeof v6, "%" PRIu64, src->seq_gap_problems);
        snprintf(v7, sizeof v7, "%" PRIu64, src->bad_segments);
        char v8[64];
        snprintf(v8, sizeof v8, "%" PRIu64, c.duplicates);
        snprintf(v1, sizeof v1, "%s", mt_replay_integrity_name(src->integrity));
        snprintf(v2, sizeof v2, "%" PRIu64, src->problems);
        snprintf(v3, sizeof v3, "%zu", src->nsegs);
        snprintf(v4, sizeof v4, "%" PRIu64, src->records_scanned);
        snprintf(v5, sizeof v5, "%" PRIu64, c.events);
        char v9[64];
        snprintf(v9, sizeof v9, "%zu", nbad);
        char label[512];
        mt_replay_source_label(src, label, sizeof label);
        const char *rows_[][2] = {{"source", label},
                                  {"verification", v1},
                                  {"verification problems", v2},
                                  {"session and stream completeness problems (verify)", v6},
                                  {"sessions with gaps or conflicts", v9},
                                  {"unreadable segments", v7},
                                  {"segments", v3},
                                  {"records scanned", v4},
                                  {"events in period", v5},
                                  {"duplicate records dropped", v8}};
        for (size_t i = 0; i < sizeof rows_ / sizeof *rows_; i++)
            row_v(&r, rows_[i], 2);
        table_end(&r);
    }
    {
        const char *h[] = {"session", "missing seqs", "missing", "conflicts", "records"};
        table_begin(&r, "gaps", "Sessions with gaps or conflicting records (log management)",
                    h, 5);
        for (size_t i = 0; i < nbad; i++) {
            char a[24], b[24], n[24], missing[512];
            seq_problems(bad[i], missing, sizeof missing);
            snprintf(a, sizeof a, "%" PRIu64, bad[i]->missing);
            snprintf(b, sizeof b, "%" PRIu64, bad[i]->conflicts);
            snprintf(n, sizeof n, "%zu", bad[i]->n);
            const char *v[] = {bad[i]->session, missing[0] ? missing : "-", a, b, n};
            row_v(&r, v, 5);
        }
        table_end(&r);
    }
    free(bad);
    {
        const char *h[] = {"stream (sidecar instance)", "place", "seq", "events", "first event",
                           "last event", "state", "problems"};
        table_begin(&r, "streams", "Completeness per sidecar stream (log management; the "
                                   "source's newest event is taken as its end)", h, 8);
        for (size_t i = 0; i < c.stream_rows.n; i++)
            row_v(&r, (const char *const *)c.stream_rows.v[i].c, 8);
        table_end(&r);
        const char *h2[] = {"class", "where", "detail"};
        table_begin(&r, "stream_problems", "Stream completeness problems (docs/archive.md "
                                           "\"Streams\")", h2, 3);
        for (size_t i = 0; i < c.stream_problems.n; i++)
            row_v(&r, (const char *const *)c.stream_problems.v[i].c, 3);
        table_end(&r);
    }
    {
        const char *h[] = {"item", "value"};
        table_begin(&r, "totals", "Totals (access control)", h, 2);
        char a[32], b[32], d[32], e[32], g[32], k[32], l[32];
        snprintf(a, sizeof a, "%zu", c.sessions.n);
        snprintf(l, sizeof l, "%zu", mt_replay_index_logical_count(c.ix));
        snprintf(b, sizeof b, "%zu", c.privileged.n);
        snprintf(d, sizeof d, "%zu", c.denied.n);
        snprintf(e, sizeof e, "%" PRIu64, c.masked_values);
        snprintf(g, sizeof g, "%" PRIu64, c.auth_failed);
        snprintf(k, sizeof k, "%" PRIu64, c.errors);
        const char *rows_[][2] = {{"sessions", l},          {"recorded sessions", a},
                                  {"privileged calls (approve)", b},
                                  {"denials", d},           {"values masked", e},
                                  {"authentication failures", g}, {"error responses", k}};
        for (size_t i = 0; i < sizeof rows_ / sizeof *rows_; i++)
            row_v(&r, rows_[i], 2);
        table_end(&r);
    }
    counts_table(&r, "by_repository_workflow", "Sessions by repository / workflow",
                 "repository / workflow", &c.by_repo);
    counts_table(&r, "by_identity", "Sessions by identity", "subject", &c.by_subject);
    {
        const char *h[] = {"time", "session", "subject", "tool", "rule", "approval id",
                           "justification", "decision", "approvers", "decided"};
        table_begin(&r, "privileged", "Privileged calls and their approvals (privileged access, "
                                      "change management)", h, 10);
        for (size_t i = 0; i < c.privileged.n; i++) {
            row *w = &c.privileged.v[i];
            cnt *k = w->c[5] ? cmap_get(&c.decisions, w->c[5], strlen(w->c[5]), NULL) : NULL;
            row *d = k && k->a ? &c.decided.v[k->a - 1] : NULL;
            const char *v[] = {w->c[0], w->c[1], w->c[2], w->c[3], w->c[4], w->c[5], w->c[6],
                               d ? d->c[1] : "NO DECISION RECORDED", d ? d->c[2] : "",
                               d ? d->c[3] : ""};
            row_v(&r, v, 10);
        }
        table_end(&r);
    }
    {
        const char *h[] = {"time", "session", "subject", "tool", "rule", "event"};
        table_begin(&r, "denials", "Denials (access control)", h, 6);
        for (size_t i = 0; i < c.denied.n; i++)
            row_v(&r, (const char *const *)c.denied.v[i].c, 6);
        table_end(&r);
    }
    {
        const char *h[] = {"detector", "action", "values"};
        table_begin(&r, "masking", "Masking counts (data protection in logs)", h, 3);
        cnt **v = cmap_sorted(&c.masks);
        for (size_t i = 0; v && i < c.masks.n; i++) {
            char det[512], n[24];
            snprintf(det, sizeof det, "%s", v[i]->key);
            char *tab = strchr(det, '\t');
            const char *act = "";
            if (tab) {
                *tab = '\0';
                act = tab + 1;
            }
            snprintf(n, sizeof n, "%" PRIu64, v[i]->a);
            const char *cc[] = {det, act, n};
            row_v(&r, cc, 3);
        }
        free(v);
        table_end(&r);
    }
    if (fmt == MT_REPORT_HTML)
        fputs("</body></html>\n", out);
done:
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
        mt_strmap_free(maps[i]);
    for (size_t i = 0; i < c.nseqs; i++)
        free(c.seqs[i].v);
    free(c.seqs);
    rows_free(&c.stream_rows);
    rows_free(&c.stream_problems);
    mt_streams_free(c.streams);
    mt_replay_index_free(c.ix);
    rows_free(&c.privileged);
    rows_free(&c.denied);
    rows_free(&c.decided);
    return err;
}
