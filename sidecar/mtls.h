/* Client identity from a verified TLS client certificate (mTLS).
 *
 * The proxy calls this only for a certificate that OpenSSL verified against
 * tls.client_ca_file during the handshake; the mapping itself trusts the
 * certificate and only reads it:
 *   - a SPIFFE X.509-SVID (exactly one URI SAN, spiffe://trust-domain/path,
 *     valid per the SPIFFE ID spec): subject = the SPIFFE ID, issuer = the
 *     trust domain name;
 *   - any other certificate: subject = the subject DN, issuer = the issuer
 *     DN (RFC 2253 text);
 * auth_method "mtls" and token_fingerprint = lowercase hex SHA-256 of the
 * certificate's DER encoding (the SessionEvent Identity has one fingerprint
 * field; for mTLS it fingerprints the certificate instead of a token).
 * MT_ERR_PARSE for a certificate with a URI SAN that claims to be SPIFFE but
 * is not a valid SPIFFE ID, or with more than one SPIFFE URI SAN. */
#ifndef MCPTRAIL_SIDECAR_MTLS_H
#define MCPTRAIL_SIDECAR_MTLS_H

#include <openssl/x509.h>

#include "mcptrail/err.h"
#include "mcptrail/jwt.h"

#define MT_SPIFFE_ID_MAX 2048u

mt_err mt_mtls_identity(X509 *cert, mt_identity *out, mt_errbuf *eb);

/* Checks id[0..len) against the SPIFFE ID rules and returns the length of
 * the trust domain name that starts at id + 9; 0 when invalid. */
size_t mt_spiffe_id_check(const char *id, size_t len);

#endif
