/* mcptrail-archiver: write-once, signed, offline-verifiable archives of the
 * mcptrail topics.
 *
 * Layout: <archive.dir>/<topic>/<partition>/
 *   <seq:12>.avro            a closed segment (0444), seq shared with its manifest
 *   <seq:12>.manifest.json   its signed manifest (0444); heartbeats and close
 *                            manifests take a seq of their own and have no .avro
 *   open-<first_offset>.avro.tmp, *.manifest.json.tmp   in-progress files
 *
 * `run` (archiver.c): one group consumer over every configured topic; records
 * of each topic-partition go to its open segment; a segment is closed when it
 * reaches segment.max_bytes or segment.max_age: block flush, fsync, rename to
 * <seq>.avro, fsync dir, chmod 0444, then its manifest the same way, and only
 * then the Kafka offset is committed. On start every partition directory is
 * recovered: *.tmp files are deleted (their records were never committed, so
 * Kafka delivers them again), a segment renamed but without manifest gets its
 * manifest, and records at offsets below the last manifest's next_offset are
 * skipped: the manifests, not the group's committed offsets, are the truth.
 *
 * `verify` and `prove` (verify.c) read an archive offline with only the
 * public key. */
#ifndef MT_ARCHIVER_H
#define MT_ARCHIVER_H

#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>

#include "mcptrail/config.h"
#include "mcptrail/crypto.h"
#include "mcptrail/err.h"
#include "mcptrail/kafka.h"

typedef struct mt_archiver_config {
    mt_common_config common;
    char *dir;
    mt_cfg_secret signing_key;
    mt_strlist topics;
    char *group_id;
    char *group_instance_id;
    int64_t segment_max_bytes;
    int64_t segment_max_age_ms;
    int64_t block_size;
    int64_t deflate_level;
    bool compress_thread;
    int64_t heartbeat_ms;
    int64_t exit_idle_ms;
} mt_archiver_config;

extern const mt_cfg_option mt_archiver_options[];
extern const mt_cfg_spec mt_archiver_spec;

typedef struct mt_archiver_params {
    const mt_archiver_config *cfg;
    mt_kafka_config kafka;
    const mt_ed25519_key *key;
    volatile sig_atomic_t *stop; /* set by a signal handler */
} mt_archiver_params;

/* Runs until *stop is set (or exit_idle passes without a record), then
 * closes every open segment, writes close manifests and commits. */
mt_err mt_archiver_run(const mt_archiver_params *p, mt_errbuf *eb);

/* Recovers one partition directory as `run` does at start (exposed for tests). */
mt_err mt_archiver_recover_dir(const char *dir, const char *topic, int32_t partition,
                               const mt_ed25519_key *key, int64_t heartbeat_ms,
                               mt_errbuf *eb);

/* ---- verify / prove (verify.c) ----------------------------------------- */

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
 * SessionEvent also session_id and seq (session_id NULL otherwise). */
typedef struct mt_record_ids {
    const char *id;
    size_t id_len;
    const char *session_id;
    size_t session_len;
    int64_t seq;
    uint64_t fingerprint;
} mt_record_ids;
mt_err mt_record_ids_parse(const uint8_t *value, size_t len, uint64_t session_event_fp,
                           mt_record_ids *ids);

#endif
