/* Strict JSON helpers over jansson for bytes that come from outside the
 * process (HTTP bodies, config files, policy files, Kafka records).
 *
 * Parsing enforces a byte limit and a nesting-depth limit before jansson sees
 * the input, reports line/column on syntax errors, and (by default) rejects
 * duplicate object keys, because two parsers disagreeing on which duplicate
 * wins is a classic way to smuggle a value past a policy check.
 * Getters return precise messages naming the field and the type found. */
#ifndef MCPTRAIL_JSON_H
#define MCPTRAIL_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "mcptrail/buf.h"
#include "mcptrail/err.h"

typedef struct mt_json_limits {
    size_t max_bytes;       /* input longer than this: MT_ERR_TOO_LARGE */
    unsigned max_depth;     /* nesting deeper than this: MT_ERR_TOO_LARGE */
    bool reject_duplicates; /* JSON_REJECT_DUPLICATES */
    bool allow_scalar;      /* accept a bare string/number/... at the top */
    bool allow_nul;         /* accept \u0000 inside strings */
} mt_json_limits;

/* 1 MiB, depth 64, duplicates rejected, top level must be object or array. */
#define MT_JSON_LIMITS_DEFAULT {1u << 20, 64, true, false, false}

/* Parses data[0..len). On success *out is a new reference.
 * Errors: MT_ERR_TOO_LARGE (size or depth; eb says which and where),
 * MT_ERR_PARSE ("line L, column C: <jansson text>"). lim NULL = defaults. */
mt_err mt_json_parse(const void *data, size_t len, const mt_json_limits *lim, json_t **out,
                     mt_errbuf *eb);

/* Reads and parses a file; messages start with the path. Files larger than
 * lim->max_bytes are refused before they are read. */
mt_err mt_json_load_file(const char *path, const mt_json_limits *lim, json_t **out,
                         mt_errbuf *eb);

/* Scans data for bracket nesting deeper than max_depth (strings skipped).
 * MT_ERR_TOO_LARGE with the line/column of the first bracket too deep. */
mt_err mt_json_check_depth(const void *data, size_t len, unsigned max_depth, mt_errbuf *eb);

/* "object", "array", "string", "integer", "real", "boolean", "null". */
const char *mt_json_type_name(const json_t *v);

/* Required getters: obj must be an object; the field must exist with the
 * right type. MT_ERR_NOT_FOUND "field 'x' is required"; MT_ERR_PARSE
 * "field 'x' must be a string, got integer". Borrowed results stay valid as
 * long as obj does. */
mt_err mt_json_get_string(const json_t *obj, const char *field, const char **out,
                          mt_errbuf *eb);
mt_err mt_json_get_int(const json_t *obj, const char *field, json_int_t *out, mt_errbuf *eb);
/* Integer within [min, max]; MT_ERR_PARSE "field 'x' must be between ..." */
mt_err mt_json_get_int_range(const json_t *obj, const char *field, json_int_t min,
                             json_int_t max, json_int_t *out, mt_errbuf *eb);
/* Accepts integers and reals. */
mt_err mt_json_get_number(const json_t *obj, const char *field, double *out, mt_errbuf *eb);
mt_err mt_json_get_bool(const json_t *obj, const char *field, bool *out, mt_errbuf *eb);
mt_err mt_json_get_object(const json_t *obj, const char *field, json_t **out, mt_errbuf *eb);
mt_err mt_json_get_array(const json_t *obj, const char *field, json_t **out, mt_errbuf *eb);

/* Optional getters: an absent field (or JSON null) yields the default and
 * MT_OK; a present field of the wrong type is still an error. */
mt_err mt_json_opt_string(const json_t *obj, const char *field, const char *dflt,
                          const char **out, mt_errbuf *eb);
mt_err mt_json_opt_int(const json_t *obj, const char *field, json_int_t dflt, json_int_t *out,
                       mt_errbuf *eb);
mt_err mt_json_opt_bool(const json_t *obj, const char *field, bool dflt, bool *out,
                        mt_errbuf *eb);
/* *out is NULL when absent. */
mt_err mt_json_opt_object(const json_t *obj, const char *field, json_t **out, mt_errbuf *eb);
mt_err mt_json_opt_array(const json_t *obj, const char *field, json_t **out, mt_errbuf *eb);

/* Canonical form appended to out: sorted keys, no whitespace, UTF-8 left
 * unescaped (only '"', '\\' and control characters are escaped). Close to
 * RFC 8785 (JCS) except that reals use jansson's %.17g formatting rather
 * than ECMAScript's shortest form; integers are identical. Scalars are
 * accepted at the top level. */
mt_err mt_json_dump_canonical(const json_t *v, mt_buf *out, mt_errbuf *eb);

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF): the index of the first bad byte, or len when all is valid. */
size_t mt_utf8_check(const void *text, size_t len);

#endif
