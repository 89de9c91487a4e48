/* Kafka producer and consumer wrappers over librdkafka (2.0.x).
 *
 * Producer: idempotent (enable.idempotence=true, acks=all). Every message
 * sent gets exactly one delivery report through the caller's callback, with
 * the caller's per-message opaque, an mt_err, partition and offset. The
 * producer keeps its own copy of every message until its report, so that
 * when librdkafka raises a fatal idempotence error it can destroy the
 * instance, create a new one and re-send everything not yet acknowledged,
 * in the original order. Messages re-sent this way may appear twice on the
 * topic (at-least-once across a fatal error; consumers drop duplicates by
 * event_id); an acknowledged message is never re-sent and never lost.
 *
 * Consumer: balanced group consumer with auto commit and auto offset store
 * off; the caller commits a message after its side effect is durable.
 *
 * Callbacks run only inside mt_producer_poll / mt_producer_flush /
 * mt_producer_destroy, on the caller's thread. Neither object is
 * thread-safe; use one per thread. librdkafka's own log lines go to stderr
 * as one JSON object per line with "component":"kafka". */
#ifndef MCPTRAIL_KAFKA_H
#define MCPTRAIL_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include "mcptrail/err.h"

struct rd_kafka_s;

/* Header names and content type every mcptrail record carries. */
#define MT_KAFKA_HEADER_CONTENT_TYPE "content-type"
#define MT_KAFKA_HEADER_FINGERPRINT "avro-fingerprint"
#define MT_KAFKA_CONTENT_TYPE_AVRO "application/vnd.apache.avro.single-object"

/* Default bounds of the producer's in-flight table (see mt_producer_send). */
#define MT_PRODUCER_DEFAULT_MAX_INFLIGHT 10000
#define MT_PRODUCER_DEFAULT_MAX_INFLIGHT_BYTES ((size_t)64 << 20)

/* One extra librdkafka property ("security.protocol" = "ssl", ...). */
typedef struct mt_kafka_prop {
    const char *key;
    const char *value;
} mt_kafka_prop;

/* Connection settings shared by producers, consumers and admin calls. */
typedef struct mt_kafka_config {
    const char *bootstrap;      /* "host:port[,host:port...]", required */
    const char *client_id;      /* NULL: "mcptrail" */
    const mt_kafka_prop *props; /* applied after mcptrail's defaults, so they win */
    size_t nprops;
} mt_kafka_config;

typedef struct mt_kafka_header {
    const char *name;
    const void *value;
    size_t len;
} mt_kafka_header;

/* Storage for the two headers of an Avro single-object record. */
typedef struct mt_kafka_avro_headers {
    char fingerprint_hex[17];
    mt_kafka_header h[2];
} mt_kafka_avro_headers;

/* Writes the 64-bit fingerprint as 16 lower-case hex digits, most
 * significant first (the number, not the little-endian wire bytes), plus NUL. */
void mt_kafka_fingerprint_hex(uint64_t fingerprint, char out[17]);

/* Fills ah with content-type and avro-fingerprint headers and returns ah->h
 * (2 entries), valid as long as ah is. */
const mt_kafka_header *mt_kafka_avro_headers_init(mt_kafka_avro_headers *ah, uint64_t fingerprint);

/* ---- producer ---------------------------------------------------------- */

typedef struct mt_producer mt_producer;

typedef struct mt_delivery {
    void *opaque;       /* as passed to mt_producer_send */
    mt_err err;         /* MT_OK: acknowledged by all in-sync replicas */
    const char *errstr; /* librdkafka's text when err != MT_OK, else "" */
    const char *topic;
    int32_t partition;  /* -1 if never assigned */
    int64_t offset;     /* -1 unless acknowledged */
    const void *key;    /* the message's bytes, valid during the callback only */
    size_t key_len;
    const void *value;
    size_t value_len;
} mt_delivery;

typedef void (*mt_delivery_cb)(const mt_delivery *d, void *ctx);

typedef struct mt_producer_config {
    mt_kafka_config kafka;
    mt_delivery_cb on_delivery; /* required */
    void *ctx;                  /* passed to on_delivery */
    size_t max_inflight;        /* 0: MT_PRODUCER_DEFAULT_MAX_INFLIGHT messages */
    size_t max_inflight_bytes;  /* 0: MT_PRODUCER_DEFAULT_MAX_INFLIGHT_BYTES (key+value+headers) */
    int delivery_timeout_ms;    /* 0: librdkafka default (300000); a message not
                                   acked in time is reported with MT_ERR_TIMEOUT */
} mt_producer_config;

mt_err mt_producer_new(const mt_producer_config *cfg, mt_producer **out, mt_errbuf *eb);

/* Queues one message (copied; the caller's buffers may be reused at once).
 * key may be NULL (klen 0); headers may be NULL (nheaders 0). The message's
 * delivery report comes later through on_delivery with `opaque`.
 * Back-pressure: when the in-flight table already holds max_inflight
 * messages or max_inflight_bytes, returns MT_ERR_TOO_LARGE without queueing;
 * the caller calls mt_producer_poll (which frees slots as reports arrive) and
 * tries again. A single message larger than max_inflight_bytes can never fit
 * and gets MT_ERR_INVALID_ARG. Other failures: MT_ERR_KAFKA (e.g. unknown
 * topic), MT_ERR_NOMEM. After a fatal librdkafka error the message is kept
 * and sent by the recreated producer: MT_OK. */
mt_err mt_producer_send(mt_producer *p, const char *topic, const void *key, size_t klen,
                        const void *value, size_t vlen, const mt_kafka_header *headers,
                        size_t nheaders, void *opaque, mt_errbuf *eb);

/* Serves delivery reports and errors for up to timeout_ms (0: non-blocking)
 * and recovers from a fatal error (recreate + re-send). Returns the number
 * of delivery reports handed to the callback. */
int mt_producer_poll(mt_producer *p, int timeout_ms);

/* Polls until every queued message has its report or timeout_ms passes:
 * MT_OK or MT_ERR_TIMEOUT (messages remain in flight, nothing is dropped;
 * flush again later). */
mt_err mt_producer_flush(mt_producer *p, int timeout_ms, mt_errbuf *eb);

/* Event-loop integration: from now on librdkafka writes one byte ("1") to
 * fd (a non-blocking pipe write end or eventfd the caller owns and keeps
 * open until mt_producer_destroy) whenever delivery reports or errors wait
 * to be served. The byte is written only when the queue goes from empty to
 * non-empty, so on wake-up drain fd and call mt_producer_poll(p, 0), which
 * serves everything queued. If reports are already waiting when the fd is
 * set, one byte is written at once. Survives producer recreation after a
 * fatal error. MT_ERR_INVALID_ARG for fd < 0. */
mt_err mt_producer_set_wakeup_fd(mt_producer *p, int fd);

/* Messages sent but not yet reported. */
size_t mt_producer_inflight(const mt_producer *p);

/* How many times the librdkafka instance was recreated after a fatal error. */
unsigned mt_producer_recreations(const mt_producer *p);

/* -1 when the producer is healthy; else, after a fatal error, the ms until
 * the next poll may recreate it (0: now). Recreation happens inside
 * mt_producer_poll and a failed instance may never wake the wake-up fd
 * again, so an event loop that polls on wake-ups only arms a timer for this
 * long whenever it is >= 0 after a poll. */
int mt_producer_retry_ms(const mt_producer *p);

/* Messages sent again because their ack carried no offset (a "duplicate
 * sequence" answer, which is not proof the record was stored): such a
 * message is re-sent up to 3 times, so it may be on the topic twice; only
 * an ack with an offset is reported as delivered (after 3 re-sends the last
 * ack is reported as it is, offset -1). */
unsigned long mt_producer_resent(const mt_producer *p);

/* The current librdkafka handle, for tests and metrics only: it changes on
 * recreation; never destroy it or produce through it. */
struct rd_kafka_s *mt_producer_rdkafka(mt_producer *p);

/* Does not flush: call mt_producer_flush first. Messages still in flight are
 * purged and reported with MT_ERR_STATE (unless their ack arrives first). */
void mt_producer_destroy(mt_producer *p);

/* ---- consumer ---------------------------------------------------------- */

typedef struct mt_consumer mt_consumer;

typedef struct mt_consumer_config {
    mt_kafka_config kafka;
    const char *group_id;       /* required */
    const char *const *topics;  /* subscribed at creation */
    size_t ntopics;
    const char *offset_reset;   /* where a new group starts: NULL = "earliest" */
    int report_eof;             /* non-zero: mt_consumer_poll reports partition EOF */
    int assign_only;            /* non-zero: no group subscription; the caller reads every
                                   partition through mt_consumer_assign_all (group_id is
                                   then never joined and nothing is committed) */
} mt_consumer_config;

/* A consumed record. Views point into librdkafka's buffer and stay valid
 * until mt_kafka_msg_release. */
typedef struct mt_kafka_msg {
    int eof; /* 1: partition EOF marker (topic, partition, offset set; no data) */
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* -1 if unknown */
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    void *priv; /* owned by the kafka module */
} mt_kafka_msg;

mt_err mt_consumer_new(const mt_consumer_config *cfg, mt_consumer **out, mt_errbuf *eb);

/* Waits up to timeout_ms for the next record. MT_OK: *out holds a record or
 * an EOF marker (out->eof) and must be released. MT_ERR_TIMEOUT: nothing
 * arrived. MT_ERR_KAFKA: a permanent consumer error (unknown topic,
 * authorization...), detail in eb. Transient errors are logged and skipped. */
mt_err mt_consumer_poll(mt_consumer *c, int timeout_ms, mt_kafka_msg *out, mt_errbuf *eb);

/* Last header called `name`: MT_OK with *value and *len (value may be NULL for a
 * null header), or MT_ERR_NOT_FOUND. */
mt_err mt_kafka_msg_header(const mt_kafka_msg *m, const char *name, const void **value,
                           size_t *len);

void mt_kafka_msg_release(mt_kafka_msg *m);

/* Synchronously commits m->offset + 1 for m's partition. Call it after the
 * side effect of m (and of everything before it in the partition) is
 * durable. MT_ERR_KAFKA on failure (e.g. the partition was revoked: the
 * record will be delivered again to its new owner). */
mt_err mt_consumer_commit(mt_consumer *c, const mt_kafka_msg *m, mt_errbuf *eb);

/* assign_only consumers: assigns every partition of the configured topics,
 * each starting at its first record with a timestamp >= from_ms (0: the
 * beginning; a partition without such a record starts at its end). Topic
 * metadata and offset lookups are bounded by timeout_ms. MT_ERR_NOT_FOUND
 * when a topic does not exist (yet), MT_ERR_KAFKA on other errors: call
 * again later. MT_ERR_STATE when c is not assign_only. */
mt_err mt_consumer_assign_all(mt_consumer *c, int64_t from_ms, int timeout_ms, mt_errbuf *eb);

/* How many partitions the last successful mt_consumer_assign_all assigned
 * (0 before): with report_eof, the caller knows it has read everything
 * once that many distinct partitions reported EOF. */
size_t mt_consumer_assigned(const mt_consumer *c);

/* Event-loop integration, as mt_producer_set_wakeup_fd: one byte is written
 * to fd when records or errors wait; drain fd, then mt_consumer_poll(c, 0)
 * until MT_ERR_TIMEOUT. */
mt_err mt_consumer_set_wakeup_fd(mt_consumer *c, int fd);

/* Leaves the group cleanly (rd_kafka_consumer_close) and frees c. */
void mt_consumer_destroy(mt_consumer *c);

/* ---- admin ------------------------------------------------------------- */

/* Creates topics (a topic that already exists counts as success) with
 * `partitions` partitions, replication factor `rf` and topic configs
 * (e.g. min.insync.replicas), then waits until metadata shows every
 * partition of every topic with a leader. Whole call bounded by timeout_ms. */
mt_err mt_kafka_create_topics(const mt_kafka_config *kc, const char *const *names, size_t n,
                              int partitions, int rf, const mt_kafka_prop *configs,
                              size_t nconfigs, int timeout_ms, mt_errbuf *eb);

#endif
