/* Helpers for the Kafka integration tests (see itest.h): the corpus of
 * encoded sample SessionEvents, a sender that honours producer
 * back-pressure, and a verifying consumer that reads a topic to EOF on every
 * partition and checks bytes (SHA-256), key, headers and per-session order. */
#include "itest.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sample_events.h"

void it_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

int64_t it_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void it_unique_name(char *out, size_t cap, const char *prefix)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, cap, "%s-%ld-%" PRId64, prefix, (long)getpid(),
             (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int it_broker_count(const char *bootstrap)
{
    int n = 1;
    for (const char *s = bootstrap; *s; s++)
        n += *s == ',';
    return n;
}

static void sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int ol = 0;
    if (!EVP_Digest(data, len, out, &ol, EVP_sha256(), NULL) || ol != 32)
        IT_FAIL("SHA-256 failed");
}

void it_corpus_init(it_corpus *c, size_t n)
{
    mt_errbuf eb = {{0}};
    memset(c, 0, sizeof *c);
    if (mt_avro_registry_load(NULL, &c->reg, &eb))
        IT_FAIL("loading schemas (MT_SCHEMA_DIR=%s): %s", getenv("MT_SCHEMA_DIR"), eb.msg);
    c->schema = mt_avro_registry_find(c->reg, "dev.mcptrail.SessionEvent");
    if (!c->schema)
        IT_FAIL("schema dev.mcptrail.SessionEvent not in the registry");
    c->fingerprint = mt_avro_schema_fingerprint(c->schema);
    c->rec = calloc(n, sizeof *c->rec);
    if (!c->rec)
        IT_FAIL("no memory for %zu records", n);
    c->n = n;
}

void it_corpus_encode(it_corpus *c, size_t i, mt_buf *out)
{
    mt_errbuf eb = {{0}};
    if (i >= c->n)
        IT_FAIL("corpus index %zu out of range %zu", i, c->n);
    json_t *ev = mt_sample_session_event(i);
    if (!ev)
        IT_FAIL("mt_sample_session_event(%zu) returned NULL", i);
    const char *sid = json_string_value(json_object_get(ev, "session_id"));
    if (!sid || strlen(sid) >= sizeof c->rec[i].key)
        IT_FAIL("sample event %zu has no usable session_id", i);
    snprintf(c->rec[i].key, sizeof c->rec[i].key, "%s", sid);
    mt_buf_reset(out);
    if (mt_avro_encode(c->schema, ev, out, &eb))
        IT_FAIL("encoding sample event %zu: %s", i, eb.msg);
    json_decref(ev);
    sha256(out->data, out->len, c->rec[i].sha256);
    c->rec[i].len = (uint32_t)out->len;
}

void it_corpus_free(it_corpus *c)
{
    mt_avro_registry_free(c->reg);
    free(c->rec);
    memset(c, 0, sizeof *c);
}

void it_send(mt_producer *p, const char *topic, const it_corpus *c, size_t i, const mt_buf *value,
             void *opaque, int64_t deadline_ms)
{
    mt_kafka_avro_headers ah;
    const mt_kafka_header *avro = mt_kafka_avro_headers_init(&ah, c->fingerprint);
    char idx[24];
    int il = snprintf(idx, sizeof idx, "%zu", i);
    mt_kafka_header hs[3] = {avro[0], avro[1], {IT_INDEX_HEADER, idx, (size_t)il}};
    for (;;) {
        mt_errbuf eb = {{0}};
        mt_err err = mt_producer_send(p, topic, c->rec[i].key, strlen(c->rec[i].key), value->data,
                                      value->len, hs, 3, opaque, &eb);
        if (err == MT_OK)
            return;
        if (err != MT_ERR_TOO_LARGE)
            IT_FAIL("send %zu: %s", i, eb.msg);
        if (it_now_ms() > deadline_ms)
            IT_FAIL("send %zu: producer still full at the deadline (%zu in flight)", i,
                    mt_producer_inflight(p));
        mt_producer_poll(p, 10); /* serves reports, which frees room */
    }
}

static size_t parse_index(const mt_kafka_msg *m, size_t n)
{
    const void *v;
    size_t len;
    char buf[24];
    if (mt_kafka_msg_header(m, IT_INDEX_HEADER, &v, &len) || !v || len == 0 || len >= sizeof buf)
        return SIZE_MAX;
    memcpy(buf, v, len);
    buf[len] = '\0';
    char *end;
    unsigned long long x = strtoull(buf, &end, 10);
    if (*end || x >= n)
        return SIZE_MAX;
    return (size_t)x;
}

void it_consume_all(const char *bootstrap, const char *topic, int nparts, const it_corpus *c,
                    size_t want, int64_t deadline_ms, it_tally *t)
{
    char group[128];
    it_unique_name(group, sizeof group, "mt-it-group");
    const char *topics[] = {topic};
    mt_consumer *cons = NULL;
    mt_errbuf eb = {{0}};
    mt_consumer_config cc = {
        .kafka = {.bootstrap = bootstrap, .client_id = "mt-itest-consumer"},
        .group_id = group,
        .topics = topics,
        .ntopics = 1,
        .report_eof = 1,
    };
    if (mt_consumer_new(&cc, &cons, &eb))
        IT_FAIL("consumer: %s", eb.msg);
    memset(t, 0, sizeof *t);
    t->seen = calloc(c->n, sizeof *t->seen);
    int64_t *last = malloc((c->n / 16 + 1) * sizeof *last);
    int *eof = calloc((size_t)nparts, sizeof *eof);
    if (!t->seen || !last || !eof)
        IT_FAIL("no memory for the tally");
    for (size_t s = 0; s < c->n / 16 + 1; s++)
        last[s] = -1;
    char fphex[17];
    mt_kafka_fingerprint_hex(c->fingerprint, fphex);
    size_t distinct = 0;

    for (;;) {
        if (distinct >= want) {
            int all = 1;
            for (int p = 0; p < nparts; p++)
                all &= eof[p];
            if (all)
                break;
        }
        if (it_now_ms() > deadline_ms)
            IT_FAIL("consumer: deadline passed with %zu of %zu records (%zu read in all)",
                    distinct, want, t->records);
        mt_kafka_msg m;
        mt_err err = mt_consumer_poll(cons, 500, &m, &eb);
        if (err == MT_ERR_TIMEOUT)
            continue;
        if (err)
            IT_FAIL("consumer poll: %s", eb.msg);
        if (m.partition < 0 || m.partition >= nparts)
            IT_FAIL("record from unexpected partition %d", (int)m.partition);
        if (m.eof) {
            eof[m.partition] = 1;
            mt_kafka_msg_release(&m);
            continue;
        }
        eof[m.partition] = 0;
        t->records++;
        size_t i = parse_index(&m, c->n);
        const void *fv;
        size_t fl;
        if (i == SIZE_MAX || mt_kafka_msg_header(&m, MT_KAFKA_HEADER_FINGERPRINT, &fv, &fl) ||
            fl != 16 || memcmp(fv, fphex, 16) != 0) {
            t->bad_header++;
            mt_kafka_msg_release(&m);
            continue;
        }
        uint8_t h[32];
        sha256(m.value, m.value_len, h);
        const it_record *r = &c->rec[i];
        if (m.value_len != r->len || memcmp(h, r->sha256, 32) != 0 ||
            m.key_len != strlen(r->key) || memcmp(m.key, r->key, m.key_len) != 0)
            t->bad_bytes++;
        if (t->seen[i]++ == 0) {
            distinct++;
            size_t s = i / 16; /* sample events: one session per 16 indexes */
            if ((int64_t)i <= last[s])
                t->order_errors++;
            else
                last[s] = (int64_t)i;
        }
        if (t->records % 1000 == 0) {
            const mt_avro_schema *sch = NULL;
            json_t *d = NULL;
            if (mt_avro_decode(c->reg, m.value, m.value_len, &sch, &d, &eb) || sch != c->schema)
                IT_FAIL("record %zu does not decode as SessionEvent: %s", i, eb.msg);
            json_decref(d);
            t->decode_checked++;
        }
        if (t->records % 5000 == 0 && mt_consumer_commit(cons, &m, &eb))
            IT_FAIL("commit: %s", eb.msg);
        mt_kafka_msg_release(&m);
    }
    mt_consumer_destroy(cons);
    free(last);
    free(eof);
}
