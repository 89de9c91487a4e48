/* mtls: client certificate -> identity mapping, on certificates made at test
 * time (tls_kit), and the SPIFFE ID rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "mtls.h"
#include "tls_kit.h"

typedef struct fixture {
    char dir[64];
    tk_ca ca;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mt-test-mtls-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    tk_ca_make(&f->ca, f->dir, "ca");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tk_ca_free(&f->ca);
    tk_rmdir(f->dir);
    free(f);
    return 0;
}

/* Identity of a fresh client certificate with subjectAltName san. */
static mt_err identity_of(fixture *f, const char *san, mt_identity *id, mt_errbuf *eb, char *fp_hex)
{
    char crt[256], key[256];
    tk_leaf_make(&f->ca, f->dir, "client", "client", san, false, crt, key);
    if (fp_hex)
        tk_cert_sha256_hex(crt, fp_hex);
    FILE *fp = fopen(crt, "r");
    assert_non_null(fp);
    X509 *c = PEM_read_X509(fp, NULL, NULL, NULL);
    fclose(fp);
    assert_non_null(c);
    mt_err err = mt_mtls_identity(c, id, eb);
    X509_free(c);
    return err;
}

static void spiffe_svid_maps_to_spiffe_id_and_trust_domain(void **state)
{
    fixture *f = *state;
    mt_identity id;
    mt_errbuf eb = {{0}};
    char hex[65];
    assert_int_equal(
        identity_of(f, "URI:spiffe://example.org/ci/job-1,DNS:client.example", &id, &eb, hex),
        MT_OK);
    assert_string_equal(id.subject, "spiffe://example.org/ci/job-1");
    assert_string_equal(id.issuer, "example.org");
    assert_string_equal(id.auth_method, "mtls");
    assert_string_equal(id.token_fingerprint, hex);
    assert_null(id.audience);
    mt_identity_free(&id);
}

static void certificate_without_spiffe_id_maps_to_its_names(void **state)
{
    fixture *f = *state;
    mt_identity id;
    mt_errbuf eb = {{0}};
    assert_int_equal(identity_of(f, "URI:https://example.org/x", &id, &eb, NULL), MT_OK);
    assert_string_equal(id.subject, "CN=client");
    assert_string_equal(id.issuer, "CN=ca");
    assert_string_equal(id.auth_method, "mtls");
    assert_int_equal(strlen(id.token_fingerprint), 64);
    mt_identity_free(&id);
}

static void two_spiffe_ids_are_refused(void **state)
{
    fixture *f = *state;
    mt_identity id;
    mt_errbuf eb = {{0}};
    assert_int_equal(
        identity_of(f, "URI:spiffe://example.org/a,URI:spiffe://example.org/b", &id, &eb, NULL),
        MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "exactly one"));
    assert_null(id.subject);
}

static void invalid_spiffe_id_is_refused(void **state)
{
    fixture *f = *state;
    mt_identity id;
    mt_errbuf eb = {{0}};
    assert_int_equal(identity_of(f, "URI:spiffe://Example.org/a", &id, &eb, NULL), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "not a valid SPIFFE ID"));
}

static void spiffe_id_rules(void **state)
{
    (void)state;
#define CHECK(s) mt_spiffe_id_check(s, strlen(s))
    assert_int_equal(CHECK("spiffe://example.org"), 11);
    assert_int_equal(CHECK("spiffe://example.org/ns/prod/sa/ci"), 11);
    assert_int_equal(CHECK("spiffe://td_1-x.y/A.b-c_d"), 8);
    assert_int_equal(CHECK("spiffe://"), 0);
    assert_int_equal(CHECK("spiffe:///path"), 0);
    assert_int_equal(CHECK("spiffe://Example.org/a"), 0);     /* upper-case trust domain */
    assert_int_equal(CHECK("spiffe://example.org:443/a"), 0); /* port */
    assert_int_equal(CHECK("spiffe://u@example.org/a"), 0);   /* user info */
    assert_int_equal(CHECK("spiffe://example.org/"), 0);      /* trailing slash */
    assert_int_equal(CHECK("spiffe://example.org//a"), 0);    /* empty segment */
    assert_int_equal(CHECK("spiffe://example.org/a/../b"), 0);
    assert_int_equal(CHECK("spiffe://example.org/./b"), 0);
    assert_int_equal(CHECK("spiffe://example.org/a?x=1"), 0);
    assert_int_equal(CHECK("spiffe://example.org/a#f"), 0);
    assert_int_equal(CHECK("https://example.org/a"), 0);
    char longid[MT_SPIFFE_ID_MAX + 2];
    memset(longid, 'a', sizeof longid - 1);
    memcpy(longid, "spiffe://x/", 11);
    longid[sizeof longid - 1] = '\0';
    assert_int_equal(CHECK(longid), 0);
    longid[MT_SPIFFE_ID_MAX] = '\0';
    assert_int_equal(CHECK(longid), 1);
#undef CHECK
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(spiffe_svid_maps_to_spiffe_id_and_trust_domain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(certificate_without_spiffe_id_maps_to_its_names, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(two_spiffe_ids_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_spiffe_id_is_refused, setup, teardown),
        cmocka_unit_test(spiffe_id_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
