/* Shared helpers for the Kafka integration tests: skipping, unique names,
 * a corpus of Avro SessionEvents (SHA-256 + key per index), and a consumer
 * that reads a topic to its end and tallies every record against the
 * corpus. Each record carries its corpus index in the "mt-test-index"
 * header so the consumer side can find what was sent without trusting the
 * payload it is checking. */
#ifndef MT_ITEST_H
#define MT_ITEST_H

#include <stddef.h>
#include <stdint.h>

#include "mcptrail/avro.h"
#include "mcptrail/kafka.h"

#define IT_SKIP 77 /* ctest SKIP_RETURN_CODE */
#define IT_INDEX_HEADER "mt-test-index"

/* Prints a failure line with file:line and exits 1. */
#define IT_FAIL(...) it_fail(__FILE__, __LINE__, __VA_ARGS__)
void it_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

int64_t it_now_ms(void);

/* "<prefix>-<pid>-<ms since epoch>": fresh topics and groups per run. */
void it_unique_name(char *out, size_t cap, const char *prefix);

/* Number of addresses in a bootstrap list. */
int it_broker_count(const char *bootstrap);

typedef struct it_record {
    uint8_t sha256[32];
    uint32_t len;
    char key[48]; /* session_id */
} it_record;

typedef struct it_corpus {
    mt_avro_registry *reg;
    const mt_avro_schema *schema;
    uint64_t fingerprint;
    it_record *rec;
    size_t n;
} it_corpus;

/* Loads the schemas (MT_SCHEMA_DIR) and makes room for n records. */
void it_corpus_init(it_corpus *c, size_t n);
/* Encodes sample SessionEvent i into out (reset first), records its hash and
 * key in c->rec[i]. */
void it_corpus_encode(it_corpus *c, size_t i, mt_buf *out);
void it_corpus_free(it_corpus *c);

/* Sends c->rec[i]'s event (value in buf) with key, Avro headers and the index
 * header, polling while the producer pushes back. Bounded by deadline. */
void it_send(mt_producer *p, const char *topic, const it_corpus *c, size_t i, const mt_buf *value,
             void *opaque, int64_t deadline_ms);

typedef struct it_tally {
    uint32_t *seen;       /* per index: times consumed */
    size_t records;       /* all records read */
    size_t bad_bytes;     /* records whose bytes or key differ from what was sent */
    size_t bad_header;    /* missing/garbled index or fingerprint header */
    size_t order_errors;  /* an index at or below an earlier one of its session */
    size_t decode_checked;
} it_tally;

/* Consumes `topic` (partitions 0..nparts-1) with a fresh group until at
 * least `want` distinct indexes were seen and every partition is at EOF, or
 * the deadline passes (then fails the test). Commits every 5000 records. */
void it_consume_all(const char *bootstrap, const char *topic, int nparts, const it_corpus *c,
                    size_t want, int64_t deadline_ms, it_tally *t);

#endif
