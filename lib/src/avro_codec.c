/* Avro binary encoding between jansson values and bytes, plus the single-object
 * framing (C3 01, 8-byte little-endian CRC-64-AVRO fingerprint, datum).
 *
 * How: the encoder walks the schema's pre-resolved node tree (avro_internal.h)
 * alongside the JSON value and writes zig-zag varints, lengths and raw bytes
 * straight into an mt_buf; records are matched by iterating the object once in
 * its insertion order (usually the schema's order, so each key is one strcmp)
 * instead of a hash lookup per field. The decoder treats its input as hostile:
 * every length and item count is checked against the hard limits of avro.h
 * and against the bytes that remain (using each type's minimal encoded size)
 * before anything is allocated, varints are at most 10 bytes, strings must be
 * valid UTF-8 (jansson requires it), nesting is bounded, and the datum must
 * end exactly at the end of the input. Errors name the byte offset (from the
 * start of the caller's buffer) or the field path. */
#include "avro_internal.h"

#include "mcptrail/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoder -------------------------------------------------------------- */

typedef struct path_elem {
    const char *name; /* field name, or NULL for an array index / map key */
    size_t index;
} path_elem;

typedef struct enc_ctx {
    mt_errbuf *eb;
    int depth;
    path_elem path[MT_AVRO_MAX_DEPTH + 2];
} enc_ctx;

/* Formats "field a.b[3].c: <msg>" from the current path. */
static mt_err enc_fail(enc_ctx *c, mt_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static mt_err enc_fail(enc_ctx *c, mt_err err, const char *fmt, ...)
{
    if (!c->eb)
        return err;
    char where[256] = "";
    size_t w = 0;
    for (int i = 0; i < c->depth && i < MT_AVRO_MAX_DEPTH + 2 && w < sizeof where; i++) {
        int r;
        if (c->path[i].name)
            r = snprintf(where + w, sizeof where - w, "%s%s", w ? "." : "", c->path[i].name);
        else
            r = snprintf(where + w, sizeof where - w, "[%zu]", c->path[i].index);
        if (r < 0)
            break;
        w += (size_t)r;
    }
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mt_fail(c->eb, err, "cannot encode %s: %s", w ? where : "datum", msg);
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

/* Hex digit values, -1 for anything else: a table because every hash in a
 * SessionEvent passes through here. */
static const int8_t hexval_tab[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static inline int hexval(char ch)
{
    return hexval_tab[(uint8_t)ch] - 1; /* stored +1 so absent entries (0) mean -1 */
}

static mt_err put_hex(enc_ctx *c, const av_node *n, const json_t *v, mt_buf *b)
{
    if (!json_is_string(v))
        return enc_fail(c, MT_ERR_SCHEMA, "%s needs a hex string, got %s", av_type_name(n),
                        json_kind(v));
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len % 2)
        return enc_fail(c, MT_ERR_SCHEMA, "hex string has odd length %zu", len);
    size_t nb = len / 2;
    if (n->type == AV_FIXED && nb != n->n)
        return enc_fail(c, MT_ERR_SCHEMA, "fixed %s needs %zu bytes (%zu hex digits), got %zu",
                        n->fullname, n->n, n->n * 2, nb);
    mt_err err = n->type == AV_BYTES ? av_put_long(b, (int64_t)nb) : MT_OK;
    if (!err)
        err = mt_buf_reserve(b, nb);
    if (err)
        return enc_fail(c, err, "%s", mt_strerror(err));
    uint8_t *p = b->data + b->len;
    for (size_t i = 0; i < nb; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return enc_fail(c, MT_ERR_SCHEMA, "not a hex digit at position %zu", 2 * i);
        p[i] = (uint8_t)(hi << 4 | lo);
    }
    b->len += nb;
    return MT_OK;
}

static mt_err enc(enc_ctx *c, const av_node *n, const json_t *v, int in_default, mt_buf *b);

static mt_err enc_record(enc_ctx *c, const av_node *n, const json_t *v, int in_default, mt_buf *b)
{
    if (!json_is_object(v))
        return enc_fail(c, MT_ERR_SCHEMA, "record %s needs a JSON object, got %s", n->fullname,
                        json_kind(v));
    const json_t *stackvals[48];
    const json_t **vals = stackvals;
    mt_err err = MT_OK;
    if (n->n > sizeof stackvals / sizeof stackvals[0]) {
        vals = malloc(n->n * sizeof *vals);
        if (!vals)
            return enc_fail(c, MT_ERR_NOMEM, "out of memory");
    }
    memset(vals, 0, n->n * sizeof *vals);
    size_t next = 0;
    json_t *obj = (json_t *)v; /* jansson's iterator API is not const-correct */
    for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        size_t idx = n->n;
        if (next < n->n && n->fields[next].name_len == klen && n->fields[next].name[0] == key[0] &&
            memcmp(n->fields[next].name, key, klen) == 0) {
            idx = next;
        } else {
            for (size_t k = 0; k < n->n; k++) {
                if (n->fields[k].name_len == klen && memcmp(n->fields[k].name, key, klen) == 0) {
                    idx = k;
                    break;
                }
            }
        }
        if (idx == n->n) {
            err = enc_fail(c, MT_ERR_SCHEMA, "record %s has no field \"%s\"", n->fullname, key);
            goto done;
        }
        vals[idx] = json_object_iter_value(it);
        next = idx + 1;
    }
    c->depth++;
    for (size_t i = 0; i < n->n && !err; i++) {
        const av_field *f = &n->fields[i];
        c->path[c->depth - 1].name = f->name;
        if (vals[i])
            err = enc(c, f->type, vals[i], in_default, b);
        else if (f->def)
            err = enc(c, f->type, f->def, 1, b);
        else
            err = enc_fail(c, MT_ERR_SCHEMA,
                           "required field is missing (record %s has no default for it)",
                           n->fullname);
    }
    c->depth--;
done:
    if (vals != stackvals)
        free(vals);
    return err;
}

static mt_err enc_union(enc_ctx *c, const av_node *n, const json_t *v, int in_default, mt_buf *b)
{
    size_t idx = n->n;
    const json_t *inner = v;
    if (n->n == 0)
        return enc_fail(c, MT_ERR_SCHEMA, "empty union has no values");
    if (in_default) {
        idx = 0; /* Avro: a union default is a value of its first branch */
    } else if (json_is_null(v) && n->null_branch >= 0) {
        idx = (size_t)n->null_branch;
    } else if (n->nullable) {
        idx = n->null_branch == 0 ? 1 : 0;
    } else if (json_is_object(v) && json_object_size(v) == 1) {
        json_t *obj = (json_t *)v;
        void *it = json_object_iter(obj);
        const char *key = json_object_iter_key(it);
        for (size_t i = 0; i < n->n; i++) {
            if (strcmp(av_type_name(n->branches[i]), key) == 0) {
                idx = i;
                inner = json_object_iter_value(it);
                break;
            }
        }
        if (idx == n->n)
            return enc_fail(c, MT_ERR_SCHEMA, "union has no branch \"%s\"", key);
    } else {
        return enc_fail(c, MT_ERR_SCHEMA,
                        "union value must be null or {\"<branch type>\": value}, got %s",
                        json_kind(v));
    }
    mt_err err = av_put_long(b, (int64_t)idx);
    if (err)
        return enc_fail(c, err, "%s", mt_strerror(err));
    return enc(c, n->branches[idx], inner, in_default, b);
}

static mt_err enc(enc_ctx *c, const av_node *n, const json_t *v, int in_default, mt_buf *b)
{
    mt_err err = MT_OK;
    switch (n->type) {
    case AV_NULL:
        if (!json_is_null(v))
            return enc_fail(c, MT_ERR_SCHEMA, "expected null, got %s", json_kind(v));
        return MT_OK;
    case AV_BOOLEAN:
        if (!json_is_boolean(v))
            return enc_fail(c, MT_ERR_SCHEMA, "expected boolean, got %s", json_kind(v));
        err = av_put_raw(b, json_is_true(v) ? "\1" : "\0", 1);
        break;
    case AV_INT:
    case AV_LONG: {
        if (!json_is_integer(v))
            return enc_fail(c, MT_ERR_SCHEMA, "expected %s, got %s", av_type_name(n), json_kind(v));
        json_int_t x = json_integer_value(v);
        if (n->type == AV_INT && (x < INT32_MIN || x > INT32_MAX))
            return enc_fail(c, MT_ERR_SCHEMA, "%lld does not fit an Avro int", (long long)x);
        err = av_put_long(b, (int64_t)x);
        break;
    }
    case AV_FLOAT:
    case AV_DOUBLE: {
        if (!json_is_number(v))
            return enc_fail(c, MT_ERR_SCHEMA, "expected %s, got %s", av_type_name(n), json_kind(v));
        double d = json_number_value(v);
        uint8_t raw[8];
        size_t w;
        uint64_t bits;
        if (n->type == AV_FLOAT) {
            float f = (float)d;
            uint32_t u;
            memcpy(&u, &f, 4);
            bits = u;
            w = 4;
        } else {
            memcpy(&bits, &d, 8);
            w = 8;
        }
        for (size_t i = 0; i < w; i++)
            raw[i] = (uint8_t)(bits >> (8 * i)); /* Avro floats are little-endian */
        err = av_put_raw(b, raw, w);
        break;
    }
    case AV_STRING:
        if (!json_is_string(v))
            return enc_fail(c, MT_ERR_SCHEMA, "expected string, got %s", json_kind(v));
        err = av_put_bytes(b, json_string_value(v), json_string_length(v));
        break;
    case AV_BYTES:
    case AV_FIXED:
        return put_hex(c, n, v, b);
    case AV_ENUM: {
        const char *sym = json_string_value(v);
        if (!sym)
            return enc_fail(c, MT_ERR_SCHEMA, "enum %s needs a symbol string, got %s", n->fullname,
                            json_kind(v));
        size_t slen = json_string_length(v);
        for (size_t i = 0; i < n->n; i++)
            if (n->symlens[i] == slen && memcmp(n->symbols[i], sym, slen) == 0)
                return av_put_long(b, (int64_t)i) ? enc_fail(c, MT_ERR_TOO_LARGE, "buffer full")
                                               : MT_OK;
        return enc_fail(c, MT_ERR_SCHEMA, "\"%s\" is not a symbol of enum %s", sym, n->fullname);
    }
    case AV_RECORD:
    case AV_ARRAY:
    case AV_MAP:
    case AV_UNION:
        if (c->depth >= MT_AVRO_MAX_DEPTH)
            return enc_fail(c, MT_ERR_TOO_LARGE, "nesting deeper than %d levels",
                            MT_AVRO_MAX_DEPTH);
        if (n->type == AV_RECORD)
            return enc_record(c, n, v, in_default, b);
        if (n->type == AV_UNION)
            return enc_union(c, n, v, in_default, b);
        if (n->type == AV_ARRAY) {
            if (!json_is_array(v))
                return enc_fail(c, MT_ERR_SCHEMA, "expected array, got %s", json_kind(v));
            size_t cnt = json_array_size(v);
            if (cnt && (err = av_put_long(b, (int64_t)cnt)))
                break;
            c->depth++;
            for (size_t i = 0; i < cnt && !err; i++) {
                c->path[c->depth - 1].name = NULL;
                c->path[c->depth - 1].index = i;
                err = enc(c, n->items, json_array_get(v, i), in_default, b);
            }
            c->depth--;
            if (err)
                return err;
        } else {
            if (!json_is_object(v))
                return enc_fail(c, MT_ERR_SCHEMA, "map needs a JSON object, got %s", json_kind(v));
            size_t cnt = json_object_size(v);
            if (cnt && (err = av_put_long(b, (int64_t)cnt)))
                break;
            json_t *obj = (json_t *)v;
            c->depth++;
            for (void *it = json_object_iter(obj); it && !err;
                 it = json_object_iter_next(obj, it)) {
                c->path[c->depth - 1].name = json_object_iter_key(it);
                const char *k = json_object_iter_key(it);
                err = av_put_bytes(b, k, json_object_iter_key_len(it));
                if (!err)
                    err = enc(c, n->items, json_object_iter_value(it), in_default, b);
            }
            c->depth--;
            if (err)
                return err;
        }
        err = av_put_raw(b, "", 1); /* end of blocks: a zero count */
        break;
    }
    if (err)
        return enc_fail(c, err, "%s", mt_strerror(err));
    return MT_OK;
}

mt_err av_encode_value(const av_node *n, const json_t *v, int in_default, mt_buf *out,
                       mt_errbuf *eb)
{
    enc_ctx c;
    c.eb = eb;
    c.depth = 0;
    size_t start = out->len;
    mt_err err = enc(&c, n, v, in_default, out);
    if (err)
        out->len = start;
    return err;
}

mt_err mt_avro_encode_datum(const mt_avro_schema *s, const json_t *datum, mt_buf *out,
                            mt_errbuf *eb)
{
    if (!s || !datum || !out)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_avro_encode_datum: NULL argument");
    return av_encode_value(s->root, datum, 0, out, eb);
}

mt_err mt_avro_encode(const mt_avro_schema *s, const json_t *datum, mt_buf *out, mt_errbuf *eb)
{
    if (!s || !datum || !out)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_avro_encode: NULL argument");
    size_t start = out->len;
    mt_err err = mt_buf_reserve(out, MT_AVRO_HEADER_LEN);
    if (err)
        return mt_fail(eb, err, "cannot encode %s: %s", s->name, mt_strerror(err));
    uint8_t *p = out->data + out->len;
    p[0] = 0xC3;
    p[1] = 0x01;
    for (int i = 0; i < 8; i++)
        p[2 + i] = (uint8_t)(s->fp >> (8 * i));
    out->len += MT_AVRO_HEADER_LEN;
    err = av_encode_value(s->root, datum, 0, out, eb);
    if (err)
        out->len = start;
    return err;
}

/* ---- decoder -------------------------------------------------------------- */

typedef struct dec_ctx {
    const uint8_t *p;
    size_t len; /* end of the datum within p */
    size_t pos;
    size_t base;  /* offset of p[0] in the caller's buffer, for messages */
    size_t items; /* array/map items so far, against MT_AVRO_MAX_ITEMS */
    int depth;
    mt_errbuf *eb;
} dec_ctx;

#define OFF(c) ((c)->base + (c)->pos)

static mt_err rd_long(dec_ctx *c, int64_t *out)
{
    size_t start = c->pos;
    uint64_t acc = 0;
    for (unsigned i = 0;; i++) {
        if (c->pos >= c->len)
            return mt_fail(c->eb, MT_ERR_TRUNCATED, "input ends inside a varint at byte offset %zu",
                           c->base + start);
        uint8_t byte = c->p[c->pos++];
        /* The 10th byte may only carry the 64th bit: anything more overflows. */
        if (i == 9 && byte > 1)
            return mt_fail(c->eb, MT_ERR_SCHEMA, "varint at byte offset %zu overflows 64 bits",
                           c->base + start);
        acc |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80))
            break;
    }
    *out = (int64_t)((acc >> 1) ^ (0 - (acc & 1)));
    return MT_OK;
}

/* Reads a string/bytes length and checks it against limits and what remains. */
static mt_err rd_len(dec_ctx *c, const char *what, size_t *out)
{
    size_t at = OFF(c);
    int64_t l;
    mt_err err = rd_long(c, &l);
    if (err)
        return err;
    if (l < 0)
        return mt_fail(c->eb, MT_ERR_SCHEMA, "negative %s length %" PRId64 " at byte offset %zu",
                       what, l, at);
    if ((uint64_t)l > MT_AVRO_MAX_LENGTH)
        return mt_fail(c->eb, MT_ERR_TOO_LARGE,
                       "%s length %" PRId64 " at byte offset %zu exceeds the limit of %u bytes",
                       what, l, at, MT_AVRO_MAX_LENGTH);
    if ((uint64_t)l > c->len - c->pos)
        return mt_fail(c->eb, MT_ERR_TRUNCATED,
                       "%s length %" PRId64 " at byte offset %zu exceeds the %zu bytes remaining",
                       what, l, at, c->len - c->pos);
    *out = (size_t)l;
    return MT_OK;
}

static mt_err rd_string(dec_ctx *c, const char *what, json_t **out)
{
    size_t n = 0;
    mt_err err = rd_len(c, what, &n);
    if (err)
        return err;
    const uint8_t *s = c->p + c->pos;
    size_t bad = mt_utf8_check(s, n);
    if (bad != n)
        return mt_fail(c->eb, MT_ERR_SCHEMA,
                       "%s at byte offset %zu is not valid UTF-8 (byte offset %zu)", what, OFF(c),
                       OFF(c) + bad);
    *out = json_stringn_nocheck((const char *)s, n);
    if (!*out)
        return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory decoding %s", what);
    c->pos += n;
    return MT_OK;
}

static mt_err rd_hex(dec_ctx *c, size_t n, json_t **out)
{
    static const char digits[] = "0123456789abcdef";
    char small[129];
    char *h = (n * 2 < sizeof small) ? small : malloc(n * 2 + 1);
    if (!h)
        return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory decoding %zu bytes", n);
    const uint8_t *s = c->p + c->pos;
    for (size_t i = 0; i < n; i++) {
        h[2 * i] = digits[s[i] >> 4];
        h[2 * i + 1] = digits[s[i] & 0xf];
    }
    h[2 * n] = '\0';
    *out = json_stringn_nocheck(h, n * 2);
    if (h != small)
        free(h);
    if (!*out)
        return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory decoding %zu bytes", n);
    c->pos += n;
    return MT_OK;
}

/* Reads one block header of an array/map; 0 ends the value. Checks the count
 * against the per-datum item budget and the bytes left before the caller
 * allocates anything for it. */
static mt_err rd_block(dec_ctx *c, const av_node *items, size_t item_min, size_t *count)
{
    size_t at = OFF(c);
    int64_t cnt;
    mt_err err = rd_long(c, &cnt);
    if (err)
        return err;
    if (cnt < 0) {
        /* Negative count: |count| items preceded by the block's byte size. */
        if (cnt == INT64_MIN)
            return mt_fail(c->eb, MT_ERR_SCHEMA, "invalid block count at byte offset %zu", at);
        cnt = -cnt;
        int64_t bsize;
        size_t bat = OFF(c);
        if ((err = rd_long(c, &bsize)))
            return err;
        if (bsize < 0)
            return mt_fail(c->eb, MT_ERR_SCHEMA, "negative block size at byte offset %zu", bat);
        if ((uint64_t)bsize > c->len - c->pos)
            return mt_fail(c->eb, MT_ERR_TRUNCATED,
                           "block size %" PRId64
                           " at byte offset %zu exceeds the %zu bytes remaining",
                           bsize, bat, c->len - c->pos);
    }
    if ((uint64_t)cnt > MT_AVRO_MAX_ITEMS - c->items)
        return mt_fail(c->eb, MT_ERR_TOO_LARGE,
                       "block of %" PRId64 " %s items at byte offset %zu exceeds the limit of %d "
                       "items per datum",
                       cnt, av_type_name(items), at, MT_AVRO_MAX_ITEMS);
    if (item_min && (uint64_t)cnt > (c->len - c->pos) / item_min)
        return mt_fail(c->eb, MT_ERR_TRUNCATED,
                       "block of %" PRId64 " items at byte offset %zu needs at least %" PRIu64
                       " bytes, %zu remain",
                       cnt, at, (uint64_t)cnt * item_min, c->len - c->pos);
    c->items += (size_t)cnt;
    *count = (size_t)cnt;
    return MT_OK;
}

static mt_err dec(dec_ctx *c, const av_node *n, json_t **out);

static mt_err dec_nested(dec_ctx *c, const av_node *n, json_t **out)
{
    mt_err err = MT_OK;
    json_t *v = NULL;
    switch (n->type) {
    case AV_RECORD:
        if (!(v = json_object()))
            goto nomem;
        for (size_t i = 0; i < n->n; i++) {
            json_t *fv = NULL;
            if ((err = dec(c, n->fields[i].type, &fv)))
                goto fail;
            if (json_object_set_new_nocheck(v, n->fields[i].name, fv))
                goto nomem;
        }
        break;
    case AV_ARRAY:
    case AV_MAP: {
        int is_map = n->type == AV_MAP;
        size_t item_min = n->items->min_size + (is_map ? 1 : 0);
        if (!(v = is_map ? json_object() : json_array()))
            goto nomem;
        for (;;) {
            size_t cnt = 0;
            if ((err = rd_block(c, n->items, item_min, &cnt)))
                goto fail;
            if (cnt == 0)
                break;
            for (size_t i = 0; i < cnt; i++) {
                json_t *key = NULL, *iv = NULL;
                if (is_map && (err = rd_string(c, "map key", &key)))
                    goto fail;
                if ((err = dec(c, n->items, &iv))) {
                    json_decref(key);
                    goto fail;
                }
                int rc = is_map ? json_object_setn_new_nocheck(v, json_string_value(key),
                                                               json_string_length(key), iv)
                                : json_array_append_new(v, iv);
                json_decref(key);
                if (rc)
                    goto nomem;
            }
        }
        break;
    }
    case AV_UNION: {
        size_t at = OFF(c);
        int64_t idx;
        if ((err = rd_long(c, &idx)))
            goto fail;
        if (idx < 0 || (uint64_t)idx >= n->n) {
            err = mt_fail(c->eb, MT_ERR_SCHEMA,
                          "union branch %" PRId64 " at byte offset %zu out of range (0..%zu)", idx,
                          at, n->n ? n->n - 1 : 0);
            goto fail;
        }
        const av_node *br = n->branches[idx];
        json_t *bv = NULL;
        if ((err = dec(c, br, &bv)))
            goto fail;
        if (br->type == AV_NULL || n->nullable) {
            v = bv;
        } else {
            if (!(v = json_object()) || json_object_set_new_nocheck(v, av_type_name(br), bv)) {
                json_decref(bv);
                goto nomem;
            }
        }
        break;
    }
    default:
        break;
    }
    *out = v;
    return MT_OK;
nomem:
    err = mt_fail(c->eb, MT_ERR_NOMEM, "out of memory decoding at byte offset %zu", OFF(c));
fail:
    json_decref(v);
    return err;
}

static mt_err dec(dec_ctx *c, const av_node *n, json_t **out)
{
    mt_err err;
    size_t at = OFF(c);
    int64_t x;
    switch (n->type) {
    case AV_NULL:
        *out = json_null();
        return MT_OK;
    case AV_BOOLEAN:
        if (c->pos >= c->len)
            return mt_fail(c->eb, MT_ERR_TRUNCATED, "input ends before boolean at byte offset %zu",
                           at);
        if (c->p[c->pos] > 1)
            return mt_fail(c->eb, MT_ERR_SCHEMA,
                           "boolean byte 0x%02x at byte offset %zu is not 0 or 1", c->p[c->pos],
                           at);
        *out = json_boolean(c->p[c->pos++]);
        return MT_OK;
    case AV_INT:
    case AV_LONG:
        if ((err = rd_long(c, &x)))
            return err;
        if (n->type == AV_INT && (x < INT32_MIN || x > INT32_MAX))
            return mt_fail(c->eb, MT_ERR_SCHEMA, "int at byte offset %zu is out of 32-bit range",
                           at);
        *out = json_integer((json_int_t)x);
        break;
    case AV_FLOAT:
    case AV_DOUBLE: {
        size_t w = n->type == AV_FLOAT ? 4 : 8;
        if (c->len - c->pos < w)
            return mt_fail(c->eb, MT_ERR_TRUNCATED, "input ends inside %s at byte offset %zu",
                           av_type_name(n), at);
        uint64_t bits = 0;
        for (size_t i = 0; i < w; i++)
            bits |= (uint64_t)c->p[c->pos + i] << (8 * i);
        double d;
        if (w == 4) {
            uint32_t u = (uint32_t)bits;
            float f;
            memcpy(&f, &u, 4);
            d = f;
        } else {
            memcpy(&d, &bits, 8);
        }
        if (!isfinite(d))
            return mt_fail(c->eb, MT_ERR_SCHEMA,
                           "%s at byte offset %zu is NaN or infinite, which JSON cannot represent",
                           av_type_name(n), at);
        c->pos += w;
        *out = json_real(d);
        break;
    }
    case AV_STRING:
        return rd_string(c, "string", out);
    case AV_BYTES: {
        size_t len = 0;
        if ((err = rd_len(c, "bytes", &len)))
            return err;
        return rd_hex(c, len, out);
    }
    case AV_FIXED:
        if (c->len - c->pos < n->n)
            return mt_fail(c->eb, MT_ERR_TRUNCATED,
                           "fixed %s needs %zu bytes at byte offset %zu, %zu remain", n->fullname,
                           n->n, at, c->len - c->pos);
        return rd_hex(c, n->n, out);
    case AV_ENUM:
        if ((err = rd_long(c, &x)))
            return err;
        if (x < 0 || (uint64_t)x >= n->n)
            return mt_fail(c->eb, MT_ERR_SCHEMA,
                           "enum %s index %" PRId64 " at byte offset %zu out of range (0..%zu)",
                           n->fullname, x, at, n->n ? n->n - 1 : 0);
        *out = json_string_nocheck(n->symbols[x]);
        break;
    case AV_RECORD:
    case AV_ARRAY:
    case AV_MAP:
    case AV_UNION:
        if (c->depth >= MT_AVRO_MAX_DEPTH)
            return mt_fail(c->eb, MT_ERR_TOO_LARGE,
                           "datum nests deeper than %d levels at byte offset %zu",
                           MT_AVRO_MAX_DEPTH, at);
        c->depth++;
        err = dec_nested(c, n, out);
        c->depth--;
        return err;
    }
    if (!*out)
        return mt_fail(c->eb, MT_ERR_NOMEM, "out of memory decoding at byte offset %zu", at);
    return MT_OK;
}

static mt_err decode_at(const mt_avro_schema *s, const uint8_t *data, size_t base, size_t len,
                        json_t **datum_out, mt_errbuf *eb)
{
    dec_ctx c = {data + base, len - base, 0, base, 0, 0, eb};
    json_t *v = NULL;
    mt_err err = dec(&c, s->root, &v);
    if (err)
        return err;
    if (c.pos != c.len) {
        json_decref(v);
        return mt_fail(eb, MT_ERR_SCHEMA,
                       "%zu trailing bytes after the %s datum, starting at byte offset %zu",
                       c.len - c.pos, s->name, OFF(&c));
    }
    *datum_out = v;
    return MT_OK;
}

mt_err mt_avro_decode_datum(const mt_avro_schema *s, const uint8_t *data, size_t len,
                            json_t **datum_out, mt_errbuf *eb)
{
    if (!datum_out)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_avro_decode_datum: datum_out is NULL");
    *datum_out = NULL;
    if (!s || (!data && len))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_avro_decode_datum: NULL argument");
    static const uint8_t empty[1] = {0};
    return decode_at(s, data ? data : empty, 0, len, datum_out, eb);
}

/* A record of an earlier version: decoded with the writer's schema, then
 * encoded with the current one, which fills the fields added since with
 * their defaults (and checks the rest), and decoded again. Records of
 * earlier versions are the archive's old history, not the hot path. */
static mt_err decode_previous(const mt_avro_version *v, const uint8_t *data, size_t len,
                              const mt_avro_schema **schema_out, json_t **datum_out,
                              mt_errbuf *eb)
{
    json_t *old = NULL;
    mt_err err = decode_at(v->writer, data, MT_AVRO_HEADER_LEN, len, &old, eb);
    if (err)
        return err;
    mt_buf b = MT_BUF_INIT;
    err = mt_avro_encode_datum(v->reader, old, &b, eb);
    json_decref(old);
    if (err == MT_OK)
        err = decode_at(v->reader, b.data, 0, b.len, datum_out, eb);
    mt_buf_free(&b);
    if (err == MT_OK && schema_out)
        *schema_out = v->reader;
    return err;
}

mt_err mt_avro_decode(const mt_avro_registry *reg, const uint8_t *data, size_t len,
                      const mt_avro_schema **schema_out, json_t **datum_out, mt_errbuf *eb)
{
    if (!datum_out)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_avro_decode: datum_out is NULL");
    *datum_out = NULL;
    if (schema_out)
        *schema_out = NULL;
    if (!reg || (!data && len))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_avro_decode: NULL argument");
    /* Judge the magic on the bytes present so a short non-Avro input says so. */
    if ((len >= 1 && data[0] != 0xC3) || (len >= 2 && data[1] != 0x01))
        return mt_fail(eb, MT_ERR_BAD_MAGIC,
                       "not Avro single-object encoding: first bytes %02x %02x, expected c3 01",
                       data[0], len >= 2 ? data[1] : 0);
    if (len < MT_AVRO_HEADER_LEN)
        return mt_fail(eb, MT_ERR_TRUNCATED,
                       "input of %zu bytes is shorter than the %d-byte single-object header", len,
                       MT_AVRO_HEADER_LEN);
    uint64_t fp = 0;
    for (int i = 0; i < 8; i++)
        fp |= (uint64_t)data[2 + i] << (8 * i);
    const mt_avro_schema *s = mt_avro_registry_find_fp(reg, fp);
    if (!s) {
        const mt_avro_version *v = mt_avro_registry_previous(reg, fp);
        if (!v)
            return mt_fail(eb, MT_ERR_UNKNOWN_SCHEMA,
                           "schema fingerprint %016" PRIx64
                           " (byte offset 2) matches no loaded schema",
                           fp);
        return decode_previous(v, data, len, schema_out, datum_out, eb);
    }
    mt_err err = decode_at(s, data, MT_AVRO_HEADER_LEN, len, datum_out, eb);
    if (!err && schema_out)
        *schema_out = s;
    return err;
}
