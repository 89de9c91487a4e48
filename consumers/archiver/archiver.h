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
 * The format itself (segments, manifests) and `verify`/`prove` live in
 * libmcptrail: mcptrail/archive.h. */
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

#endif
