/* Strict JSON parsing and typed access for untrusted input.
 *
 * jansson parses recursively and has no configurable depth limit, so a
 * request body of a million '[' would exhaust the stack of a proxy thread.
 * mt_json_parse therefore checks the byte length, then pre-scans for bracket
 * depth (a linear pass that skips string contents, including escaped
 * quotes), and only then hands the bytes to json_loadb with the strict flags.
 * The getters turn jansson's NULL-on-anything into messages an operator can
 * act on: which field, what type was expected, what was found. */
#include "mcptrail/json.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mcptrail/buf.h"

static const mt_json_limits default_limits = MT_JSON_LIMITS_DEFAULT;

mt_err mt_json_check_depth(const void *data, size_t len, unsigned max_depth, mt_errbuf *eb)
{
    const unsigned char *p = data;
    unsigned depth = 0;
    bool in_string = false;
    size_t line = 1, col = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        col++;
        if (c == '\n') {
            line++;
            col = 0;
            continue;
        }
        if (in_string) {
            if (c == '\\')
                i++, col++; /* the escaped byte can never end the string */
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return mt_fail(eb, MT_ERR_TOO_LARGE,
                               "JSON nesting deeper than %u levels at line %zu, column %zu",
                               max_depth, line, col);
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--; /* unbalanced closers are jansson's to report */
        }
    }
    return MT_OK;
}

mt_err mt_json_parse(const void *data, size_t len, const mt_json_limits *lim, json_t **out,
                     mt_errbuf *eb)
{
    if (!lim)
        lim = &default_limits;
    *out = NULL;
    if (!data && len > 0)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "JSON input is NULL");
    if (len > lim->max_bytes)
        return mt_fail(eb, MT_ERR_TOO_LARGE, "JSON input is %zu bytes, limit is %zu", len,
                       lim->max_bytes);
    mt_err err = mt_json_check_depth(data, len, lim->max_depth, eb);
    if (err)
        return err;
    size_t flags = 0;
    if (lim->reject_duplicates)
        flags |= JSON_REJECT_DUPLICATES;
    if (lim->allow_scalar)
        flags |= JSON_DECODE_ANY;
    if (lim->allow_nul)
        flags |= JSON_ALLOW_NUL;
    json_error_t je;
    json_t *v = json_loadb(data ? data : "", len, flags, &je);
    if (!v)
        return mt_fail(eb, MT_ERR_PARSE, "invalid JSON at line %d, column %d: %s", je.line,
                       je.column, je.text);
    *out = v;
    return MT_OK;
}

mt_err mt_json_load_file(const char *path, const mt_json_limits *lim, json_t **out,
                         mt_errbuf *eb)
{
    if (!lim)
        lim = &default_limits;
    *out = NULL;
    mt_err err = MT_OK;
    mt_buf b = MT_BUF_INIT;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mt_fail(eb, errno == ENOENT ? MT_ERR_NOT_FOUND : MT_ERR_IO, "%s: %s", path,
                       strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        (unsigned long long)st.st_size > lim->max_bytes) {
        err = mt_fail(eb, MT_ERR_TOO_LARGE, "%s: file is %lld bytes, limit is %zu", path,
                      (long long)st.st_size, lim->max_bytes);
        goto done;
    }
    /* Read at most one byte past the limit so non-regular files (pipes,
     * /dev/stdin) are bounded too. */
    for (;;) {
        if ((err = mt_buf_reserve(&b, 4096)))
            goto done;
        size_t room = b.cap - b.len;
        size_t n = fread(b.data + b.len, 1, room, f);
        b.len += n;
        if (b.len > lim->max_bytes) {
            err = mt_fail(eb, MT_ERR_TOO_LARGE, "%s: more than %zu bytes", path, lim->max_bytes);
            goto done;
        }
        if (n < room) {
            if (ferror(f)) {
                err = mt_fail(eb, MT_ERR_IO, "%s: read failed: %s", path, strerror(errno));
                goto done;
            }
            break;
        }
    }
    mt_errbuf inner;
    err = mt_json_parse(b.data, b.len, lim, out, &inner);
    if (err)
        mt_fail(eb, err, "%s: %s", path, inner.msg);
done:
    fclose(f);
    mt_buf_free(&b);
    return err;
}

const char *mt_json_type_name(const json_t *v)
{
    if (!v)
        return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "real";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

/* Looks up field; *v is NULL when absent (or null and optional). */
static mt_err lookup(const json_t *obj, const char *field, bool optional, json_t **v,
                     mt_errbuf *eb)
{
    *v = NULL;
    if (!json_is_object(obj))
        return mt_fail(eb, MT_ERR_PARSE, "expected an object with field '%.64s', got %s", field,
                       mt_json_type_name(obj));
    json_t *f = json_object_get(obj, field);
    if (optional && json_is_null(f))
        f = NULL;
    if (!f && !optional)
        return mt_fail(eb, MT_ERR_NOT_FOUND, "field '%.64s' is required", field);
    *v = f;
    return MT_OK;
}

static mt_err wrong_type(const char *field, const char *want, const json_t *got, mt_errbuf *eb)
{
    return mt_fail(eb, MT_ERR_PARSE, "field '%.64s' must be %s, got %s", field, want,
                   mt_json_type_name(got));
}

static mt_err get_string(const json_t *obj, const char *field, bool opt, const char *dflt,
                         const char **out, mt_errbuf *eb)
{
    json_t *v;
    mt_err err = lookup(obj, field, opt, &v, eb);
    if (err)
        return err;
    if (!v) {
        *out = dflt;
        return MT_OK;
    }
    if (!json_is_string(v))
        return wrong_type(field, "a string", v, eb);
    *out = json_string_value(v);
    return MT_OK;
}

static mt_err get_int(const json_t *obj, const char *field, bool opt, json_int_t dflt,
                      json_int_t *out, mt_errbuf *eb)
{
    json_t *v;
    mt_err err = lookup(obj, field, opt, &v, eb);
    if (err)
        return err;
    if (!v) {
        *out = dflt;
        return MT_OK;
    }
    if (!json_is_integer(v))
        return wrong_type(field, "an integer", v, eb);
    *out = json_integer_value(v);
    return MT_OK;
}

static mt_err get_bool(const json_t *obj, const char *field, bool opt, bool dflt, bool *out,
                       mt_errbuf *eb)
{
    json_t *v;
    mt_err err = lookup(obj, field, opt, &v, eb);
    if (err)
        return err;
    if (!v) {
        *out = dflt;
        return MT_OK;
    }
    if (!json_is_boolean(v))
        return wrong_type(field, "a boolean", v, eb);
    *out = json_is_true(v);
    return MT_OK;
}

static mt_err get_container(const json_t *obj, const char *field, bool opt, json_type type,
                            json_t **out, mt_errbuf *eb)
{
    json_t *v;
    mt_err err = lookup(obj, field, opt, &v, eb);
    *out = NULL;
    if (err || !v)
        return err;
    if (json_typeof(v) != type)
        return wrong_type(field, type == JSON_OBJECT ? "an object" : "an array", v, eb);
    *out = v;
    return MT_OK;
}

mt_err mt_json_get_string(const json_t *obj, const char *field, const char **out, mt_errbuf *eb)
{
    return get_string(obj, field, false, NULL, out, eb);
}

mt_err mt_json_get_int(const json_t *obj, const char *field, json_int_t *out, mt_errbuf *eb)
{
    return get_int(obj, field, false, 0, out, eb);
}

mt_err mt_json_get_int_range(const json_t *obj, const char *field, json_int_t min,
                             json_int_t max, json_int_t *out, mt_errbuf *eb)
{
    json_int_t v = 0;
    mt_err err = get_int(obj, field, false, 0, &v, eb);
    if (err)
        return err;
    if (v < min || v > max)
        return mt_fail(eb, MT_ERR_PARSE, "field '%.64s' must be between %" JSON_INTEGER_FORMAT
                       " and %" JSON_INTEGER_FORMAT ", got %" JSON_INTEGER_FORMAT,
                       field, min, max, v);
    *out = v;
    return MT_OK;
}

mt_err mt_json_get_number(const json_t *obj, const char *field, double *out, mt_errbuf *eb)
{
    json_t *v;
    mt_err err = lookup(obj, field, false, &v, eb);
    if (err)
        return err;
    if (!json_is_number(v))
        return wrong_type(field, "a number", v, eb);
    *out = json_number_value(v);
    return MT_OK;
}

mt_err mt_json_get_bool(const json_t *obj, const char *field, bool *out, mt_errbuf *eb)
{
    return get_bool(obj, field, false, false, out, eb);
}

mt_err mt_json_get_object(const json_t *obj, const char *field, json_t **out, mt_errbuf *eb)
{
    return get_container(obj, field, false, JSON_OBJECT, out, eb);
}

mt_err mt_json_get_array(const json_t *obj, const char *field, json_t **out, mt_errbuf *eb)
{
    return get_container(obj, field, false, JSON_ARRAY, out, eb);
}

mt_err mt_json_opt_string(const json_t *obj, const char *field, const char *dflt,
                          const char **out, mt_errbuf *eb)
{
    return get_string(obj, field, true, dflt, out, eb);
}

mt_err mt_json_opt_int(const json_t *obj, const char *field, json_int_t dflt, json_int_t *out,
                       mt_errbuf *eb)
{
    return get_int(obj, field, true, dflt, out, eb);
}

mt_err mt_json_opt_bool(const json_t *obj, const char *field, bool dflt, bool *out,
                        mt_errbuf *eb)
{
    return get_bool(obj, field, true, dflt, out, eb);
}

mt_err mt_json_opt_object(const json_t *obj, const char *field, json_t **out, mt_errbuf *eb)
{
    return get_container(obj, field, true, JSON_OBJECT, out, eb);
}

mt_err mt_json_opt_array(const json_t *obj, const char *field, json_t **out, mt_errbuf *eb)
{
    return get_container(obj, field, true, JSON_ARRAY, out, eb);
}

static int append_cb(const char *chunk, size_t size, void *data)
{
    return mt_buf_append(data, chunk, size) == MT_OK ? 0 : -1;
}

mt_err mt_json_dump_canonical(const json_t *v, mt_buf *out, mt_errbuf *eb)
{
    if (!v)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "cannot dump a NULL JSON value");
    size_t before = out->len;
    if (json_dump_callback(v, append_cb, out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) != 0) {
        out->len = before;
        return mt_fail(eb, MT_ERR_NOMEM, "canonical JSON dump failed (out of memory or too large)");
    }
    return MT_OK;
}

size_t mt_utf8_check(const void *text, size_t len)
{
    const uint8_t *s = text;
    size_t i = 0;
    while (i < len) {
        uint8_t b0 = s[i];
        if (b0 < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if ((b0 & 0xe0) == 0xc0) {
            need = 1, cp = b0 & 0x1fu, min = 0x80;
        } else if ((b0 & 0xf0) == 0xe0) {
            need = 2, cp = b0 & 0x0fu, min = 0x800;
        } else if ((b0 & 0xf8) == 0xf0) {
            need = 3, cp = b0 & 0x07u, min = 0x10000;
        } else {
            return i;
        }
        if (len - i <= need)
            return i;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += need + 1;
    }
    return len;
}
