/* Raw librdkafka baseline for the produce rows: the same records and headers,
 * the same producer settings as mcptrail's (enable.idempotence, acks=all,
 * same linger, librdkafka's default queue of 100,000 messages), with no
 * wrapper, in-flight copy or per-message report to a caller. */
#include "bench_produce_internal.h"

#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "mcptrail/kafka.h"

static void raw_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct mt_bench_counts *c = opaque;
    if (m->err)
        c->failed++;
    else
        c->acked++;
}

int mt_bench_produce_raw(const char *brokers, const char *topic, uint64_t fingerprint,
                         const uint8_t *const *recs, const size_t *lens, size_t nrecs, uint64_t n,
                         double *secs)
{
    char fphex[17];
    snprintf(fphex, sizeof fphex, "%016llx", (unsigned long long)fingerprint);
    char errstr[512];
    struct mt_bench_counts counts = {0, 0};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (mt_bench_conf_set(conf, "bootstrap.servers", brokers) ||
        mt_bench_conf_set(conf, "enable.idempotence", "true") ||
        mt_bench_conf_set(conf, "acks", "all") ||
        mt_bench_conf_set(conf, "linger.ms", MT_BENCH_LINGER_MS)) {
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, raw_dr);
    rd_kafka_conf_set_opaque(conf, &counts);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "bench: rd_kafka_new: %s\n", errstr);
        return 1;
    }
    double t0 = mt_bench_wall();
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *rec = recs[i % nrecs];
        size_t len = lens[i % nrecs];
        for (;;) {
            rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE((void *)rec, len),
                RD_KAFKA_V_KEY(rec + MT_BENCH_KEY_OFFSET, MT_BENCH_KEY_LEN),
                RD_KAFKA_V_HEADER(MT_KAFKA_HEADER_CONTENT_TYPE, MT_KAFKA_CONTENT_TYPE_AVRO, -1),
                RD_KAFKA_V_HEADER("avro-fingerprint", fphex, 16),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 10);
                continue;
            }
            if (err) {
                fprintf(stderr, "bench: produce: %s\n", rd_kafka_err2str(err));
                rd_kafka_destroy(rk);
                return 1;
            }
            break;
        }
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    *secs = mt_bench_wall() - t0;
    rd_kafka_destroy(rk);
    if (counts.acked != n || counts.failed) {
        fprintf(stderr, "bench: raw librdkafka acked %llu of %llu, %llu failed\n",
                (unsigned long long)counts.acked, (unsigned long long)n,
                (unsigned long long)counts.failed);
        return 1;
    }
    return 0;
}
