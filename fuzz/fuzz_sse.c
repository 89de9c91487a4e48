/* libFuzzer target: the input is an SSE stream, fed once whole and once in
 * splits whose sizes come from the input's own bytes. Both runs must report
 * the same blocks, and the concatenated raw spans plus the pending bytes
 * must equal the input exactly (the proxy forwards those spans unchanged).
 * Small limits so the MT_ERR_TOO_LARGE paths are reached. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

/* Checked in every build type: the fuzz build defines NDEBUG. */
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct run {
    mt_buf raw;
    size_t events;
    uint64_t sum; /* cheap digest of the decoded fields */
} run;

static mt_err collect(void *ctx, const mt_sse_event *e, mt_errbuf *eb)
{
    (void)eb;
    run *r = ctx;
    r->events++;
    CHECK(e->data[e->data_len] == 0 && e->type[e->type_len] == 0);
    CHECK(e->dispatched || e->data_len == 0);
    r->sum = r->sum * 31 + e->data_len * 7 + e->type_len * 3 + e->last_event_id_len +
             (e->id ? 1 : 0) + (uint64_t)(e->retry_ms + 1) + (e->dispatched ? 5 : 0);
    if (mt_buf_append(&r->raw, e->raw, e->raw_len))
        return MT_ERR_NOMEM;
    return MT_OK;
}

static mt_err feed(const uint8_t *d, size_t n, const uint8_t *splits, size_t nsplits, run *r,
                   mt_sse_parser *p)
{
    mt_sse_limits lim = {256, 2048};
    mt_sse_parser_init(p, &lim);
    size_t off = 0, k = 0;
    while (off < n) {
        size_t step = nsplits ? (size_t)splits[k++ % nsplits] % 17 : n - off;
        if (step > n - off)
            step = n - off;
        if (step == 0) {
            /* An empty feed must be harmless; then make progress. */
            mt_err err = mt_sse_feed(p, d + off, 0, collect, r, NULL);
            if (err)
                return err;
            step = 1;
        }
        mt_err err = mt_sse_feed(p, d + off, step, collect, r, NULL);
        if (err)
            return err;
        off += step;
    }
    return MT_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* First bytes pick the split sizes; the whole input is the stream. */
    size_t nsplits = size ? data[0] % 8 : 0;
    if (nsplits > size)
        nsplits = size;
    run a = {MT_BUF_INIT, 0, 0}, b = {MT_BUF_INIT, 0, 0};
    mt_sse_parser pa, pb;
    mt_err ea = feed(data, size, NULL, 0, &a, &pa);
    mt_err eb = feed(data, size, data, nsplits, &b, &pb);
    CHECK(ea == eb);
    CHECK(a.events == b.events && a.sum == b.sum);
    CHECK(a.raw.len == b.raw.len);
    CHECK(a.raw.len == 0 || memcmp(a.raw.data, b.raw.data, a.raw.len) == 0);
    CHECK(a.raw.len <= size);
    CHECK(a.raw.len == 0 || memcmp(a.raw.data, data, a.raw.len) == 0);
    if (!ea) {
        const uint8_t *pend;
        size_t plen;
        mt_sse_pending(&pa, &pend, &plen);
        CHECK(a.raw.len + plen == size);
        CHECK(plen == 0 || memcmp(pend, data + a.raw.len, plen) == 0);
        (void)mt_sse_finish(&pa, NULL);
        mt_buf out = MT_BUF_INIT;
        if (mt_sse_rewrite_endpoint((const char *)data, size, "http://sc:1/p", &out, NULL) == MT_OK)
            CHECK(out.len == 0 ||
                  (!memchr(out.data, '\n', out.len) && !memchr(out.data, '\r', out.len)));
        mt_buf_free(&out);
    }
    mt_sse_parser_free(&pa);
    mt_sse_parser_free(&pb);
    mt_buf_free(&a.raw);
    mt_buf_free(&b.raw);
    return 0;
}
