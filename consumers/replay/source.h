/* Where mcptrail-replay reads records from: an archive directory written by
 * mcptrail-archiver (verified first with the archiver's own verifier) or a
 * Kafka topic read from its beginning to its current end. Both deliver raw
 * records (single-object Avro values) in per-partition offset order to one
 * callback; the replay logic never cares which source it was. */
#ifndef MT_REPLAY_SOURCE_H
#define MT_REPLAY_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcptrail/crypto.h"
#include "mcptrail/err.h"
#include "mcptrail/kafka.h"

/* One archive segment the records came from, with its manifest's claims. */
typedef struct mt_replay_seg {
    char *path;  /* DIR/topic/partition/NNN.avro */
    char *topic;
    int32_t partition;
    uint64_t records;      /* from the manifest; 0 when it has none */
    char sha256[65];       /* manifest's sha256 of the segment file; "" if none */
    bool has_manifest;
} mt_replay_seg;

typedef enum mt_replay_integrity {
    MT_INTEGRITY_NOT_CHECKED = 0, /* --no-verify, or a Kafka topic */
    MT_INTEGRITY_OK,
    MT_INTEGRITY_FAILED,
} mt_replay_integrity;

typedef struct mt_replay_source {
    /* exactly one of dir / topics */
    const char *dir;
    const char *const *topics; /* the events topic, optionally the approval topics */
    size_t ntopics;
    mt_kafka_config kafka;
    int idle_ms; /* topic: stop this long after every partition reached its end */
    const char *schema_dir; /* for verify's per-session checks; NULL: its default */

    /* filled by mt_replay_source_open / scan */
    mt_replay_seg *segs;
    size_t nsegs;
    mt_replay_integrity integrity;
    uint64_t problems;         /* verify's problems other than session seq gaps */
    uint64_t seq_gap_problems; /* verify's session and stream completeness problems (seq-gap,
                                  event-missing ...): reported by replay and report */
    char *verify_report; /* verify's text output (quiet mode) */
    uint64_t records_scanned;
    uint64_t bad_segments; /* segments that could not be read to their end */
    char bad_msg[600];     /* the last such error */
} mt_replay_source;

typedef struct mt_replay_rec {
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms;
    const uint8_t *value;
    size_t len;
    size_t seg; /* index into segs; SIZE_MAX for a topic */
} mt_replay_rec;

/* Non-zero stops the scan (mt_replay_scan returns MT_ERR_STATE). */
typedef int (*mt_replay_cb)(const mt_replay_rec *r, void *ctx);

/* Archive: lists the segments and, with npubs > 0, runs the archiver's
 * verify over the whole archive with those keys (the current one and any
 * from before a rotation): integrity OK or FAILED with its report. */
mt_err mt_replay_source_open(mt_replay_source *s, const mt_ed25519_key *const *pubs,
                             size_t npubs, mt_errbuf *eb);
mt_err mt_replay_scan(mt_replay_source *s, mt_replay_cb cb, void *ctx, mt_errbuf *eb);
void mt_replay_source_close(mt_replay_source *s);

const char *mt_replay_integrity_name(mt_replay_integrity i);
/* "DIR", or the topics as "a, b, c", for reports; cut to fit n. */
void mt_replay_source_label(const mt_replay_source *s, char *out, size_t n);

#endif
