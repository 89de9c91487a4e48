/* librdkafka's in-process mock cluster as a test Kafka, and the two ways the
 * tests read it back: as a consumer-group member through mt_consumer
 * (mt_mock_kafka_consume) and as a plain assigned reader that decodes each
 * record as a SessionEvent (mt_mock_kafka_read_events).
 *
 * The cluster lives on its own helper rd_kafka_t, not on the client under
 * test (test.mock.num.brokers), so a client that destroys and recreates its
 * instance (the producer after a fatal error) does not take the cluster
 * down with it, and brokers can be taken down and up with
 * rd_kafka_mock_broker_set_down/up(m->mc, id) (ids 1..brokers).
 *
 * No cmocka here (benchmarks link this library too): functions return
 * mt_err with the detail in eb, and the tests assert on that. */
#ifndef MT_TEST_MOCK_KAFKA_H
#define MT_TEST_MOCK_KAFKA_H

#include <stdbool.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "mcptrail/err.h"
#include "mcptrail/kafka.h"

typedef struct mt_mock_kafka {
    rd_kafka_t *rk; /* the helper instance that owns the cluster */
    rd_kafka_mock_cluster_t *mc;
    char bootstrap[256];
    char topic[128];
    int partitions;
} mt_mock_kafka;

/* A cluster of `brokers` brokers with `topic` created with `partitions`
 * partitions, each replicated on every broker. On failure nothing is left
 * to stop. */
mt_err mt_mock_kafka_start(mt_mock_kafka *m, int brokers, const char *topic, int partitions,
                           mt_errbuf *eb);

void mt_mock_kafka_stop(mt_mock_kafka *m);

/* Called by mt_mock_kafka_consume for each record (not for EOF markers);
 * c is the consumer, for commits. Anything but MT_OK stops the consume and
 * is returned by it. */
typedef mt_err (*mt_mock_kafka_record_fn)(void *ctx, mt_consumer *c, const mt_kafka_msg *msg,
                                          mt_errbuf *eb);

/* Consumes m's topic as a member of `group` (new groups start at the
 * earliest offset) until at least `want` records were passed to on_record
 * and every partition has reported EOF after its last record. *got: the
 * records passed, also on failure. MT_ERR_TIMEOUT when timeout_ms passes
 * first. The group's session timeout is short because the mock coordinator
 * holds a JoinGroup until earlier members of the group time out. */
mt_err mt_mock_kafka_consume(const mt_mock_kafka *m, const char *group, unsigned want,
                             int timeout_ms, mt_mock_kafka_record_fn on_record, void *ctx,
                             unsigned *got, mt_errbuf *eb);

/* Reads partition 0 of m's topic from the beginning, decodes every record
 * as Avro single-object encoding (schemas from $MT_SCHEMA_DIR) and appends
 * the datums to the new array *events, until one of kind `kind` was appended
 * (MT_OK) or timeout_ms passes (MT_ERR_TIMEOUT). *events is set in both
 * cases (caller json_decref's it); a record that does not decode fails. */
mt_err mt_mock_kafka_read_events(const mt_mock_kafka *m, const char *kind, int timeout_ms,
                                 json_t **events, mt_errbuf *eb);

/* A decoded union that is not ["null", T] reads {"branch": value} in the
 * Avro JSON mapping: returns the value inside such a one-key object, else v. */
json_t *mt_mock_kafka_branch(json_t *v);

#endif
