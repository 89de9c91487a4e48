/* Produce rows of bench/codec_kafka: mcptrail's producer and raw librdkafka. */
#ifndef MT_BENCH_PRODUCE_H
#define MT_BENCH_PRODUCE_H

#include <stddef.h>
#include <stdint.h>

typedef void (*mt_bench_row_fn)(const char *cas, const char *impl, uint64_t n, uint64_t bytes,
                                double secs, const char *clock);

/* Produces n records (cycling over recs) once through each implementation to
 * a fresh topic each, waits for every delivery report, and reports a row per
 * implementation. Returns 0, or 1 if any delivery failed. */
int mt_bench_produce(const char *brokers, uint64_t fingerprint, const uint8_t *const *recs,
                     const size_t *lens, size_t nrecs, uint64_t n, mt_bench_row_fn row);

#endif
