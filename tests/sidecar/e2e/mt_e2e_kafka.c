/* mt_e2e_kafka: Kafka and spool helper for the sidecar end-to-end tests.
 *
 *   mt_e2e_kafka create TOPIC [PARTITIONS]
 *       creates TOPIC (replication factor 1) and waits for its leaders.
 *   mt_e2e_kafka dump TOPIC RAWFILE [MIN] [IDLE_MS] [DEADLINE_MS]
 *       reads TOPIC from the beginning and prints every record decoded as a
 *       JSON line (plus "$partition", "$offset", "$key" and "$sha256", the
 *       SHA-256 of the record value, which the next event's prev_hash names); writes the raw
 *       key and value bytes of every record to RAWFILE (for grepping).
 *       Stops once MIN records (default 1) were read and nothing new came
 *       for IDLE_MS (default 3000), or at DEADLINE_MS (default 60000).
 *       Exit 1 if a record does not decode or fewer than MIN arrived.
 *   mt_e2e_kafka spool DIR
 *       prints the records of the async spool files DIR/spool-*.log
 *       (u32 len | u32 crc | u32 klen | key | value, little-endian) decoded
 *       as JSON lines, stopping at a file's first torn record.
 *   mt_e2e_kafka relay SRC DST SKIPFILE [MIN] [IDLE_MS] [DEADLINE_MS]
 *       copies every record of SRC (from the beginning) to DST with the same
 *       key and value, except those whose "PARTITION:OFFSET" is a line of
 *       SKIPFILE: the completeness tests withhold chosen events on their
 *       way to the archive. Stops as dump does; prints "copied N skipped K".
 *   mt_e2e_kafka leader TOPIC PARTITION
 *       prints the broker id leading PARTITION of TOPIC (the chaos tests kill it).
 *   mt_e2e_kafka sign-decision KEY_PEM
 *       reads one ApprovalDecision (JSON mapping, "$schema" member allowed) on
 *       stdin, signs it with the Ed25519 private key KEY_PEM (key_id and
 *       signature replaced) and prints it as one JSON line: lets the approval
 *       tests forge decisions with keys the sidecar does not trust.
 *
 * Brokers from MT_KAFKA_BROKERS, schemas from MT_SCHEMA_DIR. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "mcptrail/approval.h"
#include "mcptrail/avro.h"
#include "mcptrail/crypto.h"
#include "mcptrail/kafka.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static mt_avro_registry *load_schemas(void)
{
    const char *dir = getenv("MT_SCHEMA_DIR");
    mt_avro_registry *reg = NULL;
    mt_errbuf eb = {{0}};
    if (!dir || mt_avro_registry_load(dir, &reg, &eb)) {
        fprintf(stderr, "mt_e2e_kafka: cannot load schemas from MT_SCHEMA_DIR: %s\n",
                dir ? eb.msg : "unset");
        return NULL;
    }
    return reg;
}

static int print_decoded(const mt_avro_registry *reg, const void *val, size_t vlen,
                         json_t *extra)
{
    mt_errbuf eb = {{0}};
    const mt_avro_schema *s = NULL;
    json_t *d = NULL;
    if (mt_avro_decode(reg, val, vlen, &s, &d, &eb)) {
        fprintf(stderr, "mt_e2e_kafka: record does not decode: %s\n", eb.msg);
        json_decref(extra);
        return 1;
    }
    uint8_t h[MT_SHA256_LEN];
    char hex[2 * MT_SHA256_LEN + 1];
    if (mt_sha256(val, vlen, h) == MT_OK && mt_hex_encode(h, sizeof h, hex, sizeof hex) == MT_OK)
        json_object_set_new(extra, "$sha256", json_string(hex));
    json_object_update(d, extra);
    json_decref(extra);
    char *text = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(d);
    if (!text)
        return 1;
    puts(text);
    free(text);
    return 0;
}

static int cmd_create(const mt_kafka_config *kc, const char *topic, int parts)
{
    mt_errbuf eb = {{0}};
    const char *names[] = {topic};
    if (mt_kafka_create_topics(kc, names, 1, parts, 1, NULL, 0, 30000, &eb)) {
        fprintf(stderr, "mt_e2e_kafka: create %s: %s\n", topic, eb.msg);
        return 1;
    }
    return 0;
}

/* Reads topic from its beginning (a fresh consumer group per run) and hands
 * every record to cb (non-zero: stop with an error), until min records were
 * read and nothing new came for idle_ms, or deadline_ms passed. Returns 0 or 1
 * (an error, reported); *seen gets the number of records. */
typedef int (*record_fn)(const mt_kafka_msg *m, void *ctx);

static int read_topic(const mt_kafka_config *kc, const char *topic, const char *what,
                      unsigned long min, int idle_ms, int deadline_ms, record_fn cb, void *ctx,
                      unsigned long *seen)
{
    char group[64];
    snprintf(group, sizeof group, "mt-e2e-%s-%ld", what, (long)getpid());
    const char *topics[] = {topic};
    mt_consumer_config cc = {.kafka = *kc, .group_id = group, .topics = topics, .ntopics = 1};
    mt_consumer *c = NULL;
    mt_errbuf eb = {{0}};
    *seen = 0;
    if (mt_consumer_new(&cc, &c, &eb)) {
        fprintf(stderr, "mt_e2e_kafka: %s\n", eb.msg);
        return 1;
    }
    int rc = 0;
    int64_t end = now_ms() + deadline_ms, last = now_ms();
    while (rc == 0) {
        int64_t t = now_ms();
        if (t >= end || (*seen >= min && t - last >= idle_ms))
            break;
        mt_kafka_msg m;
        mt_err err = mt_consumer_poll(c, 200, &m, &eb);
        if (err == MT_ERR_TIMEOUT)
            continue;
        if (err) {
            fprintf(stderr, "mt_e2e_kafka: %s\n", eb.msg);
            rc = 1;
            break;
        }
        if (!m.eof) {
            rc = cb(&m, ctx);
            (*seen)++;
            last = now_ms();
        }
        mt_kafka_msg_release(&m);
    }
    mt_consumer_destroy(c);
    return rc;
}

typedef struct dump_ctx {
    const mt_avro_registry *reg;
    FILE *raw;
    unsigned long bad;
} dump_ctx;

static int dump_record(const mt_kafka_msg *m, void *ctx)
{
    dump_ctx *d = ctx;
    fwrite(m->key, 1, m->key_len, d->raw);
    fputc('\n', d->raw);
    fwrite(m->value, 1, m->value_len, d->raw);
    fputc('\n', d->raw);
    json_t *extra = json_pack("{s:i,s:I,s:s%}", "$partition", (int)m->partition, "$offset",
                              (json_int_t)m->offset, "$key",
                              m->key ? (const char *)m->key : "", m->key ? m->key_len : 0);
    d->bad += print_decoded(d->reg, m->value, m->value_len, extra) != 0;
    return 0;
}

static int cmd_dump(const mt_kafka_config *kc, const char *topic, const char *rawpath,
                    unsigned long min, int idle_ms, int deadline_ms)
{
    mt_avro_registry *reg = load_schemas();
    if (!reg)
        return 1;
    dump_ctx d = {reg, fopen(rawpath, "wb"), 0};
    if (!d.raw) {
        perror(rawpath);
        mt_avro_registry_free(reg);
        return 1;
    }
    unsigned long seen = 0;
    int rc = read_topic(kc, topic, "dump", min, idle_ms, deadline_ms, dump_record, &d, &seen);
    fflush(stdout);
    fclose(d.raw);
    mt_avro_registry_free(reg);
    fprintf(stderr, "mt_e2e_kafka: %lu records read from %s, %lu did not decode\n", seen, topic,
            d.bad);
    return rc || d.bad || seen < min;
}

static void relay_delivered(const mt_delivery *d, void *ctx)
{
    unsigned long *failed = ctx;
    if (d->err) {
        fprintf(stderr, "mt_e2e_kafka: relay delivery failed: %s\n", d->errstr);
        (*failed)++;
    }
}

enum { MAX_SKIP = 4096 };

typedef struct relay_ctx {
    mt_producer *p;
    const char *dst;
    int32_t sp[MAX_SKIP]; /* partition:offset of the records withheld */
    int64_t so[MAX_SKIP];
    size_t nskip;
    unsigned long copied, skipped;
} relay_ctx;

static int relay_record(const mt_kafka_msg *m, void *ctx)
{
    relay_ctx *r = ctx;
    mt_producer_poll(r->p, 0);
    for (size_t i = 0; i < r->nskip; i++)
        if (r->sp[i] == m->partition && r->so[i] == m->offset) {
            r->skipped++;
            return 0;
        }
    uint64_t fp = 0;
    for (int i = 0; m->value_len >= 10 && i < 8; i++)
        fp |= (uint64_t)((const uint8_t *)m->value)[2 + i] << (8 * i);
    mt_kafka_avro_headers ah;
    mt_kafka_avro_headers_init(&ah, fp);
    mt_errbuf eb = {{0}};
    if (mt_producer_send(r->p, r->dst, m->key, m->key_len, m->value, m->value_len, ah.h, 2, NULL,
                         &eb)) {
        fprintf(stderr, "mt_e2e_kafka: relay: %s\n", eb.msg);
        return 1;
    }
    r->copied++;
    return 0;
}

static int cmd_relay(const mt_kafka_config *kc, const char *src, const char *dst,
                     const char *skippath, unsigned long min, int idle_ms, int deadline_ms)
{
    FILE *sf = fopen(skippath, "r");
    if (!sf) {
        perror(skippath);
        return 1;
    }
    static relay_ctx r;
    r.dst = dst;
    long long pp, oo;
    while (r.nskip < MAX_SKIP && fscanf(sf, "%lld:%lld", &pp, &oo) == 2) {
        r.sp[r.nskip] = (int32_t)pp;
        r.so[r.nskip++] = (int64_t)oo;
    }
    fclose(sf);
    unsigned long failed = 0, seen = 0;
    mt_producer_config pc = {.kafka = *kc, .on_delivery = relay_delivered, .ctx = &failed};
    mt_errbuf eb = {{0}};
    if (mt_producer_new(&pc, &r.p, &eb)) {
        fprintf(stderr, "mt_e2e_kafka: %s\n", eb.msg);
        return 1;
    }
    int rc = read_topic(kc, src, "relay", min, idle_ms, deadline_ms, relay_record, &r, &seen);
    if (mt_producer_flush(r.p, 30000, &eb)) {
        fprintf(stderr, "mt_e2e_kafka: relay flush: %s\n", eb.msg);
        rc = 1;
    }
    mt_producer_destroy(r.p);
    printf("copied %lu skipped %lu\n", r.copied, r.skipped);
    return rc || failed || seen < min;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int spool_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return strncmp(d->d_name, "spool-", 6) == 0 && n > 4 && !strcmp(d->d_name + n - 4, ".log");
}

static int cmd_spool(const char *dir)
{
    mt_avro_registry *reg = load_schemas();
    if (!reg)
        return 1;
    struct dirent **ents = NULL;
    int n = scandir(dir, &ents, spool_filter, by_name);
    if (n < 0) {
        perror(dir);
        mt_avro_registry_free(reg);
        return 1;
    }
    int rc = 0;
    unsigned long total = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
        FILE *f = fopen(path, "rb");
        const char *fname = path + strlen(dir) + 1;
        free(ents[i]);
        if (!f) {
            perror(path);
            rc = 1;
            continue;
        }
        unsigned char hdr[8];
        while (fread(hdr, 1, 8, f) == 8) {
            uint32_t len = le32(hdr);
            if (len < 4 || len > (64u << 20))
                break;
            unsigned char *body = malloc(len);
            if (!body || fread(body, 1, len, f) != len) {
                free(body);
                break; /* torn tail */
            }
            uint32_t klen = le32(body);
            if (klen > len - 4) {
                free(body);
                break;
            }
            json_t *extra = json_pack("{s:s,s:s%}", "$spool_file", fname, "$key",
                                      (const char *)body + 4, (size_t)klen);
            rc |= print_decoded(reg, body + 4 + klen, len - 4 - klen, extra);
            total++;
            free(body);
        }
        fclose(f);
    }
    free(ents);
    mt_avro_registry_free(reg);
    fprintf(stderr, "mt_e2e_kafka: %lu spooled records in %s\n", total, dir);
    return rc;
}

static int cmd_sign(const char *key_path)
{
    mt_errbuf eb = {{0}};
    mt_ed25519_key *key = NULL;
    mt_avro_registry *reg = NULL;
    json_error_t je;
    json_t *d = json_loadf(stdin, 0, &je);
    if (!d || mt_ed25519_load_private_pem_file(key_path, &key, &eb) != MT_OK ||
        mt_avro_registry_load(NULL, &reg, &eb) != MT_OK) {
        fprintf(stderr, "mt_e2e_kafka sign-decision: %s\n", d ? eb.msg : je.text);
        json_decref(d);
        mt_ed25519_free(key);
        return 1;
    }
    json_t *schema = json_incref(json_object_get(d, "$schema"));
    json_object_del(d, "$schema");
    const mt_avro_schema *s = mt_avro_registry_find(reg, MT_APPROVAL_DECISION_SCHEMA);
    int rc = 0;
    if (mt_approval_sign(s, d, key, &eb) != MT_OK) {
        fprintf(stderr, "mt_e2e_kafka sign-decision: %s\n", eb.msg);
        rc = 1;
    } else {
        if (schema)
            json_object_set(d, "$schema", schema);
        char *out = json_dumps(d, JSON_COMPACT);
        printf("%s\n", out);
        free(out);
    }
    json_decref(schema);
    json_decref(d);
    mt_ed25519_free(key);
    mt_avro_registry_free(reg);
    return rc;
}

static int cmd_leader(const char *bootstrap, const char *topic, int part)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "mt_e2e_kafka: %s\n", err);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "mt_e2e_kafka: %s\n", err);
        return 1;
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int rc = 1;
    if (t && rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < md->topic_cnt; i++)
            for (int k = 0; k < md->topics[i].partition_cnt; k++) {
                const rd_kafka_metadata_partition_t *p = &md->topics[i].partitions[k];
                if (p->id == part && p->leader >= 0) {
                    printf("%d\n", (int)p->leader);
                    rc = 0;
                }
            }
        rd_kafka_metadata_destroy(md);
    }
    if (rc)
        fprintf(stderr, "mt_e2e_kafka: no leader known for %s/%d\n", topic, part);
    if (t)
        rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "spool"))
        return cmd_spool(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "sign-decision"))
        return cmd_sign(argv[2]);
    const char *bs = getenv("MT_KAFKA_BROKERS");
    if (!bs || !*bs) {
        fprintf(stderr, "mt_e2e_kafka: MT_KAFKA_BROKERS is not set\n");
        return 2;
    }
    mt_kafka_config kc = {.bootstrap = bs, .client_id = "mt-e2e"};
    if (argc >= 4 && !strcmp(argv[1], "leader"))
        return cmd_leader(bs, argv[2], atoi(argv[3]));
    if (argc >= 3 && !strcmp(argv[1], "create"))
        return cmd_create(&kc, argv[2], argc >= 4 ? atoi(argv[3]) : 3);
    if (argc >= 5 && !strcmp(argv[1], "relay"))
        return cmd_relay(&kc, argv[2], argv[3], argv[4], argc >= 6 ? strtoul(argv[5], NULL, 10) : 1,
                         argc >= 7 ? atoi(argv[6]) : 3000, argc >= 8 ? atoi(argv[7]) : 60000);
    if (argc >= 4 && !strcmp(argv[1], "dump"))
        return cmd_dump(&kc, argv[2], argv[3], argc >= 5 ? strtoul(argv[4], NULL, 10) : 1,
                        argc >= 6 ? atoi(argv[5]) : 3000, argc >= 7 ? atoi(argv[6]) : 60000);
    fprintf(stderr, "usage: mt_e2e_kafka create TOPIC [PARTITIONS] | dump TOPIC RAWFILE [MIN] "
                    "[IDLE_MS] [DEADLINE_MS] | leader TOPIC PARTITION | spool DIR | "
                    "sign-decision KEY_PEM\n");
    return 2;
}
