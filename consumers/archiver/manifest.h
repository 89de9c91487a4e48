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
#ifndef MT_ARCHIVER_MANIFEST_H
#define MT_ARCHIVER_MANIFEST_H

#include <stdbool.h>
#include <stdint.h>

#include "mcptrail/buf.h"
#include "mcptrail/crypto.h"
#include "mcptrail/err.h"

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

#endif
