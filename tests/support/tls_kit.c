/* TLS test kit; see tls_kit.h. */
#include "tls_kit.h"

#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static void die(const char *what)
{
    fprintf(stderr, "tls_kit: %s failed\n", what);
    abort();
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext || !X509_add_ext(cert, ext, -1))
        die(value);
    X509_EXTENSION_free(ext);
}

static X509 *new_cert(EVP_PKEY *key, const char *cn, long serial)
{
    X509 *c = X509_new();
    if (!c || !X509_set_version(c, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(c), serial) ||
        !X509_gmtime_adj(X509_getm_notBefore(c), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(c), 86400L) || !X509_set_pubkey(c, key))
        die("X509 setup");
    X509_NAME *n = X509_get_subject_name(c);
    if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0))
        die("CN");
    return c;
}

static void write_pem_cert(X509 *c, const char *path)
{
    FILE *fp = fopen(path, "w");
    if (!fp || !PEM_write_X509(fp, c) || fclose(fp) != 0)
        die(path);
}

void tk_ca_make(tk_ca *ca, const char *dir, const char *name)
{
    static long serial = 1000;
    ca->key = EVP_EC_gen("P-256");
    if (!ca->key)
        die("EVP_EC_gen");
    ca->cert = new_cert(ca->key, name, serial++);
    if (!X509_set_issuer_name(ca->cert, X509_get_subject_name(ca->cert)))
        die("issuer");
    add_ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash");
    if (!X509_sign(ca->cert, ca->key, EVP_sha256()))
        die("X509_sign");
    snprintf(ca->pem, sizeof ca->pem, "%s/%s.crt", dir, name);
    write_pem_cert(ca->cert, ca->pem);
}

void tk_ca_free(tk_ca *ca)
{
    EVP_PKEY_free(ca->key);
    X509_free(ca->cert);
    ca->key = NULL;
    ca->cert = NULL;
}

void tk_leaf_make(const tk_ca *ca, const char *dir, const char *name, const char *cn,
                  const char *san, bool server, char *crt, char *key)
{
    static long serial = 2000;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (!k)
        die("EVP_EC_gen");
    X509 *c = new_cert(k, cn, serial++);
    if (!X509_set_issuer_name(c, X509_get_subject_name(ca->cert)))
        die("issuer");
    add_ext(c, ca->cert, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(c, ca->cert, NID_key_usage, "critical,digitalSignature");
    add_ext(c, ca->cert, NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
    add_ext(c, ca->cert, NID_authority_key_identifier, "keyid:always");
    if (san)
        add_ext(c, ca->cert, NID_subject_alt_name, san);
    if (!X509_sign(c, ca->key, EVP_sha256()))
        die("X509_sign");
    snprintf(crt, 256, "%s/%s.crt", dir, name);
    snprintf(key, 256, "%s/%s.key", dir, name);
    write_pem_cert(c, crt);
    FILE *fp = fopen(key, "w");
    if (!fp || !PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL) || fclose(fp) != 0)
        die(key);
    X509_free(c);
    EVP_PKEY_free(k);
}

void tk_cert_sha256_hex(const char *crt, char *hex)
{
    FILE *fp = fopen(crt, "r");
    X509 *c = fp ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
    if (fp)
        fclose(fp);
    unsigned char dg[32];
    unsigned n = 0;
    if (!c || !X509_digest(c, EVP_sha256(), dg, &n) || n != 32)
        die("X509_digest");
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", dg[i]);
    X509_free(c);
}

void tk_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* --- HTTPS server ---------------------------------------------------------- */

struct tk_server {
    struct event_base *base;
    struct evhttp *http;
    SSL_CTX *ctx;
    uint16_t port;
    pthread_t thread;
    pthread_mutex_t mu;
    int status;
    char *body;
    size_t len;
    unsigned hits;
};

static struct bufferevent *srv_bevcb(struct event_base *base, void *arg)
{
    tk_server *s = arg;
    return bufferevent_openssl_socket_new(base, -1, SSL_new(s->ctx), BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static void srv_request(struct evhttp_request *req, void *arg)
{
    tk_server *s = arg;
    struct evbuffer *out = evbuffer_new();
    pthread_mutex_lock(&s->mu);
    int status = s->status;
    if (s->len)
        evbuffer_add(out, s->body, s->len);
    s->hits++;
    pthread_mutex_unlock(&s->mu);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", out);
    evbuffer_free(out);
}

static void *srv_main(void *arg)
{
    tk_server *s = arg;
    event_base_dispatch(s->base);
    return NULL;
}

tk_server *tk_server_start(const char *crt, const char *key)
{
    static bool threads_on;
    if (!threads_on && evthread_use_pthreads() != 0)
        die("evthread_use_pthreads");
    threads_on = true;
    signal(SIGPIPE, SIG_IGN); /* peers under test close mid-reply on purpose */
    tk_server *s = calloc(1, sizeof *s);
    if (!s)
        die("calloc");
    pthread_mutex_init(&s->mu, NULL);
    s->status = 404;
    s->ctx = SSL_CTX_new(TLS_server_method());
    if (!s->ctx || SSL_CTX_use_certificate_chain_file(s->ctx, crt) != 1 ||
        SSL_CTX_use_PrivateKey_file(s->ctx, key, SSL_FILETYPE_PEM) != 1)
        die("server SSL_CTX");
    s->base = event_base_new();
    s->http = evhttp_new(s->base);
    if (!s->base || !s->http)
        die("evhttp_new");
    evhttp_set_bevcb(s->http, srv_bevcb, s);
    evhttp_set_gencb(s->http, srv_request, s);
    struct evhttp_bound_socket *b = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
    if (!b)
        die("bind");
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    if (getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&sa, &sl) != 0)
        die("getsockname");
    s->port = ntohs(sa.sin_port);
    if (pthread_create(&s->thread, NULL, srv_main, s) != 0)
        die("pthread_create");
    return s;
}

uint16_t tk_server_port(tk_server *s)
{
    return s->port;
}

void tk_server_set_reply(tk_server *s, int status, const char *body, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        die("malloc");
    memcpy(copy, body, len);
    pthread_mutex_lock(&s->mu);
    free(s->body);
    s->body = copy;
    s->len = len;
    s->status = status;
    pthread_mutex_unlock(&s->mu);
}

unsigned tk_server_hits(tk_server *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned h = s->hits;
    pthread_mutex_unlock(&s->mu);
    return h;
}

void tk_server_stop(tk_server *s)
{
    if (!s)
        return;
    event_base_loopexit(s->base, NULL);
    pthread_join(s->thread, NULL);
    evhttp_free(s->http);
    event_base_free(s->base);
    SSL_CTX_free(s->ctx);
    pthread_mutex_destroy(&s->mu);
    free(s->body);
    free(s);
}
