/* Mock Kafka for tests (see mock_kafka.h). Deadlines use CLOCK_MONOTONIC;
 * every poll is bounded (200 ms) so a deadline is never overshot by much. */
#include "mock_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcptrail/avro.h"

enum { POLL_MS = 200 };

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

mt_err mt_mock_kafka_start(mt_mock_kafka *m, int brokers, const char *topic, int partitions,
                           mt_errbuf *eb)
{
    memset(m, 0, sizeof *m);
    if (brokers < 1 || partitions < 1 || !topic || !*topic ||
        strlen(topic) >= sizeof m->topic)
        return mt_fail(eb, MT_ERR_INVALID_ARG,
                       "mock kafka: want >= 1 broker, >= 1 partition and a topic name shorter "
                       "than %zu bytes (got %d, %d, \"%s\")",
                       sizeof m->topic, brokers, partitions, topic ? topic : "(null)");
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return mt_fail(eb, MT_ERR_KAFKA, "mock kafka: log_level: %s", errstr);
    }
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!m->rk) {
        rd_kafka_conf_destroy(conf);
        return mt_fail(eb, MT_ERR_KAFKA, "mock kafka: helper instance: %s", errstr);
    }
    m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
    if (!m->mc) {
        rd_kafka_destroy(m->rk);
        return mt_fail(eb, MT_ERR_KAFKA, "mock kafka: rd_kafka_mock_cluster_new(%d) failed",
                       brokers);
    }
    snprintf(m->bootstrap, sizeof m->bootstrap, "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
    snprintf(m->topic, sizeof m->topic, "%s", topic);
    m->partitions = partitions;
    rd_kafka_resp_err_t kerr = rd_kafka_mock_topic_create(m->mc, topic, partitions, brokers);
    if (kerr) {
        mt_mock_kafka_stop(m);
        return mt_fail(eb, MT_ERR_KAFKA, "mock kafka: create topic %s: %s", topic,
                       rd_kafka_err2str(kerr));
    }
    return MT_OK;
}

void mt_mock_kafka_stop(mt_mock_kafka *m)
{
    if (m->mc)
        rd_kafka_mock_cluster_destroy(m->mc);
    if (m->rk)
        rd_kafka_destroy(m->rk);
    m->mc = NULL;
    m->rk = NULL;
}

static bool all_at_eof(const bool *eof, int n)
{
    for (int p = 0; p < n; p++)
        if (!eof[p])
            return false;
    return true;
}

mt_err mt_mock_kafka_consume(const mt_mock_kafka *m, const char *group, unsigned want,
                             int timeout_ms, mt_mock_kafka_record_fn on_record, void *ctx,
                             unsigned *got, mt_errbuf *eb)
{
    *got = 0;
    static const mt_kafka_prop props[] = {
        {"log_level", "3"}, {"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
    const char *topics[] = {m->topic};
    mt_consumer_config cc = {
        .kafka = {.bootstrap = m->bootstrap, .props = props,
                  .nprops = sizeof props / sizeof props[0]},
        .group_id = group,
        .topics = topics,
        .ntopics = 1,
        .report_eof = 1,
    };
    mt_consumer *c = NULL;
    mt_err err = mt_consumer_new(&cc, &c, eb);
    if (err)
        return err;
    bool *eof = calloc((size_t)m->partitions, sizeof *eof);
    if (!eof) {
        mt_consumer_destroy(c);
        return mt_fail(eb, MT_ERR_NOMEM, "mock kafka: no memory for %d EOF flags",
                       m->partitions);
    }
    long long deadline = now_ms() + timeout_ms;
    err = MT_ERR_TIMEOUT;
    while (now_ms() < deadline) {
        mt_kafka_msg msg;
        mt_err perr = mt_consumer_poll(c, POLL_MS, &msg, eb);
        if (perr == MT_ERR_TIMEOUT)
            continue;
        if (perr) {
            err = perr;
            break;
        }
        if (msg.partition < 0 || msg.partition >= m->partitions) {
            err = mt_fail(eb, MT_ERR_STATE, "mock kafka: record from partition %d of %s (%d)",
                          (int)msg.partition, m->topic, m->partitions);
            mt_kafka_msg_release(&msg);
            break;
        }
        if (msg.eof) {
            eof[msg.partition] = true;
            mt_kafka_msg_release(&msg);
            if (*got >= want && all_at_eof(eof, m->partitions)) {
                err = MT_OK;
                break;
            }
            continue;
        }
        /* The partition's EOF counts only once its last record is read. */
        eof[msg.partition] = false;
        mt_err rerr = on_record(ctx, c, &msg, eb);
        mt_kafka_msg_release(&msg);
        if (rerr) {
            err = rerr;
            break;
        }
        (*got)++;
    }
    if (err == MT_ERR_TIMEOUT)
        mt_fail(eb, err, "mock kafka: %u of %u record(s) from %s in %d ms", *got, want, m->topic,
                timeout_ms);
    free(eof);
    mt_consumer_destroy(c);
    return err;
}

static rd_kafka_t *assigned_reader(const mt_mock_kafka *m, mt_errbuf *eb)
{
    static const char *const kv[][2] = {{"group.id", "mt-mock-reader"},
                                        {"enable.auto.commit", "false"},
                                        {"log_level", "0"}};
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", m->bootstrap, errstr, sizeof errstr))
        goto fail;
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof errstr))
            goto fail;
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c)
        goto fail;
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tp, m->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t kerr = rd_kafka_assign(c, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    if (kerr) {
        rd_kafka_destroy(c);
        mt_fail(eb, MT_ERR_KAFKA, "mock kafka: assign %s[0]: %s", m->topic,
                rd_kafka_err2str(kerr));
        return NULL;
    }
    return c;
fail:
    rd_kafka_conf_destroy(conf);
    mt_fail(eb, MT_ERR_KAFKA, "mock kafka: reader: %s", errstr);
    return NULL;
}

mt_err mt_mock_kafka_read_events(const mt_mock_kafka *m, const char *kind, int timeout_ms,
                                 json_t **events, mt_errbuf *eb)
{
    *events = json_array();
    if (!*events)
        return mt_fail(eb, MT_ERR_NOMEM, "mock kafka: no memory for the event array");
    mt_avro_registry *reg = NULL;
    mt_err err = mt_avro_registry_load(NULL, &reg, eb);
    if (err)
        return err;
    rd_kafka_t *c = assigned_reader(m, eb);
    if (!c) {
        mt_avro_registry_free(reg);
        return MT_ERR_KAFKA;
    }
    long long deadline = now_ms() + timeout_ms;
    err = MT_ERR_TIMEOUT;
    while (err == MT_ERR_TIMEOUT && now_ms() < deadline) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(c, POLL_MS);
        if (!msg)
            continue;
        if (!msg->err) {
            json_t *d = NULL;
            mt_err derr = mt_avro_decode(reg, msg->payload, msg->len, NULL, &d, eb);
            if (derr) {
                err = derr;
            } else {
                const char *k = json_string_value(json_object_get(d, "kind"));
                if (k && strcmp(k, kind) == 0)
                    err = MT_OK;
                json_array_append_new(*events, d);
            }
        }
        rd_kafka_message_destroy(msg);
    }
    if (err == MT_ERR_TIMEOUT)
        mt_fail(eb, err, "mock kafka: no %s event on %s in %d ms (%zu other event(s))", kind,
                m->topic, timeout_ms, json_array_size(*events));
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    mt_avro_registry_free(reg);
    return err;
}

json_t *mt_mock_kafka_branch(json_t *v)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return v;
    return json_object_iter_value(json_object_iter(v));
}
