/* Test helpers for TLS: a throw-away PKI generated at test time with the
 * OpenSSL API (no private key is ever committed), and a small HTTPS server
 * on 127.0.0.1 (ephemeral port) running its own event loop in a thread, so
 * code under test can fetch from it synchronously or from the test's loop.
 *
 * Failures abort the test program (these are fixtures, not code under
 * test). Everything is written under a caller-made temp dir; tk_rmdir
 * removes it. */
#ifndef MCPTRAIL_TESTS_TLS_KIT_H
#define MCPTRAIL_TESTS_TLS_KIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef struct tk_ca {
    EVP_PKEY *key;
    X509 *cert;
    char pem[256]; /* path of the CA certificate */
} tk_ca;

/* Self-signed CA "CN=<name>"; the certificate goes to <dir>/<name>.crt. */
void tk_ca_make(tk_ca *ca, const char *dir, const char *name);
void tk_ca_free(tk_ca *ca);

/* Leaf certificate signed by ca: CN=cn, subjectAltName san (OpenSSL syntax,
 * e.g. "IP:127.0.0.1" or "URI:spiffe://example.org/ci/job"; NULL: none),
 * extendedKeyUsage serverAuth or clientAuth. Writes <dir>/<name>.crt and
 * <dir>/<name>.key; the paths are returned in crt/key (256 bytes each). */
void tk_leaf_make(const tk_ca *ca, const char *dir, const char *name, const char *cn,
                  const char *san, bool server, char *crt, char *key);

/* SHA-256 of the DER certificate in a PEM file, lowercase hex (65 bytes). */
void tk_cert_sha256_hex(const char *crt, char *hex);

/* Removes every regular file in dir, then dir. */
void tk_rmdir(const char *dir);

typedef struct tk_server tk_server;

/* HTTPS server with cert/key on 127.0.0.1:0; answers every GET with the
 * current reply (initially 404). */
tk_server *tk_server_start(const char *crt, const char *key);
uint16_t tk_server_port(tk_server *s);
/* Replaces the reply (copied). */
void tk_server_set_reply(tk_server *s, int status, const char *body, size_t len);
/* Requests answered so far. */
unsigned tk_server_hits(tk_server *s);
void tk_server_stop(tk_server *s);

#endif
