/* libFuzzer target: what a stdio MCP server writes on stdout (or an agent on
 * mcptrail-wrap's stdin). The input is fed to the line framer (mt_line_take,
 * sidecar/child.c) in splits whose sizes come from the input's own bytes,
 * and the lines must equal a plain reference split of the whole input: LF
 * ends a line, a CR before it goes, empty lines are skipped, a line over the
 * limit stops the framer (-1). Each line then goes through what the sidecar
 * and the wrapper do with it: mt_mcp_parse and, for a parsed message, the
 * HTTP status of a protocol error. Small limit so the too-long path is hit. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "child.h"
#include "mcp.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

#define MAX_LINE 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reference: line k of the whole input, or -1 when the framer must stop. */
typedef struct ref {
    const uint8_t *d;
    size_t n, pos;
} ref;

static int ref_next(ref *r, const uint8_t **line, size_t *len)
{
    for (;;) {
        const uint8_t *nl = memchr(r->d + r->pos, '\n', r->n - r->pos);
        if (!nl)
            return r->n - r->pos > MAX_LINE ? -1 : 0;
        size_t n = (size_t)(nl - (r->d + r->pos));
        if (n > MAX_LINE)
            return -1;
        const uint8_t *s = r->d + r->pos;
        r->pos += n + 1;
        if (n && s[n - 1] == '\r')
            n--;
        if (!n)
            continue;
        *line = s;
        *len = n;
        return 1;
    }
}

static void use_line(const char *line, size_t len)
{
    mt_mcp_limits lim = MT_MCP_LIMITS_DEFAULT;
    lim.max_bytes = MAX_LINE;
    lim.allow_batch = true;
    mt_mcp_batch b;
    mt_errbuf eb = {{0}};
    if (mt_mcp_parse(line, len, &lim, &b, &eb) == MT_OK) {
        for (size_t i = 0; i < b.n; i++) {
            int st = mt_mcp_error_http_status(b.msgs[i].json);
            CHECK(st == 0 || st == 400 || st == 404);
            CHECK(st == 0 || b.msgs[i].kind == MT_MCP_ERROR_RESPONSE);
        }
    }
    mt_mcp_batch_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evbuffer *in = evbuffer_new();
    CHECK(in);
    ref r = {data, size, 0};
    size_t fed = 0, k = 0, scanned = 0;
    int got = 0;
    while (got >= 0) {
        /* feed a chunk whose size comes from the input, then take what is whole */
        if (fed < size) {
            size_t chunk = 1 + (size_t)(data[k++ % size] % 97);
            if (chunk > size - fed)
                chunk = size - fed;
            evbuffer_add(in, data + fed, chunk);
            fed += chunk;
        }
        char *line;
        size_t len;
        while ((got = mt_line_take(in, MAX_LINE, &scanned, &line, &len)) == 1) {
            const uint8_t *want;
            size_t wlen;
            CHECK(ref_next(&r, &want, &wlen) == 1);
            CHECK(wlen == len && memcmp(want, line, len) == 0 && line[len] == '\0');
            CHECK(len <= MAX_LINE && !memchr(line, '\n', len));
            use_line(line, len);
            free(line);
        }
        CHECK(got != -2);
        if (got == -1) { /* the reference stops here too */
            const uint8_t *want;
            size_t wlen;
            CHECK(ref_next(&r, &want, &wlen) == -1);
        }
        if (got == 0 && fed == size)
            break;
    }
    if (got == 0) { /* everything whole was taken */
        const uint8_t *want;
        size_t wlen;
        CHECK(ref_next(&r, &want, &wlen) == 0);
    }
    evbuffer_free(in);
    return 0;
}
