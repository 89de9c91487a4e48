/* mTLS client certificate -> mt_identity (see mtls.h). */
#include "mtls.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "mcptrail/crypto.h"

#define SPIFFE_PREFIX "spiffe://"
#define SPIFFE_PREFIX_LEN 9u

static bool td_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static bool path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

size_t mt_spiffe_id_check(const char *id, size_t len)
{
    if (len <= SPIFFE_PREFIX_LEN || len > MT_SPIFFE_ID_MAX ||
        memcmp(id, SPIFFE_PREFIX, SPIFFE_PREFIX_LEN) != 0)
        return 0;
    size_t i = SPIFFE_PREFIX_LEN;
    while (i < len && id[i] != '/') {
        if (!td_char(id[i]))
            return 0; /* upper case, port, user info, query, ... */
        i++;
    }
    size_t td_len = i - SPIFFE_PREFIX_LEN;
    if (td_len == 0)
        return 0;
    /* path: zero or more "/segment", segments non-empty and not . or .. */
    while (i < len) {
        size_t s = ++i; /* past '/' */
        while (i < len && id[i] != '/') {
            if (!path_char(id[i]))
                return 0;
            i++;
        }
        size_t sl = i - s;
        if (sl == 0 || (sl == 1 && id[s] == '.') || (sl == 2 && id[s] == '.' && id[s + 1] == '.'))
            return 0;
    }
    return td_len;
}

static char *name_text(const X509_NAME *n)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return NULL;
    char *out = NULL;
    if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *data = NULL;
        long len = BIO_get_mem_data(b, &data);
        if (len >= 0) {
            out = malloc((size_t)len + 1);
            if (out) {
                memcpy(out, data, (size_t)len);
                out[len] = '\0';
            }
        }
    }
    BIO_free(b);
    return out;
}

mt_err mt_mtls_identity(X509 *cert, mt_identity *out, mt_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    mt_err err = MT_OK;
    uint8_t dg[32];
    unsigned dlen = 0;
    if (X509_digest(cert, EVP_sha256(), dg, &dlen) != 1 || dlen != sizeof dg ||
        mt_hex_encode(dg, sizeof dg, out->token_fingerprint, sizeof out->token_fingerprint) !=
            MT_OK)
        return mt_fail(eb, MT_ERR_CRYPTO, "client certificate: SHA-256 fingerprint failed");

    const char *spiffe = NULL;
    size_t spiffe_len = 0, nspiffe = 0;
    GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int nsans = sans ? sk_GENERAL_NAME_num(sans) : 0;
    for (int i = 0; i < nsans; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != GEN_URI)
            continue;
        const char *u = (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
        size_t ul = (size_t)ASN1_STRING_length(g->d.uniformResourceIdentifier);
        if (ul < SPIFFE_PREFIX_LEN || strncasecmp(u, SPIFFE_PREFIX, SPIFFE_PREFIX_LEN) != 0)
            continue;
        nspiffe++;
        spiffe = u;
        spiffe_len = ul;
    }
    if (nspiffe > 1) {
        err = mt_fail(eb, MT_ERR_PARSE,
                      "client certificate carries %zu SPIFFE URI SANs (an X.509-SVID has "
                      "exactly one)",
                      nspiffe);
        goto done;
    }
    out->auth_method = strdup("mtls");
    if (!out->auth_method) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (spiffe) {
        size_t td = memchr(spiffe, '\0', spiffe_len) ? 0 : mt_spiffe_id_check(spiffe, spiffe_len);
        if (td == 0) {
            err = mt_fail(eb, MT_ERR_PARSE,
                          "client certificate: URI SAN is not a valid SPIFFE ID (lower-case "
                          "trust domain, non-empty path segments of [A-Za-z0-9._-], at most "
                          "%u bytes)",
                          MT_SPIFFE_ID_MAX);
            goto done;
        }
        out->subject = strndup(spiffe, spiffe_len);
        out->issuer = strndup(spiffe + SPIFFE_PREFIX_LEN, td);
    } else {
        out->subject = name_text(X509_get_subject_name(cert));
        out->issuer = name_text(X509_get_issuer_name(cert));
    }
    if (!out->subject || !out->issuer)
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
done:
    GENERAL_NAMES_free(sans);
    if (err != MT_OK)
        mt_identity_free(out);
    return err;
}
