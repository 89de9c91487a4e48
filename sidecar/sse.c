/* Incremental text/event-stream parser (see sse.h).
 *
 * One pass over each fed chunk: find the next CR or LF, copy the run before
 * it into the block buffer (limits checked before the copy, so memory stays
 * bounded), and on a terminator interpret the completed line in place. Every
 * input byte is copied once into blk because a block's raw bytes must be
 * handed over contiguously; buffers grow geometrically and are reused across
 * blocks, so steady state allocates nothing. A blank line reports the block
 * and resets blk. The UTF-8 BOM check and the LF after a CR are the only
 * states that span chunks besides the block itself. */
#include "sse.h"

#include <string.h>

static const uint8_t bom_bytes[3] = {0xef, 0xbb, 0xbf};
#define BOM_NONE 4u /* decided: the stream has no BOM */

void mt_sse_parser_init(mt_sse_parser *p, const mt_sse_limits *lim)
{
    static const mt_sse_limits dflt = MT_SSE_LIMITS_DEFAULT;
    memset(p, 0, sizeof *p);
    p->lim = lim ? *lim : dflt;
    p->retry_ms = -1;
    p->reconnect_ms = -1;
}

void mt_sse_parser_free(mt_sse_parser *p)
{
    if (!p)
        return;
    mt_buf_free(&p->blk);
    mt_buf_free(&p->data);
    mt_buf_free(&p->type);
    mt_buf_free(&p->id);
}

void mt_sse_pending(const mt_sse_parser *p, const uint8_t **raw, size_t *len)
{
    *raw = p->blk.data;
    *len = p->blk.len;
}

/* Sets b to v[0..n) with a NUL after it (not counted in len). */
static mt_err set_nul(mt_buf *b, const uint8_t *v, size_t n)
{
    mt_buf_reset(b);
    mt_err err = mt_buf_reserve(b, n + 1);
    if (err)
        return err;
    if (n)
        memcpy(b->data, v, n);
    b->data[n] = 0;
    b->len = n;
    return MT_OK;
}

static mt_err dispatch(mt_sse_parser *p, mt_sse_cb cb, void *ctx, mt_errbuf *eb)
{
    mt_sse_event ev;
    mt_err err;
    memset(&ev, 0, sizeof ev);
    /* Data ends in \n when non-empty; the event omits it. */
    ev.dispatched = p->data.len > 0;
    size_t dlen = ev.dispatched ? p->data.len - 1 : 0;
    if ((err = mt_buf_reserve(&p->data, 1)))
        return err;
    if (p->data.data)
        p->data.data[dlen] = 0;
    ev.data = p->data.data ? (const char *)p->data.data : "";
    ev.data_len = dlen;
    if (p->type.len) {
        ev.type = (const char *)p->type.data;
        ev.type_len = p->type.len;
    } else {
        ev.type = "message";
        ev.type_len = 7;
    }
    ev.last_event_id = p->id.data ? (const char *)p->id.data : "";
    ev.last_event_id_len = p->id.len;
    if (p->has_id) {
        ev.id = ev.last_event_id;
        ev.id_len = ev.last_event_id_len;
    }
    ev.retry_ms = p->retry_ms;
    ev.raw = p->blk.data;
    ev.raw_len = p->blk.len;
    err = cb ? cb(ctx, &ev, eb) : MT_OK;
    p->consumed += p->blk.len;
    mt_buf_reset(&p->blk);
    mt_buf_reset(&p->data);
    mt_buf_reset(&p->type);
    p->line_start = 0;
    p->lines = 0;
    p->has_id = false;
    p->retry_ms = -1;
    return err;
}

static bool field_is(const uint8_t *f, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n == k && memcmp(f, name, k) == 0;
}

/* Interprets one complete non-blank line (the spec's "process the field"). */
static mt_err process_line(mt_sse_parser *p, const uint8_t *line, size_t n)
{
    if (line[0] == ':')
        return MT_OK; /* comment */
    const uint8_t *colon = memchr(line, ':', n);
    size_t flen = colon ? (size_t)(colon - line) : n;
    const uint8_t *v = colon ? colon + 1 : line + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen && v[0] == ' ')
        v++, vlen--;

    if (field_is(line, flen, "data")) {
        mt_err err = mt_buf_append(&p->data, v, vlen);
        return err ? err : mt_buf_append_byte(&p->data, '\n');
    }
    if (field_is(line, flen, "event"))
        return set_nul(&p->type, v, vlen);
    if (field_is(line, flen, "id")) {
        if (vlen && memchr(v, 0, vlen))
            return MT_OK; /* spec: ignore ids with NUL */
        p->has_id = true;
        return set_nul(&p->id, v, vlen);
    }
    if (field_is(line, flen, "retry")) {
        if (vlen == 0)
            return MT_OK;
        int64_t r = 0;
        for (size_t i = 0; i < vlen; i++) {
            if (v[i] < '0' || v[i] > '9')
                return MT_OK;
            /* Values past int64 are ignored like any other invalid value. */
            if (r > (INT64_MAX - (v[i] - '0')) / 10)
                return MT_OK;
            r = r * 10 + (v[i] - '0');
        }
        p->retry_ms = r;
        p->reconnect_ms = r;
    }
    return MT_OK;
}

mt_err mt_sse_feed(mt_sse_parser *p, const void *bytes, size_t len, mt_sse_cb cb, void *ctx,
                   mt_errbuf *eb)
{
    const uint8_t *in = bytes;
    size_t i = 0;
    mt_err err = MT_OK;
    if (p->failed)
        return mt_fail(eb, MT_ERR_STATE, "SSE parser already failed");
    if (!in && len)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_sse_feed: bytes is NULL");

    /* The BOM is only looked for in the stream's first three bytes. */
    while (p->bom < 3 && i < len) {
        if (in[i] != bom_bytes[p->bom]) {
            p->bom = BOM_NONE; /* bytes matched so far are line content */
            break;
        }
        if ((err = mt_buf_append_byte(&p->blk, in[i])))
            goto fail;
        i++;
        if (++p->bom == 3)
            p->line_start = p->blk.len;
    }

    while (i < len) {
        if (p->skip_lf) {
            p->skip_lf = false;
            if (in[i] == '\n') {
                if ((err = mt_buf_append_byte(&p->blk, '\n')))
                    goto fail;
                p->line_start = p->blk.len;
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < len && in[j] != '\n' && in[j] != '\r')
            j++;
        size_t line_len = p->blk.len - p->line_start + (j - i);
        if (line_len > p->lim.max_line) {
            err = mt_fail(eb, MT_ERR_TOO_LARGE, "SSE line longer than %zu bytes (max_line)",
                          p->lim.max_line);
            goto fail;
        }
        size_t blk_len = p->blk.len + (j - i) + (j < len ? 1 : 0);
        if (blk_len > p->lim.max_event) {
            err = mt_fail(eb, MT_ERR_TOO_LARGE, "SSE event larger than %zu bytes (max_event)",
                          p->lim.max_event);
            goto fail;
        }
        if ((err = mt_buf_reserve(&p->blk, j - i + 1)))
            goto fail;
        memcpy(p->blk.data + p->blk.len, in + i, j - i);
        p->blk.len += j - i;
        if (j == len)
            break;

        p->blk.data[p->blk.len++] = in[j];
        p->skip_lf = in[j] == '\r';
        i = j + 1;
        size_t n = p->blk.len - 1 - p->line_start;
        if (n == 0) {
            if ((err = dispatch(p, cb, ctx, eb)))
                goto fail;
        } else {
            if ((err = process_line(p, p->blk.data + p->line_start, n)))
                goto fail;
            p->line_start = p->blk.len;
            p->lines++;
        }
    }
    return MT_OK;
fail:
    p->failed = true;
    return err;
}

bool mt_sse_take_lone_lf(mt_sse_parser *p)
{
    if (p->failed || p->lines || p->blk.len != 1 || p->blk.data[0] != '\n' ||
        p->line_start != 1)
        return false;
    p->blk.len = 0;
    p->line_start = 0;
    return true;
}

mt_err mt_sse_finish(mt_sse_parser *p, mt_errbuf *eb)
{
    if (p->failed)
        return mt_fail(eb, MT_ERR_STATE, "SSE parser already failed");
    /* A skipped BOM or the LF of a CRLF are not content; a partial line
     * (including a BOM prefix that never completed) or complete lines
     * without their closing blank line are. */
    if (p->blk.len > p->line_start || p->lines)
        return mt_fail(eb, MT_ERR_TRUNCATED,
                       "SSE stream ended inside an event: %zu bytes without the closing blank "
                       "line were not dispatched",
                       p->blk.len);
    return MT_OK;
}

/* ---- 2024-11-05 endpoint rewrite --------------------------------------- */

static bool is_alpha(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of an RFC 3986 scheme followed by ':', else 0. */
static size_t scheme_len(const char *s, size_t n)
{
    if (n == 0 || !is_alpha((uint8_t)s[0]))
        return 0;
    for (size_t i = 1; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c == ':')
            return i;
        if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.')
            return 0;
    }
    return 0;
}

mt_err mt_sse_rewrite_endpoint(const char *data, size_t len, const char *base_url, mt_buf *out,
                               mt_errbuf *eb)
{
    if (!out || !base_url || (!data && len))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_sse_rewrite_endpoint: NULL argument");
    size_t blen = strlen(base_url);
    if (!((blen > 7 && memcmp(base_url, "http://", 7) == 0) ||
          (blen > 8 && memcmp(base_url, "https://", 8) == 0)))
        return mt_fail(eb, MT_ERR_INVALID_ARG,
                       "sidecar base URL '%.*s' must start with http:// or https://",
                       (int)(blen > 200 ? 200 : blen), base_url);
    for (size_t i = 0; i < blen; i++)
        if ((uint8_t)base_url[i] <= 0x20 || base_url[i] == 0x7f)
            return mt_fail(eb, MT_ERR_INVALID_ARG,
                           "sidecar base URL contains a control character or space");
    while (blen > 8 && base_url[blen - 1] == '/')
        blen--;
    for (size_t i = 0; i < len; i++)
        if (data[i] == '\r' || data[i] == '\n' || data[i] == 0)
            return mt_fail(eb, MT_ERR_PARSE,
                           "endpoint event data contains CR, LF or NUL at byte %zu", i);

    const char *rest = NULL; /* path-abempty + query + fragment to keep */
    size_t rlen = 0;
    size_t sl = scheme_len(data, len);
    const char *auth = NULL;
    if (sl) {
        if (len < sl + 3 || memcmp(data + sl, "://", 3) != 0)
            return mt_fail(eb, MT_ERR_PARSE, "endpoint URI '%.*s' has a scheme but no authority",
                           (int)(len > 200 ? 200 : len), data);
        auth = data + sl + 3;
    } else if (len >= 2 && data[0] == '/' && data[1] == '/') {
        auth = data + 2;
    }
    if (auth) {
        const char *end = data + len;
        const char *q = auth;
        while (q < end && *q != '/' && *q != '?' && *q != '#')
            q++;
        rest = q;
        rlen = (size_t)(end - q);
    } else if (len && data[0] == '/') {
        rest = data;
        rlen = len;
    } else {
        return mt_buf_append(out, data, len); /* relative: resolves to the sidecar already */
    }
    size_t start = out->len;
    mt_err err = mt_buf_append(out, base_url, blen);
    /* "http://h:1" + "?x" needs the path separator the authority implied. */
    if (!err && (rlen == 0 || rest[0] != '/'))
        err = mt_buf_append_byte(out, '/');
    if (!err)
        err = mt_buf_append(out, rest, rlen);
    if (err)
        out->len = start;
    return err;
}
