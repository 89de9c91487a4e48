/* kafka_roundtrip_100k: 100,000 Avro SessionEvents through a real broker.
 *
 * Produces sample events 0..99999 (single-object encoded, key = session_id,
 * content-type / fingerprint / index headers) with the idempotent producer
 * to a fresh topic, waits for every delivery report, then reads the topic
 * back with a fresh consumer group to EOF on every partition. Passes when
 * every event was acked once, consumed exactly once with identical bytes
 * and key, and the events of each session arrived in send order.
 * Skipped (exit 77) unless MT_KAFKA_BROKERS names the brokers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

#define N_EVENTS 100000
#define N_PARTITIONS 6

typedef struct acks {
    uint8_t *state; /* 0 none, 1 acked, 2 failed */
    size_t ok, failed, dup_reports;
    mt_err last_err;
} acks;

static void on_delivery(const mt_delivery *d, void *ctx)
{
    acks *a = ctx;
    size_t i = (size_t)(uintptr_t)d->opaque;
    if (a->state[i] != 0) {
        a->dup_reports++;
        return;
    }
    if (d->err == MT_OK) {
        a->state[i] = 1;
        a->ok++;
    } else {
        a->state[i] = 2;
        a->failed++;
        a->last_err = d->err;
        fprintf(stderr, "delivery of %zu failed: %s (%s)\n", i, mt_errname(d->err), d->errstr);
    }
}

int main(void)
{
    const char *brokers = getenv("MT_KAFKA_BROKERS");
    if (!brokers || !*brokers) {
        printf("SKIP: MT_KAFKA_BROKERS is not set (start brokers with scripts/kafka.sh start)\n");
        return IT_SKIP;
    }
    int64_t t0 = it_now_ms();
    int64_t deadline = t0 + 240000;
    char topic[128];
    it_unique_name(topic, sizeof topic, "mt-it-roundtrip");
    int rf = it_broker_count(brokers) >= 3 ? 3 : 1;
    mt_kafka_config kc = {.bootstrap = brokers, .client_id = "mt-itest"};
    mt_errbuf eb = {{0}};
    if (mt_kafka_create_topics(&kc, (const char *const[]){topic}, 1, N_PARTITIONS, rf, NULL, 0,
                               30000, &eb))
        IT_FAIL("creating %s on %s: %s", topic, brokers, eb.msg);

    it_corpus c;
    it_corpus_init(&c, N_EVENTS);
    acks a = {.state = calloc(N_EVENTS, 1)};
    if (!a.state)
        IT_FAIL("no memory");
    mt_producer *p = NULL;
    mt_producer_config pc = {
        .kafka = kc,
        .on_delivery = on_delivery,
        .ctx = &a,
        .delivery_timeout_ms = 120000,
    };
    if (mt_producer_new(&pc, &p, &eb))
        IT_FAIL("producer: %s", eb.msg);

    mt_buf value = MT_BUF_INIT;
    size_t bytes = 0;
    for (size_t i = 0; i < N_EVENTS; i++) {
        it_corpus_encode(&c, i, &value);
        bytes += value.len;
        it_send(p, topic, &c, i, &value, (void *)(uintptr_t)i, deadline);
        if (i % 1000 == 999)
            mt_producer_poll(p, 0);
    }
    mt_buf_free(&value);
    if (mt_producer_flush(p, 120000, &eb))
        IT_FAIL("flush: %s", eb.msg);
    int64_t t_produced = it_now_ms();
    unsigned recreations = mt_producer_recreations(p);
    mt_producer_destroy(p);
    if (a.ok != N_EVENTS || a.failed || a.dup_reports)
        IT_FAIL("delivery reports: %zu acked, %zu failed (last %s), %zu duplicate reports",
                a.ok, a.failed, mt_errname(a.last_err), a.dup_reports);

    it_tally t;
    it_consume_all(brokers, topic, N_PARTITIONS, &c, N_EVENTS, deadline, &t);
    int64_t t_consumed = it_now_ms();

    size_t missing = 0, dups = 0;
    for (size_t i = 0; i < N_EVENTS; i++) {
        missing += t.seen[i] == 0;
        dups += t.seen[i] > 1 ? t.seen[i] - 1 : 0;
    }
    printf("kafka_roundtrip_100k: topic %s rf %d partitions %d\n", topic, rf, N_PARTITIONS);
    printf("  produced %d events (%zu bytes) in %" PRId64 " ms, producer recreations %u\n",
           N_EVENTS, bytes, t_produced - t0, recreations);
    printf("  consumed %zu records in %" PRId64 " ms: missing %zu, duplicates %zu, "
           "bytes/key mismatches %zu, bad headers %zu, order errors %zu, decoded %zu\n",
           t.records, t_consumed - t_produced, missing, dups, t.bad_bytes, t.bad_header,
           t.order_errors, t.decode_checked);
    int ok = missing == 0 && dups == 0 && t.bad_bytes == 0 && t.bad_header == 0 &&
             t.order_errors == 0 && t.records == N_EVENTS;
    free(t.seen);
    free(a.state);
    it_corpus_free(&c);
    if (!ok)
        IT_FAIL("round trip of %d events is not exact (see counts above)", N_EVENTS);
    printf("PASS\n");
    return 0;
}
