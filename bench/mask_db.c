/* mask_db: where the masking engine's time goes, piece by piece, on a
 * masking corpus (issue 5; docs/masking.md "Why 1 GB/s per core is not
 * reached"). Decodes every JSON string value of 3 bytes or more of every
 * message once (jansson, not timed), then times, best of PASSES:
 *
 *   - the Vectorscan database of the built-in detectors alone over those
 *     strings (hs_scan; the reports are only counted), in size buckets;
 *   - the same database without each group given with -x (detector ids,
 *     comma-separated; the native detectors are never in it);
 *   - a database of one literal that never matches: the fixed cost of the
 *     hs_scan calls;
 *   - text-mode masking (mt_mask_text: Vectorscan, native scanner,
 *     confirmations, markers) of the same strings, in size buckets.
 *
 *   mask_db CORPUS.jsonl [PASSES] [-x ID,ID,...]...
 *
 * It reads the engine's detector table through the library's internal
 * header: a measuring tool, not an API user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "mask_internal.h"

typedef struct strs {
    char **p;
    size_t *n;
    size_t count, cap, bytes;
} strs;

static const size_t bucket_lo[] = {0, 16, 64, 512};
static const size_t bucket_hi[] = {16, 64, 512, SIZE_MAX};
#define NBUCKETS 4

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void collect(strs *s, json_t *v)
{
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_string(v) && json_string_length(v) >= 3) {
        if (s->count == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 4096;
            s->p = realloc(s->p, s->cap * sizeof *s->p);
            s->n = realloc(s->n, s->cap * sizeof *s->n);
            if (!s->p || !s->n)
                exit(1);
        }
        size_t n = json_string_length(v);
        s->p[s->count] = malloc(n);
        if (!s->p[s->count])
            exit(1);
        memcpy(s->p[s->count], json_string_value(v), n);
        s->n[s->count++] = n;
        s->bytes += n;
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, x) collect(s, x);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) collect(s, x);
    }
}

static int count_report(unsigned id, unsigned long long from, unsigned long long to,
                        unsigned flags, void *ud)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    (*(unsigned long *)ud)++;
    return 0;
}

static bool listed(const char *csv, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = csv; (p = strstr(p, id)); p += n)
        if ((p == csv || p[-1] == ',') && (p[n] == ',' || p[n] == 0))
            return true;
    return false;
}

/* Compiles the engine's Vectorscan patterns minus those in except (NULL:
 * none), or the single expression only when non-NULL. */
static hs_database_t *compile(const mt_mask_rules *r, const char *except, const char *only,
                              unsigned *npat)
{
    const char **ex = calloc(r->n + 1, sizeof *ex);
    unsigned *fl = calloc(r->n + 1, sizeof *fl), *ids = calloc(r->n + 1, sizeof *ids), n = 0;
    if (!ex || !fl || !ids)
        exit(1);
    if (only) {
        ex[0] = only;
        fl[0] = HS_FLAG_SOM_LEFTMOST;
        ids[0] = 0;
        n = 1;
    }
    for (size_t i = 0; !only && i < r->n; i++) {
        const mask_det *d = &r->dets[i];
        if (d->native || !d->regex || !d->regex[0] || (except && listed(except, d->id)))
            continue;
        ex[n] = d->regex;
        fl[n] = d->hs_flags | HS_FLAG_SOM_LEFTMOST; /* as mt_mask_engine_new compiles them */
        ids[n] = (unsigned)i;
        n++;
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *ce = NULL;
    if (hs_compile_multi(ex, fl, ids, n, HS_MODE_BLOCK, NULL, &db, &ce) != HS_SUCCESS) {
        fprintf(stderr, "mask_db: compile: %s\n", ce ? ce->message : "?");
        exit(1);
    }
    free(ex);
    free(fl);
    free(ids);
    *npat = n;
    return db;
}

/* Best-of-passes time of hs_scan over the strings in [lo, hi). */
static double time_db(const hs_database_t *db, const strs *s, size_t lo, size_t hi, int passes,
                      unsigned long *reports)
{
    hs_scratch_t *scratch = NULL;
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS)
        exit(1);
    double best = 1e9;
    for (int p = 0; p < passes; p++) {
        *reports = 0;
        double t0 = now();
        for (size_t i = 0; i < s->count; i++)
            if (s->n[i] >= lo && s->n[i] < hi)
                hs_scan(db, s->p[i], (unsigned)s->n[i], 0, scratch, count_report, reports);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    hs_free_scratch(scratch);
    return best;
}

static double time_text(mt_mask_ctx *c, const strs *s, size_t lo, size_t hi, int passes)
{
    mt_buf out = MT_BUF_INIT;
    mt_errbuf eb = {""};
    double best = 1e9;
    for (int p = 0; p < passes; p++) {
        double t0 = now();
        for (size_t i = 0; i < s->count; i++)
            if (s->n[i] >= lo && s->n[i] < hi) {
                mt_buf_reset(&out);
                if (mt_mask_text(c, s->p[i], s->n[i], &out, NULL, &eb)) {
                    fprintf(stderr, "mask_db: %s\n", eb.msg);
                    exit(1);
                }
            }
        double t = now() - t0;
        best = t < best ? t : best;
    }
    mt_buf_free(&out);
    return best;
}

/* Bucket b (NBUCKETS: all strings): its bounds, name and what it holds. */
typedef struct bucket {
    size_t lo, hi, count, bytes;
    char name[32];
} bucket;

static bucket bucket_of(const strs *s, size_t b)
{
    bucket k = {0, SIZE_MAX, 0, 0, "all"};
    if (b < NBUCKETS) {
        k.lo = bucket_lo[b];
        k.hi = bucket_hi[b];
        if (k.hi == SIZE_MAX)
            snprintf(k.name, sizeof k.name, ">= %zu B", k.lo);
        else
            snprintf(k.name, sizeof k.name, "%zu-%zu B", k.lo, k.hi - 1);
    }
    for (size_t i = 0; i < s->count; i++)
        if (s->n[i] >= k.lo && s->n[i] < k.hi) {
            k.count++;
            k.bytes += s->n[i];
        }
    return k;
}

/* One table row; reports NULL: "-". */
static void row(const char *what, size_t count, size_t bytes, double secs,
                const unsigned long *reports)
{
    char rep[32] = "-";
    if (reports)
        snprintf(rep, sizeof rep, "%lu", *reports);
    printf("| %s | %zu | %.2f | %.2f | %.0f | %s |\n", what, count, (double)bytes / 1e6, secs * 1e3,
           (double)bytes / 1e6 / secs, rep);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mask_db CORPUS.jsonl [PASSES] [-x ID,ID,...]...\n");
        return 2;
    }
    int passes = 7;
    const char *groups[16];
    size_t ngroups = 0;
    for (int a = 2; a < argc; a++) {
        if (strcmp(argv[a], "-x") == 0 && a + 1 < argc && ngroups < 16)
            groups[ngroups++] = argv[++a];
        else
            passes = atoi(argv[a]) > 0 ? atoi(argv[a]) : passes;
    }
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    strs s = {0};
    size_t msg_bytes = 0, nmsg = 0;
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        json_error_t je;
        json_t *rec = json_loads(line, JSON_ALLOW_NUL, &je);
        json_t *m = rec ? json_object_get(rec, "message") : NULL;
        if (!json_is_string(m)) {
            fprintf(stderr, "mask_db: line %zu is not {\"message\": \"..\"}\n", nmsg + 1);
            return 1;
        }
        msg_bytes += json_string_length(m);
        json_t *body = json_loadb(json_string_value(m), json_string_length(m), JSON_ALLOW_NUL, &je);
        if (body)
            collect(&s, body); /* a message that is not JSON is masked as text: not counted */
        json_decref(body);
        json_decref(rec);
        nmsg++;
    }
    free(line);
    fclose(f);

    mt_errbuf eb = {""};
    mt_mask_rules *r;
    mt_mask_engine *e;
    mt_mask_ctx *c;
    if (mt_mask_rules_load(NULL, 0, &r, &eb) || mt_mask_engine_new(r, &e, &eb) ||
        mt_mask_ctx_new(e, &c, &eb)) {
        fprintf(stderr, "mask_db: %s\n", eb.msg);
        return 1;
    }
    const mt_mask_rules *rules = e->rules;
    printf("%zu messages, %.1f MB; %zu JSON strings of 3 bytes or more, %.1f MB; best of %d "
           "passes\n\n",
           nmsg, (double)msg_bytes / 1e6, s.count, (double)s.bytes / 1e6, passes);
    printf("| what | strings | MB | ms | MB/s of string bytes | reports |\n");
    printf("|---|---:|---:|---:|---:|---:|\n");
    unsigned npat;
    unsigned long rep;
    char what[512];
    hs_database_t *db = compile(rules, NULL, NULL, &npat);
    for (size_t b = 0; b <= NBUCKETS; b++) {
        bucket k = bucket_of(&s, b);
        double t = time_db(db, &s, k.lo, k.hi, passes, &rep);
        snprintf(what, sizeof what, "Vectorscan, %u patterns, strings %s", npat, k.name);
        row(what, k.count, k.bytes, t, &rep);
    }
    hs_free_database(db);
    for (size_t g = 0; g < ngroups; g++) {
        db = compile(rules, groups[g], NULL, &npat);
        double t = time_db(db, &s, 0, SIZE_MAX, passes, &rep);
        snprintf(what, sizeof what, "Vectorscan without %s (%u patterns)", groups[g], npat);
        row(what, s.count, s.bytes, t, &rep);
        hs_free_database(db);
    }
    db = compile(rules, NULL, "xq#never#qx", &npat);
    double t = time_db(db, &s, 0, SIZE_MAX, passes, &rep);
    row("Vectorscan, one literal that never matches (call cost)", s.count, s.bytes, t, &rep);
    hs_free_database(db);
    for (size_t b = 0; b <= NBUCKETS; b++) {
        bucket k = bucket_of(&s, b);
        t = time_text(c, &s, k.lo, k.hi, passes);
        snprintf(what, sizeof what, "mt_mask_text (detection, no JSON), strings %s", k.name);
        row(what, k.count, k.bytes, t, NULL);
    }
    mt_mask_ctx_free(c);
    mt_mask_engine_free(e);
    for (size_t i = 0; i < s.count; i++)
        free(s.p[i]);
    free(s.p);
    free(s.n);
    return 0;
}
