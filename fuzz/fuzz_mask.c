/* libFuzzer target: the masking engine on arbitrary bytes, as JSON (with
 * the text fallback) and as text, with the built-in rules and, when the
 * input starts with "R:", a user rule whose regex is the rest of the first
 * line. Invariants: the engine never crashes or leaks; a successful JSON
 * pass yields valid JSON text (checked by masking its own output again);
 * bad user rules fail with MT_ERR_CONFIG and a message; an explain
 * callback (which makes the walker build JSON pointers) changes nothing in
 * the output and sees every counted span. Differential: the
 * fast scans (SSE2 string stops and digit masks, the native scanner's
 * filtered digit-run walk) find exactly what their scalar references find
 * on the same bytes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/mask.h"
#include "../lib/src/mask_internal.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mt_mask_engine *builtin_engine;
static mt_mask_ctx *builtin_ctx;

static void count_span(void *ud, const mt_mask_match *m)
{
    (void)m;
    (*(size_t *)ud)++;
}

static void run(mt_mask_ctx *ctx, const uint8_t *data, size_t size)
{
    mt_buf out = MT_BUF_INIT, again = MT_BUF_INIT;
    mt_errbuf eb = {""};
    mt_mask_summary sum;
    mt_mask_summary_init(&sum);
    mt_err err = mt_mask_json(ctx, data, size, &out, &sum, &eb);
    CHECK(err == MT_OK || err == MT_ERR_PARSE || err == MT_ERR_TOO_LARGE);
    if (err == MT_OK) {
        /* Masked JSON is JSON with the same nesting: it must parse again. */
        CHECK(mt_mask_json(ctx, out.data, out.len, &again, NULL, &eb) == MT_OK);
        /* With an explain callback the walker also builds JSON pointers:
         * the output must not change. */
        mt_buf_reset(&again);
        size_t spans = 0;
        mt_mask_ctx_set_explain(ctx, count_span, &spans);
        CHECK(mt_mask_json(ctx, data, size, &again, NULL, &eb) == MT_OK);
        mt_mask_ctx_set_explain(ctx, NULL, NULL);
        CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
        CHECK(spans == sum.total);
    } else {
        CHECK(out.len == 0 && eb.msg[0]);
    }
    mt_buf_reset(&out);
    CHECK(mt_mask_text(ctx, data, size, &out, &sum, &eb) == MT_OK);
    CHECK(sum.n <= MT_MASK_SUMMARY_MAX);
    mt_buf_free(&out);
    mt_buf_free(&again);
}

static void differential(mt_mask_ctx *ctx, const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    for (size_t off = 0; off < size && off < 17; off++) {
        mask_simd_avx512(off % 2 == 0); /* both paths on a CPU that has AVX-512BW */
        bool h1 = false, h2 = false;
        CHECK(mask_str_stop(s + off, size - off, &h1) == mask_str_stop_ref(s + off, size - off, &h2));
        CHECK(h1 == h2);
        mask_classes c1, c2;
        mask_classes64(s + off, size - off, &c1);
        mask_classes64_ref(s + off, size - off, &c2);
        CHECK(memcmp(&c1, &c2, sizeof c1) == 0);
        uint64_t l1 = 1, l2 = 2;
        CHECK(mask_str_masks64(s + off, size - off, &l1) == mask_str_masks64_ref(s + off, size - off, &l2));
        CHECK(l1 == l2);
    }
    mask_simd_avx512(true);
    ctx->nspans = 0;
    CHECK(mask_scan_native(ctx, s, size) == MT_OK);
    size_t n = ctx->nspans;
    mask_span *a = n ? malloc(n * sizeof *a) : NULL;
    CHECK(n == 0 || a);
    if (n)
        memcpy(a, ctx->spans, n * sizeof *a);
    ctx->nspans = 0;
    CHECK(mask_scan_native_ref(ctx, s, size) == MT_OK);
    CHECK(ctx->nspans == n);
    for (size_t i = 0; i < n; i++)
        CHECK(a[i].start == ctx->spans[i].start && a[i].end == ctx->spans[i].end &&
              a[i].det == ctx->spans[i].det);
    ctx->nspans = 0;
    free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!builtin_engine) {
        mt_mask_rules *r;
        CHECK(mt_mask_rules_load(NULL, 0, &r, NULL) == MT_OK);
        CHECK(mt_mask_engine_new(r, &builtin_engine, NULL) == MT_OK);
        CHECK(mt_mask_ctx_new(builtin_engine, &builtin_ctx, NULL) == MT_OK);
    }
    if (size > 2 && data[0] == 'R' && data[1] == ':') {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t rl = nl ? (size_t)(nl - data) - 2 : size - 2;
        if (rl > 200)
            return 0;
        /* A rules file with the regex as a JSON string (escaped byte by byte). */
        char rules[2048];
        size_t n = (size_t)snprintf(rules, sizeof rules,
                                    "{\"builtin_detectors\":false,\"tokenize_key\":\"fuzz-key-0123456789\","
                                    "\"rules\":[{\"id\":"
                                    "\"fz\",\"type\":\"fz\",\"action\":\"tokenize\",\"regex\":\"");
        for (size_t i = 0; i < rl && n + 8 < sizeof rules; i++)
            n += (size_t)snprintf(rules + n, sizeof rules - n, "\\u%04x", data[2 + i]);
        n += (size_t)snprintf(rules + n, sizeof rules - n, "\"}]}");
        mt_mask_rules *r = NULL;
        mt_mask_engine *e = NULL;
        mt_mask_ctx *ctx = NULL;
        mt_errbuf eb = {""};
        mt_err err = mt_mask_rules_load(rules, n, &r, &eb);
        if (!err)
            err = mt_mask_engine_new(r, &e, &eb);
        if (err) {
            CHECK(err == MT_ERR_CONFIG && eb.msg[0]);
            return 0;
        }
        CHECK(mt_mask_ctx_new(e, &ctx, NULL) == MT_OK);
        size_t off = nl ? (size_t)(nl - data) + 1 : size;
        run(ctx, data + off, size - off);
        mt_mask_ctx_free(ctx);
        mt_mask_engine_free(e);
        return 0;
    }
    run(builtin_ctx, data, size);
    differential(builtin_ctx, data, size);
    return 0;
}
