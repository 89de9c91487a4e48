/* Avro codec for mcptrail's wire format: schemas from the *.avsc files of schemas, Parsing
 * Canonical Form (PCF) and CRC-64-AVRO fingerprints, single-object encoding
 * (C3 01 + 8-byte little-endian fingerprint + binary datum), and binary
 * datums to and from jansson values.
 *
 * JSON mapping of datums (both directions):
 *   record        -> object with every field. On encode a missing field takes
 *                    its schema default (error if it has none); a key that is
 *                    not a field is an error (catches typos).
 *   null, boolean, string -> the natural JSON value
 *   int, long     -> JSON integer (range-checked on encode)
 *   float, double -> JSON number (integers accepted on encode); NaN/Infinity
 *                    cannot be represented in JSON and fail decoding
 *   enum          -> the symbol as a string
 *   array         -> array;  map -> object
 *   bytes, fixed  -> lowercase hex string (upper case accepted on encode)
 *   union ["null", T] or [T, "null"] -> null, or the plain value of T
 *   any other union -> null for a null branch, else {"<branch name>": value}
 *                    where the branch name is the full name of a named type or
 *                    the type name (int, string, array, map, ...), as in the
 *                    Avro JSON encoding.
 *
 * Error codes (each with a detail message naming the byte offset or field):
 *   MT_ERR_TRUNCATED      input ended inside a value, or a length/count needs
 *                         more bytes than remain
 *   MT_ERR_TOO_LARGE      a length or item count beyond the hard limits below
 *                         (also nesting deeper than MT_AVRO_MAX_DEPTH)
 *   MT_ERR_BAD_MAGIC      header is not C3 01
 *   MT_ERR_UNKNOWN_SCHEMA fingerprint not in the registry
 *   MT_ERR_SCHEMA         datum does not fit the schema: bad enum/union index,
 *                         boolean byte not 0/1, varint overflow, negative
 *                         length, invalid UTF-8, trailing bytes after the
 *                         datum; on encode a JSON value of the wrong type
 *   MT_ERR_PARSE          malformed schema text
 *
 * All objects are immutable after load: a registry and its schemas may be
 * shared by any number of threads. */
#ifndef MCPTRAIL_AVRO_H
#define MCPTRAIL_AVRO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mcptrail/buf.h"
#include "mcptrail/err.h"

/* Hard limits on untrusted input, per decoded datum. */
#define MT_AVRO_MAX_DEPTH 64           /* nested records/arrays/maps/unions */
#define MT_AVRO_MAX_ITEMS 1000000      /* array + map items in one datum */
#define MT_AVRO_MAX_LENGTH (64u << 20) /* one string or bytes value: 64 MiB */

/* Single-object encoding header: magic C3 01 + 8-byte fingerprint. */
#define MT_AVRO_HEADER_LEN 10

typedef struct mt_avro_schema mt_avro_schema;     /* one named top-level record type */
typedef struct mt_avro_registry mt_avro_registry; /* every *.avsc of a schema dir */

/* Loads every *.avsc file in dir (sorted by file name). dir NULL ->
 * getenv("MT_SCHEMA_DIR"), else the compile-time MT_SCHEMA_DIR_DEFAULT.
 * Each file must hold one named record; duplicate names or fingerprints fail.
 *
 * Schema evolution (docs/wire-format.md "Schema evolution"): dir/previous/
 * holds earlier versions of current schemas, one file each. Every one must
 * be readable by the current schema of its name (mt_avro_schema_check_
 * evolution) or the load fails. mt_avro_decode of a record written with an
 * earlier version returns the current schema and the datum resolved to it
 * (fields added since then take their defaults), so readers see one shape. */
#define MT_AVRO_PREVIOUS_DIR "previous"
mt_err mt_avro_registry_load(const char *dir, mt_avro_registry **out, mt_errbuf *eb);

/* An earlier version and the current schema that reads it. */
typedef struct mt_avro_version {
    const mt_avro_schema *writer; /* from previous/ */
    const mt_avro_schema *reader; /* the current schema of the same name */
} mt_avro_version;
const mt_avro_version *mt_avro_registry_previous(const mt_avro_registry *reg, uint64_t fp);
size_t mt_avro_registry_previous_count(const mt_avro_registry *reg);
const mt_avro_version *mt_avro_registry_previous_at(const mt_avro_registry *reg, size_t i);

/* MT_OK when every datum of writer is readable as reader under the
 * evolution rules (record fields matched by name, fields only added and
 * with a default, enum symbols and union branches only added, no type
 * changes); MT_ERR_SCHEMA naming the first field that breaks a rule. */
mt_err mt_avro_schema_check_evolution(const mt_avro_schema *writer, const mt_avro_schema *reader,
                                      mt_errbuf *eb);
void mt_avro_registry_free(mt_avro_registry *reg);
/* Current schemas only: "dev.mcptrail.SessionEvent"; NULL when absent. */
const mt_avro_schema *mt_avro_registry_find(const mt_avro_registry *reg, const char *fullname);
const mt_avro_schema *mt_avro_registry_find_fp(const mt_avro_registry *reg, uint64_t fp);
/* Iteration, in file-name order. */
size_t mt_avro_registry_count(const mt_avro_registry *reg);
const mt_avro_schema *mt_avro_registry_at(const mt_avro_registry *reg, size_t i);

/* Parses one schema from JSON text (any Avro schema, not only records), with
 * defaults validated, for tests and tools. Free with mt_avro_schema_free;
 * never free a schema owned by a registry. */
mt_err mt_avro_schema_parse(const char *schema_json, mt_avro_schema **out, mt_errbuf *eb);
void mt_avro_schema_free(mt_avro_schema *s);

/* Full name of a named top-level type, else the type name ("int", "array"). */
const char *mt_avro_schema_name(const mt_avro_schema *s);
uint64_t mt_avro_schema_fingerprint(const mt_avro_schema *s);  /* CRC-64-AVRO of the PCF */
const char *mt_avro_schema_canonical(const mt_avro_schema *s); /* PCF text */
const char *mt_avro_schema_json(const mt_avro_schema *s);      /* original schema text */

/* CRC-64-AVRO (Rabin fingerprint, empty value 0xc15d213aa4d7a795). */
uint64_t mt_avro_crc64(const void *data, size_t len);
/* PCF of any schema text; *out is malloc'd, NUL-terminated. Field defaults are
 * not validated here (PCF ignores them). */
mt_err mt_avro_parsing_canonical_form(const char *schema_json, char **out, mt_errbuf *eb);

/* Single-object encoding appended to out: C3 01, 8-byte LE fingerprint, binary
 * datum. On error out->len is restored to its value on entry. */
mt_err mt_avro_encode(const mt_avro_schema *s, const json_t *datum, mt_buf *out, mt_errbuf *eb);
/* Binary datum only, appended to out (same restore-on-error rule). */
mt_err mt_avro_encode_datum(const mt_avro_schema *s, const json_t *datum, mt_buf *out,
                            mt_errbuf *eb);
/* Decodes one single-object record; the whole input must be that record.
 * On success *schema_out (if non-NULL) is the registry's current schema and
 * *datum_out a new reference; a record of an earlier version is resolved
 * to the current one. On failure *datum_out is NULL. */
mt_err mt_avro_decode(const mt_avro_registry *reg, const uint8_t *data, size_t len,
                      const mt_avro_schema **schema_out, json_t **datum_out, mt_errbuf *eb);
/* Decodes one binary datum of schema s that must span exactly len bytes. */
mt_err mt_avro_decode_datum(const mt_avro_schema *s, const uint8_t *data, size_t len,
                            json_t **datum_out, mt_errbuf *eb);

/* ---- streaming writer ------------------------------------------------------
 * Encodes one single-object record field by field, in schema order, without
 * building a JSON value first: the hot path of the sidecar's recorder. Each
 * call names the field it writes; the writer checks the name and the type
 * against the schema (so the schema stays the single source of truth and a
 * drift between the code and the .avsc fails loudly), picks union branches by
 * the kind of value (null, string, long...), and validates UTF-8. The first
 * error sticks: later calls do nothing and mt_avro_writer_finish reports it
 * (with the field path) and restores out->len to its value at begin.
 *
 *   mt_avro_writer w;
 *   mt_avro_writer_begin(&w, schema, &buf);
 *   mt_avw_string(&w, "event_id", id, len);
 *   mt_avw_record_begin(&w, "source"); ... mt_avw_record_end(&w);
 *   err = mt_avro_writer_finish(&w, eb);
 *
 * Strings: s == NULL writes null (the field must be a union with null).
 * mt_avw_json encodes a JSON value with the JSON mapping above, for the
 * fields whose value already is JSON (identity, mask_summary). */
#define MT_AVRO_WRITER_DEPTH 8

typedef struct mt_avro_writer {
    mt_buf *out;
    size_t start;
    const struct av_node *rec[MT_AVRO_WRITER_DEPTH]; /* open records */
    size_t next[MT_AVRO_WRITER_DEPTH];               /* next field of each */
    int depth;
    mt_err err;
    char msg[200];
} mt_avro_writer;

void mt_avro_writer_begin(mt_avro_writer *w, const mt_avro_schema *s, mt_buf *out);
void mt_avw_null(mt_avro_writer *w, const char *field);
void mt_avw_bool(mt_avro_writer *w, const char *field, int v);
void mt_avw_long(mt_avro_writer *w, const char *field, int64_t v); /* int or long */
void mt_avw_string(mt_avro_writer *w, const char *field, const char *s, size_t len);
void mt_avw_enum(mt_avro_writer *w, const char *field, const char *symbol);
void mt_avw_fixed(mt_avro_writer *w, const char *field, const uint8_t *bytes, size_t n);
void mt_avw_json(mt_avro_writer *w, const char *field, const json_t *v);
void mt_avw_record_begin(mt_avro_writer *w, const char *field);
void mt_avw_record_end(mt_avro_writer *w);
mt_err mt_avro_writer_finish(mt_avro_writer *w, mt_errbuf *eb);

#endif
