/* Shared pieces of the two produce implementations of the benchmark. */
#ifndef MT_BENCH_PRODUCE_INTERNAL_H
#define MT_BENCH_PRODUCE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

/* Same batching for both implementations so only the wrapper differs. */
#define MT_BENCH_LINGER_MS "5"
/* Records are keyed by 16 bytes of their datum (mostly the event id text). */
#define MT_BENCH_KEY_OFFSET 10
#define MT_BENCH_KEY_LEN 16

struct mt_bench_counts {
    uint64_t acked;
    uint64_t failed;
};

static inline double mt_bench_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int mt_bench_conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "bench: %s=%s: %s\n", k, v, errstr);
        return 1;
    }
    return 0;
}

/* librdkafka's default queue.buffering.max.messages; mcptrail's in-flight
 * table gets the same bound in the benchmark. */
#define MT_BENCH_MAX_INFLIGHT 100000

int mt_bench_produce_raw(const char *brokers, const char *topic, uint64_t fingerprint,
                         const uint8_t *const *recs, const size_t *lens, size_t nrecs, uint64_t n,
                         double *secs);

#endif
