/* Error codes: class names and descriptions, plus the detail-buffer helper.
 * The switches have no default case so -Wswitch (in -Wall) flags a new enum
 * value that was not described here. */
#include "mcptrail/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *mt_strerror(mt_err err)
{
    switch (err) {
    case MT_OK: return "success";
    case MT_ERR_NOMEM: return "out of memory";
    case MT_ERR_INVALID_ARG: return "invalid argument";
    case MT_ERR_IO: return "input/output error";
    case MT_ERR_NOT_FOUND: return "not found";
    case MT_ERR_PARSE: return "malformed input";
    case MT_ERR_CONFIG: return "invalid configuration";
    case MT_ERR_TOO_LARGE: return "input too large";
    case MT_ERR_TRUNCATED: return "input truncated";
    case MT_ERR_BAD_MAGIC: return "not Avro single-object encoding (bad magic)";
    case MT_ERR_UNKNOWN_SCHEMA: return "unknown schema fingerprint";
    case MT_ERR_SCHEMA: return "datum does not match schema";
    case MT_ERR_CRYPTO: return "cryptographic operation failed";
    case MT_ERR_BAD_SIGNATURE: return "signature verification failed";
    case MT_ERR_KAFKA: return "Kafka error";
    case MT_ERR_KAFKA_FATAL: return "fatal Kafka producer error";
    case MT_ERR_TIMEOUT: return "timed out";
    case MT_ERR_STATE: return "invalid state for operation";
    }
    return "unknown error code";
}

const char *mt_errname(mt_err err)
{
    switch (err) {
    case MT_OK: return "MT_OK";
    case MT_ERR_NOMEM: return "MT_ERR_NOMEM";
    case MT_ERR_INVALID_ARG: return "MT_ERR_INVALID_ARG";
    case MT_ERR_IO: return "MT_ERR_IO";
    case MT_ERR_NOT_FOUND: return "MT_ERR_NOT_FOUND";
    case MT_ERR_PARSE: return "MT_ERR_PARSE";
    case MT_ERR_CONFIG: return "MT_ERR_CONFIG";
    case MT_ERR_TOO_LARGE: return "MT_ERR_TOO_LARGE";
    case MT_ERR_TRUNCATED: return "MT_ERR_TRUNCATED";
    case MT_ERR_BAD_MAGIC: return "MT_ERR_BAD_MAGIC";
    case MT_ERR_UNKNOWN_SCHEMA: return "MT_ERR_UNKNOWN_SCHEMA";
    case MT_ERR_SCHEMA: return "MT_ERR_SCHEMA";
    case MT_ERR_CRYPTO: return "MT_ERR_CRYPTO";
    case MT_ERR_BAD_SIGNATURE: return "MT_ERR_BAD_SIGNATURE";
    case MT_ERR_KAFKA: return "MT_ERR_KAFKA";
    case MT_ERR_KAFKA_FATAL: return "MT_ERR_KAFKA_FATAL";
    case MT_ERR_TIMEOUT: return "MT_ERR_TIMEOUT";
    case MT_ERR_STATE: return "MT_ERR_STATE";
    }
    return "MT_ERR_?";
}

mt_err mt_fail(mt_errbuf *eb, mt_err err, const char *fmt, ...)
{
    if (eb) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
        va_end(ap);
    }
    return err;
}
