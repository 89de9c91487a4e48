/* Table-driven configuration for every mcptrail binary.
 *
 * A binary describes its options once (mt_cfg_option tables, see config.h).
 * mt_cfg_load flattens the spec's tables into one list and applies four
 * layers in order, each overwriting the previous: defaults (the table's
 * default text, run through the same parser as everything else), the JSON
 * config file, environment variables, command-line flags. Every value from
 * every layer goes through mt_cfg_parse_value, so a type has exactly one
 * syntax and one set of error messages; the loader only adds where the value
 * came from. The command line is tokenised before any layer is applied, so
 * --help and --version work even when the file or environment is broken, and
 * --config is known before the file layer runs.
 *
 * The same tables render --help, --print-config (secrets masked) and the
 * Markdown reference in docs/configuration.md, which a unit test regenerates
 * and compares so the documentation cannot drift from the code. */
#include "mcptrail/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "mcptrail/buf.h"
#include "mcptrail/json.h"
#include "mcptrail/log.h"

extern char **environ;

#ifndef MT_VERSION
#define MT_VERSION "unknown"
#endif

#define MAX_NAME 128            /* longest dotted option path accepted from a file */
#define MAX_SECRET_FILE 65536   /* secrets are keys and tokens, not documents */
#define MAX_CONFIG_FILE (1u << 20)
#define MAX_CONFIG_DEPTH 16

/* --- the common table ---------------------------------------------------- */

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"json", "text", NULL};

const mt_cfg_option mt_cfg_common_options[] = {
    {"log.level", MT_CFG_ENUM, "info", "Minimum severity of log lines written to stderr.",
     offsetof(mt_common_config, log_level), 0, 0, log_levels, 0},
    {"log.format", MT_CFG_ENUM, "json",
     "Log line format: `json` (JSON Lines, for collectors) or `text` (for a terminal).",
     offsetof(mt_common_config, log_format), 0, 0, log_formats, 0},
    {"kafka.brokers", MT_CFG_STRING, "localhost:9092",
     "Kafka bootstrap servers as a comma-separated host:port list (librdkafka "
     "`bootstrap.servers`).",
     offsetof(mt_common_config, kafka_brokers), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"kafka.client_id", MT_CFG_STRING, "mcptrail",
     "Client id sent to the brokers (librdkafka `client.id`); shows up in broker logs, "
     "quotas and ACL audit lines.",
     offsetof(mt_common_config, kafka_client_id), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"kafka.properties", MT_CFG_LIST, NULL,
     "Extra librdkafka properties as key=value, for TLS and SASL (e.g. "
     "`security.protocol=SASL_SSL`, `ssl.ca.location=/etc/mcptrail/ca.pem`, "
     "`sasl.mechanism=SCRAM-SHA-512`). In a config file, a JSON object is also accepted. "
     "Values of secret-looking keys are masked by --print-config; prefer passing them "
     "in a config file mounted from a Secret rather than in flags.",
     offsetof(mt_common_config, kafka_properties), 0, 0, NULL, MT_CFG_F_KEYVALUE},
    {"kafka.sasl_password_file", MT_CFG_SECRET_FILE, NULL,
     "File holding the SASL password (librdkafka `sasl.password`), e.g. a mounted Secret, so "
     "the password is in no flag, environment variable or config file; the other SASL "
     "settings go in kafka.properties. Not together with sasl.password in kafka.properties.",
     offsetof(mt_common_config, kafka_sasl_password), 0, 0, NULL, 0},
    {"schema_dir", MT_CFG_STRING, NULL,
     "Directory holding the Avro schemas (`*.avsc`). Unset: `$MT_SCHEMA_DIR`, else the "
     "schemas/ directory of the source tree the binary was built from.",
     offsetof(mt_common_config, schema_dir), 0, 0, NULL, 0},
    MT_CFG_END,
};

/* Binaries' tables compiled into the library for the reference (their
 * sources stay next to the binary; its CMakeLists adds them to mcptrail). */
extern const mt_cfg_option mt_sidecar_options[];
extern const mt_cfg_option mt_approvals_options[];
extern const mt_cfg_option mt_archiver_options[];
extern const mt_cfg_option mt_injector_options[];
extern const mt_cfg_option mt_wrap_options[];

const mt_cfg_doc_section mt_cfg_doc_sections[] = {
    {"Common options (every binary)",
     "Every mcptrail binary accepts these options. The environment prefix is `MCPTRAIL_`.",
     "MCPTRAIL_", mt_cfg_common_options},
    {"mcptrail-sidecar",
     "The MCP reverse proxy in front of each MCP server (`mcptrail-sidecar --help`).",
     "MCPTRAIL_", mt_sidecar_options},
    {"mcptrail-approvals",
     "The approval service: approval state machine, approvers' HTTP API, Ed25519-signed "
     "decisions (`mcptrail-approvals --help`, docs/approvals.md).",
     "MCPTRAIL_", mt_approvals_options},
    {"mcptrail-archiver run",
     "The archiver: write-once Avro segments with signed, chained manifests "
     "(`mcptrail-archiver run --help`, docs/archive.md).",
     "MCPTRAIL_", mt_archiver_options},
    {"mcptrail-injector",
     "The mutating admission webhook that adds the sidecar to pods that opt in "
     "(`mcptrail-injector --help`, docs/kubernetes.md).",
     "MCPTRAIL_", mt_injector_options},
    {"mcptrail-wrap",
     "The stdio recorder a CI job puts in front of a stdio MCP server it launches "
     "(`mcptrail-wrap --help`, docs/wrap.md).",
     "MCPTRAIL_", mt_wrap_options},
    {NULL, NULL, NULL, NULL},
};

/* --- small helpers ------------------------------------------------------- */

typedef struct flat_opt {
    const mt_cfg_option *opt;
    size_t offset; /* part base + option offset */
} flat_opt;

static void *field_at(void *cfg, size_t offset)
{
    return (char *)cfg + offset;
}

static const void *cfield_at(const void *cfg, size_t offset)
{
    return (const char *)cfg + offset;
}

static mt_err flatten(const mt_cfg_spec *spec, flat_opt **out, size_t *nout)
{
    size_t n = 0;
    for (size_t p = 0; p < MT_CFG_MAX_PARTS && spec->parts[p].options; p++)
        for (const mt_cfg_option *o = spec->parts[p].options; o->name; o++)
            n++;
    flat_opt *f = calloc(n ? n : 1, sizeof *f);
    if (!f)
        return MT_ERR_NOMEM;
    size_t i = 0;
    for (size_t p = 0; p < MT_CFG_MAX_PARTS && spec->parts[p].options; p++)
        for (const mt_cfg_option *o = spec->parts[p].options; o->name; o++) {
            f[i].opt = o;
            f[i].offset = spec->parts[p].base + o->offset;
            i++;
        }
    *out = f;
    *nout = n;
    return MT_OK;
}

static long find_opt(const flat_opt *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].opt->name, name) == 0)
            return (long)i;
    return -1;
}

size_t mt_cfg_edit_distance(const char *a, const char *b)
{
    /* Names are short; longer input is compared on its first 63 bytes,
     * which is plenty for a suggestion. */
    enum { CAP = 64 };
    size_t la = strnlen(a, CAP - 1), lb = strnlen(b, CAP - 1);
    size_t prev[CAP], cur[CAP];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

static const char *closest(const flat_opt *f, size_t n, const char *name)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t d = mt_cfg_edit_distance(name, f[i].opt->name);
        if (d < best_d) {
            best_d = d;
            best = f[i].opt->name;
        }
    }
    return best ? best : "(none)";
}

void mt_cfg_env_name(const char *prefix, const char *name, char *out, size_t outlen)
{
    size_t k = 0;
    if (outlen == 0)
        return;
    for (const char *p = prefix ? prefix : ""; *p && k + 1 < outlen; p++)
        out[k++] = *p;
    for (const char *p = name; *p && k + 1 < outlen; p++) {
        char c = *p;
        if (c == '.' || c == '-')
            c = '_';
        else if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        out[k++] = c;
    }
    out[k] = '\0';
}

static const char *env_get(char *const *envp, const char *name)
{
    size_t nl = strlen(name);
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, name, nl) == 0 && (*e)[nl] == '=')
            return *e + nl + 1;
    return NULL;
}

static void strlist_free(mt_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static mt_err strlist_push(mt_strlist *l, const char *s, size_t len)
{
    char *copy = strndup(s, len);
    if (!copy)
        return MT_ERR_NOMEM;
    char **items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items) {
        free(copy);
        return MT_ERR_NOMEM;
    }
    items[l->n++] = copy;
    l->items = items;
    return MT_OK;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Leading decimal digits of s into *v; *overflow when they exceed UINT64_MAX.
 * Returns the first non-digit, or NULL when there is no digit. */
static const char *scan_u64(const char *s, uint64_t *v, bool *overflow)
{
    *v = 0;
    *overflow = false;
    if (!is_digit(*s))
        return NULL;
    while (is_digit(*s)) {
        unsigned d = (unsigned)(*s - '0');
        if (*v > (UINT64_MAX - d) / 10)
            *overflow = true;
        else
            *v = *v * 10 + d;
        s++;
    }
    return s;
}

static void format_duration(int64_t ms, char *out, size_t len)
{
    if (ms != 0 && ms % 3600000 == 0)
        snprintf(out, len, "%lldh", (long long)(ms / 3600000));
    else if (ms != 0 && ms % 60000 == 0)
        snprintf(out, len, "%lldm", (long long)(ms / 60000));
    else if (ms != 0 && ms % 1000 == 0)
        snprintf(out, len, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, len, "%lldms", (long long)ms);
}

static void format_size(int64_t b, char *out, size_t len)
{
    static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
    static const int shifts[] = {40, 30, 20, 10};
    for (size_t i = 0; i < 4; i++) {
        int64_t unit = (int64_t)1 << shifts[i];
        if (b != 0 && b % unit == 0) {
            snprintf(out, len, "%lld%s", (long long)(b / unit), units[i]);
            return;
        }
    }
    snprintf(out, len, "%lldB", (long long)b);
}

static bool has_bounds(const mt_cfg_option *o)
{
    return o->min < o->max;
}

/* --- per-type parsers ---------------------------------------------------- */

static mt_err parse_int(const mt_cfg_option *o, const char *text, int64_t *out, mt_errbuf *eb)
{
    const char *p = text;
    bool neg = false, overflow;
    uint64_t v;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    const char *end = scan_u64(p, &v, &overflow);
    if (!end || *end)
        return mt_fail(eb, MT_ERR_CONFIG, "%s: '%.100s' is not an integer", o->name, text);
    if ((overflow || v > (uint64_t)INT64_MAX + (neg ? 1u : 0u)) && has_bounds(o))
        return mt_fail(eb, MT_ERR_CONFIG, "%s: '%.100s' is out of range (%lld..%lld)", o->name,
                       text, (long long)o->min, (long long)o->max);
    if (overflow || v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return mt_fail(eb, MT_ERR_CONFIG, "%s: '%.100s' is out of range (must fit in 64 bits)",
                       o->name, text);
    int64_t r = neg ? (v == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    if (has_bounds(o) && (r < o->min || r > o->max))
        return mt_fail(eb, MT_ERR_CONFIG, "%s: %lld is out of range (%lld..%lld)", o->name,
                       (long long)r, (long long)o->min, (long long)o->max);
    *out = r;
    return MT_OK;
}

static mt_err parse_bool(const mt_cfg_option *o, const char *text, bool *out, mt_errbuf *eb)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return MT_OK;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return MT_OK;
        }
    }
    return mt_fail(eb, MT_ERR_CONFIG, "%s: '%.100s' is not a boolean (use true or false)",
                   o->name, text);
}

/* Shared by durations and sizes: number + unit from a table, overflow and
 * bounds checked, bounds shown in the same units the user writes. */
typedef struct unit {
    const char *suffix;
    int64_t mult;
} unit;

static mt_err parse_scaled(const mt_cfg_option *o, const char *text, const unit *units,
                           size_t nunits, bool bare_ok, const char *what, const char *example,
                           void (*fmt)(int64_t, char *, size_t), int64_t *out, mt_errbuf *eb)
{
    uint64_t v;
    bool overflow;
    const char *u = scan_u64(text, &v, &overflow);
    int64_t mult = 0;
    if (u) {
        if (*u == '\0' && (bare_ok || v == 0)) {
            mult = 1;
        } else {
            for (size_t i = 0; i < nunits; i++)
                if (strcmp(u, units[i].suffix) == 0)
                    mult = units[i].mult;
        }
    }
    if (mult == 0)
        return mt_fail(eb, MT_ERR_CONFIG, "%s: '%.100s' is not a %s (use e.g. %s)", o->name,
                       text, what, example);
    if (overflow || v > (uint64_t)(INT64_MAX / mult))
        return mt_fail(eb, MT_ERR_CONFIG, "%s: '%.100s' is too large for a %s", o->name, text,
                       what);
    int64_t r = (int64_t)v * mult;
    if (has_bounds(o) && (r < o->min || r > o->max)) {
        char lo[32], hi[32];
        fmt(o->min, lo, sizeof lo);
        fmt(o->max, hi, sizeof hi);
        return mt_fail(eb, MT_ERR_CONFIG, "%s: '%.100s' is out of range (%s..%s)", o->name,
                       text, lo, hi);
    }
    *out = r;
    return MT_OK;
}

static const unit duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
};

static const unit size_units[] = {
    {"B", 1},
    {"KiB", (int64_t)1 << 10}, {"MiB", (int64_t)1 << 20},
    {"GiB", (int64_t)1 << 30}, {"TiB", (int64_t)1 << 40},
    {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000}, {"TB", 1000000000000},
};

static mt_err parse_enum(const mt_cfg_option *o, const char *text, int *out, mt_errbuf *eb)
{
    char allowed[256];
    size_t k = 0;
    allowed[0] = '\0';
    for (int i = 0; o->choices && o->choices[i]; i++) {
        if (strcmp(text, o->choices[i]) == 0) {
            *out = i;
            return MT_OK;
        }
        int w = snprintf(allowed + k, sizeof allowed - k, "%s%s", i ? ", " : "", o->choices[i]);
        if (w > 0 && (size_t)w < sizeof allowed - k)
            k += (size_t)w;
    }
    return mt_fail(eb, MT_ERR_CONFIG, "%s: '%.100s' is not one of: %s", o->name, text, allowed);
}

static mt_err check_keyvalue(const mt_cfg_option *o, const char *item, mt_errbuf *eb)
{
    const char *eq = strchr(item, '=');
    if (!eq || eq == item)
        return mt_fail(eb, MT_ERR_CONFIG, "%s: '%.100s' is not key=value", o->name, item);
    return MT_OK;
}

/* For key=value lists a comma only separates items when the next segment
 * contains '=' itself, so values like ssl.cipher.suites=A,B survive. */
static bool split_here(const mt_cfg_option *o, const char *after_comma)
{
    if (!(o->flags & MT_CFG_F_KEYVALUE))
        return true;
    for (const char *p = after_comma; *p && *p != ','; p++)
        if (*p == '=')
            return true;
    return false;
}

/* A list given as JSON array text in the environment or on the command line
 * (items may then hold commas, e.g. an argv). */
static mt_err parse_json_list(const mt_cfg_option *o, const char *text, mt_strlist *out,
                              mt_errbuf *eb)
{
    json_error_t jerr;
    json_t *a = json_loads(text, 0, &jerr);
    mt_strlist l = {NULL, 0};
    mt_err err = MT_OK;
    if (!json_is_array(a)) {
        json_decref(a);
        return mt_fail(eb, MT_ERR_CONFIG,
                       "%s: a value starting with '[' must be a JSON array of strings (%s)",
                       o->name, a ? "not an array" : jerr.text);
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v)) {
            err = mt_fail(eb, MT_ERR_CONFIG, "%s: item %zu of the JSON array is not a string",
                          o->name, i);
            break;
        }
        if ((err = strlist_push(&l, json_string_value(v), json_string_length(v)))) {
            err = mt_fail(eb, err, "%s: out of memory", o->name);
            break;
        }
        if ((o->flags & MT_CFG_F_KEYVALUE) && (err = check_keyvalue(o, l.items[l.n - 1], eb)))
            break;
    }
    json_decref(a);
    if (err) {
        strlist_free(&l);
        return err;
    }
    *out = l;
    return MT_OK;
}

static mt_err parse_list(const mt_cfg_option *o, const char *text, mt_strlist *out,
                         mt_errbuf *eb)
{
    mt_strlist l = {NULL, 0};
    mt_err err = MT_OK;
    const char *t = text;
    while (*t == ' ' || *t == '\t')
        t++;
    if (*t == '[')
        return parse_json_list(o, t, out, eb);
    const char *start = text;
    for (const char *p = text;; p++) {
        if (*p != '\0' && !(*p == ',' && split_here(o, p + 1)))
            continue;
        const char *a = start, *b = p;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a && (err = strlist_push(&l, a, (size_t)(b - a))))
            goto fail;
        if (b > a && (o->flags & MT_CFG_F_KEYVALUE) &&
            (err = check_keyvalue(o, l.items[l.n - 1], eb)))
            goto fail;
        if (*p == '\0')
            break;
        start = p + 1;
    }
    *out = l;
    return MT_OK;
fail:
    strlist_free(&l);
    return err == MT_ERR_NOMEM ? mt_fail(eb, err, "%s: out of memory", o->name) : err;
}

static void free_field(const mt_cfg_option *o, void *field)
{
    switch (o->type) {
    case MT_CFG_STRING: {
        char **s = field;
        free(*s);
        *s = NULL;
        break;
    }
    case MT_CFG_SECRET_FILE: {
        mt_cfg_secret *s = field;
        free(s->path);
        if (s->value) {
            /* Do not leave the secret in freed heap memory. */
            memset(s->value, 0, s->len);
            free(s->value);
        }
        s->path = s->value = NULL;
        s->len = 0;
        break;
    }
    case MT_CFG_LIST:
        strlist_free(field);
        break;
    case MT_CFG_INT:
    case MT_CFG_DURATION:
    case MT_CFG_SIZE:
        *(int64_t *)field = 0;
        break;
    case MT_CFG_BOOL:
        *(bool *)field = false;
        break;
    case MT_CFG_ENUM:
        *(int *)field = 0;
        break;
    }
}

mt_err mt_cfg_parse_value(const mt_cfg_option *o, const char *text, void *field, mt_errbuf *eb)
{
    mt_err err = MT_OK;
    if (!text)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "%s: no value", o->name);
    switch (o->type) {
    case MT_CFG_STRING: {
        char *copy = strdup(text);
        if (!copy)
            return mt_fail(eb, MT_ERR_NOMEM, "%s: out of memory", o->name);
        free_field(o, field);
        *(char **)field = copy;
        return MT_OK;
    }
    case MT_CFG_SECRET_FILE: {
        char *copy = strdup(text);
        if (!copy)
            return mt_fail(eb, MT_ERR_NOMEM, "%s: out of memory", o->name);
        free_field(o, field);
        ((mt_cfg_secret *)field)->path = copy;
        return MT_OK;
    }
    case MT_CFG_INT: {
        int64_t v = 0;
        if (!(err = parse_int(o, text, &v, eb)))
            *(int64_t *)field = v;
        return err;
    }
    case MT_CFG_BOOL: {
        bool v = false;
        if (!(err = parse_bool(o, text, &v, eb)))
            *(bool *)field = v;
        return err;
    }
    case MT_CFG_DURATION: {
        int64_t v = 0;
        err = parse_scaled(o, text, duration_units, sizeof duration_units / sizeof(unit), false,
                           "duration", "250ms, 5s", format_duration, &v, eb);
        if (!err)
            *(int64_t *)field = v;
        return err;
    }
    case MT_CFG_SIZE: {
        int64_t v = 0;
        err = parse_scaled(o, text, size_units, sizeof size_units / sizeof(unit), true, "size",
                           "64KiB, 10MiB", format_size, &v, eb);
        if (!err)
            *(int64_t *)field = v;
        return err;
    }
    case MT_CFG_ENUM: {
        int v = 0;
        if (!(err = parse_enum(o, text, &v, eb)))
            *(int *)field = v;
        return err;
    }
    case MT_CFG_LIST: {
        mt_strlist l;
        if ((err = parse_list(o, text, &l, eb)))
            return err;
        free_field(o, field);
        *(mt_strlist *)field = l;
        return MT_OK;
    }
    }
    return mt_fail(eb, MT_ERR_INVALID_ARG, "%s: unknown option type", o->name);
}

/* --- JSON file layer ----------------------------------------------------- */

/* Converts a JSON scalar to the text syntax so the typed parsers apply. */
static mt_err json_scalar_text(const mt_cfg_option *o, json_t *v, char *buf, size_t len,
                               const char **text, mt_errbuf *eb)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        *text = json_string_value(v);
        return MT_OK;
    case JSON_INTEGER:
        if (o->type == MT_CFG_STRING || o->type == MT_CFG_ENUM || o->type == MT_CFG_SECRET_FILE ||
            o->type == MT_CFG_BOOL)
            break;
        snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *text = buf;
        return MT_OK;
    case JSON_TRUE:
    case JSON_FALSE:
        if (o->type != MT_CFG_BOOL)
            break;
        *text = json_is_true(v) ? "true" : "false";
        return MT_OK;
    case JSON_REAL:
    case JSON_OBJECT:
    case JSON_ARRAY:
    case JSON_NULL:
        break;
    }
    static const char *const want[] = {
        [MT_CFG_STRING] = "a string",     [MT_CFG_INT] = "an integer",
        [MT_CFG_BOOL] = "a boolean",      [MT_CFG_DURATION] = "a duration string",
        [MT_CFG_SIZE] = "a size",         [MT_CFG_ENUM] = "a string",
        [MT_CFG_LIST] = "a list",         [MT_CFG_SECRET_FILE] = "a file path string",
    };
    return mt_fail(eb, MT_ERR_CONFIG, "%s: expected %s, got %s", o->name, want[o->type],
                   mt_json_type_name(v));
}

static mt_err apply_json(const mt_cfg_option *o, json_t *v, void *field, mt_errbuf *eb)
{
    mt_err err = MT_OK;
    if (o->type == MT_CFG_LIST && (json_is_array(v) || json_is_object(v))) {
        mt_strlist l = {NULL, 0};
        char tmp[64];
        if (json_is_array(v)) {
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item) {
                if (!json_is_string(item)) {
                    err = mt_fail(eb, MT_ERR_CONFIG, "%s: item %zu must be a string, got %s",
                                  o->name, i + 1, mt_json_type_name(item));
                    goto fail;
                }
                const char *s = json_string_value(item);
                if ((o->flags & MT_CFG_F_KEYVALUE) && (err = check_keyvalue(o, s, eb)))
                    goto fail;
                if ((err = strlist_push(&l, s, strlen(s))))
                    goto fail;
            }
        } else if (o->flags & MT_CFG_F_KEYVALUE) {
            const char *key;
            json_t *item;
            json_object_foreach(v, key, item) {
                const char *s;
                if (json_is_string(item)) {
                    s = json_string_value(item);
                } else if (json_is_integer(item)) {
                    snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(item));
                    s = tmp;
                } else if (json_is_boolean(item)) {
                    s = json_is_true(item) ? "true" : "false";
                } else {
                    err = mt_fail(eb, MT_ERR_CONFIG,
                                  "%s: value of '%.64s' must be a string, integer or boolean, "
                                  "got %s",
                                  o->name, key, mt_json_type_name(item));
                    goto fail;
                }
                mt_buf kv = MT_BUF_INIT;
                if (mt_buf_append(&kv, key, strlen(key)) || mt_buf_append_byte(&kv, '=') ||
                    mt_buf_append(&kv, s, strlen(s))) {
                    mt_buf_free(&kv);
                    err = MT_ERR_NOMEM;
                    goto fail;
                }
                err = strlist_push(&l, (const char *)kv.data, kv.len);
                mt_buf_free(&kv);
                if (err)
                    goto fail;
            }
        } else {
            err = mt_fail(eb, MT_ERR_CONFIG, "%s: expected a list, got object", o->name);
            goto fail;
        }
        free_field(o, field);
        *(mt_strlist *)field = l;
        return MT_OK;
    fail:
        strlist_free(&l);
        return err == MT_ERR_NOMEM ? mt_fail(eb, err, "%s: out of memory", o->name) : err;
    }
    char buf[32];
    const char *text = NULL;
    if ((err = json_scalar_text(o, v, buf, sizeof buf, &text, eb)))
        return err;
    return mt_cfg_parse_value(o, text, field, eb);
}

typedef struct load_ctx {
    const mt_cfg_spec *spec;
    void *cfg;
    flat_opt *opts;
    size_t n;
    bool *seen;
    const char *source; /* file path, for messages */
} load_ctx;

static bool is_prefix_of_some(const load_ctx *c, const char *path)
{
    size_t pl = strlen(path);
    for (size_t i = 0; i < c->n; i++) {
        const char *name = c->opts[i].opt->name;
        if (strncmp(name, path, pl) == 0 && name[pl] == '.')
            return true;
    }
    return false;
}

static mt_err walk_file(load_ctx *c, json_t *obj, const char *prefix, mt_errbuf *eb)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        char path[MAX_NAME];
        int w = snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        if (w < 0 || (size_t)w >= sizeof path)
            return mt_fail(eb, MT_ERR_CONFIG, "config file %s: unknown key '%.64s...' (too long)",
                           c->source, path);
        long idx = find_opt(c->opts, c->n, path);
        if (idx < 0) {
            if (json_is_object(v) && is_prefix_of_some(c, path)) {
                mt_err err = walk_file(c, v, path, eb);
                if (err)
                    return err;
                continue;
            }
            return mt_fail(eb, MT_ERR_CONFIG,
                           "config file %s: unknown key '%s' (closest known option: '%s')",
                           c->source, path, closest(c->opts, c->n, path));
        }
        const flat_opt *f = &c->opts[idx];
        if (c->seen[idx])
            return mt_fail(eb, MT_ERR_CONFIG,
                           "config file %s: '%s' is set twice (nested and dotted forms)",
                           c->source, path);
        c->seen[idx] = true;
        if (json_is_null(v))
            continue; /* null keeps the default */
        mt_errbuf inner;
        mt_err err = apply_json(f->opt, v, field_at(c->cfg, f->offset), &inner);
        if (err)
            return mt_fail(eb, err, "%s [in config file %s]", inner.msg, c->source);
    }
    return MT_OK;
}

static mt_err load_file(load_ctx *c, const char *path, mt_errbuf *eb)
{
    mt_json_limits lim = {MAX_CONFIG_FILE, MAX_CONFIG_DEPTH, true, false, false};
    json_t *root = NULL;
    mt_errbuf inner;
    mt_err err = mt_json_load_file(path, &lim, &root, &inner);
    if (err)
        return mt_fail(eb, err, "config file %s", inner.msg);
    if (!json_is_object(root)) {
        err = mt_fail(eb, MT_ERR_CONFIG, "config file %s: top level must be an object, got %s",
                      path, mt_json_type_name(root));
        goto done;
    }
    c->source = path;
    err = walk_file(c, root, "", eb);
done:
    json_decref(root);
    return err;
}

/* --- secret files -------------------------------------------------------- */

static mt_err read_secret(const mt_cfg_option *o, mt_cfg_secret *s, mt_errbuf *eb)
{
    mt_err err = MT_OK;
    mt_buf b = MT_BUF_INIT;
    FILE *f = fopen(s->path, "rb");
    if (!f)
        return mt_fail(eb, MT_ERR_CONFIG, "%s: cannot read '%s': %s", o->name, s->path,
                       strerror(errno));
    /* One allocation up front: growing with realloc would leave copies of
     * the secret in freed memory that we cannot wipe. */
    if ((err = mt_buf_reserve(&b, MAX_SECRET_FILE + 2)))
        goto fail;
    for (;;) {
        size_t room = b.cap - b.len;
        size_t got = fread(b.data + b.len, 1, room, f);
        b.len += got;
        if (b.len > MAX_SECRET_FILE) {
            err = mt_fail(eb, MT_ERR_CONFIG, "%s: '%s' is larger than %d bytes", o->name,
                          s->path, MAX_SECRET_FILE);
            goto fail;
        }
        if (got < room) {
            if (ferror(f)) {
                err = mt_fail(eb, MT_ERR_CONFIG, "%s: cannot read '%s': %s", o->name, s->path,
                              strerror(errno));
                goto fail;
            }
            break;
        }
    }
    /* Secrets mounted from Kubernetes or written by echo end with a newline
     * that is not part of the credential. */
    while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
        b.len--;
    if ((err = mt_buf_append_byte(&b, 0)))
        goto fail;
    s->value = (char *)b.data;
    s->len = b.len - 1;
    fclose(f);
    return MT_OK;
fail:
    if (b.data)
        memset(b.data, 0, b.cap);
    mt_buf_free(&b);
    fclose(f);
    return err == MT_ERR_NOMEM ? mt_fail(eb, err, "%s: out of memory", o->name) : err;
}

/* --- command line -------------------------------------------------------- */

typedef struct cli_item {
    long idx;          /* option index */
    const char *value; /* borrowed from argv */
} cli_item;

typedef struct cli_scan {
    cli_item *items;
    size_t nitems;
    const char *config_path;
    bool help, version, print;
} cli_scan;

static mt_err scan_cli(const mt_cfg_spec *spec, const flat_opt *opts, size_t n, int argc,
                       char *const *argv, cli_scan *cs, mt_cfg_result *res, mt_errbuf *eb)
{
    mt_err first_err = MT_OK;
    bool only_positional = false;
    cs->items = calloc(argc > 0 ? (size_t)argc : 1, sizeof *cs->items);
    if (!cs->items)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == '\0') {
            if (!spec->positional) {
                if (!first_err)
                    first_err = mt_fail(eb, MT_ERR_CONFIG,
                                        "unexpected argument '%.100s' (options start with --)", a);
                continue;
            }
            if (res)
                res->args[res->nargs++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cs->help = true;
            continue;
        }
        if (strcmp(a, "--version") == 0) {
            cs->version = true;
            continue;
        }
        if (strcmp(a, "--print-config") == 0) {
            cs->print = true;
            continue;
        }
        if (a[1] != '-') {
            if (!first_err)
                first_err = mt_fail(eb, MT_ERR_CONFIG,
                                    "unknown flag '%.100s' (options are --name or --name=value)", a);
            continue;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        char key[MAX_NAME];
        if (nl >= sizeof key)
            nl = sizeof key - 1;
        memcpy(key, name, nl);
        key[nl] = '\0';
        bool is_config = strcmp(key, "config") == 0;
        long idx = is_config ? -1 : find_opt(opts, n, key);
        if (!is_config && idx < 0) {
            if (!first_err)
                first_err = mt_fail(eb, MT_ERR_CONFIG,
                                    "unknown flag '--%s' (closest known option: '--%s')", key,
                                    closest(opts, n, key));
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value && idx >= 0 && opts[idx].opt->type == MT_CFG_BOOL) {
            value = "true"; /* a bare boolean flag switches it on */
        } else if (!value) {
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0) {
                if (!first_err)
                    first_err = mt_fail(eb, MT_ERR_CONFIG, "--%s needs a value (--%s=VALUE)",
                                        key, key);
                continue;
            }
            value = argv[++i];
        }
        if (is_config) {
            cs->config_path = value;
            continue;
        }
        cs->items[cs->nitems].idx = idx;
        cs->items[cs->nitems].value = value;
        cs->nitems++;
    }
    return first_err;
}

/* --- load ---------------------------------------------------------------- */

static mt_err apply_defaults(const flat_opt *opts, size_t n, void *cfg, mt_errbuf *eb)
{
    for (size_t i = 0; i < n; i++) {
        const mt_cfg_option *o = opts[i].opt;
        void *field = field_at(cfg, opts[i].offset);
        free_field(o, field);
        if (!o->def)
            continue;
        mt_errbuf inner;
        if (mt_cfg_parse_value(o, o->def, field, &inner))
            return mt_fail(eb, MT_ERR_CONFIG, "built-in default is invalid: %s", inner.msg);
    }
    return MT_OK;
}

mt_err mt_cfg_load(const mt_cfg_spec *spec, void *cfg, int argc, char *const *argv,
                   char *const *envp, mt_cfg_result *res, mt_errbuf *eb)
{
    flat_opt *opts = NULL;
    size_t n = 0;
    bool *seen = NULL;
    cli_scan cs = {NULL, 0, NULL, false, false, false};
    mt_err err;
    char envname[MAX_NAME + 32];

    if (res) {
        res->action = MT_CFG_RUN;
        res->nargs = 0;
        res->args = calloc(argc > 0 ? (size_t)argc : 1, sizeof *res->args);
        if (!res->args)
            return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    if (!envp)
        envp = environ;
    if ((err = flatten(spec, &opts, &n))) {
        mt_fail(eb, err, "out of memory");
        goto done;
    }
    if ((err = apply_defaults(opts, n, cfg, eb)))
        goto done;

    mt_errbuf cli_eb;
    mt_err cli_err = scan_cli(spec, opts, n, argc, argv, &cs, res, &cli_eb);
    if (cs.help || cs.version) {
        /* Help must work even next to a typo: that is when people ask for it. */
        if (res)
            res->action = cs.help ? MT_CFG_SHOW_HELP : MT_CFG_SHOW_VERSION;
        err = MT_OK;
        goto done;
    }
    if (cli_err) {
        err = mt_fail(eb, cli_err, "%s", cli_eb.msg);
        goto done;
    }

    seen = calloc(n ? n : 1, sizeof *seen);
    if (!seen) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto done;
    }
    const char *config_path = cs.config_path;
    if (!config_path) {
        mt_cfg_env_name(spec->env_prefix, "config", envname, sizeof envname);
        config_path = env_get(envp, envname);
        if (config_path && !*config_path)
            config_path = NULL;
    }
    if (config_path) {
        load_ctx c = {spec, cfg, opts, n, seen, config_path};
        if ((err = load_file(&c, config_path, eb)))
            goto done;
    }

    for (size_t i = 0; i < n; i++) {
        mt_cfg_env_name(spec->env_prefix, opts[i].opt->name, envname, sizeof envname);
        const char *v = env_get(envp, envname);
        if (!v)
            continue;
        mt_errbuf inner;
        if ((err = mt_cfg_parse_value(opts[i].opt, v, field_at(cfg, opts[i].offset), &inner))) {
            mt_fail(eb, err, "%s [from environment variable %s]", inner.msg, envname);
            goto done;
        }
    }

    memset(seen, 0, n * sizeof *seen);
    for (size_t k = 0; k < cs.nitems; k++) {
        const flat_opt *f = &opts[cs.items[k].idx];
        void *field = field_at(cfg, f->offset);
        mt_errbuf inner;
        if (f->opt->type == MT_CFG_LIST && seen[cs.items[k].idx]) {
            /* Repeating a list flag appends, so each property can be its own
             * flag: --kafka.properties a=1 --kafka.properties b=2. */
            mt_strlist more;
            if ((err = parse_list(f->opt, cs.items[k].value, &more, &inner))) {
                mt_fail(eb, err, "%s [from command line]", inner.msg);
                goto done;
            }
            mt_strlist *l = field;
            for (size_t j = 0; j < more.n && !err; j++)
                err = strlist_push(l, more.items[j], strlen(more.items[j]));
            strlist_free(&more);
            if (err) {
                mt_fail(eb, err, "out of memory");
                goto done;
            }
            continue;
        }
        seen[cs.items[k].idx] = true;
        if ((err = mt_cfg_parse_value(f->opt, cs.items[k].value, field, &inner))) {
            mt_fail(eb, err, "%s [from command line]", inner.msg);
            goto done;
        }
    }

    for (size_t i = 0; i < n; i++) {
        const mt_cfg_option *o = opts[i].opt;
        void *field = field_at(cfg, opts[i].offset);
        if (o->flags & MT_CFG_F_REQUIRED) {
            bool empty = (o->type == MT_CFG_STRING && (!*(char **)field || !**(char **)field)) ||
                         (o->type == MT_CFG_SECRET_FILE && !((mt_cfg_secret *)field)->path) ||
                         (o->type == MT_CFG_LIST && ((mt_strlist *)field)->n == 0);
            if (empty) {
                mt_cfg_env_name(spec->env_prefix, o->name, envname, sizeof envname);
                err = mt_fail(eb, MT_ERR_CONFIG,
                              "%s is required: set it in the config file, with %s, or --%s",
                              o->name, envname, o->name);
                goto done;
            }
        }
        if (o->type == MT_CFG_SECRET_FILE && ((mt_cfg_secret *)field)->path &&
            (err = read_secret(o, field, eb)))
            goto done;
    }
    if (res && cs.print)
        res->action = MT_CFG_PRINT_CONFIG;
    err = MT_OK;
done:
    free(opts);
    free(seen);
    free(cs.items);
    if (err && res)
        mt_cfg_result_free(res);
    return err;
}

void mt_cfg_free(const mt_cfg_spec *spec, void *cfg)
{
    for (size_t p = 0; p < MT_CFG_MAX_PARTS && spec->parts[p].options; p++)
        for (const mt_cfg_option *o = spec->parts[p].options; o->name; o++)
            free_field(o, field_at(cfg, spec->parts[p].base + o->offset));
}

void mt_cfg_result_free(mt_cfg_result *res)
{
    free(res->args);
    res->args = NULL;
    res->nargs = 0;
}

/* --- rendering: help, effective config, Markdown ------------------------- */

static void type_desc(const mt_cfg_option *o, char *out, size_t len)
{
    char lo[32], hi[32];
    switch (o->type) {
    case MT_CFG_STRING:
        snprintf(out, len, "string");
        return;
    case MT_CFG_INT:
        if (has_bounds(o))
            snprintf(out, len, "integer %lld..%lld", (long long)o->min, (long long)o->max);
        else
            snprintf(out, len, "integer");
        return;
    case MT_CFG_BOOL:
        snprintf(out, len, "boolean");
        return;
    case MT_CFG_DURATION:
    case MT_CFG_SIZE: {
        bool d = o->type == MT_CFG_DURATION;
        if (has_bounds(o)) {
            (d ? format_duration : format_size)(o->min, lo, sizeof lo);
            (d ? format_duration : format_size)(o->max, hi, sizeof hi);
            snprintf(out, len, "%s %s..%s", d ? "duration" : "size", lo, hi);
        } else {
            snprintf(out, len, "%s", d ? "duration" : "size");
        }
        return;
    }
    case MT_CFG_ENUM: {
        size_t k = (size_t)snprintf(out, len, "one of");
        for (int i = 0; o->choices && o->choices[i] && k < len; i++) {
            int w = snprintf(out + k, len - k, "%s%s", i ? "|" : " ", o->choices[i]);
            if (w < 0)
                break;
            k += (size_t)w;
        }
        return;
    }
    case MT_CFG_LIST:
        snprintf(out, len, (o->flags & MT_CFG_F_KEYVALUE) ? "list of key=value" : "list");
        return;
    case MT_CFG_SECRET_FILE:
        snprintf(out, len, "secret file path");
        return;
    }
    snprintf(out, len, "?");
}

static const char *metavar(const mt_cfg_option *o)
{
    switch (o->type) {
    case MT_CFG_STRING: return "STRING";
    case MT_CFG_INT: return "INT";
    case MT_CFG_BOOL: return "BOOL";
    case MT_CFG_DURATION: return "DURATION";
    case MT_CFG_SIZE: return "SIZE";
    case MT_CFG_ENUM: return "VALUE";
    case MT_CFG_LIST: return (o->flags & MT_CFG_F_KEYVALUE) ? "KEY=VALUE,..." : "A,B,...";
    case MT_CFG_SECRET_FILE: return "PATH";
    }
    return "VALUE";
}

void mt_cfg_print_version(const mt_cfg_spec *spec, FILE *out)
{
    fprintf(out, "%s %s\n", spec->program ? spec->program : "mcptrail",
            spec->version ? spec->version : MT_VERSION);
}

mt_err mt_cfg_print_help(const mt_cfg_spec *spec, FILE *out)
{
    char envname[MAX_NAME + 32], type[256];
    const char *prog = spec->program ? spec->program : "mcptrail";
    mt_cfg_env_name(spec->env_prefix, "config", envname, sizeof envname);
    fprintf(out, "Usage: %s [OPTIONS]%s%s\n", prog, spec->positional ? " " : "",
            spec->positional ? spec->positional : "");
    if (spec->summary)
        fprintf(out, "%s\n", spec->summary);
    fprintf(out,
            "\nSettings are read from, lowest to highest precedence: built-in defaults, the\n"
            "JSON file given by --config FILE (or $%s), environment variables, and\n"
            "command-line flags (--name=VALUE or --name VALUE).\n\n"
            "General:\n"
            "  --config FILE     JSON config file; nested objects or dotted keys (env %s)\n"
            "  --print-config    print the effective configuration (secrets masked) and exit\n"
            "  --help, -h        print this help and exit\n"
            "  --version         print the version and exit\n\nOptions:\n",
            envname, envname);
    for (size_t p = 0; p < MT_CFG_MAX_PARTS && spec->parts[p].options; p++) {
        for (const mt_cfg_option *o = spec->parts[p].options; o->name; o++) {
            mt_cfg_env_name(spec->env_prefix, o->name, envname, sizeof envname);
            type_desc(o, type, sizeof type);
            fprintf(out, "  --%s=%s\n      %s\n      type: %s; default: %s%s; env: %s\n", o->name,
                    metavar(o), o->doc ? o->doc : "", type, o->def ? o->def : "(unset)",
                    (o->flags & MT_CFG_F_REQUIRED) ? " (required)" : "", envname);
        }
    }
    return ferror(out) ? MT_ERR_IO : MT_OK;
}

static bool secret_option(const mt_cfg_option *o)
{
    return (o->flags & MT_CFG_F_SECRET) || mt_log_key_is_secret(o->name);
}

static json_t *effective_value(const mt_cfg_option *o, const void *field)
{
    char buf[48];
    switch (o->type) {
    case MT_CFG_STRING: {
        const char *s = *(char *const *)field;
        if (!s)
            return json_null();
        return secret_option(o) ? json_string("[REDACTED]") : json_string(s);
    }
    case MT_CFG_SECRET_FILE: {
        const char *path = ((const mt_cfg_secret *)field)->path;
        return path ? json_string(path) : json_null(); /* the path, never the contents */
    }
    case MT_CFG_INT:
        return json_integer(*(const int64_t *)field);
    case MT_CFG_BOOL:
        return json_boolean(*(const bool *)field);
    case MT_CFG_DURATION:
        format_duration(*(const int64_t *)field, buf, sizeof buf);
        return json_string(buf);
    case MT_CFG_SIZE:
        format_size(*(const int64_t *)field, buf, sizeof buf);
        return json_string(buf);
    case MT_CFG_ENUM: {
        int i = *(const int *)field;
        return o->choices && i >= 0 ? json_string(o->choices[i]) : json_null();
    }
    case MT_CFG_LIST: {
        const mt_strlist *l = field;
        json_t *a = json_array();
        for (size_t i = 0; a && i < l->n; i++) {
            const char *item = l->items[i];
            const char *eq = strchr(item, '=');
            json_t *s = NULL;
            if (secret_option(o)) {
                s = json_string("[REDACTED]");
            } else if ((o->flags & MT_CFG_F_KEYVALUE) && eq) {
                char key[MAX_NAME];
                snprintf(key, sizeof key, "%.*s", (int)(eq - item), item);
                if (mt_log_key_is_secret(key)) {
                    mt_buf b = MT_BUF_INIT;
                    if (!mt_buf_append(&b, item, (size_t)(eq - item) + 1) &&
                        !mt_buf_append(&b, "[REDACTED]", 10))
                        s = json_stringn((const char *)b.data, b.len);
                    mt_buf_free(&b);
                }
            }
            json_array_append_new(a, s ? s : json_string(item));
        }
        return a;
    }
    }
    return json_null();
}

mt_err mt_cfg_print_effective(const mt_cfg_spec *spec, const void *cfg, FILE *out)
{
    json_t *root = json_object();
    if (!root)
        return MT_ERR_NOMEM;
    for (size_t p = 0; p < MT_CFG_MAX_PARTS && spec->parts[p].options; p++)
        for (const mt_cfg_option *o = spec->parts[p].options; o->name; o++) {
            json_t *v = effective_value(o, cfield_at(cfg, spec->parts[p].base + o->offset));
            json_object_set_new(root, o->name, v ? v : json_null());
        }
    int rc = json_dumpf(root, out, JSON_INDENT(2));
    json_decref(root);
    if (rc != 0)
        return MT_ERR_IO;
    fputc('\n', out);
    return ferror(out) ? MT_ERR_IO : MT_OK;
}

/* Table cells cannot contain '|' or newlines. */
static void md_cell(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n')
            fputc(' ', out);
        else
            fputc(*s, out);
    }
}

mt_err mt_cfg_write_markdown(const mt_cfg_option *options, const char *env_prefix, FILE *out)
{
    char envname[MAX_NAME + 32], type[256];
    fputs("| Option | Type | Default | Environment | Description |\n"
          "|---|---|---|---|---|\n",
          out);
    for (const mt_cfg_option *o = options; o->name; o++) {
        mt_cfg_env_name(env_prefix, o->name, envname, sizeof envname);
        type_desc(o, type, sizeof type);
        fprintf(out, "| `%s` | ", o->name);
        md_cell(out, type);
        fputs(" | ", out);
        if (o->def) {
            fputc('`', out);
            md_cell(out, o->def);
            fputc('`', out);
        } else {
            fputs("(unset)", out);
        }
        if (o->flags & MT_CFG_F_REQUIRED)
            fputs(" (required)", out);
        fprintf(out, " | `%s` | ", envname);
        md_cell(out, o->doc);
        fputs(" |\n", out);
    }
    return ferror(out) ? MT_ERR_IO : MT_OK;
}

mt_err mt_cfg_write_reference(const mt_cfg_doc_section *sections, FILE *out)
{
    fputs("<!-- Generated by `mcptrail-config-doc > docs/configuration.md` "
          "(tools/mcptrail-config-doc.c, from the option tables in the source). "
          "Do not edit; tests/lib/test_config.c fails when this file is stale. -->\n"
          "# Configuration reference\n\n"
          "Every mcptrail binary is configured from one option table, which also produces its\n"
          "`--help` text and this page. Settings are read from, lowest to highest precedence:\n\n"
          "1. built-in defaults;\n"
          "2. a JSON config file given by `--config FILE` (or the `<PREFIX>CONFIG` environment\n"
          "   variable, e.g. `MCPTRAIL_CONFIG`), with nested objects (`{\"kafka\": {\"brokers\": "
          "...}}`)\n"
          "   or dotted keys (`{\"kafka.brokers\": ...}`); unknown keys are errors, and `null` "
          "keeps the default;\n"
          "3. environment variables: the prefix plus the option name in upper case with `.` and "
          "`-`\n"
          "   turned into `_` (`kafka.brokers` -> `MCPTRAIL_KAFKA_BROKERS`);\n"
          "4. command-line flags: `--kafka.brokers=HOST:PORT` or `--kafka.brokers HOST:PORT`;\n"
          "   a repeated list flag appends.\n\n"
          "`--print-config` prints the effective configuration as JSON (usable as a config "
          "file)\n"
          "with secret values masked.\n\n"
          "## Value syntax\n\n"
          "| Type | Syntax |\n"
          "|---|---|\n"
          "| string | any text |\n"
          "| integer | decimal, optionally signed; bounds shown as `min..max` |\n"
          "| boolean | `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`; a bare `--flag` means "
          "true |\n"
          "| duration | integer with unit `ms`, `s`, `m` or `h` (`250ms`, `5s`, `2m`); `0` needs "
          "no unit |\n"
          "| size | integer bytes, optionally with `B`, `KiB`, `MiB`, `GiB`, `TiB` (powers of "
          "1024) or `KB`, `MB`, `GB`, `TB` (powers of 1000) |\n"
          "| one of | exactly one of the listed values |\n"
          "| list | JSON array of strings in a file; comma-separated text elsewhere, or a JSON "
          "array when the text starts with `[` (items may then contain commas) |\n"
          "| list of key=value | as list; a JSON object is also accepted; a comma only starts "
          "a new item when the next item contains `=` |\n"
          "| secret file path | path of a file (e.g. a mounted Secret) whose contents, without "
          "the trailing newline, are the secret |\n",
          out);
    for (const mt_cfg_doc_section *s = sections; s->title; s++) {
        fprintf(out, "\n## %s\n\n", s->title);
        if (s->intro)
            fprintf(out, "%s\n\n", s->intro);
        mt_err err = mt_cfg_write_markdown(s->options, s->env_prefix, out);
        if (err)
            return err;
    }
    return ferror(out) ? MT_ERR_IO : MT_OK;
}
