/* Baseline for bench/archive.sh: the same group consumer as mcptrail-archiver
 * (libmcptrail's mt_consumer), reading N records and discarding them, so the
 * archiver's cost over plain consumption shows in the same run.
 *
 *   archive_consume BROKERS GROUP N TOPIC...
 * Prints "records<TAB>value_bytes<TAB>seconds" (first record to the Nth). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mcptrail/kafka.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: archive_consume BROKERS GROUP N TOPIC...\n");
        return 2;
    }
    uint64_t n = strtoull(argv[3], NULL, 10), got = 0, bytes = 0;
    mt_errbuf eb = {{0}};
    mt_consumer *c = NULL;
    mt_consumer_config cc = {.kafka = {.bootstrap = argv[1], .client_id = "archive-consume"},
                             .group_id = argv[2], .topics = (const char *const *)argv + 4,
                             .ntopics = (size_t)(argc - 4)};
    if (mt_consumer_new(&cc, &c, &eb) != MT_OK) {
        fprintf(stderr, "archive_consume: %s\n", eb.msg);
        return 1;
    }
    double t0 = 0, deadline = now_s() + 300;
    while (got < n && now_s() < deadline) {
        mt_kafka_msg m;
        if (mt_consumer_poll(c, 100, &m, &eb) != MT_OK)
            continue;
        if (!m.eof) {
            if (got == 0)
                t0 = now_s();
            got++;
            bytes += m.value_len;
        }
        mt_kafka_msg_release(&m);
    }
    double el = now_s() - t0;
    mt_consumer_destroy(c);
    printf("%" PRIu64 "\t%" PRIu64 "\t%.3f\n", got, bytes, el);
    return got == n ? 0 : 1;
}
