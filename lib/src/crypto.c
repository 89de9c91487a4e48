/* crypto: the hashes, MACs, signatures and Merkle trees that make mcptrail's
 * records evidence.
 *
 * How it works:
 * - SHA-256 and HMAC-SHA256 go through EVP (EVP_Digest*, EVP_Q_mac) so the
 *   active OpenSSL provider (default or FIPS) does the work.
 * - Ed25519 keys are EVP_PKEYs wrapped in mt_ed25519_key; signing is
 *   EVP_DigestSign with a NULL digest (PureEd25519, the message is hashed by
 *   the algorithm itself). Keys are exchanged as PKCS#8 / SPKI PEM. Every
 *   loaded key is checked to be Ed25519 so a misconfigured RSA or EC key is
 *   reported at startup instead of producing signatures nobody can verify.
 * - Merkle trees follow RFC 6962 (leaf prefix 0x00, node prefix 0x01, split at
 *   the largest power of two below n). The streaming builder keeps the roots
 *   of the perfect subtrees that make up the tree so far, one per set bit of
 *   the leaf count: appending is a binary increment with carries, the root is
 *   those peaks folded right to left. The array functions use the recursive
 *   definition straight from the RFC, which makes them an independent check
 *   of the builder.
 * - Every OpenSSL failure is reported with OpenSSL's own error text and the
 *   error queue is cleared, so stale errors never surface in a later report.
 */
#include "mcptrail/crypto.h"

#include "ossl_internal.h"

#include <openssl/rand.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>

struct mt_ed25519_key {
    EVP_PKEY *pkey;
    bool has_private;
};

/* Formats the caller's message followed by OpenSSL's queued error(s), then
 * empties the queue. The first queued error is usually the root cause, the
 * last the most specific wrapper; both are shown when they differ. */
mt_err mt_ossl_fail(mt_errbuf *eb, mt_err code, const char *fmt, ...)
{
    char what[256];
    char first[160] = "no OpenSSL error queued";
    char last[160] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);

    unsigned long e1 = ERR_peek_error();
    unsigned long e2 = ERR_peek_last_error();
    if (e1 != 0)
        ERR_error_string_n(e1, first, sizeof first);
    if (e2 != 0 && e2 != e1)
        ERR_error_string_n(e2, last, sizeof last);
    ERR_clear_error();
    if (last[0] != '\0')
        return mt_fail(eb, code, "%s: %s (%s)", what, first, last);
    return mt_fail(eb, code, "%s: %s", what, first);
}

/* ------------------------------------------------------------------------
 * SHA-256
 * ------------------------------------------------------------------------ */

mt_err mt_sha256(const void *data, size_t len, uint8_t out[MT_SHA256_LEN])
{
    static const uint8_t empty = 0;
    unsigned int out_len = 0;

    if (out == NULL || (data == NULL && len > 0))
        return MT_ERR_INVALID_ARG;
    if (!EVP_Digest(data != NULL ? data : &empty, len, out, &out_len, EVP_sha256(), NULL) ||
        out_len != MT_SHA256_LEN) {
        /* No errbuf in this signature: nothing to report into, but the
         * queue must still be emptied. */
        ERR_clear_error();
        return MT_ERR_CRYPTO;
    }
    return MT_OK;
}

struct mt_sha256_hasher {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

mt_err mt_sha256_hasher_new(mt_sha256_hasher **out, mt_errbuf *eb)
{
    if (out == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_sha256_hasher_new: NULL out");
    *out = NULL;
    mt_sha256_hasher *h = calloc(1, sizeof *h);
    if (h == NULL)
        return mt_fail(eb, MT_ERR_NOMEM, "SHA-256: out of memory");
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = h->md ? EVP_MD_CTX_new() : NULL;
    if (h->ctx == NULL) {
        mt_sha256_hasher_free(h);
        return mt_ossl_fail(eb, MT_ERR_CRYPTO, "SHA-256: cannot set up the digest");
    }
    *out = h;
    return MT_OK;
}

mt_err mt_sha256_hasher_digest(mt_sha256_hasher *h, const void *data, size_t len,
                               uint8_t out[MT_SHA256_LEN])
{
    static const uint8_t empty = 0;
    unsigned int out_len = 0;
    if (h == NULL || out == NULL || (data == NULL && len > 0))
        return MT_ERR_INVALID_ARG;
    if (!EVP_DigestInit_ex2(h->ctx, h->md, NULL) ||
        !EVP_DigestUpdate(h->ctx, data != NULL ? data : &empty, len) ||
        !EVP_DigestFinal_ex(h->ctx, out, &out_len) || out_len != MT_SHA256_LEN) {
        ERR_clear_error();
        return MT_ERR_CRYPTO;
    }
    return MT_OK;
}

void mt_sha256_hasher_free(mt_sha256_hasher *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    free(h);
}

mt_err mt_sha256_init(mt_sha256_ctx *ctx, mt_errbuf *eb)
{
    if (ctx == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_sha256_init: NULL context");
    ctx->impl = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        return mt_ossl_fail(eb, MT_ERR_NOMEM, "SHA-256: cannot allocate digest context");
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(md);
        return mt_ossl_fail(eb, MT_ERR_CRYPTO, "SHA-256: digest init failed");
    }
    ctx->impl = md;
    return MT_OK;
}

mt_err mt_sha256_update(mt_sha256_ctx *ctx, const void *data, size_t len, mt_errbuf *eb)
{
    if (ctx == NULL || ctx->impl == NULL)
        return mt_fail(eb, MT_ERR_STATE, "SHA-256 update on a context that is not initialised");
    if (len == 0)
        return MT_OK;
    if (data == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "SHA-256 update: NULL data with length %zu", len);
    if (!EVP_DigestUpdate(ctx->impl, data, len))
        return mt_ossl_fail(eb, MT_ERR_CRYPTO, "SHA-256: digest update failed");
    return MT_OK;
}

mt_err mt_sha256_final(mt_sha256_ctx *ctx, uint8_t out[MT_SHA256_LEN], mt_errbuf *eb)
{
    unsigned int out_len = 0;
    mt_err err = MT_OK;

    if (ctx == NULL || ctx->impl == NULL)
        return mt_fail(eb, MT_ERR_STATE, "SHA-256 final on a context that is not initialised");
    if (!EVP_DigestFinal_ex(ctx->impl, out, &out_len) || out_len != MT_SHA256_LEN)
        err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "SHA-256: digest final failed");
    mt_sha256_free(ctx);
    return err;
}

void mt_sha256_free(mt_sha256_ctx *ctx)
{
    if (ctx == NULL)
        return;
    EVP_MD_CTX_free(ctx->impl);
    ctx->impl = NULL;
}

mt_err mt_sha256_file(const char *path, uint8_t out[MT_SHA256_LEN], mt_errbuf *eb)
{
    mt_sha256_ctx ctx = MT_SHA256_CTX_INIT;
    uint8_t chunk[64 * 1024];
    mt_err err;
    int fd = -1;

    if (path == NULL || out == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_sha256_file: NULL argument");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = mt_fail(eb, errno == ENOENT ? MT_ERR_NOT_FOUND : MT_ERR_IO,
                      "cannot open %s to hash it: %s", path, strerror(errno));
        goto fail;
    }
    if ((err = mt_sha256_init(&ctx, eb)) != MT_OK)
        goto fail;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = mt_fail(eb, MT_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        if ((err = mt_sha256_update(&ctx, chunk, (size_t)n, eb)) != MT_OK)
            goto fail;
    }
    err = mt_sha256_final(&ctx, out, eb);
fail:
    mt_sha256_free(&ctx);
    if (fd >= 0)
        close(fd);
    return err;
}

/* ------------------------------------------------------------------------
 * hex
 * ------------------------------------------------------------------------ */

mt_err mt_hex_encode(const void *data, size_t len, char *out, size_t out_size)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = data;

    if (out == NULL || (data == NULL && len > 0))
        return MT_ERR_INVALID_ARG;
    /* 2*len+1 must neither overflow nor exceed the caller's buffer. */
    if (len > (SIZE_MAX - 1) / 2 || out_size < 2 * len + 1)
        return MT_ERR_INVALID_ARG;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * len] = '\0';
    return MT_OK;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

mt_err mt_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t out_cap,
                     size_t *out_len, mt_errbuf *eb)
{
    if (out_len != NULL)
        *out_len = 0;
    if ((hex == NULL && hex_len > 0) || (out == NULL && hex_len > 0))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "hex decode: NULL buffer");
    if (hex_len % 2 != 0)
        return mt_fail(eb, MT_ERR_PARSE,
                       "hex string has odd length %zu; every byte needs two hex digits",
                       hex_len);
    if (hex_len / 2 > out_cap)
        return mt_fail(eb, MT_ERR_TOO_LARGE,
                       "hex string decodes to %zu bytes but the buffer holds %zu", hex_len / 2,
                       out_cap);
    for (size_t i = 0; i < hex_len; i += 2) {
        int hi = hex_value(hex[i]);
        int lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            size_t bad = hi < 0 ? i : i + 1;
            unsigned char c = (unsigned char)hex[bad];
            return mt_fail(eb, MT_ERR_PARSE,
                           "invalid hex digit 0x%02x at offset %zu; only 0-9, a-f, A-F allowed",
                           c, bad);
        }
        out[i / 2] = (uint8_t)((hi << 4) | lo);
    }
    if (out_len != NULL)
        *out_len = hex_len / 2;
    return MT_OK;
}

/* ------------------------------------------------------------------------
 * HMAC
 * ------------------------------------------------------------------------ */

mt_err mt_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                      uint8_t out[MT_SHA256_LEN], mt_errbuf *eb)
{
    /* HMAC with an empty key is defined (the key is zero-padded) but
     * OpenSSL treats a NULL key as "no key set", so give it a real pointer. */
    static const uint8_t empty = 0;
    size_t out_len = 0;

    if (out == NULL || (key == NULL && key_len > 0) || (data == NULL && len > 0))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "HMAC-SHA256: NULL buffer with non-zero length");
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key != NULL ? key : &empty, key_len,
                  data != NULL ? data : &empty, len, out, MT_SHA256_LEN, &out_len) == NULL ||
        out_len != MT_SHA256_LEN)
        return mt_ossl_fail(eb, MT_ERR_CRYPTO, "HMAC-SHA256 over %zu bytes failed", len);
    return MT_OK;
}

struct mt_hmac {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx; /* keyed; re-initialised with the same key per message */
};

mt_err mt_hmac_new(const void *key, size_t key_len, mt_hmac **out, mt_errbuf *eb)
{
    static const uint8_t empty = 0;
    if (out == NULL || (key == NULL && key_len > 0))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "HMAC-SHA256: NULL key with non-zero length");
    *out = NULL;
    mt_hmac *h = calloc(1, sizeof *h);
    if (h == NULL)
        return mt_fail(eb, MT_ERR_NOMEM, "HMAC-SHA256: out of memory");
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                           OSSL_PARAM_construct_end()};
    h->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    h->ctx = h->mac ? EVP_MAC_CTX_new(h->mac) : NULL;
    if (h->ctx == NULL ||
        !EVP_MAC_init(h->ctx, key != NULL ? key : &empty, key_len, params)) {
        mt_hmac_free(h);
        return mt_ossl_fail(eb, MT_ERR_CRYPTO, "HMAC-SHA256: cannot set up the key");
    }
    *out = h;
    return MT_OK;
}

mt_err mt_hmac_compute(mt_hmac *h, const void *data, size_t len, uint8_t out[MT_SHA256_LEN],
                       mt_errbuf *eb)
{
    static const uint8_t empty = 0;
    size_t out_len = 0;
    if (h == NULL || out == NULL || (data == NULL && len > 0))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "HMAC-SHA256: NULL buffer with non-zero length");
    /* A NULL key re-uses the one given to mt_hmac_new. */
    if (!EVP_MAC_init(h->ctx, NULL, 0, NULL) ||
        !EVP_MAC_update(h->ctx, data != NULL ? data : &empty, len) ||
        !EVP_MAC_final(h->ctx, out, &out_len, MT_SHA256_LEN) || out_len != MT_SHA256_LEN)
        return mt_ossl_fail(eb, MT_ERR_CRYPTO, "HMAC-SHA256 over %zu bytes failed", len);
    return MT_OK;
}

void mt_hmac_free(mt_hmac *h)
{
    if (h == NULL)
        return;
    EVP_MAC_CTX_free(h->ctx);
    EVP_MAC_free(h->mac);
    free(h);
}

bool mt_ct_equal(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return true;
    return CRYPTO_memcmp(a, b, n) == 0;
}

/* ------------------------------------------------------------------------
 * Ed25519: key objects
 * ------------------------------------------------------------------------ */

static mt_err key_wrap(EVP_PKEY *pkey, bool has_private, mt_ed25519_key **out, mt_errbuf *eb)
{
    mt_ed25519_key *k = calloc(1, sizeof *k);
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return mt_fail(eb, MT_ERR_NOMEM, "cannot allocate an Ed25519 key object");
    }
    k->pkey = pkey;
    k->has_private = has_private;
    *out = k;
    return MT_OK;
}

mt_err mt_ed25519_generate(mt_ed25519_key **out, mt_errbuf *eb)
{
    if (out == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_ed25519_generate: NULL out");
    *out = NULL;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (pkey == NULL)
        return mt_ossl_fail(eb, MT_ERR_CRYPTO, "Ed25519 key generation failed");
    return key_wrap(pkey, true, out, eb);
}

mt_err mt_ed25519_from_seed(const uint8_t seed[MT_ED25519_SEED_LEN], mt_ed25519_key **out,
                            mt_errbuf *eb)
{
    if (out == NULL || seed == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_ed25519_from_seed: NULL argument");
    *out = NULL;
    EVP_PKEY *pkey =
        EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, seed, MT_ED25519_SEED_LEN);
    if (pkey == NULL)
        return mt_ossl_fail(eb, MT_ERR_CRYPTO, "cannot build an Ed25519 key from a 32-byte seed");
    return key_wrap(pkey, true, out, eb);
}

mt_err mt_ed25519_from_public_raw(const uint8_t pub[MT_ED25519_PUBLIC_LEN],
                                  mt_ed25519_key **out, mt_errbuf *eb)
{
    if (out == NULL || pub == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_ed25519_from_public_raw: NULL argument");
    *out = NULL;
    EVP_PKEY *pkey =
        EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, pub, MT_ED25519_PUBLIC_LEN);
    if (pkey == NULL)
        return mt_ossl_fail(eb, MT_ERR_CRYPTO,
                         "cannot build an Ed25519 public key from 32 raw bytes");
    return key_wrap(pkey, false, out, eb);
}

void mt_ed25519_free(mt_ed25519_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pkey);
    free(key);
}

bool mt_ed25519_has_private(const mt_ed25519_key *key)
{
    return key != NULL && key->has_private;
}

/* ------------------------------------------------------------------------
 * Ed25519: PEM files
 * ------------------------------------------------------------------------ */

/* Writes all of data to fd, retrying short writes and EINTR. */
static int write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Durable replace: tmp file in the same directory (so rename is atomic),
 * fsync, rename, fsync the directory so the new name survives a crash. */
static mt_err write_file_atomic(const char *path, const uint8_t *data, size_t len, mode_t mode,
                                const char *what, mt_errbuf *eb)
{
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    mt_err err = MT_OK;
    int fd = -1;
    int dfd = -1;
    bool tmp_exists = false;

    int n = snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "%s path is too long: %s", what, path);
    /* mkstemp creates the file 0600, so a private key is never readable by
     * others even for an instant. */
    fd = mkstemp(tmp);
    if (fd < 0) {
        err = mt_fail(eb, MT_ERR_IO, "cannot create a temporary file for %s %s: %s", what, path,
                      strerror(errno));
        goto fail;
    }
    tmp_exists = true;
    if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "cannot write %s %s: %s", what, tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        err = mt_fail(eb, MT_ERR_IO, "cannot close %s %s: %s", what, tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    tmp_exists = false;

    /* dirname() may modify its argument; work on a bounded copy. */
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        dir[0] = '.';
        dir[1] = '\0';
    } else {
        size_t dlen = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "wrote %s %s but cannot fsync directory %s: %s", what, path,
                      dir, strerror(errno));
        goto fail;
    }
fail:
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    if (tmp_exists)
        unlink(tmp);
    return err;
}

/* Serialises key as PEM into a memory BIO and hands the bytes to the atomic
 * writer. Private keys go through secure heap memory and are wiped. */
static mt_err write_pem(const mt_ed25519_key *key, const char *path, bool private_key,
                        mt_errbuf *eb)
{
    const char *what = private_key ? "Ed25519 private key" : "Ed25519 public key";
    mt_err err;
    BIO *bio = NULL;
    char *mem = NULL;

    if (key == NULL || path == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "write %s: NULL argument", what);
    if (private_key && !key->has_private)
        return mt_fail(eb, MT_ERR_STATE,
                       "cannot write %s: this key has only its public half", path);
    bio = BIO_new(private_key ? BIO_s_secmem() : BIO_s_mem());
    if (bio == NULL)
        return mt_ossl_fail(eb, MT_ERR_NOMEM, "cannot allocate a buffer for %s %s", what, path);
    /* PEM_write_bio_PrivateKey emits PKCS#8 "PRIVATE KEY"; PUBKEY is SPKI. */
    int ok = private_key ? PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL)
                         : PEM_write_bio_PUBKEY(bio, key->pkey);
    if (!ok) {
        err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "cannot encode %s for %s", what, path);
        goto fail;
    }
    long len = BIO_get_mem_data(bio, &mem);
    if (len <= 0 || mem == NULL) {
        err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "encoding %s for %s produced no data", what, path);
        goto fail;
    }
    err = write_file_atomic(path, (const uint8_t *)mem, (size_t)len, private_key ? 0600 : 0644,
                            what, eb);
fail:
    BIO_free(bio); /* the secmem BIO cleanses its buffer when freed */
    return err;
}

mt_err mt_ed25519_write_private_pem(const mt_ed25519_key *key, const char *path, mt_errbuf *eb)
{
    return write_pem(key, path, true, eb);
}

mt_err mt_ed25519_write_public_pem(const mt_ed25519_key *key, const char *path, mt_errbuf *eb)
{
    return write_pem(key, path, false, eb);
}

mt_err mt_ed25519_public_pem(const mt_ed25519_key *key, mt_buf *out, mt_errbuf *eb)
{
    mt_err err;
    char *mem = NULL;

    if (key == NULL || out == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_ed25519_public_pem: NULL argument");
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL)
        return mt_ossl_fail(eb, MT_ERR_NOMEM, "cannot allocate a buffer for a public key PEM");
    if (!PEM_write_bio_PUBKEY(bio, key->pkey)) {
        err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "cannot encode the Ed25519 public key as PEM");
        goto fail;
    }
    long len = BIO_get_mem_data(bio, &mem);
    if (len <= 0 || mem == NULL) {
        err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "encoding the Ed25519 public key produced no data");
        goto fail;
    }
    err = mt_buf_append(out, mem, (size_t)len);
    if (err != MT_OK)
        mt_fail(eb, err, "cannot append %ld bytes of public key PEM", len);
fail:
    BIO_free(bio);
    return err;
}

/* Refuses to prompt for a passphrase: a service has no terminal, and an
 * encrypted key should fail loudly, not hang or read stdin. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(bool *)u = true;
    return -1;
}

static mt_err load_pem(const char *pem, size_t len, const char *what, bool private_key,
                       mt_ed25519_key **out, mt_errbuf *eb)
{
    const char *kind = private_key ? "private" : "public";
    bool wanted_passphrase = false;
    EVP_PKEY *pkey = NULL;
    BIO *bio = NULL;
    mt_err err;

    if (out == NULL || (pem == NULL && len > 0))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "load Ed25519 %s key: NULL argument", kind);
    *out = NULL;
    if (what == NULL)
        what = "PEM input";
    if (len > MT_PEM_MAX)
        return mt_fail(eb, MT_ERR_TOO_LARGE,
                       "%s: %zu bytes is too large for an Ed25519 %s key PEM (limit %zu)", what,
                       len, kind, MT_PEM_MAX);
    if (len == 0)
        return mt_fail(eb, MT_ERR_PARSE, "%s: empty, expected an Ed25519 %s key PEM", what,
                       kind);
    bio = BIO_new_mem_buf(pem, (int)len); /* len <= MT_PEM_MAX fits an int */
    if (bio == NULL)
        return mt_ossl_fail(eb, MT_ERR_NOMEM, "%s: cannot allocate a read buffer", what);
    if (private_key)
        pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, no_passphrase, &wanted_passphrase, NULL,
                                          NULL);
    else
        pkey = PEM_read_bio_PUBKEY_ex(bio, NULL, NULL, NULL, NULL, NULL);
    if (pkey == NULL) {
        if (wanted_passphrase)
            err = mt_ossl_fail(eb, MT_ERR_PARSE,
                            "%s: the private key is encrypted; mcptrail needs an unencrypted "
                            "PKCS#8 key (protect the file with permissions or a Secret)",
                            what);
        else
            err = mt_ossl_fail(eb, MT_ERR_PARSE,
                            "%s: no %s key found; expected a PEM \"%s\" block holding an "
                            "Ed25519 key",
                            what, kind, private_key ? "PRIVATE KEY" : "PUBLIC KEY");
        goto fail;
    }
    if (!EVP_PKEY_is_a(pkey, "ED25519")) {
        const char *type = EVP_PKEY_get0_type_name(pkey);
        err = mt_fail(eb, MT_ERR_CONFIG,
                      "%s: holds a %s %s key, but mcptrail signs and verifies only with "
                      "Ed25519; generate one with `openssl genpkey -algorithm ed25519`",
                      what, type != NULL ? type : "non-Ed25519", kind);
        ERR_clear_error();
        goto fail;
    }
    /* OpenSSL 3's decoders can yield a public-only key from some inputs;
     * a "private" key that cannot sign must fail here, not at first use. */
    size_t priv_len = 0;
    if (private_key && (!EVP_PKEY_get_raw_private_key(pkey, NULL, &priv_len) ||
                        priv_len != MT_ED25519_SEED_LEN)) {
        err = mt_ossl_fail(eb, MT_ERR_PARSE, "%s: holds only a public key; expected a PKCS#8 "
                                          "Ed25519 private key", what);
        goto fail;
    }
    BIO_free(bio);
    return key_wrap(pkey, private_key, out, eb);
fail:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return err;
}

/* Reads a whole small file; refuses non-regular files and anything over
 * MT_PEM_MAX before allocating. */
static mt_err read_small_file(const char *path, const char *kind, char **data, size_t *len,
                              mt_errbuf *eb)
{
    struct stat st;
    mt_err err = MT_OK;
    char *buf = NULL;
    size_t used = 0;
    size_t cap = 0;

    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mt_fail(eb, errno == ENOENT ? MT_ERR_NOT_FOUND : MT_ERR_IO,
                       "cannot open Ed25519 %s key file %s: %s", kind, path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        err = mt_fail(eb, MT_ERR_CONFIG, "%s is not a regular file; expected an Ed25519 %s key",
                      path, kind);
        goto fail;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > MT_PEM_MAX) {
        err = mt_fail(eb, MT_ERR_TOO_LARGE,
                      "%s is %lld bytes, too large for an Ed25519 %s key PEM (limit %zu)", path,
                      (long long)st.st_size, kind, MT_PEM_MAX);
        goto fail;
    }
    /* +1 so a file that grew since fstat is noticed instead of truncated. */
    cap = (size_t)st.st_size + 1;
    buf = malloc(cap);
    if (buf == NULL) {
        err = mt_fail(eb, MT_ERR_NOMEM, "cannot allocate %zu bytes to read %s", cap, path);
        goto fail;
    }
    while (used < cap) {
        ssize_t n = read(fd, buf + used, cap - used);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = mt_fail(eb, MT_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    if (used == cap) {
        err = mt_fail(eb, MT_ERR_IO, "%s changed size while being read; retry", path);
        goto fail;
    }
    close(fd);
    *data = buf;
    *len = used;
    return MT_OK;
fail:
    if (buf != NULL) {
        OPENSSL_cleanse(buf, cap);
        free(buf);
    }
    close(fd);
    return err;
}

static mt_err load_pem_file(const char *path, bool private_key, mt_ed25519_key **out,
                            mt_errbuf *eb)
{
    const char *kind = private_key ? "private" : "public";
    char *data = NULL;
    size_t len = 0;

    if (out == NULL || path == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "load Ed25519 %s key file: NULL argument", kind);
    *out = NULL;
    mt_err err = read_small_file(path, kind, &data, &len, eb);
    if (err != MT_OK)
        return err;
    err = load_pem(data, len, path, private_key, out, eb);
    OPENSSL_cleanse(data, len);
    free(data);
    return err;
}

mt_err mt_ed25519_load_private_pem_file(const char *path, mt_ed25519_key **out, mt_errbuf *eb)
{
    return load_pem_file(path, true, out, eb);
}

mt_err mt_ed25519_load_public_pem_file(const char *path, mt_ed25519_key **out, mt_errbuf *eb)
{
    return load_pem_file(path, false, out, eb);
}

mt_err mt_ed25519_load_private_pem(const char *pem, size_t len, const char *what,
                                   mt_ed25519_key **out, mt_errbuf *eb)
{
    return load_pem(pem, len, what, true, out, eb);
}

mt_err mt_ed25519_load_public_pem(const char *pem, size_t len, const char *what,
                                  mt_ed25519_key **out, mt_errbuf *eb)
{
    return load_pem(pem, len, what, false, out, eb);
}

/* ------------------------------------------------------------------------
 * Ed25519: sign, verify, identify
 * ------------------------------------------------------------------------ */

mt_err mt_ed25519_sign(const mt_ed25519_key *key, const void *msg, size_t len,
                       uint8_t sig[MT_ED25519_SIG_LEN], mt_errbuf *eb)
{
    static const uint8_t empty = 0;
    size_t sig_len = MT_ED25519_SIG_LEN;
    mt_err err = MT_OK;

    if (key == NULL || sig == NULL || (msg == NULL && len > 0))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "Ed25519 sign: NULL argument");
    if (!key->has_private)
        return mt_fail(eb, MT_ERR_STATE, "Ed25519 sign: the key has no private half");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        return mt_ossl_fail(eb, MT_ERR_NOMEM, "Ed25519 sign: cannot allocate a context");
    /* NULL digest: Ed25519 hashes the message itself (PureEd25519). */
    if (!EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, key->pkey, NULL) ||
        !EVP_DigestSign(md, sig, &sig_len, msg != NULL ? msg : &empty, len) ||
        sig_len != MT_ED25519_SIG_LEN)
        err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "Ed25519 signing of %zu bytes failed", len);
    EVP_MD_CTX_free(md);
    return err;
}

mt_err mt_ed25519_verify(const mt_ed25519_key *key, const void *msg, size_t len,
                         const uint8_t *sig, size_t sig_len, mt_errbuf *eb)
{
    static const uint8_t empty = 0;
    mt_err err = MT_OK;

    if (key == NULL || (sig == NULL && sig_len > 0) || (msg == NULL && len > 0))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "Ed25519 verify: NULL argument");
    if (sig_len != MT_ED25519_SIG_LEN)
        return mt_fail(eb, MT_ERR_BAD_SIGNATURE,
                       "Ed25519 signature is %zu bytes; a valid one is exactly %d", sig_len,
                       MT_ED25519_SIG_LEN);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md == NULL)
        return mt_ossl_fail(eb, MT_ERR_NOMEM, "Ed25519 verify: cannot allocate a context");
    if (!EVP_DigestVerifyInit_ex(md, NULL, NULL, NULL, NULL, key->pkey, NULL)) {
        err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "Ed25519 verify: init failed");
        goto fail;
    }
    /* 1 = valid, 0 = mismatch; a negative value is an internal failure,
     * which must not be confused with a forged message. */
    int rc = EVP_DigestVerify(md, sig, sig_len, msg != NULL ? msg : &empty, len);
    if (rc == 1) {
        ERR_clear_error();
    } else if (rc == 0) {
        ERR_clear_error();
        err = mt_fail(eb, MT_ERR_BAD_SIGNATURE,
                      "Ed25519 signature does not match the %zu-byte message for this key", len);
    } else {
        err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "Ed25519 verify of %zu bytes failed", len);
    }
fail:
    EVP_MD_CTX_free(md);
    return err;
}

mt_err mt_ed25519_public_raw(const mt_ed25519_key *key, uint8_t out[MT_ED25519_PUBLIC_LEN],
                             mt_errbuf *eb)
{
    size_t len = MT_ED25519_PUBLIC_LEN;

    if (key == NULL || out == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "Ed25519 public export: NULL argument");
    if (!EVP_PKEY_get_raw_public_key(key->pkey, out, &len) || len != MT_ED25519_PUBLIC_LEN)
        return mt_ossl_fail(eb, MT_ERR_CRYPTO, "cannot export the raw Ed25519 public key");
    return MT_OK;
}

mt_err mt_ed25519_key_id(const mt_ed25519_key *key, char out[MT_ED25519_KEY_ID_SIZE],
                         mt_errbuf *eb)
{
    uint8_t pub[MT_ED25519_PUBLIC_LEN];
    uint8_t digest[MT_SHA256_LEN];

    if (out == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "Ed25519 key id: NULL out");
    mt_err err = mt_ed25519_public_raw(key, pub, eb);
    if (err != MT_OK)
        return err;
    if ((err = mt_sha256(pub, sizeof pub, digest)) != MT_OK)
        return mt_fail(eb, err, "Ed25519 key id: SHA-256 failed");
    return mt_hex_encode(digest, (MT_ED25519_KEY_ID_SIZE - 1) / 2, out, MT_ED25519_KEY_ID_SIZE);
}

/* ------------------------------------------------------------------------
 * RFC 6962 Merkle tree
 * ------------------------------------------------------------------------ */

static mt_err prefixed_hash(uint8_t prefix, const void *a, size_t a_len, const void *b,
                            size_t b_len, uint8_t out[MT_SHA256_LEN])
{
    mt_err err = MT_OK;
    unsigned int out_len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    if (md == NULL) {
        ERR_clear_error();
        return MT_ERR_NOMEM;
    }
    if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL) || !EVP_DigestUpdate(md, &prefix, 1) ||
        (a_len > 0 && !EVP_DigestUpdate(md, a, a_len)) ||
        (b_len > 0 && !EVP_DigestUpdate(md, b, b_len)) ||
        !EVP_DigestFinal_ex(md, out, &out_len) || out_len != MT_SHA256_LEN) {
        ERR_clear_error();
        err = MT_ERR_CRYPTO;
    }
    EVP_MD_CTX_free(md);
    return err;
}

mt_err mt_merkle_leaf_hash(const void *data, size_t len, uint8_t out[MT_SHA256_LEN])
{
    if (out == NULL || (data == NULL && len > 0))
        return MT_ERR_INVALID_ARG;
    return prefixed_hash(0x00, data, len, NULL, 0, out);
}

mt_err mt_merkle_node_hash(const uint8_t left[MT_SHA256_LEN],
                           const uint8_t right[MT_SHA256_LEN], uint8_t out[MT_SHA256_LEN])
{
    if (left == NULL || right == NULL || out == NULL)
        return MT_ERR_INVALID_ARG;
    return prefixed_hash(0x01, left, MT_SHA256_LEN, right, MT_SHA256_LEN, out);
}

void mt_merkle_builder_init(mt_merkle_builder *b)
{
    memset(b, 0, sizeof *b);
}

mt_err mt_merkle_builder_append(mt_merkle_builder *b, const uint8_t leaf_hash[MT_SHA256_LEN],
                                mt_errbuf *eb)
{
    uint8_t carry[MT_SHA256_LEN];
    unsigned level = 0;

    if (b == NULL || leaf_hash == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "Merkle append: NULL argument");
    if (b->size >= MT_MERKLE_MAX_SIZE)
        return mt_fail(eb, MT_ERR_TOO_LARGE,
                       "Merkle tree already holds %llu leaves, the maximum; start a new tree",
                       (unsigned long long)b->size);
    memcpy(carry, leaf_hash, MT_SHA256_LEN);
    /* Binary increment: every set low bit is a full subtree of the same
     * height as carry, so they merge (older subtree on the left). */
    while (level < 64 && (b->size >> level) & 1u) {
        mt_err err = mt_merkle_node_hash(b->peaks[level], carry, carry);
        if (err != MT_OK)
            return mt_fail(eb, err, "Merkle append: hashing level %u failed", level);
        level++;
    }
    /* size < 2^63, so the first clear bit is at level <= 63. */
    memcpy(b->peaks[level], carry, MT_SHA256_LEN);
    b->size++;
    return MT_OK;
}

mt_err mt_merkle_builder_root(const mt_merkle_builder *b, uint8_t out[MT_SHA256_LEN],
                              mt_errbuf *eb)
{
    uint8_t acc[MT_SHA256_LEN];
    bool have = false;

    if (b == NULL || out == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "Merkle root: NULL argument");
    if (b->size == 0)
        return mt_sha256(NULL, 0, out);
    /* Smallest subtree is the rightmost; each larger one sits to its left. */
    for (unsigned level = 0; level < 64; level++) {
        if (!((b->size >> level) & 1u))
            continue;
        if (!have) {
            memcpy(acc, b->peaks[level], MT_SHA256_LEN);
            have = true;
            continue;
        }
        mt_err err = mt_merkle_node_hash(b->peaks[level], acc, acc);
        if (err != MT_OK)
            return mt_fail(eb, err, "Merkle root: hashing level %u failed", level);
    }
    memcpy(out, acc, MT_SHA256_LEN);
    return MT_OK;
}

/* Largest power of two strictly less than n (n >= 2): RFC 6962's split. */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k < n - k) /* k*2 < n without overflowing */
        k <<= 1;
    return k;
}

/* MTH(D[0:n]) straight from the RFC 6962 definition; depth <= 64. */
static mt_err mth(const uint8_t *leaves, uint64_t n, uint8_t out[MT_SHA256_LEN])
{
    uint8_t left[MT_SHA256_LEN];
    uint8_t right[MT_SHA256_LEN];
    mt_err err;

    if (n == 0)
        return mt_sha256(NULL, 0, out);
    if (n == 1) {
        memcpy(out, leaves, MT_SHA256_LEN);
        return MT_OK;
    }
    uint64_t k = split_point(n);
    if ((err = mth(leaves, k, left)) != MT_OK)
        return err;
    if ((err = mth(leaves + k * MT_SHA256_LEN, n - k, right)) != MT_OK)
        return err;
    return mt_merkle_node_hash(left, right, out);
}

/* The caller's array must be addressable: n*32 bytes within size_t. */
static mt_err check_leaf_count(uint64_t n, const uint8_t *leaves, mt_errbuf *eb)
{
    if (n > MT_MERKLE_MAX_SIZE || n > SIZE_MAX / MT_SHA256_LEN)
        return mt_fail(eb, MT_ERR_TOO_LARGE, "Merkle tree of %llu leaves is too large",
                       (unsigned long long)n);
    if (leaves == NULL && n > 0)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "Merkle tree: NULL leaf array with %llu leaves",
                       (unsigned long long)n);
    return MT_OK;
}

mt_err mt_merkle_root(const uint8_t *leaf_hashes, uint64_t n, uint8_t out[MT_SHA256_LEN],
                      mt_errbuf *eb)
{
    if (out == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "Merkle root: NULL out");
    mt_err err = check_leaf_count(n, leaf_hashes, eb);
    if (err != MT_OK)
        return err;
    if ((err = mth(leaf_hashes, n, out)) != MT_OK)
        return mt_fail(eb, err, "Merkle root over %llu leaves: hashing failed",
                       (unsigned long long)n);
    return MT_OK;
}

mt_err mt_merkle_inclusion_proof(const uint8_t *leaf_hashes, uint64_t n, uint64_t m,
                                 uint8_t proof[MT_MERKLE_MAX_PROOF * MT_SHA256_LEN],
                                 size_t *proof_len, mt_errbuf *eb)
{
    /* PATH is defined top-down but lists the deepest sibling first, so
     * siblings are collected top-down and reversed into proof at the end. */
    uint8_t rev[MT_MERKLE_MAX_PROOF][MT_SHA256_LEN];
    size_t depth = 0;
    mt_err err;

    if (proof == NULL || proof_len == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "Merkle proof: NULL output");
    *proof_len = 0;
    if ((err = check_leaf_count(n, leaf_hashes, eb)) != MT_OK)
        return err;
    if (m >= n)
        return mt_fail(eb, MT_ERR_INVALID_ARG,
                       "Merkle proof: leaf index %llu is outside a tree of %llu leaves",
                       (unsigned long long)m, (unsigned long long)n);

    const uint8_t *base = leaf_hashes;
    while (n > 1) {
        if (depth >= MT_MERKLE_MAX_PROOF) /* unreachable for n <= 2^63 */
            return mt_fail(eb, MT_ERR_TOO_LARGE, "Merkle proof longer than %d hashes",
                           MT_MERKLE_MAX_PROOF);
        uint64_t k = split_point(n);
        if (m < k) {
            err = mth(base + k * MT_SHA256_LEN, n - k, rev[depth]);
            n = k;
        } else {
            err = mth(base, k, rev[depth]);
            base += k * MT_SHA256_LEN;
            m -= k;
            n -= k;
        }
        if (err != MT_OK)
            return mt_fail(eb, err, "Merkle proof: hashing a subtree failed");
        depth++;
    }
    for (size_t i = 0; i < depth; i++)
        memcpy(proof + i * MT_SHA256_LEN, rev[depth - 1 - i], MT_SHA256_LEN);
    *proof_len = depth;
    return MT_OK;
}

mt_err mt_merkle_verify_inclusion(const uint8_t leaf_hash[MT_SHA256_LEN], uint64_t index,
                                  uint64_t tree_size, const uint8_t *proof, size_t proof_len,
                                  const uint8_t root[MT_SHA256_LEN], mt_errbuf *eb)
{
    uint8_t r[MT_SHA256_LEN];
    mt_err err;

    if (leaf_hash == NULL || root == NULL || (proof == NULL && proof_len > 0))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "Merkle verify: NULL argument");
    if (tree_size > MT_MERKLE_MAX_SIZE)
        return mt_fail(eb, MT_ERR_INVALID_ARG,
                       "Merkle verify: tree size %llu exceeds the maximum 2^63",
                       (unsigned long long)tree_size);
    if (index >= tree_size)
        return mt_fail(eb, MT_ERR_INVALID_ARG,
                       "Merkle verify: leaf index %llu is outside a tree of %llu leaves",
                       (unsigned long long)index, (unsigned long long)tree_size);
    if (proof_len > MT_MERKLE_MAX_PROOF)
        return mt_fail(eb, MT_ERR_INVALID_ARG,
                       "Merkle verify: proof has %zu hashes, more than the %d any tree can need",
                       proof_len, MT_MERKLE_MAX_PROOF);

    /* RFC 9162 2.1.3.2. fn walks the leaf's position up the tree, sn the
     * last leaf's; where they coincide the node has no right sibling. */
    uint64_t fn = index;
    uint64_t sn = tree_size - 1;
    memcpy(r, leaf_hash, MT_SHA256_LEN);
    for (size_t i = 0; i < proof_len; i++) {
        const uint8_t *p = proof + i * MT_SHA256_LEN;
        if (sn == 0)
            return mt_fail(eb, MT_ERR_BAD_SIGNATURE,
                           "Merkle inclusion proof for leaf %llu of %llu is too long (%zu "
                           "hashes)",
                           (unsigned long long)index, (unsigned long long)tree_size,
                           proof_len);
        if ((fn & 1u) || fn == sn) {
            err = mt_merkle_node_hash(p, r, r);
            if (!(fn & 1u)) {
                while (!(fn & 1u) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            err = mt_merkle_node_hash(r, p, r);
        }
        if (err != MT_OK)
            return mt_fail(eb, err, "Merkle verify: hashing failed");
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return mt_fail(eb, MT_ERR_BAD_SIGNATURE,
                       "Merkle inclusion proof for leaf %llu of %llu is too short (%zu hashes)",
                       (unsigned long long)index, (unsigned long long)tree_size, proof_len);
    if (!mt_ct_equal(r, root, MT_SHA256_LEN))
        return mt_fail(eb, MT_ERR_BAD_SIGNATURE,
                       "Merkle inclusion proof for leaf %llu of %llu does not lead to the "
                       "expected root",
                       (unsigned long long)index, (unsigned long long)tree_size);
    return MT_OK;
}

mt_err mt_random_bytes(void *out, size_t n, mt_errbuf *eb)
{
    if (n > INT_MAX || RAND_bytes(out, (int)n) != 1)
        return mt_fail(eb, MT_ERR_CRYPTO, "RAND_bytes failed");
    return MT_OK;
}
