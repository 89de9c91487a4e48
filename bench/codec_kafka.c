/* bench/codec_kafka: throughput of mcptrail's Avro codec and Kafka producer,
 * each next to a baseline measured in the same run on the same records:
 *
 *   encode   mt_avro_encode (single-object)     vs Avro C generic avro_value_write
 *   decode   mt_avro_decode (to jansson)        vs Avro C generic avro_value_read
 *   produce  mt_producer (idempotent, acks=all) vs raw librdkafka, same settings
 *
 * Records are the deterministic SessionEvent samples of tests/support. Rates
 * use CPU time of the process for codec rows (events/s per core) and wall
 * time for produce rows (the broker runs in another process). One line per
 * case; bench/codec_kafka.sh formats the table. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <avro.h>

#include "avroc_baseline.h"
#include "bench_produce.h"
#include "mcptrail/avro.h"
#include "mcptrail/buf.h"
#include "sample_events.h"

#define NSAMPLES 1024

static double now_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void row(const char *cas, const char *impl, uint64_t n, uint64_t bytes, double secs,
                const char *clock)
{
    printf("%s\t%s\t%" PRIu64 "\t%.0f\t%.1f\t%s\n", cas, impl, n, (double)n / secs,
           (double)bytes / secs / 1e6, clock);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    uint64_t n = 1000000, nprod = 200000;
    const char *brokers = getenv("MT_KAFKA_BROKERS");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc)
            n = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--produce-events") && i + 1 < argc)
            nprod = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--brokers") && i + 1 < argc)
            brokers = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--events N] [--produce-events N] [--brokers host:port]\n",
                    argv[0]);
            return 2;
        }
    }

    mt_errbuf eb = {{0}};
    mt_avro_registry *reg = NULL;
    if (mt_avro_registry_load(NULL, &reg, &eb)) {
        fprintf(stderr, "codec_kafka: %s\n", eb.msg);
        return 1;
    }
    const mt_avro_schema *s = mt_avro_registry_find(reg, "dev.mcptrail.SessionEvent");
    avro_schema_t as;
    const char *sj = mt_avro_schema_json(s);
    if (avro_schema_from_json_length(sj, strlen(sj), &as)) {
        fprintf(stderr, "codec_kafka: Avro C rejects the schema: %s\n", avro_strerror());
        return 1;
    }
    avro_value_iface_t *iface = avro_generic_class_from_schema(as);

    json_t *samples[NSAMPLES];
    avro_value_t values[NSAMPLES];
    mt_buf enc[NSAMPLES];
    for (unsigned i = 0; i < NSAMPLES; i++) {
        samples[i] = mt_sample_session_event(i);
        enc[i] = (mt_buf)MT_BUF_INIT;
        if (mt_avro_encode(s, samples[i], &enc[i], &eb)) {
            fprintf(stderr, "codec_kafka: sample %u: %s\n", i, eb.msg);
            return 1;
        }
        avro_generic_value_new(iface, &values[i]);
        if (mt_avroc_from_json(&values[i], samples[i])) {
            fprintf(stderr, "codec_kafka: sample %u does not convert to Avro C: %s\n", i,
                    avro_strerror());
            return 1;
        }
    }

    printf("case\timplementation\tevents\tevents_per_s\tMB_per_s\tclock\n");

    /* encode */
    mt_buf out = MT_BUF_INIT;
    uint64_t bytes = 0;
    double t0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (uint64_t i = 0; i < n; i++) {
        mt_buf_reset(&out);
        if (mt_avro_encode(s, samples[i % NSAMPLES], &out, &eb)) {
            fprintf(stderr, "codec_kafka: encode: %s\n", eb.msg);
            return 1;
        }
        bytes += out.len;
    }
    row("encode", "mcptrail", n, bytes, now_s(CLOCK_PROCESS_CPUTIME_ID) - t0, "cpu");

    static char abuf[1 << 20];
    bytes = 0;
    t0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (uint64_t i = 0; i < n; i++) {
        size_t sz;
        avro_value_sizeof(&values[i % NSAMPLES], &sz);
        avro_writer_t w = avro_writer_memory(abuf, (int64_t)sizeof abuf);
        if (avro_value_write(w, &values[i % NSAMPLES])) {
            fprintf(stderr, "codec_kafka: Avro C encode: %s\n", avro_strerror());
            return 1;
        }
        avro_writer_free(w);
        bytes += sz + MT_AVRO_HEADER_LEN;
    }
    row("encode", "avro-c generic (baseline)", n, bytes, now_s(CLOCK_PROCESS_CPUTIME_ID) - t0,
        "cpu");

    /* decode */
    bytes = 0;
    t0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (uint64_t i = 0; i < n; i++) {
        json_t *d = NULL;
        const mt_buf *b = &enc[i % NSAMPLES];
        if (mt_avro_decode(reg, b->data, b->len, NULL, &d, &eb)) {
            fprintf(stderr, "codec_kafka: decode: %s\n", eb.msg);
            return 1;
        }
        json_decref(d);
        bytes += b->len;
    }
    row("decode", "mcptrail", n, bytes, now_s(CLOCK_PROCESS_CPUTIME_ID) - t0, "cpu");

    avro_value_t dv;
    avro_generic_value_new(iface, &dv);
    avro_reader_t r = avro_reader_memory("", 0);
    bytes = 0;
    t0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    for (uint64_t i = 0; i < n; i++) {
        const mt_buf *b = &enc[i % NSAMPLES];
        avro_reader_memory_set_source(r, (const char *)b->data + MT_AVRO_HEADER_LEN,
                                      (int64_t)(b->len - MT_AVRO_HEADER_LEN));
        avro_value_reset(&dv);
        if (avro_value_read(r, &dv)) {
            fprintf(stderr, "codec_kafka: Avro C decode: %s\n", avro_strerror());
            return 1;
        }
        bytes += b->len;
    }
    row("decode", "avro-c generic (baseline)", n, bytes, now_s(CLOCK_PROCESS_CPUTIME_ID) - t0,
        "cpu");
    avro_reader_free(r);
    avro_value_decref(&dv);

    int rc = 0;
    if (brokers && *brokers && nprod > 0) {
        const uint8_t *recs[NSAMPLES];
        size_t lens[NSAMPLES];
        for (unsigned i = 0; i < NSAMPLES; i++) {
            recs[i] = enc[i].data;
            lens[i] = enc[i].len;
        }
        rc = mt_bench_produce(brokers, mt_avro_schema_fingerprint(s), recs, lens, NSAMPLES,
                              nprod, row);
    } else {
        fprintf(stderr, "codec_kafka: no brokers (set MT_KAFKA_BROKERS); produce rows skipped\n");
    }

    for (unsigned i = 0; i < NSAMPLES; i++) {
        json_decref(samples[i]);
        mt_buf_free(&enc[i]);
        avro_value_decref(&values[i]);
    }
    mt_buf_free(&out);
    avro_value_iface_decref(iface);
    avro_schema_decref(as);
    mt_avro_registry_free(reg);
    return rc;
}
