/* kafka_failover_3node: no acknowledged event is lost or duplicated when a
 * broker of a 3-node cluster is killed with SIGKILL mid-stream.
 *
 * Creates a fresh RF3 / min.insync.replicas=2 topic, produces SessionEvents
 * continuously with the idempotent producer (acks=all), runs
 * `scripts/kafka.sh kill-node 2` after 10,000 sends while messages are in
 * flight, and keeps producing until every partition has acknowledged at
 * least 1,000 events sent after the kill (so production spans the leader
 * failover). After a flush it reads the topic back with a fresh group:
 * every acked event must appear exactly once with identical bytes, and
 * per-session order must hold. Events whose delivery failed are counted and
 * reported, not required. The node is restarted at exit, pass or fail.
 *
 * Skipped (exit 77) unless MT_KAFKA_3NODE_BROKERS is set; the cluster's
 * state dir comes from MT_KAFKA_3NODE_STATE and the script from
 * MT_KAFKA_SCRIPT or $MT_SOURCE_DIR/scripts/kafka.sh. */
#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

extern char **environ;

#define N_MAX 300000
#define KILL_AT 10000
#define AFTER_KILL_MIN 10000
#define PER_PARTITION_AFTER_KILL 1000
#define N_PARTITIONS 3
#define VICTIM "2"

typedef struct acks {
    uint8_t *state; /* 0 none, 1 acked, 2 failed */
    size_t ok, failed, dup_reports;
    size_t after_kill_ok;
    size_t after_kill_part[N_PARTITIONS];
    size_t kill_index; /* SIZE_MAX until the kill */
} acks;

static char script_path[4096];
static int node_killed;

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
        if (i >= a->kill_index) {
            a->after_kill_ok++;
            if (d->partition >= 0 && d->partition < N_PARTITIONS)
                a->after_kill_part[d->partition]++;
        }
    } else {
        a->state[i] = 2;
        a->failed++;
    }
}

/* Runs `bash kafka.sh <cmd> <arg>` and returns its exit status. */
static int run_script(const char *cmd, const char *arg)
{
    char *argv[] = {"bash", script_path, (char *)cmd, (char *)arg, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/bash", NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "spawning %s %s %s: %s\n", script_path, cmd, arg, strerror(rc));
        return -1;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void restart_victim(void)
{
    if (!node_killed)
        return;
    int64_t t = it_now_ms();
    int rc = run_script("restart-node", VICTIM);
    printf("  restart-node %s: exit %d after %" PRId64 " ms\n", VICTIM, rc, it_now_ms() - t);
    if (rc == 0)
        node_killed = 0;
}

static void all_partitions_recovered(const acks *a, int *done)
{
    *done = a->after_kill_ok >= AFTER_KILL_MIN;
    for (int p = 0; p < N_PARTITIONS; p++)
        *done &= a->after_kill_part[p] >= PER_PARTITION_AFTER_KILL;
}

int main(void)
{
    const char *brokers = getenv("MT_KAFKA_3NODE_BROKERS");
    if (!brokers || !*brokers) {
        printf("SKIP: MT_KAFKA_3NODE_BROKERS is not set "
               "(start a cluster with scripts/kafka.sh start --nodes 3)\n");
        return IT_SKIP;
    }
    const char *script = getenv("MT_KAFKA_SCRIPT");
    const char *src = getenv("MT_SOURCE_DIR");
    if (script && *script)
        snprintf(script_path, sizeof script_path, "%s", script);
    else if (src && *src)
        snprintf(script_path, sizeof script_path, "%s/scripts/kafka.sh", src);
    else
        IT_FAIL("set MT_KAFKA_SCRIPT or MT_SOURCE_DIR to find scripts/kafka.sh");
    if (access(script_path, R_OK) != 0)
        IT_FAIL("cannot read %s", script_path);
    const char *state = getenv("MT_KAFKA_3NODE_STATE");
    if (state && *state)
        setenv("MT_KAFKA_STATE", state, 1); /* kafka.sh acts on the 3-node cluster */
    if (it_broker_count(brokers) < 3)
        IT_FAIL("MT_KAFKA_3NODE_BROKERS=%s lists fewer than 3 brokers", brokers);
    atexit(restart_victim);

    int64_t t0 = it_now_ms();
    int64_t deadline = t0 + 240000;
    char topic[128];
    it_unique_name(topic, sizeof topic, "mt-it-failover");
    mt_kafka_config kc = {.bootstrap = brokers, .client_id = "mt-itest-failover"};
    mt_errbuf eb = {{0}};
    const mt_kafka_prop tcfg[] = {{"min.insync.replicas", "2"}};
    if (mt_kafka_create_topics(&kc, (const char *const[]){topic}, 1, N_PARTITIONS, 3, tcfg, 1,
                               30000, &eb))
        IT_FAIL("creating %s on %s: %s", topic, brokers, eb.msg);

    it_corpus c;
    it_corpus_init(&c, N_MAX);
    acks a = {.state = calloc(N_MAX, 1), .kill_index = SIZE_MAX};
    if (!a.state)
        IT_FAIL("no memory");
    mt_producer *p = NULL;
    mt_producer_config pc = {
        .kafka = kc,
        .on_delivery = on_delivery,
        .ctx = &a,
        .delivery_timeout_ms = 60000,
    };
    if (mt_producer_new(&pc, &p, &eb))
        IT_FAIL("producer: %s", eb.msg);

    mt_buf value = MT_BUF_INIT;
    size_t sent = 0;
    int64_t t_kill = 0, t_recovered = 0;
    for (;;) {
        if (sent == KILL_AT) {
            printf("  %zu sent, %zu acked, %zu in flight: kill -9 node %s\n", sent, a.ok,
                   mt_producer_inflight(p), VICTIM);
            a.kill_index = sent;
            t_kill = it_now_ms();
            int rc = run_script("kill-node", VICTIM);
            if (rc != 0)
                IT_FAIL("%s kill-node %s exited %d", script_path, VICTIM, rc);
            node_killed = 1;
        }
        if (a.kill_index != SIZE_MAX) {
            int done;
            all_partitions_recovered(&a, &done);
            if (done) {
                t_recovered = it_now_ms();
                break;
            }
        }
        if (sent == N_MAX)
            IT_FAIL("sent %d events and partitions still not all recovered (acked after kill: "
                    "%zu, per partition %zu/%zu/%zu)",
                    N_MAX, a.after_kill_ok, a.after_kill_part[0], a.after_kill_part[1],
                    a.after_kill_part[2]);
        if (it_now_ms() > deadline)
            IT_FAIL("deadline passed while producing (%zu sent, %zu acked)", sent, a.ok);
        it_corpus_encode(&c, sent, &value);
        it_send(p, topic, &c, sent, &value, (void *)(uintptr_t)sent, deadline);
        sent++;
        if (sent % 100 == 0)
            mt_producer_poll(p, 0);
    }
    mt_buf_free(&value);
    if (mt_producer_flush(p, 90000, &eb))
        IT_FAIL("flush: %s", eb.msg);
    unsigned recreations = mt_producer_recreations(p);
    mt_producer_destroy(p);
    int64_t t_flushed = it_now_ms();
    if (a.dup_reports || a.ok + a.failed != sent)
        IT_FAIL("reports: %zu acked + %zu failed for %zu sent, %zu duplicate reports", a.ok,
                a.failed, sent, a.dup_reports);

    it_tally t;
    c.n = sent; /* only indexes actually sent can appear */
    it_consume_all(brokers, topic, N_PARTITIONS, &c, a.ok, deadline, &t);
    int64_t t_consumed = it_now_ms();

    size_t acked_missing = 0, acked_dup = 0, failed_present = 0, failed_dup = 0;
    for (size_t i = 0; i < sent; i++) {
        if (a.state[i] == 1) {
            acked_missing += t.seen[i] == 0;
            acked_dup += t.seen[i] > 1;
        } else {
            failed_present += t.seen[i] >= 1;
            failed_dup += t.seen[i] > 1;
        }
    }
    printf("kafka_failover_3node: topic %s, node %s killed after %d sends\n", topic, VICTIM,
           KILL_AT);
    printf("  sent %zu, acked %zu, failed %zu, producer recreations %u\n", sent, a.ok, a.failed,
           recreations);
    printf("  all partitions acking again %" PRId64 " ms after the kill; flushed at %" PRId64
           " ms; consumed in %" PRId64 " ms\n",
           t_recovered - t_kill, t_flushed - t0, t_consumed - t_flushed);
    printf("  consumed %zu records: acked missing %zu, acked duplicated %zu, failed-but-present "
           "%zu (dup %zu), bytes/key mismatches %zu, bad headers %zu, order errors %zu\n",
           t.records, acked_missing, acked_dup, failed_present, failed_dup, t.bad_bytes,
           t.bad_header, t.order_errors);
    int ok = acked_missing == 0 && acked_dup == 0 && t.bad_bytes == 0 && t.bad_header == 0 &&
             t.order_errors == 0;
    free(t.seen);
    free(a.state);
    it_corpus_free(&c);
    restart_victim();
    if (!ok)
        IT_FAIL("acknowledged events lost or duplicated across the failover (see counts above)");
    if (node_killed)
        IT_FAIL("node %s did not come back (scripts/kafka.sh restart-node)", VICTIM);
    printf("PASS\n");
    return 0;
}
