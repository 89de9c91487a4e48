/* The mcptrail archive format, written by mcptrail-archiver and read by
 * its `verify`/`prove`, by mcptrail-replay and by auditors' tools: one module
 * so that a change of the format is made in one place (docs/archive.md).
 *
 * Layout: <dir>/<topic>/<partition>/
 *   <seq:12>.avro            a closed segment (0444), seq shared with its manifest
 *   <seq:12>.manifest.json   its signed manifest (0444); heartbeats and close
 *                            manifests take a seq of their own and have no .avro
 *   open-<first_offset>.avro.tmp, *.manifest.json.tmp   in-progress files
 *
 * Sources: archive_segment.c (segments, leaf hashing, zig-zag helpers),
 * archive_manifest.c (manifests), archive_verify.c (verify, prove, ids). */
#ifndef MCPTRAIL_ARCHIVE_H
#define MCPTRAIL_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mcptrail/buf.h"
#include "mcptrail/crypto.h"
#include "mcptrail/err.h"
#include "mcptrail/event.h"

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

/* Segment manifests: one canonical JSON object (sorted keys, no whitespace;
 * mt_json_dump_canonical) per closed segment or heartbeat, chained per
 * topic-partition by the SHA-256 of the previous manifest file and signed
 * with Ed25519 over the canonical JSON of every field but "signature".
 *
 * Fields (all required):
 *   v              1
 *   kind           "segment" | "heartbeat" (idle, no segment) | "close" (clean stop)
 *   topic, partition, seq (0, 1, 2 ... per topic-partition, heartbeats included)
 *   first_offset, last_offset   Kafka offsets of the first/last record (-1 if none)
 *   next_offset    the offset the archive continues from (last_offset + 1)
 *   records        number of records in the segment
 *   segment        file name of the segment in the same directory ("" if none)
 *   segment_bytes, sha256 (hex of the file), merkle_root (hex, RFC 6962 over
 *                  the records' value bytes; SHA-256("") for none)
 *   prev_sha256    hex SHA-256 of the previous manifest file; 64 zeros for seq 0
 *   created_ms     wall clock when written; ts_first_ms/ts_last_ms: Kafka
 *                  timestamps of the first/last record (-1 if none)
 *   heartbeat_ms   the writer's heartbeat interval (tail-truncation check)
 *   key_id         mt_ed25519_key_id of the signing key
 *   signature      hex Ed25519 signature */

#define MT_MANIFEST_MAX_BYTES ((size_t)16 * 1024)
#define MT_MANIFEST_TOPIC_MAX 249 /* Kafka's own limit */

typedef enum mt_manifest_kind {
    MT_MANIFEST_SEGMENT = 0,
    MT_MANIFEST_HEARTBEAT = 1,
    MT_MANIFEST_CLOSE = 2,
} mt_manifest_kind;

typedef struct mt_manifest {
    mt_manifest_kind kind;
    char topic[MT_MANIFEST_TOPIC_MAX + 1];
    int32_t partition;
    uint64_t seq;
    int64_t first_offset, last_offset, next_offset;
    uint64_t records;
    char segment[128];
    uint64_t segment_bytes;
    uint8_t sha256[MT_SHA256_LEN];
    uint8_t merkle_root[MT_SHA256_LEN];
    uint8_t prev_sha256[MT_SHA256_LEN];
    int64_t created_ms, ts_first_ms, ts_last_ms, heartbeat_ms;
    char key_id[MT_ED25519_KEY_ID_SIZE];
    uint8_t signature[MT_ED25519_SIG_LEN];
} mt_manifest;

const char *mt_manifest_kind_name(mt_manifest_kind k);

/* Signs m (sets key_id and signature) and appends the manifest file's bytes
 * (canonical JSON plus nothing else) to out. */
mt_err mt_manifest_sign_encode(mt_manifest *m, const mt_ed25519_key *key, mt_buf *out,
                               mt_errbuf *eb);

/* Parses manifest bytes (strict: every field present with its type, no
 * unknown field, hex lengths exact). Does not check the signature.
 * *canonical is set to whether the bytes are exactly the canonical form. */
mt_err mt_manifest_parse(const uint8_t *data, size_t len, mt_manifest *m, bool *canonical,
                         mt_errbuf *eb);

/* MT_OK if m's signature verifies under pub (MT_ERR_BAD_SIGNATURE if not). */
mt_err mt_manifest_verify_sig(const mt_manifest *m, const mt_ed25519_key *pub, mt_errbuf *eb);

/* ---- verify, prove, ids (archive_verify.c) ---------------------------------
 * Read an archive offline with only the archiver's public keys. */

#define MT_VERIFY_MAX_KEYS 16

typedef struct mt_verify_opts {
    const char *dir;
    /* the archiver's public keys: the current one and any it signed with
     * before a rotation; a manifest must verify under the key its key_id
     * names, which must be one of these */
    const mt_ed25519_key *const *pubs;
    size_t npubs; /* 1..MT_VERIFY_MAX_KEYS */
    int64_t from_ms, to_ms; /* record timestamps; INT64_MIN / INT64_MAX = no bound */
    int64_t now_ms;         /* for the tail check; 0 = skip the age check */
    int64_t max_age_ms;     /* with now_ms: a chain's last manifest may be this old */
    bool quiet;             /* only problems and the summary */
    const char *schema_dir; /* NULL: $MCPTRAIL_SCHEMA_DIR, else the library default */
    unsigned threads;       /* segment readers; 0: one per online CPU (at most 8) */
    /* out, may be NULL: how many of the problems concern what was recorded (seq-gap and
     * the stream classes: the archive holds exactly what reached the topic) rather than
     * the archive itself */
    uint64_t *content_problems;
    /* the sidecars' stream checkpoint keys (record.signing_key_file's public halves);
     * 0 keys: signatures are not judged (the report says so) */
    const mt_ed25519_key *const *sidecar_pubs;
    size_t nsidecar_pubs; /* 0..MT_VERIFY_MAX_KEYS */
} mt_verify_opts;

/* A --from/--to bound: milliseconds since the epoch, or YYYY-MM-DDTHH:MM:SSZ.
 * 0, or -1 when s is neither. */
int mt_archive_parse_time_ms(const char *s, int64_t *out);

/* Prints the report to out; *problems gets the number of problems found.
 * MT_OK unless the archive could not be read at all. */
mt_err mt_archive_verify(const mt_verify_opts *o, FILE *out, uint64_t *problems, mt_errbuf *eb);

/* Prints an inclusion proof (JSON) for the record whose id is `id`:
 * MT_ERR_NOT_FOUND if no record has it. */
mt_err mt_archive_prove(const char *dir, const char *id, FILE *out, mt_errbuf *eb);

/* Prints "topic partition offset id" for every record (tests, auditors). */
mt_err mt_archive_list_ids(const char *dir, FILE *out, mt_errbuf *eb);

/* The record's id: the first field (a string) of its single-object datum:
 * event_id of a SessionEvent, approval_id of the approval records. For a
 * SessionEvent (fingerprint session_event_fp, or version 1's
 * MT_SESSION_EVENT_FP_V1) also session_id and seq (session_id NULL otherwise),
 * and for the current version whether a stream follows (the field after seq). */
typedef struct mt_record_ids {
    const char *id;
    size_t id_len;
    const char *session_id;
    size_t session_len;
    int64_t seq;
    bool has_stream; /* a version 2 SessionEvent whose stream is not null */
    uint64_t fingerprint;
} mt_record_ids;
mt_err mt_record_ids_parse(const uint8_t *value, size_t len, uint64_t session_event_fp,
                           mt_record_ids *ids);

/* ---- streams (archive_streams.c) -------------------------------------------
 * The completeness check over sidecar streams (docs/archive.md "Streams"):
 * every SessionEvent of version 2 names its instance, its gapless stream seq
 * and the SHA-256 of the instance's previous event. Observations are added in
 * any order (partitions are read one after the other); mt_streams_check then
 * judges each instance: gaps (classified by whether a surviving event of the
 * same session links into them), chain breaks, two different events at one
 * seq, and the tail (instance_stop, a later instance at the same place, or
 * silence longer than 2 x heartbeat + MT_STREAM_SLACK_MS before the end of
 * what the archive covers). Memory: about 80 bytes per event. */

#define MT_STREAM_SLACK_MS 10000
#define MT_STREAM_DEFAULT_HEARTBEAT_MS 30000 /* when the instance_start is missing */

enum { MT_STREAM_SIG_NONE, MT_STREAM_SIG_VALID, MT_STREAM_SIG_BAD, MT_STREAM_SIG_UNKNOWN_KEY };

typedef struct mt_stream_obs {
    const char *instance_id;
    size_t instance_len;
    int64_t seq, session_prev; /* session_prev -1: null */
    int64_t ts_us;
    int kind;                  /* mt_rev kind index (mcptrail/event.h) */
    uint8_t own[16];           /* first half of SHA-256 of the record */
    uint8_t prev[16];          /* first half of stream.prev_hash */
    bool has_prev;
    int sig;                   /* MT_STREAM_SIG_*: its checkpoint signature, judged */
    int64_t heartbeat_ms;      /* instance_start: InstanceInfo.heartbeat_ms, else 0 */
    const char *place;         /* instance_start: "cluster/namespace/pod host listen" */
    size_t place_len;
    int32_t partition;
    int64_t offset;
} mt_stream_obs;

typedef enum mt_stream_problem {
    MT_SP_EVENT_MISSING,    /* a gap some surviving event of the same session links into */
    MT_SP_SESSION_MISSING,  /* a gap nothing links into: whole sessions (or their ends) */
    MT_SP_TAIL_MISSING,     /* no instance_stop and silent past the window before the end */
    MT_SP_INSTANCE_MISSING, /* only the instance_start survived */
    MT_SP_UNCLEAN_STOP,     /* no instance_stop, a later instance started at the same place */
    MT_SP_CHAIN_BREAK,      /* prev_hash does not name the previous event */
    MT_SP_FORK,             /* two different events at one seq */
    MT_SP_SIGNATURE,        /* a checkpoint that does not verify under the given keys */
    MT_SP_UNSIGNED,         /* keys given, but no checkpoint verifies (or not the stop) */
    MT_SP_N
} mt_stream_problem;

extern const char *const mt_stream_problem_names[MT_SP_N];

typedef struct mt_streams mt_streams;

typedef struct mt_streams_summary {
    size_t instances, stopped, live, unclean, events;
} mt_streams_summary;

/* Called once per problem; where names the instance (and seq range). */
typedef void (*mt_stream_report_cb)(void *ctx, mt_stream_problem c, const char *where,
                                    const char *detail);

/* What mt_streams_check found for one instance, after its problems. */
typedef struct mt_stream_instance {
    const char *id;
    const char *place;  /* NULL: its instance_start is missing */
    int64_t first_seq, last_seq;
    size_t events;      /* distinct events */
    int64_t first_ts_us, last_ts_us;
    const char *state;  /* "stopped cleanly", "live", "unclean stop", "tail missing" */
    unsigned problems;
    int64_t signed_seq; /* last seq of a valid checkpoint; -1: none (or not judged) */
} mt_stream_instance;
typedef void (*mt_stream_instance_cb)(void *ctx, const mt_stream_instance *in);

/* The observation of ev (parsed by mt_rev_parse, ev->stream_seq >= 0) whose
 * record bytes hash to record_sha (SHA-256): seq, links, kind, heartbeat and,
 * for an instance_start, its place written into place. Views point into ev and
 * place; sig, partition and offset are left to the caller. */
#define MT_STREAM_PLACE_MAX 1024
void mt_stream_obs_of(const mt_rev *ev, const uint8_t record_sha[MT_SHA256_LEN],
                      char place[MT_STREAM_PLACE_MAX], mt_stream_obs *o);

mt_err mt_streams_new(mt_streams **out, mt_errbuf *eb);
/* Judge checkpoint signatures (the caller checked each against its keys). */
void mt_streams_judge_signatures(mt_streams *s, bool on);
void mt_streams_free(mt_streams *s);
/* Copies what it keeps. MT_ERR_NOMEM. */
mt_err mt_streams_add(mt_streams *s, const mt_stream_obs *o);
/* coverage_end_ms: until when the archive holds everything (the oldest
 * "last manifest" of the partitions holding events); 0: no tail judgement.
 * Instances in the order they were first added; icb may be NULL. */
void mt_streams_check(mt_streams *s, int64_t coverage_end_ms, mt_stream_report_cb cb,
                      mt_stream_instance_cb icb, void *ctx, mt_streams_summary *sum);

#endif
