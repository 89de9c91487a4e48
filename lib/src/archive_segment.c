/* Avro object container files for archive segments; see mcptrail/archive.h.
 *
 * Writer: records are encoded into an uncompressed block buffer; when it
 * reaches block_size the block is deflated (raw RFC 1951, as the Avro spec
 * requires) and appended with its count, size and the sync marker. File bytes
 * go through one output buffer that also feeds the running SHA-256, so the
 * file is hashed exactly as written without reading it back. Compression
 * and inflation use libdeflate (whole buffers; a block is at most
 * MT_SEGMENT_MAX_BLOCK).
 * Reader: a bounds-checked walk over a file held in memory. */
#include "mcptrail/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>

#include "mcptrail/avro.h"

enum { OUT_FLUSH = 256 * 1024 };

size_t mt_zz_put(uint8_t *p, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (u >= 0x80) {
        p[n++] = (uint8_t)(u | 0x80);
        u >>= 7;
    }
    p[n++] = (uint8_t)u;
    return n;
}

mt_err mt_zz_get(const uint8_t *data, size_t len, size_t *pos, int64_t *v)
{
    uint64_t u = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (*pos >= len)
            return MT_ERR_TRUNCATED;
        uint8_t b = data[(*pos)++];
        if (shift == 63 && (b & 0x7e))
            return MT_ERR_SCHEMA;
        u |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return MT_OK;
        }
    }
    return MT_ERR_SCHEMA;
}

/* ---- Merkle leaves ------------------------------------------------------ */

mt_err mt_leaf_hasher_init(mt_leaf_hasher *lh, mt_errbuf *eb)
{
    memset(lh, 0, sizeof *lh);
    return mt_sha256_hasher_new(&lh->h, eb);
}

void mt_leaf_hasher_free(mt_leaf_hasher *lh)
{
    mt_sha256_hasher_free(lh->h);
    mt_buf_free(&lh->scratch);
    memset(lh, 0, sizeof *lh);
}

mt_err mt_leaf_hash(mt_leaf_hasher *lh, const void *data, size_t len, uint8_t out[MT_SHA256_LEN])
{
    mt_buf_reset(&lh->scratch);
    mt_err err = mt_buf_append_byte(&lh->scratch, 0x00);
    if (!err && len)
        err = mt_buf_append(&lh->scratch, data, len);
    return err ? err : mt_sha256_hasher_digest(lh->h, lh->scratch.data, lh->scratch.len, out);
}

mt_err mt_leaf_append(mt_leaf_hasher *lh, mt_merkle_builder *b,
                      const uint8_t leaf[MT_SHA256_LEN])
{
    uint8_t cur[MT_SHA256_LEN], node[1 + 2 * MT_SHA256_LEN];
    if (b->size >= MT_MERKLE_MAX_SIZE)
        return MT_ERR_TOO_LARGE;
    memcpy(cur, leaf, MT_SHA256_LEN);
    unsigned k = 0;
    /* Carry: each set low bit of size is a perfect subtree left of cur. */
    while (b->size & ((uint64_t)1 << k)) {
        node[0] = 0x01;
        memcpy(node + 1, b->peaks[k], MT_SHA256_LEN);
        memcpy(node + 1 + MT_SHA256_LEN, cur, MT_SHA256_LEN);
        mt_err err = mt_sha256_hasher_digest(lh->h, node, sizeof node, cur);
        if (err)
            return err;
        k++;
    }
    memcpy(b->peaks[k], cur, MT_SHA256_LEN);
    b->size++;
    return MT_OK;
}

/* ---- writer ------------------------------------------------------------ */

struct mt_segment_writer {
    mt_segment_pool *pool; /* NULL: blocks are compressed on the caller's thread */
    uint64_t pending;      /* pool jobs queued or running (pool->mu) */
    mt_err werr;           /* first error of a pool job (pool->mu) */
    char werrmsg[sizeof(((mt_errbuf *)0)->msg)];
    uint64_t emitted;      /* written + out.len after the last job (pool->mu) */
    uint64_t emitted_seen; /* the caller's copy, read when it queues a block */
    int fd;
    char *path;
    uint8_t sync[16];
    int level;
    size_t block_size;
    mt_buf block; /* uncompressed records of the open block */
    uint64_t block_count;
    mt_buf out;   /* file bytes not yet written */
    mt_buf zbuf;
    uint64_t written;
    mt_sha256_ctx sha;
    struct libdeflate_compressor *dc; /* level >= 0 without a pool */
};

static mt_err out_flush(mt_segment_writer *w, mt_errbuf *eb)
{
    size_t off = 0;
    if (w->out.len && mt_sha256_update(&w->sha, w->out.data, w->out.len, eb) != MT_OK)
        return MT_ERR_CRYPTO;
    while (off < w->out.len) {
        ssize_t n = write(w->fd, w->out.data + off, w->out.len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return mt_fail(eb, MT_ERR_IO, "%s: write: %s", w->path, strerror(errno));
        }
        off += (size_t)n;
    }
    w->written += w->out.len;
    mt_buf_reset(&w->out);
    return MT_OK;
}

static mt_err put_long(mt_buf *b, int64_t v)
{
    uint8_t tmp[10];
    return mt_buf_append(b, tmp, mt_zz_put(tmp, v));
}

static mt_err put_bytes(mt_buf *b, const void *p, size_t n)
{
    mt_err err = put_long(b, (int64_t)n);
    return err ? err : mt_buf_append(b, p, n);
}

/* Compresses one block with dc into zbuf (raw deflate, the Avro codec;
 * libdeflate compresses whole buffers two to three times faster than zlib at
 * the same level) and appends it to the file bytes. */
static mt_err emit_block(mt_segment_writer *w, struct libdeflate_compressor *dc, mt_buf *zbuf,
                         const mt_buf *block, uint64_t count, mt_errbuf *eb)
{
    mt_err err;
    const uint8_t *data = block->data;
    size_t dlen = block->len;
    if (w->level >= 0) {
        size_t bound = libdeflate_deflate_compress_bound(dc, block->len);
        mt_buf_reset(zbuf);
        if ((err = mt_buf_reserve(zbuf, bound)) != MT_OK)
            return mt_fail(eb, err, "%s: out of memory for a block", w->path);
        dlen = libdeflate_deflate_compress(dc, block->data, block->len, zbuf->data, bound);
        if (dlen == 0)
            return mt_fail(eb, MT_ERR_IO, "%s: deflate failed", w->path);
        data = zbuf->data;
    }
    if ((err = put_long(&w->out, (int64_t)count)) != MT_OK ||
        (err = put_long(&w->out, (int64_t)dlen)) != MT_OK ||
        (err = mt_buf_append(&w->out, data, dlen)) != MT_OK ||
        (err = mt_buf_append(&w->out, w->sync, 16)) != MT_OK)
        return mt_fail(eb, err, "%s: out of memory", w->path);
    return w->out.len >= OUT_FLUSH ? out_flush(w, eb) : MT_OK;
}

/* ---- compression thread -------------------------------------------------
 * One worker compresses and writes the blocks of every writer that uses the
 * pool, in FIFO order, so each file's bytes (and its running SHA-256) keep
 * their order. While a writer has jobs pending only the worker touches its
 * file state (fd, out, sha, written); the caller waits for pending == 0
 * before finishing. */
enum { POOL_QUEUE = 8 };

typedef struct pool_job {
    mt_segment_writer *w;
    mt_buf block;
    uint64_t count;
} pool_job;

struct mt_segment_pool {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pool_job q[POOL_QUEUE];
    size_t head, n;
    bool stop;
    mt_buf spare[POOL_QUEUE + 1]; /* block buffers handed back for reuse */
    size_t nspare;
    struct libdeflate_compressor *dc; /* for dc_level */
    int dc_level;
    mt_buf zbuf;
};

static void *pool_main(void *arg)
{
    mt_segment_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->n == 0)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->n == 0)
            break;
        pool_job j = p->q[p->head];
        p->head = (p->head + 1) % POOL_QUEUE;
        p->n--;
        bool skip = j.w->werr != MT_OK;
        pthread_mutex_unlock(&p->mu);
        mt_errbuf eb = {{0}};
        mt_err err = MT_OK;
        if (!skip && j.w->level >= 0 && (!p->dc || p->dc_level != j.w->level)) {
            libdeflate_free_compressor(p->dc);
            if (!(p->dc = libdeflate_alloc_compressor(j.w->level)))
                err = mt_fail(&eb, MT_ERR_NOMEM, "%s: out of memory for a compressor", j.w->path);
            p->dc_level = j.w->level;
        }
        if (!skip && !err)
            err = emit_block(j.w, p->dc, &p->zbuf, &j.block, j.count, &eb);
        pthread_mutex_lock(&p->mu);
        if (err && j.w->werr == MT_OK) {
            j.w->werr = err;
            memcpy(j.w->werrmsg, eb.msg, sizeof j.w->werrmsg);
        }
        j.w->emitted = j.w->written + j.w->out.len;
        j.w->pending--;
        mt_buf_reset(&j.block);
        if (p->nspare < POOL_QUEUE + 1)
            p->spare[p->nspare++] = j.block;
        else
            mt_buf_free(&j.block);
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

mt_err mt_segment_pool_new(mt_segment_pool **out, mt_errbuf *eb)
{
    mt_segment_pool *p = calloc(1, sizeof *p);
    if (!p)
        return mt_fail(eb, MT_ERR_NOMEM, "segment pool: out of memory");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    if (pthread_create(&p->th, NULL, pool_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->work);
        pthread_cond_destroy(&p->done);
        free(p);
        return mt_fail(eb, MT_ERR_NOMEM, "segment pool: cannot start the compression thread");
    }
    *out = p;
    return MT_OK;
}

void mt_segment_pool_free(mt_segment_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    for (size_t i = 0; i < p->nspare; i++)
        mt_buf_free(&p->spare[i]);
    libdeflate_free_compressor(p->dc);
    mt_buf_free(&p->zbuf);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p);
}

/* Waits until the worker has written every queued block of w. */
static mt_err pool_wait(mt_segment_writer *w, mt_errbuf *eb)
{
    mt_segment_pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    while (w->pending)
        pthread_cond_wait(&p->done, &p->mu);
    mt_err err = w->werr;
    if (err)
        mt_fail(eb, err, "%s", w->werrmsg);
    pthread_mutex_unlock(&p->mu);
    return err;
}

static mt_err block_flush(mt_segment_writer *w, mt_errbuf *eb)
{
    mt_err err;
    if (w->block_count == 0)
        return MT_OK;
    if (!w->pool) {
        err = emit_block(w, w->dc, &w->zbuf, &w->block, w->block_count, eb);
        mt_buf_reset(&w->block);
        w->block_count = 0;
        return err;
    }
    mt_segment_pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    while (p->n == POOL_QUEUE)
        pthread_cond_wait(&p->done, &p->mu);
    if ((err = w->werr) != MT_OK) {
        mt_fail(eb, err, "%s", w->werrmsg);
        pthread_mutex_unlock(&p->mu);
        return err;
    }
    p->q[(p->head + p->n) % POOL_QUEUE] = (pool_job){w, w->block, w->block_count};
    p->n++;
    w->pending++;
    w->emitted_seen = w->emitted;
    w->block = p->nspare ? p->spare[--p->nspare] : (mt_buf)MT_BUF_INIT;
    w->block_count = 0;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return MT_OK;
}

static void writer_free(mt_segment_writer *w)
{
    if (w->pool)
        pool_wait(w, NULL);
    if (w->fd >= 0)
        close(w->fd);
    libdeflate_free_compressor(w->dc);
    mt_buf_free(&w->block);
    mt_buf_free(&w->out);
    mt_buf_free(&w->zbuf);
    mt_sha256_free(&w->sha);
    free(w->path);
    free(w);
}

mt_err mt_segment_writer_open(const char *path, const uint8_t sync[16], int level,
                              size_t block_size, mt_segment_pool *pool,
                              mt_segment_writer **out, mt_errbuf *eb)
{
    mt_err err;
    if (level < -1 || level > 9 || block_size == 0 || block_size > MT_SEGMENT_MAX_BLOCK / 2)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "segment writer: bad level %d or block size",
                       level);
    mt_segment_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return mt_fail(eb, MT_ERR_NOMEM, "segment writer: out of memory");
    }
    w->fd = -1;
    w->pool = pool;
    memcpy(w->sync, sync, 16);
    w->level = level;
    w->block_size = block_size;
    if ((err = mt_sha256_init(&w->sha, eb)) != MT_OK)
        goto fail;
    if (level >= 0 && !pool && !(w->dc = libdeflate_alloc_compressor(level))) {
        err = mt_fail(eb, MT_ERR_NOMEM, "segment writer: out of memory for a compressor");
        goto fail;
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        err = mt_fail(eb, MT_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        goto fail;
    }
    /* Header: magic, metadata map {avro.codec, avro.schema}, sync. */
    const char *codec = level >= 0 ? "deflate" : "null";
    static const uint8_t magic[4] = {'O', 'b', 'j', 1};
    if ((err = mt_buf_append(&w->out, magic, 4)) != MT_OK ||
        (err = put_long(&w->out, 2)) != MT_OK ||
        (err = put_bytes(&w->out, "avro.codec", 10)) != MT_OK ||
        (err = put_bytes(&w->out, codec, strlen(codec))) != MT_OK ||
        (err = put_bytes(&w->out, "avro.schema", 11)) != MT_OK ||
        (err = put_bytes(&w->out, MT_SEGMENT_SCHEMA, strlen(MT_SEGMENT_SCHEMA))) != MT_OK ||
        (err = put_long(&w->out, 0)) != MT_OK ||
        (err = mt_buf_append(&w->out, sync, 16)) != MT_OK) {
        mt_fail(eb, err, "segment writer: out of memory");
        goto fail_unlink;
    }
    *out = w;
    return MT_OK;
fail_unlink:
    unlink(path);
fail:
    writer_free(w);
    return err;
}

mt_err mt_segment_writer_append(mt_segment_writer *w, const mt_segment_record *r,
                                mt_errbuf *eb)
{
    mt_err err;
    if ((err = mt_buf_reserve(&w->block, 40 + r->key_len + r->value_len)) != MT_OK)
        return mt_fail(eb, err, "%s: record at offset %lld too large", w->path,
                       (long long)r->offset);
    uint8_t *p = w->block.data + w->block.len;
    size_t n = mt_zz_put(p, r->offset);
    n += mt_zz_put(p + n, r->timestamp_ms);
    if (r->key) {
        n += mt_zz_put(p + n, 1);
        n += mt_zz_put(p + n, (int64_t)r->key_len);
        memcpy(p + n, r->key, r->key_len);
        n += r->key_len;
    } else {
        n += mt_zz_put(p + n, 0);
    }
    n += mt_zz_put(p + n, (int64_t)r->value_len);
    memcpy(p + n, r->value, r->value_len);
    n += r->value_len;
    w->block.len += n;
    w->block_count++;
    if (w->block.len >= w->block_size)
        return block_flush(w, eb);
    return MT_OK;
}

uint64_t mt_segment_writer_bytes(const mt_segment_writer *w)
{
    if (w->pool) /* file bytes as of the last queued block, plus the open block */
        return w->emitted_seen + w->block.len;
    return w->written + w->out.len + w->block.len;
}

mt_err mt_segment_writer_finish(mt_segment_writer *w, uint8_t sha[MT_SHA256_LEN],
                                uint64_t *size, mt_errbuf *eb)
{
    mt_err err;
    if ((err = block_flush(w, eb)) != MT_OK ||
        (w->pool && (err = pool_wait(w, eb)) != MT_OK) || (err = out_flush(w, eb)) != MT_OK)
        goto fail;
    if (fsync(w->fd) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "%s: fsync: %s", w->path, strerror(errno));
        goto fail;
    }
    if ((err = mt_sha256_final(&w->sha, sha, eb)) != MT_OK)
        goto fail;
    *size = w->written;
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "%s: close: %s", w->path, strerror(errno));
        goto fail;
    }
    writer_free(w);
    return MT_OK;
fail:
    writer_free(w);
    return err;
}

void mt_segment_writer_abort(mt_segment_writer *w)
{
    if (!w)
        return;
    if (w->pool)
        pool_wait(w, NULL);
    unlink(w->path);
    writer_free(w);
}

/* ---- reader ------------------------------------------------------------ */

static mt_err get_bytes(const uint8_t *d, size_t len, size_t *pos, const uint8_t **p,
                        size_t *n, mt_errbuf *eb, const char *what)
{
    *p = NULL;
    *n = 0;
    int64_t l;
    size_t at = *pos;
    mt_err err = mt_zz_get(d, len, pos, &l);
    if (err)
        return mt_fail(eb, err, "%s length at byte %zu is malformed", what, at);
    if (l < 0 || (uint64_t)l > len - *pos)
        return mt_fail(eb, l < 0 ? MT_ERR_SCHEMA : MT_ERR_TRUNCATED,
                       "%s at byte %zu: length %lld does not fit in the %zu bytes left", what,
                       at, (long long)l, len - *pos);
    *p = d + *pos;
    *n = (size_t)l;
    *pos += (size_t)l;
    return MT_OK;
}

static mt_err read_records(const uint8_t *d, size_t len, int64_t count, size_t base,
                           mt_segment_record_cb cb, void *ctx, mt_errbuf *eb)
{
    size_t pos = 0;
    mt_err err;
    for (int64_t i = 0; i < count; i++) {
        mt_segment_record r = {0};
        int64_t branch;
        size_t at = pos;
        if ((err = mt_zz_get(d, len, &pos, &r.offset)) != MT_OK ||
            (err = mt_zz_get(d, len, &pos, &r.timestamp_ms)) != MT_OK ||
            (err = mt_zz_get(d, len, &pos, &branch)) != MT_OK)
            return mt_fail(eb, err, "record %lld of the block at byte %zu is malformed",
                           (long long)i, base);
        if (branch == 1) {
            if ((err = get_bytes(d, len, &pos, &r.key, &r.key_len, eb, "record key")) != MT_OK)
                return err;
        } else if (branch != 0) {
            return mt_fail(eb, MT_ERR_SCHEMA, "record %lld of the block at byte %zu: key union "
                           "branch %lld", (long long)i, base, (long long)branch);
        }
        if ((err = get_bytes(d, len, &pos, &r.value, &r.value_len, eb, "record value")) != MT_OK)
            return err;
        (void)at;
        if (cb && cb(&r, ctx) != 0)
            return mt_fail(eb, MT_ERR_STATE, "stopped by the caller");
    }
    if (pos != len)
        return mt_fail(eb, MT_ERR_SCHEMA, "block at byte %zu: %zu bytes after its %lld records",
                       base, len - pos, (long long)count);
    return MT_OK;
}

static mt_err same_schema(const uint8_t *v, size_t vn)
{
    if (vn > 64 * 1024)
        return MT_ERR_TOO_LARGE;
    char *text = malloc(vn + 1), *a = NULL, *b = NULL;
    if (!text)
        return MT_ERR_NOMEM;
    memcpy(text, v, vn);
    text[vn] = 0;
    mt_err err = mt_avro_parsing_canonical_form(text, &a, NULL);
    if (!err)
        err = mt_avro_parsing_canonical_form(MT_SEGMENT_SCHEMA, &b, NULL);
    if (!err && strcmp(a, b) != 0)
        err = MT_ERR_SCHEMA;
    free(text);
    free(a);
    free(b);
    return err;
}

/* Inflates one raw-deflate block (the Avro deflate codec) into out, whose
 * allocation is kept across blocks: a block does not say how large it
 * inflates, so the buffer starts at 4x the input (or what the previous
 * block needed) and doubles on LIBDEFLATE_INSUFFICIENT_SPACE up to
 * MT_SEGMENT_MAX_BLOCK, which bounds memory for a deflate bomb. libdeflate
 * decompresses whole buffers about twice as fast as zlib's streaming
 * inflate; bytes after the end of the deflate stream are ignored, as zlib
 * did. */
static mt_err inflate_block(struct libdeflate_decompressor *dz, const uint8_t *in, size_t n,
                            size_t at, mt_buf *out, mt_errbuf *eb)
{
    size_t want = out->cap;
    if (want < n * 4 + 65536)
        want = n * 4 + 65536;
    for (;;) {
        if (want > MT_SEGMENT_MAX_BLOCK)
            want = MT_SEGMENT_MAX_BLOCK;
        mt_buf_reset(out);
        mt_err err = mt_buf_reserve(out, want);
        if (err)
            return mt_fail(eb, err, "out of memory inflating the block at byte %zu", at);
        size_t used = 0, got = 0;
        enum libdeflate_result r =
            libdeflate_deflate_decompress_ex(dz, in, n, out->data, want, &used, &got);
        if (r == LIBDEFLATE_SUCCESS) {
            out->len = got;
            return MT_OK;
        }
        if (r != LIBDEFLATE_INSUFFICIENT_SPACE)
            return mt_fail(eb, MT_ERR_SCHEMA, "block at byte %zu: deflate data is corrupt or "
                           "truncated", at);
        if (want == MT_SEGMENT_MAX_BLOCK)
            return mt_fail(eb, MT_ERR_TOO_LARGE, "block at byte %zu inflates beyond %zu bytes",
                           at, MT_SEGMENT_MAX_BLOCK);
        want *= 2;
    }
}

mt_err mt_segment_read(const uint8_t *data, size_t len, mt_segment_record_cb cb, void *ctx,
                       mt_errbuf *eb)
{
    size_t pos = 4;
    mt_err err = MT_OK;
    bool deflated = false, have_schema = false;
    const uint8_t *sync;
    mt_buf inflated = MT_BUF_INIT;
    struct libdeflate_decompressor *dz = NULL;
    if (len < 4 || memcmp(data, "Obj\x01", 4) != 0)
        return mt_fail(eb, MT_ERR_BAD_MAGIC, "not an Avro object container file (no Obj\\x01)");
    int nmeta = 0;
    for (;;) {
        int64_t count;
        size_t at = pos;
        if ((err = mt_zz_get(data, len, &pos, &count)) != MT_OK)
            return mt_fail(eb, err, "metadata block count at byte %zu is malformed", at);
        if (count == 0)
            break;
        if (count < 0) { /* negative count: a byte size follows */
            int64_t skip;
            if (count < -MT_SEGMENT_MAX_META)
                return mt_fail(eb, MT_ERR_TOO_LARGE, "metadata block count %lld at byte %zu",
                               (long long)count, at);
            if ((err = mt_zz_get(data, len, &pos, &skip)) != MT_OK)
                return mt_fail(eb, err, "metadata block size at byte %zu is malformed", pos);
            count = -count;
        }
        if (count > MT_SEGMENT_MAX_META || (nmeta += (int)count) > MT_SEGMENT_MAX_META)
            return mt_fail(eb, MT_ERR_TOO_LARGE, "more than %d metadata entries",
                           MT_SEGMENT_MAX_META);
        for (int64_t i = 0; i < count; i++) {
            const uint8_t *k = NULL, *v = NULL;
            size_t kn = 0, vn = 0;
            if ((err = get_bytes(data, len, &pos, &k, &kn, eb, "metadata key")) != MT_OK ||
                (err = get_bytes(data, len, &pos, &v, &vn, eb, "metadata value")) != MT_OK)
                return err;
            if (kn == 10 && memcmp(k, "avro.codec", 10) == 0) {
                if (vn == 7 && memcmp(v, "deflate", 7) == 0)
                    deflated = true;
                else if (!(vn == 4 && memcmp(v, "null", 4) == 0))
                    return mt_fail(eb, MT_ERR_SCHEMA, "codec '%.*s' is not supported (null or "
                                   "deflate)", (int)(vn > 32 ? 32 : vn), (const char *)v);
            } else if (kn == 11 && memcmp(k, "avro.schema", 11) == 0) {
                /* Our own text, or any spelling with the same Parsing Canonical
                 * Form (a file re-written by another Avro library). */
                if (vn != strlen(MT_SEGMENT_SCHEMA) || memcmp(v, MT_SEGMENT_SCHEMA, vn) != 0) {
                    if ((err = same_schema(v, vn)) != MT_OK)
                        return mt_fail(eb, MT_ERR_SCHEMA,
                                       "the file's schema is not the ArchivedRecord schema");
                }
                have_schema = true;
            }
        }
    }
    if (!have_schema)
        return mt_fail(eb, MT_ERR_SCHEMA, "no avro.schema in the file header");
    if (len - pos < 16)
        return mt_fail(eb, MT_ERR_TRUNCATED, "file ends inside the header's sync marker");
    sync = data + pos;
    pos += 16;
    if (deflated && !(dz = libdeflate_alloc_decompressor()))
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory for a deflate decompressor");
    while (pos < len) {
        int64_t count, size;
        size_t at = pos;
        if ((err = mt_zz_get(data, len, &pos, &count)) != MT_OK ||
            (err = mt_zz_get(data, len, &pos, &size)) != MT_OK) {
            mt_fail(eb, err, "block header at byte %zu is malformed", at);
            goto out;
        }
        if (count < 0 || count > MT_SEGMENT_MAX_RECORDS_PER_BLOCK || size < 0 ||
            (uint64_t)size > MT_SEGMENT_MAX_BLOCK) {
            err = mt_fail(eb, MT_ERR_TOO_LARGE, "block at byte %zu: count %lld or size %lld "
                          "out of bounds", at, (long long)count, (long long)size);
            goto out;
        }
        if ((uint64_t)size > len - pos || len - pos - (size_t)size < 16) {
            err = mt_fail(eb, MT_ERR_TRUNCATED, "block at byte %zu: file ends inside it", at);
            goto out;
        }
        const uint8_t *bd = data + pos;
        size_t blen = (size_t)size;
        if (memcmp(bd + blen, sync, 16) != 0) {
            err = mt_fail(eb, MT_ERR_SCHEMA, "block at byte %zu: sync marker mismatch", at);
            goto out;
        }
        if (deflated) {
            if ((err = inflate_block(dz, bd, blen, at, &inflated, eb)) != MT_OK)
                goto out;
            bd = inflated.data;
            blen = inflated.len;
        }
        if ((err = read_records(bd, blen, count, at, cb, ctx, eb)) != MT_OK)
            goto out;
        pos += (size_t)size + 16;
    }
out:
    if (dz)
        libdeflate_free_decompressor(dz);
    mt_buf_free(&inflated);
    return err;
}

int mt_segment_seq_name(const char *name, const char *suffix, uint64_t *seq)
{
    size_t n = strlen(name), sl = strlen(suffix);
    if (n != 12 + sl || strcmp(name + 12, suffix) != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < 12; i++) {
        if (name[i] < '0' || name[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *seq = v;
    return 1;
}
