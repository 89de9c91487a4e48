/* Tests for sidecar/sse.c: the WHATWG examples, every split of a stream
 * giving identical events, line endings, BOM, comments, retry, limits, raw
 * spans reassembling the input, and the 2024-11-05 endpoint rewrite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sse.h"

#define MAXEV 32

typedef struct rec_ev {
    bool dispatched;
    char type[64];
    char data[256];
    size_t data_len;
    bool has_id;
    char id[64];
    char last_id[64];
    int64_t retry;
    size_t raw_len;
} rec_ev;

typedef struct rec {
    rec_ev ev[MAXEV];
    size_t n;
    uint8_t raw[4096];
    size_t raw_len;
} rec;

static void copy(char *dst, size_t cap, const char *src, size_t n)
{
    assert_true(n < cap);
    memcpy(dst, src, n);
    dst[n] = 0;
}

static mt_err record(void *ctx, const mt_sse_event *e, mt_errbuf *eb)
{
    (void)eb;
    rec *r = ctx;
    assert_true(r->n < MAXEV);
    rec_ev *o = &r->ev[r->n++];
    o->dispatched = e->dispatched;
    copy(o->type, sizeof o->type, e->type, e->type_len);
    copy(o->data, sizeof o->data, e->data, e->data_len);
    assert_int_equal(e->data[e->data_len], 0);
    o->data_len = e->data_len;
    o->has_id = e->id != NULL;
    if (e->id)
        copy(o->id, sizeof o->id, e->id, e->id_len);
    copy(o->last_id, sizeof o->last_id, e->last_event_id, e->last_event_id_len);
    o->retry = e->retry_ms;
    o->raw_len = e->raw_len;
    assert_true(r->raw_len + e->raw_len <= sizeof r->raw);
    memcpy(r->raw + r->raw_len, e->raw, e->raw_len);
    r->raw_len += e->raw_len;
    return MT_OK;
}

/* Feeds s in pieces of the given sizes (0-terminated list, rest at once). */
static mt_err feed_split(const char *s, size_t len, const size_t *cuts, size_t ncuts, rec *r,
                         mt_sse_parser *p, const mt_sse_limits *lim, mt_errbuf *eb)
{
    memset(r, 0, sizeof *r);
    mt_sse_parser_init(p, lim);
    size_t off = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        mt_err err = mt_sse_feed(p, s + off, end - off, record, r, eb);
        if (err)
            return err;
        off = end;
    }
    return MT_OK;
}

static void whole(const char *s, rec *r, mt_sse_parser *p)
{
    assert_int_equal(feed_split(s, strlen(s), NULL, 0, r, p, NULL, NULL), MT_OK);
}

static void assert_same(const rec *a, const rec *b)
{
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->ev, b->ev, a->n * sizeof a->ev[0]);
    assert_int_equal(a->raw_len, b->raw_len);
    assert_memory_equal(a->raw, b->raw, a->raw_len);
}

static void whatwg_stock_example_joins_data_lines(void **state)
{
    (void)state;
    rec r;
    mt_sse_parser p;
    whole("data: YHOO\ndata: +2\ndata: 10\n\n", &r, &p);
    assert_int_equal(r.n, 1);
    assert_true(r.ev[0].dispatched);
    assert_string_equal(r.ev[0].type, "message");
    assert_string_equal(r.ev[0].data, "YHOO\n+2\n10");
    assert_false(r.ev[0].has_id);
    assert_int_equal(r.ev[0].retry, -1);
    assert_int_equal(mt_sse_finish(&p, NULL), MT_OK);
    mt_sse_parser_free(&p);
}

static void whatwg_id_example_sets_and_resets_last_event_id(void **state)
{
    (void)state;
    rec r;
    mt_sse_parser p;
    whole(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
          "data:  third event\n\n",
          &r, &p);
    assert_int_equal(r.n, 4);
    assert_false(r.ev[0].dispatched); /* the comment block */
    assert_string_equal(r.ev[1].data, "first event");
    assert_true(r.ev[1].has_id);
    assert_string_equal(r.ev[1].id, "1");
    assert_string_equal(r.ev[2].data, "second event");
    assert_true(r.ev[2].has_id);
    assert_string_equal(r.ev[2].last_id, "");
    assert_string_equal(r.ev[3].data, " third event"); /* only one space stripped */
    assert_false(r.ev[3].has_id);
    assert_string_equal(r.ev[3].last_id, "");
    mt_sse_parser_free(&p);
}

static void whatwg_empty_data_example_and_trailing_event_is_incomplete(void **state)
{
    (void)state;
    rec r;
    mt_sse_parser p;
    mt_errbuf eb;
    whole("data\n\ndata\ndata\n\ndata:", &r, &p);
    assert_int_equal(r.n, 2);
    assert_true(r.ev[0].dispatched);
    assert_string_equal(r.ev[0].data, "");
    assert_string_equal(r.ev[1].data, "\n");
    assert_int_equal(mt_sse_finish(&p, &eb), MT_ERR_TRUNCATED);
    assert_non_null(strstr(eb.msg, "not dispatched"));
    const uint8_t *pend;
    size_t plen;
    mt_sse_pending(&p, &pend, &plen);
    assert_int_equal(plen, 5);
    assert_memory_equal(pend, "data:", 5);
    mt_sse_parser_free(&p);
}

static void whatwg_space_after_colon_is_optional(void **state)
{
    (void)state;
    rec r;
    mt_sse_parser p;
    whole("data:test\n\ndata: test\n\n", &r, &p);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.ev[0].data, "test");
    assert_string_equal(r.ev[1].data, "test");
    mt_sse_parser_free(&p);
}

static const char sample[] = "\xEF\xBB\xBF: keep-alive\r\n\r\n"
                             "event: message\nid: 42\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\n"
                             "data: \"result\":{}}\nretry: 1500\n\n"
                             "data: cr only\r\rid: x\x00y\r\n"
                             "data: after nul id\r\n\r\n"
                             ":comment\nfield-without-colon\nevent:ping\ndata\n\n"
                             "data: tail\n\n";

static void every_two_and_three_way_split_gives_identical_events(void **state)
{
    (void)state;
    size_t len = sizeof sample - 1;
    rec ref, r;
    mt_sse_parser p;
    assert_int_equal(feed_split(sample, len, NULL, 0, &ref, &p, NULL, NULL), MT_OK);
    assert_int_equal(mt_sse_finish(&p, NULL), MT_OK);
    mt_sse_parser_free(&p);
    assert_int_equal(ref.n, 6);
    for (size_t a = 0; a <= len; a++) {
        size_t cuts[1] = {a};
        assert_int_equal(feed_split(sample, len, cuts, 1, &r, &p, NULL, NULL), MT_OK);
        assert_int_equal(mt_sse_finish(&p, NULL), MT_OK);
        mt_sse_parser_free(&p);
        assert_same(&ref, &r);
        for (size_t b = a; b <= len; b += 7) {
            size_t cuts2[2] = {a, b};
            assert_int_equal(feed_split(sample, len, cuts2, 2, &r, &p, NULL, NULL), MT_OK);
            mt_sse_parser_free(&p);
            assert_same(&ref, &r);
        }
    }
}

static void one_byte_at_a_time_gives_identical_events(void **state)
{
    (void)state;
    size_t len = sizeof sample - 1;
    rec ref, r;
    mt_sse_parser p;
    size_t cuts[sizeof sample];
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    assert_int_equal(feed_split(sample, len, NULL, 0, &ref, &p, NULL, NULL), MT_OK);
    mt_sse_parser_free(&p);
    assert_int_equal(feed_split(sample, len, cuts, len - 1, &r, &p, NULL, NULL), MT_OK);
    mt_sse_parser_free(&p);
    assert_same(&ref, &r);
}

static void raw_spans_reassemble_the_stream(void **state)
{
    (void)state;
    rec r;
    mt_sse_parser p;
    size_t len = sizeof sample - 1;
    assert_int_equal(feed_split(sample, len, NULL, 0, &r, &p, NULL, NULL), MT_OK);
    const uint8_t *pend;
    size_t plen;
    mt_sse_pending(&p, &pend, &plen);
    assert_int_equal(r.raw_len + plen, len);
    assert_memory_equal(r.raw, sample, r.raw_len);
    assert_memory_equal(pend, sample + r.raw_len, plen);
    /* The CRLF stream's blank line ends on its CR; the LF opens the next block. */
    assert_int_equal(r.ev[0].raw_len, 3 + 14 + 1);
    mt_sse_parser_free(&p);
}

/* A relay forwards the LF that closes a CRLF event at once (mt_sse_take_lone_lf);
 * what it forwards still reassembles the stream. */
static void lone_lf_of_a_crlf_event_can_be_taken(void **state)
{
    (void)state;
    static const char s[] = "data: a\r\n\r\ndata: b\r\n\r\n";
    rec r;
    mt_sse_parser p;
    memset(&r, 0, sizeof r);
    mt_sse_parser_init(&p, NULL);
    assert_int_equal(mt_sse_feed(&p, s, 11, record, &r, NULL), MT_OK); /* "data: a\r\n\r\n" */
    assert_int_equal(r.n, 1);
    assert_int_equal(r.ev[0].raw_len, 10);
    assert_true(mt_sse_take_lone_lf(&p));
    assert_false(mt_sse_take_lone_lf(&p));
    assert_int_equal(mt_sse_feed(&p, s + 11, sizeof s - 1 - 11, record, &r, NULL), MT_OK);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.ev[1].data, "b");
    assert_int_equal(r.ev[1].raw_len, 10); /* "data: b\r\n\r": its LF is pending */
    assert_true(mt_sse_take_lone_lf(&p));
    assert_int_equal(mt_sse_finish(&p, NULL), MT_OK);
    /* a partial line is never taken */
    assert_int_equal(mt_sse_feed(&p, "\ndata", 5, record, &r, NULL), MT_OK);
    assert_false(mt_sse_take_lone_lf(&p));
    mt_sse_parser_free(&p);
}

static void sample_fields_bom_cr_nul_id_and_retry(void **state)
{
    (void)state;
    rec r;
    mt_sse_parser p;
    assert_int_equal(feed_split(sample, sizeof sample - 1, NULL, 0, &r, &p, NULL, NULL), MT_OK);
    assert_false(r.ev[0].dispatched); /* BOM + comment */
    assert_string_equal(r.ev[1].type, "message");
    assert_string_equal(r.ev[1].id, "42");
    assert_string_equal(r.ev[1].data, "{\"jsonrpc\":\"2.0\",\"id\":1,\n\"result\":{}}");
    assert_int_equal(r.ev[1].retry, 1500);
    assert_string_equal(r.ev[2].data, "cr only"); /* CR alone ends lines */
    assert_false(r.ev[2].has_id);
    assert_string_equal(r.ev[3].data, "after nul id"); /* id with NUL ignored */
    assert_false(r.ev[3].has_id);
    assert_string_equal(r.ev[3].last_id, "42");
    assert_string_equal(r.ev[4].type, "ping");
    assert_string_equal(r.ev[4].data, "");
    assert_true(r.ev[4].dispatched);
    assert_string_equal(r.ev[5].data, "tail");
    assert_string_equal(r.ev[5].type, "message"); /* type does not persist */
    assert_int_equal(p.reconnect_ms, 1500);
    mt_sse_parser_free(&p);
}

static void cr_lf_and_crlf_endings_give_the_same_events(void **state)
{
    (void)state;
    rec a, b, c;
    mt_sse_parser p;
    whole("id: 1\ndata: a\ndata: b\n\n", &a, &p);
    mt_sse_parser_free(&p);
    whole("id: 1\rdata: a\rdata: b\r\r", &b, &p);
    mt_sse_parser_free(&p);
    whole("id: 1\r\ndata: a\r\ndata: b\r\n\r\n", &c, &p);
    assert_int_equal(mt_sse_finish(&p, NULL), MT_OK); /* the pending LF is not content */
    mt_sse_parser_free(&p);
    assert_int_equal(a.n, 1);
    assert_int_equal(b.n, 1);
    assert_int_equal(c.n, 1);
    assert_string_equal(a.ev[0].data, "a\nb");
    assert_string_equal(b.ev[0].data, "a\nb");
    assert_string_equal(c.ev[0].data, "a\nb");
    assert_string_equal(c.ev[0].id, "1");
}

static void bom_only_skipped_at_stream_start(void **state)
{
    (void)state;
    rec r;
    mt_sse_parser p;
    whole("\xEF\xBB\xBF"
          "data: x\n\n\xEF\xBB\xBF"
          "data: y\n\ndata: z\n\n",
          &r, &p);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.ev[0].data, "x");
    assert_false(r.ev[1].dispatched); /* "\xEF\xBB\xBFdata" is an unknown field */
    assert_string_equal(r.ev[2].data, "z");
    mt_sse_parser_free(&p);
    /* A BOM prefix that is not a BOM is line content. */
    whole("\xEF"
          "data: q\n\n",
          &r, &p);
    assert_int_equal(r.n, 1);
    assert_false(r.ev[0].dispatched);
    mt_sse_parser_free(&p);
}

static void invalid_retry_values_are_ignored(void **state)
{
    (void)state;
    rec r;
    mt_sse_parser p;
    whole("retry: 12a\ndata: a\n\nretry:\ndata: b\n\nretry: 99999999999999999999\ndata: c\n\n"
          "retry: 0\n\n",
          &r, &p);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.ev[0].retry, -1);
    assert_int_equal(r.ev[1].retry, -1);
    assert_int_equal(r.ev[2].retry, -1);
    assert_false(r.ev[3].dispatched);
    assert_int_equal(r.ev[3].retry, 0);
    assert_int_equal(p.reconnect_ms, 0);
    mt_sse_parser_free(&p);
}

static void data_may_carry_nul_bytes(void **state)
{
    (void)state;
    rec r;
    mt_sse_parser p;
    static const char s[] = "data: a\0b\n\n";
    assert_int_equal(feed_split(s, sizeof s - 1, NULL, 0, &r, &p, NULL, NULL), MT_OK);
    assert_int_equal(r.ev[0].data_len, 3);
    assert_memory_equal(r.ev[0].data, "a\0b", 3);
    mt_sse_parser_free(&p);
}

static void oversized_line_is_too_large_and_parser_stays_failed(void **state)
{
    (void)state;
    mt_sse_limits lim = {16, 1024};
    mt_sse_parser p;
    mt_errbuf eb;
    rec r;
    memset(&r, 0, sizeof r);
    mt_sse_parser_init(&p, &lim);
    assert_int_equal(mt_sse_feed(&p, "data: 0123456789", 16, record, &r, &eb), MT_OK);
    assert_int_equal(mt_sse_feed(&p, "x", 1, record, &r, &eb), MT_ERR_TOO_LARGE);
    assert_non_null(strstr(eb.msg, "line longer than 16 bytes"));
    assert_true(p.blk.cap <= 1024);
    assert_int_equal(mt_sse_feed(&p, "\n\n", 2, record, &r, &eb), MT_ERR_STATE);
    mt_sse_parser_free(&p);
}

static void oversized_event_is_too_large_with_bounded_memory(void **state)
{
    (void)state;
    mt_sse_limits lim = {64, 100};
    mt_sse_parser p;
    mt_errbuf eb;
    mt_sse_parser_init(&p, &lim);
    mt_err err = MT_OK;
    for (int i = 0; i < 100 && !err; i++)
        err = mt_sse_feed(&p, "data: 0123456789\n", 17, NULL, NULL, &eb);
    assert_int_equal(err, MT_ERR_TOO_LARGE);
    assert_non_null(strstr(eb.msg, "event larger than 100 bytes"));
    assert_true(p.blk.len <= 100);
    mt_sse_parser_free(&p);
    /* Exactly at the limit passes. */
    mt_sse_parser_init(&p, &lim);
    char ev[100];
    memset(ev, 'a', sizeof ev);
    memcpy(ev, "data:", 5);
    ev[98] = '\n';
    ev[99] = '\n';
    rec r;
    memset(&r, 0, sizeof r);
    lim.max_line = 100;
    p.lim = lim;
    assert_int_equal(mt_sse_feed(&p, ev, sizeof ev, record, &r, &eb), MT_OK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.ev[0].data_len, 93);
    mt_sse_parser_free(&p);
}

static mt_err stop_cb(void *ctx, const mt_sse_event *e, mt_errbuf *eb)
{
    (void)ctx;
    (void)e;
    return mt_fail(eb, MT_ERR_IO, "client went away");
}

static void callback_error_stops_the_feed(void **state)
{
    (void)state;
    mt_sse_parser p;
    mt_errbuf eb;
    mt_sse_parser_init(&p, NULL);
    assert_int_equal(mt_sse_feed(&p, "data: a\n\ndata: b\n\n", 18, stop_cb, NULL, &eb), MT_ERR_IO);
    assert_string_equal(eb.msg, "client went away");
    mt_sse_parser_free(&p);
}

static void finish_reports_complete_lines_without_blank_line(void **state)
{
    (void)state;
    mt_sse_parser p;
    mt_sse_parser_init(&p, NULL);
    assert_int_equal(mt_sse_feed(&p, ": ping\n", 7, NULL, NULL, NULL), MT_OK);
    assert_int_equal(mt_sse_finish(&p, NULL), MT_ERR_TRUNCATED);
    mt_sse_parser_free(&p);
    mt_sse_parser_init(&p, NULL);
    assert_int_equal(mt_sse_feed(&p, "\xEF\xBB\xBF", 3, NULL, NULL, NULL), MT_OK);
    assert_int_equal(mt_sse_finish(&p, NULL), MT_OK);
    mt_sse_parser_free(&p);
}

static void check_rewrite(const char *data, const char *base, const char *want)
{
    mt_buf out = MT_BUF_INIT;
    mt_errbuf eb;
    mt_err err = mt_sse_rewrite_endpoint(data, strlen(data), base, &out, &eb);
    if (err)
        fail_msg("rewrite %s: %s", data, eb.msg);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    mt_buf_free(&out);
}

static void endpoint_rewrite_points_at_the_sidecar(void **state)
{
    (void)state;
    check_rewrite("http://127.0.0.1:3001/messages?sessionId=abc", "https://mcp.example.com",
                  "https://mcp.example.com/messages?sessionId=abc");
    check_rewrite("/messages?sessionId=abc", "https://mcp.example.com/",
                  "https://mcp.example.com/messages?sessionId=abc");
    check_rewrite("//10.0.0.1:8080/m#f", "http://sc:9000/prefix", "http://sc:9000/prefix/m#f");
    check_rewrite("HTTPS://up?x=1", "http://sc", "http://sc/?x=1");
    check_rewrite("http://up", "http://sc", "http://sc/");
    check_rewrite("messages?sessionId=1", "http://sc", "messages?sessionId=1");
}

static void endpoint_rewrite_refuses_bad_input(void **state)
{
    (void)state;
    mt_buf out = MT_BUF_INIT;
    mt_errbuf eb;
    assert_int_equal(mt_sse_rewrite_endpoint("/m\r\ndata: x", 11, "http://sc", &out, &eb),
                     MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "CR, LF or NUL"));
    assert_int_equal(mt_sse_rewrite_endpoint("mailto:x", 8, "http://sc", &out, &eb), MT_ERR_PARSE);
    assert_int_equal(mt_sse_rewrite_endpoint("/m", 2, "ftp://sc", &out, &eb), MT_ERR_INVALID_ARG);
    assert_int_equal(mt_sse_rewrite_endpoint("/m", 2, "http://s c", &out, &eb), MT_ERR_INVALID_ARG);
    assert_int_equal(out.len, 0);
    mt_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whatwg_stock_example_joins_data_lines),
        cmocka_unit_test(whatwg_id_example_sets_and_resets_last_event_id),
        cmocka_unit_test(whatwg_empty_data_example_and_trailing_event_is_incomplete),
        cmocka_unit_test(whatwg_space_after_colon_is_optional),
        cmocka_unit_test(every_two_and_three_way_split_gives_identical_events),
        cmocka_unit_test(one_byte_at_a_time_gives_identical_events),
        cmocka_unit_test(raw_spans_reassemble_the_stream),
        cmocka_unit_test(sample_fields_bom_cr_nul_id_and_retry),
        cmocka_unit_test(lone_lf_of_a_crlf_event_can_be_taken),
        cmocka_unit_test(cr_lf_and_crlf_endings_give_the_same_events),
        cmocka_unit_test(bom_only_skipped_at_stream_start),
        cmocka_unit_test(invalid_retry_values_are_ignored),
        cmocka_unit_test(data_may_carry_nul_bytes),
        cmocka_unit_test(oversized_line_is_too_large_and_parser_stays_failed),
        cmocka_unit_test(oversized_event_is_too_large_with_bounded_memory),
        cmocka_unit_test(callback_error_stops_the_feed),
        cmocka_unit_test(finish_reports_complete_lines_without_blank_line),
        cmocka_unit_test(endpoint_rewrite_points_at_the_sidecar),
        cmocka_unit_test(endpoint_rewrite_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
