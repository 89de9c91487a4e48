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

#define REPEATS 3

typedef struct codec_ctx {
    const mt_avro_registry *reg;
    const mt_avro_schema *schema;
    json_t **samples;
    avro_value_t *values;
    avro_value_iface_t *iface;
    mt_buf *enc;
} codec_ctx;

/* Runs one codec case over n records cycling through the first `nuse`
 * samples; adds the bytes produced or consumed to *bytes. 0 on success. */
typedef int (*codec_fn)(const codec_ctx *cx, unsigned nuse, uint64_t n, uint64_t *bytes);

static int case_encode_mt(const codec_ctx *cx, unsigned nuse, uint64_t n, uint64_t *bytes)
{
    mt_errbuf eb = {{0}};
    mt_buf out = MT_BUF_INIT;
    *bytes = 0;
    for (uint64_t i = 0; i < n; i++) {
        mt_buf_reset(&out);
        if (mt_avro_encode(cx->schema, cx->samples[i % nuse], &out, &eb)) {
            fprintf(stderr, "codec_kafka: encode: %s\n", eb.msg);
            mt_buf_free(&out);
            return 1;
        }
        *bytes += out.len;
    }
    mt_buf_free(&out);
    return 0;
}

static int case_encode_avroc(const codec_ctx *cx, unsigned nuse, uint64_t n, uint64_t *bytes)
{
    static char abuf[1 << 20];
    *bytes = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t sz;
        avro_value_t *v = &cx->values[i % nuse];
        avro_value_sizeof(v, &sz);
        avro_writer_t w = avro_writer_memory(abuf, (int64_t)sizeof abuf);
        int rc = avro_value_write(w, v);
        avro_writer_free(w);
        if (rc) {
            fprintf(stderr, "codec_kafka: Avro C encode: %s\n", avro_strerror());
            return 1;
        }
        *bytes += sz + MT_AVRO_HEADER_LEN;
    }
    return 0;
}

static int case_decode_mt(const codec_ctx *cx, unsigned nuse, uint64_t n, uint64_t *bytes)
{
    mt_errbuf eb = {{0}};
    *bytes = 0;
    for (uint64_t i = 0; i < n; i++) {
        json_t *d = NULL;
        const mt_buf *b = &cx->enc[i % nuse];
        if (mt_avro_decode(cx->reg, b->data, b->len, NULL, &d, &eb)) {
            fprintf(stderr, "codec_kafka: decode: %s\n", eb.msg);
            return 1;
        }
        json_decref(d);
        *bytes += b->len;
    }
    return 0;
}

static int case_decode_avroc(const codec_ctx *cx, unsigned nuse, uint64_t n, uint64_t *bytes)
{
    avro_value_t dv;
    avro_generic_value_new(cx->iface, &dv);
    avro_reader_t r = avro_reader_memory("", 0);
    int rc = 0;
    *bytes = 0;
    for (uint64_t i = 0; i < n; i++) {
        const mt_buf *b = &cx->enc[i % nuse];
        avro_reader_memory_set_source(r, (const char *)b->data + MT_AVRO_HEADER_LEN,
                                      (int64_t)(b->len - MT_AVRO_HEADER_LEN));
        avro_value_reset(&dv);
        if (avro_value_read(r, &dv)) {
            fprintf(stderr, "codec_kafka: Avro C decode: %s\n", avro_strerror());
            rc = 1;
            break;
        }
        *bytes += b->len;
    }
    avro_reader_free(r);
    avro_value_decref(&dv);
    return rc;
}

static double median3(double v[3])
{
    double a = v[0], b = v[1], c = v[2];
    if ((a <= b && b <= c) || (c <= b && b <= a))
        return b;
    if ((b <= a && a <= c) || (c <= a && a <= b))
        return a;
    return c;
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
    codec_ctx cx = {reg, s, samples, values, iface, enc};
    static const struct {
        const char *cas, *impl;
        codec_fn fn;
    } cases[] = {
        {"encode", "mcptrail", case_encode_mt},
        {"encode", "avro-c generic (baseline)", case_encode_avroc},
        {"decode", "mcptrail", case_decode_mt},
        {"decode", "avro-c generic (baseline)", case_decode_avroc},
    };
    /* 1 record: the sidecar's case, an event encoded right after it was
     * built, hot in cache. 1024 records: a consumer's case, cold records. */
    static const unsigned working_sets[] = {1, NSAMPLES};
    for (size_t w = 0; w < 2; w++) {
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            double secs[REPEATS];
            uint64_t bytes = 0;
            for (int r = 0; r < REPEATS; r++) {
                double t0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
                if (cases[c].fn(&cx, working_sets[w], n, &bytes))
                    return 1;
                secs[r] = now_s(CLOCK_PROCESS_CPUTIME_ID) - t0;
            }
            char label[64];
            snprintf(label, sizeof label, "%s (%u record%s)", cases[c].cas, working_sets[w],
                     working_sets[w] == 1 ? ", hot" : "s");
            row(label, cases[c].impl, n, bytes, median3(secs), "cpu, median of 3");
        }
    }

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
    avro_value_iface_decref(iface);
    avro_schema_decref(as);
    mt_avro_registry_free(reg);
    return rc;
}
