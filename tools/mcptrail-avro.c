/* mcptrail-avro: command-line access to the Avro codec of libmcptrail, for
 * debugging, fixtures and the cross-language tests.
 *
 *   encode SCHEMA_FULLNAME   JSON lines on stdin -> framed single-object records
 *   decode                   framed single-object records on stdin -> JSON lines
 *   fingerprint [FILE.avsc]  fingerprint, name and Parsing Canonical Form
 *
 * A framed stream is a sequence of records, each preceded by its length as a
 * 4-byte big-endian integer, so one stream can hold many records. Schemas come
 * from $MT_SCHEMA_DIR (or the build's schemas/). Any bad input stops the tool
 * with a message naming the line or record and exit status 1; usage errors
 * exit 2. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/avro.h"

#define MAX_LINE (64u << 20)    /* one JSON line; matches the decoder's string limit */
#define MAX_RECORD (256u << 20) /* one framed record */

static void usage(FILE *f)
{
    fprintf(f, "usage: mcptrail-avro encode SCHEMA_FULLNAME < json-lines > framed-records\n"
               "       mcptrail-avro decode < framed-records > json-lines\n"
               "       mcptrail-avro fingerprint [FILE.avsc ...]\n"
               "\n"
               "Framed records: each is a 4-byte big-endian length followed by an Avro\n"
               "single-object encoding (C3 01, 8-byte little-endian CRC-64-AVRO fingerprint,\n"
               "binary datum). Schemas are read from $MT_SCHEMA_DIR (default: the source\n"
               "tree's schemas/). fingerprint prints: hex fingerprint, name, canonical form.\n");
}

static int load(mt_avro_registry **reg)
{
    mt_errbuf eb = {""};
    if (mt_avro_registry_load(NULL, reg, &eb)) {
        fprintf(stderr, "mcptrail-avro: %s\n", eb.msg);
        return 1;
    }
    return 0;
}

static int cmd_encode(const char *name)
{
    int rc = 1;
    mt_avro_registry *reg = NULL;
    char *line = NULL;
    size_t cap = 0;
    mt_buf b = MT_BUF_INIT;
    unsigned long lineno = 0;

    if (load(&reg))
        goto done;
    const mt_avro_schema *s = mt_avro_registry_find(reg, name);
    if (!s) {
        fprintf(stderr, "mcptrail-avro: no schema named %s; known:", name);
        for (size_t i = 0; i < mt_avro_registry_count(reg); i++)
            fprintf(stderr, " %s", mt_avro_schema_name(mt_avro_registry_at(reg, i)));
        fputc('\n', stderr);
        goto done;
    }
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if ((size_t)n > MAX_LINE) {
            fprintf(stderr, "mcptrail-avro: line %lu is longer than %u bytes\n", lineno, MAX_LINE);
            goto done;
        }
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        json_error_t je;
        json_t *v = json_loadb(line, len, 0, &je);
        if (!v) {
            fprintf(stderr, "mcptrail-avro: line %lu is not JSON: %s (column %d)\n", lineno,
                    je.text, je.column);
            goto done;
        }
        mt_errbuf eb = {""};
        mt_buf_reset(&b);
        /* Reserve the frame length first, fill it in once the size is known. */
        mt_err err = mt_buf_append(&b, "\0\0\0\0", 4);
        if (!err)
            err = mt_avro_encode(s, v, &b, &eb);
        json_decref(v);
        if (err) {
            fprintf(stderr, "mcptrail-avro: line %lu: %s\n", lineno,
                    eb.msg[0] ? eb.msg : mt_strerror(err));
            goto done;
        }
        size_t rl = b.len - 4;
        b.data[0] = (uint8_t)(rl >> 24);
        b.data[1] = (uint8_t)(rl >> 16);
        b.data[2] = (uint8_t)(rl >> 8);
        b.data[3] = (uint8_t)rl;
        if (fwrite(b.data, 1, b.len, stdout) != b.len) {
            fprintf(stderr, "mcptrail-avro: write failed: %s\n", strerror(errno));
            goto done;
        }
    }
    if (ferror(stdin)) {
        fprintf(stderr, "mcptrail-avro: read failed: %s\n", strerror(errno));
        goto done;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "mcptrail-avro: write failed: %s\n", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    free(line);
    mt_buf_free(&b);
    mt_avro_registry_free(reg);
    return rc;
}

static int cmd_decode(void)
{
    int rc = 1;
    mt_avro_registry *reg = NULL;
    uint8_t *rec = NULL;
    unsigned long recno = 0;

    if (load(&reg))
        goto done;
    for (;;) {
        uint8_t hdr[4];
        size_t got = fread(hdr, 1, 4, stdin);
        if (got == 0 && feof(stdin))
            break;
        recno++;
        if (got != 4) {
            fprintf(stderr, "mcptrail-avro: record %lu: stream ends inside the 4-byte length\n",
                    recno);
            goto done;
        }
        uint32_t len =
            (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
        if (len > MAX_RECORD) {
            fprintf(stderr, "mcptrail-avro: record %lu: length %" PRIu32 " exceeds %u bytes\n",
                    recno, len, MAX_RECORD);
            goto done;
        }
        uint8_t *p = realloc(rec, len ? len : 1);
        if (!p) {
            fprintf(stderr, "mcptrail-avro: out of memory for record %lu\n", recno);
            goto done;
        }
        rec = p;
        if (fread(rec, 1, len, stdin) != len) {
            fprintf(stderr, "mcptrail-avro: record %lu: stream ends before its %" PRIu32 " bytes\n",
                    recno, len);
            goto done;
        }
        json_t *v = NULL;
        mt_errbuf eb = {""};
        mt_err err = mt_avro_decode(reg, rec, len, NULL, &v, &eb);
        if (err) {
            fprintf(stderr, "mcptrail-avro: record %lu: %s: %s\n", recno, mt_errname(err), eb.msg);
            goto done;
        }
        int w = json_dumpf(v, stdout, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(v);
        if (w != 0 || fputc('\n', stdout) == EOF) {
            fprintf(stderr, "mcptrail-avro: write failed: %s\n", strerror(errno));
            goto done;
        }
    }
    if (ferror(stdin)) {
        fprintf(stderr, "mcptrail-avro: read failed: %s\n", strerror(errno));
        goto done;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "mcptrail-avro: write failed: %s\n", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    free(rec);
    mt_avro_registry_free(reg);
    return rc;
}

static void print_fp(const mt_avro_schema *s)
{
    printf("%016" PRIx64 " %s %s\n", mt_avro_schema_fingerprint(s), mt_avro_schema_name(s),
           mt_avro_schema_canonical(s));
}

static int cmd_fingerprint(int argc, char **argv)
{
    if (argc == 0) {
        mt_avro_registry *reg = NULL;
        if (load(&reg))
            return 1;
        for (size_t i = 0; i < mt_avro_registry_count(reg); i++)
            print_fp(mt_avro_registry_at(reg, i));
        mt_avro_registry_free(reg);
        return 0;
    }
    for (int i = 0; i < argc; i++) {
        json_error_t je;
        json_t *j = json_load_file(argv[i], JSON_DECODE_ANY, &je);
        if (!j) {
            fprintf(stderr, "mcptrail-avro: %s: %s (line %d)\n", argv[i], je.text, je.line);
            return 1;
        }
        /* jansson reads and checks the file; the schema parser takes text. */
        char *text = json_dumps(j, JSON_ENCODE_ANY);
        json_decref(j);
        mt_avro_schema *s = NULL;
        mt_errbuf eb = {""};
        mt_err err = text ? mt_avro_schema_parse(text, &s, &eb) : MT_ERR_NOMEM;
        free(text);
        if (err) {
            fprintf(stderr, "mcptrail-avro: %s: %s\n", argv[i],
                    eb.msg[0] ? eb.msg : mt_strerror(err));
            return 1;
        }
        print_fp(s);
        mt_avro_schema_free(s);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "encode") && argc == 3)
        return cmd_encode(argv[2]);
    if (!strcmp(argv[1], "decode") && argc == 2)
        return cmd_decode();
    if (!strcmp(argv[1], "fingerprint"))
        return cmd_fingerprint(argc - 2, argv + 2);
    usage(stderr);
    return 2;
}
