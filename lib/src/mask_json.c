/* JSON side of the masking engine: a single-pass recursive-descent walker
 * that validates the text, copies everything that is not a string value
 * verbatim and rewrites only the strings that hold something to mask.
 *
 * No tree is built and nothing is copied token by token: the walker keeps
 * the offset up to which the input is already in the output, and only a
 * string that is rewritten flushes the bytes before it (one memcpy) and
 * moves that offset past itself; the rest is copied once at the end. String
 * bodies are walked from a 64-bit mask of their quotes, backslashes and
 * control bytes per 64-byte window (mask_simd.c). JSON pointers are
 * built only when something reads them (allow.paths, explain). A string
 * without escapes is scanned in place (zero copies); a string with escapes
 * is decoded once into the context's buffer.
 * Strings longer than the rules' max_string are replaced whole by
 * [REDACTED:oversize] without being scanned, which bounds the work and
 * memory spent on one value. Nesting deeper than max_depth fails with
 * MT_ERR_TOO_LARGE and invalid JSON or UTF-8 with MT_ERR_PARSE; in both
 * cases nothing is appended and the caller masks the input as text. */
#include <stdio.h>
#include <string.h>

#include "mask_internal.h"
#include "mcptrail/json.h"


#define WALK_ESCAPES 512u

typedef struct walker {
    mt_mask_ctx *c;
    const char *p;
    size_t len, i;
    size_t flushed; /* p[0..flushed) is in out (or replaced there) */
    mt_buf *out;
    mt_mask_summary *sum;
    mt_errbuf *eb;
    unsigned depth;
    bool paths; /* keep c->path: allow.paths or an explain callback reads it */
    /* Offsets (from the opening quote + 1) of the backslashes the scan of
     * the current string met, so the decoder need not look for them again;
     * past WALK_ESCAPES it looks with memchr. */
    uint32_t esc_at[WALK_ESCAPES];
} walker;

mt_err mask_json_escape(mt_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t at = 0;
    mt_err err;
    bool high = false; /* not needed here */
    for (size_t i = 0; i < len; i++) {
        i += mask_str_stop(s + i, len - i, &high);
        if (i >= len)
            break;
        unsigned char ch = (unsigned char)s[i];
        if ((err = mt_buf_append(out, s + at, i - at)))
            return err;
        char e[7] = {'\\', 0, 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (ch) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        default:
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[ch >> 4];
            e[5] = hex[ch & 15];
            n = 6;
        }
        if ((err = mt_buf_append(out, e, n)))
            return err;
        at = i + 1;
    }
    return mt_buf_append(out, s + at, len - at);
}

/* Strict UTF-8 (as mt_utf8_check) with an eight-bytes-at-a-time ASCII path:
 * only the stretches around non-ASCII bytes go through the full check. */
static bool utf8_ok(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (n - i >= 8) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            if (x & 0x8080808080808080ull)
                break;
            i += 8;
        }
        while (i < n && (unsigned char)p[i] < 0x80)
            i++;
        if (i >= n)
            break;
        /* One multi-byte sequence: at most 4 bytes, checked on its own. */
        unsigned char c0 = (unsigned char)p[i];
        size_t sl = c0 >= 0xF0 ? 4 : c0 >= 0xE0 ? 3 : 2;
        if (sl > n - i || mt_utf8_check(p + i, sl) != sl)
            return false;
        i += sl;
    }
    return true;
}

static mt_err perr(walker *w, const char *what)
{
    return mt_fail(w->eb, MT_ERR_PARSE, "mask: not JSON at byte %zu: %s", w->i, what);
}

static mt_err nomem(walker *w) { return mt_fail(w->eb, MT_ERR_NOMEM, "mask: out of memory"); }

static void ws(walker *w)
{
    while (w->i < w->len) {
        char ch = w->p[w->i];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
        w->i++;
    }
}

/* Copies the input up to p[upto) into the output (everything since the
 * last rewritten string). */
static mt_err flush_to(walker *w, size_t upto)
{
    if (mt_buf_append(w->out, w->p + w->flushed, upto - w->flushed))
        return nomem(w);
    w->flushed = upto;
    return MT_OK;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static bool hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(s[k]);
        if (h < 0)
            return false;
        *v = *v * 16 + (unsigned)h;
    }
    return true;
}

/* Writes cp as UTF-8 at u; returns the bytes written (1-4). */
static size_t put_utf8(uint8_t *u, unsigned cp)
{
    size_t n;
    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xC0 | (cp >> 6));
        u[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xE0 | (cp >> 12));
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xF0 | (cp >> 18));
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return n;
}

/* Parses the string at w->i (on its opening quote). raw, rawlen: the
 * source bytes between the quotes; s, n: the decoded text (== raw when
 * there were no escapes, else in dec). */
static mt_err string(walker *w, mt_buf *dec, size_t max_decode, const char **raw, size_t *rawlen,
                     const char **s, size_t *n)
{
    size_t st = ++w->i, nesc = 0; /* escapes kept in w->esc_at */
    bool esc = false, high = false, closed = false, esc_more = false;
    /* 64 bytes at a time: a mask of the quotes, backslashes and control
     * bytes, walked bit by bit (text full of \n escapes stops often). The
     * byte after a backslash is neither a stop nor counted as non-ASCII
     * here; the decoder checks it. */
    while (!closed && w->i < w->len) {
        size_t base = w->i, blk = w->len - base < 64 ? w->len - base : 64;
        uint64_t hi, m = mask_str_masks64(w->p + base, w->len - base, &hi);
        size_t next = base + blk;
        while (m) {
            unsigned k = (unsigned)__builtin_ctzll(m);
            unsigned char ch = (unsigned char)w->p[base + k];
            if (ch == '"') {
                hi &= ((uint64_t)1 << k) - 1;
                w->i = base + k;
                closed = true;
                break;
            }
            w->i = base + k;
            if (ch < 0x20)
                return perr(w, "control character in a string");
            esc = true;
            if (nesc < WALK_ESCAPES && w->i - st <= UINT32_MAX)
                w->esc_at[nesc++] = (uint32_t)(w->i - st);
            else
                esc_more = true;
            if (w->len - w->i < 2)
                return perr(w, "unterminated string");
            if (k == 63) {
                next = base + 65; /* the escaped byte opens no window */
                break;
            }
            m &= ~((uint64_t)3 << k);
            hi &= ~((uint64_t)2 << k);
        }
        high = high || hi;
        if (!closed)
            w->i = next;
    }
    if (!closed)
        return perr(w, "unterminated string");
    *raw = w->p + st;
    *rawlen = w->i - st;
    w->i++; /* closing quote */
    if (!esc || *rawlen > max_decode) {
        /* Escapes are ASCII: checking the raw bytes checks the text. An
         * oversize string is not decoded (its caller replaces it whole). */
        if (high && !utf8_ok(*raw, *rawlen))
            return mt_fail(w->eb, MT_ERR_PARSE, "mask: invalid UTF-8 in a JSON string at byte %zu",
                           st);
        *s = *raw;
        *n = *rawlen;
        return MT_OK;
    }
    /* Decoded text is never longer than its escaped form: write it in
     * place. Every backslash of raw is followed by a byte of raw (the
     * scan above skipped it). */
    mt_buf_reset(dec);
    const char *r = *raw;
    size_t rl = *rawlen;
    if (mt_buf_reserve(dec, rl))
        return nomem(w);
    uint8_t *d = dec->data;
    size_t ei = 0;
    for (size_t k = 0; k < rl; k++) {
        /* The next backslash at or after k: from the scan while it kept
         * them (escapes it skipped, as the low half of a surrogate pair,
         * are behind k), then memchr. */
        while (ei < nesc && w->esc_at[ei] < k)
            ei++;
        size_t next;
        if (ei < nesc) {
            next = w->esc_at[ei++];
        } else if (esc_more) {
            const char *bs = memchr(r + k, '\\', rl - k);
            next = bs ? (size_t)(bs - r) : rl;
        } else {
            next = rl;
        }
        size_t run = next - k;
        memcpy(d, r + k, run);
        d += run;
        if (next >= rl)
            break;
        k += run + 1;
        char e = r[k];
        char o;
        switch (e) {
        case '"': o = '"'; break;
        case '\\': o = '\\'; break;
        case '/': o = '/'; break;
        case 'b': o = '\b'; break;
        case 'f': o = '\f'; break;
        case 'n': o = '\n'; break;
        case 'r': o = '\r'; break;
        case 't': o = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (k + 4 >= rl + 0 || k + 5 > rl || !hex4(r + k + 1, &cp))
                return perr(w, "bad \\u escape");
            k += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && k + 6 < rl + 1 && k + 6 <= rl - 0 &&
                r[k + 1] == '\\' && r[k + 2] == 'u' && hex4(r + k + 3, &lo) && lo >= 0xDC00 &&
                lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                k += 6;
            } else if (cp >= 0xD800 && cp < 0xE000) {
                cp = 0xFFFD; /* lone surrogate: not representable in UTF-8 */
            }
            d += put_utf8(d, cp);
            continue;
        }
        default:
            return perr(w, "bad escape");
        }
        *d++ = (uint8_t)o;
    }
    dec->len = (size_t)(d - dec->data);
    if (high && !utf8_ok((const char *)dec->data, dec->len))
        return mt_fail(w->eb, MT_ERR_PARSE, "mask: invalid UTF-8 in a JSON string at byte %zu", st);
    *s = (const char *)dec->data;
    *n = dec->len;
    return MT_OK;
}

static mt_err path_push(walker *w, const char *seg, size_t n, size_t *saved)
{
    mt_buf *p = &w->c->path;
    *saved = p->len ? p->len - 1 : 0; /* drop the NUL */
    p->len = *saved;
    if (mt_buf_append_byte(p, '/'))
        return nomem(w);
    for (size_t k = 0; k < n; k++) {
        const char *rep = seg[k] == '~' ? "~0" : seg[k] == '/' ? "~1" : NULL;
        if (rep ? mt_buf_append(p, rep, 2) : mt_buf_append_byte(p, (uint8_t)seg[k]))
            return nomem(w);
    }
    return mt_buf_append_byte(p, 0) ? nomem(w) : MT_OK;
}

static void path_pop(walker *w, size_t saved)
{
    w->c->path.len = saved;
    mt_buf_append_byte(&w->c->path, 0); /* capacity exists: cannot fail */
}

static const char *path_str(walker *w)
{
    return w->paths && w->c->path.len ? (const char *)w->c->path.data : "";
}

/* Pattern segments "*" match any one segment. */
static bool path_allowed(walker *w)
{
    const mt_mask_rules *r = w->c->e->rules;
    const char *cur = path_str(w);
    for (size_t i = 0; i < r->n_paths; i++) {
        const char *a = r->allow_paths[i], *b = cur;
        while (*a && *b) {
            if (a[0] == '*' && (a[1] == '/' || !a[1]) && a[-1] == '/') {
                a++;
                while (*b && *b != '/')
                    b++;
                continue;
            }
            if (*a != *b)
                break;
            a++;
            b++;
        }
        if (!*a && !*b)
            return true;
    }
    return false;
}

/* mask_key_class through the context's cache (a pure function of the
 * name, so a cached answer is the answer). */
static int key_class(mt_mask_ctx *c, const char *k, size_t n)
{
    if (n == 0 || n > MASK_KEYCACHE_KEYMAX)
        return mask_key_class(k, n);
    unsigned h = (unsigned)n * 31u + (unsigned char)k[0] * 7u + (unsigned char)k[n - 1] +
                 (unsigned char)k[n / 2] * 13u;
    mask_keycache_ent *e = &c->keycache[h % MASK_KEYCACHE_SLOTS];
    if (e->len == n && memcmp(e->key, k, n) == 0)
        return e->cls;
    e->cls = (uint8_t)mask_key_class(k, n);
    e->len = (uint8_t)n;
    memcpy(e->key, k, n);
    return e->cls;
}

static mt_err value(walker *w, int field, int *name_class);

static mt_err string_value(walker *w, int field, int *name_class)
{
    mt_mask_ctx *c = w->c;
    const mt_mask_engine *e = c->e;
    const char *raw, *s;
    size_t rawlen, n, q0 = w->i;
    mt_err err = string(w, &c->str, e->rules->max_string, &raw, &rawlen, &s, &n);
    if (err)
        return err;
    if (rawlen > e->rules->max_string) {
        c->nspans = 0;
        mask_span_push(c, 0, n, e->oversize_det);
        mask_report_whole(c, e->oversize_det, n, w->sum, path_str(w));
        if ((err = flush_to(w, q0)))
            return err;
        w->flushed = w->i;
        return mt_buf_append(w->out, "\"[REDACTED:oversize]\"", 21) ? nomem(w) : MT_OK;
    }
    if (name_class)
        *name_class = key_class(c, s, n);
    if (e->rules->n_paths && path_allowed(w))
        return MT_OK;
    /* field: the mask_key_class of the member's name */
    if (e->rules->field_rule &&
        ((field == MASK_KEY_SECRET && !mask_value_is_benign(s, n)) ||
         (field == MASK_KEY_NAMED && mask_value_looks_generated(s, n)))) {
        c->nspans = 0;
        if (mask_span_push(c, 0, n, e->field_det))
            return nomem(w);
    } else if ((err = mask_scan(c, s, n, w->eb))) {
        return err;
    }
    if (c->nspans == 0)
        return MT_OK; /* copied with what follows */
    if ((err = flush_to(w, q0)))
        return err;
    w->flushed = w->i;
    if (mask_any_drop(c)) {
        for (size_t k = 0; k < c->nspans; k++)
            mask_report_whole(c, c->spans[k].det, c->spans[k].end - c->spans[k].start, w->sum,
                              path_str(w));
        return mt_buf_append(w->out, "null", 4) ? nomem(w) : MT_OK;
    }
    /* A string without escapes holds nothing JSON would escape: its
     * pieces and the markers go out as they are. */
    if (mt_buf_append_byte(w->out, '"') ||
        (err = mask_emit(c, s, n, w->out, s != raw, w->sum, path_str(w), w->eb)) ||
        mt_buf_append_byte(w->out, '"'))
        return err ? err : nomem(w);
    return MT_OK;
}

static bool name_is(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    if (n != wl)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != w[i])
            return false;
    }
    return true;
}

/* After a member or an element: a ',' (copied, whitespace after it too;
 * *more = true) or the closing bracket (copied; *more = false). */
static mt_err next_or_close(walker *w, char close, bool *more)
{
    ws(w);
    if (w->i < w->len && w->p[w->i] == ',') {
        w->i++;
        *more = true;
        ws(w);
        return MT_OK;
    }
    if (w->i < w->len && w->p[w->i] == close) {
        w->i++;
        *more = false;
        return MT_OK;
    }
    return perr(w, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
}

static mt_err object(walker *w)
{
    mt_err err;
    int named = MASK_KEY_PLAIN; /* {"name": "DB_PASSWORD", "value": "..."} */
    w->i++;
    ws(w);
    if (w->i < w->len && w->p[w->i] == '}') {
        w->i++;
        return MT_OK;
    }
    for (;;) {
        if (w->i >= w->len || w->p[w->i] != '"')
            return perr(w, "expected a member name");
        const char *raw, *k;
        size_t rawlen, kn, saved;
        if ((err = string(w, &w->c->key, SIZE_MAX, &raw, &rawlen, &k, &kn)))
            return err;
        int field = key_class(w->c, k, kn);
        if (field == MASK_KEY_PLAIN && named != MASK_KEY_PLAIN && name_is(k, kn, "value"))
            field = named;
        bool is_name = name_is(k, kn, "name") || name_is(k, kn, "key");
        if (w->paths && (err = path_push(w, k, kn, &saved)))
            return err;
        ws(w);
        if (w->i >= w->len || w->p[w->i] != ':')
            return perr(w, "expected ':'");
        w->i++;
        ws(w);
        int looks = MASK_KEY_PLAIN;
        if ((err = value(w, field, is_name ? &looks : NULL)))
            return err;
        if (is_name && looks != MASK_KEY_PLAIN)
            named = looks;
        if (w->paths)
            path_pop(w, saved);
        bool more;
        if ((err = next_or_close(w, '}', &more)) || !more)
            return err;
    }
}

static mt_err array(walker *w, int field)
{
    mt_err err;
    w->i++;
    ws(w);
    if (w->i < w->len && w->p[w->i] == ']') {
        w->i++;
        return MT_OK;
    }
    for (size_t idx = 0;; idx++) {
        size_t saved = 0;
        if (w->paths) {
            char seg[24];
            int sn = snprintf(seg, sizeof seg, "%zu", idx);
            if ((err = path_push(w, seg, (size_t)sn, &saved)))
                return err;
        }
        if ((err = value(w, field, NULL)))
            return err;
        if (w->paths)
            path_pop(w, saved);
        bool more;
        if ((err = next_or_close(w, ']', &more)) || !more)
            return err;
    }
}

static bool digit(char ch) { return ch >= '0' && ch <= '9'; }

static mt_err number(walker *w)
{
    const char *p = w->p;
    if (w->i < w->len && p[w->i] == '-')
        w->i++;
    if (w->i >= w->len || !digit(p[w->i]))
        return perr(w, "bad number");
    if (p[w->i] == '0')
        w->i++;
    else
        while (w->i < w->len && digit(p[w->i]))
            w->i++;
    if (w->i < w->len && p[w->i] == '.') {
        w->i++;
        if (w->i >= w->len || !digit(p[w->i]))
            return perr(w, "bad number");
        while (w->i < w->len && digit(p[w->i]))
            w->i++;
    }
    if (w->i < w->len && (p[w->i] == 'e' || p[w->i] == 'E')) {
        w->i++;
        if (w->i < w->len && (p[w->i] == '+' || p[w->i] == '-'))
            w->i++;
        if (w->i >= w->len || !digit(p[w->i]))
            return perr(w, "bad number");
        while (w->i < w->len && digit(p[w->i]))
            w->i++;
    }
    return MT_OK;
}

static mt_err literal(walker *w, const char *lit)
{
    size_t n = strlen(lit);
    if (w->len - w->i < n || memcmp(w->p + w->i, lit, n) != 0)
        return perr(w, "unexpected character");
    w->i += n;
    return MT_OK;
}

static mt_err value(walker *w, int field, int *name_class)
{
    mt_err err;
    if (w->i >= w->len)
        return perr(w, "unexpected end");
    char ch = w->p[w->i];
    if (ch == '"')
        return string_value(w, field, name_class);
    if (ch == '{' || ch == '[') {
        if (++w->depth > w->c->e->rules->max_depth)
            return mt_fail(w->eb, MT_ERR_TOO_LARGE,
                           "mask: JSON nesting deeper than %u at byte %zu; masked as text",
                           w->c->e->rules->max_depth, w->i);
        err = ch == '{' ? object(w) : array(w, field);
        w->depth--;
        return err;
    }
    if (ch == 't')
        return literal(w, "true");
    if (ch == 'f')
        return literal(w, "false");
    if (ch == 'n')
        return literal(w, "null");
    return number(w);
}

mt_err mt_mask_json(mt_mask_ctx *c, const void *in, size_t len, mt_buf *out, mt_mask_summary *sum,
                    mt_errbuf *eb)
{
    walker w; /* field by field: esc_at is written before it is read */
    w.c = c;
    w.p = in;
    w.len = len;
    w.i = w.flushed = 0;
    w.out = out;
    w.sum = sum;
    w.eb = eb;
    w.depth = 0;
    w.paths = c->e->rules->n_paths > 0 || c->explain;
    size_t saved_len = out->len;
    mt_mask_summary saved_sum;
    if (sum)
        saved_sum = *sum;
    mt_buf_reset(&c->path);
    ws(&w);
    mt_err err = value(&w, MASK_KEY_PLAIN, NULL);
    if (!err)
        ws(&w);
    if (!err && w.i != len)
        err = perr(&w, "trailing data after the JSON value");
    if (!err)
        err = flush_to(&w, len);
    if (err) {
        out->len = saved_len;
        if (sum)
            *sum = saved_sum;
    }
    return err;
}
