/* Recorder: session registry, SessionEvent building and masking, strict and
 * async production with an on-disk spool (see recorder.h for the contract).
 *
 * How it works
 * - Sessions live in a chained hash table plus an LRU list (most recent at
 *   the head). Held sessions (refs > 0) are never evicted or swept.
 * - mt_rec_emit builds the event as JSON in the Avro JSON mapping, encodes it
 *   (single-object encoding) and hands it to mt_producer with a small
 *   `pending` opaque. The session's seq/prev_hash advance only after that.
 * - Delivery reports: librdkafka writes to a pipe (mt_producer_set_wakeup_fd);
 *   a libevent read event drains it and calls mt_producer_poll(p, 0). The
 *   kafka delivery callback only records outcomes in a completion list; user
 *   callbacks run after mt_producer_poll returns, so a callback may emit
 *   again without re-entering the producer.
 * - Spool (async, write-ahead: every event is appended before its callback
 *   runs and produced from the spool): files spool-<n>.log in spool_dir,
 *   records framed as
 *   u32 len | u32 crc32c(body) | body, body = u32 klen | key | value, all
 *   little-endian. Two cursors: `rd` (next record to send) and `ack` (all
 *   before it acknowledged). Replay keeps up to SPOOL_WINDOW records in
 *   flight; a failed one sets `rewind`: once the window drains, rd goes back
 *   to ack (at-least-once). ack is persisted in spool.ack (rename, by the
 *   syncer after each group fdatasync). Files wholly behind ack are
 *   deleted (the current append file is truncated to 0 instead). At start
 *   every file is validated and cut at its first bad record (torn write
 *   after a crash).
 * - Syncer thread (async with a spool): the durability syscalls of the group
 *   commit (fdatasync of spool files, fsync of the directory after a new
 *   file, the periodic spool.ack write + rename) run on one syncer thread,
 *   never on the loop thread. Once per loop turn with something to sync,
 *   on_fsync posts a request (under sy.mu: dirty, want_dir, mark_req) and
 *   signals sy.cv; the loop never waits for the syncer. Requests that arrive
 *   during a round coalesce into the next one. A power loss may thus lose
 *   what was appended since the start of the last completed round: one
 *   round (one fdatasync) plus the turn that requested it.
 *   Locking and ownership (everything else is loop-thread only):
 *   . sy.mu guards cur_fd, retired[], nretired, dirty, want_dir, mark_req,
 *     mark_set, paused, stop and rounds. Held only for field updates, never
 *     across a syscall that can block on the disk (close of a dup excluded).
 *   . cur_fd is a dup of the loop's wfd owned by the syncer side: the loop
 *     replaces it (under mu) when it opens a new append file and moves the
 *     old dup to retired[]; only the syncer thread (or free, after join)
 *     fdatasyncs and closes retired fds, so rotation/deletion never closes an
 *     fd the syncer is using (an unlinked file is still a valid fd). The
 *     syncer reads cur_fd under mu and keeps using the value after unlock:
 *     safe because the fd is only closed by the syncer itself (a later round)
 *     after being retired.
 *   . sy.mark_mu serialises every spool.ack write+rename (syncer, the
 *     truncate path of spool_gc, mt_recorder_free) and guards mark_written;
 *     the writer reads the newest mark_req inside it, so an older marker can
 *     never be renamed over a newer one. The loop takes mark_mu only in the
 *     rare truncate-on-drain path (a marker write, no fsync).
 *   . The thread is joined in mt_recorder_free before the spool is closed. */
#include "recorder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "mcptrail/buf.h"
#include "mcptrail/crypto.h"
#include "mcptrail/event.h"
#include "mcptrail/json.h"
#include "mcptrail/log.h"
#include "mcptrail/mask.h"
#include "mcptrail/runtime.h"

#define COMPONENT "recorder"
#define SPOOL_WINDOW 1024
#define SPOOL_FILE_MAX ((uint64_t)4 << 20)   /* rotate files so acked ones go away soon
                                                (or at a quarter of spool_max_bytes) */
#define SPOOL_RECORD_MAX ((uint32_t)64 << 20) /* a record longer than this is corrupt */
/* New spools start numbering here so head files (numbered first - 1) fit below. */
#define SPOOL_FIRST_N ((uint64_t)1 << 32)

struct mt_rec_session {
    mt_rec_session *hnext;
    mt_rec_session *lru_prev, *lru_next;
    char *id;
    uint64_t seq;
    uint8_t prev[MT_SHA256_LEN];
    bool has_prev;
    bool ended; /* no longer in the registry */
    bool unlisted; /* the instance's own session: never in the registry or the LRU */
    unsigned refs;
    int64_t last_used_s;
    int64_t last_stream; /* stream seq of its last event; -1: none yet */
};

enum pending_kind { P_STRICT, P_DIRECT, P_REPLAY };

typedef struct pending {
    enum pending_kind kind;
    mt_rec_done_cb cb;
    void *arg;
    size_t slot; /* P_REPLAY: window index */
} pending;

typedef struct completion {
    mt_rec_done_cb cb;
    void *arg;
    mt_err err;
} completion;

typedef struct spool_pos {
    uint64_t n;   /* file number */
    uint64_t off; /* byte offset inside it */
} spool_pos;

typedef struct spool_file {
    uint64_t n;
    uint64_t size;
} spool_file;

typedef struct spool_slot {
    spool_pos end; /* position after this record */
    int state;     /* 0 in flight, 1 acked, 2 failed */
} spool_slot;

#define SYNC_RETIRED_MAX 8

/* The syncer thread's state; see the locking notes at the top. */
typedef struct syncer {
    pthread_t th;
    pthread_mutex_t mu, mark_mu;
    pthread_cond_t cv;
    bool started;
    /* under mu */
    int cur_fd;                      /* dup of the append fd, -1 if none */
    int retired[SYNC_RETIRED_MAX];   /* fds to fdatasync then close */
    size_t nretired;
    char *doomed[SYNC_RETIRED_MAX];  /* acked spool files to unlink */
    size_t ndoomed;
    bool dirty, want_dir, mark_set, paused, stop;
    uint64_t mark_req_n, mark_req_off; /* newest ack position to persist */
    uint64_t rounds;                 /* completed sync rounds (tests) */
    int interval_ms;                 /* least time between rounds (immutable) */
    /* under mark_mu */
    uint64_t written_n, written_off;
    bool written_set;
    const char *dir;                 /* immutable while the thread runs */
} syncer;

typedef struct spool {
    char *dir;
    spool_file *files; /* oldest first */
    size_t nfiles, cap;
    int wfd;           /* append fd of the last file, -1 if not open */
    int hfd;           /* append fd of the head file, -1 if none (see spool_append_head) */
    uint64_t head_n;
    int rfd;           /* read fd of file rfd_n, -1 if none */
    uint64_t rfd_n;
    uint64_t next_n;   /* number for the next new file */
    uint64_t bytes;
    uint64_t file_max; /* rotation size: SPOOL_FILE_MAX or a quarter of the bound */
    spool_pos rd, ack;
    spool_slot win[SPOOL_WINDOW];
    size_t win_head, win_count;
    bool rewind;
    bool dirty;        /* appended since the last fsync */
    bool sync_pending; /* ev_fsync scheduled for this loop turn */
    spool_pos marked;  /* ack position last requested for spool.ack */
    bool want_dir;     /* a new file name to fsync into the directory */
    mt_buf wbuf;       /* the last record written (header + body), reused */
    spool_pos last;    /* where wbuf's record starts; the pump reads it from
                          memory when it is next (no pread, no CRC check) */
    bool last_valid;
    syncer sy;
} spool;

struct mt_recorder {
    mt_recorder_config cfg;
    char *topic, *version, *src_cluster, *src_ns, *src_pod, *src_upstream;
    /* Made at the first event, not at start: setting up OpenSSL's MAC and
     * digest maps ~2 MiB of libcrypto that an idle sidecar does not need. */
    mt_hmac *hmac;             /* keyed with record.hmac_key */
    mt_sha256_hasher *sha;     /* the hash chain's digest, reused */
    uint8_t *hmac_key;         /* until hmac exists */
    json_t *no_identity, *no_masks; /* {} and [] for events without them */
    const mt_mask_engine *mask;     /* cfg's, or own_mask */
    mt_mask_engine *own_mask;       /* built-in detectors when cfg has none */
    mt_mask_ctx *mctx;              /* made at the first payload */
    mt_buf masked;                  /* the current event's masked payload */
    uint8_t rnd[512];          /* RAND_bytes drawn in blocks for UUIDv7s */
    size_t rnd_left;
    mt_avro_registry *own_schemas;
    const mt_avro_schema *schema;
    mt_kafka_avro_headers ah;
    mt_producer *producer;
    struct event_base *base;
    struct event *ev_wake, *ev_sweep, *ev_fsync;
    struct event *ev_retry; /* polls the producer while it recovers from a fatal error */
    int wake_fds[2];
    /* sessions */
    mt_rec_session **buckets;
    size_t nbuckets;
    mt_rec_session *lru_head, *lru_tail;
    size_t nsessions;
    /* deferred user callbacks */
    completion *done;
    size_t ndone, done_cap;
    bool has_spool;
    spool sp;
    size_t ndirect; /* async events in the producer, not spooled */
    bool closing;
    mt_rec_metrics m;
    /* the stream (recorder.h) */
    char instance_id[37];
    mt_rec_session *inst;      /* instance_start, heartbeat, instance_stop */
    uint64_t stream_seq;       /* of the next event */
    uint8_t stream_prev[MT_SHA256_LEN];
    bool has_stream_prev;
    int64_t last_emit_ms;      /* monotonic, of the last event handed on */
    struct event *ev_heartbeat;
    char key_id[MT_ED25519_KEY_ID_SIZE]; /* of cfg.signing_key */
    int64_t last_signed_ms;    /* monotonic, of the last signed checkpoint */
    bool signing;              /* the event being encoded carries a checkpoint */
    uint8_t inst_config[MT_SHA256_LEN], inst_policy[MT_SHA256_LEN];
    bool inst_has_policy;
    const char *inst_listen;   /* during mt_rec_instance_start only */
};

/* ---- small helpers ------------------------------------------------------ */


static int64_t mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_or(const char *s, const char *dflt)
{
    return strdup(s ? s : dflt);
}

/* CRC32C (Castagnoli), reflected, table-driven: detects torn spool writes. */
/* CRC-32C (Castagnoli), the spool's record check: the SSE4.2 instruction
 * when the CPU has it, else a table. */
static uint32_t crc32c_table(uint32_t c, const uint8_t *p, size_t len)
{
    static uint32_t table[256];
    static bool ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t t = i;
            for (int k = 0; k < 8; k++)
                t = (t & 1) ? (t >> 1) ^ 0x82f63b78u : t >> 1;
            table[i] = t;
        }
        ready = true;
    }
    for (size_t i = 0; i < len; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t c, const uint8_t *p,
                                                                size_t len)
{
    uint64_t c64 = c;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = __builtin_ia32_crc32di(c64, w);
    }
    uint32_t c32 = (uint32_t)c64;
    for (; len > 0; p++, len--)
        c32 = __builtin_ia32_crc32qi(c32, *p);
    return c32;
}
#endif

static uint32_t crc32c(const uint8_t *p, size_t len)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static int hw = -1;
    if (hw < 0)
        hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    if (hw)
        return crc32c_sse42(0xffffffffu, p, len) ^ 0xffffffffu;
#endif
    return crc32c_table(0xffffffffu, p, len) ^ 0xffffffffu;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* UUIDv7 (RFC 9562): 48-bit Unix ms, version 7, variant 10, 74 random bits
 * (from RAND_bytes, drawn 512 bytes at a time). */
static mt_err uuid7(mt_recorder *rec, char out[37])
{
    uint8_t b[16];
    if (rec->rnd_left < 10) {
        if (RAND_bytes(rec->rnd, (int)sizeof rec->rnd) != 1)
            return MT_ERR_CRYPTO;
        rec->rnd_left = sizeof rec->rnd;
    }
    rec->rnd_left -= 10;
    memcpy(b + 6, rec->rnd + rec->rnd_left, 10);
    OPENSSL_cleanse(rec->rnd + rec->rnd_left, 10);
    uint64_t ms = (uint64_t)(mt_now_us() / 1000);
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f));
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
    static const char hx[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hx[b[i] >> 4];
        *o++ = hx[b[i] & 15];
    }
    *o = '\0';
    return MT_OK;
}

/* ---- masking ------------------------------------------------------------ */

/* The masking engine's per-thread context, made at the first payload. */
static mt_err mask_ready(mt_recorder *rec, mt_errbuf *eb)
{
    mt_err err;
    if (rec->mctx)
        return MT_OK;
    if (!rec->mask) {
        mt_mask_rules *rules = NULL;
        if ((err = mt_mask_rules_load(NULL, 0, &rules, eb)) != MT_OK ||
            (err = mt_mask_engine_new(rules, &rec->own_mask, eb)) != MT_OK)
            return err;
        rec->mask = rec->own_mask;
    }
    return mt_mask_ctx_new(rec->mask, &rec->mctx, eb);
}

/* Masks a payload into *masked (NUL-terminated, valid UTF-8: an Avro string)
 * and counts what was masked into sum. Needs mask_ready. */
static mt_err mask_payload(mt_recorder *rec, const void *payload, size_t len, mt_buf *masked,
                           mt_mask_summary *sum, mt_errbuf *eb)
{
    mt_err err = mt_mask_payload(rec->mctx, payload, len, masked, sum, NULL, eb);
    if (err == MT_OK && (mt_utf8_check(masked->data, masked->len) != masked->len ||
                         memchr(masked->data, 0, masked->len))) {
        /* Binary bodies are described, not copied. */
        char desc[64];
        int n = snprintf(desc, sizeof desc, "[binary payload: %zu bytes]", len);
        mt_buf_reset(masked);
        err = mt_buf_append(masked, desc, (size_t)n);
    }
    if (err == MT_OK)
        err = mt_buf_append_byte(masked, 0);
    return err;
}

/* mask_summary as the schema's array of MaskCount. */
static json_t *summary_json(const mt_mask_summary *sum)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < sum->n; i++) {
        json_t *c = json_pack("{s:s,s:s,s:I}", "detector", sum->items[i].detector, "action",
                              mt_mask_action_name(sum->items[i].action), "count",
                              (json_int_t)sum->items[i].count);
        if (!c || json_array_append_new(arr, c) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    uint64_t listed = 0;
    for (size_t i = 0; i < sum->n; i++)
        listed += sum->items[i].count;
    if (arr && sum->overflow && sum->total > listed &&
        json_array_append_new(arr, json_pack("{s:s,s:s,s:I}", "detector", "other_detectors",
                                             "action", "redact", "count",
                                             (json_int_t)(sum->total - listed))) != 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---- completions -------------------------------------------------------- */

static void done_push(mt_recorder *rec, mt_rec_done_cb cb, void *arg, mt_err err)
{
    if (!cb)
        return;
    if (rec->ndone == rec->done_cap) {
        size_t cap = rec->done_cap ? rec->done_cap * 2 : 64;
        completion *n = realloc(rec->done, cap * sizeof *n);
        if (!n) {
            cb(arg, err); /* cannot defer: run now rather than lose it */
            return;
        }
        rec->done = n;
        rec->done_cap = cap;
    }
    rec->done[rec->ndone++] = (completion){cb, arg, err};
}

static void done_run(mt_recorder *rec)
{
    /* Callbacks may emit and so push more completions: index, no pointer. */
    for (size_t i = 0; i < rec->ndone; i++) {
        completion c = rec->done[i];
        c.cb(c.arg, c.err);
    }
    rec->ndone = 0;
}

/* ---- spool -------------------------------------------------------------- */

static void spool_path(const spool *sp, uint64_t n, char *out, size_t cap)
{
    snprintf(out, cap, "%s/spool-%020" PRIu64 ".log", sp->dir, n);
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static spool_file *spool_find(spool *sp, uint64_t n)
{
    for (size_t i = 0; i < sp->nfiles; i++)
        if (sp->files[i].n == n)
            return &sp->files[i];
    return NULL;
}

static mt_err spool_add_file(spool *sp, uint64_t n, uint64_t size)
{
    if (sp->nfiles == sp->cap) {
        size_t cap = sp->cap ? sp->cap * 2 : 8;
        spool_file *f = realloc(sp->files, cap * sizeof *f);
        if (!f)
            return MT_ERR_NOMEM;
        sp->files = f;
        sp->cap = cap;
    }
    sp->files[sp->nfiles++] = (spool_file){n, size};
    if (sp->next_n == 0)
        sp->next_n = SPOOL_FIRST_N;
    if (n >= sp->next_n)
        sp->next_n = n + 1;
    return MT_OK;
}

/* Unlinks an acked spool file on the syncer thread (a large unlink can take
 * milliseconds); here when the syncer is not running or is far behind. */
static void spool_unlink(spool *sp, const char *path)
{
    char *dup = sp->sy.started ? strdup(path) : NULL;
    bool queued = false;
    if (dup) {
        pthread_mutex_lock(&sp->sy.mu);
        if (sp->sy.ndoomed < SYNC_RETIRED_MAX) {
            sp->sy.doomed[sp->sy.ndoomed++] = dup;
            queued = true;
            pthread_cond_signal(&sp->sy.cv);
        }
        pthread_mutex_unlock(&sp->sy.mu);
    }
    if (!queued) {
        free(dup);
        unlink(path);
    }
}

static void spool_drop_first(mt_recorder *rec)
{
    spool *sp = &rec->sp;
    char path[4200];
    spool_path(sp, sp->files[0].n, path, sizeof path);
    if (sp->rfd >= 0 && sp->rfd_n == sp->files[0].n) {
        close(sp->rfd);
        sp->rfd = -1;
    }
    if (sp->nfiles == 1 && sp->wfd >= 0) {
        close(sp->wfd);
        sp->wfd = -1;
    }
    if (sp->hfd >= 0 && sp->head_n == sp->files[0].n) {
        close(sp->hfd);
        sp->hfd = -1;
    }
    spool_unlink(sp, path);
    if (sp->last.n == sp->files[0].n)
        sp->last_valid = false;
    sp->bytes -= sp->files[0].size;
    memmove(sp->files, sp->files + 1, (sp->nfiles - 1) * sizeof *sp->files);
    sp->nfiles--;
}

/* Writes the durable "acked up to" marker spool.ack ("<file n> <offset>\n")
 * with write + rename, so it is either the old or the new one. Not fsynced:
 * the kernel keeps it across a kill -9; after a power loss an older marker
 * only means more duplicates on replay. */
static bool mark_write(const char *dir, uint64_t n, uint64_t off)
{
    char path[4200], tmp[4220], line[64];
    snprintf(path, sizeof path, "%s/spool.ack", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int len = snprintf(line, sizeof line, "%" PRIu64 " %" PRIu64 "\n", n, off);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    ssize_t w = write(fd, line, (size_t)len);
    close(fd);
    if (w != len || rename(tmp, path) != 0)
        goto fail;
    return true;
fail:
    mt_logs_emit(MT_LOG_ERROR, COMPONENT, "cannot write the spool ack marker", "path", tmp,
                 "error", strerror(errno), NULL);
    return false;
}

/* Writes the newest requested mark (mark_mu held by the caller). */
static void mark_flush_locked(syncer *sy)
{
    pthread_mutex_lock(&sy->mu);
    bool set = sy->mark_set;
    uint64_t n = sy->mark_req_n, off = sy->mark_req_off;
    pthread_mutex_unlock(&sy->mu);
    if (!set || (sy->written_set && sy->written_n == n && sy->written_off == off))
        return;
    if (mark_write(sy->dir, n, off)) {
        sy->written_set = true;
        sy->written_n = n;
        sy->written_off = off;
    }
}

/* Records ack as the newest marker request (loop thread). */
static void mark_request(spool *sp)
{
    pthread_mutex_lock(&sp->sy.mu);
    sp->sy.mark_set = true;
    sp->sy.mark_req_n = sp->ack.n;
    sp->sy.mark_req_off = sp->ack.off;
    pthread_mutex_unlock(&sp->sy.mu);
    sp->marked = sp->ack;
}

/* Writes the marker now, on the calling (loop) thread: the truncate path of
 * spool_gc needs it on disk before the cut, and mt_recorder_free. */
static void spool_mark(spool *sp)
{
    mark_request(sp);
    pthread_mutex_lock(&sp->sy.mark_mu);
    mark_flush_locked(&sp->sy);
    pthread_mutex_unlock(&sp->sy.mark_mu);
}

/* Hands an fd to the syncer to fdatasync and close (loop thread). When the
 * queue is full (SYNC_RETIRED_MAX rotations pending: the syncer is far
 * behind or paused), syncs it here so the power-loss window stays bounded. */
static void sync_retire(spool *sp, int fd)
{
    if (fd < 0)
        return;
    pthread_mutex_lock(&sp->sy.mu);
    bool queued = sp->sy.nretired < SYNC_RETIRED_MAX;
    if (queued)
        sp->sy.retired[sp->sy.nretired++] = fd;
    pthread_cond_signal(&sp->sy.cv);
    pthread_mutex_unlock(&sp->sy.mu);
    if (!queued) {
        fdatasync(fd);
        close(fd);
    }
}

/* Makes a dup of the new append fd the syncer's current file; the previous
 * one is retired (synced, then closed, by the syncer). */
static void sync_set_current(spool *sp, int wfd)
{
    int d = wfd >= 0 ? fcntl(wfd, F_DUPFD_CLOEXEC, 0) : -1;
    pthread_mutex_lock(&sp->sy.mu);
    int old = sp->sy.cur_fd;
    sp->sy.cur_fd = d;
    pthread_mutex_unlock(&sp->sy.mu);
    sync_retire(sp, old);
}

static void *syncer_main(void *arg)
{
    syncer *sy = arg;
    struct timespec last_round = {0, 0};
    pthread_mutex_lock(&sy->mu);
    for (;;) {
        while (!sy->stop && (sy->paused || !(sy->dirty || sy->want_dir || sy->nretired > 0 ||
                                             sy->ndoomed > 0 ||
                                             (sy->mark_set && (!sy->written_set ||
                                                               sy->written_n != sy->mark_req_n ||
                                                               sy->written_off != sy->mark_req_off)))))
            pthread_cond_wait(&sy->cv, &sy->mu);
        if (sy->stop)
            break;
        if (sy->interval_ms > 0 && sy->rounds > 0) {
            /* Group commit: wait out the interval since the last round,
             * gathering everything appended meanwhile (stop cuts it short). */
            struct timespec until = last_round;
            until.tv_nsec += (long)(sy->interval_ms % 1000) * 1000000L;
            until.tv_sec += sy->interval_ms / 1000 + until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            while (!sy->stop && pthread_cond_timedwait(&sy->cv, &sy->mu, &until) == 0)
                ;
            if (sy->stop)
                break;
        }
        clock_gettime(CLOCK_MONOTONIC, &last_round);
        bool dirty = sy->dirty, want_dir = sy->want_dir;
        int cur = sy->cur_fd;
        int ret[SYNC_RETIRED_MAX];
        size_t nret = sy->nretired;
        memcpy(ret, sy->retired, nret * sizeof *ret);
        sy->nretired = 0;
        char *doomed[SYNC_RETIRED_MAX];
        size_t ndoomed = sy->ndoomed;
        memcpy(doomed, sy->doomed, ndoomed * sizeof *doomed);
        sy->ndoomed = 0;
        sy->dirty = sy->want_dir = false;
        pthread_mutex_unlock(&sy->mu);
        for (size_t i = 0; i < ndoomed; i++) { /* acked: no ordering with the rest */
            unlink(doomed[i]);
            free(doomed[i]);
        }
        /* Data first, then names, then the marker. */
        for (size_t i = 0; i < nret; i++) {
            if (fdatasync(ret[i]) != 0)
                mt_logs_emit(MT_LOG_ERROR, COMPONENT, "spool fsync failed", "error",
                             strerror(errno), NULL);
            close(ret[i]);
        }
        if (dirty && cur >= 0 && fdatasync(cur) != 0)
            mt_logs_emit(MT_LOG_ERROR, COMPONENT, "spool fsync failed", "error",
                         strerror(errno), NULL);
        if (want_dir)
            fsync_dir(sy->dir);
        pthread_mutex_lock(&sy->mark_mu);
        mark_flush_locked(sy);
        pthread_mutex_unlock(&sy->mark_mu);
        pthread_mutex_lock(&sy->mu);
        sy->rounds++;
    }
    pthread_mutex_unlock(&sy->mu);
    return NULL;
}

static mt_err syncer_start(spool *sp)
{
    syncer *sy = &sp->sy;
    if (pthread_create(&sy->th, NULL, syncer_main, sy) != 0)
        return MT_ERR_IO;
    sy->started = true;
    return MT_OK;
}

/* Joins the thread; then syncs and closes what it still held. */
static void syncer_stop(spool *sp)
{
    syncer *sy = &sp->sy;
    if (sy->started) {
        pthread_mutex_lock(&sy->mu);
        sy->stop = true;
        pthread_cond_signal(&sy->cv);
        pthread_mutex_unlock(&sy->mu);
        pthread_join(sy->th, NULL);
        sy->started = false;
    }
    for (size_t i = 0; i < sy->nretired; i++) {
        fdatasync(sy->retired[i]);
        close(sy->retired[i]);
    }
    sy->nretired = 0;
    for (size_t i = 0; i < sy->ndoomed; i++) {
        unlink(sy->doomed[i]);
        free(sy->doomed[i]);
    }
    sy->ndoomed = 0;
    if (sy->cur_fd >= 0)
        close(sy->cur_fd); /* the loop's wfd is synced by spool_close */
    sy->cur_fd = -1;
    if (sy->want_dir)
        fsync_dir(sp->dir);
}

/* Reads spool.ack; false when absent or unreadable (replay everything). */
static bool spool_read_mark(const spool *sp, spool_pos *out)
{
    char path[4200], line[64];
    snprintf(path, sizeof path, "%s/spool.ack", sp->dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    bool ok = fgets(line, sizeof line, f) &&
              sscanf(line, "%" SCNu64 " %" SCNu64, &out->n, &out->off) == 2;
    fclose(f);
    return ok;
}

static void spool_schedule_fsync(mt_recorder *rec);

/* Deletes files wholly acknowledged (unlinked by the syncer) and moves the
 * cursors off them. The file being appended to stays until it reaches its
 * rotation size, so a busy spool does not create a file (and fsync the
 * directory) per drained batch. */
static void spool_gc(mt_recorder *rec)
{
    spool *sp = &rec->sp;
    while (sp->nfiles > 0) {
        spool_file *f = &sp->files[0];
        bool behind = f->n < sp->ack.n || (f->n == sp->ack.n && sp->ack.off >= f->size);
        if (!behind || sp->rd.n < f->n || (sp->rd.n == f->n && sp->rd.off < f->size))
            break; /* still unacked, or the reader has not passed it */
        /* The file being appended to stays until it reaches its rotation
         * size: emptying it here (ftruncate, marker first) would put
         * milliseconds of file-system work on the event loop. */
        if (sp->nfiles == 1 && sp->wfd >= 0 && sp->hfd < 0 && f->size < sp->file_max)
            break;
        uint64_t next = sp->nfiles > 1 ? sp->files[1].n : sp->next_n;
        spool_drop_first(rec);
        if (sp->ack.n <= f->n || sp->nfiles == 0)
            sp->ack = (spool_pos){next, 0};
        if (sp->rd.n < next)
            sp->rd = (spool_pos){next, 0};
    }
}

/* Group commit: at most one sync request (fdatasync of the appended data,
 * marker write) per loop turn, whatever the number of events appended or
 * acked in it; the syncer thread coalesces requests further. */
static void spool_schedule_fsync(mt_recorder *rec)
{
    if (!rec->sp.sync_pending && !rec->closing && rec->ev_fsync) { /* closing: spool_close */
        rec->sp.sync_pending = true;
        struct timeval zero = {0, 0};
        event_add(rec->ev_fsync, &zero);
    }
}

static void on_fsync(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_recorder *rec = arg;
    spool *sp = &rec->sp;
    sp->sync_pending = false;
    /* Post the request; the syncer thread does the syscalls. Never waits. */
    pthread_mutex_lock(&sp->sy.mu);
    sp->sy.dirty |= sp->dirty;
    sp->sy.want_dir |= sp->want_dir;
    if (sp->marked.n != sp->ack.n || sp->marked.off != sp->ack.off) {
        sp->sy.mark_set = true;
        sp->sy.mark_req_n = sp->ack.n;
        sp->sy.mark_req_off = sp->ack.off;
        sp->marked = sp->ack;
    }
    pthread_cond_signal(&sp->sy.cv);
    pthread_mutex_unlock(&sp->sy.mu);
    sp->dirty = sp->want_dir = false;
}

static mt_err spool_write(mt_recorder *rec, spool_file *f, int *fd, const void *key, size_t klen,
                          const void *val, size_t vlen);

/* Appends one record (key = session id, value = encoded event). */
static mt_err spool_append(mt_recorder *rec, const void *key, size_t klen, const void *val,
                           size_t vlen)
{
    spool *sp = &rec->sp;
    uint64_t body = 4 + (uint64_t)klen + vlen;
    if (body > SPOOL_RECORD_MAX)
        return MT_ERR_TOO_LARGE;
    uint64_t total = 8 + body;
    if (sp->bytes + total > rec->cfg.spool_max_bytes)
        return MT_ERR_TOO_LARGE;
    bool last_is_head = sp->hfd >= 0 && sp->nfiles > 0 && sp->files[sp->nfiles - 1].n == sp->head_n;
    if (sp->nfiles == 0 || sp->files[sp->nfiles - 1].size >= sp->file_max || sp->wfd < 0 ||
        last_is_head) {
        bool reuse_last = sp->nfiles > 0 && sp->files[sp->nfiles - 1].size < sp->file_max &&
                          !last_is_head;
        if (sp->next_n == 0)
            sp->next_n = SPOOL_FIRST_N;
        uint64_t n = reuse_last ? sp->files[sp->nfiles - 1].n : sp->next_n;
        char path[4200];
        spool_path(sp, n, path, sizeof path);
        if (sp->wfd >= 0)
            close(sp->wfd); /* its dup is retired below: the syncer syncs it */
        sp->wfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        sync_set_current(sp, sp->wfd);
        if (sp->wfd < 0) {
            mt_logs_emit(MT_LOG_ERROR, COMPONENT, "cannot open spool file", "path", path,
                         "error", strerror(errno), NULL);
            return MT_ERR_IO;
        }
        if (!reuse_last) {
            if (spool_add_file(sp, n, 0) != MT_OK)
                return MT_ERR_NOMEM;
            sp->want_dir = true; /* the new name must survive a crash too (syncer) */
            if (sp->nfiles == 1)
                sp->rd = sp->ack = (spool_pos){n, 0};
        }
    }
    return spool_write(rec, &sp->files[sp->nfiles - 1], &sp->wfd, key, klen, val, vlen);
}

/* Frames one record and appends it to file f through *fd. */
static mt_err spool_write(mt_recorder *rec, spool_file *f, int *fd, const void *key, size_t klen,
                          const void *val, size_t vlen)
{
    spool *sp = &rec->sp;
    uint64_t body = 4 + (uint64_t)klen + vlen, total = 8 + body;
    sp->last_valid = false;
    mt_buf_reset(&sp->wbuf);
    if (mt_buf_reserve(&sp->wbuf, (size_t)total) != MT_OK)
        return MT_ERR_NOMEM;
    uint8_t *rec_buf = sp->wbuf.data;
    put_u32(rec_buf, (uint32_t)body);
    put_u32(rec_buf + 8, (uint32_t)klen);
    memcpy(rec_buf + 12, key, klen);
    memcpy(rec_buf + 12 + klen, val, vlen);
    put_u32(rec_buf + 4, crc32c(rec_buf + 8, (size_t)body));
    size_t done = 0;
    while (done < total) {
        ssize_t w = write(*fd, rec_buf + done, (size_t)total - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            mt_logs_emit(MT_LOG_ERROR, COMPONENT, "spool write failed", "error",
                         strerror(errno), NULL);
            /* Cut the torn record so the file stays a sequence of records. */
            if (ftruncate(*fd, (off_t)f->size) != 0) {
                close(*fd);
                *fd = -1;
            }
            return MT_ERR_IO;
        }
        done += (size_t)w;
    }
    sp->wbuf.len = (size_t)total;
    sp->last = (spool_pos){f->n, f->size};
    sp->last_valid = true;
    f->size += total;
    sp->bytes += total;
    rec->m.spooled++;
    sp->dirty = true;
    spool_schedule_fsync(rec);
    return MT_OK;
}

/* Spools an async event whose direct delivery failed. It was sent before
 * anything now in the spool, so it goes into a head file numbered below the
 * first one. Safe because replay waits until no direct event is in flight
 * (spool_pump), so the reader has not started on the spool yet. */
static mt_err spool_append_head(mt_recorder *rec, const void *key, size_t klen, const void *val,
                                size_t vlen)
{
    spool *sp = &rec->sp;
    uint64_t total = 12 + (uint64_t)klen + vlen;
    if (total - 8 > SPOOL_RECORD_MAX || sp->bytes + total > rec->cfg.spool_max_bytes)
        return MT_ERR_TOO_LARGE;
    if (sp->nfiles == 0)
        return spool_append(rec, key, klen, val, vlen);
    if (sp->hfd < 0 || !spool_find(sp, sp->head_n)) {
        if (sp->files[0].n == 0)
            return spool_append(rec, key, klen, val, vlen); /* no room below: order lost */
        uint64_t n = sp->files[0].n - 1;
        char path[4200];
        spool_path(sp, n, path, sizeof path);
        if (sp->hfd >= 0)
            close(sp->hfd);
        sp->hfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (sp->hfd < 0)
            return MT_ERR_IO;
        mt_err err = spool_add_file(sp, n, 0); /* appended last; move it to the front */
        if (err)
            return err;
        memmove(sp->files + 1, sp->files, (sp->nfiles - 1) * sizeof *sp->files);
        sp->files[0] = (spool_file){n, 0};
        sp->head_n = n;
        sp->rd = sp->ack = (spool_pos){n, 0};
        sp->want_dir = true;
    }
    mt_err err = spool_write(rec, &sp->files[0], &sp->hfd, key, klen, val, vlen);
    if (err == MT_OK && !rec->closing && sp->hfd >= 0) /* rare path: the syncer syncs a dup */
        sync_retire(sp, fcntl(sp->hfd, F_DUPFD_CLOEXEC, 0));
    return err;
}

/* Reads the record at pos into buf. MT_ERR_NOT_FOUND: no complete record
 * there (end of data); MT_ERR_PARSE: corrupt. */
static mt_err spool_read(mt_recorder *rec, const spool_file *f, uint64_t off, mt_buf *buf)
{
    spool *sp = &rec->sp;
    if (sp->rfd < 0 || sp->rfd_n != f->n) {
        if (sp->rfd >= 0)
            close(sp->rfd);
        char path[4200];
        spool_path(sp, f->n, path, sizeof path);
        sp->rfd = open(path, O_RDONLY | O_CLOEXEC);
        sp->rfd_n = f->n;
        if (sp->rfd < 0)
            return MT_ERR_IO;
    }
    if (off + 8 > f->size)
        return off == f->size ? MT_ERR_NOT_FOUND : MT_ERR_PARSE;
    if (sp->last_valid && sp->last.n == f->n && sp->last.off == off) {
        /* The record just written: the common case of a caught-up spool. */
        mt_buf_reset(buf);
        return mt_buf_append(buf, sp->wbuf.data + 8, sp->wbuf.len - 8);
    }
    uint8_t hdr[8];
    if (pread(sp->rfd, hdr, 8, (off_t)off) != 8)
        return MT_ERR_IO;
    uint32_t body = get_u32(hdr);
    if (body < 4 || body > SPOOL_RECORD_MAX || off + 8 + body > f->size)
        return MT_ERR_PARSE;
    mt_buf_reset(buf);
    if (mt_buf_reserve(buf, body) != MT_OK)
        return MT_ERR_NOMEM;
    if (pread(sp->rfd, buf->data, body, (off_t)(off + 8)) != (ssize_t)body)
        return MT_ERR_IO;
    buf->len = body;
    if (crc32c(buf->data, body) != get_u32(hdr + 4) || get_u32(buf->data) > body - 4)
        return MT_ERR_PARSE;
    return MT_OK;
}

static void on_replay_report(mt_recorder *rec, size_t slot, bool ok)
{
    spool *sp = &rec->sp;
    sp->win[slot].state = ok ? 1 : 2;
    if (!ok)
        sp->rewind = true;
    while (sp->win_count > 0 && sp->win[sp->win_head].state == 1) {
        sp->ack = sp->win[sp->win_head].end;
        sp->win_head = (sp->win_head + 1) % SPOOL_WINDOW;
        sp->win_count--;
    }
    spool_schedule_fsync(rec); /* the marker follows ack once per loop turn */
    if (sp->rewind) {
        bool any_in_flight = false;
        for (size_t i = 0; i < sp->win_count; i++)
            if (sp->win[(sp->win_head + i) % SPOOL_WINDOW].state == 0)
                any_in_flight = true;
        if (!any_in_flight) {
            /* Everything after the first failure is sent again, in order. */
            sp->win_count = 0;
            sp->rd = sp->ack;
            sp->rewind = false;
        }
    }
    spool_gc(rec);
}

/* Sends spooled records from rd while the window and the producer allow. */
static void spool_pump(mt_recorder *rec)
{
    spool *sp = &rec->sp;
    /* Direct events still in flight may yet fail and be spooled in front. */
    if (!rec->has_spool || rec->closing || sp->rewind || rec->ndirect > 0)
        return;
    mt_buf buf = MT_BUF_INIT;
    while (sp->win_count < SPOOL_WINDOW && sp->nfiles > 0) {
        spool_file *f = spool_find(sp, sp->rd.n);
        if (!f)
            break;
        mt_err err = spool_read(rec, f, sp->rd.off, &buf);
        if (err == MT_ERR_NOT_FOUND) {
            if (f == &sp->files[sp->nfiles - 1])
                break; /* caught up with the writer */
            sp->rd = (spool_pos){(f + 1)->n, 0};
            spool_gc(rec);
            continue;
        }
        if (err != MT_OK) {
            /* Runtime read failure: the rest of this file is unreadable. */
            mt_logs_emit(MT_LOG_ERROR, COMPONENT, "spool record unreadable, skipping file rest",
                         "error", mt_errname(err), NULL);
            rec->m.failed++;
            uint64_t end = f->size;
            if (sp->win_count == 0 && sp->ack.n == sp->rd.n && sp->ack.off == sp->rd.off)
                sp->ack.off = end;
            sp->rd.off = end;
            spool_gc(rec);
            continue;
        }
        uint32_t klen = get_u32(buf.data);
        const uint8_t *key = buf.data + 4, *val = key + klen;
        size_t vlen = buf.len - 4 - klen;
        uint64_t fp = 0;
        if (vlen >= MT_AVRO_HEADER_LEN)
            for (int i = 7; i >= 0; i--)
                fp = (fp << 8) | val[2 + i];
        mt_kafka_avro_headers ah;
        const mt_kafka_header *hs = mt_kafka_avro_headers_init(&ah, fp);
        pending *pd = malloc(sizeof *pd);
        if (!pd)
            break;
        size_t slot = (sp->win_head + sp->win_count) % SPOOL_WINDOW;
        *pd = (pending){.kind = P_REPLAY, .slot = slot};
        err = mt_producer_send(rec->producer, rec->topic, key, klen, val, vlen, hs, 2, pd, NULL);
        if (err == MT_ERR_INVALID_ARG) {
            /* Can never be sent (larger than the in-flight byte bound): skip
             * it rather than block everything behind it. */
            free(pd);
            mt_logs_emit(MT_LOG_ERROR, COMPONENT, "spooled event too large to send, dropped",
                         NULL);
            rec->m.failed++;
            sp->win[slot] = (spool_slot){{f->n, sp->rd.off + 8 + buf.len}, 1};
            sp->win_count++;
            sp->rd.off += 8 + buf.len;
            on_replay_report(rec, slot, true);
            continue;
        }
        if (err) {
            free(pd);
            break; /* table full (or broker trouble): retried on the next wake-up */
        }
        sp->win[slot] = (spool_slot){{f->n, sp->rd.off + 8 + buf.len}, 0};
        sp->win_count++;
        sp->rd.off += 8 + buf.len;
    }
    mt_buf_free(&buf);
}

/* Loads spool-*.log in number order, cutting each at its first bad record. */
static mt_err spool_open(mt_recorder *rec, mt_errbuf *eb)
{
    spool *sp = &rec->sp;
    sp->wfd = sp->rfd = sp->hfd = -1;
    sp->file_max = rec->cfg.spool_max_bytes / 4 < SPOOL_FILE_MAX ? rec->cfg.spool_max_bytes / 4
                                                                 : SPOOL_FILE_MAX;
    if (sp->file_max == 0)
        sp->file_max = 1;
    if (mkdir(sp->dir, 0700) != 0 && errno != EEXIST)
        return mt_fail(eb, MT_ERR_IO, "recorder: cannot create spool dir %s: %s", sp->dir,
                       strerror(errno));
    DIR *d = opendir(sp->dir);
    if (!d)
        return mt_fail(eb, MT_ERR_IO, "recorder: cannot open spool dir %s: %s", sp->dir,
                       strerror(errno));
    struct dirent *de;
    mt_err err = MT_OK;
    while ((de = readdir(d)) != NULL) {
        uint64_t n;
        char tail[8];
        if (sscanf(de->d_name, "spool-%20" SCNu64 ".%4s", &n, tail) != 2 ||
            strcmp(tail, "log") != 0)
            continue;
        if ((err = spool_add_file(sp, n, 0)) != MT_OK)
            break;
    }
    closedir(d);
    if (err)
        return mt_fail(eb, err, "recorder: out of memory reading spool dir");
    /* readdir order is arbitrary: sort by number (few files, insertion sort). */
    for (size_t i = 1; i < sp->nfiles; i++)
        for (size_t j = i; j > 0 && sp->files[j - 1].n > sp->files[j].n; j--) {
            spool_file t = sp->files[j];
            sp->files[j] = sp->files[j - 1];
            sp->files[j - 1] = t;
        }
    mt_buf buf = MT_BUF_INIT;
    for (size_t i = 0; i < sp->nfiles; i++) {
        char path[4200];
        spool_path(sp, sp->files[i].n, path, sizeof path);
        struct stat st;
        if (stat(path, &st) != 0) {
            mt_buf_free(&buf);
            return mt_fail(eb, MT_ERR_IO, "recorder: cannot stat %s: %s", path, strerror(errno));
        }
        sp->files[i].size = (uint64_t)st.st_size;
        uint64_t off = 0, nrec = 0;
        mt_err rerr;
        while ((rerr = spool_read(rec, &sp->files[i], off, &buf)) == MT_OK) {
            off += 8 + buf.len;
            nrec++;
        }
        if (rerr != MT_ERR_NOT_FOUND) {
            char at[32];
            snprintf(at, sizeof at, "%" PRIu64, off);
            mt_logs_emit(MT_LOG_WARN, COMPONENT, "spool file cut at first bad record (torn write)",
                         "path", path, "offset", at, NULL);
            if (truncate(path, (off_t)off) != 0) {
                mt_buf_free(&buf);
                return mt_fail(eb, MT_ERR_IO, "recorder: cannot truncate %s: %s", path,
                               strerror(errno));
            }
            sp->files[i].size = off;
        }
        sp->bytes += sp->files[i].size;
        (void)nrec;
    }
    mt_buf_free(&buf);
    if (sp->rfd >= 0) {
        close(sp->rfd);
        sp->rfd = -1;
    }
    if (sp->nfiles > 0) {
        sp->rd = sp->ack = (spool_pos){sp->files[0].n, 0};
        spool_pos mk;
        if (spool_read_mark(sp, &mk)) {
            /* Records before the marker were acked: skip them. */
            for (size_t i = 0; i < sp->nfiles; i++) {
                if (sp->files[i].n < mk.n)
                    continue;
                if (sp->files[i].n == mk.n)
                    sp->rd = sp->ack =
                        (spool_pos){mk.n, mk.off < sp->files[i].size ? mk.off : sp->files[i].size};
                else
                    sp->rd = sp->ack = (spool_pos){sp->files[i].n, 0};
                break;
            }
            if (sp->files[sp->nfiles - 1].n < mk.n) /* all acked */
                sp->rd = sp->ack = (spool_pos){mk.n, 0};
            sp->marked = mk; /* what is on disk (thread not started yet) */
            sp->sy.written_set = sp->sy.mark_set = true;
            sp->sy.written_n = sp->sy.mark_req_n = mk.n;
            sp->sy.written_off = sp->sy.mark_req_off = mk.off;
        }
        spool_gc(rec); /* acked and empty files go at once */
    }
    if (sp->bytes > 0) {
        char b[32];
        snprintf(b, sizeof b, "%" PRIu64, sp->bytes);
        mt_logs_emit(MT_LOG_INFO, COMPONENT, "replaying non-empty spool", "dir", sp->dir,
                     "bytes", b, NULL);
    }
    return MT_OK;
}

static void spool_close(spool *sp)
{
    syncer_stop(sp);
    pthread_mutex_destroy(&sp->sy.mu);
    pthread_mutex_destroy(&sp->sy.mark_mu);
    pthread_cond_destroy(&sp->sy.cv);
    if (sp->wfd >= 0) {
        fdatasync(sp->wfd);
        close(sp->wfd);
    }
    if (sp->hfd >= 0) {
        fdatasync(sp->hfd);
        close(sp->hfd);
    }
    if (sp->rfd >= 0)
        close(sp->rfd);
    mt_buf_free(&sp->wbuf);
    free(sp->files);
    free(sp->dir);
}

/* ---- producer glue ------------------------------------------------------ */

static void on_delivery(const mt_delivery *d, void *ctx)
{
    mt_recorder *rec = ctx;
    pending *pd = d->opaque;
    if (!pd)
        return;
    switch (pd->kind) {
    case P_STRICT:
        if (d->err == MT_OK)
            rec->m.produced++;
        else
            rec->m.failed++;
        done_push(rec, pd->cb, pd->arg, d->err);
        break;
    case P_DIRECT:
        rec->ndirect--;
        if (d->err == MT_OK) {
            rec->m.produced++;
        } else if (!rec->has_spool ||
                   spool_append_head(rec, d->key, d->key_len, d->value, d->value_len) != MT_OK) {
            rec->m.failed++;
            mt_logs_emit(MT_LOG_ERROR, COMPONENT, "async event lost: delivery failed, not spooled",
                         "error", d->errstr, NULL);
        }
        if (rec->ndirect == 0 && rec->sp.hfd >= 0 && !rec->closing) {
            /* Head file complete: replay may read it; later failures start a new one. */
            close(rec->sp.hfd);
            rec->sp.hfd = -1;
        }
        break;
    case P_REPLAY:
        if (d->err == MT_OK)
            rec->m.produced++;
        if (!rec->closing)
            on_replay_report(rec, pd->slot, d->err == MT_OK);
        break;
    }
    free(pd);
}

static void service(mt_recorder *rec)
{
    mt_producer_poll(rec->producer, 0);
    done_run(rec);
    spool_pump(rec);
    /* A producer recovering from a fatal error may never wake the loop
     * again: poll it when its back-off ends. */
    int retry = mt_producer_retry_ms(rec->producer);
    if (retry >= 0 && rec->ev_retry) {
        int ms = retry < 10 ? 10 : retry;
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        evtimer_add(rec->ev_retry, &tv);
    }
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    service(arg);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    char drain[256];
    while (read(fd, drain, sizeof drain) > 0)
        ;
    service(arg);
}

/* ---- sessions ----------------------------------------------------------- */

static size_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ULL;
    return (size_t)h;
}

static void lru_unlink(mt_recorder *rec, mt_rec_session *s)
{
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        rec->lru_head = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        rec->lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void lru_push_head(mt_recorder *rec, mt_rec_session *s)
{
    s->lru_next = rec->lru_head;
    s->lru_prev = NULL;
    if (rec->lru_head)
        rec->lru_head->lru_prev = s;
    rec->lru_head = s;
    if (!rec->lru_tail)
        rec->lru_tail = s;
}

static void session_touch(mt_recorder *rec, mt_rec_session *s)
{
    s->last_used_s = mono_s();
    if (!s->ended && !s->unlisted && rec->lru_head != s) {
        lru_unlink(rec, s);
        lru_push_head(rec, s);
    }
}

static void session_free(mt_rec_session *s)
{
    free(s->id);
    free(s);
}

/* Takes s out of the registry; freed now if nobody holds it. */
static void session_remove(mt_recorder *rec, mt_rec_session *s)
{
    if (s->ended)
        return;
    mt_rec_session **pp = &rec->buckets[hash_id(s->id) & (rec->nbuckets - 1)];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = s->hnext;
    lru_unlink(rec, s);
    s->ended = true;
    rec->nsessions--;
    rec->m.active_sessions = rec->nsessions;
    if (s->refs == 0)
        session_free(s);
}

static mt_err emit_internal(mt_recorder *rec, mt_rec_session *s, const mt_rec_event *ev,
                            mt_rec_done_cb cb, void *arg);

/* session_end for sessions the sidecar retires itself (LRU, idle). */
static void session_retire(mt_recorder *rec, mt_rec_session *s, const char *why)
{
    mt_rec_event ev = {.kind = "session_end", .direction = "internal", .latency_us = -1,
                       .justification = NULL};
    (void)why;
    s->refs++;
    emit_internal(rec, s, &ev, NULL, NULL);
    s->refs--;
    session_remove(rec, s);
}

mt_rec_session *mt_rec_session_get(mt_recorder *rec, const char *session_id)
{
    char gen[37];
    if (!session_id) {
        if (uuid7(rec, gen) != MT_OK)
            return NULL;
        session_id = gen;
    }
    size_t len = strlen(session_id);
    if (len == 0 || len > MT_REC_MAX_SESSION_ID)
        return NULL;
    size_t b = hash_id(session_id) & (rec->nbuckets - 1);
    for (mt_rec_session *s = rec->buckets[b]; s; s = s->hnext)
        if (strcmp(s->id, session_id) == 0) {
            s->refs++;
            session_touch(rec, s);
            return s;
        }
    if (rec->nsessions >= rec->cfg.max_sessions) {
        mt_rec_session *victim = rec->lru_tail;
        while (victim && victim->refs > 0)
            victim = victim->lru_prev;
        if (!victim)
            return NULL; /* every session is in use */
        session_retire(rec, victim, "lru");
    }
    mt_rec_session *s = calloc(1, sizeof *s);
    if (!s || !(s->id = strdup(session_id))) {
        free(s);
        return NULL;
    }
    s->refs = 1;
    s->last_stream = -1;
    s->hnext = rec->buckets[b];
    rec->buckets[b] = s;
    s->last_used_s = mono_s();
    lru_push_head(rec, s);
    rec->nsessions++;
    rec->m.active_sessions = rec->nsessions;
    return s;
}

void mt_rec_session_release(mt_recorder *rec, mt_rec_session *s)
{
    (void)rec;
    if (!s || s->refs == 0)
        return;
    if (--s->refs == 0 && s->ended)
        session_free(s);
}

const char *mt_rec_session_id(const mt_rec_session *s)
{
    return s->id;
}

uint64_t mt_rec_session_next_seq(const mt_rec_session *s)
{
    return s->seq;
}

void mt_rec_session_close(mt_recorder *rec, mt_rec_session *s)
{
    if (rec && s && !s->unlisted)
        session_remove(rec, s);
}

mt_err mt_rec_session_end(mt_recorder *rec, mt_rec_session *s, mt_rec_done_cb cb, void *arg)
{
    mt_rec_event ev = {.kind = "session_end", .direction = "internal", .latency_us = -1};
    mt_err err = emit_internal(rec, s, &ev, cb, arg);
    session_remove(rec, s);
    return err;
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_recorder *rec = arg;
    int64_t cutoff = mono_s() - rec->cfg.session_idle_s;
    mt_rec_session *s = rec->lru_tail, *prev;
    for (; s; s = prev) {
        prev = s->lru_prev;
        if (s->last_used_s > cutoff)
            break; /* LRU order: everything nearer the head is newer */
        if (s->refs == 0)
            session_retire(rec, s, "idle");
    }
}

/* ---- events ------------------------------------------------------------- */

static void w_str(mt_avro_writer *w, const char *field, const char *v)
{
    mt_avw_string(w, field, v, v ? strlen(v) : 0);
}

/* The keyed HMAC and the chain's hasher, made on first use. */
static mt_err crypto_ready(mt_recorder *rec, mt_errbuf *eb)
{
    mt_err err;
    if (!rec->hmac) {
        if ((err = mt_hmac_new(rec->hmac_key, rec->cfg.hmac_key_len, &rec->hmac, eb)) != MT_OK)
            return err;
        OPENSSL_cleanse(rec->hmac_key, rec->cfg.hmac_key_len);
        free(rec->hmac_key);
        rec->hmac_key = NULL;
    }
    if (!rec->sha && (err = mt_sha256_hasher_new(&rec->sha, eb)) != MT_OK)
        return err;
    return MT_OK;
}

/* Free text from the client (justification, client metadata) masked as text into a new string. mask_summary describes the
 * payload only, so these masks are not counted there. A text that cannot be
 * masked into valid UTF-8 is replaced, never kept. */
static char *mask_free_text(mt_recorder *rec, const char *text)
{
    mt_buf b = MT_BUF_INIT;
    mt_mask_summary sum;
    mt_mask_summary_init(&sum);
    if (mt_mask_text(rec->mctx, text, strlen(text), &b, &sum, NULL) == MT_OK &&
        mt_utf8_check(b.data, b.len) == b.len && !memchr(b.data, 0, b.len) &&
        mt_buf_append_byte(&b, 0) == MT_OK)
        return b.data ? (char *)b.data : strdup("");
    mt_buf_free(&b);
    return strdup("[REDACTED:unmaskable]");
}

/* Appends the SessionEvent's single-object encoding to out, written field by
 * field by the schema-checked streaming writer (no JSON tree). */
static mt_err encode_event(mt_recorder *rec, const mt_rec_session *s, const mt_rec_event *ev,
                           mt_buf *out, mt_errbuf *eb)
{
    char event_id[37];
    char *just = NULL;
    json_t *summary = NULL;
    uint8_t mac[MT_SHA256_LEN];
    mt_mask_summary sum;
    mt_err err;
    mt_mask_summary_init(&sum);
    mt_buf_reset(&rec->masked);
    if (uuid7(rec, event_id) != MT_OK)
        return mt_fail(eb, MT_ERR_CRYPTO, "recorder: RAND_bytes failed");
    if (ev->event_id_out)
        memcpy(ev->event_id_out, event_id, sizeof event_id);
    if ((err = crypto_ready(rec, eb)) != MT_OK)
        return err;
    bool has_client = ev->client.name || ev->client.version || ev->client.capabilities;
    if ((ev->payload || ev->justification || has_client) &&
        (err = mask_ready(rec, eb)) != MT_OK)
        return err;
    if (ev->payload &&
        ((err = mt_hmac_compute(rec->hmac, ev->payload, ev->payload_len, mac, eb)) != MT_OK ||
         (err = mask_payload(rec, ev->payload, ev->payload_len, &rec->masked, &sum, eb)) !=
             MT_OK))
        return err;
    char *cname = NULL, *cver = NULL, *ccaps = NULL;
    if (ev->client.name)
        cname = mask_free_text(rec, ev->client.name);
    if (ev->client.version)
        cver = mask_free_text(rec, ev->client.version);
    if (ev->client.capabilities)
        ccaps = mask_free_text(rec, ev->client.capabilities);
    /* free text from the client: masked as text (not counted in mask_summary) */
    if (ev->justification)
        just = mask_free_text(rec, ev->justification);
    if ((ev->justification && !just) || (ev->client.name && !cname) ||
        (ev->client.version && !cver) || (ev->client.capabilities && !ccaps) ||
        (sum.n > 0 && !(summary = summary_json(&sum)))) {
        err = mt_fail(eb, MT_ERR_NOMEM, "recorder: out of memory (masking)");
        goto out;
    }
    const char *masked = ev->payload ? (const char *)rec->masked.data : NULL;
    mt_avro_writer w;
    mt_avro_writer_begin(&w, rec->schema, out);
    mt_avw_string(&w, "event_id", event_id, 36);
    w_str(&w, "session_id", s->id);
    mt_avw_long(&w, "seq", (int64_t)s->seq);
    mt_avw_record_begin(&w, "stream");
    mt_avw_string(&w, "instance_id", rec->instance_id, 36);
    mt_avw_long(&w, "seq", (int64_t)rec->stream_seq);
    mt_avw_fixed(&w, "prev_hash", rec->has_stream_prev ? rec->stream_prev : NULL,
                 sizeof rec->stream_prev);
    if (s->last_stream >= 0)
        mt_avw_long(&w, "session_prev", s->last_stream);
    else
        mt_avw_null(&w, "session_prev");
    /* a signed checkpoint: the instance's own events, else at most one a second */
    rec->signing = rec->cfg.signing_key &&
                   (s == rec->inst || mono_ms() - rec->last_signed_ms >= 1000);
    uint8_t sig[MT_ED25519_SIG_LEN];
    if (rec->signing) {
        uint8_t msg[MT_STREAM_CHECKPOINT_MAX];
        size_t mlen = mt_stream_checkpoint_message(rec->instance_id, 36, (int64_t)rec->stream_seq,
                                                   rec->has_stream_prev ? rec->stream_prev : NULL,
                                                   msg);
        if ((err = mt_ed25519_sign(rec->cfg.signing_key, msg, mlen, sig, eb)) != MT_OK)
            goto out;
        mt_avw_record_begin(&w, "signature");
        w_str(&w, "key_id", rec->key_id);
        mt_avw_fixed(&w, "value", sig, sizeof sig);
        mt_avw_record_end(&w);
    } else {
        mt_avw_null(&w, "signature");
    }
    mt_avw_record_end(&w);
    mt_avw_long(&w, "ts", mt_now_us());
    mt_avw_enum(&w, "kind", ev->kind);
    mt_avw_enum(&w, "direction", ev->direction);
    mt_avw_record_begin(&w, "source");
    w_str(&w, "cluster", rec->src_cluster);
    w_str(&w, "namespace", rec->src_ns);
    w_str(&w, "pod", rec->src_pod);
    w_str(&w, "upstream", rec->src_upstream);
    mt_avw_record_end(&w);
    mt_avw_json(&w, "identity", ev->identity ? ev->identity : rec->no_identity);
    if (ev->http.method) {
        mt_avw_record_begin(&w, "http");
        w_str(&w, "method", ev->http.method);
        w_str(&w, "path", ev->http.path ? ev->http.path : "");
        if (ev->http.status)
            mt_avw_long(&w, "status", ev->http.status);
        else
            mt_avw_null(&w, "status");
        w_str(&w, "sse_event_id", ev->http.sse_event_id);
        w_str(&w, "protocol_version", ev->http.protocol_version);
        w_str(&w, "mcp_session_id", ev->http.mcp_session_id);
        mt_avw_record_end(&w);
    } else {
        mt_avw_null(&w, "http");
    }
    if (ev->rpc.present) {
        mt_avw_record_begin(&w, "rpc");
        w_str(&w, "id", ev->rpc.id);
        w_str(&w, "method", ev->rpc.method);
        w_str(&w, "tool", ev->rpc.tool);
        w_str(&w, "resource_uri", ev->rpc.resource_uri);
        mt_avw_bool(&w, "is_error", ev->rpc.is_error);
        if (ev->rpc.has_error_code)
            mt_avw_long(&w, "error_code", ev->rpc.error_code);
        else
            mt_avw_null(&w, "error_code");
        mt_avw_record_end(&w);
    } else {
        mt_avw_null(&w, "rpc");
    }
    mt_avw_string(&w, "payload_masked", masked, masked ? rec->masked.len - 1 : 0);
    mt_avw_fixed(&w, "payload_hmac", ev->payload ? mac : NULL, sizeof mac);
    mt_avw_json(&w, "mask_summary", summary ? summary : rec->no_masks);
    if (ev->policy_rule_id) {
        mt_avw_record_begin(&w, "policy");
        w_str(&w, "rule_id", ev->policy_rule_id);
        mt_avw_enum(&w, "action", ev->policy_action ? ev->policy_action : "record_only");
        mt_avw_record_end(&w);
    } else {
        mt_avw_null(&w, "policy");
    }
    if (ev->approval)
        mt_avw_json(&w, "approval", ev->approval);
    else
        mt_avw_null(&w, "approval");
    w_str(&w, "justification", just);
    if (ev->latency_us >= 0)
        mt_avw_long(&w, "latency_us", ev->latency_us);
    else
        mt_avw_null(&w, "latency_us");
    w_str(&w, "traceparent", ev->traceparent);
    w_str(&w, "sidecar_version", rec->version);
    mt_avw_fixed(&w, "prev_hash", s->has_prev ? s->prev : NULL, sizeof s->prev);
    if (rec->inst_listen && strcmp(ev->kind, "instance_start") == 0) {
        char host[256] = "";
        if (gethostname(host, sizeof host - 1) != 0)
            host[0] = '\0';
        mt_avw_record_begin(&w, "instance");
        mt_avw_fixed(&w, "config_sha256", rec->inst_config, sizeof rec->inst_config);
        mt_avw_fixed(&w, "policy_sha256", rec->inst_has_policy ? rec->inst_policy : NULL,
                     sizeof rec->inst_policy);
        w_str(&w, "host", host);
        mt_avw_long(&w, "pid", (int64_t)getpid());
        w_str(&w, "listen", rec->inst_listen);
        mt_avw_long(&w, "heartbeat_ms", rec->cfg.heartbeat_ms);
        w_str(&w, "mode", rec->cfg.mode == MT_REC_STRICT ? "strict" : "async");
        mt_avw_record_end(&w);
    } else {
        mt_avw_null(&w, "instance");
    }
    if (ev->call.call_id || ev->call.round > 0) {
        /* the first round of a call is named by its own request event */
        mt_avw_record_begin(&w, "call");
        w_str(&w, "call_id", ev->call.call_id ? ev->call.call_id : event_id);
        mt_avw_long(&w, "round", ev->call.round);
        w_str(&w, "result_type", ev->call.result_type);
        mt_avw_bool(&w, "sealed", ev->call.sealed);
        mt_avw_record_end(&w);
    } else {
        mt_avw_null(&w, "call");
    }
    if (has_client) {
        mt_avw_record_begin(&w, "client");
        w_str(&w, "name", cname);
        w_str(&w, "version", cver);
        w_str(&w, "capabilities", ccaps);
        mt_avw_record_end(&w);
    } else {
        mt_avw_null(&w, "client");
    }
    err = mt_avro_writer_finish(&w, eb);
out:
    free(just);
    free(cname);
    free(cver);
    free(ccaps);
    json_decref(summary);
    return err;
}

static mt_err emit_internal(mt_recorder *rec, mt_rec_session *s, const mt_rec_event *ev,
                            mt_rec_done_cb cb, void *arg)
{
    mt_errbuf eb = {{0}};
    mt_buf enc = MT_BUF_INIT;
    pending *pd = NULL;
    mt_err err;
    if (!rec || !s || !ev) {
        err = MT_ERR_INVALID_ARG;
        goto fail;
    }
    if (s->ended || rec->closing) {
        err = MT_ERR_STATE;
        goto fail;
    }
    if ((err = encode_event(rec, s, ev, &enc, &eb)) != MT_OK)
        goto fail;
    size_t klen = strlen(s->id);
    if (rec->cfg.mode == MT_REC_ASYNC && rec->has_spool) {
        /* Write-ahead: on disk (page cache; fsynced once per loop turn)
         * before the callback releases the message, then produced from the
         * spool in order. */
        err = spool_append(rec, s->id, klen, enc.data, enc.len);
        if (err == MT_OK)
            spool_pump(rec);
    } else {
        pd = malloc(sizeof *pd);
        if (!pd) {
            err = MT_ERR_NOMEM;
            goto fail;
        }
        *pd = (pending){.kind = rec->cfg.mode == MT_REC_STRICT ? P_STRICT : P_DIRECT,
                        .cb = cb, .arg = arg};
        err = mt_producer_send(rec->producer, rec->topic, s->id, klen, enc.data, enc.len,
                               rec->ah.h, 2, pd, &eb);
        if (err == MT_OK && pd->kind == P_DIRECT)
            rec->ndirect++;
        if (err) {
            free(pd);
            pd = NULL;
            if (rec->cfg.mode == MT_REC_ASYNC && rec->has_spool && err == MT_ERR_TOO_LARGE)
                err = spool_append(rec, s->id, klen, enc.data, enc.len);
        }
    }
    if (err)
        goto fail;
    /* Accepted: commit the chain state. */
    if (mt_sha256_hasher_digest(rec->sha, enc.data, enc.len, s->prev) != MT_OK)
        mt_sha256(enc.data, enc.len, s->prev);
    s->has_prev = true;
    s->seq++;
    memcpy(rec->stream_prev, s->prev, sizeof rec->stream_prev);
    rec->has_stream_prev = true;
    s->last_stream = (int64_t)rec->stream_seq++;
    rec->last_emit_ms = mono_ms();
    if (rec->signing)
        rec->last_signed_ms = rec->last_emit_ms;
    session_touch(rec, s);
    mt_buf_free(&enc);
    if (rec->cfg.mode == MT_REC_ASYNC && cb)
        cb(arg, MT_OK);
    return MT_OK;
fail:
    mt_buf_free(&enc);
    if (rec)
        rec->m.failed++;
    if (eb.msg[0])
        mt_logs_emit(MT_LOG_ERROR, COMPONENT, "event not recorded", "error", eb.msg, NULL);
    if (cb)
        cb(arg, err);
    return err;
}

mt_err mt_rec_emit(mt_recorder *rec, mt_rec_session *s, const mt_rec_event *ev,
                   mt_rec_done_cb cb, void *arg)
{
    return emit_internal(rec, s, ev, cb, arg);
}

/* Bytes of spooled records not yet acknowledged by Kafka. */
static uint64_t spool_pending(const spool *sp)
{
    uint64_t n = 0;
    for (size_t i = 0; i < sp->nfiles; i++) {
        const spool_file *f = &sp->files[i];
        if (f->n > sp->ack.n)
            n += f->size;
        else if (f->n == sp->ack.n && f->size > sp->ack.off)
            n += f->size - sp->ack.off;
    }
    return n;
}

void mt_rec_metrics_get(const mt_recorder *rec, mt_rec_metrics *out)
{
    *out = rec->m;
    out->spool_bytes = rec->has_spool ? spool_pending(&rec->sp) : 0;
}

/* ---- the instance's own events -------------------------------------------- */

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_recorder *rec = arg;
    /* idle only: the timer runs every heartbeat_ms, so at most 2 x heartbeat_ms
     * pass between two events of a running instance */
    if (mono_ms() - rec->last_emit_ms < rec->cfg.heartbeat_ms - 10)
        return;
    mt_rec_event ev = {.kind = "heartbeat", .direction = "internal", .latency_us = -1};
    (void)emit_internal(rec, rec->inst, &ev, NULL, NULL);
}

const char *mt_rec_instance_id(const mt_recorder *rec)
{
    return rec->instance_id;
}

mt_err mt_rec_instance_start(mt_recorder *rec, const mt_rec_instance *info, mt_errbuf *eb)
{
    if (!rec || !info || !info->config_sha256 || !info->listen)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_rec_instance_start: config digest and "
                                               "listen address required");
    memcpy(rec->inst_config, info->config_sha256, sizeof rec->inst_config);
    rec->inst_has_policy = info->policy_sha256 != NULL;
    if (info->policy_sha256)
        memcpy(rec->inst_policy, info->policy_sha256, sizeof rec->inst_policy);
    rec->inst_listen = info->listen;
    mt_rec_event ev = {.kind = "instance_start", .direction = "internal", .latency_us = -1};
    mt_err err = emit_internal(rec, rec->inst, &ev, NULL, NULL);
    rec->inst_listen = NULL;
    if (err)
        return mt_fail(eb, err, "instance_start not recorded: %s", mt_strerror(err));
    struct timeval tv = {rec->cfg.heartbeat_ms / 1000, (rec->cfg.heartbeat_ms % 1000) * 1000};
    if (event_add(rec->ev_heartbeat, &tv) != 0)
        return mt_fail(eb, MT_ERR_STATE, "mt_rec_instance_start: cannot start the heartbeat");
    return MT_OK;
}

mt_err mt_rec_instance_stop(mt_recorder *rec, mt_rec_done_cb cb, void *arg)
{
    event_del(rec->ev_heartbeat);
    mt_rec_event ev = {.kind = "instance_stop", .direction = "internal", .latency_us = -1};
    return emit_internal(rec, rec->inst, &ev, cb, arg);
}

/* ---- lifecycle ---------------------------------------------------------- */

mt_err mt_recorder_new(const mt_recorder_config *cfg, struct event_base *base,
                       mt_recorder **out, mt_errbuf *eb)
{
    if (!cfg || !base || !out || !cfg->hmac_key || cfg->hmac_key_len == 0)
        return mt_fail(eb, MT_ERR_INVALID_ARG,
                       "mt_recorder_new: config, event base and a non-empty hmac key required");
    mt_err err = MT_ERR_NOMEM;
    mt_recorder *rec = calloc(1, sizeof *rec);
    if (!rec)
        return mt_fail(eb, MT_ERR_NOMEM, "mt_recorder_new: out of memory");
    rec->cfg = *cfg;
    rec->base = base;
    rec->wake_fds[0] = rec->wake_fds[1] = -1;
    rec->sp.wfd = rec->sp.rfd = rec->sp.hfd = -1;
    if (!rec->cfg.max_sessions)
        rec->cfg.max_sessions = MT_REC_DEFAULT_MAX_SESSIONS;
    if (rec->cfg.session_idle_s <= 0)
        rec->cfg.session_idle_s = MT_REC_DEFAULT_IDLE_S;
    if (!rec->cfg.spool_max_bytes)
        rec->cfg.spool_max_bytes = MT_REC_DEFAULT_SPOOL_MAX;
    if (rec->cfg.heartbeat_ms <= 0)
        rec->cfg.heartbeat_ms = MT_REC_DEFAULT_HEARTBEAT_MS;
    if (uuid7(rec, rec->instance_id) != MT_OK ||
        !(rec->inst = calloc(1, sizeof *rec->inst)) ||
        !(rec->inst->id = strdup(rec->instance_id))) {
        mt_fail(eb, err = MT_ERR_NOMEM, "mt_recorder_new: cannot mint the instance id");
        goto fail;
    }
    if (cfg->signing_key && mt_ed25519_key_id(cfg->signing_key, rec->key_id, eb) != MT_OK) {
        err = MT_ERR_CRYPTO;
        goto fail;
    }
    rec->inst->unlisted = true;
    rec->inst->refs = 1;
    rec->inst->last_stream = -1;
    rec->topic = dup_or(cfg->topic, MT_REC_DEFAULT_TOPIC);
    rec->version = dup_or(cfg->sidecar_version, "0.0.0");
    rec->src_cluster = dup_or(cfg->source_cluster, "");
    rec->src_ns = dup_or(cfg->source_namespace, "");
    rec->src_pod = dup_or(cfg->source_pod, "");
    rec->src_upstream = dup_or(cfg->source_upstream, "");
    if (!rec->topic || !rec->version || !rec->src_cluster || !rec->src_ns || !rec->src_pod ||
        !rec->src_upstream) {
        mt_fail(eb, err, "mt_recorder_new: out of memory");
        goto fail;
    }
    if (!(rec->hmac_key = malloc(cfg->hmac_key_len))) {
        mt_fail(eb, err = MT_ERR_NOMEM, "mt_recorder_new: out of memory");
        goto fail;
    }
    memcpy(rec->hmac_key, cfg->hmac_key, cfg->hmac_key_len);
    rec->no_identity = json_object();
    rec->no_masks = json_array();
    if (!rec->no_identity || !rec->no_masks) {
        mt_fail(eb, err = MT_ERR_NOMEM, "mt_recorder_new: out of memory");
        goto fail;
    }
    rec->cfg.hmac_key = NULL; /* the copy is rec->hmac_key, then rec->hmac */
    for (rec->nbuckets = 16; rec->nbuckets < rec->cfg.max_sessions * 2;)
        rec->nbuckets *= 2;
    rec->buckets = calloc(rec->nbuckets, sizeof *rec->buckets);
    if (!rec->buckets) {
        mt_fail(eb, err, "mt_recorder_new: out of memory");
        goto fail;
    }
    rec->mask = cfg->mask;
    const mt_avro_registry *reg = cfg->schemas;
    if (!reg) {
        if ((err = mt_avro_registry_load(NULL, &rec->own_schemas, eb)) != MT_OK)
            goto fail;
        reg = rec->own_schemas;
    }
    rec->schema = mt_avro_registry_find(reg, "dev.mcptrail.SessionEvent");
    if (!rec->schema) {
        err = mt_fail(eb, MT_ERR_UNKNOWN_SCHEMA, "mt_recorder_new: no dev.mcptrail.SessionEvent "
                                                 "schema in the registry");
        goto fail;
    }
    mt_kafka_avro_headers_init(&rec->ah, mt_avro_schema_fingerprint(rec->schema));
    if (cfg->mode == MT_REC_ASYNC && cfg->spool_dir) {
        rec->has_spool = true;
        pthread_mutex_init(&rec->sp.sy.mu, NULL);
        pthread_mutex_init(&rec->sp.sy.mark_mu, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the sync interval's clock */
        pthread_cond_init(&rec->sp.sy.cv, &ca);
        pthread_condattr_destroy(&ca);
        rec->sp.sy.cur_fd = -1;
        rec->sp.sy.interval_ms = cfg->spool_sync_interval_ms > 0 ? cfg->spool_sync_interval_ms : 0;
        if (!(rec->sp.dir = strdup(cfg->spool_dir))) {
            err = mt_fail(eb, MT_ERR_NOMEM, "mt_recorder_new: out of memory");
            goto fail;
        }
        rec->sp.sy.dir = rec->sp.dir;
        if ((err = spool_open(rec, eb)) != MT_OK)
            goto fail;
        if ((err = syncer_start(&rec->sp)) != MT_OK) {
            mt_fail(eb, err, "mt_recorder_new: cannot start the spool syncer thread");
            goto fail;
        }
    }
    mt_producer_config pc = {
        .kafka = cfg->kafka,
        .on_delivery = on_delivery,
        .ctx = rec,
        .max_inflight = cfg->max_inflight,
        .delivery_timeout_ms = cfg->delivery_timeout_ms,
    };
    if ((err = mt_producer_new(&pc, &rec->producer, eb)) != MT_OK)
        goto fail;
    if (pipe(rec->wake_fds) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "mt_recorder_new: pipe: %s", strerror(errno));
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        evutil_make_socket_nonblocking(rec->wake_fds[i]);
        evutil_make_socket_closeonexec(rec->wake_fds[i]);
    }
    rec->ev_wake = event_new(base, rec->wake_fds[0], EV_READ | EV_PERSIST, on_wake, rec);
    rec->ev_sweep = event_new(base, -1, EV_PERSIST, on_sweep, rec);
    rec->ev_fsync = event_new(base, -1, 0, on_fsync, rec);
    rec->ev_retry = evtimer_new(base, on_retry, rec);
    rec->ev_heartbeat = event_new(base, -1, EV_PERSIST, on_heartbeat, rec);
    if (!rec->ev_wake || !rec->ev_sweep || !rec->ev_fsync || !rec->ev_retry ||
        !rec->ev_heartbeat) {
        err = mt_fail(eb, MT_ERR_NOMEM, "mt_recorder_new: cannot create events");
        goto fail;
    }
    int every = rec->cfg.session_idle_s / 4;
    struct timeval sweep = {every < 1 ? 1 : (every > 60 ? 60 : every), 0};
    if (event_add(rec->ev_wake, NULL) != 0 || event_add(rec->ev_sweep, &sweep) != 0) {
        err = mt_fail(eb, MT_ERR_STATE, "mt_recorder_new: cannot add events to the loop");
        goto fail;
    }
    if ((err = mt_producer_set_wakeup_fd(rec->producer, rec->wake_fds[1])) != MT_OK) {
        mt_fail(eb, err, "mt_recorder_new: cannot set the producer wake-up fd");
        goto fail;
    }
    spool_pump(rec); /* crash recovery: what was spooled goes first */
    *out = rec;
    return MT_OK;
fail:
    mt_recorder_free(rec);
    return err;
}

mt_err mt_recorder_flush(mt_recorder *rec, int timeout_ms, mt_errbuf *eb)
{
    mt_err err = mt_producer_flush(rec->producer, timeout_ms, eb);
    done_run(rec);
    spool_pump(rec);
    return err;
}

void mt_recorder_free(mt_recorder *rec)
{
    if (!rec)
        return;
    /* In-flight async events are spooled by on_delivery (MT_ERR_STATE);
     * strict callers hear MT_ERR_STATE. */
    if (rec->has_spool && rec->sp.dir)
        spool_mark(&rec->sp); /* acks seen since the last loop turn */
    rec->closing = true;
    mt_producer_destroy(rec->producer);
    done_run(rec);
    if (rec->ev_wake)
        event_free(rec->ev_wake);
    if (rec->ev_sweep)
        event_free(rec->ev_sweep);
    if (rec->ev_retry)
        event_free(rec->ev_retry);
    if (rec->ev_fsync)
        event_free(rec->ev_fsync);
    if (rec->ev_heartbeat)
        event_free(rec->ev_heartbeat);
    if (rec->inst)
        session_free(rec->inst);
    free(rec->done);
    if (rec->has_spool)
        spool_close(&rec->sp);
    else
        free(rec->sp.dir);
    for (int i = 0; i < 2; i++)
        if (rec->wake_fds[i] >= 0)
            close(rec->wake_fds[i]);
    while (rec->lru_head) {
        mt_rec_session *s = rec->lru_head;
        lru_unlink(rec, s);
        session_free(s); /* held references die with the recorder */
    }
    free(rec->buckets);
    mt_avro_registry_free(rec->own_schemas);
    free(rec->topic);
    free(rec->version);
    free(rec->src_cluster);
    free(rec->src_ns);
    free(rec->src_pod);
    free(rec->src_upstream);
    mt_hmac_free(rec->hmac);
    mt_sha256_hasher_free(rec->sha);
    mt_mask_ctx_free(rec->mctx);
    mt_mask_engine_free(rec->own_mask);
    mt_buf_free(&rec->masked);
    if (rec->hmac_key)
        OPENSSL_cleanse(rec->hmac_key, rec->cfg.hmac_key_len);
    free(rec->hmac_key);
    json_decref(rec->no_identity);
    json_decref(rec->no_masks);
    OPENSSL_cleanse(rec->rnd, sizeof rec->rnd);
    free(rec);
}

void mt_rec_test_pause_syncer(mt_recorder *rec, bool paused)
{
    if (!rec->has_spool)
        return;
    pthread_mutex_lock(&rec->sp.sy.mu);
    rec->sp.sy.paused = paused;
    pthread_cond_signal(&rec->sp.sy.cv);
    pthread_mutex_unlock(&rec->sp.sy.mu);
}

uint64_t mt_rec_test_sync_rounds(mt_recorder *rec)
{
    if (!rec->has_spool)
        return 0;
    pthread_mutex_lock(&rec->sp.sy.mu);
    uint64_t n = rec->sp.sy.rounds;
    pthread_mutex_unlock(&rec->sp.sy.mu);
    return n;
}

mt_err mt_rec_mask(mt_recorder *rec, const void *payload, size_t len, char **out,
                   mt_errbuf *eb)
{
    *out = NULL;
    mt_buf b = MT_BUF_INIT;
    mt_mask_summary sum;
    mt_mask_summary_init(&sum);
    mt_err err = mask_ready(rec, eb);
    if (err == MT_OK)
        err = mask_payload(rec, payload, len, &b, &sum, eb);
    if (err != MT_OK) {
        mt_buf_free(&b);
        return err;
    }
    *out = (char *)b.data; /* NUL-terminated by mask_payload */
    return MT_OK;
}

mt_err mt_rec_uuid7(mt_recorder *rec, char out[37])
{
    return uuid7(rec, out);
}
