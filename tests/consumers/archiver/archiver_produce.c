/* Test and benchmark producer for the archiver: N records across the four
 * mcptrail topics, with acks=all through libmcptrail's idempotent producer.
 *
 *   archiver_produce BROKERS N START IDS_FILE|- [PREFIX [RF]]
 *
 * Topics are PREFIX + the mcptrail names (PREFIX "" = the real topics), so
 * tests running side by side on one broker never see each other's records;
 * they are created (3 partitions, replication RF, min.insync.replicas
 * RF > 1 ? 2 : 1) if missing.
 * 94 % are SessionEvents (16 per session, seq 0..15, key session_id), 2 % each
 * ApprovalRequest / ApprovalVote / ApprovalDecision. Record k (k = START ..
 * START+N-1) is deterministic, so two runs with disjoint ranges never share
 * an id. SessionEvents are encoded once per template from tests/support's
 * sample events and get a unique event_id and session_id patched in (both are
 * 36-character UUID strings at fixed positions), which keeps a million
 * records cheap to make under ASan. Every id is written to IDS_FILE as
 * "topic<TAB>id<TAB>partition<TAB>offset" once its delivery is acknowledged;
 * exit 1 if any delivery fails. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/avro.h"
#include "mcptrail/kafka.h"
#include "sample_events.h"

enum { NTEMPL = 64, UUID_LEN = 36 };

typedef struct ctx {
    FILE *ids;
    uint64_t acked, failed;
} ctx;

static void on_delivery(const mt_delivery *d, void *vctx)
{
    ctx *c = vctx;
    if (d->err) {
        c->failed++;
        fprintf(stderr, "archiver_produce: delivery to %s failed: %s\n", d->topic, d->errstr);
        return;
    }
    c->acked++;
    if (c->ids && d->value_len > 11 + UUID_LEN)
        fprintf(c->ids, "%s\t%.*s\t%" PRId32 "\t%" PRId64 "\n", d->topic, UUID_LEN,
                (const char *)d->value + 11, d->partition, d->offset);
}

static void uuid_of(uint64_t seed, char out[UUID_LEN + 1])
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull;
    x ^= x >> 31;
    snprintf(out, UUID_LEN + 1, "%08" PRIx64 "-%04" PRIx64 "-7%03" PRIx64 "-8%03" PRIx64 "-%012" PRIx64,
             (seed >> 16) & 0xffffffffu, seed & 0xffffu, x & 0xfffu, (x >> 12) & 0xfffu,
             (uint64_t)((x >> 24) & 0xffffffffffffull));
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 7) {
        fprintf(stderr, "usage: archiver_produce BROKERS N START IDS_FILE|- [PREFIX [RF]]\n");
        return 2;
    }
    uint64_t n = strtoull(argv[2], NULL, 10), start = strtoull(argv[3], NULL, 10);
    ctx c = {0};
    if (strcmp(argv[4], "-") != 0 && !(c.ids = fopen(argv[4], "w"))) {
        perror(argv[4]);
        return 2;
    }
    mt_errbuf eb = {{0}};
    mt_avro_registry *reg = NULL;
    if (mt_avro_registry_load(NULL, &reg, &eb) != MT_OK) {
        fprintf(stderr, "archiver_produce: %s\n", eb.msg);
        return 2;
    }
    const mt_avro_schema *s_ev = mt_avro_registry_find(reg, "dev.mcptrail.SessionEvent");
    const mt_avro_schema *s_req = mt_avro_registry_find(reg, "dev.mcptrail.ApprovalRequest");
    const mt_avro_schema *s_vote = mt_avro_registry_find(reg, "dev.mcptrail.ApprovalVote");
    const mt_avro_schema *s_dec = mt_avro_registry_find(reg, "dev.mcptrail.ApprovalDecision");
    mt_buf templ[NTEMPL];
    for (int t = 0; t < NTEMPL; t++) {
        templ[t] = (mt_buf)MT_BUF_INIT;
        json_t *j = mt_sample_session_event((uint64_t)t);
        /* records patched from templates cannot form a sidecar stream (its chain
         * hashes each real record): no stream, so verify checks session seqs */
        json_object_set_new(j, "stream", json_null());
        if (mt_avro_encode(s_ev, j, &templ[t], &eb) != MT_OK || templ[t].data[10] != 2 * UUID_LEN ||
            templ[t].data[11 + UUID_LEN] != 2 * UUID_LEN) {
            fprintf(stderr, "archiver_produce: template %d: %s\n", t, eb.msg);
            return 2;
        }
        json_decref(j);
    }
    const char *prefix = argc > 5 ? argv[5] : "";
    int rf = argc > 6 ? atoi(argv[6]) : 1;
    static const char *const base[4] = {"mcptrail.events", "mcptrail.approval.requests",
                                        "mcptrail.approval.votes", "mcptrail.approval.decisions"};
    char names[4][256];
    const char *tn[4];
    for (int t = 0; t < 4; t++) {
        snprintf(names[t], sizeof names[t], "%s%s", prefix, base[t]);
        tn[t] = names[t];
    }
    mt_kafka_config kc = {.bootstrap = argv[1], .client_id = "archiver-produce"};
    mt_kafka_prop isr = {"min.insync.replicas", rf > 1 ? "2" : "1"};
    if (mt_kafka_create_topics(&kc, tn, 4, 3, rf, &isr, 1, 60000, &eb) != MT_OK) {
        fprintf(stderr, "archiver_produce: create topics: %s\n", eb.msg);
        return 2;
    }
    mt_producer *p = NULL;
    mt_producer_config pc = {.kafka = {.bootstrap = argv[1], .client_id = "archiver-produce"},
                             .on_delivery = on_delivery, .ctx = &c,
                             .max_inflight = 200000, .max_inflight_bytes = (size_t)256 << 20};
    if (mt_producer_new(&pc, &p, &eb) != MT_OK) {
        fprintf(stderr, "archiver_produce: %s\n", eb.msg);
        return 2;
    }
    mt_buf v = MT_BUF_INIT;
    uint64_t ev = 0, ap = 0;
    /* Session numbering: events of run START continue sessions at START's base. */
    for (uint64_t k = start; k < start + n; k++) {
        const char *topic;
        mt_buf_reset(&v);
        int slot = (int)(k % 100);
        const char *key;
        char keybuf[UUID_LEN + 1];
        if (slot < 94) {
            uint64_t e = (k / 100) * 94 + (uint64_t)slot; /* dense event counter */
            const mt_buf *t = &templ[(e % 16) + 16 * ((e / 16) % (NTEMPL / 16))];
            mt_buf_append(&v, t->data, t->len);
            char id[UUID_LEN + 1];
            uuid_of(e, id);
            memcpy(v.data + 11, id, UUID_LEN);
            uuid_of(0x5e55000000000000ull + e / 16, keybuf);
            memcpy(v.data + 12 + UUID_LEN, keybuf, UUID_LEN);
            key = keybuf;
            topic = tn[0];
            ev++;
        } else {
            uint64_t a = (k / 100) * 6 + (uint64_t)(slot - 94);
            json_t *j;
            const mt_avro_schema *s;
            if (slot < 96) {
                j = mt_sample_approval_request(a);
                s = s_req;
                topic = tn[1];
            } else if (slot < 98) {
                j = mt_sample_approval_vote(a);
                s = s_vote;
                topic = tn[2];
            } else {
                j = mt_sample_approval_decision(a);
                s = s_dec;
                topic = tn[3];
            }
            if (mt_avro_encode(s, j, &v, &eb) != MT_OK) {
                fprintf(stderr, "archiver_produce: %s\n", eb.msg);
                return 2;
            }
            json_decref(j);
            snprintf(keybuf, sizeof keybuf, "%.*s", UUID_LEN, (const char *)v.data + 11);
            key = keybuf;
            ap++;
        }
        mt_kafka_avro_headers ah;
        uint64_t fp = 0;
        for (int b = 7; b >= 0; b--)
            fp = (fp << 8) | v.data[2 + b];
        const mt_kafka_header *hs = mt_kafka_avro_headers_init(&ah, fp);
        for (;;) {
            mt_err err = mt_producer_send(p, topic, key, strlen(key), v.data, v.len, hs, 2, NULL,
                                          &eb);
            if (err == MT_OK)
                break;
            if (err != MT_ERR_TOO_LARGE) {
                fprintf(stderr, "archiver_produce: send: %s\n", eb.msg);
                return 1;
            }
            mt_producer_poll(p, 10);
        }
        mt_producer_poll(p, 0);
    }
    while (mt_producer_flush(p, 10000, &eb) != MT_OK)
        fprintf(stderr, "archiver_produce: still %zu in flight\n", mt_producer_inflight(p));
    unsigned long resent = mt_producer_resent(p);
    mt_producer_destroy(p);
    fprintf(stderr, "archiver_produce: %" PRIu64 " acked (%" PRIu64 " events, %" PRIu64
            " approval records), %" PRIu64 " failed, %lu re-sent after an ack without an "
            "offset\n", c.acked, ev, ap, c.failed, resent);
    for (int t = 0; t < NTEMPL; t++)
        mt_buf_free(&templ[t]);
    mt_buf_free(&v);
    mt_avro_registry_free(reg);
    if (c.ids && fclose(c.ids) != 0)
        return 1;
    return c.failed ? 1 : 0;
}
