/* Private to lib/src/avro_*.c: the compact node tree a schema is resolved into
 * at load time, shared by the schema parser (avro_schema.c) and the binary
 * codec (avro_codec.c). Named-type references point at the defining node, so
 * recursive schemas are cyclic graphs; every node is owned by the schema's
 * `nodes` list, which is what frees them. */
#ifndef MT_AVRO_INTERNAL_H
#define MT_AVRO_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "mcptrail/avro.h"

typedef enum av_type {
    AV_NULL,
    AV_BOOLEAN,
    AV_INT,
    AV_LONG,
    AV_FLOAT,
    AV_DOUBLE,
    AV_BYTES,
    AV_STRING,
    AV_RECORD,
    AV_ENUM,
    AV_ARRAY,
    AV_MAP,
    AV_UNION,
    AV_FIXED,
} av_type;

typedef struct av_node av_node;

typedef struct av_field {
    char *name;
    size_t name_len; /* compared before the bytes: most mismatches end there */
    av_node *type;
    json_t *def; /* default value, NULL when the field has none */
} av_field;

struct av_node {
    av_type type;
    char *fullname;     /* named types (record, enum, fixed) */
    size_t n;           /* fields / symbols / branches; byte size for fixed */
    av_field *fields;   /* record */
    char **symbols;     /* enum */
    size_t *symlens;    /* enum symbol lengths */
    av_node **branches; /* union */
    av_node *items;     /* array items, map values */
    int null_branch;    /* union: index of the "null" branch, -1 if none */
    int nullable;       /* union: exactly two branches, one of them null */
    size_t min_size;    /* fewest bytes any encoded value takes: bounds counts on decode */
    int sizing;         /* guard while computing min_size of a recursive type */
};

struct mt_avro_schema {
    av_node *root;
    av_node **nodes; /* every node, for freeing */
    size_t nnodes, capnodes;
    char *name; /* full name or type name */
    char *pcf;
    char *json;
    uint64_t fp;
};

/* Type name used for union branch keys and messages ("int", "dev.mcptrail.X"). */
const char *av_type_name(const av_node *n);

/* Encodes json value v as node n. in_default: v is a schema default, where a
 * union value is for its first branch without a wrapper (Avro spec). */
mt_err av_encode_value(const av_node *n, const json_t *v, int in_default, mt_buf *out,
                       mt_errbuf *eb);

/* Binary primitives appending to an mt_buf (inline: the encoders' hot path). */
static inline mt_err av_put_long(mt_buf *b, int64_t v)
{
    if (b->cap - b->len < 10) {
        mt_err err = mt_buf_reserve(b, 10);
        if (err)
            return err;
    }
    uint64_t z = ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
    uint8_t *p = b->data + b->len;
    while (z > 0x7f) {
        *p++ = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    *p++ = (uint8_t)z;
    b->len = (size_t)(p - b->data);
    return MT_OK;
}

/* mt_buf_append without the call when the room is already there: strings are
 * most of a SessionEvent's bytes. */
static inline mt_err av_put_raw(mt_buf *b, const void *src, size_t n)
{
    if (b->cap - b->len < n) {
        mt_err err = mt_buf_reserve(b, n);
        if (err)
            return err;
    }
    if (n)
        memcpy(b->data + b->len, src, n);
    b->len += n;
    return MT_OK;
}

static inline mt_err av_put_bytes(mt_buf *b, const void *src, size_t n)
{
    mt_err err = av_put_long(b, (int64_t)n);
    return err ? err : av_put_raw(b, src, n);
}

#endif
