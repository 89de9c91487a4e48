/* Shared between the mask*.c files only: detector table, rules, engine and
 * per-thread context layouts. */
#ifndef MT_MASK_INTERNAL_H
#define MT_MASK_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>

#include "mcptrail/crypto.h"
#include "mcptrail/mask.h"

/* How a candidate is confirmed after the regex matched. */
typedef enum mask_check {
    CHK_NONE,     /* the match (or PCRE2 group 1) is the secret */
    CHK_CARD,     /* 13-19 digits, Luhn, known IIN, not inside an IBAN */
    CHK_IBAN,     /* country length table + mod-97; span trimmed to the length */
    CHK_ABA_SSN9, /* 9 bare digits: ABA checksum + Fed prefix, or SSA rules */
    CHK_SSN,      /* AAA-GG-SSSS with SSA rules */
    CHK_PHONE,    /* 10-15 digits */
    CHK_PEM,      /* BEGIN line matched: extend to the END line */
    CHK_KEYED,    /* a secret word matched: read the key around it, its separator, its value */
    CHK_KEYED_RE, /* PCRE2 group 1 = key name, match end = value start: read the value */
    CHK_KEYED_NAME, /* the same, and the key name must itself be secret-like */
    CHK_K8S_DATA, /* "data:" of a Kubernetes Secret: mask each base64 value */
    CHK_ENTROPY,  /* span must reach min_entropy bits per byte */
    CHK_LUHN,     /* the digits of the span pass Luhn (user rules) */
    CHK_EMAIL,    /* not the user:password@host part of a URL */
} mask_check;

typedef struct mask_det {
    char *id;
    char *type;
    char *regex;
    char *pcre_regex;   /* NULL: regex; else what PCRE2 runs from the candidate start */
    size_t window;      /* bytes past the Vectorscan end PCRE2 may read */
    unsigned hs_flags;  /* HS_FLAG_* besides SOM_LEFTMOST */
    bool use_pcre;      /* confirm with PCRE2 and take group 1 when present */
    bool caseless;
    mask_check check;
    double min_entropy; /* 0 = none */
    mt_mask_action action;
    bool pii;           /* personal data: the EXAMPLE allow rule does not apply */
    bool native;        /* found by mask_native.c, not compiled into Vectorscan */
    bool generic;       /* found by context (a key, a header, a flag), not by a token
                         * format: a format detector finding the same span names it */
    bool user;
} mask_det;

/* Prefix-anchored provider token detectors (mask_providers.c), added after
 * the built-in table: id (also the marker type), family (docs and reports),
 * Vectorscan regex and flags (0 or HS_FLAG_CASELESS), and, when set, the
 * PCRE2 pattern run anchored at the candidate start (extends an open-ended
 * token or drops context: group 1 is the secret) reading up to window bytes
 * past the Vectorscan end. */
typedef struct mask_provider {
    const char *id;
    const char *family;
    const char *regex;
    unsigned flags;
    const char *pcre_regex;
    size_t window;
} mask_provider;
extern const mask_provider mask_providers[];
extern const size_t mask_providers_count;

struct mt_mask_rules {
    mask_det *dets;
    size_t n, cap;
    char **allow_values;
    size_t n_allow;
    char **allow_paths; /* JSON pointers; a segment "*" matches any one segment */
    size_t n_paths;
    mt_mask_action field_action; /* JSON field-name rule */
    bool field_rule;
    uint8_t *token_key;
    size_t token_key_len;
    size_t max_string;
    unsigned max_depth;
};

/* Detector indices of the native scanner (SIZE_MAX: disabled). */
typedef struct mask_native {
    size_t card, card_grouped, iban, ssn, nine, phone_e164, phone_intl, phone_us, email;
} mask_native;

struct mt_mask_engine {
    mt_mask_rules *rules;
    hs_database_t *db;
    hs_scratch_t *scratch; /* prototype cloned per ctx */
    pcre2_code **re;       /* per detector, NULL when not used */
    size_t field_det;      /* index of the pseudo-detector for field-name rules */
    size_t oversize_det;   /* pseudo-detector for strings over max_string */
    size_t overflow_det;   /* pseudo-detector when candidates overflow */
    size_t min_width;      /* shortest match of any pattern: shorter strings are not scanned */
    mask_native native;
    uint32_t *hs_ids;      /* Vectorscan expression id -> detector index */
    bool from_cache;       /* db was read from the on-disk cache */
};

/* On-disk cache of the compiled database (mask_cache.c). key_out: the
 * SHA-256 naming the file, computed from the patterns. load: true with *db
 * and *min_width set on a hit. store: best effort. */
void mask_cache_key(const char *const *exprs, const unsigned *flags, const unsigned *ids,
                    size_t n, uint8_t key_out[MT_SHA256_LEN]);
bool mask_cache_load(const mt_mask_engine_opts *o, const uint8_t key[MT_SHA256_LEN],
                     hs_database_t **db, size_t *min_width);
void mask_cache_store(const mt_mask_engine_opts *o, const uint8_t key[MT_SHA256_LEN],
                      const hs_database_t *db, size_t min_width);

typedef struct mask_slot {
    size_t from, to;
    bool active;
} mask_slot;

typedef struct mask_span {
    size_t start, end;
    uint32_t det;
    uint32_t generic; /* spans: the detector's generic flag */
} mask_span;

/* Member names repeat across payloads (type, text, name, arguments, ...):
 * a direct-mapped cache of mask_key_class for names up to 32 bytes. */
#define MASK_KEYCACHE_SLOTS 256u
#define MASK_KEYCACHE_KEYMAX 32u
typedef struct mask_keycache_ent {
    uint8_t len; /* 0: empty */
    uint8_t cls; /* mask_key_class */
    char key[MASK_KEYCACHE_KEYMAX];
} mask_keycache_ent;

struct mt_mask_ctx {
    const mt_mask_engine *e;
    hs_scratch_t *scratch;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    mt_hmac *hmac;
    mask_slot *slots;
    uint32_t *touched; /* slots activated in this scan, to reset only those */
    size_t ntouched;
    mask_span *cand; /* raw (det, from, to) from Vectorscan */
    size_t ncand, capcand;
    mask_span *spans; /* confirmed */
    size_t nspans, capspans;
    bool overflow;
    int says_secret; /* -1 unknown, else whether the scanned text contains "Secret" */
    const char *scan_s; /* string being scanned (for the callback) */
    mt_mask_explain_fn explain;
    void *explain_ud;
    mt_buf str;   /* decoded JSON string */
    mt_buf path;  /* current JSON pointer, NUL-terminated */
    mt_buf key;   /* decoded current member name */
    mask_keycache_ent keycache[MASK_KEYCACHE_SLOTS];
};

/* mask_rules.c */
/* Lower case, with '-' and '.' as '_' (X-Api-Key reads as x_api_key). */
static inline char mask_fold(char c)
{
    if (c >= 'A' && c <= 'Z')
        return (char)(c - 'A' + 'a');
    return c == '-' || c == '.' ? '_' : c;
}
/* Whether s[0..len) holds w (lower case, '_' for any separator) folded. */
bool mask_has_ci(const char *s, size_t len, const char *w);
mt_err mask_rules_add_builtins(mt_mask_rules *r, mt_errbuf *eb);
mt_err mask_rules_push(mt_mask_rules *r, const mask_det *d, mt_errbuf *eb);
bool mask_key_is_secret(const char *key, size_t len);
/* mask_key_is_secret, else MASK_KEY_NAMED for a name ending in "key" that is
 * secret when its value looks generated (mask_value_looks_generated). */
enum { MASK_KEY_PLAIN, MASK_KEY_SECRET, MASK_KEY_NAMED };
int mask_key_class(const char *key, size_t len);
bool mask_value_looks_generated(const char *v, size_t len);
/* A reference or a non-secret (mask_value_is_reference) or a placeholder. */
bool mask_value_is_benign(const char *v, size_t len);
bool mask_value_is_reference(const char *v, size_t len);
bool mask_value_is_placeholder(const char *v, size_t len);
bool mask_key_is_benign(const char *key, size_t len);
bool mask_key_is_keyed(mask_check c);
bool mask_key_has_word(const char *key, size_t len, const char *w);

/* mask_validate.c */
bool mask_card_ok(const char *s, size_t len, size_t start, size_t end);
bool mask_iban_span(const char *s, size_t len, size_t start, size_t *end);
bool mask_phone_ok(const char *s, size_t start, size_t end);
bool mask_is_b64(const char *s, size_t len);

/* mask.c */
mt_err mask_scan(mt_mask_ctx *ctx, const char *s, size_t len, mt_errbuf *eb);
mt_err mask_emit(mt_mask_ctx *ctx, const char *s, size_t len, mt_buf *out, bool json,
                 mt_mask_summary *sum, const char *pointer, mt_errbuf *eb);
mt_err mask_span_push(mt_mask_ctx *ctx, size_t start, size_t end, size_t det);
bool mask_any_drop(const mt_mask_ctx *ctx);
mt_err mask_finding(mt_mask_ctx *c, const char *s, size_t start, size_t end, size_t det);

/* mask_native.c */
mt_err mask_scan_native(mt_mask_ctx *c, const char *s, size_t len);
/* The same findings, trying every shape on every digit run (the reference). */
mt_err mask_scan_native_ref(mt_mask_ctx *c, const char *s, size_t len);
void mask_report_whole(mt_mask_ctx *c, size_t det, size_t len, mt_mask_summary *sum,
                       const char *pointer);

/* mask_simd.c: byte-class scans (SSE2 on x86_64, else portable); the
 * *_ref versions are the scalar reference the tests compare them with.
 * str_stop: index of the first '"', '\\' or control byte in p[0..n) (n when
 * none); sets *high when a byte >= 0x80 precedes it (never clears it).
 * str_masks64: bit k set when p[k] would stop str_stop, k < min(n, 64);
 * in *high the bits of bytes >= 0x80.
 * classes64: bit k of each member set when p[k] is of that class,
 * k < min(n, 64). */
size_t mask_str_stop(const char *p, size_t n, bool *high);
size_t mask_str_stop_ref(const char *p, size_t n, bool *high);
uint64_t mask_str_masks64(const char *p, size_t n, uint64_t *high);
uint64_t mask_str_masks64_ref(const char *p, size_t n, uint64_t *high);
typedef struct mask_classes {
    uint64_t digit;   /* 0-9 */
    uint64_t plus;    /* + */
    uint64_t upper;   /* A-Z */
    uint64_t word;    /* A-Z a-z _ */
    uint64_t dashdot; /* - . */
    uint64_t space;   /* ' ' */
    uint64_t paren;   /* ) */
} mask_classes;
void mask_classes64(const char *p, size_t n, mask_classes *m);
void mask_classes64_ref(const char *p, size_t n, mask_classes *m);
/* false: the 64-byte scans use SSE2 even on an AVX-512BW CPU (tests run both) */
void mask_simd_avx512(bool on);

/* mask_json.c helpers used by mask.c */
mt_err mask_json_escape(mt_buf *out, const char *s, size_t len);

#endif
