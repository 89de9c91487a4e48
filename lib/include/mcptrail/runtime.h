/* Start-up glue shared by every mcptrail binary: applies the common options
 * (log level and format) and turns them into the Kafka client configuration
 * and the loaded Avro schema registry, so each main() stays a few lines. */
#ifndef MCPTRAIL_RUNTIME_H
#define MCPTRAIL_RUNTIME_H

#include <stdint.h>

#include "mcptrail/avro.h"
#include "mcptrail/config.h"
#include "mcptrail/err.h"
#include "mcptrail/kafka.h"

typedef struct mt_runtime {
    mt_kafka_config kafka;   /* bootstrap/client id/props borrowed from the config */
    mt_kafka_prop *props;    /* owned: kafka.properties split at '=' */
    char *props_text;        /* owned: storage the props point into */
    mt_avro_registry *schemas;
} mt_runtime;

/* Applies logging options, splits kafka.properties ("key=value") and loads
 * the schemas from schema_dir (NULL: $MT_SCHEMA_DIR or the built-in path).
 * `common` must outlive rt. MT_ERR_CONFIG when kafka.brokers is required but
 * unset (need_kafka non-zero) or a property lacks '='. */
mt_err mt_runtime_init(mt_runtime *rt, const mt_common_config *common, int need_kafka,
                       mt_errbuf *eb);
void mt_runtime_free(mt_runtime *rt);

/* Wall-clock time in microseconds since the Unix epoch (the timestamps of
 * every record). */
int64_t mt_now_us(void);

/* Event-loop wake-up pipes (librdkafka's wakeup fds): a pipe with both ends
 * non-blocking and close-on-exec (-1 and errno on failure), and draining
 * everything readable from its read end. */
int mt_wake_pipe(int fds[2]);
void mt_wake_drain(int fd);

#endif
