/* Record sources for mcptrail-replay (see source.h).
 *
 * Archive layout (docs/archive.md): DIR/<topic>/<partition>/<seq>.avro with
 * <seq>.manifest.json beside it; *.tmp files are in-progress and skipped.
 * Segments are read whole into memory (bounded) and decoded with the
 * archiver's segment reader, so replay accepts exactly what verify checks.
 * Topic: an assign-only consumer over every partition from the beginning;
 * the scan ends once every partition has reported its end and nothing more
 * arrived for idle_ms. */
#define _GNU_SOURCE
#include "source.h"

#include <dirent.h>
#include <inttypes.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

#include "mcptrail/archive.h"
#include "mcptrail/buf.h"

#define MAX_SEGMENT_FILE ((size_t)1 << 32)
#define MAX_PARTITIONS 4096

const char *mt_replay_integrity_name(mt_replay_integrity i)
{
    switch (i) {
    case MT_INTEGRITY_NOT_CHECKED:
        return "not verified";
    case MT_INTEGRITY_OK:
        return "verified";
    case MT_INTEGRITY_FAILED:
        return "FAILED";
    }
    return "?";
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of dir's entries (files and dirs) not starting with '.'. */
static mt_err list_dir(const char *dir, char ***out, size_t *n, mt_errbuf *eb)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return mt_fail(eb, errno == ENOENT ? MT_ERR_NOT_FOUND : MT_ERR_IO, "%s: %s", dir,
                       strerror(errno));
    size_t cap = 0;
    struct dirent *e;
    mt_err err = MT_OK;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(*out, cap * sizeof *nv);
            if (!nv) {
                err = mt_fail(eb, MT_ERR_NOMEM, "out of memory listing %s", dir);
                break;
            }
            *out = nv;
        }
        if (!((*out)[*n] = strdup(e->d_name))) {
            err = mt_fail(eb, MT_ERR_NOMEM, "out of memory listing %s", dir);
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(*out, *n, sizeof **out, cmp_str);
    return err;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static mt_err add_seg(mt_replay_source *s, const char *pdir, const char *topic, int32_t part,
                      const char *file, mt_errbuf *eb)
{
    mt_replay_seg *nv = realloc(s->segs, (s->nsegs + 1) * sizeof *nv);
    if (!nv)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    s->segs = nv;
    mt_replay_seg *g = &s->segs[s->nsegs];
    memset(g, 0, sizeof *g);
    if (asprintf(&g->path, "%s/%s", pdir, file) < 0 || !(g->topic = strdup(topic))) {
        free(g->path);
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    g->partition = part;
    s->nsegs++;
    /* The manifest's claims, for the export's integrity panel. Its
     * signature and the file hash are checked by verify, not here. */
    char *mpath = NULL;
    size_t stem = strlen(file) - strlen(".avro");
    if (asprintf(&mpath, "%s/%.*s.manifest.json", pdir, (int)stem, file) < 0)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    mt_buf b = {0};
    mt_errbuf e2 = {{0}};
    if (mt_read_file(mpath, MT_MANIFEST_MAX_BYTES, &b, &e2) == MT_OK) {
        mt_manifest m;
        bool canon;
        if (mt_manifest_parse(b.data, b.len, &m, &canon, &e2) == MT_OK) {
            g->has_manifest = true;
            g->records = m.records;
            mt_hex_encode(m.sha256, sizeof m.sha256, g->sha256, sizeof g->sha256);
        }
    }
    mt_buf_free(&b);
    free(mpath);
    return MT_OK;
}

static mt_err list_segments(mt_replay_source *s, mt_errbuf *eb)
{
    char **topics = NULL;
    size_t nt = 0;
    mt_err err = list_dir(s->dir, &topics, &nt, eb);
    for (size_t t = 0; !err && t < nt; t++) {
        char *tdir = NULL;
        if (asprintf(&tdir, "%s/%s", s->dir, topics[t]) < 0)
            return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        if (!is_dir(tdir)) {
            free(tdir);
            continue;
        }
        char **parts = NULL;
        size_t np = 0;
        err = list_dir(tdir, &parts, &np, eb);
        for (size_t p = 0; !err && p < np; p++) {
            char *end;
            long part = strtol(parts[p], &end, 10);
            if (*end || part < 0 || part > INT32_MAX)
                continue;
            char *pdir = NULL;
            if (asprintf(&pdir, "%s/%s", tdir, parts[p]) < 0) {
                err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
                break;
            }
            char **files = NULL;
            size_t nf = 0;
            if (is_dir(pdir))
                err = list_dir(pdir, &files, &nf, eb);
            for (size_t f = 0; !err && f < nf; f++)
                if (ends_with(files[f], ".avro") && strncmp(files[f], "open-", 5) != 0)
                    err = add_seg(s, pdir, topics[t], (int32_t)part, files[f], eb);
            free_list(files, nf);
            free(pdir);
        }
        free_list(parts, np);
        free(tdir);
    }
    free_list(topics, nt);
    return err;
}

mt_err mt_replay_source_open(mt_replay_source *s, const mt_ed25519_key *const *pubs,
                             size_t npubs, mt_errbuf *eb)
{
    s->integrity = MT_INTEGRITY_NOT_CHECKED;
    if (!s->dir)
        return MT_OK;
    if (!is_dir(s->dir))
        return mt_fail(eb, MT_ERR_NOT_FOUND, "archive directory %s does not exist", s->dir);
    mt_err err = list_segments(s, eb);
    if (err || !npubs)
        return err;
    char *text = NULL;
    size_t tlen = 0;
    FILE *mem = open_memstream(&text, &tlen);
    if (!mem)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    uint64_t problems = 0, content = 0;
    mt_verify_opts o = {.dir = s->dir, .pubs = pubs, .npubs = npubs, .from_ms = INT64_MIN,
                        .to_ms = INT64_MAX, .quiet = true, .schema_dir = s->schema_dir,
                        .content_problems = &content};
    err = mt_archive_verify(&o, mem, &problems, eb);
    fclose(mem);
    s->verify_report = text;
    if (err)
        return err;
    /* verify also reports what is missing from the recorded sessions and
     * streams (seq-gap, event-missing, instance-tail-missing ...), which is
     * not a defect of the archive (it holds exactly what was on the topic):
     * replay reports sessions' gaps itself, per session and exactly, and
     * `report` the streams', so they do not make the archive FAILED here. */
    s->seq_gap_problems = content <= problems ? content : problems;
    s->problems = problems - s->seq_gap_problems;
    s->integrity = s->problems ? MT_INTEGRITY_FAILED : MT_INTEGRITY_OK;
    return MT_OK;
}

typedef struct seg_ctx {
    mt_replay_cb cb;
    void *ctx;
    mt_replay_rec rec;
    uint64_t n;
} seg_ctx;

static int on_segment_record(const mt_segment_record *r, void *vctx)
{
    seg_ctx *c = vctx;
    c->rec.offset = r->offset;
    c->rec.timestamp_ms = r->timestamp_ms;
    c->rec.value = r->value;
    c->rec.len = r->value_len;
    c->n++;
    return c->cb(&c->rec, c->ctx);
}

/* A segment's bytes: mapped read-only when possible (no copy into a heap
 * buffer, which costs more than decoding an uncompressed segment), else
 * read with the archiver's bounded reader. */
typedef struct segbytes {
    const uint8_t *data;
    size_t len;
    void *map;
    size_t map_len;
    mt_buf buf;
} segbytes;

static mt_err seg_open(const char *path, segbytes *b, mt_errbuf *eb)
{
    b->map = NULL;
    b->map_len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size <= MAX_SEGMENT_FILE) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
            close(fd);
            b->map = m;
            b->map_len = (size_t)st.st_size;
            b->data = m;
            b->len = b->map_len;
            return MT_OK;
        }
    }
    if (fd >= 0)
        close(fd);
    mt_buf_reset(&b->buf);
    mt_err err = mt_read_file(path, MAX_SEGMENT_FILE, &b->buf, eb);
    b->data = b->buf.data;
    b->len = b->buf.len;
    return err;
}

static void seg_close(segbytes *b)
{
    if (b->map)
        munmap(b->map, b->map_len);
    b->map = NULL;
}

static mt_err scan_archive_serial(mt_replay_source *s, mt_replay_cb cb, void *ctx, mt_errbuf *eb)
{
    segbytes file = {0};
    mt_err err = MT_OK;
    for (size_t i = 0; i < s->nsegs && !err; i++) {
        const mt_replay_seg *g = &s->segs[i];
        err = seg_open(g->path, &file, eb);
        if (err)
            break;
        seg_ctx c = {cb, ctx, {g->topic, g->partition, 0, 0, NULL, 0, i}, 0};
        mt_errbuf e2 = {{0}};
        err = mt_segment_read(file.data, file.len, on_segment_record, &c, &e2);
        seg_close(&file);
        s->records_scanned += c.n;
        if (err && err != MT_ERR_STATE) {
            /* keep going: one damaged segment must not hide the rest of the
             * archive from an auditor; the caller reports it loudly */
            s->bad_segments++;
            snprintf(s->bad_msg, sizeof s->bad_msg, "segment %s: %s (%" PRIu64
                     " records read before the error)", g->path, e2.msg, c.n);
            err = MT_OK;
        } else if (err) {
            mt_fail(eb, err, "%s", e2.msg);
        }
    }
    mt_buf_free(&file.buf);
    return err;
}

/* ---- parallel archive scan ----------------------------------------------------
 * Reading a segment is mostly inflate; the callback's work (summary decode,
 * hash lookups) is a fraction of it. Worker threads read and inflate whole
 * segments into chunks of copied records; the calling thread consumes the
 * segments strictly in order, so callers see exactly the serial order.
 * Memory is bounded: a worker whose segment is not the one being consumed
 * waits while the chunks outstanding exceed PAR_BUDGET. */
#define PAR_CHUNK ((size_t)4 << 20)
#define PAR_BUDGET ((size_t)256 << 20)
#define PAR_MAX_WORKERS 4
#define PAR_MAX_SPARE 8

typedef struct chunk {
    struct chunk *next;
    size_t len, cap;
    uint8_t data[]; /* records: int64 offset, int64 ts, uint32 len, bytes */
} chunk;

typedef struct slot {
    chunk *head, *tail;
    bool done;
    mt_err err;
    char msg[sizeof ((mt_errbuf *)0)->msg];
    uint64_t n;
} slot;

typedef struct par {
    mt_replay_source *s;
    slot *slots;
    size_t next;     /* next segment a worker takes */
    size_t consumed; /* segment the caller is consuming */
    size_t outstanding;
    chunk *spare; /* consumed PAR_CHUNK chunks kept for reuse: a fresh 4 MiB
                   * malloc is an mmap, and its page faults and the munmap's
                   * TLB shootdowns cost as much as the inflate */
    size_t nspare;
    bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} par;

typedef struct wctx {
    par *p;
    size_t seg;
    chunk *cur;
} wctx;

static void publish(wctx *w)
{
    par *p = w->p;
    chunk *c = w->cur;
    w->cur = NULL;
    if (!c)
        return;
    pthread_mutex_lock(&p->mu);
    slot *sl = &p->slots[w->seg];
    if (sl->tail)
        sl->tail->next = c;
    else
        sl->head = c;
    sl->tail = c;
    p->outstanding += c->cap;
    pthread_cond_broadcast(&p->cv);
    while (!p->stop && p->outstanding > PAR_BUDGET && p->consumed != w->seg)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static int on_par_record(const mt_segment_record *r, void *vctx)
{
    wctx *w = vctx;
    size_t need = 20 + r->value_len;
    if (w->cur && w->cur->len + need > w->cur->cap)
        publish(w);
    if (!w->cur && need <= PAR_CHUNK) {
        pthread_mutex_lock(&w->p->mu);
        if ((w->cur = w->p->spare)) {
            w->p->spare = w->cur->next;
            w->p->nspare--;
        }
        pthread_mutex_unlock(&w->p->mu);
        if (w->cur) {
            w->cur->next = NULL;
            w->cur->len = 0;
        }
    }
    if (!w->cur) {
        size_t cap = need > PAR_CHUNK ? need : PAR_CHUNK;
        if (!(w->cur = malloc(sizeof(chunk) + cap)))
            return 1;
        w->cur->next = NULL;
        w->cur->len = 0;
        w->cur->cap = cap;
    }
    uint8_t *o = w->cur->data + w->cur->len;
    uint32_t vl = (uint32_t)r->value_len;
    memcpy(o, &r->offset, 8);
    memcpy(o + 8, &r->timestamp_ms, 8);
    memcpy(o + 16, &vl, 4);
    memcpy(o + 20, r->value, r->value_len);
    w->cur->len += need;
    return __atomic_load_n(&w->p->stop, __ATOMIC_RELAXED) ? 1 : 0;
}

static void *worker(void *arg)
{
    par *p = arg;
    segbytes file = {0};
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next;
        if (i < p->s->nsegs && !p->stop)
            p->next++;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->s->nsegs || __atomic_load_n(&p->stop, __ATOMIC_RELAXED))
            break;
        slot *sl = &p->slots[i];
        mt_errbuf e2 = {{0}};
        wctx w = {p, i, NULL};
        mt_err err = seg_open(p->s->segs[i].path, &file, &e2);
        if (!err) {
            err = mt_segment_read(file.data, file.len, on_par_record, &w, &e2);
            seg_close(&file);
            if (err == MT_ERR_STATE && !__atomic_load_n(&p->stop, __ATOMIC_RELAXED))
                err = mt_fail(&e2, MT_ERR_NOMEM, "out of memory reading %s",
                              p->s->segs[i].path);
        }
        publish(&w);
        pthread_mutex_lock(&p->mu);
        sl->done = true;
        sl->err = err;
        snprintf(sl->msg, sizeof sl->msg, "%s", e2.msg);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    mt_buf_free(&file.buf);
    return NULL;
}

static int workers_wanted(size_t nsegs)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const char *env = getenv("MT_REPLAY_THREADS");
    if (env && *env)
        cpus = strtol(env, NULL, 10);
    if (cpus > PAR_MAX_WORKERS)
        cpus = PAR_MAX_WORKERS;
    if ((size_t)cpus > nsegs)
        cpus = (long)nsegs;
    return cpus < 1 ? 1 : (int)cpus;
}

/* Whether the first segment's header names the deflate codec: only then do
 * worker threads pay (for null-codec segments the copy into chunks costs
 * more than the decoding it moves off the calling thread). */
static bool first_segment_deflated(const mt_replay_source *s)
{
    char head[1024];
    int fd = s->nsegs ? open(s->segs[0].path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return false;
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    return n > 0 && memmem(head, (size_t)n, "deflate", 7) != NULL;
}

static mt_err scan_archive(mt_replay_source *s, mt_replay_cb cb, void *ctx, mt_errbuf *eb)
{
    int nw = first_segment_deflated(s) ? workers_wanted(s->nsegs) : 1;
    if (nw <= 1 || s->nsegs < 2)
        return scan_archive_serial(s, cb, ctx, eb);
    par p = {.s = s};
    p.slots = calloc(s->nsegs, sizeof *p.slots);
    if (!p.slots)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    pthread_t th[PAR_MAX_WORKERS];
    int started = 0;
    for (int i = 0; i < nw; i++)
        if (pthread_create(&th[i], NULL, worker, &p) == 0)
            started++;
    mt_err err = MT_OK;
    if (!started) {
        err = scan_archive_serial(s, cb, ctx, eb);
        goto out;
    }
    for (size_t i = 0; i < s->nsegs && !err; i++) {
        const mt_replay_seg *g = &s->segs[i];
        mt_replay_rec rec = {g->topic, g->partition, 0, 0, NULL, 0, i};
        uint64_t n = 0;
        pthread_mutex_lock(&p.mu);
        p.consumed = i;
        pthread_cond_broadcast(&p.cv);
        for (;;) {
            slot *sl = &p.slots[i];
            while (!sl->head && !sl->done)
                pthread_cond_wait(&p.cv, &p.mu);
            chunk *c = sl->head;
            if (!c)
                break; /* done and drained */
            sl->head = c->next;
            if (!sl->head)
                sl->tail = NULL;
            pthread_mutex_unlock(&p.mu);
            for (size_t off = 0; off < c->len && !err;) {
                uint32_t vl;
                memcpy(&rec.offset, c->data + off, 8);
                memcpy(&rec.timestamp_ms, c->data + off + 8, 8);
                memcpy(&vl, c->data + off + 16, 4);
                rec.value = c->data + off + 20;
                rec.len = vl;
                off += 20 + (size_t)vl;
                n++;
                if (cb(&rec, ctx))
                    err = MT_ERR_STATE;
            }
            pthread_mutex_lock(&p.mu);
            p.outstanding -= c->cap;
            pthread_cond_broadcast(&p.cv);
            if (c->cap == PAR_CHUNK && p.nspare < PAR_MAX_SPARE) {
                c->next = p.spare;
                p.spare = c;
                p.nspare++;
            } else {
                free(c);
            }
            if (err)
                break;
        }
        slot *sl = &p.slots[i];
        s->records_scanned += n;
        if (!err && sl->err) {
            s->bad_segments++;
            snprintf(s->bad_msg, sizeof s->bad_msg,
                     "segment %s: %s (%" PRIu64 " records read before the error)", g->path,
                     sl->msg, n);
        }
        pthread_mutex_unlock(&p.mu);
    }
    if (err == MT_ERR_STATE)
        mt_fail(eb, err, "scan stopped by the caller");
    pthread_mutex_lock(&p.mu);
    p.stop = true;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
out:
    for (chunk *c = p.spare, *nx; c; c = nx) {
        nx = c->next;
        free(c);
    }
    for (size_t i = 0; i < s->nsegs; i++)
        for (chunk *c = p.slots[i].head, *nx; c; c = nx) {
            nx = c->next;
            free(c);
        }
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    free(p.slots);
    return err;
}

typedef struct part_state {
    size_t topic;
    int32_t partition;
    bool at_end;
} part_state;

#define MAX_TOPICS 16

/* s->topics: the events topic, optionally with the approval topics (so
 * export finds votes and decisions as it does in an archive). Every
 * partition of every topic is read from its beginning. */
static mt_err scan_topic(mt_replay_source *s, mt_replay_cb cb, void *ctx, mt_errbuf *eb)
{
    const char *const *topics = s->topics;
    size_t ntopics = s->ntopics;
    if (ntopics == 0 || ntopics > MAX_TOPICS)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "--topic: give 1 to %d topics", MAX_TOPICS);
    mt_consumer *c = NULL;
    mt_consumer_config cc = {.kafka = s->kafka,
                             .group_id = "mcptrail-replay",
                             .topics = topics,
                             .ntopics = ntopics,
                             .report_eof = 1,
                             .assign_only = 1};
    mt_err err = mt_consumer_new(&cc, &c, eb);
    if (err)
        return err;
    err = mt_consumer_assign_all(c, 0, 10000, eb);
    part_state parts[MAX_PARTITIONS];
    size_t nparts = 0;
    int idle = s->idle_ms > 0 ? s->idle_ms : 1000;
    while (!err) {
        mt_kafka_msg m;
        mt_err pe = mt_consumer_poll(c, idle, &m, eb);
        if (pe == MT_ERR_TIMEOUT) {
            bool all = nparts > 0;
            for (size_t i = 0; i < nparts; i++)
                all = all && parts[i].at_end;
            if (all)
                break;
            continue;
        }
        if (pe) {
            err = pe;
            break;
        }
        size_t t = 0;
        while (t < ntopics && !(m.topic && strcmp(m.topic, topics[t]) == 0))
            t++;
        size_t k = 0;
        while (k < nparts && !(parts[k].topic == t && parts[k].partition == m.partition))
            k++;
        if (k == nparts) {
            if (nparts == MAX_PARTITIONS) {
                mt_kafka_msg_release(&m);
                err = mt_fail(eb, MT_ERR_TOO_LARGE, "--topic: more than %d partitions",
                              MAX_PARTITIONS);
                break;
            }
            parts[nparts++] = (part_state){t, m.partition, false};
        }
        parts[k].at_end = m.eof != 0;
        if (!m.eof) {
            mt_replay_rec r = {m.topic,           m.partition, m.offset, m.timestamp_ms,
                               m.value,           m.value_len, SIZE_MAX};
            s->records_scanned++;
            if (cb(&r, ctx))
                err = MT_ERR_STATE;
        }
        mt_kafka_msg_release(&m);
    }
    mt_consumer_destroy(c);
    return err;
}

void mt_replay_source_label(const mt_replay_source *s, char *out, size_t n)
{
    size_t k = 0;
    if (!n)
        return;
    out[0] = '\0';
    if (s->dir) {
        snprintf(out, n, "%s", s->dir);
        return;
    }
    for (size_t i = 0; i < s->ntopics && k < n; i++) {
        int w = snprintf(out + k, n - k, "%s%s", i ? ", " : "", s->topics[i]);
        if (w < 0)
            break;
        k += (size_t)w;
    }
}

mt_err mt_replay_scan(mt_replay_source *s, mt_replay_cb cb, void *ctx, mt_errbuf *eb)
{
    s->records_scanned = 0;
    s->bad_segments = 0;
    return s->dir ? scan_archive(s, cb, ctx, eb) : scan_topic(s, cb, ctx, eb);
}

void mt_replay_source_close(mt_replay_source *s)
{
    for (size_t i = 0; i < s->nsegs; i++) {
        free(s->segs[i].path);
        free(s->segs[i].topic);
    }
    free(s->segs);
    free(s->verify_report);
    s->segs = NULL;
    s->nsegs = 0;
    s->verify_report = NULL;
}
