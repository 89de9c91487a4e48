/* Structured logging for every mcptrail binary.
 *
 * A line is built as a jansson object in a fixed key order (ts, level,
 * component, msg, then the caller's fields in call order; jansson keeps
 * insertion order), passed through the redactor, dumped with jansson (which
 * escapes control characters and quotes correctly), and written with exactly
 * one write(2) so concurrent threads never interleave partial lines.
 *
 * Global mutable state (documented exception to the house rule): the
 * threshold, the output format and the sink fd are process-wide atomics.
 * Changing them is safe at any time from any thread; a line being written
 * concurrently uses either the old or the new value.
 *
 * Redaction is a last line of defence, deliberately simple and
 * over-eager: any field whose key contains a credential-like word is
 * replaced whole, and bearer tokens / JWTs are cut out of any string. The
 * redactor copies rather than edits in place, because the caller may have
 * passed an object it still references. */
#include "mcptrail/log.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mcptrail/buf.h"

#define REDACTED "[REDACTED]"
/* Logged values come from our own code, but a cyclic or absurdly deep object
 * must not blow the stack of a thread that is only trying to log. */
#define MAX_REDACT_DEPTH 32

static atomic_int log_threshold = MT_LOG_INFO;
static atomic_int log_format = MT_LOG_FORMAT_JSON;
static atomic_int log_fd = STDERR_FILENO;
/* The masker and its context, swapped together under a lock (rarely set). */
static pthread_mutex_t masker_mu = PTHREAD_MUTEX_INITIALIZER;
static mt_log_masker masker_fn;
static void *masker_ctx;
static _Thread_local bool in_masker;

void mt_log_set_masker(mt_log_masker fn, void *ctx)
{
    pthread_mutex_lock(&masker_mu);
    masker_fn = fn;
    masker_ctx = ctx;
    pthread_mutex_unlock(&masker_mu);
}

/* The masker's copy of s, or NULL (no masker, no change, or re-entered). */
static char *mask_value(const char *s, size_t len)
{
    if (in_masker)
        return NULL;
    pthread_mutex_lock(&masker_mu);
    mt_log_masker fn = masker_fn;
    void *ctx = masker_ctx;
    pthread_mutex_unlock(&masker_mu);
    if (!fn)
        return NULL;
    in_masker = true;
    char *out = fn(ctx, s, len);
    in_masker = false;
    return out;
}

void mt_log_set_level(mt_log_level level)
{
    atomic_store(&log_threshold, (int)level);
}

mt_log_level mt_log_get_level(void)
{
    return (mt_log_level)atomic_load(&log_threshold);
}

void mt_log_set_format(mt_log_format format)
{
    atomic_store(&log_format, (int)format);
}

void mt_log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

void mt_log_set_file(FILE *f)
{
    fflush(f);
    mt_log_set_fd(fileno(f));
}

bool mt_log_enabled(mt_log_level level)
{
    return (int)level >= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

const char *mt_log_level_name(mt_log_level level)
{
    switch (level) {
    case MT_LOG_DEBUG: return "debug";
    case MT_LOG_INFO: return "info";
    case MT_LOG_WARN: return "warn";
    case MT_LOG_ERROR: return "error";
    }
    return "unknown";
}

mt_err mt_log_parse_level(const char *s, mt_log_level *out, mt_errbuf *eb)
{
    static const struct { const char *name; mt_log_level level; } names[] = {
        {"debug", MT_LOG_DEBUG}, {"info", MT_LOG_INFO},   {"warn", MT_LOG_WARN},
        {"warning", MT_LOG_WARN}, {"error", MT_LOG_ERROR},
    };
    if (!s)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "log level is NULL");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return MT_OK;
        }
    }
    return mt_fail(eb, MT_ERR_CONFIG,
                   "'%.64s' is not a log level (use debug, info, warn or error)", s);
}

static char fold(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c == '-' ? '_' : c; /* X-Api-Key is as secret as x_api_key */
}

/* Case-insensitive substring that also equates '-' and '_' (strcasestr is a
 * GNU extension anyway; the build is strict POSIX). */
static bool contains_ci(const char *hay, const char *needle)
{
    for (; *hay; hay++) {
        size_t k = 0;
        while (needle[k] && hay[k] && fold(hay[k]) == fold(needle[k]))
            k++;
        if (!needle[k])
            return true;
    }
    return false;
}

static const char *const secret_words[] = {
    "password", "secret", "token",       "authorization", "api_key",
    "apikey",   "cookie", "private_key", "credential",
};

/* Field names that contain a secret word but never hold a secret: MCP's
 * progress tokens and sampling limits, LLM usage counts, OAuth token_type. */
static bool key_is_known_public(const char *key)
{
    static const char *const names[] = {
        "progresstoken", "maxtokens",    "max_tokens",   "inputtokens",  "input_tokens",
        "outputtokens",  "output_tokens", "totaltokens", "total_tokens", "token_type",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t k = 0;
        while (names[i][k] && key[k] && fold(key[k]) == names[i][k])
            k++;
        if (!names[i][k] && !key[k])
            return true;
    }
    return false;
}

bool mt_log_key_is_secret(const char *key)
{
    if (!key || key_is_known_public(key))
        return false;
    for (size_t i = 0; i < sizeof secret_words / sizeof secret_words[0]; i++) {
        if (contains_ci(key, secret_words[i]))
            return true;
    }
    return false;
}

/* --- text redaction ------------------------------------------------------ */

static bool is_b64url(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* RFC 6750 b64token characters. */
static bool is_b64token(unsigned char c)
{
    return is_b64url(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
}

static bool is_alnum(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Length of a JWT starting at s[i] (eyJ + 3 base64url segments), or 0. The
 * signature segment may be empty (alg "none" tokens are still credentials). */
static size_t jwt_len(const char *s, size_t len, size_t i)
{
    if (len - i < 3 || memcmp(s + i, "eyJ", 3) != 0)
        return 0;
    if (i > 0 && is_b64url((unsigned char)s[i - 1]))
        return 0;
    size_t j = i;
    for (int seg = 0; seg < 3; seg++) {
        size_t start = j;
        while (j < len && is_b64url((unsigned char)s[j]))
            j++;
        if (seg < 2) {
            if (j == start || j >= len || s[j] != '.')
                return 0;
            j++;
        }
    }
    return j - i;
}

/* If s[i] starts "Bearer <token>", returns the offset of the token and sets
 * *tok_len; else 0. */
static size_t bearer_token(const char *s, size_t len, size_t i, size_t *tok_len)
{
    if (len - i < 7 || strncasecmp(s + i, "bearer", 6) != 0)
        return 0;
    if (i > 0 && is_alnum((unsigned char)s[i - 1]))
        return 0;
    size_t j = i + 6;
    if (s[j] != ' ' && s[j] != '\t')
        return 0;
    while (j < len && (s[j] == ' ' || s[j] == '\t'))
        j++;
    size_t t = j;
    while (j < len && is_b64token((unsigned char)s[j]))
        j++;
    if (j == t)
        return 0;
    *tok_len = j - t;
    return t;
}

char *mt_log_redact_text(const char *s, size_t len)
{
    mt_buf b = MT_BUF_INIT;
    size_t i = 0, copied = 0;
    while (i < len) {
        size_t n, tl = 0, t;
        if ((n = jwt_len(s, len, i)) > 0) {
            if (mt_buf_append(&b, s + copied, i - copied) ||
                mt_buf_append(&b, REDACTED, sizeof REDACTED - 1))
                goto fail;
            i += n;
            copied = i;
        } else if ((t = bearer_token(s, len, i, &tl)) > 0) {
            if (mt_buf_append(&b, s + copied, t - copied) ||
                mt_buf_append(&b, REDACTED, sizeof REDACTED - 1))
                goto fail;
            i = t + tl;
            copied = i;
        } else {
            i++;
        }
    }
    if (mt_buf_append(&b, s + copied, len - copied) || mt_buf_append_byte(&b, 0))
        goto fail;
    return (char *)b.data;
fail:
    mt_buf_free(&b);
    return NULL;
}

/* --- UTF-8 sanitising ---------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, max U+10FFFF), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A json string for s, with invalid UTF-8 replaced by U+FFFD and secrets
 * left in place (the redactor runs over the whole line afterwards). */
static json_t *string_value(const char *s)
{
    if (!s)
        return json_null();
    size_t len = strlen(s);
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    mt_buf b = MT_BUF_INIT;
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(u + i, len - i);
        if (n == 0) {
            if (mt_buf_append(&b, "\xEF\xBF\xBD", 3))
                goto done;
            i++;
        } else {
            if (mt_buf_append(&b, u + i, n))
                goto done;
            i += n;
        }
    }
    j = json_stringn_nocheck(b.len ? (const char *)b.data : "", b.len);
done:
    mt_buf_free(&b);
    return j ? j : json_null();
}

/* --- redaction of values ------------------------------------------------- */

static bool needs_text_redaction(const char *s, size_t len)
{
    for (size_t i = 0; i + 3 <= len; i++) {
        if ((s[i] == 'e' && s[i + 1] == 'y' && s[i + 2] == 'J') ||
            ((s[i] == 'b' || s[i] == 'B') && len - i >= 7 && strncasecmp(s + i, "bearer", 6) == 0))
            return true;
    }
    return false;
}

/* Returns a new reference: v itself (incref'd) when nothing changes, or a
 * redacted copy. Never NULL for non-NULL input unless out of memory. */
static json_t *redacted_copy(json_t *v, int depth)
{
    if (depth > MAX_REDACT_DEPTH)
        return json_string("[TRUNCATED]");
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        char *m = depth > 0 ? mask_value(s, len) : NULL;
        if (m) {
            s = m;
            len = strlen(m);
        }
        json_t *out;
        if (!needs_text_redaction(s, len)) {
            out = m ? json_string(m) : json_incref(v);
        } else {
            char *r = mt_log_redact_text(s, len);
            out = r ? json_string(r) : NULL;
            free(r);
        }
        free(m);
        return out;
    }
    case JSON_OBJECT: {
        json_t *out = json_object();
        const char *key;
        json_t *child;
        if (!out)
            return NULL;
        json_object_foreach(v, key, child) {
            bool own = depth == 0 && (strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 ||
                                      strcmp(key, "component") == 0);
            json_t *c = own                         ? json_incref(child)
                        : mt_log_key_is_secret(key) ? json_string(REDACTED)
                                                    : redacted_copy(child, depth + 1);
            if (json_object_set_new(out, key, c ? c : json_null()) != 0)
                break;
        }
        return out;
    }
    case JSON_ARRAY: {
        json_t *out = json_array();
        size_t i;
        json_t *child;
        if (!out)
            return NULL;
        json_array_foreach(v, i, child) {
            json_t *c = redacted_copy(child, depth + 1);
            json_array_append_new(out, c ? c : json_null());
        }
        return out;
    }
    case JSON_INTEGER:
    case JSON_REAL:
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        return json_incref(v);
    }
    return json_null();
}

/* --- line assembly and output -------------------------------------------- */

static void format_ts(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    if (strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        base[0] = '\0';
    snprintf(out, outlen, "%s.%06ldZ", base, (long)(ts.tv_nsec / 1000));
}

static bool is_reserved(const char *key)
{
    return strcmp(key, "ts") == 0 || strcmp(key, "level") == 0 ||
           strcmp(key, "component") == 0 || strcmp(key, "msg") == 0;
}

/* Adds a caller field; a clash with a fixed key is renamed rather than
 * allowed to overwrite ts/level/component/msg. Steals val. */
static void add_field(json_t *line, const char *key, json_t *val)
{
    if (!val)
        val = json_null();
    json_t *k = string_value(key); /* keys must be valid UTF-8 for jansson */
    const char *ks = json_is_string(k) ? json_string_value(k) : "invalid_key";
    char renamed[128];
    if (is_reserved(ks)) {
        snprintf(renamed, sizeof renamed, "field.%s", ks);
        ks = renamed;
    }
    json_object_set_new(line, ks, val);
    json_decref(k);
}

static void write_all(const char *p, size_t n)
{
    int fd = atomic_load(&log_fd);
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report a failing log sink */
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Strings without spaces, quotes, '=' or control bytes print bare in text
 * format; anything else is JSON-quoted so the line stays unambiguous. */
static bool bare_ok(const char *s)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p <= 0x20 || *p == '"' || *p == '=' || *p == 0x7F || *p == '\\')
            return false;
    }
    return true;
}

static mt_err append_text_value(mt_buf *b, json_t *v)
{
    if (json_is_string(v) && bare_ok(json_string_value(v)))
        return mt_buf_append(b, json_string_value(v), json_string_length(v));
    char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!d)
        return MT_ERR_NOMEM;
    mt_err err = mt_buf_append(b, d, strlen(d));
    free(d);
    return err;
}

static mt_err render_text(mt_buf *b, json_t *line)
{
    const char *key;
    json_t *v;
    mt_err err = MT_OK;
    json_object_foreach(line, key, v) {
        if (strcmp(key, "ts") == 0 || strcmp(key, "component") == 0) {
            err = mt_buf_append(b, json_string_value(v), json_string_length(v));
            err = err ? err : mt_buf_append_byte(b, ' ');
        } else if (strcmp(key, "level") == 0) {
            char lv[8];
            snprintf(lv, sizeof lv, "%-5s ", json_string_value(v));
            for (char *p = lv; *p; p++)
                *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
            err = mt_buf_append(b, lv, strlen(lv));
        } else if (strcmp(key, "msg") == 0) {
            err = mt_buf_append(b, json_string_value(v), json_string_length(v));
        } else {
            err = mt_buf_append_byte(b, ' ');
            err = err ? err : mt_buf_append(b, key, strlen(key));
            err = err ? err : mt_buf_append_byte(b, '=');
            err = err ? err : append_text_value(b, v);
        }
        if (err)
            return err;
    }
    /* msg is free text in this format: control characters would let a value
     * forge a second line, so replace them. */
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] < 0x20 || b->data[i] == 0x7F)
            b->data[i] = ' ';
    }
    return MT_OK;
}

static void emit_line(mt_log_level level, const char *component, json_t *msg, json_t *fields)
{
    char ts[48];
    json_t *line = json_object();
    json_t *clean = NULL;
    char *dumped = NULL;
    mt_buf b = MT_BUF_INIT;
    if (!line || !fields)
        goto done;
    format_ts(ts, sizeof ts);
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(mt_log_level_name(level)));
    json_object_set_new(line, "component", string_value(component ? component : "mcptrail"));
    json_object_set_new(line, "msg", msg ? msg : json_string(""));
    msg = NULL;
    const char *key;
    json_t *v;
    json_object_foreach(fields, key, v) add_field(line, key, json_incref(v));

    clean = redacted_copy(line, 0);
    if (!clean)
        goto done;
    if (atomic_load(&log_format) == MT_LOG_FORMAT_TEXT) {
        if (render_text(&b, clean))
            goto done;
    } else {
        dumped = json_dumps(clean, JSON_COMPACT);
        if (!dumped || mt_buf_append(&b, dumped, strlen(dumped)))
            goto done;
    }
    if (mt_buf_append_byte(&b, '\n'))
        goto done;
    write_all((const char *)b.data, b.len);
done:
    json_decref(msg);
    json_decref(line);
    json_decref(clean);
    free(dumped);
    mt_buf_free(&b);
}

void mt_log_emit(mt_log_level level, const char *component, const char *msg, ...)
{
    va_list ap;
    json_t *fields = json_object();
    va_start(ap, msg);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        json_t *val = va_arg(ap, json_t *);
        if (fields) {
            json_t *k = string_value(key);
            if (json_is_string(k))
                json_object_set_new(fields, json_string_value(k), val ? val : json_null());
            else
                json_decref(val);
            json_decref(k);
        } else {
            json_decref(val);
        }
    }
    va_end(ap);
    emit_line(level, component, string_value(msg ? msg : ""), fields);
    json_decref(fields);
}

void mt_logs_emit(mt_log_level level, const char *component, const char *msg, ...)
{
    va_list ap;
    json_t *fields = json_object();
    va_start(ap, msg);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        const char *val = va_arg(ap, const char *);
        if (fields) {
            json_t *k = string_value(key);
            if (json_is_string(k))
                json_object_set_new(fields, json_string_value(k), string_value(val));
            json_decref(k);
        }
    }
    va_end(ap);
    emit_line(level, component, string_value(msg ? msg : ""), fields);
    json_decref(fields);
}

void mt_logf_emit(mt_log_level level, const char *component, const char *fmt, ...)
{
    char text[2048]; /* longer messages are truncated, never overflowed */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_t *fields = json_object();
    emit_line(level, component, string_value(text), fields);
    json_decref(fields);
}
