/* Archive segments: Avro object container files (OCF, Avro spec "Object
 * Container Files") holding one ArchivedRecord per Kafka record.
 *
 * Written by our own small OCF writer (header, deflate or null codec, 16-byte
 * sync marker after every block) rather than Avro C's file writer, because
 * the archiver needs the exact bytes as they go to disk (SHA-256 computed
 * while writing, no re-read) and a reader with explicit bounds on every
 * length for `verify` on untrusted archives. Any Avro implementation reads
 * the files (tests check fastavro and Java org.apache.avro).
 *
 * ArchivedRecord (MT_SEGMENT_SCHEMA): offset and timestamp of the Kafka
 * record, its key, and `value` = the record's bytes exactly as produced (Avro
 * single-object encoding), so event_id and everything else is recovered by
 * decoding value and the Merkle leaf of a record is its value bytes. */
#ifndef MT_ARCHIVER_SEGMENT_H
#define MT_ARCHIVER_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcptrail/buf.h"
#include "mcptrail/crypto.h"
#include "mcptrail/err.h"

#define MT_SEGMENT_SCHEMA                                                                   \
    "{\"type\":\"record\",\"name\":\"ArchivedRecord\",\"namespace\":\"dev.mcptrail.archive\"," \
    "\"fields\":[{\"name\":\"offset\",\"type\":\"long\"},"                                  \
    "{\"name\":\"timestamp_ms\",\"type\":\"long\"},"                                        \
    "{\"name\":\"key\",\"type\":[\"null\",\"bytes\"]},"                                     \
    "{\"name\":\"value\",\"type\":\"bytes\"}]}"

/* Bounds for reading untrusted segments. */
#define MT_SEGMENT_MAX_BLOCK ((size_t)64 << 20)    /* compressed or not */
#define MT_SEGMENT_MAX_RECORDS_PER_BLOCK 10000000
#define MT_SEGMENT_MAX_META 64

typedef struct mt_segment_record {
    int64_t offset;
    int64_t timestamp_ms;
    const uint8_t *key; /* NULL for a null key */
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} mt_segment_record;

/* ---- writer ------------------------------------------------------------ */

typedef struct mt_segment_writer mt_segment_writer;

/* A compression thread shared by writers: full blocks are deflated and
 * written there while the caller keeps consuming (at most 8 blocks queued).
 * Free it only after every writer using it is finished or aborted. */
typedef struct mt_segment_pool mt_segment_pool;
mt_err mt_segment_pool_new(mt_segment_pool **out, mt_errbuf *eb);
void mt_segment_pool_free(mt_segment_pool *p);

/* Creates path (O_EXCL) and writes the header. level: -1 null codec (no
 * compression), 0..9 deflate level. block_size: uncompressed bytes per block.
 * pool: NULL compresses on the caller's thread. */
mt_err mt_segment_writer_open(const char *path, const uint8_t sync[16], int level,
                              size_t block_size, mt_segment_pool *pool,
                              mt_segment_writer **out, mt_errbuf *eb);
mt_err mt_segment_writer_append(mt_segment_writer *w, const mt_segment_record *r,
                                mt_errbuf *eb);
/* Bytes written to the file so far plus the pending block (uncompressed);
 * with a pool, as of the last block queued. */
uint64_t mt_segment_writer_bytes(const mt_segment_writer *w);
/* Flushes the last block, fsyncs and closes; *sha gets SHA-256 of the file,
 * *size its length. The writer is freed whatever the result. */
mt_err mt_segment_writer_finish(mt_segment_writer *w, uint8_t sha[MT_SHA256_LEN],
                                uint64_t *size, mt_errbuf *eb);
/* Closes and unlinks the file (error paths). */
void mt_segment_writer_abort(mt_segment_writer *w);

/* ---- reader ------------------------------------------------------------ */

/* Called per record in file order; non-zero return stops the read with
 * MT_ERR_STATE. Views are valid during the call only. */
typedef int (*mt_segment_record_cb)(const mt_segment_record *r, void *ctx);

/* Parses a whole segment held in memory: header (magic, metadata with the
 * ArchivedRecord schema, codec null or deflate), every block and its sync
 * marker. Errors: MT_ERR_BAD_MAGIC, MT_ERR_TRUNCATED, MT_ERR_TOO_LARGE,
 * MT_ERR_SCHEMA (bad sync, codec, data), with the byte offset in eb. */
mt_err mt_segment_read(const uint8_t *data, size_t len, mt_segment_record_cb cb, void *ctx,
                       mt_errbuf *eb);

/* Archive file names: 12 decimal digits + suffix (".avro", ".manifest.json").
 * 1 and *seq set when name is one, else 0. */
int mt_segment_seq_name(const char *name, const char *suffix, uint64_t *seq);

/* Reads a file into memory (bounded by max_size) for mt_segment_read. */
mt_err mt_read_file(const char *path, size_t max_size, mt_buf *out, mt_errbuf *eb);

/* RFC 6962 leaf hashes and Merkle builder appends through one reusable
 * SHA-256 context: the library's mt_merkle_leaf_hash allocates a context per
 * call, which costs more than the hashing for ~600-byte records. Results are
 * identical (tests compare with mt_merkle_root). */
typedef struct mt_leaf_hasher {
    mt_sha256_hasher *h;
    mt_buf scratch;
} mt_leaf_hasher;

mt_err mt_leaf_hasher_init(mt_leaf_hasher *lh, mt_errbuf *eb);
void mt_leaf_hasher_free(mt_leaf_hasher *lh);
/* SHA-256(0x00 || data). */
mt_err mt_leaf_hash(mt_leaf_hasher *lh, const void *data, size_t len, uint8_t out[MT_SHA256_LEN]);
/* mt_merkle_builder_append with node hashes SHA-256(0x01 || l || r) on lh. */
mt_err mt_leaf_append(mt_leaf_hasher *lh, mt_merkle_builder *b,
                      const uint8_t leaf[MT_SHA256_LEN]);

/* Avro zigzag varint helpers shared with the manifest/verify code. */
size_t mt_zz_put(uint8_t *p, int64_t v);
/* MT_OK and advances *pos; MT_ERR_TRUNCATED / MT_ERR_SCHEMA on bad input. */
mt_err mt_zz_get(const uint8_t *data, size_t len, size_t *pos, int64_t *v);

#endif
