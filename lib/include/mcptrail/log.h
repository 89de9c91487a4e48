/* Structured logging: one JSON object per line (JSON Lines) on stderr or a
 * configured file descriptor.
 *
 *   mt_log(MT_LOG_INFO, "kafka", "producer started",
 *          "brokers", json_string(brokers), "partitions", json_integer(n), NULL);
 *   mt_logs(MT_LOG_WARN, "jwks", "refresh failed", "url", url, NULL);
 *
 * Both are macros that test the threshold before evaluating any argument, so a
 * suppressed debug line costs one atomic load and no allocation. Every line is
 * written with a single write(2), so lines from different threads never
 * interleave (for pipes, lines up to PIPE_BUF bytes are atomic; regular files
 * opened with O_APPEND are atomic for any length).
 *
 * Secrets never reach the sink: values of keys that look like credentials are
 * replaced by "[REDACTED]" and bearer tokens / JWTs inside any string
 * (including msg) are redacted. This is a last line of defence; payloads are
 * masked by the masking engine before they are ever logged. */
#ifndef MCPTRAIL_LOG_H
#define MCPTRAIL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "mcptrail/err.h"

typedef enum mt_log_level {
    MT_LOG_DEBUG = 0,
    MT_LOG_INFO = 1,
    MT_LOG_WARN = 2,
    MT_LOG_ERROR = 3,
} mt_log_level;

typedef enum mt_log_format {
    MT_LOG_FORMAT_JSON = 0, /* JSON Lines (default, for machines) */
    MT_LOG_FORMAT_TEXT = 1, /* "ts LEVEL component: msg key=value" (for humans) */
} mt_log_format;

/* Process-wide settings. These are the only global mutable state of the
 * library besides the config snapshot; they are atomics, so they may be
 * changed while other threads log. */
void mt_log_set_level(mt_log_level level);
mt_log_level mt_log_get_level(void);
void mt_log_set_format(mt_log_format format);
/* Sink for subsequent lines; the caller keeps ownership of fd. Default 2. */
void mt_log_set_fd(int fd);
/* Same, for a stdio stream (its fd is used; the stream is flushed first). */
void mt_log_set_file(FILE *f);

/* "debug" / "info" / "warn" / "error" (also "warning"), case-insensitive. */
mt_err mt_log_parse_level(const char *s, mt_log_level *out, mt_errbuf *eb);
const char *mt_log_level_name(mt_log_level level);

/* True when a line at `level` would be written. */
bool mt_log_enabled(mt_log_level level);

/* True when a field named `key` must never be logged in clear (password,
 * secret, token, authorization, api_key, apikey, cookie, private_key,
 * credential; case-insensitive substring, '-' counts as '_'), except names
 * known to hold no secret (progressToken, maxTokens, *_tokens usage counts,
 * token_type). Shared with config printing and the recorder's masking. */
bool mt_log_key_is_secret(const char *key);

/* Redacts bearer tokens ("Bearer xxx") and JWTs (eyJ... three base64url
 * segments) inside s. Returns a malloc'd string (caller frees) or NULL on
 * allocation failure. */
char *mt_log_redact_text(const char *s, size_t len);

/* A masker every string of a log line (msg and values; not ts, level and
 * component) passes through before it is written: returns a malloc'd masked
 * copy, or NULL when the text needs no change (or cannot be masked: the
 * built-in redaction still applies). It must be thread-safe; lines logged
 * from inside the masker are not masked again. The sidecar installs the
 * masking engine here (mcptrail/mask.h), so log lines get the same
 * detectors as payloads. NULL uninstalls. */
typedef char *(*mt_log_masker)(void *ctx, const char *s, size_t len);
void mt_log_set_masker(mt_log_masker fn, void *ctx);

/* Key/value pairs after msg end with a NULL key.
 * mt_log_emit: values are json_t * and are STOLEN (like json_object_set_new);
 *   a NULL value (e.g. json_string() of invalid UTF-8) is logged as null.
 * mt_logs_emit: values are const char * (borrowed); NULL logs as null;
 *   invalid UTF-8 bytes are replaced by U+FFFD. */
void mt_log_emit(mt_log_level level, const char *component, const char *msg, ...)
    __attribute__((sentinel));
void mt_logs_emit(mt_log_level level, const char *component, const char *msg, ...)
    __attribute__((sentinel));
/* printf-style message without extra fields. */
void mt_logf_emit(mt_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The macros skip argument evaluation (and thus json_t allocation) when the
 * level is below the threshold. Always end the key/value list with NULL. */
#define mt_log(level, ...)                                                    \
    do {                                                                      \
        mt_log_level mt_log__l = (level);                                     \
        if (mt_log_enabled(mt_log__l))                                        \
            mt_log_emit(mt_log__l, __VA_ARGS__);                              \
    } while (0)
#define mt_logs(level, ...)                                                   \
    do {                                                                      \
        mt_log_level mt_log__l = (level);                                     \
        if (mt_log_enabled(mt_log__l))                                        \
            mt_logs_emit(mt_log__l, __VA_ARGS__);                             \
    } while (0)
#define mt_logf(level, ...)                                                   \
    do {                                                                      \
        mt_log_level mt_log__l = (level);                                     \
        if (mt_log_enabled(mt_log__l))                                        \
            mt_logf_emit(mt_log__l, __VA_ARGS__);                             \
    } while (0)

#endif
