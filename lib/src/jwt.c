/* jwt: who is calling. Verifies a Bearer JWT (JWS compact serialisation)
 * against a JWKS and a policy, and turns its claims into an mt_identity.
 *
 * How it works:
 * - The JWKS is parsed with jansson under mt_json limits; each usable key
 *   becomes an EVP_PKEY built with EVP_PKEY_fromdata (RSA n/e, EC P-256 x/y
 *   as an uncompressed point, Ed25519 raw x). Symmetric keys and keys with
 *   private parts are refused outright: a JWKS is public material, and an
 *   "oct" key next to asymmetric ones is exactly what HS256 key-confusion
 *   attacks need.
 * - Verification is done here with OpenSSL rather than through a JWT
 *   library so that the algorithm is chosen by the key, not by the token:
 *   the header alg must be in the policy's allow-list AND match the key's
 *   type (RS256 <-> RSA, ES256 <-> EC P-256, EdDSA <-> OKP Ed25519). "none"
 *   and HS* are never supported, so they fail the allow-list check.
 * - Order of checks: size, shape, header, key, signature, then payload
 *   claims. The payload JSON is only parsed once the signature has
 *   verified, so unauthenticated bytes never reach the claim code.
 * - ES256 signatures are raw r||s (RFC 7518 3.4); OpenSSL wants DER, so the
 *   two halves are re-encoded as an ECDSA-Sig-Value before verifying.
 * - Error messages are meant for logs: they never contain the token or the
 *   signature, and any string copied from the token (kid, iss, aud) is
 *   truncated and has non-printable bytes replaced.
 * - The signing half (key generation, PEM files, JWK export, minting) exists
 *   for mcptrail-devtoken and the tests, so both use exactly the encoding
 *   the verifier expects.
 */
#include "mcptrail/jwt.h"

#include "ossl_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "mcptrail/crypto.h"
#include "mcptrail/json.h"

/* Key types and algorithms share their numbering: alg i needs key type i. */
enum { KT_NONE = 0, KT_RSA = 1, KT_EC = 2, KT_OKP = 3 };
static const char *const alg_names[] = {NULL, "RS256", "ES256", "EdDSA"};
static const char *const kty_names[] = {NULL, "RSA", "EC", "OKP"};

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192
#define P256_COORD 32
#define RAW_SIG_64 64
/* Seconds beyond which a time claim means nothing; clamping keeps all
 * arithmetic on exp/nbf/iat/now/leeway far from int64 overflow. */
#define TIME_CLAMP ((int64_t)1 << 53)

typedef struct jwk {
    char *kid; /* NULL when the key has none */
    int type;  /* KT_* */
    int alg;   /* KT_* of the key's "alg", or KT_NONE when absent */
    EVP_PKEY *pkey;
} jwk;

struct mt_jwks {
    jwk *keys;
    size_t n;
    size_t skipped;
};

struct mt_jwt_key {
    EVP_PKEY *pkey;
    int type;
};

/* ------------------------------------------------------------------------
 * helpers
 * ------------------------------------------------------------------------ */


/* Log-safe copy of a string that came from a token or JWKS: at most 64
 * bytes, printable ASCII only, "..." when cut. */
typedef struct safe_str {
    char s[72];
} safe_str;

static safe_str safe(const char *in)
{
    safe_str o;
    size_t j = 0;
    if (in == NULL) {
        memcpy(o.s, "(none)", sizeof "(none)");
        return o;
    }
    for (size_t i = 0; in[i] != '\0'; i++) {
        if (j == 64) {
            memcpy(o.s + j, "...", 4);
            return o;
        }
        unsigned char c = (unsigned char)in[i];
        o.s[j++] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
    }
    o.s[j] = '\0';
    return o;
}

static int alg_from_name(const char *name)
{
    for (int i = 1; i <= 3; i++)
        if (strcmp(name, alg_names[i]) == 0)
            return i;
    return KT_NONE;
}

static char *dup_str(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

/* ------------------------------------------------------------------------
 * base64url
 * ------------------------------------------------------------------------ */

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

mt_err mt_b64url_encode(const void *data, size_t len, mt_buf *out)
{
    const uint8_t *p = data;
    if (out == NULL || (data == NULL && len > 0))
        return MT_ERR_INVALID_ARG;
    mt_err err = mt_buf_reserve(out, len / 3 * 4 + 4);
    if (err)
        return err;
    size_t i = 0;
    uint8_t *o = out->data + out->len;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = (uint8_t)b64url_alphabet[v >> 18];
        *o++ = (uint8_t)b64url_alphabet[(v >> 12) & 63];
        *o++ = (uint8_t)b64url_alphabet[(v >> 6) & 63];
        *o++ = (uint8_t)b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = (uint8_t)b64url_alphabet[v >> 18];
        *o++ = (uint8_t)b64url_alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = (uint8_t)b64url_alphabet[v >> 18];
        *o++ = (uint8_t)b64url_alphabet[(v >> 12) & 63];
        *o++ = (uint8_t)b64url_alphabet[(v >> 6) & 63];
    }
    out->len = (size_t)(o - out->data);
    return MT_OK;
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

mt_err mt_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len,
                        mt_errbuf *eb)
{
    if (out_len == NULL || (in == NULL && len > 0) || (out == NULL && cap > 0))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "base64url decode: NULL argument");
    *out_len = 0;
    if (len % 4 == 1)
        return mt_fail(eb, MT_ERR_PARSE, "base64url text of %zu characters is impossible", len);
    size_t need = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
    if (need > cap)
        return mt_fail(eb, MT_ERR_TOO_LARGE, "base64url decodes to %zu bytes, room for %zu", need,
                       cap);
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return mt_fail(eb, MT_ERR_PARSE, "invalid base64url character at offset %zu", i);
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    /* Leftover bits must be zero so that each byte string has exactly one
     * encoding (no signature-preserving variants of a token). */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return mt_fail(eb, MT_ERR_PARSE, "base64url has non-zero padding bits at the end");
    *out_len = n;
    return MT_OK;
}

/* Decodes into a fresh allocation (NUL-terminated, for JSON parsing). */
static mt_err b64url_decode_alloc(const char *in, size_t len, const char *what, uint8_t **out,
                                  size_t *out_len, mt_errbuf *eb)
{
    mt_errbuf inner;
    size_t cap = len / 4 * 3 + 3;
    uint8_t *buf = malloc(cap + 1);
    if (buf == NULL)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory decoding the %s", what);
    mt_err err = mt_b64url_decode(in, len, buf, cap, out_len, &inner);
    if (err) {
        free(buf);
        return mt_fail(eb, err, "token %s is not valid base64url: %s", what, inner.msg);
    }
    buf[*out_len] = '\0';
    *out = buf;
    return MT_OK;
}

/* ------------------------------------------------------------------------
 * JWKS
 * ------------------------------------------------------------------------ */

/* Decodes base64url member `field` of a JWK into out[0..*n), at most cap. */
static mt_err jwk_bytes(const json_t *k, size_t idx, const char *field, uint8_t *out, size_t cap,
                        size_t *n, mt_errbuf *eb)
{
    mt_errbuf inner;
    const json_t *v = json_object_get(k, field);
    if (!json_is_string(v))
        return mt_fail(eb, MT_ERR_PARSE, "JWKS key %zu: field '%s' must be a base64url string", idx,
                       field);
    mt_err err = mt_b64url_decode(json_string_value(v), json_string_length(v), out, cap, n, &inner);
    if (err)
        return mt_fail(eb, err == MT_ERR_TOO_LARGE ? MT_ERR_CONFIG : err,
                       "JWKS key %zu: field '%s': %s", idx, field, inner.msg);
    return MT_OK;
}

static mt_err fromdata(const char *type, OSSL_PARAM_BLD *bld, size_t idx, EVP_PKEY **out,
                       mt_errbuf *eb)
{
    mt_err err = MT_OK;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY_CTX *chk = NULL;
    if (params == NULL || ctx == NULL) {
        err = mt_ossl_fail(eb, MT_ERR_NOMEM, "JWKS key %zu: cannot set up %s key import", idx, type);
        goto done;
    }
    if (EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        err = mt_ossl_fail(eb, MT_ERR_CONFIG, "JWKS key %zu: not a valid %s public key", idx, type);
        goto done;
    }
    /* fromdata does not always validate (e.g. an EC point's group
     * membership in every provider); a public check costs little once. */
    chk = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
    if (chk == NULL || EVP_PKEY_public_check(chk) <= 0) {
        err =
            mt_ossl_fail(eb, MT_ERR_CONFIG, "JWKS key %zu: %s public key fails validation", idx, type);
        EVP_PKEY_free(*out);
        *out = NULL;
        goto done;
    }
done:
    EVP_PKEY_CTX_free(chk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return err;
}

static mt_err jwk_rsa(const json_t *k, size_t idx, EVP_PKEY **out, mt_errbuf *eb)
{
    uint8_t nb[RSA_MAX_BITS / 8 + 1], eb_bytes[8];
    size_t nlen = 0, elen = 0;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    mt_err err;

    if ((err = jwk_bytes(k, idx, "n", nb, sizeof nb, &nlen, eb)) ||
        (err = jwk_bytes(k, idx, "e", eb_bytes, sizeof eb_bytes, &elen, eb)))
        return err;
    n = BN_bin2bn(nb, (int)nlen, NULL);
    e = BN_bin2bn(eb_bytes, (int)elen, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (n == NULL || e == NULL || bld == NULL) {
        err = mt_ossl_fail(eb, MT_ERR_NOMEM, "JWKS key %zu: out of memory", idx);
        goto done;
    }
    int bits = BN_num_bits(n);
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
        err = mt_fail(eb, MT_ERR_CONFIG, "JWKS key %zu: RSA modulus of %d bits (want %d..%d)", idx,
                      bits, RSA_MIN_BITS, RSA_MAX_BITS);
        goto done;
    }
    if (!BN_is_odd(e) || BN_num_bits(e) < 2) {
        err = mt_fail(eb, MT_ERR_CONFIG, "JWKS key %zu: RSA exponent must be odd and >= 3", idx);
        goto done;
    }
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
        err = mt_ossl_fail(eb, MT_ERR_NOMEM, "JWKS key %zu: out of memory", idx);
        goto done;
    }
    err = fromdata("RSA", bld, idx, out, eb);
done:
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return err;
}

static mt_err jwk_ec(const json_t *k, size_t idx, EVP_PKEY **out, mt_errbuf *eb)
{
    uint8_t pt[1 + 2 * P256_COORD];
    size_t xl = 0, yl = 0;
    mt_err err;

    if ((err = jwk_bytes(k, idx, "x", pt + 1, P256_COORD, &xl, eb)) ||
        (err = jwk_bytes(k, idx, "y", pt + 1 + P256_COORD, P256_COORD, &yl, eb)))
        return err;
    /* RFC 7518 6.2.1.2: coordinates are the full 32 bytes, not trimmed. */
    if (xl != P256_COORD || yl != P256_COORD)
        return mt_fail(eb, MT_ERR_CONFIG, "JWKS key %zu: P-256 x and y must be 32 bytes each", idx);
    pt[0] = 0x04; /* uncompressed point */
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt)) {
        OSSL_PARAM_BLD_free(bld);
        return mt_ossl_fail(eb, MT_ERR_NOMEM, "JWKS key %zu: out of memory", idx);
    }
    err = fromdata("EC", bld, idx, out, eb);
    OSSL_PARAM_BLD_free(bld);
    return err;
}

static mt_err jwk_okp(const json_t *k, size_t idx, EVP_PKEY **out, mt_errbuf *eb)
{
    uint8_t x[MT_ED25519_PUBLIC_LEN];
    size_t xl = 0;
    mt_err err = jwk_bytes(k, idx, "x", x, sizeof x, &xl, eb);
    if (err)
        return err;
    if (xl != sizeof x)
        return mt_fail(eb, MT_ERR_CONFIG, "JWKS key %zu: Ed25519 x must be 32 bytes", idx);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, x, xl)) {
        OSSL_PARAM_BLD_free(bld);
        return mt_ossl_fail(eb, MT_ERR_NOMEM, "JWKS key %zu: out of memory", idx);
    }
    err = fromdata("ED25519", bld, idx, out, eb);
    OSSL_PARAM_BLD_free(bld);
    return err;
}

/* Fills *key from one JWK, or sets *skip when mcptrail cannot use it. */
static mt_err jwk_parse(const json_t *k, size_t idx, jwk *key, bool *skip, mt_errbuf *eb)
{
    const char *kty = NULL, *kid = NULL, *use = NULL, *alg = NULL, *crv = NULL;
    mt_errbuf inner;
    *skip = false;

    if (!json_is_object(k))
        return mt_fail(eb, MT_ERR_PARSE, "JWKS key %zu must be an object, got %s", idx,
                       mt_json_type_name(k));
    if (mt_json_get_string(k, "kty", &kty, &inner) ||
        mt_json_opt_string(k, "kid", NULL, &kid, &inner) ||
        mt_json_opt_string(k, "use", NULL, &use, &inner) ||
        mt_json_opt_string(k, "alg", NULL, &alg, &inner) ||
        mt_json_opt_string(k, "crv", NULL, &crv, &inner))
        return mt_fail(eb, MT_ERR_PARSE, "JWKS key %zu: %s", idx, inner.msg);
    safe_str skid = safe(kid);

    if (strcmp(kty, "oct") == 0)
        return mt_fail(eb, MT_ERR_CONFIG,
                       "JWKS key %zu (kid '%s'): symmetric ('oct') keys are not accepted; "
                       "a JWKS for mcptrail holds public keys only",
                       idx, skid.s);
    if (json_object_get(k, "d") != NULL)
        return mt_fail(eb, MT_ERR_CONFIG,
                       "JWKS key %zu (kid '%s') contains private key material ('d'); "
                       "publish only the public key",
                       idx, skid.s);
    if (use != NULL && strcmp(use, "sig") != 0) {
        *skip = true; /* an encryption key published alongside */
        return MT_OK;
    }
    int type = KT_NONE;
    if (strcmp(kty, "RSA") == 0)
        type = KT_RSA;
    else if (strcmp(kty, "EC") == 0 && crv != NULL && strcmp(crv, "P-256") == 0)
        type = KT_EC;
    else if (strcmp(kty, "OKP") == 0 && crv != NULL && strcmp(crv, "Ed25519") == 0)
        type = KT_OKP;
    int kalg = KT_NONE;
    if (alg != NULL) {
        kalg = alg_from_name(alg);
        if (kalg == KT_NONE) {
            *skip = true; /* RS384, PS256, ES512, ...: never verified here */
            return MT_OK;
        }
        if (type != KT_NONE && kalg != type)
            return mt_fail(eb, MT_ERR_CONFIG,
                           "JWKS key %zu (kid '%s'): alg '%s' does not fit kty %s", idx, skid.s,
                           alg, kty_names[type]);
    }
    if (type == KT_NONE) {
        *skip = true; /* other curves and key types */
        return MT_OK;
    }

    mt_err err = type == KT_RSA  ? jwk_rsa(k, idx, &key->pkey, eb)
                 : type == KT_EC ? jwk_ec(k, idx, &key->pkey, eb)
                                 : jwk_okp(k, idx, &key->pkey, eb);
    if (err)
        return err;
    key->type = type;
    key->alg = kalg;
    if (kid != NULL && (key->kid = strdup(kid)) == NULL)
        return mt_fail(eb, MT_ERR_NOMEM, "JWKS key %zu: out of memory", idx);
    return MT_OK;
}

static mt_err jwks_from_json(const json_t *root, mt_jwks **out, mt_errbuf *eb)
{
    mt_errbuf inner;
    json_t *keys = NULL;
    mt_err err;

    if (!json_is_object(root))
        return mt_fail(eb, MT_ERR_PARSE, "JWKS must be an object {\"keys\":[...]}, got %s",
                       mt_json_type_name(root));
    if ((err = mt_json_get_array(root, "keys", &keys, &inner)))
        return mt_fail(eb, err == MT_ERR_NOT_FOUND ? MT_ERR_PARSE : err, "JWKS: %s", inner.msg);
    size_t n = json_array_size(keys);
    if (n > MT_JWKS_MAX_KEYS)
        return mt_fail(eb, MT_ERR_TOO_LARGE, "JWKS has %zu keys, limit is %u", n, MT_JWKS_MAX_KEYS);

    mt_jwks *j = calloc(1, sizeof *j);
    if (j == NULL || (n > 0 && (j->keys = calloc(n, sizeof *j->keys)) == NULL)) {
        free(j);
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory loading the JWKS");
    }
    for (size_t i = 0; i < n; i++) {
        bool skip = false;
        jwk *k = &j->keys[j->n];
        if ((err = jwk_parse(json_array_get(keys, i), i, k, &skip, eb))) {
            EVP_PKEY_free(k->pkey);
            free(k->kid);
            memset(k, 0, sizeof *k);
            goto fail;
        }
        if (skip)
            j->skipped++;
        else
            j->n++;
    }
    if (j->n == 0) {
        err = mt_fail(eb, MT_ERR_CONFIG,
                      "JWKS has no usable key (%zu skipped; supported: RSA for RS256, EC P-256 "
                      "for ES256, OKP Ed25519 for EdDSA, with use 'sig')",
                      j->skipped);
        goto fail;
    }
    *out = j;
    return MT_OK;
fail:
    mt_jwks_free(j);
    return err;
}

mt_err mt_jwks_parse(const char *json, size_t len, mt_jwks **out, mt_errbuf *eb)
{
    const mt_json_limits lim = {MT_JWKS_MAX_BYTES, MT_JWT_MAX_DEPTH, true, false, false};
    mt_errbuf inner;
    json_t *root = NULL;

    if (out == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_jwks_parse: NULL out");
    *out = NULL;
    mt_err err = mt_json_parse(json, len, &lim, &root, &inner);
    if (err)
        return mt_fail(eb, err, "JWKS: %s", inner.msg);
    err = jwks_from_json(root, out, eb);
    json_decref(root);
    return err;
}

mt_err mt_jwks_load_file(const char *path, mt_jwks **out, mt_errbuf *eb)
{
    const mt_json_limits lim = {MT_JWKS_MAX_BYTES, MT_JWT_MAX_DEPTH, true, false, false};
    mt_errbuf inner;
    json_t *root = NULL;

    if (out == NULL || path == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_jwks_load_file: NULL argument");
    *out = NULL;
    mt_err err = mt_json_load_file(path, &lim, &root, eb); /* messages name path */
    if (err)
        return err;
    err = jwks_from_json(root, out, &inner);
    json_decref(root);
    if (err)
        return mt_fail(eb, err, "%s: %s", path, inner.msg);
    return MT_OK;
}

void mt_jwks_free(mt_jwks *jwks)
{
    if (jwks == NULL)
        return;
    for (size_t i = 0; i < jwks->n; i++) {
        EVP_PKEY_free(jwks->keys[i].pkey);
        free(jwks->keys[i].kid);
    }
    free(jwks->keys);
    free(jwks);
}

size_t mt_jwks_count(const mt_jwks *jwks)
{
    return jwks != NULL ? jwks->n : 0;
}

size_t mt_jwks_skipped(const mt_jwks *jwks)
{
    return jwks != NULL ? jwks->skipped : 0;
}

/* ------------------------------------------------------------------------
 * signature verification
 * ------------------------------------------------------------------------ */

/* Raw r||s (32 + 32 bytes) -> DER ECDSA-Sig-Value in der[0..*der_len). */
static mt_err es256_raw_to_der(const uint8_t *raw, uint8_t *der, size_t cap, size_t *der_len)
{
    mt_err err = MT_ERR_CRYPTO;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, P256_COORD, NULL);
    BIGNUM *s = BN_bin2bn(raw + P256_COORD, P256_COORD, NULL);
    if (sig == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        goto done;
    }
    int n = i2d_ECDSA_SIG(sig, NULL);
    if (n <= 0 || (size_t)n > cap)
        goto done;
    uint8_t *p = der;
    if (i2d_ECDSA_SIG(sig, &p) != n)
        goto done;
    *der_len = (size_t)n;
    err = MT_OK;
done:
    ECDSA_SIG_free(sig);
    return err;
}

/* MT_OK, MT_ERR_BAD_SIGNATURE (eb says why), or MT_ERR_CRYPTO/NOMEM. */
static mt_err verify_with(const jwk *k, int alg, const uint8_t *msg, size_t msg_len,
                          const uint8_t *sig, size_t sig_len, mt_errbuf *eb)
{
    uint8_t der[80];
    const uint8_t *s = sig;
    size_t slen = sig_len;
    safe_str kid = safe(k->kid);

    if (alg == KT_RSA) {
        int want = EVP_PKEY_get_size(k->pkey);
        if (want <= 0 || sig_len != (size_t)want)
            return mt_fail(eb, MT_ERR_BAD_SIGNATURE,
                           "signature is %zu bytes, want %d for RS256 key '%s'", sig_len, want,
                           kid.s);
    } else if (sig_len != RAW_SIG_64) {
        return mt_fail(eb, MT_ERR_BAD_SIGNATURE, "signature is %zu bytes, want %d for %s", sig_len,
                       RAW_SIG_64, alg_names[alg]);
    }
    if (alg == KT_EC) {
        if (es256_raw_to_der(sig, der, sizeof der, &slen))
            return mt_ossl_fail(eb, MT_ERR_CRYPTO, "ES256: cannot re-encode the signature");
        s = der;
    }

    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return mt_ossl_fail(eb, MT_ERR_NOMEM, "cannot allocate a verify context");
    mt_err err = MT_OK;
    if (EVP_DigestVerifyInit_ex(ctx, NULL, alg == KT_OKP ? NULL : "SHA256", NULL, NULL, k->pkey,
                                NULL) <= 0) {
        err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "%s verify init failed for key '%s'", alg_names[alg],
                        kid.s);
        goto done;
    }
    int rc = EVP_DigestVerify(ctx, s, slen, msg, msg_len);
    if (rc == 1) {
        err = MT_OK;
    } else {
        /* 0 is a plain mismatch; negative values are malformed signatures
         * (bad DER, out-of-range r/s): both mean "not signed by this key". */
        ERR_clear_error();
        err = mt_fail(eb, MT_ERR_BAD_SIGNATURE, "signature does not verify (alg %s, key '%s')",
                      alg_names[alg], kid.s);
    }
done:
    EVP_MD_CTX_free(ctx);
    return err;
}

/* Picks the key(s) for (kid, alg) and verifies; see the header for codes. */
static mt_err verify_signature(const mt_jwks *jwks, const char *kid, int alg, const uint8_t *msg,
                               size_t msg_len, const uint8_t *sig, size_t sig_len, mt_errbuf *eb)
{
    size_t kid_matches = 0, tried = 0;
    const jwk *kid_key = NULL;
    mt_errbuf last;
    mt_err err = MT_ERR_BAD_SIGNATURE;

    for (size_t i = 0; i < jwks->n; i++) {
        const jwk *k = &jwks->keys[i];
        if (kid != NULL) {
            if (k->kid == NULL || strcmp(k->kid, kid) != 0)
                continue;
            kid_matches++;
            kid_key = k;
        }
        if (k->type != alg || (k->alg != KT_NONE && k->alg != alg))
            continue;
        tried++;
        err = verify_with(k, alg, msg, msg_len, sig, sig_len, &last);
        if (err != MT_ERR_BAD_SIGNATURE) /* MT_OK, or an internal failure */
            break;
    }
    if (err == MT_OK)
        return MT_OK;
    if (err != MT_ERR_BAD_SIGNATURE)
        return mt_fail(eb, err, "%s", last.msg);
    if (kid != NULL && kid_matches == 0)
        return mt_fail(eb, MT_ERR_NOT_FOUND, "kid '%s' not in JWKS", safe(kid).s);
    if (tried == 0 && kid_key != NULL)
        return mt_fail(eb, MT_ERR_BAD_SIGNATURE, "alg '%s' does not fit key '%s' (kty %s%s%s)",
                       alg_names[alg], safe(kid).s, kty_names[kid_key->type],
                       kid_key->alg != KT_NONE ? ", alg " : "",
                       kid_key->alg != KT_NONE ? alg_names[kid_key->alg] : "");
    if (tried == 0)
        return mt_fail(eb, MT_ERR_NOT_FOUND, "token has no kid and the JWKS has no %s key",
                       alg_names[alg]);
    if (tried == 1)
        return mt_fail(eb, MT_ERR_BAD_SIGNATURE, "%s", last.msg);
    return mt_fail(eb, MT_ERR_BAD_SIGNATURE,
                   "signature does not verify with any of the %zu %s keys (token has no kid)",
                   tried, alg_names[alg]);
}

/* ------------------------------------------------------------------------
 * claims
 * ------------------------------------------------------------------------ */

/* NumericDate claim: integer or real, clamped. *present false if absent. */
static mt_err time_claim(const json_t *claims, const char *name, bool required, int64_t *out,
                         bool *present, mt_errbuf *eb)
{
    const json_t *v = json_object_get(claims, name);
    *present = false;
    if (v == NULL || json_is_null(v)) {
        if (required)
            return mt_fail(eb, MT_ERR_PARSE, "claim '%s' is required", name);
        return MT_OK;
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        *out = i > TIME_CLAMP ? TIME_CLAMP : i < -TIME_CLAMP ? -TIME_CLAMP : (int64_t)i;
    } else if (json_is_real(v)) {
        double d = json_real_value(v); /* jansson never yields NaN/Inf */
        *out = d > (double)TIME_CLAMP    ? TIME_CLAMP
               : d < -(double)TIME_CLAMP ? -TIME_CLAMP
                                         : (int64_t)d;
    } else {
        return mt_fail(eb, MT_ERR_PARSE, "claim '%s' must be a number (NumericDate), got %s", name,
                       mt_json_type_name(v));
    }
    *present = true;
    return MT_OK;
}

static mt_err check_times(const json_t *claims, int64_t now, int64_t leeway, mt_errbuf *eb)
{
    int64_t exp = 0, nbf = 0, iat = 0;
    bool have = false;
    mt_err err;

    if ((err = time_claim(claims, "exp", true, &exp, &have, eb)))
        return err;
    if (now >= exp + leeway)
        return mt_fail(eb, MT_ERR_TIMEOUT,
                       "token expired %" PRId64 " s ago (exp %" PRId64 ", leeway %" PRId64 " s)",
                       now - exp, exp, leeway);
    if ((err = time_claim(claims, "nbf", false, &nbf, &have, eb)))
        return err;
    if (have && now + leeway < nbf)
        return mt_fail(eb, MT_ERR_STATE,
                       "token not valid for another %" PRId64 " s (nbf %" PRId64 ", leeway %" PRId64
                       " s)",
                       nbf - now, nbf, leeway);
    if ((err = time_claim(claims, "iat", false, &iat, &have, eb)))
        return err;
    if (have && now + leeway < iat)
        return mt_fail(eb, MT_ERR_STATE,
                       "token issued %" PRId64 " s in the future (iat %" PRId64 ", leeway %" PRId64
                       " s)",
                       iat - now, iat, leeway);
    return MT_OK;
}

/* Appends "'a', 'b'" (log-safe) of the policy audiences to buf. */
static void want_list(const mt_jwt_policy *p, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < p->naud && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s'%s'", i ? ", " : "", safe(p->audiences[i]).s);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static mt_err check_aud(const json_t *claims, const mt_jwt_policy *p, const char **matched,
                        mt_errbuf *eb)
{
    const json_t *aud = json_object_get(claims, "aud");
    char want[256];
    const char *first = NULL;
    size_t count = 0;

    if (aud == NULL || json_is_null(aud))
        return mt_fail(eb, MT_ERR_PARSE, "claim 'aud' is required");
    if (!json_is_string(aud) && !json_is_array(aud))
        return mt_fail(eb, MT_ERR_PARSE, "claim 'aud' must be a string or an array, got %s",
                       mt_json_type_name(aud));
    count = json_is_string(aud) ? 1 : json_array_size(aud);
    for (size_t j = 0; j < count; j++) {
        const json_t *a = json_is_string(aud) ? aud : json_array_get(aud, j);
        if (!json_is_string(a))
            return mt_fail(eb, MT_ERR_PARSE, "claim 'aud' item %zu must be a string, got %s", j,
                           mt_json_type_name(a));
        if (first == NULL)
            first = json_string_value(a);
    }
    /* Policy order decides which audience is reported as the matched one. */
    for (size_t i = 0; i < p->naud; i++)
        for (size_t j = 0; j < count; j++) {
            const json_t *a = json_is_string(aud) ? aud : json_array_get(aud, j);
            if (strcmp(json_string_value(a), p->audiences[i]) == 0) {
                *matched = p->audiences[i];
                return MT_OK;
            }
        }
    want_list(p, want, sizeof want);
    if (count == 0)
        return mt_fail(eb, MT_ERR_CONFIG, "audience list is empty (want %s)", want);
    if (count == 1)
        return mt_fail(eb, MT_ERR_CONFIG, "audience '%s' not accepted (want %s)", safe(first).s,
                       want);
    return mt_fail(eb, MT_ERR_CONFIG, "audience '%s' (and %zu more) not accepted (want %s)",
                   safe(first).s, count - 1, want);
}

/* String claim, or an integer claim as decimal text; NULL otherwise. */
static char *claim_text(const json_t *claims, const char *name)
{
    const json_t *v = json_object_get(claims, name);
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        char buf[32];
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(buf);
    }
    return NULL;
}

/* run_attempt: "3" (GitHub) or 3; 0 when absent or out of 1..INT32_MAX. */
static int64_t claim_attempt(const json_t *claims, const char *name)
{
    const json_t *v = json_object_get(claims, name);
    int64_t n = 0;
    if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (len == 0 || len > 10)
            return 0;
        for (size_t i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9')
                return 0;
            n = n * 10 + (s[i] - '0');
        }
    }
    return n >= 1 && n <= INT32_MAX ? n : 0;
}

static bool has(const json_t *claims, const char *name)
{
    return json_object_get(claims, name) != NULL;
}

static void map_ci(const json_t *c, mt_identity *id)
{
    if (has(c, "repository") && has(c, "run_id")) { /* GitHub Actions */
        id->ci.repository = claim_text(c, "repository");
        id->ci.workflow = claim_text(c, "workflow");
        if (id->ci.workflow == NULL)
            id->ci.workflow = claim_text(c, "job_workflow_ref");
        id->ci.run_id = claim_text(c, "run_id");
        id->ci.run_attempt = claim_attempt(c, "run_attempt");
        id->ci.actor = claim_text(c, "actor");
    } else if (has(c, "project_path") && has(c, "pipeline_id")) { /* GitLab CI */
        id->ci.repository = claim_text(c, "project_path");
        id->ci.workflow = claim_text(c, "ci_config_ref_uri");
        if (id->ci.workflow == NULL)
            id->ci.workflow = claim_text(c, "pipeline_source");
        id->ci.job = claim_text(c, "job_id");
        id->ci.run_id = claim_text(c, "pipeline_id");
        id->ci.actor = claim_text(c, "user_login");
    } else {
        return;
    }
    id->ci.sha = claim_text(c, "sha");
    id->ci.ref = claim_text(c, "ref");
    id->ci.environment = claim_text(c, "environment");
}

/* ------------------------------------------------------------------------
 * mt_jwt_verify
 * ------------------------------------------------------------------------ */

static mt_err check_policy(const mt_jwt_policy *p, mt_errbuf *eb)
{
    if (p->issuer == NULL || p->issuer[0] == '\0')
        return mt_fail(eb, MT_ERR_INVALID_ARG, "JWT policy has no issuer");
    if (p->naud == 0 || p->audiences == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "JWT policy has no audience");
    for (size_t i = 0; i < p->naud; i++)
        if (p->audiences[i] == NULL)
            return mt_fail(eb, MT_ERR_INVALID_ARG, "JWT policy audience %zu is NULL", i);
    if (p->nalgs == 0 || p->algs == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "JWT policy allows no algorithm");
    for (size_t i = 0; i < p->nalgs; i++)
        if (p->algs[i] == NULL || alg_from_name(p->algs[i]) == KT_NONE)
            return mt_fail(eb, MT_ERR_INVALID_ARG,
                           "JWT policy alg '%s' is not supported (use RS256, ES256, EdDSA)",
                           safe(p->algs[i]).s);
    if (p->leeway_s < 0 || p->leeway_s > 86400)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "JWT policy leeway %" PRId64 " s not in 0..86400",
                       p->leeway_s);
    return MT_OK;
}

static mt_err parse_part(const uint8_t *bytes, size_t len, const char *what, json_t **out,
                         mt_errbuf *eb)
{
    const mt_json_limits lim = {MT_JWT_MAX_TOKEN, MT_JWT_MAX_DEPTH, true, false, false};
    mt_errbuf inner;
    /* jansson's text would quote token bytes; keep only the position. */
    mt_err err = mt_json_parse(bytes, len, &lim, out, &inner);
    if (err == MT_ERR_TOO_LARGE)
        return mt_fail(eb, err, "token %s JSON nests deeper than %u levels", what,
                       MT_JWT_MAX_DEPTH);
    if (err)
        return mt_fail(eb, err, "token %s is not valid JSON", what);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return mt_fail(eb, MT_ERR_PARSE, "token %s must be a JSON object", what);
    }
    return MT_OK;
}

mt_err mt_jwt_verify(const mt_jwks *jwks, const mt_jwt_policy *policy, const char *token,
                     size_t len, int64_t now_s, mt_identity *out, mt_errbuf *eb)
{
    uint8_t *hdr = NULL, *pay = NULL, *sig = NULL;
    size_t hdr_len = 0, pay_len = 0, sig_len = 0;
    json_t *header = NULL, *claims = NULL;
    const char *iss = NULL, *sub = NULL, *kid = NULL, *alg_name = NULL, *matched = NULL;
    mt_errbuf inner;
    mt_err err;

    if (out == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_jwt_verify: NULL identity");
    memset(out, 0, sizeof *out);
    if (jwks == NULL || policy == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_jwt_verify: NULL JWKS or policy");
    if ((err = check_policy(policy, eb)))
        return err;
    if (token == NULL || len == 0)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "no bearer token");
    if (len > MT_JWT_MAX_TOKEN)
        return mt_fail(eb, MT_ERR_TOO_LARGE, "token is %zu bytes, limit is %zu", len,
                       MT_JWT_MAX_TOKEN);
    int64_t now = now_s > TIME_CLAMP ? TIME_CLAMP : now_s < -TIME_CLAMP ? -TIME_CLAMP : now_s;

    size_t dots[2], ndots = 0;
    for (size_t i = 0; i < len; i++)
        if (token[i] == '.') {
            if (ndots < 2)
                dots[ndots] = i;
            ndots++;
        }
    if (ndots != 2)
        return mt_fail(eb, MT_ERR_PARSE, "token has %zu parts, want 3 (header.payload.signature)",
                       ndots + 1);
    if (dots[0] == 0 || dots[1] == dots[0] + 1)
        return mt_fail(eb, MT_ERR_PARSE, "token has an empty %s",
                       dots[0] == 0 ? "header" : "payload");

    /* header */
    if ((err = b64url_decode_alloc(token, dots[0], "header", &hdr, &hdr_len, eb)) ||
        (err = parse_part(hdr, hdr_len, "header", &header, eb)))
        goto fail;
    if ((err = mt_json_get_string(header, "alg", &alg_name, &inner)) ||
        (err = mt_json_opt_string(header, "kid", NULL, &kid, &inner))) {
        err = mt_fail(eb, MT_ERR_PARSE, "token header: %s", inner.msg);
        goto fail;
    }
    /* RFC 7515 4.1.11: extensions listed in crit must be understood; none are. */
    if (json_object_get(header, "crit") != NULL) {
        err = mt_fail(eb, MT_ERR_PARSE, "token header has 'crit' extensions, none are supported");
        goto fail;
    }
    int alg = KT_NONE;
    for (size_t i = 0; i < policy->nalgs; i++)
        if (strcmp(policy->algs[i], alg_name) == 0)
            alg = alg_from_name(alg_name);
    if (alg == KT_NONE) {
        char allowed[128];
        size_t used = 0;
        allowed[0] = '\0';
        for (size_t i = 0; i < policy->nalgs && used < sizeof allowed; i++) {
            int n = snprintf(allowed + used, sizeof allowed - used, "%s%s", i ? ", " : "",
                             policy->algs[i]);
            if (n < 0)
                break;
            used += (size_t)n;
        }
        err = mt_fail(eb, MT_ERR_BAD_SIGNATURE, "alg '%s' not allowed (allowed: %s)",
                      safe(alg_name).s, allowed);
        goto fail;
    }

    /* signature over the ASCII bytes "header.payload" */
    if ((err = b64url_decode_alloc(token + dots[1] + 1, len - dots[1] - 1, "signature", &sig,
                                   &sig_len, eb)))
        goto fail;
    if ((err = verify_signature(jwks, kid, alg, (const uint8_t *)token, dots[1], sig, sig_len, eb)))
        goto fail;

    /* claims: authenticated from here on */
    if ((err = b64url_decode_alloc(token + dots[0] + 1, dots[1] - dots[0] - 1, "payload", &pay,
                                   &pay_len, eb)) ||
        (err = parse_part(pay, pay_len, "payload", &claims, eb)))
        goto fail;
    if ((err = check_times(claims, now, policy->leeway_s, eb)))
        goto fail;
    if ((err = mt_json_get_string(claims, "iss", &iss, &inner)) ||
        (err = mt_json_opt_string(claims, "sub", NULL, &sub, &inner))) {
        err = mt_fail(eb, MT_ERR_PARSE, "token claims: %s", inner.msg);
        goto fail;
    }
    if (strcmp(iss, policy->issuer) != 0) {
        err = mt_fail(eb, MT_ERR_CONFIG, "issuer '%s' not accepted (want '%s')", safe(iss).s,
                      safe(policy->issuer).s);
        goto fail;
    }
    if ((err = check_aud(claims, policy, &matched, eb)))
        goto fail;

    uint8_t fp[MT_SHA256_LEN];
    if ((err = mt_sha256(token, len, fp)) ||
        (err =
             mt_hex_encode(fp, sizeof fp, out->token_fingerprint, sizeof out->token_fingerprint))) {
        err = mt_fail(eb, err, "cannot fingerprint the token");
        goto fail;
    }
    out->issuer = dup_str(iss);
    out->subject = dup_str(sub);
    out->audience = dup_str(matched);
    out->auth_method = dup_str("jwt");
    map_ci(claims, out);
    out->claims = claims;
    claims = NULL;
    if (out->issuer == NULL || (sub != NULL && out->subject == NULL) || out->audience == NULL ||
        out->auth_method == NULL) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory building the identity");
        goto fail;
    }
    err = MT_OK;
    goto done;
fail:
    mt_identity_free(out);
done:
    json_decref(header);
    json_decref(claims);
    free(hdr);
    free(pay);
    free(sig);
    return err;
}

void mt_identity_free(mt_identity *id)
{
    if (id == NULL)
        return;
    free(id->issuer);
    free(id->subject);
    free(id->audience);
    free(id->auth_method);
    free(id->ci.repository);
    free(id->ci.workflow);
    free(id->ci.job);
    free(id->ci.run_id);
    free(id->ci.sha);
    free(id->ci.ref);
    free(id->ci.actor);
    free(id->ci.environment);
    json_decref(id->claims);
    memset(id, 0, sizeof *id);
}

static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

json_t *mt_identity_to_json(const mt_identity *id)
{
    static const mt_identity none;
    if (id == NULL)
        id = &none;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "issuer", str_or_null(id->issuer));
    bad |= json_object_set_new(o, "subject", str_or_null(id->subject));
    bad |= json_object_set_new(o, "audience", str_or_null(id->audience));
    bad |= json_object_set_new(o, "auth_method", str_or_null(id->auth_method));
    bad |= json_object_set_new(
        o, "token_fingerprint",
        str_or_null(id->token_fingerprint[0] != '\0' ? id->token_fingerprint : NULL));
    const char *const ci_str[] = {id->ci.repository, id->ci.workflow,   id->ci.job,
                                  id->ci.run_id,     id->ci.sha,        id->ci.ref,
                                  id->ci.actor,      id->ci.environment};
    bool any = id->ci.run_attempt != 0;
    for (size_t i = 0; i < sizeof ci_str / sizeof ci_str[0]; i++)
        any = any || ci_str[i] != NULL;
    if (!any) {
        bad |= json_object_set_new(o, "ci", json_null());
    } else {
        json_t *ci = json_object();
        bad |= json_object_set_new(o, "ci", ci);
        if (ci != NULL) {
            bad |= json_object_set_new(ci, "repository", str_or_null(id->ci.repository));
            bad |= json_object_set_new(ci, "workflow", str_or_null(id->ci.workflow));
            bad |= json_object_set_new(ci, "job", str_or_null(id->ci.job));
            bad |= json_object_set_new(ci, "run_id", str_or_null(id->ci.run_id));
            bad |= json_object_set_new(ci, "run_attempt",
                                       id->ci.run_attempt != 0 ? json_integer(id->ci.run_attempt)
                                                               : json_null());
            bad |= json_object_set_new(ci, "sha", str_or_null(id->ci.sha));
            bad |= json_object_set_new(ci, "ref", str_or_null(id->ci.ref));
            bad |= json_object_set_new(ci, "actor", str_or_null(id->ci.actor));
            bad |= json_object_set_new(ci, "environment", str_or_null(id->ci.environment));
        }
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ------------------------------------------------------------------------
 * signing helpers (devtoken, tests)
 * ------------------------------------------------------------------------ */

/* KT_* of a private or public EVP_PKEY, KT_NONE for anything unsupported. */
static int pkey_type(EVP_PKEY *pkey)
{
    if (EVP_PKEY_is_a(pkey, "RSA"))
        return EVP_PKEY_get_bits(pkey) >= RSA_MIN_BITS ? KT_RSA : KT_NONE;
    if (EVP_PKEY_is_a(pkey, "ED25519"))
        return KT_OKP;
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[32];
        size_t n = 0;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           &n) &&
            (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0))
            return KT_EC;
    }
    return KT_NONE;
}

static mt_err wrap_key(EVP_PKEY *pkey, const char *what, mt_jwt_key **out, mt_errbuf *eb)
{
    int type = pkey_type(pkey);
    if (type == KT_NONE) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        return mt_fail(eb, MT_ERR_CONFIG, "%s: not an RSA (>= 2048 bits), EC P-256 or Ed25519 key",
                       what);
    }
    mt_jwt_key *k = calloc(1, sizeof *k);
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    k->pkey = pkey;
    k->type = type;
    *out = k;
    return MT_OK;
}

mt_err mt_jwt_key_generate(const char *kty, mt_jwt_key **out, mt_errbuf *eb)
{
    EVP_PKEY *pkey = NULL;
    if (out == NULL || kty == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_jwt_key_generate: NULL argument");
    if (strcmp(kty, "RSA") == 0)
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)RSA_MIN_BITS);
    else if (strcmp(kty, "EC") == 0)
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (strcmp(kty, "OKP") == 0)
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    else
        return mt_fail(eb, MT_ERR_INVALID_ARG, "key type '%s' unknown (want RSA, EC or OKP)",
                       safe(kty).s);
    if (pkey == NULL)
        return mt_ossl_fail(eb, MT_ERR_CRYPTO, "%s key generation failed", kty);
    return wrap_key(pkey, kty, out, eb);
}

static int refuse_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1; /* encrypted keys are refused rather than prompting */
}

mt_err mt_jwt_key_load_pem_file(const char *path, mt_jwt_key **out, mt_errbuf *eb)
{
    if (out == NULL || path == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_jwt_key_load_pem_file: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mt_fail(eb, errno == ENOENT ? MT_ERR_NOT_FOUND : MT_ERR_IO, "%s: %s", path,
                       strerror(errno));
    char *buf = malloc(MT_PEM_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, MT_PEM_MAX + 1, f) : 0;
    bool rerr = ferror(f) != 0;
    fclose(f);
    if (buf == NULL)
        return mt_fail(eb, MT_ERR_NOMEM, "%s: out of memory", path);
    if (rerr || n > MT_PEM_MAX) {
        free(buf);
        return mt_fail(eb, rerr ? MT_ERR_IO : MT_ERR_TOO_LARGE, "%s: %s", path,
                       rerr ? "read error" : "larger than 64 KiB, not a key file");
    }
    BIO *bio = BIO_new_mem_buf(buf, (int)n);
    EVP_PKEY *pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, refuse_password, NULL) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(buf, n);
    free(buf);
    if (pkey == NULL)
        return mt_ossl_fail(eb, MT_ERR_PARSE, "%s: not an unencrypted PEM private key", path);
    return wrap_key(pkey, path, out, eb);
}

mt_err mt_jwt_key_write_pem_file(const mt_jwt_key *key, const char *path, mt_errbuf *eb)
{
    mt_err err = MT_OK;
    BUF_MEM *mem = NULL;
    int fd = -1;
    BIO *bio = BIO_new(BIO_s_mem());
    if (key == NULL || path == NULL) {
        BIO_free(bio);
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_jwt_key_write_pem_file: NULL argument");
    }
    if (bio == NULL || !PEM_write_bio_PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL)) {
        err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "%s: cannot encode the private key", path);
        goto done;
    }
    BIO_get_mem_ptr(bio, &mem);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    for (size_t off = 0; off < mem->length;) {
        ssize_t w = write(fd, mem->data + off, mem->length - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = mt_fail(eb, MT_ERR_IO, "%s: write: %s", path, strerror(errno));
            goto done;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        fd = -1;
        err = mt_fail(eb, MT_ERR_IO, "%s: close: %s", path, strerror(errno));
        goto done;
    }
    fd = -1;
done:
    if (fd >= 0)
        close(fd);
    BIO_free(bio); /* BIO_s_mem frees and the memory is not secret-cleansed; dev keys only */
    return err;
}

void mt_jwt_key_free(mt_jwt_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pkey);
    free(key);
}

const char *mt_jwt_key_alg(const mt_jwt_key *key)
{
    return key != NULL ? alg_names[key->type] : NULL;
}

/* Sets member `name` of o to the base64url of bytes. */
static mt_err set_b64(json_t *o, const char *name, const uint8_t *bytes, size_t n)
{
    mt_buf b = MT_BUF_INIT;
    mt_err err = mt_b64url_encode(bytes, n, &b);
    if (!err && json_object_set_new(o, name, json_stringn((const char *)b.data, b.len)) != 0)
        err = MT_ERR_NOMEM;
    mt_buf_free(&b);
    return err;
}

static mt_err set_bn(json_t *o, const char *name, const BIGNUM *bn, int pad)
{
    uint8_t buf[RSA_MAX_BITS / 8];
    int n = pad > 0 ? pad : BN_num_bytes(bn);
    if (n <= 0 || (size_t)n > sizeof buf || BN_bn2binpad(bn, buf, n) != n)
        return MT_ERR_CRYPTO;
    return set_b64(o, name, buf, (size_t)n);
}

mt_err mt_jwt_key_public_jwk(const mt_jwt_key *key, const char *kid, json_t **out, mt_errbuf *eb)
{
    BIGNUM *a = NULL, *b = NULL;
    mt_err err = MT_OK;
    if (key == NULL || out == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_jwt_key_public_jwk: NULL argument");
    json_t *o = json_object();
    if (o == NULL)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    if (json_object_set_new(o, "kty", json_string(kty_names[key->type])) != 0) {
        err = MT_ERR_NOMEM;
        goto done;
    }
    if (key->type == KT_RSA) {
        if (!EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_N, &a) ||
            !EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_RSA_E, &b)) {
            err = MT_ERR_CRYPTO;
            goto done;
        }
        if ((err = set_bn(o, "n", a, 0)) || (err = set_bn(o, "e", b, 0)))
            goto done;
    } else if (key->type == KT_EC) {
        if (!EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &a) ||
            !EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &b)) {
            err = MT_ERR_CRYPTO;
            goto done;
        }
        if (json_object_set_new(o, "crv", json_string("P-256")) != 0) {
            err = MT_ERR_NOMEM;
            goto done;
        }
        if ((err = set_bn(o, "x", a, P256_COORD)) || (err = set_bn(o, "y", b, P256_COORD)))
            goto done;
    } else {
        uint8_t x[MT_ED25519_PUBLIC_LEN];
        size_t xl = sizeof x;
        if (!EVP_PKEY_get_raw_public_key(key->pkey, x, &xl) || xl != sizeof x) {
            err = MT_ERR_CRYPTO;
            goto done;
        }
        if (json_object_set_new(o, "crv", json_string("Ed25519")) != 0) {
            err = MT_ERR_NOMEM;
            goto done;
        }
        if ((err = set_b64(o, "x", x, xl)))
            goto done;
    }
    if ((kid != NULL && json_object_set_new(o, "kid", json_string(kid)) != 0) ||
        json_object_set_new(o, "alg", json_string(alg_names[key->type])) != 0 ||
        json_object_set_new(o, "use", json_string("sig")) != 0)
        err = MT_ERR_NOMEM;
done:
    BN_free(a);
    BN_free(b);
    if (err) {
        json_decref(o);
        if (err == MT_ERR_CRYPTO)
            return mt_ossl_fail(eb, err, "cannot export the %s public key", kty_names[key->type]);
        return mt_fail(eb, err, "cannot build the public JWK");
    }
    *out = o;
    return MT_OK;
}

mt_err mt_jwt_key_public_der(const mt_jwt_key *key, mt_buf *out, mt_errbuf *eb)
{
    if (key == NULL || out == NULL)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_jwt_key_public_der: NULL argument");
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key->pkey, &der);
    if (n <= 0)
        return mt_ossl_fail(eb, MT_ERR_CRYPTO, "cannot encode the public key as DER");
    mt_err err = mt_buf_append(out, der, (size_t)n);
    OPENSSL_free(der);
    return err ? mt_fail(eb, err, "out of memory") : MT_OK;
}

/* Signature over msg in JWS form: RS256 PKCS#1 v1.5, ES256 raw r||s, EdDSA. */
static mt_err jws_sign(const mt_jwt_key *key, const uint8_t *msg, size_t len, mt_buf *sig,
                       mt_errbuf *eb)
{
    mt_err err = MT_OK;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    ECDSA_SIG *es = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return mt_ossl_fail(eb, MT_ERR_NOMEM, "cannot allocate a sign context");
    if (EVP_DigestSignInit_ex(ctx, NULL, key->type == KT_OKP ? NULL : "SHA256", NULL, NULL,
                              key->pkey, NULL) <= 0 ||
        EVP_DigestSign(ctx, NULL, &raw_len, msg, len) <= 0) {
        err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "%s sign init failed", alg_names[key->type]);
        goto done;
    }
    if ((raw = malloc(raw_len)) == NULL) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (EVP_DigestSign(ctx, raw, &raw_len, msg, len) <= 0) {
        err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "%s signing failed", alg_names[key->type]);
        goto done;
    }
    if (key->type == KT_EC) {
        const uint8_t *p = raw;
        const BIGNUM *r = NULL, *s = NULL;
        uint8_t rs[RAW_SIG_64];
        es = d2i_ECDSA_SIG(NULL, &p, (long)raw_len);
        if (es == NULL) {
            err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "ES256: cannot decode OpenSSL's signature");
            goto done;
        }
        ECDSA_SIG_get0(es, &r, &s);
        if (BN_bn2binpad(r, rs, P256_COORD) != P256_COORD ||
            BN_bn2binpad(s, rs + P256_COORD, P256_COORD) != P256_COORD) {
            err = mt_ossl_fail(eb, MT_ERR_CRYPTO, "ES256: r or s longer than 32 bytes");
            goto done;
        }
        err = mt_buf_append(sig, rs, sizeof rs);
    } else {
        err = mt_buf_append(sig, raw, raw_len);
    }
done:
    ECDSA_SIG_free(es);
    free(raw);
    EVP_MD_CTX_free(ctx);
    return err;
}

mt_err mt_jwt_sign(const mt_jwt_key *key, const char *alg, const char *kid, const void *payload,
                   size_t payload_len, mt_buf *out, mt_errbuf *eb)
{
    mt_buf sig = MT_BUF_INIT;
    char *hdr = NULL;
    mt_err err;

    if (key == NULL || alg == NULL || out == NULL || (payload == NULL && payload_len > 0))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_jwt_sign: NULL argument");
    if (alg_from_name(alg) != key->type)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "alg '%s' does not fit this %s key (use %s)",
                       safe(alg).s, kty_names[key->type], alg_names[key->type]);
    json_t *h = kid != NULL ? json_pack("{s:s,s:s,s:s}", "alg", alg, "typ", "JWT", "kid", kid)
                            : json_pack("{s:s,s:s}", "alg", alg, "typ", "JWT");
    hdr = h != NULL ? json_dumps(h, JSON_COMPACT) : NULL;
    json_decref(h);
    if (hdr == NULL)
        return mt_fail(eb, MT_ERR_NOMEM, "cannot build the JWS header");
    size_t start = out->len;
    if ((err = mt_b64url_encode(hdr, strlen(hdr), out)) || (err = mt_buf_append_byte(out, '.')) ||
        (err = mt_b64url_encode(payload, payload_len, out))) {
        err = mt_fail(eb, err, "cannot encode the token");
        goto fail;
    }
    if ((err = jws_sign(key, out->data + start, out->len - start, &sig, eb)))
        goto fail;
    if ((err = mt_buf_append_byte(out, '.')) || (err = mt_b64url_encode(sig.data, sig.len, out))) {
        err = mt_fail(eb, err, "cannot encode the signature");
        goto fail;
    }
    free(hdr);
    mt_buf_free(&sig);
    return MT_OK;
fail:
    out->len = start;
    free(hdr);
    mt_buf_free(&sig);
    return err;
}
