/* Masking engine: finds secrets and regulated data in JSON payloads and text
 * and replaces them before anything is recorded.
 *
 * Three objects, in the order they are made:
 *   mt_mask_rules  - built-in detectors plus an optional JSON rules file
 *                    (user regex rules, allow-lists, action overrides, the
 *                    tokenize key). Plain data, validated at load.
 *   mt_mask_engine - one Vectorscan database compiled from every detector
 *                    pattern plus the PCRE2 programs that confirm candidates
 *                    and extract the secret span. Immutable: share it across
 *                    threads.
 *   mt_mask_ctx    - per-thread scratch (Vectorscan scratch, PCRE2 match data,
 *                    buffers). One per thread; never shared.
 *
 * mt_mask_json walks a JSON text without building a tree and rewrites only
 * string values that hold something to mask; everything else (whitespace,
 * key order, escapes of untouched strings) is copied verbatim, so the output
 * has the same structure and the same JSON pointers. mt_mask_text masks raw
 * bytes. mt_mask_payload tries JSON and falls back to text, so no input is
 * ever passed through unmasked. See docs/masking.md for detectors, the rules
 * file format, actions and limits. */
#ifndef MCPTRAIL_MASK_H
#define MCPTRAIL_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcptrail/buf.h"
#include "mcptrail/err.h"

typedef enum mt_mask_action {
    MT_MASK_REDACT = 0, /* [REDACTED:<type>] */
    MT_MASK_TOKENIZE,   /* [TOKEN:<type>:<16 hex of HMAC-SHA256(key, value)>] */
    MT_MASK_PARTIAL,    /* ...<last 4 characters>; values under 8 characters are redacted */
    MT_MASK_DROP,       /* JSON: the whole string value becomes null; text: as redact */
} mt_mask_action;
#define MT_MASK_ACTION_COUNT 4

/* "redact", "tokenize", "partial", "drop". Never NULL. */
const char *mt_mask_action_name(mt_mask_action a);

/* Defaults; a rules file may change max_string and max_depth. */
#define MT_MASK_MAX_STRING_DEFAULT ((size_t)16 << 20) /* longer JSON strings are replaced whole */
#define MT_MASK_MAX_DEPTH_DEFAULT 64u

typedef struct mt_mask_rules mt_mask_rules;
typedef struct mt_mask_engine mt_mask_engine;
typedef struct mt_mask_ctx mt_mask_ctx;

/* Loads the built-in detectors and, when json is non-NULL, the rules file
 * text json[0..len). A bad file (unknown key, bad action, invalid regex, a
 * pattern Vectorscan cannot compile, a pattern that backtracks
 * catastrophically) fails with MT_ERR_CONFIG and a message naming the rule
 * id. */
mt_err mt_mask_rules_load(const char *json, size_t len, mt_mask_rules **out, mt_errbuf *eb);
mt_err mt_mask_rules_load_file(const char *path, mt_mask_rules **out, mt_errbuf *eb);
void mt_mask_rules_free(mt_mask_rules *rules);

/* Compiles rules into an engine. Takes ownership of rules in every case. */
mt_err mt_mask_engine_new(mt_mask_rules *rules, mt_mask_engine **out, mt_errbuf *eb);

/* Compiling the Vectorscan database takes ~100 ms and maps megabytes of the
 * compiler; a long-running process (the sidecar) can keep the compiled
 * database in cache_dir instead: mask-<hash>.hsdb, named by a SHA-256 of the
 * patterns, their flags, the Vectorscan version and the CPU platform, and
 * authenticated with HMAC-SHA256 under cache_key, so a file someone else
 * wrote there (which could disable detectors) is ignored and rebuilt. Any
 * cache problem (missing, unreadable, wrong MAC, other platform) falls back
 * to compiling, then the file is (re)written with tmp + rename; write errors
 * are ignored. cache_dir NULL or an empty key: no cache. */
typedef struct mt_mask_engine_opts {
    const char *cache_dir;
    const uint8_t *cache_key;
    size_t cache_key_len;
} mt_mask_engine_opts;
mt_err mt_mask_engine_new_opts(mt_mask_rules *rules, const mt_mask_engine_opts *opts,
                               mt_mask_engine **out, mt_errbuf *eb);
/* True when the last engine built from opts came from the cache (tests). */
bool mt_mask_engine_from_cache(const mt_mask_engine *e);
void mt_mask_engine_free(mt_mask_engine *e);
/* Number of detectors (built-in + user), and each one's id / type. */
size_t mt_mask_engine_detector_count(const mt_mask_engine *e);
const char *mt_mask_engine_detector_id(const mt_mask_engine *e, size_t i);
const char *mt_mask_engine_detector_type(const mt_mask_engine *e, size_t i);

mt_err mt_mask_ctx_new(const mt_mask_engine *e, mt_mask_ctx **out, mt_errbuf *eb);
void mt_mask_ctx_free(mt_mask_ctx *ctx);

/* What one masking decision was, for --explain and audits. Never holds the
 * masked bytes: only where they were. */
typedef struct mt_mask_match {
    const char *detector; /* detector id */
    const char *type;     /* type in the marker */
    mt_mask_action action;
    const char *pointer; /* RFC 6901 pointer of the JSON string; "" in text mode */
    size_t start;        /* byte offset in the (decoded) string or text */
    size_t len;          /* bytes masked */
} mt_mask_match;
typedef void (*mt_mask_explain_fn)(void *ud, const mt_mask_match *m);
/* Calls fn for every masked span from now on (NULL turns it off). */
void mt_mask_ctx_set_explain(mt_mask_ctx *ctx, mt_mask_explain_fn fn, void *ud);

/* Counts per (detector, action) for one or more calls. */
#define MT_MASK_SUMMARY_MAX 64
typedef struct mt_mask_count {
    const char *detector; /* owned by the engine */
    mt_mask_action action;
    uint64_t count;
} mt_mask_count;
typedef struct mt_mask_summary {
    size_t n;
    mt_mask_count items[MT_MASK_SUMMARY_MAX];
    uint64_t total;    /* all masked spans, including those beyond items */
    bool overflow;     /* more distinct (detector, action) pairs than items */
} mt_mask_summary;
void mt_mask_summary_init(mt_mask_summary *s);

/* Masks the JSON text in[0..len) into out (appended). On MT_ERR_PARSE
 * (not JSON, invalid UTF-8) or MT_ERR_TOO_LARGE (nesting deeper than the
 * limit) out is left as it was and the caller must mask the input as text
 * (mt_mask_payload does). sum may be NULL. */
mt_err mt_mask_json(mt_mask_ctx *ctx, const void *in, size_t len, mt_buf *out,
                    mt_mask_summary *sum, mt_errbuf *eb);
/* Masks arbitrary bytes as text (any encoding; never fails on content). */
mt_err mt_mask_text(mt_mask_ctx *ctx, const void *in, size_t len, mt_buf *out,
                    mt_mask_summary *sum, mt_errbuf *eb);
/* JSON when it parses, else text; *as_text (may be NULL) says which. */
mt_err mt_mask_payload(mt_mask_ctx *ctx, const void *in, size_t len, mt_buf *out,
                       mt_mask_summary *sum, bool *as_text, mt_errbuf *eb);

/* Log lines through the engine: installs an mt_log_masker (mcptrail/log.h)
 * that masks every string of every log line as text with e (borrowed: keep
 * it alive until mt_mask_log_uninstall). One context behind a mutex: log
 * lines are few next to payloads. */
mt_err mt_mask_log_install(const mt_mask_engine *e, mt_errbuf *eb);
void mt_mask_log_uninstall(void);

/* Validators, exposed for tests and for user rules' "confirm". */
bool mt_mask_luhn_valid(const char *digits, size_t len);  /* separators ' ' '-' skipped */
bool mt_mask_iban_valid(const char *s, size_t len);       /* spaces skipped */
bool mt_mask_aba_valid(const char *s, size_t len);        /* exactly 9 digits */
bool mt_mask_ssn_valid(const char *s, size_t len);        /* AAA-GG-SSSS or 9 digits */
double mt_mask_entropy(const char *s, size_t len);        /* Shannon, bits per byte */

#endif
