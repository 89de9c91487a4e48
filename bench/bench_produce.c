/* Produce rows: mcptrail's producer (idempotent, acks=all, per-message
 * delivery reports, in-flight copies for fatal-error recovery) against raw
 * librdkafka with the same settings. Each run gets a fresh topic (3
 * partitions) so neither sees the other's data; wall time covers the first
 * send to the last delivery report. */
#include "bench_produce.h"
#include "bench_produce_internal.h"

#include <string.h>
#include <unistd.h>

#include "mcptrail/kafka.h"

static void on_delivery(const mt_delivery *d, void *ctx)
{
    struct mt_bench_counts *c = ctx;
    if (d->err)
        c->failed++;
    else
        c->acked++;
}

static int produce_mcptrail(const char *brokers, const char *topic, uint64_t fp,
                            const uint8_t *const *recs, const size_t *lens, size_t nrecs,
                            uint64_t n, double *secs)
{
    mt_errbuf eb = {{0}};
    struct mt_bench_counts counts = {0, 0};
    mt_kafka_prop props[] = {{"linger.ms", MT_BENCH_LINGER_MS}};
    mt_producer_config cfg = {.kafka = {.bootstrap = brokers, .props = props, .nprops = 1},
                              .on_delivery = on_delivery,
                              .ctx = &counts,
                              .max_inflight = MT_BENCH_MAX_INFLIGHT,
                              .max_inflight_bytes = (size_t)1 << 30};
    mt_producer *p = NULL;
    if (mt_producer_new(&cfg, &p, &eb)) {
        fprintf(stderr, "bench: producer: %s\n", eb.msg);
        return 1;
    }
    mt_kafka_avro_headers ah;
    const mt_kafka_header *h = mt_kafka_avro_headers_init(&ah, fp);
    double t0 = mt_bench_wall();
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *rec = recs[i % nrecs];
        mt_err err;
        while ((err = mt_producer_send(p, topic, rec + MT_BENCH_KEY_OFFSET, MT_BENCH_KEY_LEN, rec,
                                       lens[i % nrecs], h, 2, NULL, &eb)) == MT_ERR_TOO_LARGE)
            mt_producer_poll(p, 10);
        if (err) {
            fprintf(stderr, "bench: send: %s\n", eb.msg);
            mt_producer_destroy(p);
            return 1;
        }
        mt_producer_poll(p, 0);
    }
    mt_err err = mt_producer_flush(p, 120000, &eb);
    *secs = mt_bench_wall() - t0;
    mt_producer_destroy(p);
    if (err || counts.acked != n || counts.failed) {
        fprintf(stderr, "bench: mcptrail producer acked %llu of %llu, %llu failed\n",
                (unsigned long long)counts.acked, (unsigned long long)n,
                (unsigned long long)counts.failed);
        return 1;
    }
    return 0;
}

int mt_bench_produce(const char *brokers, uint64_t fingerprint, const uint8_t *const *recs,
                     const size_t *lens, size_t nrecs, uint64_t n, mt_bench_row_fn row)
{
    char t_mt[64], t_raw[64];
    snprintf(t_mt, sizeof t_mt, "bench.mcptrail.%ld", (long)getpid());
    snprintf(t_raw, sizeof t_raw, "bench.raw.%ld", (long)getpid());
    const char *names[] = {t_mt, t_raw};
    mt_errbuf eb = {{0}};
    mt_kafka_config kc = {.bootstrap = brokers};
    if (mt_kafka_create_topics(&kc, names, 2, 3, 1, NULL, 0, 30000, &eb)) {
        fprintf(stderr, "bench: create topics: %s\n", eb.msg);
        return 1;
    }
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < n; i++)
        bytes += lens[i % nrecs];
    /* A fresh broker is still loading its coordinators and the page cache is
     * cold: warm both up, then alternate the implementations so neither
     * always runs first, and report the better of two runs of each. */
    double secs, best_mt = 0, best_raw = 0;
    if (mt_bench_produce_raw(brokers, t_raw, fingerprint, recs, lens, nrecs, n / 10 + 1, &secs))
        return 1;
    for (int round = 0; round < 2; round++) {
        if (produce_mcptrail(brokers, t_mt, fingerprint, recs, lens, nrecs, n, &secs))
            return 1;
        best_mt = round == 0 || secs < best_mt ? secs : best_mt;
        if (mt_bench_produce_raw(brokers, t_raw, fingerprint, recs, lens, nrecs, n, &secs))
            return 1;
        best_raw = round == 0 || secs < best_raw ? secs : best_raw;
    }
    row("produce acks=all", "mcptrail producer", n, bytes, best_mt, "wall, best of 2");
    row("produce acks=all", "raw librdkafka (baseline)", n, bytes, best_raw, "wall, best of 2");
    return 0;
}
