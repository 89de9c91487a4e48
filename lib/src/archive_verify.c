/* Offline checks of an archive with only the public key: `verify` (a report
 * in the manner of a cloud audit-log validator), `prove` (RFC 6962 inclusion
 * proof of one record) and `ids`.
 *
 * verify runs in two passes. Pass 1 reads every manifest of every
 * topic-partition (they are small), so that a segment whose bytes match
 * another manifest can be reported as swapped. Pass 2 walks each chain in
 * seq order: signature and key id, prev_sha256 links, seq and offset
 * continuity, then the segment itself (SHA-256, record count, Merkle root,
 * offsets inside, per-session seq of SessionEvents), and finally the tail:
 * a chain that ends without a close manifest while the archive shows later
 * activity (another chain's later manifest or close) was truncated.
 * Every problem is one line "PROBLEM <class> <where>: <detail>".
 *
 * The heavy part of a segment check (read, SHA-256, inflate, leaf hashes,
 * Merkle root, record ids) runs on worker threads ahead of the walk, which
 * takes the results in its own order: the report is the same byte for byte
 * whatever the number of threads. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mcptrail/archive.h"
#include "mcptrail/avro.h"
#include "mcptrail/event.h"
#include "mcptrail/json.h"
#include "mcptrail/strmap.h"

#define MAX_SEGMENT_FILE ((size_t)4 << 30)
#define TAIL_SLACK_MS 5000
#define MAX_VERIFY_THREADS 8
/* Segment bytes (as manifests state them) read ahead of the chain walk. */
#define READ_AHEAD_BYTES ((uint64_t)512 << 20)

/* ---- record ids ---------------------------------------------------------- */

static mt_err get_str(const uint8_t *v, size_t len, size_t *pos, const char **s, size_t *n)
{
    int64_t l;
    mt_err err = mt_zz_get(v, len, pos, &l);
    if (err)
        return err;
    if (l < 0 || (uint64_t)l > len - *pos)
        return MT_ERR_TRUNCATED;
    *s = (const char *)v + *pos;
    *n = (size_t)l;
    *pos += (size_t)l;
    return MT_OK;
}

mt_err mt_record_ids_parse(const uint8_t *v, size_t len, uint64_t session_event_fp,
                           mt_record_ids *ids)
{
    memset(ids, 0, sizeof *ids);
    ids->seq = -1;
    if (len < MT_AVRO_HEADER_LEN || v[0] != 0xC3 || v[1] != 0x01)
        return MT_ERR_BAD_MAGIC;
    uint64_t fp = 0;
    for (int i = 7; i >= 0; i--)
        fp = (fp << 8) | v[2 + i];
    ids->fingerprint = fp;
    size_t pos = MT_AVRO_HEADER_LEN;
    mt_err err = get_str(v, len, &pos, &ids->id, &ids->id_len);
    if (err)
        return err;
    if ((fp == session_event_fp && session_event_fp != 0) || fp == MT_SESSION_EVENT_FP_V1 ||
        fp == MT_SESSION_EVENT_FP_V2) {
        if ((err = get_str(v, len, &pos, &ids->session_id, &ids->session_len)) != MT_OK ||
            (err = mt_zz_get(v, len, &pos, &ids->seq)) != MT_OK) {
            ids->session_id = NULL;
            return err;
        }
        int64_t branch = 0;
        if (fp != MT_SESSION_EVENT_FP_V1 && mt_zz_get(v, len, &pos, &branch) == MT_OK)
            ids->has_stream = branch == 1;
    }
    return MT_OK;
}

/* schema_dir NULL: $MCPTRAIL_SCHEMA_DIR (the images set it), else the
 * library's default ($MT_SCHEMA_DIR or the source tree's schemas/). */
static uint64_t session_fp(const char *schema_dir)
{
    mt_avro_registry *reg = NULL;
    uint64_t fp = 0;
    if (!schema_dir)
        schema_dir = getenv("MCPTRAIL_SCHEMA_DIR");
    if (mt_avro_registry_load(schema_dir && *schema_dir ? schema_dir : NULL, &reg, NULL) ==
        MT_OK) {
        const mt_avro_schema *s = mt_avro_registry_find(reg, "dev.mcptrail.SessionEvent");
        if (s)
            fp = mt_avro_schema_fingerprint(s);
    }
    mt_avro_registry_free(reg);
    return fp;
}

/* ---- archive walk ---------------------------------------------------------- */

typedef struct mrec {
    uint64_t seq;
    bool parsed, canonical;
    mt_manifest m;
    uint8_t file_sha[MT_SHA256_LEN];
    char err[256];
} mrec;

typedef struct pdir {
    char topic[MT_MANIFEST_TOPIC_MAX + 1];
    int32_t partition;
    char path[PATH_MAX];
    mrec *ms;
    size_t nms;
    char (*segs)[64];
    size_t nsegs;
    size_t ntmp;
} pdir;

typedef struct archive {
    pdir *ps;
    size_t n;
} archive;

static int cmp_mrec(const void *a, const void *b)
{
    const mrec *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int cmp_pdir(const void *a, const void *b)
{
    const pdir *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static mt_err load_pdir(pdir *pd, mt_errbuf *eb)
{
    DIR *d = opendir(pd->path);
    if (!d)
        return mt_fail(eb, MT_ERR_IO, "%s: %s", pd->path, strerror(errno));
    struct dirent *de;
    size_t mcap = 0, scap = 0;
    mt_err err = MT_OK;
    while ((de = readdir(d)) != NULL) {
        uint64_t seq;
        size_t nl = strlen(de->d_name);
        if (nl > 4 && strcmp(de->d_name + nl - 4, ".tmp") == 0) {
            pd->ntmp++;
        } else if (mt_segment_seq_name(de->d_name, ".manifest.json", &seq)) {
            if (pd->nms == mcap) {
                mcap = mcap ? mcap * 2 : 64;
                mrec *nm = realloc(pd->ms, mcap * sizeof *nm);
                if (!nm) {
                    err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
                    break;
                }
                pd->ms = nm;
            }
            mrec *r = &pd->ms[pd->nms++];
            memset(r, 0, sizeof *r);
            r->seq = seq;
        } else if (mt_segment_seq_name(de->d_name, ".avro", &seq)) {
            if (pd->nsegs == scap) {
                scap = scap ? scap * 2 : 64;
                char(*ns)[64] = realloc(pd->segs, scap * sizeof *ns);
                if (!ns) {
                    err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
                    break;
                }
                pd->segs = ns;
            }
            if (snprintf(pd->segs[pd->nsegs], 64, "%s", de->d_name) < 64)
                pd->nsegs++;
        }
    }
    closedir(d);
    if (err)
        return err;
    if (pd->nms > 1)
        qsort(pd->ms, pd->nms, sizeof *pd->ms, cmp_mrec);
    mt_buf b = MT_BUF_INIT;
    for (size_t i = 0; i < pd->nms; i++) {
        mrec *r = &pd->ms[i];
        char path[PATH_MAX + 64];
        mt_errbuf e2 = {{0}};
        snprintf(path, sizeof path, "%s/%012" PRIu64 ".manifest.json", pd->path, r->seq);
        if (mt_read_file(path, MT_MANIFEST_MAX_BYTES, &b, &e2) != MT_OK ||
            mt_manifest_parse(b.data, b.len, &r->m, &r->canonical, &e2) != MT_OK) {
            if (snprintf(r->err, sizeof r->err, "%s", e2.msg) >= (int)sizeof r->err)
                r->err[sizeof r->err - 1] = 0;
            continue;
        }
        mt_sha256(b.data, b.len, r->file_sha);
        r->parsed = true;
    }
    mt_buf_free(&b);
    return MT_OK;
}

static void archive_free(archive *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->ps[i].ms);
        free(a->ps[i].segs);
    }
    free(a->ps);
    a->ps = NULL;
    a->n = 0;
}

static mt_err archive_load(const char *dir, archive *a, mt_errbuf *eb)
{
    memset(a, 0, sizeof *a);
    DIR *top = opendir(dir);
    if (!top)
        return mt_fail(eb, MT_ERR_NOT_FOUND, "%s: %s", dir, strerror(errno));
    size_t cap = 0;
    mt_err err = MT_OK;
    struct dirent *te;
    while (!err && (te = readdir(top)) != NULL) {
        if (te->d_name[0] == '.' || strlen(te->d_name) > MT_MANIFEST_TOPIC_MAX)
            continue;
        char tpath[PATH_MAX];
        snprintf(tpath, sizeof tpath, "%s/%s", dir, te->d_name);
        DIR *td = opendir(tpath);
        if (!td)
            continue;
        struct dirent *pe;
        while (!err && (pe = readdir(td)) != NULL) {
            char *end;
            if (pe->d_name[0] < '0' || pe->d_name[0] > '9')
                continue;
            long p = strtol(pe->d_name, &end, 10);
            if (*end || p < 0 || p > INT32_MAX)
                continue;
            if (a->n == cap) {
                cap = cap ? cap * 2 : 16;
                pdir *np = realloc(a->ps, cap * sizeof *np);
                if (!np) {
                    err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
                    break;
                }
                a->ps = np;
            }
            pdir *pd = &a->ps[a->n++];
            memset(pd, 0, sizeof *pd);
            if (snprintf(pd->topic, sizeof pd->topic, "%s", te->d_name) >= (int)sizeof pd->topic ||
                snprintf(pd->path, sizeof pd->path, "%s/%s", tpath, pe->d_name) >=
                    (int)sizeof pd->path) {
                a->n--;
                continue;
            }
            pd->partition = (int32_t)p;
            err = load_pdir(pd, eb);
        }
        closedir(td);
    }
    closedir(top);
    if (err) {
        archive_free(a);
        return err;
    }
    /* A directory that holds no archive (a topic's directory given instead of the
     * archive's root, a wrong path) must not pass as an archive with nothing wrong. */
    if (a->n == 0) {
        archive_free(a);
        return mt_fail(eb, MT_ERR_NOT_FOUND,
                       "%s: no archive here (no TOPIC/PARTITION directories): give the "
                       "archive's root, the archive.dir of mcptrail-archiver run",
                       dir);
    }
    if (a->n > 1)
        qsort(a->ps, a->n, sizeof *a->ps, cmp_pdir);
    return MT_OK;
}

/* ---- session seq tracking -------------------------------------------------- */

/* Per session id (an mt_strmap value): the next seq expected. */
typedef struct sess {
    int64_t next;
} sess;

/* ---- verify ---------------------------------------------------------------- */

enum pclass {
    P_MANIFEST_UNREADABLE,
    P_BAD_SIGNATURE,
    P_NONCANONICAL,
    P_MISPLACED,
    P_MANIFEST_MISSING,
    P_CHAIN_BREAK,
    P_OFFSET_GAP,
    P_SEGMENT_MISSING,
    P_SEGMENT_MODIFIED,
    P_SEGMENT_SWAPPED,
    P_SEGMENT_UNREADABLE,
    P_COUNT_MISMATCH,
    P_MERKLE_MISMATCH,
    P_ORPHAN,
    P_TAIL_TRUNCATED,
    P_SEQ_GAP,
    P_STREAM0, /* MT_SP_* follow: the stream classes (archive_streams.c) */
    P_N = P_STREAM0 + MT_SP_N
};

static const char *const PNAME[P_N] = {
    "manifest-unreadable", "bad-signature",    "manifest-noncanonical", "manifest-misplaced",
    "manifest-missing",    "chain-break",      "offset-gap",            "segment-missing",
    "segment-modified",    "segment-swapped",  "segment-unreadable",    "count-mismatch",
    "merkle-mismatch",     "segment-orphan",   "tail-truncated",        "seq-gap",
    /* P_STREAM0 + MT_SP_*: set from mt_stream_problem_names at start */
};

static const char *pname(int c)
{
    return c >= P_STREAM0 ? mt_stream_problem_names[c - P_STREAM0] : PNAME[c];
}

/* The sidecars' checkpoint keys and their ids (read-only while workers run). */
typedef struct sigkeys {
    const mt_ed25519_key *const *keys;
    char ids[MT_VERIFY_MAX_KEYS][MT_ED25519_KEY_ID_SIZE];
    size_t n;
} sigkeys;

typedef struct vctx {
    const mt_verify_opts *o;
    FILE *out;
    uint64_t counts[P_N];
    uint64_t problems;
    uint64_t seg_total, seg_valid, seg_checked, heartbeats, closes, records, events, bytes;
    uint64_t sess_fp;
    mt_strmap sessions; /* session id -> sess */
    mt_streams *streams;
    sigkeys sk;
    bool *pd_streams;   /* per archive pdir: holds stream events */
    mt_leaf_hasher lh; /* for jobs run on the walk's own thread */
    struct jobq *q;    /* NULL: no worker threads */
    struct segjob *jobs;
    size_t njobs, job_next;
    char key_ids[MT_VERIFY_MAX_KEYS][MT_ED25519_KEY_ID_SIZE]; /* of o->pubs */
    char key_list[MT_VERIFY_MAX_KEYS * (MT_ED25519_KEY_ID_SIZE + 2)];
    bool filtered;
} vctx;

static void problem(vctx *v, enum pclass c, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(vctx *v, enum pclass c, const char *where, const char *fmt, ...)
{
    va_list ap;
    v->counts[c]++;
    v->problems++;
    fprintf(v->out, "PROBLEM %s %s: ", pname(c), where);
    va_start(ap, fmt);
    vfprintf(v->out, fmt, ap);
    va_end(ap);
    fputc('\n', v->out);
}

static void stream_problem(void *ctx, mt_stream_problem c, const char *where,
                           const char *detail)
{
    problem(ctx, (enum pclass)(P_STREAM0 + c), where, "%s", detail);
}

static void stream_line(void *ctx, const mt_stream_instance *in)
{
    vctx *v = ctx;
    char sig[64] = "";
    if (v->sk.n)
        snprintf(sig, sizeof sig, in->signed_seq >= 0 ? ", signed to seq %" PRId64 : ", unsigned",
                 in->signed_seq);
    fprintf(v->out, "  stream %s (%s): seq %" PRId64 "..%" PRId64 ", %zu events, %s%s, %s\n",
            in->id, in->place ? in->place : "instance_start missing", in->first_seq,
            in->last_seq, in->events, in->state, sig, in->problems ? "INVALID" : "valid");
}

/* ---- segment jobs ---------------------------------------------------------- */

/* What reading one segment found, in record order, for the walk to judge:
 * offset jumps inside the segment (the first 5) and the session id and seq
 * of every SessionEvent. */
enum { EV_OFFSET_JUMP = 1, EV_SESSION = 2, EV_STREAM = 3 };

/* An EV_STREAM entry: this, then id_len bytes of instance id and place_len of
 * place. */
typedef struct stream_rec {
    int64_t seq, session_prev, ts_us, offset, heartbeat_ms;
    int32_t kind, sig;
    uint32_t id_len, place_len;
    uint8_t own[16], prev[16];
    uint8_t has_prev, pad[7];
} stream_rec;

typedef struct segjob {
    const pdir *pd;
    const mrec *r;
    bool done;
    mt_err read_err; /* of reading the file; MT_OK: the fields below are set */
    mt_errbuf e;     /* read or parse error */
    size_t bytes;
    uint8_t sha[MT_SHA256_LEN];
    bool parse_failed;
    uint64_t n, gaps;
    int64_t first, last;
    uint8_t root[MT_SHA256_LEN];
    mt_buf ev;
} segjob;

typedef struct segscan {
    segjob *j;
    mt_leaf_hasher *lh;
    uint64_t sess_fp;
    mt_sha256_hasher *rh; /* record hashes for the stream chain */
    const sigkeys *sk;
    mt_merkle_builder mb;
    int64_t prev_off;
} segscan;

static int seg_cb(const mt_segment_record *r, void *ctx)
{
    segscan *s = ctx;
    segjob *j = s->j;
    uint8_t leaf[MT_SHA256_LEN];
    if (mt_leaf_hash(s->lh, r->value, r->value_len, leaf) != MT_OK ||
        mt_leaf_append(s->lh, &s->mb, leaf) != MT_OK)
        return 1;
    if (j->n == 0)
        j->first = r->offset;
    else if (r->offset != s->prev_off + 1 && j->gaps++ < 5) {
        int64_t pair[2] = {s->prev_off, r->offset};
        if (mt_buf_append_byte(&j->ev, EV_OFFSET_JUMP) || mt_buf_append(&j->ev, pair, sizeof pair))
            return 1;
    }
    s->prev_off = j->last = r->offset;
    j->n++;
    mt_record_ids ids;
    if (mt_record_ids_parse(r->value, r->value_len, s->sess_fp, &ids) == MT_OK &&
        ids.session_id) {
        mt_rev ev;
        bool streamed = ids.has_stream &&
                        mt_rev_parse(r->value, r->value_len, s->sess_fp, &ev) == MT_OK &&
                        ev.stream_seq >= 0;
        /* v1 events: their session's seq is all there is to check; v2 events
         * are judged by their stream (which subsumes the session's seq) */
        int64_t so[2] = {ids.seq, r->offset};
        uint32_t len = (uint32_t)ids.session_len;
        if (mt_buf_append_byte(&j->ev, streamed ? EV_SESSION | 0x80 : EV_SESSION) ||
            mt_buf_append(&j->ev, so, sizeof so) || mt_buf_append(&j->ev, &len, sizeof len) ||
            mt_buf_append(&j->ev, ids.session_id, ids.session_len))
            return 1;
        if (streamed) {
            uint8_t h[MT_SHA256_LEN];
            char place[MT_STREAM_PLACE_MAX];
            mt_stream_obs o;
            if (mt_sha256_hasher_digest(s->rh, r->value, r->value_len, h) != MT_OK)
                return 1;
            mt_stream_obs_of(&ev, h, place, &o);
            stream_rec sr = {.seq = o.seq, .session_prev = o.session_prev, .ts_us = o.ts_us,
                             .offset = r->offset, .heartbeat_ms = o.heartbeat_ms,
                             .kind = o.kind, .id_len = (uint32_t)o.instance_len,
                             .place_len = (uint32_t)o.place_len, .has_prev = o.has_prev};
            memcpy(sr.own, o.own, sizeof sr.own);
            memcpy(sr.prev, o.prev, sizeof sr.prev);
            if (ev.stream_sig && s->sk->n) {
                uint8_t msg[MT_STREAM_CHECKPOINT_MAX];
                size_t ml = mt_stream_checkpoint_message(ev.instance_id.p, ev.instance_id.n,
                                                         ev.stream_seq, ev.stream_prev, msg);
                size_t k = 0;
                while (k < s->sk->n && !mt_sv_eq(ev.stream_key_id, s->sk->ids[k]))
                    k++;
                sr.sig = k == s->sk->n ? MT_STREAM_SIG_UNKNOWN_KEY
                         : ml && mt_ed25519_verify(s->sk->keys[k], msg, ml, ev.stream_sig,
                                                   MT_ED25519_SIG_LEN, NULL) == MT_OK
                             ? MT_STREAM_SIG_VALID
                             : MT_STREAM_SIG_BAD;
            }
            if (mt_buf_append_byte(&j->ev, EV_STREAM) || mt_buf_append(&j->ev, &sr, sizeof sr) ||
                mt_buf_append(&j->ev, o.instance_id, o.instance_len) ||
                (o.place && mt_buf_append(&j->ev, o.place, o.place_len)))
                return 1;
        }
    }
    return 0;
}

static void run_job(segjob *j, mt_leaf_hasher *lh, uint64_t sess_fp, const sigkeys *sk)
{
    char path[PATH_MAX + 160];
    snprintf(path, sizeof path, "%s/%s", j->pd->path, j->r->m.segment);
    mt_buf data = MT_BUF_INIT;
    j->first = j->last = -1;
    j->read_err = mt_read_file(path, MAX_SEGMENT_FILE, &data, &j->e);
    if (j->read_err == MT_OK) {
        j->bytes = data.len;
        mt_sha256(data.data, data.len, j->sha);
        segscan s = {.j = j, .lh = lh, .sess_fp = sess_fp, .rh = lh->h, .sk = sk};
        mt_merkle_builder_init(&s.mb);
        if (mt_segment_read(data.data, data.len, seg_cb, &s, &j->e) != MT_OK)
            j->parse_failed = true;
        else
            mt_merkle_builder_root(&s.mb, j->root, NULL);
    }
    mt_buf_free(&data);
}

/* Jobs in the walk's order; workers take them front to back, at most
 * `window` jobs and READ_AHEAD_BYTES ahead of the one the walk needs. */
typedef struct jobq {
    segjob *jobs;
    size_t n, next, consumed, window;
    uint64_t ahead_bytes, sess_fp;
    const sigkeys *sk;
    bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} jobq;

static uint64_t job_bytes(const segjob *j)
{
    return j->r->m.segment_bytes;
}

static void *worker_main(void *arg)
{
    jobq *q = arg;
    mt_leaf_hasher lh;
    mt_errbuf eb;
    bool have_lh = mt_leaf_hasher_init(&lh, &eb) == MT_OK;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->stop && q->next < q->n && q->next > q->consumed &&
               (q->next - q->consumed >= q->window ||
                q->ahead_bytes + job_bytes(&q->jobs[q->next]) > READ_AHEAD_BYTES))
            pthread_cond_wait(&q->cv, &q->mu);
        if (q->stop || q->next >= q->n)
            break;
        segjob *j = &q->jobs[q->next++];
        q->ahead_bytes += job_bytes(j);
        pthread_mutex_unlock(&q->mu);
        if (have_lh) {
            run_job(j, &lh, q->sess_fp, q->sk);
        } else {
            j->read_err = MT_ERR_NOMEM;
            snprintf(j->e.msg, sizeof j->e.msg, "%s", eb.msg);
        }
        pthread_mutex_lock(&q->mu);
        j->done = true;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    if (have_lh)
        mt_leaf_hasher_free(&lh);
    return NULL;
}

static const mrec *find_by_sha(const archive *a, const uint8_t sha[MT_SHA256_LEN],
                               const pdir **pd_out)
{
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < a->ps[i].nms; j++) {
            const mrec *r = &a->ps[i].ms[j];
            if (r->parsed && r->m.kind == MT_MANIFEST_SEGMENT &&
                memcmp(r->m.sha256, sha, MT_SHA256_LEN) == 0) {
                *pd_out = &a->ps[i];
                return r;
            }
        }
    return NULL;
}

/* The walk's half of a segment check: waits for the segment's job (or runs
 * it here without workers), then judges and reports what it found. */
static void check_segment(vctx *v, const archive *a, const pdir *pd, const mrec *r)
{
    char where[PATH_MAX + 160];
    snprintf(where, sizeof where, "%s/%" PRId32 "/%s", pd->topic, pd->partition, r->m.segment);
    v->seg_checked++;
    if (v->job_next >= v->njobs || v->jobs[v->job_next].r != r) {
        problem(v, P_SEGMENT_UNREADABLE, where, "internal error: segment jobs out of step");
        return;
    }
    size_t k = v->job_next++;
    segjob *j = &v->jobs[k];
    if (v->q) {
        pthread_mutex_lock(&v->q->mu);
        while (!j->done)
            pthread_cond_wait(&v->q->cv, &v->q->mu);
        pthread_mutex_unlock(&v->q->mu);
    } else {
        run_job(j, &v->lh, v->sess_fp, &v->sk);
    }
    bool ok = true;
    if (j->read_err == MT_ERR_NOT_FOUND) {
        problem(v, P_SEGMENT_MISSING, where, "listed by manifest seq %" PRIu64 " (offsets %"
                PRId64 "..%" PRId64 ", %" PRIu64 " records) but the file is gone", r->seq,
                r->m.first_offset, r->m.last_offset, r->m.records);
        goto done;
    }
    if (j->read_err) {
        problem(v, P_SEGMENT_UNREADABLE, where, "%s", j->e.msg);
        goto done;
    }
    v->bytes += j->bytes;
    if (memcmp(j->sha, r->m.sha256, MT_SHA256_LEN) != 0) {
        ok = false;
        const pdir *opd = NULL;
        const mrec *other = find_by_sha(a, j->sha, &opd);
        char hex1[65], hex2[65];
        mt_hex_encode(r->m.sha256, MT_SHA256_LEN, hex1, sizeof hex1);
        mt_hex_encode(j->sha, MT_SHA256_LEN, hex2, sizeof hex2);
        if (other && other != r)
            problem(v, P_SEGMENT_SWAPPED, where, "holds the bytes of %s/%" PRId32 "/%s "
                    "(manifest seq %" PRIu64 "): segments swapped or moved", opd->topic,
                    opd->partition, other->m.segment, other->seq);
        else
            problem(v, P_SEGMENT_MODIFIED, where, "SHA-256 %s does not match the signed %s "
                    "(%zu bytes, manifest says %" PRIu64 ")", hex2, hex1, j->bytes,
                    r->m.segment_bytes);
    }
    /* Offset jumps and per-session seq, in record order. */
    for (size_t p = 0; p < j->ev.len;) {
        const uint8_t *e = j->ev.data + p;
        int64_t x[2];
        memcpy(x, e + 1, sizeof x);
        if (e[0] == EV_OFFSET_JUMP) {
            problem(v, P_OFFSET_GAP, where, "record offsets jump from %" PRId64 " to %" PRId64
                    " inside the segment", x[0], x[1]);
            p += 1 + sizeof x;
            continue;
        }
        if (e[0] == EV_STREAM) {
            stream_rec sr;
            memcpy(&sr, e + 1, sizeof sr);
            const char *sid = (const char *)e + 1 + sizeof sr;
            mt_stream_obs o = {.instance_id = sid, .instance_len = sr.id_len, .seq = sr.seq,
                               .session_prev = sr.session_prev, .ts_us = sr.ts_us,
                               .kind = sr.kind, .has_prev = sr.has_prev, .sig = sr.sig,
                               .heartbeat_ms = sr.heartbeat_ms,
                               .place = sr.place_len ? sid + sr.id_len : NULL,
                               .place_len = sr.place_len, .partition = pd->partition,
                               .offset = sr.offset};
            memcpy(o.own, sr.own, sizeof o.own);
            memcpy(o.prev, sr.prev, sizeof o.prev);
            p += 1 + sizeof sr + sr.id_len + sr.place_len;
            if (mt_streams_add(v->streams, &o) != MT_OK) {
                problem(v, P_SEGMENT_UNREADABLE, where, "out of memory for the stream table");
                ok = false;
                break;
            }
            v->pd_streams[pd - a->ps] = true;
            continue;
        }
        bool streamed = e[0] & 0x80;
        uint32_t len;
        memcpy(&len, e + 1 + sizeof x, sizeof len);
        const char *id = (const char *)e + 1 + sizeof x + sizeof len;
        p += 1 + sizeof x + sizeof len + len;
        int64_t seq = x[0], off = x[1];
        v->events++;
        bool created;
        sess *se = mt_strmap_get(&v->sessions, id, len, &created);
        if (!se) {
            problem(v, P_SEGMENT_UNREADABLE, where, "out of memory for the session table");
            ok = false;
            break;
        }
        if (streamed) {
            se->next = seq + 1; /* counted; judged by its stream */
        } else if (created) {
            if (seq > 0 && !v->filtered)
                problem(v, P_SEQ_GAP, where, "session %.*s starts at seq %" PRId64
                        " (seq 0..%" PRId64 " missing)", (int)len, id, seq, seq - 1);
            se->next = seq + 1;
        } else if (seq > se->next) {
            problem(v, P_SEQ_GAP, where, "session %.*s: seq %" PRId64 "..%" PRId64
                    " missing before offset %" PRId64, (int)len, id, se->next, seq - 1, off);
            se->next = seq + 1;
        } else if (seq == se->next) {
            se->next++;
        } /* lower: a duplicate (at-least-once), dropped by event_id on replay */
    }
    if (j->parse_failed) {
        problem(v, P_SEGMENT_UNREADABLE, where, "after %" PRIu64 " records: %s", j->n, j->e.msg);
        ok = false;
    } else {
        v->records += j->n;
        if (j->n != r->m.records) {
            problem(v, P_COUNT_MISMATCH, where, "%" PRIu64 " records in the file, the manifest "
                    "says %" PRIu64, j->n, r->m.records);
            ok = false;
        }
        if (memcmp(j->root, r->m.merkle_root, MT_SHA256_LEN) != 0) {
            problem(v, P_MERKLE_MISMATCH, where, "Merkle root of the records differs from the "
                    "signed root");
            ok = false;
        }
        if (j->n && (j->first != r->m.first_offset || j->last != r->m.last_offset)) {
            problem(v, P_OFFSET_GAP, where, "records span offsets %" PRId64 "..%" PRId64
                    ", the manifest says %" PRId64 "..%" PRId64, j->first, j->last,
                    r->m.first_offset, r->m.last_offset);
            ok = false;
        }
        if (j->gaps)
            ok = false;
    }
    if (ok)
        v->seg_valid++;
done:
    mt_buf_free(&j->ev);
    if (v->q) {
        pthread_mutex_lock(&v->q->mu);
        v->q->consumed = k + 1;
        v->q->ahead_bytes -= job_bytes(j);
        pthread_cond_broadcast(&v->q->cv);
        pthread_mutex_unlock(&v->q->mu);
    }
}

static bool in_range(const vctx *v, const mt_manifest *m)
{
    if (!v->filtered)
        return true;
    return m->ts_last_ms >= v->o->from_ms && m->ts_first_ms <= v->o->to_ms;
}

static void verify_pdir(vctx *v, const archive *a, const pdir *pd, int64_t latest_ms,
                        int64_t latest_close_ms)
{
    char where[PATH_MAX + 160];
    const mrec *prev = NULL;
    const mrec *last_ok = NULL;
    for (size_t i = 0; i < pd->nms; i++) {
        const mrec *r = &pd->ms[i];
        snprintf(where, sizeof where, "%s/%" PRId32 "/%012" PRIu64 ".manifest.json", pd->topic,
                 pd->partition, r->seq);
        uint64_t expect_seq = prev ? prev->seq + 1 : 0;
        if (r->seq != expect_seq) {
            if (prev)
                problem(v, P_MANIFEST_MISSING, where, "manifests seq %" PRIu64 "..%" PRIu64
                        " are missing before it", expect_seq, r->seq - 1);
            else
                problem(v, P_MANIFEST_MISSING, where, "the chain starts at seq %" PRIu64
                        " (seq 0..%" PRIu64 " missing: head of the archive removed)", r->seq,
                        r->seq - 1);
        }
        if (!r->parsed) {
            problem(v, P_MANIFEST_UNREADABLE, where, "%s", r->err);
            prev = r;
            continue;
        }
        const mt_manifest *m = &r->m;
        mt_errbuf e2 = {{0}};
        size_t k = 0;
        while (k < v->o->npubs && strcmp(m->key_id, v->key_ids[k]) != 0)
            k++;
        if (k == v->o->npubs)
            problem(v, P_BAD_SIGNATURE, where, "signed by key %s, not by a trusted archive key "
                    "(%s)", m->key_id, v->key_list);
        else if (mt_manifest_verify_sig(m, v->o->pubs[k], &e2) != MT_OK)
            problem(v, P_BAD_SIGNATURE, where, "signature does not verify: the manifest was "
                    "edited (records %" PRIu64 ", offsets %" PRId64 "..%" PRId64 " as it "
                    "reads now)", m->records, m->first_offset, m->last_offset);
        if (!r->canonical)
            problem(v, P_NONCANONICAL, where, "bytes are not the canonical JSON the archiver "
                    "writes");
        if (strcmp(m->topic, pd->topic) != 0 || m->partition != pd->partition ||
            m->seq != r->seq)
            problem(v, P_MISPLACED, where, "claims %s/%" PRId32 " seq %" PRIu64, m->topic,
                    m->partition, m->seq);
        if (prev && prev->parsed && r->seq == prev->seq + 1) {
            if (memcmp(m->prev_sha256, prev->file_sha, MT_SHA256_LEN) != 0)
                problem(v, P_CHAIN_BREAK, where, "prev_sha256 does not match manifest seq %"
                        PRIu64, prev->seq);
        } else if (!prev && r->seq == 0) {
            static const uint8_t zero[MT_SHA256_LEN];
            if (memcmp(m->prev_sha256, zero, MT_SHA256_LEN) != 0)
                problem(v, P_CHAIN_BREAK, where, "first manifest has a non-zero prev_sha256");
        }
        if (prev && prev->parsed) {
            int64_t expect = prev->m.next_offset;
            int64_t got = m->kind == MT_MANIFEST_SEGMENT ? m->first_offset : m->next_offset;
            if (got > expect)
                problem(v, P_OFFSET_GAP, where, "offsets %" PRId64 "..%" PRId64 " are in no "
                        "segment", expect, got - 1);
            else if (got < expect)
                problem(v, P_OFFSET_GAP, where, "starts at offset %" PRId64 ", before the "
                        "previous manifest's next offset %" PRId64 " (overlap)", got, expect);
        }
        if (m->kind == MT_MANIFEST_SEGMENT) {
            v->seg_total++;
            if (in_range(v, m))
                check_segment(v, a, pd, r);
        } else if (m->kind == MT_MANIFEST_HEARTBEAT) {
            v->heartbeats++;
        } else {
            v->closes++;
        }
        prev = r;
        last_ok = r;
    }
    /* Segment files that no manifest lists. */
    for (size_t i = 0; i < pd->nsegs; i++) {
        bool listed = false;
        for (size_t j = 0; j < pd->nms && !listed; j++)
            listed = pd->ms[j].parsed && strcmp(pd->ms[j].m.segment, pd->segs[i]) == 0;
        if (!listed) {
            snprintf(where, sizeof where, "%s/%" PRId32 "/%s", pd->topic, pd->partition,
                     pd->segs[i]);
            problem(v, P_ORPHAN, where, "no manifest lists this segment (unsigned data, or its "
                    "manifest was deleted)");
        }
    }
    /* Tail. */
    snprintf(where, sizeof where, "%s/%" PRId32, pd->topic, pd->partition);
    if (!last_ok || !last_ok->parsed)
        return;
    const mt_manifest *lm = &last_ok->m;
    if (lm->kind == MT_MANIFEST_CLOSE)
        return;
    int64_t hb = lm->heartbeat_ms;
    if (latest_close_ms > lm->created_ms)
        problem(v, P_TAIL_TRUNCATED, where, "the chain ends at seq %" PRIu64 " (next offset %"
                PRId64 ") without a close manifest, but the archiver stopped cleanly later "
                "(close manifests at %" PRId64 " ms)", last_ok->seq, lm->next_offset,
                latest_close_ms);
    else if (latest_ms - lm->created_ms > 3 * hb + TAIL_SLACK_MS)
        problem(v, P_TAIL_TRUNCATED, where, "last manifest (seq %" PRIu64 ") is %" PRId64
                " ms older than the newest manifest of the archive; with heartbeats every %"
                PRId64 " ms its tail was removed", last_ok->seq, latest_ms - lm->created_ms,
                hb);
    else if (v->o->now_ms > 0 && v->o->now_ms - lm->created_ms > v->o->max_age_ms)
        problem(v, P_TAIL_TRUNCATED, where, "last manifest (seq %" PRIu64 ") is %" PRId64
                " ms old (--max-age %" PRId64 " ms) and not a close manifest; heartbeats come "
                "every %" PRId64 " ms", last_ok->seq, v->o->now_ms - lm->created_ms,
                v->o->max_age_ms, hb);
}

/* One job per segment the walk will check (same conditions as verify_pdir),
 * then the workers: o->threads, or one per online CPU (at most
 * MAX_VERIFY_THREADS); none with one thread or fewer than two segments. */
static mt_err start_jobs(vctx *v, const archive *a, jobq *q, pthread_t *th, size_t *nth,
                         mt_errbuf *eb)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < a->n; i++)
            for (size_t k = 0; k < a->ps[i].nms; k++) {
                const mrec *r = &a->ps[i].ms[k];
                if (!r->parsed || r->m.kind != MT_MANIFEST_SEGMENT || !in_range(v, &r->m))
                    continue;
                if (pass == 1)
                    v->jobs[n] = (segjob){.pd = &a->ps[i], .r = r, .ev = MT_BUF_INIT};
                n++;
            }
        if (pass == 0) {
            v->jobs = calloc(n ? n : 1, sizeof *v->jobs);
            if (!v->jobs)
                return mt_fail(eb, MT_ERR_NOMEM, "verify: out of memory for %zu segments", n);
            n = 0;
        }
    }
    v->njobs = n;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = v->o->threads ? v->o->threads : (size_t)(cpus > 0 ? cpus : 1);
    if (want > MAX_VERIFY_THREADS)
        want = MAX_VERIFY_THREADS;
    if (want < 2 || n < 2)
        return MT_OK;
    *q = (jobq){.jobs = v->jobs, .n = n, .window = want + 1, .sess_fp = v->sess_fp,
                .sk = &v->sk};
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    v->q = q;
    for (*nth = 0; *nth < want; (*nth)++)
        if (pthread_create(&th[*nth], NULL, worker_main, q) != 0)
            break;
    if (*nth == 0) { /* no thread: the walk runs every job itself */
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        v->q = NULL;
    }
    return MT_OK;
}

static void stop_jobs(vctx *v, jobq *q, pthread_t *th, size_t nth)
{
    if (v->q) {
        pthread_mutex_lock(&q->mu);
        q->stop = true; /* the walk took every job; this only wakes waiting workers */
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
        for (size_t i = 0; i < nth; i++)
            pthread_join(th[i], NULL);
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
    }
    for (size_t i = 0; i < v->njobs; i++)
        mt_buf_free(&v->jobs[i].ev);
    free(v->jobs);
}

mt_err mt_archive_verify(const mt_verify_opts *o, FILE *out, uint64_t *problems, mt_errbuf *eb)
{
    archive a;
    vctx v = {.o = o, .out = out};
    mt_strmap_init(&v.sessions, sizeof(sess));
    if (o->npubs < 1 || o->npubs > MT_VERIFY_MAX_KEYS || !o->pubs)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "verify: give 1 to %d public keys",
                       MT_VERIFY_MAX_KEYS);
    mt_err err = MT_OK;
    size_t kl = 0;
    for (size_t k = 0; k < o->npubs && !err; k++) {
        err = mt_ed25519_key_id(o->pubs[k], v.key_ids[k], eb);
        if (!err)
            kl += (size_t)snprintf(v.key_list + kl, sizeof v.key_list - kl, "%s%s",
                                   k ? ", " : "", v.key_ids[k]);
    }
    if (err || (err = mt_leaf_hasher_init(&v.lh, eb)) != MT_OK)
        return err;
    if ((err = archive_load(o->dir, &a, eb)) != MT_OK) {
        mt_leaf_hasher_free(&v.lh);
        return err;
    }
    v.sess_fp = session_fp(o->schema_dir);
    v.filtered = o->from_ms != INT64_MIN || o->to_ms != INT64_MAX;
    fprintf(out, "Validating archive %s with public key%s %s\n", o->dir,
            o->npubs > 1 ? "s" : "", v.key_list);
    if (v.filtered)
        fprintf(out, "Segments with records from %" PRId64 " to %" PRId64 " ms (manifest "
                "chains are checked in full)\n", o->from_ms, o->to_ms);
    if (!v.sess_fp)
        fprintf(out, "note: SessionEvent schema not found (--schemas DIR or "
                "MCPTRAIL_SCHEMA_DIR): per-session seq and stream checks skipped\n");
    int64_t latest = 0, latest_close = 0;
    for (size_t i = 0; i < a.n; i++)
        for (size_t j = 0; j < a.ps[i].nms; j++) {
            const mrec *r = &a.ps[i].ms[j];
            if (!r->parsed)
                continue;
            if (r->m.created_ms > latest)
                latest = r->m.created_ms;
            if (r->m.kind == MT_MANIFEST_CLOSE && j + 1 == a.ps[i].nms &&
                r->m.created_ms > latest_close)
                latest_close = r->m.created_ms;
        }
    jobq q = {0};
    pthread_t th[MAX_VERIFY_THREADS];
    size_t nth = 0;
    if (o->nsidecar_pubs > MT_VERIFY_MAX_KEYS)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "verify: at most %d sidecar keys",
                       MT_VERIFY_MAX_KEYS);
    v.sk.keys = o->sidecar_pubs;
    for (size_t k = 0; k < o->nsidecar_pubs; k++)
        if ((err = mt_ed25519_key_id(o->sidecar_pubs[k], v.sk.ids[k], eb)) != MT_OK)
            return err;
    v.sk.n = o->nsidecar_pubs;
    if ((err = mt_streams_new(&v.streams, eb)) != MT_OK ||
        !(v.pd_streams = calloc(a.n ? a.n : 1, sizeof *v.pd_streams)) ||
        (err = start_jobs(&v, &a, &q, th, &nth, eb)) != MT_OK) {
        if (!err)
            err = mt_fail(eb, MT_ERR_NOMEM, "verify: out of memory");
        mt_streams_free(v.streams);
        free(v.pd_streams);
        mt_strmap_free(&v.sessions);
        mt_leaf_hasher_free(&v.lh);
        archive_free(&a);
        return err;
    }
    for (size_t i = 0; i < a.n; i++) {
        uint64_t before = v.problems;
        verify_pdir(&v, &a, &a.ps[i], latest, latest_close);
        if (!o->quiet)
            fprintf(out, "%s/%" PRId32 ": %zu manifests, %s\n", a.ps[i].topic,
                    a.ps[i].partition, a.ps[i].nms, v.problems == before ? "valid" : "INVALID");
    }
    mt_streams_summary ss = {0};
    if (v.filtered) {
        fprintf(out, "streams: not judged with --from/--to (they span the whole archive)\n");
    } else {
        /* Until when the archive holds everything: the oldest last manifest of
         * the partitions of the topics that carry stream events. */
        int64_t cover = 0;
        for (size_t i = 0; i < a.n; i++) {
            bool topic_has = false;
            for (size_t k = 0; k < a.n && !topic_has; k++)
                topic_has = v.pd_streams[k] && strcmp(a.ps[k].topic, a.ps[i].topic) == 0;
            const mrec *last = NULL;
            for (size_t j = 0; j < a.ps[i].nms; j++)
                if (a.ps[i].ms[j].parsed)
                    last = &a.ps[i].ms[j];
            if (topic_has && last && (cover == 0 || last->m.created_ms < cover))
                cover = last->m.created_ms;
        }
        mt_streams_judge_signatures(v.streams, v.sk.n > 0);
        if (!v.sk.n)
            fprintf(out, "streams: checkpoint signatures not judged (no --sidecar-key)\n");
        mt_streams_check(v.streams, cover, stream_problem, o->quiet ? NULL : stream_line, &v,
                         &ss);
    }
    fprintf(out, "\nResults:\n");
    fprintf(out, "  %" PRIu64 "/%" PRIu64 " segments checked are valid (%" PRIu64
            " in the chains, %" PRIu64 " heartbeats, %" PRIu64 " close manifests)\n",
            v.seg_valid, v.seg_checked, v.seg_total, v.heartbeats, v.closes);
    fprintf(out, "  %" PRIu64 " records (%" PRIu64 " session events in %zu sessions), %" PRIu64
            " segment bytes\n", v.records, v.events, mt_strmap_count(&v.sessions), v.bytes);
    fprintf(out, "  %zu sidecar streams (%zu stopped cleanly, %zu live, %zu unclean stops), %zu "
            "stream events\n", ss.instances, ss.stopped, ss.live, ss.unclean, ss.events);
    for (int c = 0; c < P_N; c++)
        fprintf(out, "  %-22s %" PRIu64 "\n", pname(c), v.counts[c]);
    fprintf(out, "Result: %s (%" PRIu64 " problems)\n", v.problems ? "INVALID" : "VALID",
            v.problems);
    *problems = v.problems;
    if (o->content_problems) {
        uint64_t c = v.counts[P_SEQ_GAP];
        for (int k = P_STREAM0; k < P_N; k++)
            c += v.counts[k];
        *o->content_problems = c;
    }
    stop_jobs(&v, &q, th, nth);
    mt_streams_free(v.streams);
    free(v.pd_streams);
    mt_strmap_free(&v.sessions);
    mt_leaf_hasher_free(&v.lh);
    archive_free(&a);
    return MT_OK;
}

/* ---- prove / ids ----------------------------------------------------------- */

typedef struct pctx {
    const char *id;
    size_t id_len;
    mt_buf leaves;
    uint64_t n;
    int64_t found; /* index or -1 */
    int64_t offset;
    mt_buf value;
    FILE *out;
    const char *topic;
    int32_t partition;
} pctx;

static int prove_cb(const mt_segment_record *r, void *ctx)
{
    pctx *p = ctx;
    uint8_t leaf[MT_SHA256_LEN];
    if (mt_merkle_leaf_hash(r->value, r->value_len, leaf) != MT_OK ||
        mt_buf_append(&p->leaves, leaf, sizeof leaf) != MT_OK)
        return 1;
    if (p->found < 0) {
        mt_record_ids ids;
        if (mt_record_ids_parse(r->value, r->value_len, 0, &ids) == MT_OK &&
            ids.id_len == p->id_len && memcmp(ids.id, p->id, p->id_len) == 0) {
            p->found = (int64_t)p->n;
            p->offset = r->offset;
            mt_buf_reset(&p->value);
            if (mt_buf_append(&p->value, r->value, r->value_len) != MT_OK)
                return 1;
        }
    }
    p->n++;
    return 0;
}

static int ids_cb(const mt_segment_record *r, void *ctx)
{
    pctx *p = ctx;
    mt_record_ids ids;
    if (mt_record_ids_parse(r->value, r->value_len, 0, &ids) == MT_OK)
        fprintf(p->out, "%s\t%" PRId32 "\t%" PRId64 "\t%.*s\n", p->topic, p->partition,
                r->offset, (int)ids.id_len, ids.id);
    else
        fprintf(p->out, "%s\t%" PRId32 "\t%" PRId64 "\t-\n", p->topic, p->partition, r->offset);
    return 0;
}

static mt_err walk(const char *dir, const char *id, FILE *out, bool prove, mt_errbuf *eb)
{
    archive a;
    mt_err err = archive_load(dir, &a, eb);
    if (err)
        return err;
    pctx p = {.id = id, .id_len = id ? strlen(id) : 0, .found = -1, .out = out};
    mt_buf data = MT_BUF_INIT, mtext = MT_BUF_INIT;
    bool done = false;
    for (size_t i = 0; i < a.n && !done && !err; i++) {
        pdir *pd = &a.ps[i];
        p.topic = pd->topic;
        p.partition = pd->partition;
        for (size_t j = 0; j < pd->nms && !done; j++) {
            mrec *r = &pd->ms[j];
            if (!r->parsed || r->m.kind != MT_MANIFEST_SEGMENT)
                continue;
            char path[PATH_MAX + 160];
            snprintf(path, sizeof path, "%s/%s", pd->path, r->m.segment);
            if ((err = mt_read_file(path, MAX_SEGMENT_FILE, &data, eb)) != MT_OK)
                break;
            mt_buf_reset(&p.leaves);
            p.n = 0;
            if ((err = mt_segment_read(data.data, data.len, prove ? prove_cb : ids_cb, &p,
                                       eb)) != MT_OK) {
                err = mt_fail(eb, err, "%s: %s", path, eb ? eb->msg : "unreadable");
                break;
            }
            if (!prove || p.found < 0)
                continue;
            done = true;
            uint8_t proof[MT_MERKLE_MAX_PROOF * MT_SHA256_LEN], root[MT_SHA256_LEN];
            size_t plen = 0;
            if ((err = mt_merkle_inclusion_proof(p.leaves.data, p.n, (uint64_t)p.found, proof,
                                                 &plen, eb)) != MT_OK ||
                (err = mt_merkle_root(p.leaves.data, p.n, root, eb)) != MT_OK)
                break;
            char mpath[PATH_MAX + 160];
            snprintf(mpath, sizeof mpath, "%s/%012" PRIu64 ".manifest.json", pd->path, r->seq);
            if ((err = mt_read_file(mpath, MT_MANIFEST_MAX_BYTES, &mtext, eb)) != MT_OK)
                break;
            json_t *o = json_object(), *arr = json_array();
            char hex[2 * MT_SHA256_LEN + 1];
            for (size_t k = 0; k < plen; k++) {
                mt_hex_encode(proof + k * MT_SHA256_LEN, MT_SHA256_LEN, hex, sizeof hex);
                json_array_append_new(arr, json_string(hex));
            }
            char *vhex = malloc(2 * p.value.len + 1);
            mt_hex_encode(p.value.data, p.value.len, vhex, 2 * p.value.len + 1);
            json_object_set_new(o, "id", json_string(id));
            json_object_set_new(o, "topic", json_string(pd->topic));
            json_object_set_new(o, "partition", json_integer(pd->partition));
            json_object_set_new(o, "offset", json_integer(p.offset));
            json_object_set_new(o, "segment", json_string(r->m.segment));
            json_object_set_new(o, "leaf_index", json_integer(p.found));
            json_object_set_new(o, "tree_size", json_integer((json_int_t)p.n));
            json_object_set_new(o, "leaf", json_string(vhex));
            uint8_t lh[MT_SHA256_LEN];
            mt_merkle_leaf_hash(p.value.data, p.value.len, lh);
            mt_hex_encode(lh, MT_SHA256_LEN, hex, sizeof hex);
            json_object_set_new(o, "leaf_hash", json_string(hex));
            json_object_set_new(o, "proof", arr);
            mt_hex_encode(root, MT_SHA256_LEN, hex, sizeof hex);
            json_object_set_new(o, "merkle_root", json_string(hex));
            json_object_set_new(o, "manifest", json_stringn((const char *)mtext.data,
                                                            mtext.len));
            free(vhex);
            char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
            json_decref(o);
            if (!s) {
                err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
                break;
            }
            fprintf(out, "%s\n", s);
            free(s);
        }
    }
    if (!err && prove && !done)
        err = mt_fail(eb, MT_ERR_NOT_FOUND, "no record with id %s in %s", id, dir);
    mt_buf_free(&data);
    mt_buf_free(&mtext);
    mt_buf_free(&p.leaves);
    mt_buf_free(&p.value);
    archive_free(&a);
    return err;
}

mt_err mt_archive_prove(const char *dir, const char *id, FILE *out, mt_errbuf *eb)
{
    return walk(dir, id, out, true, eb);
}

mt_err mt_archive_list_ids(const char *dir, FILE *out, mt_errbuf *eb)
{
    return walk(dir, NULL, out, false, eb);
}

int mt_archive_parse_time_ms(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && !*end) {
        *out = v;
        return 0;
    }
    struct tm tm = {0};
    char z = 0, extra = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z, &extra) != 7 || z != 'Z')
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm) * 1000;
    return 0;
}
