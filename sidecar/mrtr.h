/* MCP 2026-07-28 multi-round-trip requests (MRTR) at the sidecar (pure, no
 * I/O; docs/sidecar.md "Multi-round-trip calls").
 *
 * A call whose server needs input answers with an input-required result
 * (result.resultType "input_required", inputRequests, requestState); the
 * client retries the same call with inputResponses and the echoed
 * requestState. The sidecar treats the rounds as one logical call:
 *
 *   - the call hash names a logical call: method, tool/prompt name or
 *     resource URI, the arguments in canonical JSON and the caller (issuer,
 *     subject). Retries carry the same params, so they hash the same.
 *   - a sealed state is a requestState the sidecar issues itself, in place
 *     of the server's (or of none, for an approval asked by URL
 *     elicitation). It binds approval id, call id, call hash, round, expiry
 *     and a nonce under HMAC-SHA256 with a deployment key, so any replica
 *     with the key can verify a retry, and nothing a client changes passes.
 *     Format: "mtrs1." b64url(canonical JSON) "." b64url(HMAC(key, the part
 *     before the second dot)).
 *   - the link table remembers, for calls no approval governs, which call
 *     and round a server's requestState belongs to (SHA-256 of the state ->
 *     call id, round), so the record numbers the rounds of one call.
 *
 * Keys: the first loaded key seals; every loaded key opens (rotation). */
#ifndef MCPTRAIL_SIDECAR_MRTR_H
#define MCPTRAIL_SIDECAR_MRTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mcptrail/buf.h"
#include "mcptrail/crypto.h"
#include "mcptrail/err.h"

#define MT_MRTR_PREFIX "mtrs1."
#define MT_MRTR_KEY_MIN 32           /* bytes of secret a state key needs */
#define MT_MRTR_MAX_KEYS 8
#define MT_MRTR_STATE_MAX (96u << 10) /* longest requestState accepted or sealed */
#define MT_MRTR_UPSTREAM_MAX (64u << 10) /* longest server requestState wrapped */

/* The key of the sidecar's own input request in inputRequests/inputResponses
 * (the approval URL elicitation). */
#define MT_MRTR_APPROVAL_INPUT "io.mcptrail/approval"

/* What a result says about the call it answers. */
typedef enum mt_mrtr_result {
    MT_MRTR_RESULT_NONE = 0,   /* not a result (error, notification, unparsable) */
    MT_MRTR_RESULT_COMPLETE,   /* resultType absent or "complete" */
    MT_MRTR_RESULT_INPUT_REQUIRED,
    MT_MRTR_RESULT_OTHER,      /* another resultType (passed through) */
} mt_mrtr_result;

/* The methods whose results may be input-required (tools/call, prompts/get,
 * resources/read). */
bool mt_mrtr_method_supported(const char *method);

/* Classifies a JSON-RPC response message. */
mt_mrtr_result mt_mrtr_result_of(const json_t *msg);

/* Logical call hash (see above). name: params.name or params.uri (NULL:
 * none); arguments NULL: none. */
mt_err mt_mrtr_call_hash(const char *method, const char *name, const json_t *arguments,
                         const char *issuer, const char *subject, uint8_t out[MT_SHA256_LEN],
                         mt_errbuf *eb);

typedef struct mt_mrtr_keys mt_mrtr_keys;

/* Loads key files (each: >= MT_MRTR_KEY_MIN bytes of secret; surrounding
 * whitespace ignored; readable by the owner only is recommended). The
 * first seals. MT_ERR_CONFIG names the file that is too short;
 * MT_ERR_NOT_FOUND / MT_ERR_IO as read. */
mt_err mt_mrtr_keys_load(const char *const *files, size_t n, mt_mrtr_keys **out,
                         mt_errbuf *eb);
/* From raw secrets (tests, fuzzers). */
mt_err mt_mrtr_keys_from(const uint8_t *const *secrets, const size_t *lens, size_t n,
                         mt_mrtr_keys **out, mt_errbuf *eb);
void mt_mrtr_keys_free(mt_mrtr_keys *k);
/* Key id of the sealing key: 16 hex digits of SHA-256 of the secret. */
const char *mt_mrtr_keys_id(const mt_mrtr_keys *k);

typedef enum mt_mrtr_stage {
    MT_MRTR_AWAITING_APPROVAL = 1, /* URL elicitation sent; the server not called yet */
    MT_MRTR_RELEASED = 2,          /* approved and forwarded; server state inside */
} mt_mrtr_stage;

typedef struct mt_mrtr_state {
    mt_mrtr_stage stage;
    char approval_id[37];
    char call_id[37];              /* event_id of the call's first request */
    uint8_t call_hash[MT_SHA256_LEN];
    int round;                     /* the round the retry carrying it is (>= 2) */
    int64_t expires_ms;            /* Unix ms */
    char nonce[33];                /* 16 random bytes, hex: single use */
    char *upstream_state;          /* RELEASED: the server's requestState (owned; NULL: none) */
} mt_mrtr_state;

void mt_mrtr_state_clear(mt_mrtr_state *s);

/* True when text carries the sealed-state prefix (it may still fail to open). */
bool mt_mrtr_is_sealed(const char *text, size_t len);

/* Seals s (nonce filled here when empty) with the first key; appends the
 * state text to out. MT_ERR_TOO_LARGE when the upstream state is longer
 * than MT_MRTR_UPSTREAM_MAX. */
mt_err mt_mrtr_seal(const mt_mrtr_keys *k, mt_mrtr_state *s, mt_buf *out, mt_errbuf *eb);

/* Opens a sealed state. Errors: MT_ERR_PARSE (not a sealed state, or
 * malformed inside: "requestState ..."), MT_ERR_BAD_SIGNATURE (no key's MAC
 * matches: forged or changed), MT_ERR_TIMEOUT (expired at now_ms),
 * MT_ERR_TOO_LARGE. On success fill *out (clear it with mt_mrtr_state_clear). */
mt_err mt_mrtr_open(const mt_mrtr_keys *k, const char *text, size_t len, int64_t now_ms,
                    mt_mrtr_state *out, mt_errbuf *eb);

/* ---- link table: server requestState -> the call it continues ------------- */

typedef struct mt_mrtr_link {
    char call_id[37];
    int round;                        /* the round a retry carrying the state is */
    char approval_id[37];             /* "": no approval governs the call */
    uint8_t call_hash[MT_SHA256_LEN];
} mt_mrtr_link;

typedef struct mt_mrtr_links mt_mrtr_links;

/* cap entries at most (oldest evicted), each kept ttl_ms. */
mt_err mt_mrtr_links_new(size_t cap, int64_t ttl_ms, mt_mrtr_links **out);
void mt_mrtr_links_free(mt_mrtr_links *l);
/* Remembers the call a retry carrying state (bytes) continues. */
mt_err mt_mrtr_links_put(mt_mrtr_links *l, const void *state, size_t len, const mt_mrtr_link *v,
                         int64_t now_ms);
/* Finds (and removes: a state is echoed once) the link of state. false: unknown/expired. */
bool mt_mrtr_links_take(mt_mrtr_links *l, const void *state, size_t len, int64_t now_ms,
                        mt_mrtr_link *out);
size_t mt_mrtr_links_count(const mt_mrtr_links *l);

/* ---- single use ----------------------------------------------------------- */

typedef struct mt_mrtr_seen mt_mrtr_seen;

/* Nonces of sealed states already used, each kept until its state expires
 * (at most cap live at once). */
mt_err mt_mrtr_seen_new(size_t cap, mt_mrtr_seen **out);
void mt_mrtr_seen_free(mt_mrtr_seen *s);
/* false when the nonce was used before (a replay) or cap live nonces are
 * held (fail closed); else records it. */
bool mt_mrtr_seen_use(mt_mrtr_seen *s, const char *nonce, int64_t expires_ms, int64_t now_ms);

#endif
