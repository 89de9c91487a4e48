/* mcptrail error codes.
 *
 * Every fallible function in libmcptrail returns an mt_err. MT_OK is zero so
 * `if (err) goto fail;` reads naturally. mt_strerror() is a switch with no
 * default case: add a code here and the compiler points at the missing text.
 * Detailed, input-specific messages go to the caller's mt_errbuf (see below);
 * the enum only classifies. */
#ifndef MCPTRAIL_ERR_H
#define MCPTRAIL_ERR_H

#include <stddef.h>

typedef enum mt_err {
    MT_OK = 0,
    MT_ERR_NOMEM,          /* allocation failed */
    MT_ERR_INVALID_ARG,    /* caller passed a bad argument */
    MT_ERR_IO,             /* read/write/open/fsync failed (errno in message) */
    MT_ERR_NOT_FOUND,      /* file, key, schema or record absent */
    MT_ERR_PARSE,          /* malformed JSON, schema or config text */
    MT_ERR_CONFIG,         /* well-formed but invalid configuration */
    MT_ERR_TOO_LARGE,      /* input exceeds a configured or hard bound */
    MT_ERR_TRUNCATED,      /* input ended before a complete value */
    MT_ERR_BAD_MAGIC,      /* wire header is not Avro single-object encoding */
    MT_ERR_UNKNOWN_SCHEMA, /* fingerprint matches no known schema */
    MT_ERR_SCHEMA,         /* datum does not fit the schema */
    MT_ERR_CRYPTO,         /* OpenSSL operation failed */
    MT_ERR_BAD_SIGNATURE,  /* signature did not verify */
    MT_ERR_KAFKA,          /* librdkafka reported an error */
    MT_ERR_KAFKA_FATAL,    /* idempotent producer hit a fatal error */
    MT_ERR_TIMEOUT,        /* a deadline passed */
    MT_ERR_STATE,          /* operation not valid in the object's state */
} mt_err;

/* Static, human-readable description of the class of error. Never NULL. */
const char *mt_strerror(mt_err err);

/* Symbolic name ("MT_ERR_PARSE"), for logs and tests. Never NULL. */
const char *mt_errname(mt_err err);

/* Detailed message buffer that functions taking `mt_errbuf *eb` fill in on
 * failure. A NULL eb is allowed everywhere and discards the detail. */
typedef struct mt_errbuf {
    char msg[512];
} mt_errbuf;

/* Formats a detail message into eb (if non-NULL) and returns err, so a
 * failure site reads `return mt_fail(eb, MT_ERR_PARSE, "...", ...);`. */
mt_err mt_fail(mt_errbuf *eb, mt_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
