/* jwt: JWKS parsing and refusal of unsafe keys, base64url strictness, valid
 * RS256/ES256/EdDSA tokens turned into identities (plain, GitHub Actions,
 * GitLab CI), the identity JSON fitting the SessionEvent schema, and a table
 * of bad tokens each failing with its own code and log-safe message.
 *
 * Keys are generated with OpenSSL (through mt_jwt_key_generate) at group
 * setup, written as PEM files and a jwks.json into a mkdtemp directory that
 * group teardown removes; the JWKS is loaded back from that file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include "mcptrail/avro.h"
#include "mcptrail/crypto.h"
#include "mcptrail/json.h"
#include "mcptrail/jwt.h"
#include "sample_events.h"

#define NOW INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define ISS "https://issuer.example"

static const char *const auds[] = {"mcptrail", "mcptrail-alt"};
static const char *const algs[] = {"RS256", "ES256", "EdDSA"};
static const mt_jwt_policy policy = {ISS, auds, 2, algs, 3, 30};

static struct {
    char dir[96];
    mt_jwt_key *rs, *es, *ed, *ed_other; /* ed_other is not in the JWKS */
    mt_jwks *jwks;
} F;

static const char *const files[] = {"rs.pem", "es.pem", "ed.pem", "jwks.json"};

/* ---- helpers ---------------------------------------------------------- */

static void path_in(const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", F.dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static int group_setup(void **state)
{
    (void)state;
    mt_errbuf eb = {""};
    char p[160];
    const char *base = getenv("TMPDIR");
    snprintf(F.dir, sizeof F.dir, "%s/mt_jwt_XXXXXX",
             base != NULL && strlen(base) < 60 ? base : "/tmp");
    if (mkdtemp(F.dir) == NULL)
        return -1;
    struct {
        const char *kty, *file, *kid;
        mt_jwt_key **slot;
    } k[] = {{"RSA", "rs.pem", "rs", &F.rs},
             {"EC", "es.pem", "es", &F.es},
             {"OKP", "ed.pem", "ed", &F.ed}};
    json_t *keys = json_array();
    for (size_t i = 0; i < 3; i++) {
        mt_jwt_key *gen = NULL;
        json_t *jwk = NULL;
        path_in(k[i].file, p, sizeof p);
        /* Round trip through the PEM file so the loader is exercised too. */
        if (mt_jwt_key_generate(k[i].kty, &gen, &eb) || mt_jwt_key_write_pem_file(gen, p, &eb) ||
            mt_jwt_key_load_pem_file(p, k[i].slot, &eb) ||
            mt_jwt_key_public_jwk(*k[i].slot, k[i].kid, &jwk, &eb)) {
            fprintf(stderr, "setup: %s\n", eb.msg);
            return -1;
        }
        mt_jwt_key_free(gen);
        json_array_append_new(keys, jwk);
    }
    if (mt_jwt_key_generate("OKP", &F.ed_other, &eb))
        return -1;
    json_t *doc = json_pack("{s:o}", "keys", keys);
    path_in("jwks.json", p, sizeof p);
    if (json_dump_file(doc, p, JSON_COMPACT) != 0)
        return -1;
    json_decref(doc);
    if (mt_jwks_load_file(p, &F.jwks, &eb)) {
        fprintf(stderr, "setup: %s\n", eb.msg);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char p[160];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        path_in(files[i], p, sizeof p);
        unlink(p);
    }
    mt_jwks_free(F.jwks);
    mt_jwt_key_free(F.rs);
    mt_jwt_key_free(F.es);
    mt_jwt_key_free(F.ed);
    mt_jwt_key_free(F.ed_other);
    return rmdir(F.dir) == 0 ? 0 : -1;
}

/* Standard claims (iss, aud, sub, iat, exp = NOW+600) merged with the
 * object `extra`; a null value in extra removes the claim. */
static char *claims(const char *extra)
{
    json_t *c = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", ISS, "aud", "mcptrail", "sub",
                          "spiffe://cluster/ns/agents/sa/bot", "iat", (json_int_t)NOW, "exp",
                          (json_int_t)(NOW + 600));
    assert_non_null(c);
    if (extra != NULL) {
        json_t *e = json_loads(extra, 0, NULL);
        assert_non_null(e);
        const char *k;
        json_t *v;
        json_object_foreach(e, k, v)
        {
            if (json_is_null(v))
                json_object_del(c, k);
            else
                json_object_set(c, k, v);
        }
        json_decref(e);
    }
    char *s = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    assert_non_null(s);
    return s;
}

static char *sign_raw(const mt_jwt_key *k, const char *kid, const char *payload)
{
    mt_buf b = MT_BUF_INIT;
    mt_errbuf eb = {""};
    assert_int_equal(mt_jwt_sign(k, mt_jwt_key_alg(k), kid, payload, strlen(payload), &b, &eb),
                     MT_OK);
    assert_int_equal(mt_buf_append_byte(&b, 0), MT_OK);
    return (char *)b.data;
}

static char *mint(const mt_jwt_key *k, const char *kid, const char *extra)
{
    char *c = claims(extra);
    char *t = sign_raw(k, kid, c);
    free(c);
    return t;
}

static char *b64(const void *data, size_t len)
{
    mt_buf b = MT_BUF_INIT;
    assert_int_equal(mt_b64url_encode(data, len, &b), MT_OK);
    assert_int_equal(mt_buf_append_byte(&b, 0), MT_OK);
    return (char *)b.data;
}

static char *b64s(const char *s)
{
    return b64(s, strlen(s));
}

/* "a.b.c" from three NUL-terminated parts. */
static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%s.%s.%s", a, b, c);
    return s;
}

/* The token's three parts, each a new string. */
static void split3(const char *tok, char **h, char **p, char **s)
{
    const char *d1 = strchr(tok, '.');
    assert_non_null(d1);
    const char *d2 = strchr(d1 + 1, '.');
    assert_non_null(d2);
    *h = strndup(tok, (size_t)(d1 - tok));
    *p = strndup(d1 + 1, (size_t)(d2 - d1 - 1));
    *s = strdup(d2 + 1);
}

static mt_err verify_p(const mt_jwt_policy *pol, const mt_jwks *jwks, const char *tok,
                       mt_identity *id, mt_errbuf *eb)
{
    return mt_jwt_verify(jwks, pol, tok, tok != NULL ? strlen(tok) : 0, NOW, id, eb);
}

/* Expects failure with `code` and a message containing `want`; checks the
 * identity stayed empty and the message does not echo the signature. */
static void expect_fail(const char *tok, mt_err code, const char *want)
{
    mt_identity id;
    mt_errbuf eb = {""};
    mt_err err = verify_p(&policy, F.jwks, tok, &id, &eb);
    if (err != code || strstr(eb.msg, want) == NULL)
        fail_msg("want %s containing \"%s\", got %s \"%s\"", mt_errname(code), want,
                 mt_errname(err), eb.msg);
    assert_null(id.issuer);
    assert_null(id.claims);
    assert_string_equal(id.token_fingerprint, "");
    const char *sig = tok != NULL ? strrchr(tok, '.') : NULL;
    if (sig != NULL && strlen(sig + 1) >= 16)
        assert_null(strstr(eb.msg, sig + 1));
    if (tok != NULL && strlen(tok) >= 16)
        assert_null(strstr(eb.msg, tok));
}

static void expect_ok(const char *tok, mt_identity *id)
{
    mt_errbuf eb = {""};
    mt_err err = verify_p(&policy, F.jwks, tok, id, &eb);
    if (err != MT_OK)
        fail_msg("token refused: %s: %s", mt_errname(err), eb.msg);
}

/* ---- base64url -------------------------------------------------------- */

static void b64url_round_trips_rfc4648_vectors_without_padding(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    uint8_t out[16];
    size_t n = 0;
    for (size_t i = 0; i < 7; i++) {
        char *e = b64(plain[i], strlen(plain[i]));
        assert_string_equal(e, enc[i]);
        free(e);
        assert_int_equal(mt_b64url_decode(enc[i], strlen(enc[i]), out, sizeof out, &n, NULL),
                         MT_OK);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(out, plain[i], n);
    }
    uint8_t bin[] = {0xfb, 0xff, 0xbf};
    char *e = b64(bin, sizeof bin);
    assert_string_equal(e, "-_-_"); /* url alphabet, never + or / */
    free(e);
}

static void b64url_decode_is_strict(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n = 0;
    mt_errbuf eb = {""};
    assert_int_equal(mt_b64url_decode("Z", 1, out, sizeof out, &n, &eb), MT_ERR_PARSE);
    assert_int_equal(mt_b64url_decode("Zh", 2, out, sizeof out, &n, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "padding bits"));
    assert_int_equal(mt_b64url_decode("Zg==", 4, out, sizeof out, &n, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "offset 2"));
    assert_int_equal(mt_b64url_decode("+/+/", 4, out, sizeof out, &n, &eb), MT_ERR_PARSE);
    assert_int_equal(mt_b64url_decode("Zm 9v", 5, out, sizeof out, &n, &eb), MT_ERR_PARSE);
    assert_int_equal(mt_b64url_decode("Zm9vYmFy", 8, out, 5, &n, &eb), MT_ERR_TOO_LARGE);
}

/* ---- JWKS ------------------------------------------------------------- */

static mt_err jwks_text(const char *text, mt_jwks **out, mt_errbuf *eb)
{
    return mt_jwks_parse(text, strlen(text), out, eb);
}

static void jwks_file_loads_all_three_key_types(void **state)
{
    (void)state;
    assert_int_equal(mt_jwks_count(F.jwks), 3);
    assert_int_equal(mt_jwks_skipped(F.jwks), 0);
}

static void jwks_refuses_symmetric_keys_and_private_material(void **state)
{
    (void)state;
    mt_jwks *j = NULL;
    mt_errbuf eb = {""};
    assert_int_equal(
        jwks_text("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}]}", &j, &eb),
        MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "symmetric ('oct') keys are not accepted"));
    assert_non_null(strstr(eb.msg, "kid 'h'"));
    assert_null(j);
    assert_int_equal(jwks_text("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":"
                               "\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"d\":"
                               "\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}]}",
                               &j, &eb),
                     MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "private key material"));
}

static void jwks_skips_unsupported_keys_but_needs_one_usable(void **state)
{
    (void)state;
    mt_jwks *j = NULL;
    mt_errbuf eb = {""};
    /* RFC 8037 A.2 public key; the others are skipped: encryption use,
     * an alg never verified here, a curve not supported. */
    const char *ok = "{\"keys\":["
                     "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"use\":\"enc\",\"x\":\"AA\"},"
                     "{\"kty\":\"RSA\",\"alg\":\"RS384\",\"n\":\"AA\",\"e\":\"AQAB\"},"
                     "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"},"
                     "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"rfc8037\","
                     "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";
    assert_int_equal(jwks_text(ok, &j, &eb), MT_OK);
    assert_int_equal(mt_jwks_count(j), 1);
    assert_int_equal(mt_jwks_skipped(j), 3);
    mt_jwks_free(j);
    assert_int_equal(jwks_text("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-521\"}]}", &j, &eb),
                     MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "no usable key (1 skipped"));
    assert_int_equal(jwks_text("{\"keys\":[]}", &j, &eb), MT_ERR_CONFIG);
}

static void jwks_rejects_malformed_keys_with_their_index(void **state)
{
    (void)state;
    mt_jwks *j = NULL;
    mt_errbuf eb = {""};
    char text[1024];
    char *n1024;
    uint8_t ff[128];

    assert_int_equal(jwks_text("not json", &j, &eb), MT_ERR_PARSE);
    assert_int_equal(jwks_text("{\"k\":[]}", &j, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "'keys'"));
    assert_int_equal(jwks_text("{\"keys\":[1]}", &j, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "key 0 must be an object"));
    assert_int_equal(
        jwks_text("{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"ES256\",\"n\":\"AA\"}]}", &j, &eb),
        MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "alg 'ES256' does not fit kty RSA"));
    memset(ff, 0xff, sizeof ff);
    n1024 = b64(ff, sizeof ff);
    snprintf(text, sizeof text, "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"AQAB\"}]}",
             n1024);
    free(n1024);
    assert_int_equal(jwks_text(text, &j, &eb), MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "RSA modulus of 1024 bits"));
    /* x = y = 1 is not a point on P-256. */
    assert_int_equal(jwks_text("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"bad\","
                               "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\","
                               "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE\"}]}",
                               &j, &eb),
                     MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "JWKS key 0"));
    assert_int_equal(
        jwks_text("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]}", &j, &eb),
        MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "must be 32 bytes"));
    assert_int_equal(
        jwks_text("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"A+A\"}]}", &j, &eb),
        MT_ERR_PARSE);
    assert_int_equal(mt_jwks_load_file("/nonexistent/jwks.json", &j, &eb), MT_ERR_NOT_FOUND);
    assert_non_null(strstr(eb.msg, "/nonexistent/jwks.json"));
    assert_null(j);
}

/* ---- valid tokens ----------------------------------------------------- */

static void assert_plain_identity(const char *tok, const mt_identity *id)
{
    uint8_t d[MT_SHA256_LEN];
    char hex[65];
    assert_string_equal(id->issuer, ISS);
    assert_string_equal(id->subject, "spiffe://cluster/ns/agents/sa/bot");
    assert_string_equal(id->audience, "mcptrail");
    assert_string_equal(id->auth_method, "jwt");
    assert_int_equal(mt_sha256(tok, strlen(tok), d), MT_OK);
    assert_int_equal(mt_hex_encode(d, sizeof d, hex, sizeof hex), MT_OK);
    assert_string_equal(id->token_fingerprint, hex);
    assert_null(id->ci.repository);
    assert_int_equal(id->ci.run_attempt, 0);
    assert_true(json_is_object(id->claims));
    assert_string_equal(json_string_value(json_object_get(id->claims, "sub")), id->subject);
}

static void valid_rs256_es256_and_eddsa_tokens_give_identities(void **state)
{
    (void)state;
    const struct {
        mt_jwt_key *k;
        const char *kid;
    } cases[] = {{F.rs, "rs"}, {F.es, "es"}, {F.ed, "ed"}};
    for (size_t i = 0; i < 3; i++) {
        mt_identity id;
        char *tok = mint(cases[i].k, cases[i].kid, NULL);
        expect_ok(tok, &id);
        assert_plain_identity(tok, &id);
        mt_identity_free(&id);
        assert_null(id.claims);
        mt_identity_free(&id); /* idempotent */
        free(tok);
    }
}

static void token_without_kid_is_tried_against_keys_of_its_type(void **state)
{
    (void)state;
    mt_identity id;
    mt_errbuf eb = {""};
    json_t *a = NULL, *b = NULL;
    mt_jwks *two = NULL;
    /* Two Ed25519 keys, the signing one second. */
    assert_int_equal(mt_jwt_key_public_jwk(F.ed_other, "other", &a, &eb), MT_OK);
    assert_int_equal(mt_jwt_key_public_jwk(F.ed, NULL, &b, &eb), MT_OK);
    json_t *doc = json_pack("{s:[o,o]}", "keys", a, b);
    char *text = json_dumps(doc, 0);
    json_decref(doc);
    assert_int_equal(jwks_text(text, &two, &eb), MT_OK);
    free(text);
    char *tok = mint(F.ed, NULL, NULL);
    assert_int_equal(verify_p(&policy, two, tok, &id, &eb), MT_OK);
    mt_identity_free(&id);
    free(tok);
    tok = mint(F.rs, NULL, NULL);
    assert_int_equal(verify_p(&policy, two, tok, &id, &eb), MT_ERR_NOT_FOUND);
    assert_string_equal(eb.msg, "token has no kid and the JWKS has no RS256 key");
    free(tok);
    tok = mint(F.ed_other, NULL, "{\"sub\":\"x\"}");
    mt_jwt_key *third = NULL;
    assert_int_equal(mt_jwt_key_generate("OKP", &third, &eb), MT_OK);
    free(tok);
    tok = mint(third, NULL, NULL);
    assert_int_equal(verify_p(&policy, two, tok, &id, &eb), MT_ERR_BAD_SIGNATURE);
    assert_non_null(strstr(eb.msg, "any of the 2 EdDSA keys"));
    mt_jwt_key_free(third);
    free(tok);
    mt_jwks_free(two);
}

static void audience_array_matches_policy_order_and_leeway_applies(void **state)
{
    (void)state;
    mt_identity id;
    char *tok = mint(F.es, "es", "{\"aud\":[\"other\",\"mcptrail-alt\",\"mcptrail\"]}");
    expect_ok(tok, &id);
    assert_string_equal(id.audience, "mcptrail"); /* first policy audience wins */
    mt_identity_free(&id);
    free(tok);
    /* expired 10 s ago, nbf 10 s ahead: inside the 30 s leeway */
    tok = mint(F.ed, "ed", "{\"exp\":1767225590,\"nbf\":1767225610,\"iat\":1767225620}");
    expect_ok(tok, &id);
    mt_identity_free(&id);
    free(tok);
    /* NumericDate may be fractional */
    tok = mint(F.ed, "ed", "{\"exp\":1767225700.5}");
    expect_ok(tok, &id);
    mt_identity_free(&id);
    free(tok);
}

static void github_actions_claims_are_mapped(void **state)
{
    (void)state;
    mt_identity id;
    /* Claim set as documented for GitHub Actions OIDC tokens. */
    char *tok = mint(
        F.rs, "rs",
        "{\"sub\":\"repo:octo-org/octo-repo:environment:prod\",\"aud\":\"mcptrail\","
        "\"ref\":\"refs/heads/main\",\"sha\":\"example-sha\",\"repository\":\"octo-org/octo-repo\","
        "\"repository_owner\":\"octo-org\",\"actor_id\":\"12\",\"repository_visibility\":"
        "\"private\",\"repository_id\":\"74\",\"repository_owner_id\":\"65\",\"run_id\":"
        "\"5432\",\"run_number\":\"10\",\"run_attempt\":\"2\",\"runner_environment\":"
        "\"github-hosted\",\"actor\":\"octocat\",\"workflow\":\"example-workflow\",\"head_ref\":"
        "\"\",\"base_ref\":\"\",\"event_name\":\"workflow_dispatch\",\"ref_type\":\"branch\","
        "\"environment\":\"prod\",\"job_workflow_ref\":"
        "\"octo-org/octo-automation/.github/workflows/oidc.yml@refs/heads/main\"}");
    expect_ok(tok, &id);
    assert_string_equal(id.subject, "repo:octo-org/octo-repo:environment:prod");
    assert_string_equal(id.ci.repository, "octo-org/octo-repo");
    assert_string_equal(id.ci.workflow, "example-workflow");
    assert_null(id.ci.job);
    assert_string_equal(id.ci.run_id, "5432");
    assert_int_equal(id.ci.run_attempt, 2);
    assert_string_equal(id.ci.sha, "example-sha");
    assert_string_equal(id.ci.ref, "refs/heads/main");
    assert_string_equal(id.ci.actor, "octocat");
    assert_string_equal(id.ci.environment, "prod");
    assert_string_equal(json_string_value(json_object_get(id.claims, "repository_owner")),
                        "octo-org");
    mt_identity_free(&id);
    free(tok);

    /* No workflow claim: job_workflow_ref stands in; bad run_attempt -> 0. */
    tok = mint(F.ed, "ed",
               "{\"repository\":\"o/r\",\"run_id\":77,\"run_attempt\":\"x1\","
               "\"job_workflow_ref\":\"o/r/.github/workflows/a.yml@refs/heads/main\"}");
    expect_ok(tok, &id);
    assert_string_equal(id.ci.workflow, "o/r/.github/workflows/a.yml@refs/heads/main");
    assert_string_equal(id.ci.run_id, "77");
    assert_int_equal(id.ci.run_attempt, 0);
    assert_null(id.ci.environment);
    mt_identity_free(&id);
    free(tok);
}

static void gitlab_ci_claims_are_mapped(void **state)
{
    (void)state;
    mt_identity id;
    /* Claim set as documented for GitLab CI ID tokens. */
    char *tok = mint(
        F.es, "es",
        "{\"namespace_id\":\"72\",\"namespace_path\":\"my-group\",\"project_id\":\"20\","
        "\"project_path\":\"my-group/my-project\",\"user_id\":\"1\",\"user_login\":\"sample-user\","
        "\"user_email\":\"sample-user@example.com\",\"pipeline_id\":\"574\",\"pipeline_source\":"
        "\"push\",\"job_id\":\"302\",\"ref\":\"feature-branch-1\",\"ref_type\":\"branch\","
        "\"ref_path\":\"refs/heads/feature-branch-1\",\"ref_protected\":\"false\","
        "\"environment\":\"test-environment2\",\"environment_protected\":\"false\","
        "\"deployment_tier\":\"testing\",\"sha\":\"714a629c0b401fdce83e847fc9589983fc6f46bc\","
        "\"ci_config_ref_uri\":\"gitlab.example.com/my-group/my-project//.gitlab-ci.yml@refs/"
        "heads/main\",\"sub\":\"project_path:my-group/my-project:ref_type:branch:ref:feature-"
        "branch-1\",\"groups_direct\":[\"my-group\"]}");
    expect_ok(tok, &id);
    assert_string_equal(id.ci.repository, "my-group/my-project");
    assert_string_equal(id.ci.workflow,
                        "gitlab.example.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main");
    assert_string_equal(id.ci.job, "302");
    assert_string_equal(id.ci.run_id, "574");
    assert_int_equal(id.ci.run_attempt, 0);
    assert_string_equal(id.ci.sha, "714a629c0b401fdce83e847fc9589983fc6f46bc");
    assert_string_equal(id.ci.ref, "feature-branch-1");
    assert_string_equal(id.ci.actor, "sample-user");
    assert_string_equal(id.ci.environment, "test-environment2");
    assert_true(json_is_array(json_object_get(id.claims, "groups_direct")));

    /* identity JSON: exact shape, and it encodes inside a SessionEvent. */
    json_t *j = mt_identity_to_json(&id);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 6);
    assert_int_equal(json_object_size(json_object_get(j, "ci")), 9);
    assert_true(json_is_null(json_object_get(json_object_get(j, "ci"), "run_attempt")));
    assert_string_equal(json_string_value(json_object_get(j, "token_fingerprint")),
                        id.token_fingerprint);
    mt_avro_registry *reg = NULL;
    mt_errbuf eb = {""};
    mt_buf enc = MT_BUF_INIT;
    json_t *back = NULL;
    assert_int_equal(mt_avro_registry_load(NULL, &reg, &eb), MT_OK);
    const mt_avro_schema *s = mt_avro_registry_find(reg, "dev.mcptrail.SessionEvent");
    assert_non_null(s);
    json_t *ev = mt_sample_session_event(3);
    assert_int_equal(json_object_set(ev, "identity", j), 0);
    if (mt_avro_encode(s, ev, &enc, &eb) != MT_OK)
        fail_msg("identity JSON does not fit the schema: %s", eb.msg);
    assert_int_equal(mt_avro_decode(reg, enc.data, enc.len, NULL, &back, &eb), MT_OK);
    assert_true(json_equal(json_object_get(back, "identity"), j));
    json_decref(back);
    json_decref(ev);
    mt_buf_free(&enc);
    mt_avro_registry_free(reg);
    json_decref(j);
    mt_identity_free(&id);
    free(tok);
}

static void identity_json_of_plain_and_absent_identities(void **state)
{
    (void)state;
    json_t *j = mt_identity_to_json(NULL);
    json_t *want = json_pack("{s:n,s:n,s:n,s:n,s:n,s:n}", "issuer", "subject", "audience",
                             "auth_method", "token_fingerprint", "ci");
    assert_true(json_equal(j, want));
    json_decref(j);
    json_decref(want);

    mt_identity id;
    char *tok = mint(F.ed, "ed", NULL);
    expect_ok(tok, &id);
    j = mt_identity_to_json(&id);
    want = json_pack("{s:s,s:s,s:s,s:s,s:s,s:n}", "issuer", ISS, "subject",
                     "spiffe://cluster/ns/agents/sa/bot", "audience", "mcptrail", "auth_method",
                     "jwt", "token_fingerprint", id.token_fingerprint, "ci");
    assert_true(json_equal(j, want));
    json_decref(j);
    json_decref(want);
    mt_identity_free(&id);
    free(tok);
}

/* ---- bad tokens ------------------------------------------------------- */

static void malformed_tokens_are_parse_errors(void **state)
{
    (void)state;
    char *h_ok = b64s("{\"alg\":\"EdDSA\",\"kid\":\"ed\"}");
    char *h_bad = b64s("{\"alg\":");
    char *h_arr = b64s("[1]");
    char *h_noalg = b64s("{\"kid\":\"ed\"}");
    char *h_crit = b64s("{\"alg\":\"EdDSA\",\"crit\":[\"b64\"]}");
    char deep[64];
    memset(deep, '[', 30);
    memcpy(deep, "{\"a\":", 5);
    char *h_deep = b64(deep, 30); /* 26 levels */
    char *t;

    expect_fail("", MT_ERR_INVALID_ARG, "no bearer token");
    expect_fail(NULL, MT_ERR_INVALID_ARG, "no bearer token");
    expect_fail("abc.def", MT_ERR_PARSE, "token has 2 parts, want 3");
    expect_fail("eyJ", MT_ERR_PARSE, "token has 1 parts");
    expect_fail("a.b.c.d", MT_ERR_PARSE, "token has 4 parts");
    expect_fail(".YQ.YQ", MT_ERR_PARSE, "token has an empty header");
    expect_fail("e$J.YQ.YQ", MT_ERR_PARSE, "token header is not valid base64url");
    t = join3(h_bad, "YQ", "YQ");
    expect_fail(t, MT_ERR_PARSE, "token header is not valid JSON");
    free(t);
    t = join3(h_arr, "YQ", "YQ");
    expect_fail(t, MT_ERR_PARSE, "token header must be a JSON object");
    free(t);
    t = join3(h_noalg, "YQ", "YQ");
    expect_fail(t, MT_ERR_PARSE, "token header: field 'alg' is required");
    free(t);
    t = join3(h_crit, "YQ", "YQ");
    expect_fail(t, MT_ERR_PARSE, "'crit'");
    free(t);
    t = join3(h_deep, "YQ", "YQ");
    expect_fail(t, MT_ERR_TOO_LARGE, "nests deeper than 16 levels");
    free(t);
    t = join3(h_ok, "YQ", "a*b");
    expect_fail(t, MT_ERR_PARSE, "token signature is not valid base64url");
    free(t);

    /* Signed, but the payload is not a JSON object. */
    t = sign_raw(F.ed, "ed", "not json");
    expect_fail(t, MT_ERR_PARSE, "token payload is not valid JSON");
    free(t);
    t = sign_raw(F.ed, "ed", "[1,2]");
    expect_fail(t, MT_ERR_PARSE, "token payload must be a JSON object");
    free(t);
    free(h_ok);
    free(h_bad);
    free(h_arr);
    free(h_noalg);
    free(h_crit);
    free(h_deep);
}

static void time_claims_are_enforced_with_leeway(void **state)
{
    (void)state;
    char *t = mint(F.ed, "ed", "{\"exp\":1767225480}"); /* 120 s ago */
    expect_fail(t, MT_ERR_TIMEOUT, "token expired 120 s ago (exp 1767225480, leeway 30 s)");
    free(t);
    t = mint(F.ed, "ed", "{\"exp\":null}");
    expect_fail(t, MT_ERR_PARSE, "claim 'exp' is required");
    free(t);
    t = mint(F.ed, "ed", "{\"exp\":\"tomorrow\"}");
    expect_fail(t, MT_ERR_PARSE, "claim 'exp' must be a number (NumericDate), got string");
    free(t);
    t = mint(F.ed, "ed", "{\"nbf\":1767225700}");
    expect_fail(t, MT_ERR_STATE, "token not valid for another 100 s (nbf 1767225700, leeway 30 s)");
    free(t);
    t = mint(F.ed, "ed", "{\"iat\":1767225700}");
    expect_fail(t, MT_ERR_STATE, "token issued 100 s in the future");
    free(t);
    /* Absurd values are clamped, not overflowed. */
    t = mint(F.ed, "ed", "{\"exp\":-9223372036854775807}");
    expect_fail(t, MT_ERR_TIMEOUT, "token expired");
    free(t);
    t = mint(F.ed, "ed", "{\"nbf\":9223372036854775807,\"exp\":1e300}");
    expect_fail(t, MT_ERR_STATE, "token not valid for another");
    free(t);
}

static void issuer_and_audience_must_match_the_policy(void **state)
{
    (void)state;
    char *t = mint(F.rs, "rs", "{\"aud\":\"x\"}");
    expect_fail(t, MT_ERR_CONFIG, "audience 'x' not accepted (want 'mcptrail', 'mcptrail-alt')");
    free(t);
    t = mint(F.rs, "rs", "{\"aud\":[\"x\",\"y\"]}");
    expect_fail(t, MT_ERR_CONFIG, "audience 'x' (and 1 more) not accepted");
    free(t);
    t = mint(F.rs, "rs", "{\"aud\":[]}");
    expect_fail(t, MT_ERR_CONFIG, "audience list is empty");
    free(t);
    t = mint(F.rs, "rs", "{\"aud\":[\"mcptrail\",7]}");
    expect_fail(t, MT_ERR_PARSE, "claim 'aud' item 1 must be a string, got integer");
    free(t);
    t = mint(F.rs, "rs", "{\"aud\":null}");
    expect_fail(t, MT_ERR_PARSE, "claim 'aud' is required");
    free(t);
    t = mint(F.rs, "rs", "{\"iss\":\"https://evil.example\"}");
    expect_fail(t, MT_ERR_CONFIG,
                "issuer 'https://evil.example' not accepted (want 'https://issuer.example')");
    free(t);
    t = mint(F.rs, "rs", "{\"iss\":null}");
    expect_fail(t, MT_ERR_PARSE, "field 'iss' is required");
    free(t);
    /* Strings from the token are cut and made printable in messages. */
    t = mint(F.rs, "rs", "{\"iss\":\"a\\u0001b'c\"}");
    expect_fail(t, MT_ERR_CONFIG, "issuer 'a?b?c' not accepted");
    free(t);
}

static void alg_none_and_hmac_key_confusion_are_refused(void **state)
{
    (void)state;
    char *c = claims(NULL);
    char *p = b64(c, strlen(c));
    free(c);

    /* alg none with an empty signature */
    const char *hn = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
    char *h = b64(hn, strlen(hn));
    char *t = join3(h, p, "");
    expect_fail(t, MT_ERR_BAD_SIGNATURE, "alg 'none' not allowed (allowed: RS256, ES256, EdDSA)");
    free(t);
    free(h);

    /* HS256 with the RSA public key (DER SPKI) as the HMAC secret */
    const char *hh = "{\"alg\":\"HS256\",\"kid\":\"rs\"}";
    h = b64(hh, strlen(hh));
    mt_buf der = MT_BUF_INIT, input = MT_BUF_INIT;
    uint8_t mac[MT_SHA256_LEN];
    assert_int_equal(mt_jwt_key_public_der(F.rs, &der, NULL), MT_OK);
    assert_int_equal(mt_buf_append(&input, h, strlen(h)), MT_OK);
    assert_int_equal(mt_buf_append(&input, ".", 1), MT_OK);
    assert_int_equal(mt_buf_append(&input, p, strlen(p)), MT_OK);
    assert_int_equal(mt_hmac_sha256(der.data, der.len, input.data, input.len, mac, NULL), MT_OK);
    char *s = b64(mac, sizeof mac);
    t = join3(h, p, s);
    expect_fail(t, MT_ERR_BAD_SIGNATURE, "alg 'HS256' not allowed");
    free(t);
    free(s);
    free(h);
    mt_buf_free(&der);
    mt_buf_free(&input);
    free(p);

    /* A supported alg outside the policy's allow-list */
    static const char *const only_ed[] = {"EdDSA"};
    mt_jwt_policy pol = policy;
    pol.algs = only_ed;
    pol.nalgs = 1;
    mt_identity id;
    mt_errbuf eb = {""};
    t = mint(F.rs, "rs", NULL);
    assert_int_equal(verify_p(&pol, F.jwks, t, &id, &eb), MT_ERR_BAD_SIGNATURE);
    assert_string_equal(eb.msg, "alg 'RS256' not allowed (allowed: EdDSA)");
    free(t);
}

static void alg_must_fit_the_key_type(void **state)
{
    (void)state;
    char *t = mint(F.es, "rs", NULL); /* ES256 header, kid of the RSA key */
    expect_fail(t, MT_ERR_BAD_SIGNATURE, "alg 'ES256' does not fit key 'rs' (kty RSA, alg RS256)");
    free(t);
    t = mint(F.ed, "es", NULL);
    expect_fail(t, MT_ERR_BAD_SIGNATURE, "alg 'EdDSA' does not fit key 'es' (kty EC");
    free(t);
}

static void unknown_kid_is_not_found_so_the_caller_can_refresh(void **state)
{
    (void)state;
    char *t = mint(F.ed, "nope", NULL);
    expect_fail(t, MT_ERR_NOT_FOUND, "kid 'nope' not in JWKS");
    free(t);
    t = mint(F.ed, "k\x7fy", NULL);
    expect_fail(t, MT_ERR_NOT_FOUND, "kid 'k?y' not in JWKS");
    free(t);
}

static void tampered_and_foreign_signatures_fail(void **state)
{
    (void)state;
    const struct {
        mt_jwt_key *k;
        const char *kid, *alg;
    } cases[] = {{F.rs, "rs", "RS256"}, {F.es, "es", "ES256"}, {F.ed, "ed", "EdDSA"}};
    char want[128];
    for (size_t i = 0; i < 3; i++) {
        char *tok = mint(cases[i].k, cases[i].kid, NULL);
        char *h, *p, *s;
        split3(tok, &h, &p, &s);
        char *c = claims("{\"sub\":\"admin\"}");
        char *p2 = b64(c, strlen(c));
        char *t = join3(h, p2, s);
        snprintf(want, sizeof want, "signature does not verify (alg %s, key '%s')", cases[i].alg,
                 cases[i].kid);
        expect_fail(t, MT_ERR_BAD_SIGNATURE, want);
        free(t);

        /* signature one byte short (drop 2 chars, keeping valid length) */
        s[strlen(s) - 2] = '\0';
        t = join3(h, p, s);
        expect_fail(t, MT_ERR_BAD_SIGNATURE, "signature is ");
        expect_fail(t, MT_ERR_BAD_SIGNATURE, i == 0 ? "want 256 for RS256 key 'rs'" : "want 64");
        free(t);
        free(c);
        free(p2);
        free(h);
        free(p);
        free(s);
        free(tok);
    }
    /* Right kid, wrong key */
    char *t = mint(F.ed_other, "ed", NULL);
    expect_fail(t, MT_ERR_BAD_SIGNATURE, "signature does not verify (alg EdDSA, key 'ed')");
    free(t);
    /* ES256 with r = s = 0 */
    char *tok = mint(F.es, "es", NULL);
    char *h, *p, *s;
    split3(tok, &h, &p, &s);
    uint8_t zero[64] = {0};
    char *z = b64(zero, sizeof zero);
    t = join3(h, p, z);
    expect_fail(t, MT_ERR_BAD_SIGNATURE, "signature does not verify");
    free(t);
    free(z);
    free(h);
    free(p);
    free(s);
    free(tok);
}

static void oversized_token_is_refused_before_parsing(void **state)
{
    (void)state;
    size_t n = MT_JWT_MAX_TOKEN + 1;
    char *t = malloc(n + 1);
    assert_non_null(t);
    memset(t, 'A', n);
    t[10] = '.';
    t[20] = '.';
    t[n] = '\0';
    expect_fail(t, MT_ERR_TOO_LARGE, "token is 16385 bytes, limit is 16384");
    free(t);
}

static void bad_policies_are_invalid_arguments(void **state)
{
    (void)state;
    static const char *const hs[] = {"HS256"};
    mt_identity id;
    mt_errbuf eb = {""};
    char *t = mint(F.ed, "ed", NULL);
    mt_jwt_policy pol = policy;
    pol.algs = hs;
    pol.nalgs = 1;
    assert_int_equal(verify_p(&pol, F.jwks, t, &id, &eb), MT_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "alg 'HS256' is not supported"));
    pol = policy;
    pol.issuer = NULL;
    assert_int_equal(verify_p(&pol, F.jwks, t, &id, &eb), MT_ERR_INVALID_ARG);
    pol = policy;
    pol.naud = 0;
    assert_int_equal(verify_p(&pol, F.jwks, t, &id, &eb), MT_ERR_INVALID_ARG);
    free(t);
}

static void signing_refuses_an_alg_that_does_not_fit_the_key(void **state)
{
    (void)state;
    mt_buf b = MT_BUF_INIT;
    mt_errbuf eb = {""};
    assert_int_equal(mt_jwt_sign(F.rs, "ES256", NULL, "{}", 2, &b, &eb), MT_ERR_INVALID_ARG);
    assert_int_equal(b.len, 0);
    assert_int_equal(mt_jwt_sign(F.rs, "HS256", NULL, "{}", 2, &b, &eb), MT_ERR_INVALID_ARG);
    assert_string_equal(mt_jwt_key_alg(F.es), "ES256");
    mt_jwt_key *k = NULL;
    assert_int_equal(mt_jwt_key_generate("DSA", &k, &eb), MT_ERR_INVALID_ARG);
    assert_int_equal(mt_jwt_key_load_pem_file("/nonexistent.pem", &k, &eb), MT_ERR_NOT_FOUND);
    mt_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(b64url_round_trips_rfc4648_vectors_without_padding),
        cmocka_unit_test(b64url_decode_is_strict),
        cmocka_unit_test(jwks_file_loads_all_three_key_types),
        cmocka_unit_test(jwks_refuses_symmetric_keys_and_private_material),
        cmocka_unit_test(jwks_skips_unsupported_keys_but_needs_one_usable),
        cmocka_unit_test(jwks_rejects_malformed_keys_with_their_index),
        cmocka_unit_test(valid_rs256_es256_and_eddsa_tokens_give_identities),
        cmocka_unit_test(token_without_kid_is_tried_against_keys_of_its_type),
        cmocka_unit_test(audience_array_matches_policy_order_and_leeway_applies),
        cmocka_unit_test(github_actions_claims_are_mapped),
        cmocka_unit_test(gitlab_ci_claims_are_mapped),
        cmocka_unit_test(identity_json_of_plain_and_absent_identities),
        cmocka_unit_test(malformed_tokens_are_parse_errors),
        cmocka_unit_test(time_claims_are_enforced_with_leeway),
        cmocka_unit_test(issuer_and_audience_must_match_the_policy),
        cmocka_unit_test(alg_none_and_hmac_key_confusion_are_refused),
        cmocka_unit_test(alg_must_fit_the_key_type),
        cmocka_unit_test(unknown_kid_is_not_found_so_the_caller_can_refresh),
        cmocka_unit_test(tampered_and_foreign_signatures_fail),
        cmocka_unit_test(oversized_token_is_refused_before_parsing),
        cmocka_unit_test(bad_policies_are_invalid_arguments),
        cmocka_unit_test(signing_refuses_an_alg_that_does_not_fit_the_key),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
