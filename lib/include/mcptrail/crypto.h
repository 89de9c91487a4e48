/* Cryptographic primitives for evidence: SHA-256, HMAC-SHA256, Ed25519 keys
 * and signatures, and RFC 6962 Merkle trees with inclusion proofs.
 *
 * Everything is built on OpenSSL 3 EVP interfaces; no OpenSSL type appears in
 * this header, so callers do not need OpenSSL's headers. Functions that can
 * fail return an mt_err and, when given an mt_errbuf, a message naming the
 * input and carrying OpenSSL's own error text. The OpenSSL error queue is
 * always left empty, so one failure never leaks into a later, unrelated
 * error report. */
#ifndef MCPTRAIL_CRYPTO_H
#define MCPTRAIL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcptrail/buf.h"
#include "mcptrail/err.h"

#define MT_SHA256_LEN 32
#define MT_ED25519_PUBLIC_LEN 32
#define MT_ED25519_SEED_LEN 32
#define MT_ED25519_SIG_LEN 64
/* Key id: 16 lowercase hex characters plus NUL. */
#define MT_ED25519_KEY_ID_SIZE 17
/* PEM files and strings larger than this are refused before reading. */
#define MT_PEM_MAX ((size_t)64 * 1024)

/* ---- SHA-256 ---------------------------------------------------------- */

mt_err mt_sha256(const void *data, size_t len, uint8_t out[MT_SHA256_LEN]);

/* SHA-256 of many small messages on one thread without an allocation or an
 * algorithm lookup per message (the recorder's hash chain). */
typedef struct mt_sha256_hasher mt_sha256_hasher;
mt_err mt_sha256_hasher_new(mt_sha256_hasher **out, mt_errbuf *eb);
mt_err mt_sha256_hasher_digest(mt_sha256_hasher *h, const void *data, size_t len,
                               uint8_t out[MT_SHA256_LEN]);
void mt_sha256_hasher_free(mt_sha256_hasher *h);

/* Incremental hashing for data that does not fit in memory (segment files).
 * init → update* → final; mt_sha256_free is always safe to call afterwards
 * (and on any error path) and is a no-op after final. */
typedef struct mt_sha256_ctx {
    void *impl; /* EVP_MD_CTX, private */
} mt_sha256_ctx;
#define MT_SHA256_CTX_INIT {NULL}

mt_err mt_sha256_init(mt_sha256_ctx *ctx, mt_errbuf *eb);
mt_err mt_sha256_update(mt_sha256_ctx *ctx, const void *data, size_t len, mt_errbuf *eb);
mt_err mt_sha256_final(mt_sha256_ctx *ctx, uint8_t out[MT_SHA256_LEN], mt_errbuf *eb);
void mt_sha256_free(mt_sha256_ctx *ctx);

/* SHA-256 of a whole file, read in bounded chunks. MT_ERR_NOT_FOUND / IO. */
mt_err mt_sha256_file(const char *path, uint8_t out[MT_SHA256_LEN], mt_errbuf *eb);

/* ---- hex -------------------------------------------------------------- */

/* Lowercase hex of data[0..len) plus NUL. out_size must be >= 2*len+1,
 * otherwise MT_ERR_INVALID_ARG and nothing is written. */
mt_err mt_hex_encode(const void *data, size_t len, char *out, size_t out_size);

/* Decodes exactly hex_len characters. Strict: even length, only [0-9a-fA-F]
 * (no whitespace, no "0x"). MT_ERR_PARSE names the offending offset;
 * MT_ERR_TOO_LARGE if out_cap < hex_len/2. *out_len gets the byte count. */
mt_err mt_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t out_cap,
                     size_t *out_len, mt_errbuf *eb);

/* n bytes from the CSPRNG (OpenSSL RAND_bytes); MT_ERR_CRYPTO when it fails. */
mt_err mt_random_bytes(void *out, size_t n, mt_errbuf *eb);

/* ---- HMAC ------------------------------------------------------------- */

mt_err mt_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                      uint8_t out[MT_SHA256_LEN], mt_errbuf *eb);

/* A keyed HMAC-SHA256 for many messages under one key: the key schedule and
 * the algorithm lookup happen once in mt_hmac_new, so each mt_hmac_compute
 * costs only the hashing. One thread at a time per object. */
typedef struct mt_hmac mt_hmac;
mt_err mt_hmac_new(const void *key, size_t key_len, mt_hmac **out, mt_errbuf *eb);
mt_err mt_hmac_compute(mt_hmac *h, const void *data, size_t len, uint8_t out[MT_SHA256_LEN],
                       mt_errbuf *eb);
void mt_hmac_free(mt_hmac *h);

/* Constant-time equality of two n-byte buffers (time depends only on n). */
bool mt_ct_equal(const void *a, const void *b, size_t n);

/* ---- Ed25519 ---------------------------------------------------------- */

typedef struct mt_ed25519_key mt_ed25519_key;

mt_err mt_ed25519_generate(mt_ed25519_key **out, mt_errbuf *eb);
/* From the 32-byte RFC 8032 private seed / raw public key. */
mt_err mt_ed25519_from_seed(const uint8_t seed[MT_ED25519_SEED_LEN], mt_ed25519_key **out,
                            mt_errbuf *eb);
mt_err mt_ed25519_from_public_raw(const uint8_t pub[MT_ED25519_PUBLIC_LEN],
                                  mt_ed25519_key **out, mt_errbuf *eb);
void mt_ed25519_free(mt_ed25519_key *key);
bool mt_ed25519_has_private(const mt_ed25519_key *key);

/* Write PKCS#8 ("PRIVATE KEY", unencrypted, mode 0600) or SPKI ("PUBLIC KEY",
 * mode 0644) PEM. The file is written to a temporary name in the same
 * directory, fsynced and renamed over `path`, so readers see the old file or
 * the complete new one, never a partial key. An existing file is replaced. */
mt_err mt_ed25519_write_private_pem(const mt_ed25519_key *key, const char *path,
                                    mt_errbuf *eb);
mt_err mt_ed25519_write_public_pem(const mt_ed25519_key *key, const char *path,
                                   mt_errbuf *eb);
/* SPKI PEM text appended to out (for config output, logs, JWKS tooling). */
mt_err mt_ed25519_public_pem(const mt_ed25519_key *key, mt_buf *out, mt_errbuf *eb);

/* Loaders. Errors: MT_ERR_NOT_FOUND (no file), MT_ERR_IO, MT_ERR_TOO_LARGE
 * (> MT_PEM_MAX), MT_ERR_PARSE (not a PEM key of the requested kind, or an
 * encrypted private key: those are refused rather than prompting),
 * MT_ERR_CONFIG (a valid key that is not Ed25519). Messages name `path`, or
 * `what` for in-memory PEM (e.g. "secret approvals-signing-key"). */
mt_err mt_ed25519_load_private_pem_file(const char *path, mt_ed25519_key **out,
                                        mt_errbuf *eb);
mt_err mt_ed25519_load_public_pem_file(const char *path, mt_ed25519_key **out,
                                       mt_errbuf *eb);
mt_err mt_ed25519_load_private_pem(const char *pem, size_t len, const char *what,
                                   mt_ed25519_key **out, mt_errbuf *eb);
mt_err mt_ed25519_load_public_pem(const char *pem, size_t len, const char *what,
                                  mt_ed25519_key **out, mt_errbuf *eb);

/* PureEd25519 (RFC 8032) over msg; needs a private key (else MT_ERR_STATE). */
mt_err mt_ed25519_sign(const mt_ed25519_key *key, const void *msg, size_t len,
                       uint8_t sig[MT_ED25519_SIG_LEN], mt_errbuf *eb);
/* MT_OK if sig is a valid signature of msg, MT_ERR_BAD_SIGNATURE if not
 * (including a sig_len other than 64), MT_ERR_CRYPTO if OpenSSL failed. */
mt_err mt_ed25519_verify(const mt_ed25519_key *key, const void *msg, size_t len,
                         const uint8_t *sig, size_t sig_len, mt_errbuf *eb);

mt_err mt_ed25519_public_raw(const mt_ed25519_key *key, uint8_t out[MT_ED25519_PUBLIC_LEN],
                             mt_errbuf *eb);
/* Hex of the first 8 bytes of SHA-256(raw public key): 16 chars + NUL. */
mt_err mt_ed25519_key_id(const mt_ed25519_key *key, char out[MT_ED25519_KEY_ID_SIZE],
                         mt_errbuf *eb);

/* ---- RFC 6962 Merkle tree --------------------------------------------- */

/* Largest tree handled; with it no proof is longer than 63 hashes. */
#define MT_MERKLE_MAX_SIZE ((uint64_t)1 << 63)
#define MT_MERKLE_MAX_PROOF 64

/* SHA256(0x00 || data) and SHA256(0x01 || left || right). */
mt_err mt_merkle_leaf_hash(const void *data, size_t len, uint8_t out[MT_SHA256_LEN]);
mt_err mt_merkle_node_hash(const uint8_t left[MT_SHA256_LEN],
                           const uint8_t right[MT_SHA256_LEN], uint8_t out[MT_SHA256_LEN]);

/* Streaming builder: keeps one perfect-subtree root per set bit of `size`
 * (at most 64 hashes, 2 KiB, no allocation), so millions of leaves can be
 * appended and the root read at any point. The struct may be copied or
 * persisted as a checkpoint. */
typedef struct mt_merkle_builder {
    uint64_t size;
    uint8_t peaks[64][MT_SHA256_LEN]; /* peaks[k] valid iff bit k of size set */
} mt_merkle_builder;

void mt_merkle_builder_init(mt_merkle_builder *b);
/* MT_ERR_TOO_LARGE once size reaches MT_MERKLE_MAX_SIZE. */
mt_err mt_merkle_builder_append(mt_merkle_builder *b, const uint8_t leaf_hash[MT_SHA256_LEN],
                                mt_errbuf *eb);
/* Root of the leaves appended so far; SHA256("") for none. */
mt_err mt_merkle_builder_root(const mt_merkle_builder *b, uint8_t out[MT_SHA256_LEN],
                              mt_errbuf *eb);

/* leaf_hashes: n consecutive 32-byte leaf hashes (n*32 bytes). */
mt_err mt_merkle_root(const uint8_t *leaf_hashes, uint64_t n, uint8_t out[MT_SHA256_LEN],
                      mt_errbuf *eb);

/* RFC 6962 2.1.1 PATH(m, D[n]), deepest sibling first: *proof_len hashes
 * written to proof as consecutive 32-byte values (room for
 * MT_MERKLE_MAX_PROOF). MT_ERR_INVALID_ARG if m >= n. */
mt_err mt_merkle_inclusion_proof(const uint8_t *leaf_hashes, uint64_t n, uint64_t m,
                                 uint8_t proof[MT_MERKLE_MAX_PROOF * MT_SHA256_LEN],
                                 size_t *proof_len, mt_errbuf *eb);

/* tree_size and root must come from the same signed manifest: a proof does
 * not pin the size by itself (e.g. leaf 0's path is the same shape in trees
 * of 7 and 8 leaves).
 * RFC 9162 2.1.3.2: MT_OK if `proof` (proof_len consecutive 32-byte hashes)
 * proves leaf `index` of a tree of `tree_size` leaves with root `root`;
 * MT_ERR_BAD_SIGNATURE if it does not (wrong leaf, index, size, root, or a
 * proof of the wrong length); MT_ERR_INVALID_ARG for index >= tree_size, a size above
 * MT_MERKLE_MAX_SIZE or more than MT_MERKLE_MAX_PROOF hashes. */
mt_err mt_merkle_verify_inclusion(const uint8_t leaf_hash[MT_SHA256_LEN], uint64_t index,
                                  uint64_t tree_size, const uint8_t *proof, size_t proof_len,
                                  const uint8_t root[MT_SHA256_LEN], mt_errbuf *eb);

#endif
