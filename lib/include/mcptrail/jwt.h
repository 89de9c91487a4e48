/* Caller identity from a Bearer JWT: JWKS loading, JWS compact verification
 * (RS256, ES256, EdDSA), claim checks against a policy, and the mapping of CI
 * OIDC claims (GitHub Actions, GitLab CI) into an mt_identity.
 *
 * A JWKS is immutable once parsed and may be shared by any number of threads;
 * reloading is the caller's business (parse a new one, swap the pointer,
 * free the old one when no verification uses it any more).
 *
 * mt_jwt_verify error codes (the errbuf message is precise and safe to log:
 * it never contains the token or the signature, and strings taken from the
 * token are truncated and stripped of non-printable bytes):
 *   MT_ERR_INVALID_ARG   no token (empty), or a NULL/empty policy part
 *   MT_ERR_TOO_LARGE     token longer than MT_JWT_MAX_TOKEN, or header or
 *                        payload JSON nested deeper than MT_JWT_MAX_DEPTH
 *   MT_ERR_PARSE         not three dot-separated parts, bad base64url, bad
 *                        JSON, a header or claim of the wrong type, a 'crit'
 *                        header, or a required claim (exp, iss, aud) missing
 *   MT_ERR_BAD_SIGNATURE alg not in the policy allow-list or not supported
 *                        (so "none" and every HS* are refused), alg does not
 *                        fit the key type, signature of the wrong length, or a
 *                        signature that does not verify
 *   MT_ERR_NOT_FOUND     the token's kid is not in the JWKS (or, without kid,
 *                        the JWKS has no key for the alg): the caller may
 *                        refresh the JWKS once and retry
 *   MT_ERR_TIMEOUT       token expired (now >= exp + leeway)
 *   MT_ERR_STATE         token not yet valid (nbf, or iat in the future,
 *                        beyond the leeway)
 *   MT_ERR_CONFIG        issuer or audience not accepted by the policy
 *   MT_ERR_NOMEM, MT_ERR_CRYPTO  resource or OpenSSL failure
 *
 * The second half of this header holds signing helpers (key generation, PEM
 * files, public JWK export, token minting) for mcptrail-devtoken and tests;
 * the sidecar itself only verifies. */
#ifndef MCPTRAIL_JWT_H
#define MCPTRAIL_JWT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mcptrail/buf.h"
#include "mcptrail/err.h"

#define MT_JWT_MAX_TOKEN ((size_t)16 * 1024) /* compact serialisation, bytes */
#define MT_JWT_MAX_DEPTH 16u                 /* header and payload JSON nesting */
#define MT_JWKS_MAX_BYTES ((size_t)1 << 20)  /* JWKS document */
#define MT_JWKS_MAX_KEYS 64u                 /* keys in one JWKS */

/* ---- JWKS --------------------------------------------------------------- */

typedef struct mt_jwks mt_jwks;

/* Parses {"keys":[...]}. Supported: kty RSA (n, e; 2048..8192 bits) for
 * RS256, EC crv P-256 (x, y) for ES256, OKP crv Ed25519 (x) for EdDSA.
 * A key with "use" other than "sig", or an "alg" that mcptrail does not
 * verify (RS384, ES512, ...), or an unsupported kty/crv is skipped; a key whose
 * "alg" contradicts its type, a symmetric ("oct") key, a key carrying private
 * material ("d"), or a malformed key is an error (MT_ERR_CONFIG / PARSE), as
 * is a JWKS with no usable key. Messages name the key by index and kid. */
mt_err mt_jwks_parse(const char *json, size_t len, mt_jwks **out, mt_errbuf *eb);
/* Same, from a file (at most MT_JWKS_MAX_BYTES); messages start with path. */
mt_err mt_jwks_load_file(const char *path, mt_jwks **out, mt_errbuf *eb);
void mt_jwks_free(mt_jwks *jwks);
/* Usable keys kept, and keys skipped as unsupported. */
size_t mt_jwks_count(const mt_jwks *jwks);
size_t mt_jwks_skipped(const mt_jwks *jwks);

/* ---- verification ------------------------------------------------------- */

typedef struct mt_jwt_policy {
    const char *issuer;           /* exact match with iss; required */
    const char *const *audiences; /* aud must contain one of these */
    size_t naud;                  /* >= 1 */
    const char *const *algs;      /* allow-list: "RS256", "ES256", "EdDSA" */
    size_t nalgs;                 /* >= 1 */
    int64_t leeway_s;             /* clock skew allowed on exp/nbf/iat, >= 0 */
} mt_jwt_policy;

typedef struct mt_identity {
    char *issuer, *subject, *audience; /* audience: the policy audience matched */
    char *auth_method;                 /* "jwt" | "mtls" | "anonymous" */
    char token_fingerprint[65];        /* lowercase hex SHA-256 of the raw token; "" = none */
    /* CI OIDC claims; every pointer NULL and run_attempt 0 when the token is
     * not a CI token. GitHub Actions (recognised by repository + run_id):
     * repository, workflow (the "workflow" claim, else job_workflow_ref),
     * job NULL (GitHub tokens carry no job name; job_workflow_ref stays in
     * claims), run_id, run_attempt, sha, ref, actor, environment. GitLab CI
     * (project_path + pipeline_id): project_path -> repository,
     * ci_config_ref_uri (else pipeline_source) -> workflow, job_id -> job,
     * pipeline_id -> run_id, sha, ref, user_login -> actor, environment.
     * Numeric claims become decimal text; run_attempt (a string in GitHub
     * tokens) is 0 when absent or not a number in 1..INT32_MAX. */
    struct {
        char *repository, *workflow, *job, *run_id, *sha, *ref, *actor, *environment;
        int64_t run_attempt;
    } ci;
    json_t *claims; /* every verified claim (new reference), for the policy engine */
} mt_identity;

/* Verifies token[0..len) (without the "Bearer " prefix) against jwks and
 * policy at time now_s (Unix seconds). On MT_OK *out is filled (free with
 * mt_identity_free); on error *out is zeroed. The token is never stored. */
mt_err mt_jwt_verify(const mt_jwks *jwks, const mt_jwt_policy *policy, const char *token,
                     size_t len, int64_t now_s, mt_identity *out, mt_errbuf *eb);

/* Frees every member and zeroes *id; safe on a zeroed identity. */
void mt_identity_free(mt_identity *id);

/* The "identity" field of a SessionEvent in the JSON mapping of
 * mcptrail/avro.h: {"issuer","subject","audience","auth_method",
 * "token_fingerprint" (hex or null), "ci" (null or an object with repository,
 * workflow, job, run_id, run_attempt, sha, ref, actor, environment)}. NULL
 * only when out of memory. id NULL gives the all-null identity. */
json_t *mt_identity_to_json(const mt_identity *id);

/* ---- base64url (RFC 4648 section 5, no padding) ------------------------- */

/* Appends the encoding of data[0..len) to out (no NUL). */
mt_err mt_b64url_encode(const void *data, size_t len, mt_buf *out);
/* Strict decode: alphabet [A-Za-z0-9_-] only, no padding, no whitespace,
 * unused trailing bits zero (so every value has one encoding). out needs
 * len*3/4 bytes. MT_ERR_PARSE names the offset; MT_ERR_TOO_LARGE if cap is
 * short. */
mt_err mt_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                        mt_errbuf *eb);

/* ---- signing helpers (devtoken, tests) ---------------------------------- */

typedef struct mt_jwt_key mt_jwt_key; /* a private key: RSA, EC P-256 or Ed25519 */

/* kty "RSA" (2048 bits), "EC" (P-256) or "OKP" (Ed25519). */
mt_err mt_jwt_key_generate(const char *kty, mt_jwt_key **out, mt_errbuf *eb);
/* Unencrypted PKCS#8 PEM private key of one of the three kinds. */
mt_err mt_jwt_key_load_pem_file(const char *path, mt_jwt_key **out, mt_errbuf *eb);
/* Written with mode 0600 (an existing file is replaced). */
mt_err mt_jwt_key_write_pem_file(const mt_jwt_key *key, const char *path, mt_errbuf *eb);
void mt_jwt_key_free(mt_jwt_key *key);
/* "RS256", "ES256" or "EdDSA": the alg this key signs with. */
const char *mt_jwt_key_alg(const mt_jwt_key *key);
/* Public JWK {"kty",...,"kid","alg","use":"sig"} as a new reference. */
mt_err mt_jwt_key_public_jwk(const mt_jwt_key *key, const char *kid, json_t **out, mt_errbuf *eb);
/* DER SubjectPublicKeyInfo of the public key appended to out (tests use it
 * as the "public key bytes" of the HS256 key-confusion attack). */
mt_err mt_jwt_key_public_der(const mt_jwt_key *key, mt_buf *out, mt_errbuf *eb);

/* Compact JWS appended to out (no NUL): header {"alg","typ":"JWT","kid"?}
 * (kid omitted when NULL), payload bytes as given (normally JSON claims).
 * alg must be the key's alg (MT_ERR_INVALID_ARG otherwise). */
mt_err mt_jwt_sign(const mt_jwt_key *key, const char *alg, const char *kid, const void *payload,
                   size_t payload_len, mt_buf *out, mt_errbuf *eb);

#endif
