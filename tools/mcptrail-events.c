/* mcptrail-events: put mcptrail records on a topic and read them back.
 *
 *   mcptrail-events produce TOPIC < records.jsonl
 *       Each line is one record in the JSON mapping of mcptrail/avro.h with a
 *       "$schema" member naming its type (default dev.mcptrail.SessionEvent).
 *       Records are Avro single-object encoded, keyed by session_id or
 *       approval_id, and sent with the idempotent producer (acks=all); exit 0
 *       only when every record was acknowledged. With --sign_key=PEM, each
 *       approval record (ApprovalRequest, ApprovalVote, ApprovalDecision) is
 *       signed with that Ed25519 private key first (mcptrail/approval.h),
 *       as a sidecar, a bot or mcptrail-approvals would sign it.
 *   mcptrail-events tail TOPIC [MAX]
 *       Prints every record of TOPIC from the beginning as JSON Lines with
 *       "$schema", "$partition" and "$offset" members, until MAX records or
 *       no new record for 5 s. Records that do not decode are reported on
 *       stderr with their offset and the error, never silently skipped.
 *
 * Configuration: the common options (see --help, docs/configuration.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcptrail/approval.h"
#include "mcptrail/avro.h"
#include "mcptrail/config.h"
#include "mcptrail/json.h"
#include "mcptrail/kafka.h"
#include "mcptrail/runtime.h"

#define LINE_MAX_BYTES (8u << 20)
#define TAIL_IDLE_MS 5000

typedef struct events_config {
    mt_common_config common;
    mt_cfg_secret sign_key;
} events_config;

static const mt_cfg_option events_options[] = {
    {"sign_key", MT_CFG_SECRET_FILE, NULL,
     "produce: PKCS#8 PEM Ed25519 private key that signs every approval record "
     "(ApprovalRequest, ApprovalVote, ApprovalDecision) before it is sent. Unset: records "
     "are sent as given.",
     offsetof(events_config, sign_key), 0, 0, NULL, 0},
    MT_CFG_END,
};

static const mt_cfg_spec spec = {
    .program = "mcptrail-events",
    .summary = "produce mcptrail Avro records from JSON Lines, or tail a topic as JSON Lines",
    .env_prefix = "MCPTRAIL_",
    .positional = "produce TOPIC < records.jsonl | tail TOPIC [MAX]",
    .parts = {{mt_cfg_common_options, offsetof(events_config, common)}, {events_options, 0}},
};

typedef struct produce_counts {
    unsigned long acked, failed;
} produce_counts;

static void on_delivery(const mt_delivery *d, void *ctx)
{
    produce_counts *c = ctx;
    if (d->err) {
        c->failed++;
        fprintf(stderr, "mcptrail-events: record %lu not delivered: %s\n",
                (unsigned long)(uintptr_t)d->opaque, d->errstr);
    } else {
        c->acked++;
    }
}

static const char *record_key(const json_t *rec)
{
    static const char *const keys[] = {"session_id", "approval_id"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *k = json_string_value(json_object_get(rec, keys[i]));
        if (k)
            return k;
    }
    return NULL;
}

static int cmd_produce(mt_runtime *rt, const char *topic, const mt_ed25519_key *sign_key)
{
    mt_errbuf eb = {{0}};
    produce_counts counts = {0, 0};
    mt_producer_config pc = {.kafka = rt->kafka, .on_delivery = on_delivery, .ctx = &counts};
    mt_producer *p = NULL;
    if (mt_producer_new(&pc, &p, &eb)) {
        fprintf(stderr, "mcptrail-events: %s\n", eb.msg);
        return 1;
    }
    mt_json_limits lim = MT_JSON_LIMITS_DEFAULT;
    lim.max_bytes = LINE_MAX_BYTES;
    mt_buf enc = MT_BUF_INIT;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned long lineno = 0, sent = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (n == 0 || line[0] == '\n')
            continue;
        json_t *rec = NULL;
        if (mt_json_parse(line, (size_t)n, &lim, &rec, &eb)) {
            fprintf(stderr, "mcptrail-events: stdin line %lu: %s\n", lineno, eb.msg);
            rc = 1;
            break;
        }
        const char *sname = json_string_value(json_object_get(rec, "$schema"));
        const mt_avro_schema *s =
            mt_avro_registry_find(rt->schemas, sname ? sname : "dev.mcptrail.SessionEvent");
        json_object_del(rec, "$schema");
        mt_buf_reset(&enc);
        if (s && sign_key && mt_approval_context(s) &&
            mt_approval_sign(s, rec, sign_key, &eb) != MT_OK) {
            fprintf(stderr, "mcptrail-events: stdin line %lu: %s\n", lineno, eb.msg);
            json_decref(rec);
            rc = 1;
            break;
        }
        if (!s || mt_avro_encode(s, rec, &enc, &eb)) {
            fprintf(stderr, "mcptrail-events: stdin line %lu: %s\n", lineno,
                    s ? eb.msg : "unknown \"$schema\"");
            json_decref(rec);
            rc = 1;
            break;
        }
        const char *key = record_key(rec);
        mt_kafka_avro_headers ah;
        const mt_kafka_header *h = mt_kafka_avro_headers_init(&ah, mt_avro_schema_fingerprint(s));
        mt_err err;
        while ((err = mt_producer_send(p, topic, key, key ? strlen(key) : 0, enc.data, enc.len,
                                       h, 2, (void *)(uintptr_t)lineno, &eb)) ==
               MT_ERR_TOO_LARGE)
            mt_producer_poll(p, 100);
        json_decref(rec);
        if (err) {
            fprintf(stderr, "mcptrail-events: stdin line %lu: %s\n", lineno, eb.msg);
            rc = 1;
            break;
        }
        sent++;
        mt_producer_poll(p, 0);
    }
    if (mt_producer_flush(p, 60000, &eb)) {
        fprintf(stderr, "mcptrail-events: %s\n", eb.msg);
        rc = 1;
    }
    mt_producer_destroy(p);
    free(line);
    mt_buf_free(&enc);
    fprintf(stderr, "mcptrail-events: %lu sent, %lu acknowledged, %lu failed\n", sent,
            counts.acked, counts.failed);
    return rc || counts.failed || counts.acked != sent;
}

static int cmd_tail(mt_runtime *rt, const char *topic, unsigned long max)
{
    mt_errbuf eb = {{0}};
    char group[64];
    snprintf(group, sizeof group, "mcptrail-events-tail-%ld", (long)getpid());
    const char *topics[] = {topic};
    mt_consumer_config cc = {.kafka = rt->kafka, .group_id = group, .topics = topics,
                             .ntopics = 1};
    mt_consumer *c = NULL;
    if (mt_consumer_new(&cc, &c, &eb)) {
        fprintf(stderr, "mcptrail-events: %s\n", eb.msg);
        return 1;
    }
    unsigned long seen = 0, bad = 0;
    int rc = 0;
    while (!max || seen < max) {
        mt_kafka_msg m;
        mt_err err = mt_consumer_poll(c, TAIL_IDLE_MS, &m, &eb);
        if (err == MT_ERR_TIMEOUT)
            break;
        if (err) {
            fprintf(stderr, "mcptrail-events: %s\n", eb.msg);
            rc = 1;
            break;
        }
        if (!m.eof) {
            const mt_avro_schema *s = NULL;
            json_t *d = NULL;
            if (mt_avro_decode(rt->schemas, m.value, m.value_len, &s, &d, &eb)) {
                fprintf(stderr, "mcptrail-events: %s[%d]@%lld does not decode: %s\n", m.topic,
                        (int)m.partition, (long long)m.offset, eb.msg);
                bad++;
            } else {
                json_object_set_new(d, "$schema", json_string(mt_avro_schema_name(s)));
                json_object_set_new(d, "$partition", json_integer(m.partition));
                json_object_set_new(d, "$offset", json_integer(m.offset));
                char *text = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
                if (text)
                    puts(text);
                free(text);
                json_decref(d);
            }
            seen++;
        }
        mt_kafka_msg_release(&m);
    }
    fflush(stdout);
    mt_consumer_destroy(c);
    fprintf(stderr, "mcptrail-events: %lu records read, %lu did not decode\n", seen, bad);
    return rc || bad;
}

int main(int argc, char **argv)
{
    events_config cfg;
    memset(&cfg, 0, sizeof cfg);
    mt_cfg_result res = {0};
    mt_errbuf eb = {{0}};
    int rc = 2;
    if (mt_cfg_load(&spec, &cfg, argc, argv, NULL, &res, &eb)) {
        fprintf(stderr, "mcptrail-events: %s\n", eb.msg);
        goto out;
    }
    if (res.action == MT_CFG_SHOW_HELP) {
        rc = mt_cfg_print_help(&spec, stdout) ? 1 : 0;
        goto out;
    }
    if (res.action == MT_CFG_SHOW_VERSION) {
        mt_cfg_print_version(&spec, stdout);
        rc = 0;
        goto out;
    }
    if (res.action == MT_CFG_PRINT_CONFIG) {
        rc = mt_cfg_print_effective(&spec, &cfg, stdout) ? 1 : 0;
        goto out;
    }
    int produce = res.nargs == 2 && !strcmp(res.args[0], "produce");
    int tail = (res.nargs == 2 || res.nargs == 3) && !strcmp(res.args[0], "tail");
    if (!produce && !tail) {
        fprintf(stderr, "usage: mcptrail-events [options] %s (see --help)\n", spec.positional);
        goto out;
    }
    mt_runtime rt;
    if (mt_runtime_init(&rt, &cfg.common, 1, &eb)) {
        fprintf(stderr, "mcptrail-events: %s\n", eb.msg);
        rc = 1;
        goto out;
    }
    mt_ed25519_key *key = NULL;
    if (cfg.sign_key.value &&
        mt_ed25519_load_private_pem(cfg.sign_key.value, cfg.sign_key.len, cfg.sign_key.path,
                                    &key, &eb) != MT_OK) {
        fprintf(stderr, "mcptrail-events: %s\n", eb.msg);
        rc = 1;
    } else {
        rc = produce ? cmd_produce(&rt, res.args[1], key)
                     : cmd_tail(&rt, res.args[1],
                                res.nargs == 3 ? strtoul(res.args[2], NULL, 10) : 0);
    }
    mt_ed25519_free(key);
    mt_runtime_free(&rt);
out:
    mt_cfg_result_free(&res);
    mt_cfg_free(&spec, &cfg);
    return rc;
}
