/* Declarative configuration, Fluent Bit style: each binary declares its
 * options once in a static table and that table drives JSON config files,
 * environment variables, command-line flags, --help, --print-config and the
 * Markdown reference (docs/configuration.md).
 *
 *   struct sidecar_cfg { mt_common_config common; int64_t port; ... };
 *   static const mt_cfg_option sidecar_opts[] = {
 *       {"listen.port", MT_CFG_INT, "8080", "TCP port for MCP clients",
 *        offsetof(struct sidecar_cfg, port), .min = 1, .max = 65535},
 *       MT_CFG_END,
 *   };
 *   static const mt_cfg_spec spec = {
 *       .program = "mcptrail-sidecar", .env_prefix = "MCPTRAIL_",
 *       .summary = "...",
 *       .parts = {{mt_cfg_common_options, offsetof(struct sidecar_cfg, common)},
 *                 {sidecar_opts, 0}},
 *   };
 *
 * Precedence: defaults < --config file < environment < command line.
 * Every value is validated by one parser per type, whatever its source.
 *
 * Field storage per type (at base + offset in the caller's struct):
 *   STRING: char * (owned; NULL = unset)
 *   INT: int64_t   DURATION: int64_t milliseconds   SIZE: int64_t bytes
 *   BOOL: bool     ENUM: int (index into choices)   LIST: mt_strlist
 *   SECRET_FILE: mt_cfg_secret (path from the config; after all layers the
 *                file's contents, trailing newline stripped, are loaded) */
#ifndef MCPTRAIL_CONFIG_H
#define MCPTRAIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mcptrail/err.h"

typedef enum mt_cfg_type {
    MT_CFG_STRING,
    MT_CFG_INT,         /* decimal; bounded by [min, max] when min < max */
    MT_CFG_BOOL,        /* true/false, yes/no, on/off, 1/0 */
    MT_CFG_DURATION,    /* "250ms", "5s", "2m", "1h" -> milliseconds; "0" allowed */
    MT_CFG_SIZE,        /* "512", "512B", "64KiB", "10MiB", "1GiB", "1TiB", "5MB" -> bytes */
    MT_CFG_ENUM,        /* one of choices (exact match) */
    MT_CFG_LIST,        /* JSON array of strings, or comma-separated text */
    MT_CFG_SECRET_FILE, /* path of a file holding a secret (mounted Secret) */
} mt_cfg_type;

/* Option flags. */
#define MT_CFG_F_SECRET 0x1u   /* value printed as [REDACTED] by --print-config */
#define MT_CFG_F_REQUIRED 0x2u /* must be set (non-empty) after all layers */
#define MT_CFG_F_KEYVALUE 0x4u /* LIST items are key=value; a JSON object is accepted
                                  and values of secret-looking keys are masked */

typedef struct mt_cfg_option {
    const char *name;    /* dotted lower-case name, e.g. "kafka.brokers" */
    mt_cfg_type type;
    const char *def;     /* default in the same text syntax as env/CLI; NULL = unset */
    const char *doc;     /* one sentence for --help and the reference */
    size_t offset;       /* offsetof() of the field, relative to the part's base */
    int64_t min, max;    /* INT/DURATION/SIZE bounds, in ms/bytes; ignored if min >= max */
    const char *const *choices; /* ENUM: NULL-terminated allowed values */
    unsigned flags;
} mt_cfg_option;

#define MT_CFG_END {NULL, MT_CFG_STRING, NULL, NULL, 0, 0, 0, NULL, 0}

typedef struct mt_strlist {
    char **items; /* owned */
    size_t n;
} mt_strlist;

typedef struct mt_cfg_secret {
    char *path;  /* owned; NULL = unset (must stay the first member) */
    char *value; /* owned; file contents without trailing newline */
    size_t len;
} mt_cfg_secret;

/* A table plus the offset of the sub-struct it fills, so the common table
 * can be embedded in every binary's config struct. */
typedef struct mt_cfg_part {
    const mt_cfg_option *options; /* MT_CFG_END-terminated; NULL ends the parts */
    size_t base;
} mt_cfg_part;

#define MT_CFG_MAX_PARTS 4

typedef struct mt_cfg_spec {
    const char *program;    /* for usage text, e.g. "mcptrail-sidecar" */
    const char *version;    /* printed by --version; NULL = library version */
    const char *summary;    /* one line for --help */
    const char *env_prefix; /* e.g. "MCPTRAIL_"; MCPTRAIL_CONFIG names a config file */
    const char *positional; /* usage of positional args ("verify DIR"); NULL = none allowed */
    mt_cfg_part parts[MT_CFG_MAX_PARTS];
} mt_cfg_spec;

typedef enum mt_cfg_action {
    MT_CFG_RUN,          /* proceed with the loaded config */
    MT_CFG_SHOW_HELP,    /* --help / -h was given: call mt_cfg_print_help, exit 0 */
    MT_CFG_SHOW_VERSION, /* --version */
    MT_CFG_PRINT_CONFIG, /* --print-config: call mt_cfg_print_effective, exit 0 */
} mt_cfg_action;

typedef struct mt_cfg_result {
    mt_cfg_action action;
    char **args;  /* positional arguments (borrowed from argv; array owned) */
    size_t nargs;
} mt_cfg_result;

/* The options every mcptrail binary has. */
typedef struct mt_common_config {
    int log_level;   /* mt_log_level */
    int log_format;  /* mt_log_format */
    char *kafka_brokers;
    char *kafka_client_id;
    mt_strlist kafka_properties; /* "key=value" librdkafka properties (TLS/SASL) */
    mt_cfg_secret kafka_sasl_password; /* sasl.password read from a file (a Secret) */
    char *schema_dir;
} mt_common_config;

extern const mt_cfg_option mt_cfg_common_options[];

/* Fills cfg (which must be zero-initialised or previously loaded with the
 * same spec) from defaults, the config file (--config FILE, or the
 * <prefix>CONFIG variable), envp (NULL = environ) and argv[1..argc).
 * --help/--version return early with defaults only, so they work even with
 * a broken config. Errors are MT_ERR_CONFIG (bad value, unknown key or
 * flag; eb names the option, the value, and where it came from),
 * MT_ERR_PARSE / MT_ERR_NOT_FOUND / MT_ERR_TOO_LARGE for the file itself.
 * res may be NULL when the binary takes no positional arguments. */
mt_err mt_cfg_load(const mt_cfg_spec *spec, void *cfg, int argc, char *const *argv,
                   char *const *envp, mt_cfg_result *res, mt_errbuf *eb);

/* Frees owned fields (strings, lists, secrets) and zeroes them. */
void mt_cfg_free(const mt_cfg_spec *spec, void *cfg);
void mt_cfg_result_free(mt_cfg_result *res);

/* Parses text as opt's type into the field at field_ptr (freeing any old
 * value). Messages look like
 *   "kafka.linger: '5x' is not a duration (use e.g. 250ms, 5s)". */
mt_err mt_cfg_parse_value(const mt_cfg_option *opt, const char *text, void *field_ptr,
                          mt_errbuf *eb);

/* Environment variable for an option: prefix + upper-case name with '.' and
 * '-' mapped to '_'. Truncated (never overflowed) to outlen. */
void mt_cfg_env_name(const char *prefix, const char *name, char *out, size_t outlen);

/* "<program> <version>\n" for --version. */
void mt_cfg_print_version(const mt_cfg_spec *spec, FILE *out);

/* Text for --help: usage, precedence, and every option with type, default,
 * environment variable and doc. */
mt_err mt_cfg_print_help(const mt_cfg_spec *spec, FILE *out);

/* Effective configuration as a JSON object with dotted keys in table order
 * (it can be fed back with --config). Durations and sizes use units; values
 * of F_SECRET options and secret-looking key=value items are masked; secret
 * files show only their path. */
mt_err mt_cfg_print_effective(const mt_cfg_spec *spec, const void *cfg, FILE *out);

/* Markdown table (Option, Type, Default, Environment, Description). */
mt_err mt_cfg_write_markdown(const mt_cfg_option *options, const char *env_prefix, FILE *out);

/* One titled section of the reference documentation. */
typedef struct mt_cfg_doc_section {
    const char *title;      /* e.g. "Common options (every binary)" */
    const char *intro;      /* paragraph under the title, may be NULL */
    const char *env_prefix;
    const mt_cfg_option *options;
} mt_cfg_doc_section;

/* The tables known to the library (for now: the common table); binaries
 * append theirs here as they are added. Terminated by a NULL title. */
extern const mt_cfg_doc_section mt_cfg_doc_sections[];

/* Writes the whole docs/configuration.md (header line naming the generator
 * command, precedence rules, value syntax, one table per section). */
mt_err mt_cfg_write_reference(const mt_cfg_doc_section *sections, FILE *out);

/* Edit distance, for "did you mean" suggestions. */
size_t mt_cfg_edit_distance(const char *a, const char *b);

#endif
