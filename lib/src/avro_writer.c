/* Streaming single-object writer (avro.h, "streaming writer").
 *
 * How: a stack of open records, each with the index of its next field. A call
 * takes that field, checks its name, resolves a union to the branch matching
 * the value's kind (writing the branch index), checks the type and appends
 * the encoding with the same primitives as the JSON encoder. Errors are
 * sticky and carry the dotted field path. */
#include "avro_internal.h"

#include "mcptrail/json.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static void w_fail(mt_avro_writer *w, mt_err err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void w_fail(mt_avro_writer *w, mt_err err, const char *field, const char *fmt, ...)
{
    if (w->err)
        return;
    w->err = err;
    size_t n = 0;
    for (int i = 1; i <= w->depth && n < sizeof w->msg; i++) {
        const av_node *r = w->rec[i - 1];
        if (i < w->depth && w->next[i - 1] > 0 && w->next[i - 1] <= r->n)
            n += (size_t)snprintf(w->msg + n, sizeof w->msg - n, "%s.",
                                  r->fields[w->next[i - 1] - 1].name);
    }
    if (n < sizeof w->msg)
        n += (size_t)snprintf(w->msg + n, sizeof w->msg - n, "%s: ", field ? field : "?");
    if (n < sizeof w->msg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->msg + n, sizeof w->msg - n, fmt, ap);
        va_end(ap);
    }
}

void mt_avro_writer_begin(mt_avro_writer *w, const mt_avro_schema *s, mt_buf *out)
{
    w->out = out;
    w->start = out ? out->len : 0;
    w->depth = 0;
    w->err = MT_OK;
    w->msg[0] = '\0';
    if (!s || !out || s->root->type != AV_RECORD) {
        w->err = MT_ERR_INVALID_ARG;
        snprintf(w->msg, sizeof w->msg, "mt_avro_writer_begin: needs a record schema and a buffer");
        return;
    }
    uint8_t hdr[MT_AVRO_HEADER_LEN] = {0xC3, 0x01};
    for (int i = 0; i < 8; i++)
        hdr[2 + i] = (uint8_t)(s->fp >> (8 * i));
    if ((w->err = av_put_raw(out, hdr, sizeof hdr)) != MT_OK) {
        snprintf(w->msg, sizeof w->msg, "%s", mt_strerror(w->err));
        return;
    }
    w->rec[0] = s->root;
    w->next[0] = 0;
    w->depth = 1;
}

/* The schema node of the next field, which must be called `field`; NULL
 * after an error. Advances past the field. */
static const av_node *take(mt_avro_writer *w, const char *field)
{
    if (w->err)
        return NULL;
    if (w->depth == 0) {
        w_fail(w, MT_ERR_STATE, field, "no open record");
        return NULL;
    }
    const av_node *r = w->rec[w->depth - 1];
    size_t i = w->next[w->depth - 1];
    if (i >= r->n) {
        w_fail(w, MT_ERR_SCHEMA, field, "%s has no field after \"%s\"", r->fullname,
               r->n ? r->fields[r->n - 1].name : "");
        return NULL;
    }
    if (strcmp(r->fields[i].name, field) != 0) {
        w_fail(w, MT_ERR_SCHEMA, field, "%s expects field \"%s\" here", r->fullname,
               r->fields[i].name);
        return NULL;
    }
    w->next[w->depth - 1] = i + 1;
    return r->fields[i].type;
}

/* Resolves n for a value of type want (AV_NULL for null): writes the union
 * branch index when n is a union. NULL when the schema has no such branch. */
static const av_node *branch(mt_avro_writer *w, const char *field, const av_node *n, av_type want)
{
    if (!n)
        return NULL;
    if (n->type != AV_UNION) {
        bool ok = n->type == want || (want == AV_LONG && n->type == AV_INT);
        if (!ok) {
            w_fail(w, MT_ERR_SCHEMA, field, "schema type %s does not take this value",
                   av_type_name(n));
            return NULL;
        }
        return n;
    }
    for (size_t i = 0; i < n->n; i++) {
        const av_node *b = n->branches[i];
        if (b->type == want || (want == AV_LONG && b->type == AV_INT)) {
            mt_err err = av_put_long(w->out, (int64_t)i);
            if (err) {
                w_fail(w, err, field, "%s", mt_strerror(err));
                return NULL;
            }
            return b;
        }
    }
    w_fail(w, MT_ERR_SCHEMA, field, "union has no branch for this value");
    return NULL;
}

static void put(mt_avro_writer *w, const char *field, mt_err err)
{
    if (err)
        w_fail(w, err, field, "%s", mt_strerror(err));
}

void mt_avw_null(mt_avro_writer *w, const char *field)
{
    (void)branch(w, field, take(w, field), AV_NULL);
}

void mt_avw_bool(mt_avro_writer *w, const char *field, int v)
{
    if (branch(w, field, take(w, field), AV_BOOLEAN))
        put(w, field, av_put_raw(w->out, v ? "\1" : "\0", 1));
}

void mt_avw_long(mt_avro_writer *w, const char *field, int64_t v)
{
    const av_node *n = branch(w, field, take(w, field), AV_LONG);
    if (!n)
        return;
    if (n->type == AV_INT && (v < INT32_MIN || v > INT32_MAX)) {
        w_fail(w, MT_ERR_SCHEMA, field, "%lld does not fit an Avro int", (long long)v);
        return;
    }
    put(w, field, av_put_long(w->out, v));
}

void mt_avw_string(mt_avro_writer *w, const char *field, const char *s, size_t len)
{
    if (!s) {
        mt_avw_null(w, field);
        return;
    }
    const av_node *n = branch(w, field, take(w, field), AV_STRING);
    if (!n)
        return;
    size_t bad = mt_utf8_check((const uint8_t *)s, len);
    if (bad != len) {
        w_fail(w, MT_ERR_SCHEMA, field, "invalid UTF-8 at byte %zu", bad);
        return;
    }
    put(w, field, av_put_bytes(w->out, s, len));
}

void mt_avw_enum(mt_avro_writer *w, const char *field, const char *symbol)
{
    const av_node *n = branch(w, field, take(w, field), AV_ENUM);
    if (!n)
        return;
    for (size_t i = 0; symbol && i < n->n; i++)
        if (strcmp(n->symbols[i], symbol) == 0) {
            put(w, field, av_put_long(w->out, (int64_t)i));
            return;
        }
    w_fail(w, MT_ERR_SCHEMA, field, "\"%s\" is not a symbol of %s", symbol ? symbol : "(null)",
           n->fullname);
}

void mt_avw_fixed(mt_avro_writer *w, const char *field, const uint8_t *bytes, size_t len)
{
    if (!bytes) {
        mt_avw_null(w, field);
        return;
    }
    const av_node *n = branch(w, field, take(w, field), AV_FIXED);
    if (!n)
        return;
    if (n->n != len) {
        w_fail(w, MT_ERR_SCHEMA, field, "%s takes %zu bytes, got %zu", n->fullname, n->n, len);
        return;
    }
    put(w, field, av_put_raw(w->out, bytes, len));
}

void mt_avw_json(mt_avro_writer *w, const char *field, const json_t *v)
{
    const av_node *n = take(w, field);
    if (!n)
        return;
    mt_errbuf eb = {{0}};
    mt_err err = av_encode_value(n, v ? v : json_null(), 0, w->out, &eb);
    if (err)
        w_fail(w, err, field, "%s", eb.msg[0] ? eb.msg : mt_strerror(err));
}

void mt_avw_record_begin(mt_avro_writer *w, const char *field)
{
    const av_node *n = branch(w, field, take(w, field), AV_RECORD);
    if (!n)
        return;
    if (w->depth >= MT_AVRO_WRITER_DEPTH) {
        w_fail(w, MT_ERR_TOO_LARGE, field, "records nested deeper than %d",
               MT_AVRO_WRITER_DEPTH);
        return;
    }
    w->rec[w->depth] = n;
    w->next[w->depth] = 0;
    w->depth++;
}

static bool all_written(mt_avro_writer *w)
{
    const av_node *r = w->rec[w->depth - 1];
    size_t i = w->next[w->depth - 1];
    if (i < r->n) {
        w_fail(w, MT_ERR_SCHEMA, r->fields[i].name, "field of %s not written", r->fullname);
        return false;
    }
    return true;
}

void mt_avw_record_end(mt_avro_writer *w)
{
    if (w->err)
        return;
    if (w->depth <= 1) {
        w_fail(w, MT_ERR_STATE, NULL, "mt_avw_record_end without mt_avw_record_begin");
        return;
    }
    if (all_written(w))
        w->depth--;
}

mt_err mt_avro_writer_finish(mt_avro_writer *w, mt_errbuf *eb)
{
    if (!w->err && w->depth != 1)
        w_fail(w, MT_ERR_STATE, NULL, "%d record(s) still open", w->depth - 1);
    if (!w->err)
        (void)all_written(w);
    if (w->err) {
        if (w->out)
            w->out->len = w->start;
        return mt_fail(eb, w->err, "Avro writer: %s", w->msg);
    }
    return MT_OK;
}
