/* mcptrail-archiver option table (`mcptrail-archiver run --help`); see archiver.h. */
#include <stddef.h>

#include "archiver.h"

#define O(field) offsetof(mt_archiver_config, field)

const mt_cfg_option mt_archiver_options[] = {
    {"archive.dir", MT_CFG_STRING, NULL,
     "Directory of the archive (one subdirectory per topic and partition).", O(dir), 0, 0,
     NULL, MT_CFG_F_REQUIRED},
    {"signing.key_file", MT_CFG_SECRET_FILE, NULL,
     "PKCS#8 PEM Ed25519 private key that signs manifests (auditors get only the public key).",
     O(signing_key), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"topics", MT_CFG_LIST,
     "mcptrail.events,mcptrail.approval.requests,mcptrail.approval.votes,"
     "mcptrail.approval.decisions",
     "Topics archived.", O(topics), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"group.id", MT_CFG_STRING, "mcptrail-archiver", "Kafka consumer group.", O(group_id), 0,
     0, NULL, MT_CFG_F_REQUIRED},
    {"group.instance_id", MT_CFG_STRING, NULL,
     "Static group membership id (KIP-345): a restarted archiver gets its partitions back "
     "at once instead of after the session timeout. Set it to the pod name.",
     O(group_instance_id), 0, 0, NULL, 0},
    {"segment.max_bytes", MT_CFG_SIZE, "64MiB",
     "A segment is closed when its file reaches this size.", O(segment_max_bytes), 4096,
     (int64_t)1 << 40, NULL, 0},
    {"segment.max_age", MT_CFG_DURATION, "5m",
     "A segment is closed this long after its first record.", O(segment_max_age_ms), 10,
     (int64_t)7 * 24 * 3600 * 1000, NULL, 0},
    {"segment.block_size", MT_CFG_SIZE, "256KiB",
     "Uncompressed bytes per Avro block.", O(block_size), 1024, 16 << 20, NULL, 0},
    {"segment.deflate_level", MT_CFG_INT, "1",
     "Deflate level of segment blocks (0-9, libdeflate; -1: no compression). 1 is about 1.5 "
     "times as fast as 6 for a 6 % larger archive (docs/benchmarks.md).", O(deflate_level), -1, 9,
     NULL, 0},
    {"segment.compress_thread", MT_CFG_BOOL, "true",
     "Deflate and write blocks on a second thread while the consumer thread reads, encodes "
     "and hashes (false: one thread does everything).",
     O(compress_thread), 0, 0, NULL, 0},
    {"heartbeat.interval", MT_CFG_DURATION, "60s",
     "Every partition gets a signed manifest at least this often: the open segment is "
     "closed, or an idle partition gets a heartbeat, so a truncated tail is detectable.",
     O(heartbeat_ms), 10, 24 * 3600 * 1000, NULL, 0},
    {"exit_idle", MT_CFG_DURATION, "0",
     "Stop cleanly after this long without a record (0: never; for batch runs and tests).",
     O(exit_idle_ms), 0, 0, NULL, 0},
    MT_CFG_END,
};

const mt_cfg_spec mt_archiver_spec = {
    .program = "mcptrail-archiver run",
    .summary = "Archiver: writes the mcptrail topics to write-once Avro segments with signed, "
               "chained manifests (subcommands: run, verify, prove, ids).",
    .env_prefix = "MCPTRAIL_",
    .parts = {{mt_cfg_common_options, offsetof(mt_archiver_config, common)},
              {mt_archiver_options, 0},
              {NULL, 0}},
};
