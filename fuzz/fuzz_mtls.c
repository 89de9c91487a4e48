/* Fuzzes the mTLS identity mapping (sidecar/mtls.c).
 *
 * The proxy only maps certificates OpenSSL has verified, but the mapping
 * walks the subjectAltName extension and checks SPIFFE IDs itself, and a
 * compromised or careless CA can put anything there. Input: a DER
 * certificate (seeds in fuzz/corpus/mtls are public test certificates with
 * SPIFFE, several and invalid URI SANs; their keys were discarded). The raw
 * bytes also go to mt_spiffe_id_check. The result must be MT_OK with a full
 * identity or an error with an empty one; never a crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "mtls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t td = mt_spiffe_id_check((const char *)data, size);
    if (td > size)
        abort();
    const unsigned char *p = data;
    X509 *c = d2i_X509(NULL, &p, (long)size);
    if (!c)
        return 0;
    mt_identity id;
    mt_errbuf eb;
    mt_err err = mt_mtls_identity(c, &id, &eb);
    if (err == MT_OK) {
        if (!id.subject || !id.issuer || !id.auth_method || strlen(id.token_fingerprint) != 64)
            abort();
        json_t *j = mt_identity_to_json(&id);
        if (!j)
            abort();
        json_decref(j);
    } else if (id.subject || id.issuer || id.auth_method) {
        abort(); /* failure leaves nothing behind */
    }
    mt_identity_free(&id);
    X509_free(c);
    return 0;
}
