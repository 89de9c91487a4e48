/* mcptrail-archiver `run`: the consumer loop, segment rolling, manifests and
 * crash recovery; the layout and the durability order are in archiver.h.
 *
 * One thread. Each topic-partition has a `part` with its chain state (next
 * manifest seq, SHA-256 of the last manifest, next offset) and at most one
 * open segment. Timers (segment age, heartbeats) are checked by wall clock
 * between polls, so a busy partition cannot starve another's heartbeat. */
#include "archiver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mcptrail/archive.h"
#include "mcptrail/log.h"

enum { POLL_MS = 100, COMMIT_TRIES = 3 };

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static mt_err fsync_dir(const char *dir, mt_errbuf *eb)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return mt_fail(eb, MT_ERR_IO, "%s: open directory: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0)
        return mt_fail(eb, MT_ERR_IO, "%s: fsync directory: %s", dir, strerror(e));
    return MT_OK;
}

static mt_err mkdir_p(const char *path, mt_errbuf *eb)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "%s: path too long", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return mt_fail(eb, MT_ERR_IO, "%s: mkdir: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return mt_fail(eb, MT_ERR_IO, "%s: mkdir: %s", tmp, strerror(errno));
    return MT_OK;
}

/* tmp -> write -> fsync -> rename -> fsync dir -> chmod 0444. */
static mt_err write_worm(const char *dir, const char *name, const uint8_t *data, size_t len,
                         mt_errbuf *eb)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return mt_fail(eb, MT_ERR_IO, "%s: create: %s", tmp, strerror(errno));
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return mt_fail(eb, MT_ERR_IO, "%s: write: %s", tmp, strerror(e));
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return mt_fail(eb, MT_ERR_IO, "%s: fsync: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0)
        return mt_fail(eb, MT_ERR_IO, "%s: rename: %s", tmp, strerror(errno));
    mt_err err = fsync_dir(dir, eb);
    if (err)
        return err;
    if (chmod(path, 0444) != 0)
        return mt_fail(eb, MT_ERR_IO, "%s: chmod 0444: %s", path, strerror(errno));
    return MT_OK;
}

typedef struct part {
    char *topic;
    int32_t partition;
    char *dir;
    uint64_t next_seq;
    uint8_t prev[MT_SHA256_LEN];
    int64_t next_offset; /* -1: no manifest yet, accept any first offset */
    int64_t last_manifest_mono;
    bool dirty; /* a manifest other than "close" was written since start */
    /* open segment */
    mt_segment_writer *w;
    char tmp_path[PATH_MAX];
    int64_t first_offset, last_offset, ts_first, ts_last, opened_mono;
    uint64_t records;
    mt_merkle_builder mb;
} part;

typedef struct archiver {
    const mt_archiver_params *p;
    const mt_archiver_config *cfg;
    mt_consumer *c;
    part **parts;
    size_t nparts, cap;
    part *last_hit;
    mt_leaf_hasher lh;
    mt_segment_pool *pool;
    uint64_t records, skipped, segments, heartbeats, value_bytes;
    int64_t first_record_mono, last_record_mono; /* throughput in the "stopped" line */
} archiver;

static mt_err write_manifest(part *pt, mt_manifest *m, const mt_ed25519_key *key,
                             int64_t heartbeat_ms, mt_errbuf *eb)
{
    mt_buf b = MT_BUF_INIT;
    snprintf(m->topic, sizeof m->topic, "%s", pt->topic);
    m->partition = pt->partition;
    m->seq = pt->next_seq;
    memcpy(m->prev_sha256, pt->prev, MT_SHA256_LEN);
    m->created_ms = now_ms();
    m->heartbeat_ms = heartbeat_ms;
    char name[64];
    snprintf(name, sizeof name, "%012" PRIu64 ".manifest.json", pt->next_seq);
    mt_err err = mt_manifest_sign_encode(m, key, &b, eb);
    if (!err)
        err = write_worm(pt->dir, name, b.data, b.len, eb);
    if (!err)
        err = mt_sha256(b.data, b.len, pt->prev);
    mt_buf_free(&b);
    if (err)
        return err;
    pt->next_seq++;
    pt->next_offset = m->next_offset;
    pt->last_manifest_mono = mono_ms();
    return MT_OK;
}

/* Builds and writes the manifest of a closed segment file already renamed to
 * its final name (used by recovery; the live path knows the numbers). */
typedef struct scan_ctx {
    mt_merkle_builder mb;
    uint64_t n;
    int64_t first, last, ts_first, ts_last;
} scan_ctx;

static int scan_cb(const mt_segment_record *r, void *vctx)
{
    scan_ctx *s = vctx;
    uint8_t leaf[MT_SHA256_LEN];
    if (mt_merkle_leaf_hash(r->value, r->value_len, leaf) != MT_OK ||
        mt_merkle_builder_append(&s->mb, leaf, NULL) != MT_OK)
        return 1;
    if (s->n == 0) {
        s->first = r->offset;
        s->ts_first = r->timestamp_ms;
    }
    s->last = r->offset;
    s->ts_last = r->timestamp_ms;
    s->n++;
    return 0;
}

static mt_err recover_segment(part *pt, const char *name, const mt_ed25519_key *key,
                              int64_t heartbeat_ms, mt_errbuf *eb)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", pt->dir, name);
    mt_buf data = MT_BUF_INIT;
    scan_ctx s = {.first = -1, .last = -1, .ts_first = -1, .ts_last = -1};
    mt_merkle_builder_init(&s.mb);
    mt_manifest m = {.kind = MT_MANIFEST_SEGMENT};
    mt_err err = mt_read_file(path, (size_t)1 << 34, &data, eb);
    if (err || (err = mt_segment_read(data.data, data.len, scan_cb, &s, eb)) != MT_OK)
        goto out;
    if ((err = mt_sha256(data.data, data.len, m.sha256)) != MT_OK ||
        (err = mt_merkle_builder_root(&s.mb, m.merkle_root, eb)) != MT_OK)
        goto out;
    chmod(path, 0444);
    m.first_offset = s.first;
    m.last_offset = s.last;
    m.next_offset = s.n ? s.last + 1 : (pt->next_offset < 0 ? 0 : pt->next_offset);
    m.records = s.n;
    snprintf(m.segment, sizeof m.segment, "%s", name);
    m.segment_bytes = data.len;
    m.ts_first_ms = s.ts_first;
    m.ts_last_ms = s.ts_last;
    err = write_manifest(pt, &m, key, heartbeat_ms, eb);
    if (!err)
        mt_logs(MT_LOG_WARN, "archiver", "recovered a segment that had no manifest", "segment",
                path, NULL);
out:
    mt_buf_free(&data);
    return err;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Loads the chain state of pt->dir and repairs what a crash left. */
static mt_err part_load(part *pt, const mt_ed25519_key *key, int64_t heartbeat_ms,
                        mt_errbuf *eb)
{
    mt_err err = mkdir_p(pt->dir, eb);
    if (err)
        return err;
    DIR *d = opendir(pt->dir);
    if (!d)
        return mt_fail(eb, MT_ERR_IO, "%s: opendir: %s", pt->dir, strerror(errno));
    bool have_manifest = false;
    uint64_t max_manifest = 0, max_segment = 0;
    bool have_segment = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t seq;
        if (has_suffix(de->d_name, ".tmp")) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", pt->dir, de->d_name);
            mt_logs(MT_LOG_WARN, "archiver", "discarding an unfinished file (its records "
                    "were never committed and are consumed again)", "file", path, NULL);
            unlink(path);
        } else if (mt_segment_seq_name(de->d_name, ".manifest.json", &seq)) {
            if (!have_manifest || seq > max_manifest)
                max_manifest = seq;
            have_manifest = true;
        } else if (mt_segment_seq_name(de->d_name, ".avro", &seq)) {
            if (!have_segment || seq > max_segment)
                max_segment = seq;
            have_segment = true;
        }
    }
    closedir(d);
    pt->next_seq = 0;
    pt->next_offset = -1;
    memset(pt->prev, 0, sizeof pt->prev);
    if (have_manifest) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%012" PRIu64 ".manifest.json", pt->dir, max_manifest);
        mt_buf b = MT_BUF_INIT;
        mt_manifest m;
        err = mt_read_file(path, MT_MANIFEST_MAX_BYTES, &b, eb);
        if (!err)
            err = mt_manifest_parse(b.data, b.len, &m, NULL, eb);
        if (!err)
            err = mt_sha256(b.data, b.len, pt->prev);
        mt_buf_free(&b);
        if (err)
            return err;
        pt->next_seq = m.seq + 1;
        pt->next_offset = m.next_offset;
    }
    if (fsync_dir(pt->dir, eb) != MT_OK)
        return MT_ERR_IO;
    /* A segment renamed but not yet given its manifest (crash in between). */
    if (have_segment && (!have_manifest || max_segment > max_manifest)) {
        char name[64];
        snprintf(name, sizeof name, "%012" PRIu64 ".avro", max_segment);
        pt->next_seq = max_segment;
        if ((err = recover_segment(pt, name, key, heartbeat_ms, eb)) != MT_OK)
            return err;
    }
    pt->last_manifest_mono = mono_ms();
    return MT_OK;
}

mt_err mt_archiver_recover_dir(const char *dir, const char *topic, int32_t partition,
                               const mt_ed25519_key *key, int64_t heartbeat_ms, mt_errbuf *eb)
{
    part pt = {.topic = (char *)(uintptr_t)topic, .partition = partition,
               .dir = (char *)(uintptr_t)dir};
    return part_load(&pt, key, heartbeat_ms, eb);
}

static void part_free(part *pt)
{
    if (!pt)
        return;
    mt_segment_writer_abort(pt->w);
    free(pt->topic);
    free(pt->dir);
    free(pt);
}

static part *part_find(archiver *a, const char *topic, int32_t partition)
{
    if (a->last_hit && a->last_hit->partition == partition &&
        strcmp(a->last_hit->topic, topic) == 0)
        return a->last_hit;
    for (size_t i = 0; i < a->nparts; i++)
        if (a->parts[i]->partition == partition && strcmp(a->parts[i]->topic, topic) == 0)
            return a->last_hit = a->parts[i];
    return NULL;
}

static mt_err part_add(archiver *a, const char *topic, int32_t partition, part **out,
                       mt_errbuf *eb)
{
    if (a->nparts == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 16;
        part **np = realloc(a->parts, nc * sizeof *np);
        if (!np)
            return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        a->parts = np;
        a->cap = nc;
    }
    part *pt = calloc(1, sizeof *pt);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s/%" PRId32, a->cfg->dir, topic, partition);
    if (!pt || !(pt->topic = strdup(topic)) || !(pt->dir = strdup(dir))) {
        part_free(pt);
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    pt->partition = partition;
    mt_err err = part_load(pt, a->p->key, a->cfg->heartbeat_ms, eb);
    if (err) {
        part_free(pt);
        return err;
    }
    a->parts[a->nparts++] = pt;
    *out = pt;
    return MT_OK;
}

static mt_err commit(archiver *a, part *pt, int64_t last_offset, mt_errbuf *eb)
{
    mt_kafka_msg m = {.topic = pt->topic, .partition = pt->partition, .offset = last_offset};
    mt_err err = MT_OK;
    for (int i = 0; i < COMMIT_TRIES; i++) {
        mt_errbuf e2 = {{0}};
        if ((err = mt_consumer_commit(a->c, &m, &e2)) == MT_OK)
            return MT_OK;
        mt_logs(MT_LOG_WARN, "archiver", "offset commit failed (the manifest stays the truth; "
                "records below it are skipped when delivered again)", "error", e2.msg, NULL);
    }
    (void)eb;
    return MT_OK;
}

static mt_err part_roll(archiver *a, part *pt, mt_errbuf *eb)
{
    if (!pt->w)
        return MT_OK;
    mt_manifest m = {.kind = MT_MANIFEST_SEGMENT};
    mt_segment_writer *w = pt->w;
    pt->w = NULL;
    mt_err err = mt_segment_writer_finish(w, m.sha256, &m.segment_bytes, eb);
    if (err)
        return err;
    snprintf(m.segment, sizeof m.segment, "%012" PRIu64 ".avro", pt->next_seq);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", pt->dir, m.segment);
    if (rename(pt->tmp_path, path) != 0)
        return mt_fail(eb, MT_ERR_IO, "%s: rename: %s", pt->tmp_path, strerror(errno));
    if ((err = fsync_dir(pt->dir, eb)) != MT_OK)
        return err;
    if (chmod(path, 0444) != 0)
        return mt_fail(eb, MT_ERR_IO, "%s: chmod 0444: %s", path, strerror(errno));
    if ((err = mt_merkle_builder_root(&pt->mb, m.merkle_root, eb)) != MT_OK)
        return err;
    m.first_offset = pt->first_offset;
    m.last_offset = pt->last_offset;
    m.next_offset = pt->last_offset + 1;
    m.records = pt->records;
    m.ts_first_ms = pt->ts_first;
    m.ts_last_ms = pt->ts_last;
    if ((err = write_manifest(pt, &m, a->p->key, a->cfg->heartbeat_ms, eb)) != MT_OK)
        return err;
    pt->dirty = true;
    a->segments++;
    mt_log(MT_LOG_DEBUG, "archiver", "segment closed", "segment", json_string(path),
           "records", json_integer((json_int_t)m.records), NULL);
    return commit(a, pt, m.last_offset, eb);
}

static mt_err part_marker(archiver *a, part *pt, mt_manifest_kind kind, mt_errbuf *eb)
{
    uint8_t empty[MT_SHA256_LEN];
    mt_sha256("", 0, empty);
    mt_manifest m = {.kind = kind, .first_offset = -1, .last_offset = -1,
                     .next_offset = pt->next_offset < 0 ? 0 : pt->next_offset,
                     .ts_first_ms = -1, .ts_last_ms = -1};
    memcpy(m.sha256, empty, sizeof empty);
    memcpy(m.merkle_root, empty, sizeof empty);
    mt_err err = write_manifest(pt, &m, a->p->key, a->cfg->heartbeat_ms, eb);
    if (!err && kind == MT_MANIFEST_HEARTBEAT) {
        a->heartbeats++;
        pt->dirty = true;
    }
    return err;
}

static mt_err part_append(archiver *a, part *pt, const mt_kafka_msg *msg, mt_errbuf *eb)
{
    mt_err err;
    if (!pt->w) {
        uint8_t seed[MT_SHA256_LEN];
        char what[PATH_MAX + 64];
        snprintf(pt->tmp_path, sizeof pt->tmp_path, "%s/open-%020" PRId64 ".avro.tmp", pt->dir,
                 msg->offset);
        snprintf(what, sizeof what, "%s|%" PRId64 "|%" PRId64, pt->tmp_path, msg->offset,
                 now_ms());
        mt_sha256(what, strlen(what), seed);
        unlink(pt->tmp_path); /* left by an earlier failure in this process */
        if ((err = mt_segment_writer_open(pt->tmp_path, seed, (int)a->cfg->deflate_level,
                                          (size_t)a->cfg->block_size, a->pool, &pt->w,
                                          eb)) != MT_OK)
            return err;
        mt_merkle_builder_init(&pt->mb);
        pt->records = 0;
        pt->first_offset = msg->offset;
        pt->ts_first = msg->timestamp_ms;
        pt->opened_mono = mono_ms();
    }
    mt_segment_record r = {.offset = msg->offset, .timestamp_ms = msg->timestamp_ms,
                           .key = msg->key, .key_len = msg->key_len,
                           .value = msg->value ? msg->value : (const uint8_t *)"",
                           .value_len = msg->value_len};
    uint8_t leaf[MT_SHA256_LEN];
    if ((err = mt_segment_writer_append(pt->w, &r, eb)) != MT_OK ||
        (err = mt_leaf_hash(&a->lh, r.value, r.value_len, leaf)) != MT_OK ||
        (err = mt_leaf_append(&a->lh, &pt->mb, leaf)) != MT_OK) {
        char why[sizeof eb->msg];
        snprintf(why, sizeof why, "%s", eb->msg);
        return mt_fail(eb, err, "%s: record at offset %" PRId64 ": %s", pt->dir, msg->offset,
                       why);
    }
    pt->records++;
    if (a->records == 0)
        a->first_record_mono = mono_ms();
    a->value_bytes += r.value_len;
    pt->last_offset = msg->offset;
    pt->ts_last = msg->timestamp_ms;
    a->records++;
    if (mt_segment_writer_bytes(pt->w) >= (uint64_t)a->cfg->segment_max_bytes)
        return part_roll(a, pt, eb);
    return MT_OK;
}

static mt_err load_existing(archiver *a, mt_errbuf *eb)
{
    for (size_t t = 0; t < a->cfg->topics.n; t++) {
        const char *topic = a->cfg->topics.items[t];
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", a->cfg->dir, topic);
        DIR *d = opendir(dir);
        if (!d)
            continue;
        struct dirent *de;
        mt_err err = MT_OK;
        while (!err && (de = readdir(d)) != NULL) {
            char *end;
            if (de->d_name[0] < '0' || de->d_name[0] > '9')
                continue;
            long p = strtol(de->d_name, &end, 10);
            if (*end || p < 0 || p > INT32_MAX)
                continue;
            part *pt;
            if (!part_find(a, topic, (int32_t)p))
                err = part_add(a, topic, (int32_t)p, &pt, eb);
        }
        closedir(d);
        if (err)
            return err;
    }
    return MT_OK;
}

static mt_err timers(archiver *a, mt_errbuf *eb)
{
    int64_t now = mono_ms();
    for (size_t i = 0; i < a->nparts; i++) {
        part *pt = a->parts[i];
        mt_err err = MT_OK;
        /* Nothing consumed stays without a signed manifest longer than a
         * heartbeat interval: a due heartbeat closes the open segment instead.
         * So the newest manifest of every chain is at most one interval old
         * and covers everything consumed before it (the tail check). */
        bool hb_due = now - pt->last_manifest_mono >= a->cfg->heartbeat_ms;
        if (pt->w && (hb_due || now - pt->opened_mono >= a->cfg->segment_max_age_ms))
            err = part_roll(a, pt, eb);
        else if (hb_due)
            err = part_marker(a, pt, MT_MANIFEST_HEARTBEAT, eb);
        if (err)
            return err;
    }
    return MT_OK;
}

mt_err mt_archiver_run(const mt_archiver_params *p, mt_errbuf *eb)
{
    archiver a = {.p = p, .cfg = p->cfg};
    mt_err err;
    const mt_archiver_config *cfg = p->cfg;
    mt_kafka_prop *props = NULL;
    int lock_fd = -1;
    char lock_path[PATH_MAX];
    if ((err = mt_leaf_hasher_init(&a.lh, eb)) != MT_OK || (err = mkdir_p(cfg->dir, eb)) != MT_OK)
        goto out;
    if (cfg->compress_thread && cfg->deflate_level >= 0 &&
        (err = mt_segment_pool_new(&a.pool, eb)) != MT_OK)
        goto out;
    /* Two writers on one archive would interleave chains: refuse. The lock
     * dies with the process, so kill -9 leaves nothing to clean up. */
    snprintf(lock_path, sizeof lock_path, "%s/.lock", cfg->dir);
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        err = mt_fail(eb, MT_ERR_STATE, "%s: %s (is another archiver writing to %s?)", lock_path,
                      strerror(errno), cfg->dir);
        goto out;
    }
    if ((err = load_existing(&a, eb)) != MT_OK)
        goto out;
    /* The group instance id joins the caller's properties (which win otherwise). */
    size_t np = p->kafka.nprops + (cfg->group_instance_id ? 1 : 0);
    props = calloc(np + 1, sizeof *props);
    if (!props) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t k = 0;
    if (cfg->group_instance_id)
        props[k++] = (mt_kafka_prop){"group.instance.id", cfg->group_instance_id};
    for (size_t i = 0; i < p->kafka.nprops; i++)
        props[k++] = p->kafka.props[i];
    mt_consumer_config cc = {.kafka = p->kafka, .group_id = cfg->group_id,
                             .topics = (const char *const *)cfg->topics.items,
                             .ntopics = cfg->topics.n};
    cc.kafka.props = props;
    cc.kafka.nprops = k;
    if ((err = mt_consumer_new(&cc, &a.c, eb)) != MT_OK)
        goto out;
    mt_log(MT_LOG_INFO, "archiver", "running", "dir", json_string(cfg->dir), "partitions",
           json_integer((json_int_t)a.nparts), NULL);
    int64_t last_record = mono_ms(), last_timers = 0;
    while (!*p->stop) {
        mt_kafka_msg msg;
        mt_errbuf e2 = {{0}};
        err = mt_consumer_poll(a.c, POLL_MS, &msg, &e2);
        if (err == MT_OK) {
            part *pt = part_find(&a, msg.topic, msg.partition);
            if (!pt && (err = part_add(&a, msg.topic, msg.partition, &pt, eb)) != MT_OK) {
                mt_kafka_msg_release(&msg);
                goto out;
            }
            if (msg.eof) {
                /* nothing */
            } else if (pt->next_offset >= 0 && msg.offset < pt->next_offset && !pt->w) {
                a.skipped++; /* archived before a crash, commit lost */
            } else if (pt->w && msg.offset <= pt->last_offset) {
                a.skipped++; /* redelivered into the open segment after a rebalance */
            } else {
                if (!pt->w && pt->next_offset >= 0 && msg.offset > pt->next_offset)
                    mt_log(MT_LOG_WARN, "archiver", "offset gap on the topic (records gone "
                           "from Kafka before they were archived?)", "topic",
                           json_string(pt->topic), "partition", json_integer(pt->partition),
                           "expected", json_integer(pt->next_offset), "got",
                           json_integer(msg.offset), NULL);
                err = part_append(&a, pt, &msg, eb);
            }
            mt_kafka_msg_release(&msg);
            if (err)
                goto out;
            last_record = mono_ms();
            a.last_record_mono = last_record;
        } else if (err != MT_ERR_TIMEOUT) {
            mt_logs(MT_LOG_ERROR, "archiver", "consumer error", "error", e2.msg, NULL);
        }
        err = MT_OK;
        int64_t now = mono_ms();
        if (now - last_timers >= POLL_MS) {
            last_timers = now;
            if ((err = timers(&a, eb)) != MT_OK)
                goto out;
        }
        if (cfg->exit_idle_ms > 0 && now - last_record >= cfg->exit_idle_ms)
            break;
    }
    /* Clean stop: close segments, mark every chain closed. */
    int64_t close_start = mono_ms();
    for (size_t i = 0; i < a.nparts; i++) {
        if ((err = part_roll(&a, a.parts[i], eb)) != MT_OK ||
            (err = part_marker(&a, a.parts[i], MT_MANIFEST_CLOSE, eb)) != MT_OK)
            goto out;
    }
    /* Ingest time: first record to the last one durable (segments closed). */
    int64_t ingest_ms =
        a.records ? a.last_record_mono - a.first_record_mono + mono_ms() - close_start : 0;
    mt_log(MT_LOG_INFO, "archiver", "stopped", "records", json_integer((json_int_t)a.records),
           "value_bytes", json_integer((json_int_t)a.value_bytes), "ingest_ms",
           json_integer(ingest_ms),
           "skipped", json_integer((json_int_t)a.skipped), "segments",
           json_integer((json_int_t)a.segments), "heartbeats",
           json_integer((json_int_t)a.heartbeats), NULL);
out:
    if (a.c)
        mt_consumer_destroy(a.c);
    for (size_t i = 0; i < a.nparts; i++)
        part_free(a.parts[i]);
    mt_segment_pool_free(a.pool); /* after the writers: they wait for their jobs */
    free(a.parts);
    free(props);
    if (lock_fd >= 0)
        close(lock_fd);
    mt_leaf_hasher_free(&a.lh);
    return err;
}
