/* mask_engine: the masking engine alone, for profiling (perf record) and
 * quick throughput checks while working on it. Loads every message of a
 * masking corpus (JSON lines {"id":..,"message":"<json text>"}, as
 * tests/fixtures/masking/gen.py writes them) into memory once, then masks
 * them all with mt_mask_payload PASSES times, so a profile holds the engine
 * and not jansson reading the wrapper.
 *
 *   mask_engine CORPUS.jsonl [PASSES [RULES.json]]
 *
 * Prints one line per pass with MB/s of engine time over all messages, and
 * the same for the tool results alone (messages with "result") as an extra
 * figure. mcptrail-mask --jsonl --stats is the reference measurement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "mcptrail/mask.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct msg {
    char *p;
    size_t n;
    int is_result;
} msg;

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mask_engine CORPUS.jsonl [PASSES [RULES.json]]\n");
        return 2;
    }
    int passes = argc > 2 ? atoi(argv[2]) : 5;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    msg *m = NULL;
    size_t nm = 0, cap = 0, total = 0, rtotal = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t ln;
    while ((ln = getline(&line, &lcap, f)) > 0) {
        json_error_t je;
        json_t *rec = json_loadb(line, (size_t)ln, JSON_ALLOW_NUL, &je);
        json_t *s = rec ? json_object_get(rec, "message") : NULL;
        if (!json_is_string(s)) {
            fprintf(stderr, "mask_engine: line %zu is not {\"message\": \"..\"}\n", nm + 1);
            return 1;
        }
        if (nm == cap) {
            cap = cap ? cap * 2 : 1024;
            m = realloc(m, cap * sizeof *m);
            if (!m)
                return 1;
        }
        size_t n = json_string_length(s);
        m[nm].p = malloc(n ? n : 1);
        if (!m[nm].p)
            return 1;
        memcpy(m[nm].p, json_string_value(s), n);
        m[nm].n = n;
        m[nm].is_result = strstr(json_string_value(s), "\"result\"") != NULL;
        total += n;
        rtotal += m[nm].is_result ? n : 0;
        nm++;
        json_decref(rec);
    }
    free(line);
    fclose(f);
    mt_errbuf eb = {""};
    mt_mask_rules *rules;
    mt_mask_engine *eng;
    mt_mask_ctx *ctx;
    if ((argc > 3 ? mt_mask_rules_load_file(argv[3], &rules, &eb)
                  : mt_mask_rules_load(NULL, 0, &rules, &eb)) || mt_mask_engine_new(rules, &eng, &eb) ||
        mt_mask_ctx_new(eng, &ctx, &eb)) {
        fprintf(stderr, "mask_engine: %s\n", eb.msg);
        return 1;
    }
    mt_buf out = MT_BUF_INIT;
    for (int p = 0; p < passes; p++) {
        double all = 0, res = 0;
        for (size_t i = 0; i < nm; i++) {
            mt_buf_reset(&out);
            double t0 = now();
            if (mt_mask_payload(ctx, m[i].p, m[i].n, &out, NULL, NULL, &eb)) {
                fprintf(stderr, "mask_engine: message %zu: %s\n", i + 1, eb.msg);
                return 1;
            }
            double dt = now() - t0;
            all += dt;
            res += m[i].is_result ? dt : 0;
        }
        printf("pass %d: %zu messages, %.1f MB in %.3f s: %.1f MB/s; tool results only: %.1f MB/s\n",
               p + 1, nm, (double)total / 1e6, all, (double)total / 1e6 / all,
               res > 0 ? (double)rtotal / 1e6 / res : 0.0);
    }
    mt_buf_free(&out);
    mt_mask_ctx_free(ctx);
    mt_mask_engine_free(eng);
    for (size_t i = 0; i < nm; i++)
        free(m[i].p);
    free(m);
    return 0;
}
