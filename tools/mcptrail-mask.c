/* mcptrail-mask: runs the masking engine of libmcptrail on stdin and writes
 * the masked result to stdout, so users can test detectors and their own
 * rules before deploying them.
 *
 *   mcptrail-mask [--rules FILE] [--text] [--explain] [--stats] < in > out
 *   mcptrail-mask --jsonl ...   lines {"id":..,"message":"<json text>"}: the
 *                               message is masked (JSON, else text) and
 *                               written back in the same line format
 *   mcptrail-mask --list        detector ids and types
 *
 * --explain prints one line per masked span to stderr: detector id, type,
 * action, JSON pointer, byte offset and length; never the masked bytes.
 * --stats prints bytes, seconds spent masking (I/O excluded) and MB/s.
 * Exit status: 0 ok, 1 bad input or rules, 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "mcptrail/mask.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: mcptrail-mask [--rules FILE] [--text | --jsonl] [--explain] [--stats] < in > out\n"
               "       mcptrail-mask [--rules FILE] --list\n"
               "\n"
               "Masks secrets and personal data in JSON (default; falls back to text when the\n"
               "input is not JSON) or text (--text). --jsonl reads lines {\"id\":..,\"message\":\"..\"}\n"
               "and masks each message. --explain lists every masked span on stderr (detector,\n"
               "type, action, JSON pointer, offset, length; never the secret). --stats prints\n"
               "throughput of the engine without I/O. See docs/masking.md for the rules file.\n");
}

typedef struct explain_ud {
    const char *record; /* jsonl id, or NULL */
} explain_ud;

static void explain(void *ud, const mt_mask_match *m)
{
    const explain_ud *e = ud;
    fprintf(stderr, "%s%s%s %s type=%s action=%s at=%zu len=%zu\n", e->record ? e->record : "",
            e->record ? " " : "", m->pointer[0] ? m->pointer : "(text)", m->detector, m->type,
            mt_mask_action_name(m->action), m->start, m->len);
}

static int read_all(FILE *f, mt_buf *b)
{
    char tmp[1 << 16];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (mt_buf_append(b, tmp, n))
            return -1;
    return ferror(f) ? -1 : 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *rules_path = NULL;
    bool text = false, jsonl = false, do_explain = false, stats = false, list = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
            rules_path = argv[++i];
        else if (strcmp(argv[i], "--text") == 0)
            text = true;
        else if (strcmp(argv[i], "--jsonl") == 0)
            jsonl = true;
        else if (strcmp(argv[i], "--explain") == 0)
            do_explain = true;
        else if (strcmp(argv[i], "--stats") == 0)
            stats = true;
        else if (strcmp(argv[i], "--list") == 0)
            list = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (text && jsonl) {
        usage(stderr);
        return 2;
    }
    mt_errbuf eb = {""};
    mt_mask_rules *rules = NULL;
    mt_mask_engine *eng = NULL;
    mt_mask_ctx *ctx = NULL;
    mt_buf in = MT_BUF_INIT, out = MT_BUF_INIT;
    int rc = 1;
    if ((rules_path ? mt_mask_rules_load_file(rules_path, &rules, &eb)
                    : mt_mask_rules_load(NULL, 0, &rules, &eb)) ||
        mt_mask_engine_new(rules, &eng, &eb) || mt_mask_ctx_new(eng, &ctx, &eb)) {
        fprintf(stderr, "mcptrail-mask: %s\n", eb.msg);
        goto out;
    }
    if (list) {
        for (size_t i = 0; i < mt_mask_engine_detector_count(eng); i++)
            printf("%s\t%s\n", mt_mask_engine_detector_id(eng, i),
                   mt_mask_engine_detector_type(eng, i));
        rc = 0;
        goto out;
    }
    explain_ud eud = {NULL};
    if (do_explain)
        mt_mask_ctx_set_explain(ctx, explain, &eud);
    mt_mask_summary sum;
    mt_mask_summary_init(&sum);
    double spent = 0;
    size_t bytes = 0;
    if (!jsonl) {
        if (read_all(stdin, &in)) {
            fprintf(stderr, "mcptrail-mask: reading stdin: %s\n", strerror(errno));
            goto out;
        }
        double t0 = now();
        mt_err err = text ? mt_mask_text(ctx, in.data, in.len, &out, &sum, &eb)
                          : mt_mask_payload(ctx, in.data, in.len, &out, &sum, NULL, &eb);
        spent += now() - t0;
        bytes += in.len;
        if (err) {
            fprintf(stderr, "mcptrail-mask: %s\n", eb.msg);
            goto out;
        }
        fwrite(out.data, 1, out.len, stdout);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        size_t lineno = 0;
        while ((n = getline(&line, &cap, stdin)) > 0) {
            lineno++;
            json_error_t je;
            json_t *rec = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &je);
            json_t *msg = rec ? json_object_get(rec, "message") : NULL;
            if (!msg || !json_is_string(msg)) {
                fprintf(stderr, "mcptrail-mask: line %zu: not {\"id\":..,\"message\":\"..\"}%s%s\n",
                        lineno, rec ? "" : ": ", rec ? "" : je.text);
                json_decref(rec);
                free(line);
                goto out;
            }
            json_t *id = json_object_get(rec, "id");
            eud.record = json_is_string(id) ? json_string_value(id) : NULL;
            mt_buf_reset(&out);
            double t0 = now();
            mt_err err = text ? MT_OK
                              : mt_mask_payload(ctx, json_string_value(msg), json_string_length(msg),
                                                &out, &sum, NULL, &eb);
            spent += now() - t0;
            bytes += json_string_length(msg);
            if (err) {
                fprintf(stderr, "mcptrail-mask: line %zu: %s\n", lineno, eb.msg);
                json_decref(rec);
                free(line);
                goto out;
            }
            json_object_set_new(rec, "message", json_stringn((const char *)out.data, out.len));
            char *dump = json_dumps(rec, JSON_COMPACT);
            json_decref(rec);
            if (!dump) {
                fprintf(stderr, "mcptrail-mask: line %zu: out of memory\n", lineno);
                free(line);
                goto out;
            }
            fputs(dump, stdout);
            fputc('\n', stdout);
            free(dump);
        }
        free(line);
    }
    if (stats) {
        fprintf(stderr, "mcptrail-mask: %zu bytes in %.3f s of masking: %.1f MB/s; %llu spans masked\n",
                bytes, spent, spent > 0 ? (double)bytes / 1e6 / spent : 0.0,
                (unsigned long long)sum.total);
        for (size_t i = 0; i < sum.n; i++)
            fprintf(stderr, "  %-28s %-9s %llu\n", sum.items[i].detector,
                    mt_mask_action_name(sum.items[i].action),
                    (unsigned long long)sum.items[i].count);
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    mt_buf_free(&in);
    mt_buf_free(&out);
    mt_mask_ctx_free(ctx);
    mt_mask_engine_free(eng);
    return rc;
}
