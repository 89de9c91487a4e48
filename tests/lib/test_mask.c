/* mask: every built-in detector finds a planted value and leaves its decoy
 * alone; validators; actions (redact, tokenize, partial, drop); allow-lists;
 * JSON field-name rules and MCP's non-secret names; escaped JSON inside
 * strings; invalid UTF-8 and depth fallbacks; bad user rules named by id;
 * oversize strings; explain never sees secret bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "mcptrail/log.h"
#include "mcptrail/mask.h"
/* The fast scans (mask_simd.c, mask_native.c) against their references. */
#include "../../lib/src/mask_internal.h"
#include "mask_cases.h"
#if __has_include("mask_provider_cases.h")
#define MT_HAVE_PROVIDER_CASES 1
#include "mask_provider_cases.h"
#endif

static mt_mask_engine *eng;

static const void *has_bytes(const void *hay, size_t n, const char *needle, size_t k)
{
    const char *h = hay;
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(h + i, needle, k) == 0)
            return h + i;
    return NULL;
}
static mt_mask_ctx *ctx;

static int setup(void **state)
{
    (void)state;
    mt_mask_rules *r;
    mt_errbuf eb = {""};
    if (mt_mask_rules_load(NULL, 0, &r, &eb) || mt_mask_engine_new(r, &eng, &eb) ||
        mt_mask_ctx_new(eng, &ctx, &eb)) {
        fprintf(stderr, "setup: %s\n", eb.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mt_mask_ctx_free(ctx);
    mt_mask_engine_free(eng);
    return 0;
}

/* Masks s as text with the default engine; returns a malloc'd string. */
static char *mask_text_with(mt_mask_ctx *c, const char *s)
{
    mt_buf out = MT_BUF_INIT;
    mt_errbuf eb = {""};
    assert_int_equal(mt_mask_text(c, s, strlen(s), &out, NULL, &eb), MT_OK);
    assert_int_equal(mt_buf_append_byte(&out, 0), MT_OK);
    return (char *)out.data;
}
static char *mask_text(const char *s) { return mask_text_with(ctx, s); }

static char *mask_json_with(mt_mask_ctx *c, const char *s, mt_err want)
{
    mt_buf out = MT_BUF_INIT;
    mt_errbuf eb = {""};
    assert_int_equal(mt_mask_json(c, s, strlen(s), &out, NULL, &eb), want);
    if (want != MT_OK) {
        assert_int_equal(out.len, 0); /* nothing half-written */
        mt_buf_free(&out);
        return NULL;
    }
    assert_int_equal(mt_buf_append_byte(&out, 0), MT_OK);
    return (char *)out.data;
}

static mt_mask_ctx *ctx_for_rules(const char *json, mt_mask_engine **e)
{
    mt_mask_rules *r;
    mt_mask_ctx *c;
    mt_errbuf eb = {""};
    assert_int_equal(mt_mask_rules_load(json, strlen(json), &r, &eb), MT_OK);
    if (mt_mask_engine_new(r, e, &eb) != MT_OK)
        fail_msg("engine: %s", eb.msg);
    assert_int_equal(mt_mask_ctx_new(*e, &c, &eb), MT_OK);
    return c;
}

/* The detector ids the explain callback reported for one text. */
typedef struct ids_seen {
    char ids[512];
} ids_seen;

static void collect_ids(void *ud, const mt_mask_match *m)
{
    ids_seen *s = ud;
    size_t n = strlen(s->ids);
    snprintf(s->ids + n, sizeof s->ids - n, " %s ", m->detector);
}

static void check_case_with(mt_mask_ctx *c, const mask_case *k)
{
    ids_seen seen = {""};
    char want[80];
    mt_mask_ctx_set_explain(c, collect_ids, &seen);
    char *m = mask_text_with(c, k->text);
    mt_mask_ctx_set_explain(c, NULL, NULL);
    if (strstr(m, k->secret))
        fail_msg("%s: secret survived: %s", k->id, m);
    if (k->keep && !strstr(m, k->keep))
        fail_msg("%s: context lost: %s", k->id, m);
    snprintf(want, sizeof want, " %s ", k->id);
    if (!strstr(seen.ids, want))
        fail_msg("%s: masked by%s, not by %s: %s", k->id, seen.ids, k->id, m);
    free(m);
}

static bool has_case(const char *id)
{
    for (size_t i = 0; i < sizeof mask_cases / sizeof mask_cases[0]; i++)
        if (strcmp(mask_cases[i].id, id) == 0)
            return true;
#ifdef MT_HAVE_PROVIDER_CASES
    for (size_t i = 0; i < sizeof mask_provider_cases / sizeof mask_provider_cases[0]; i++)
        if (strcmp(mask_provider_cases[i].id, id) == 0)
            return true;
#endif
    for (size_t i = 0; i < sizeof mask_pseudo_ids / sizeof mask_pseudo_ids[0]; i++)
        if (strcmp(mask_pseudo_ids[i], id) == 0)
            return true;
    return false;
}

/* Every detector of the engine has a planted case (tests/lib/mask_cases.h,
 * mask_provider_cases.h), and each case is masked by its own detector. */
static void each_detector_masks_its_planted_value(void **state)
{
    (void)state;
    for (size_t i = 0; i < mt_mask_engine_detector_count(eng); i++) {
        const char *id = mt_mask_engine_detector_id(eng, i);
        if (!has_case(id))
            fail_msg("detector %s has no planted case in tests/lib/mask_cases.h", id);
    }
    for (size_t i = 0; i < sizeof mask_cases / sizeof mask_cases[0]; i++)
        check_case_with(ctx, &mask_cases[i]);
#ifdef MT_HAVE_PROVIDER_CASES
    /* A provider token assigned to a key is also a keyed finding, often a
     * longer one (FLY_API_TOKEN="FlyV1 fm2_..."), which then names the
     * marker: the cases are checked for their detector with the detectors
     * that work from context switched off, and for the secret with all. */
    mt_mask_engine *fe;
    mt_buf rules = MT_BUF_INIT;
    const mt_mask_rules *all = ctx->e->rules;
    assert_int_equal(mt_buf_append(&rules, "{\"disable\":[", 12), MT_OK);
    size_t ngeneric = 0;
    for (size_t i = 0; i < all->n; i++) {
        const mask_det *d = &all->dets[i];
        if (!d->generic || d->user)
            continue;
        if (ngeneric++ > 0)
            assert_int_equal(mt_buf_append(&rules, ",", 1), MT_OK);
        assert_true(mt_buf_append(&rules, "\"", 1) == MT_OK &&
                    mt_buf_append(&rules, d->id, strlen(d->id)) == MT_OK &&
                    mt_buf_append(&rules, "\"", 1) == MT_OK);
    }
    assert_int_equal(mt_buf_append(&rules, "]}", 3), MT_OK); /* with its NUL */
    assert_true(ngeneric >= 20); /* the keyed readers and the context detectors */
    mt_mask_ctx *fc = ctx_for_rules((const char *)rules.data, &fe);
    mt_buf_free(&rules);
    for (size_t i = 0; i < sizeof mask_provider_cases / sizeof mask_provider_cases[0]; i++) {
        const mask_provider_case *pc = &mask_provider_cases[i];
        mask_case k = {pc->id, pc->text, pc->secret, NULL};
        check_case_with(fc, &k);
        char *m = mask_text(pc->text);
        if (strstr(m, pc->secret))
            fail_msg("%s: secret survived the default rules: %s", pc->id, m);
        free(m);
    }
    mt_mask_ctx_free(fc);
    mt_mask_engine_free(fe);
    for (size_t i = 0; i < sizeof mask_provider_decoys / sizeof mask_provider_decoys[0]; i++) {
        char *m = mask_text(mask_provider_decoys[i].text);
        if (strcmp(m, mask_provider_decoys[i].text) != 0)
            fail_msg("%s: decoy changed: %s", mask_provider_decoys[i].id, m);
        free(m);
    }
#endif
}

/* Placeholders, references, near misses and words that only look like
 * keys stay as they are. */
static void keyed_near_misses_survive(void **state)
{
    (void)state;
    static const char *const d[] = {
        "bypass: something_long",
        "compass = \"northnorth\"",
        "--- PASS: TestFoo (0.00s)",
        "password = \"YOUR_PASSWORD_HERE\"",
        "api_key = \"xxxxxxxxxxxxxxxx\"",
        "token: <your-token-here>",
        "tokenizer = \"bert-base-uncased-tok\"",
        "getToken(\"service-name\")",
        "[\"api_key\", \"not-a-call-argument\"]",
        "secret_name: prod-db-credentials",
        "password_file: /run/secrets/db",
        "token_type: bearer",
        "max_tokens: 4096",
        "SECRET_REF=vault://kv/prod/db",
        "password: !vault |",
        "mysql -u root -p -h db.internal",
        "curl -u \"$USER:$TOKEN\" https://x.example.com",
        "githubToken := os.Getenv(\"GITHUB_TOKEN\")",
        "let token = std::env::var(\"TOKEN\").unwrap();",
        "let dbPassword = ProcessInfo.processInfo.environment[\"DB_PASSWORD\"]",
        "gcloud secrets versions access latest --secret=smtp-password",
        "aws secretsmanager get-secret-value --secret-id prod/app",
        "existingSecret: db-credentials",
        "tokenUrl: https://auth.example.com/oauth/token",
        "credentialSource: Ec2InstanceMetadata",
        "\"SecretString\": \"{\\\"installation_id\\\":\\\"f63cd03f-ee3a\\\"}\"",
        "headers = {\"Authorization\": \"Bearer REPLACE_ME\"}",
        "let path = \"/srv/patch\"; GITHUB_PATH=/usr/bin",
        "static TIMEOUT: u32 = 30;",
        "CACHE_KEY = 'user-profile-v2-cache'",
        "primary_key: a1b2c3d4e5f6g7h8i9j0",
        "sort_key = \"created_at\"",
        "idempotency_key: 3f1c2b7e-9a4d-4c1e-8b2f-6d5e4c3b2a10",
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        char *m = mask_text(d[i]);
        if (strcmp(m, d[i]) != 0)
            fail_msg("near miss %zu changed: %s", i, m);
        free(m);
    }
}

static void decoys_survive_unchanged(void **state)
{
    (void)state;
    static const char *const d[] = {
        "id 123e4567-e89b-12d3-a456-426614174000",
        "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "image@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "commit 5827300f3acb12f1a4e451aba2a406ac90fc044e",
        "version v1.2.3-rc.1 built 2026-11-25T07:18:19Z epoch 1764054000",
        "role arn:aws:iam::123456789012:role/deploy account 123456789012",
        "doc key AKIAIOSFODNN7EXAMPLE and wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "tracking 4111111111111112",
        "iban GB82WEST12345698765433",
        "routing 911000015",
        "ssn 666-12-3456 or 000-12-3456 or 123-00-4567",
        "password = ${DB_PASSWORD}",
        "+ password = (sensitive value)",
        "DB_PASSWORD_FILE=/run/secrets/db_password",
        "secretName: api-tls",
        "index 0d849e3..4807046 100644",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
        "apiVersion: v1\ndata:\n  mode: ZmFzdA==\nkind: ConfigMap\n",
        "certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t",
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        char *m = mask_text(d[i]);
        if (strcmp(m, d[i]) != 0)
            fail_msg("decoy %zu changed: %s", i, m);
        free(m);
    }
}

static void validators_follow_their_standards(void **state)
{
    (void)state;
    assert_true(mt_mask_luhn_valid("4111111111111111", 16));
    assert_true(mt_mask_luhn_valid("4111-1111-1111-1111", 19));
    assert_false(mt_mask_luhn_valid("4111111111111112", 16));
    assert_false(mt_mask_luhn_valid("12345", 5));
    assert_true(mt_mask_iban_valid("GB82WEST12345698765432", 22));
    assert_true(mt_mask_iban_valid("DE89 3704 0044 0532 0130 00", 27));
    assert_false(mt_mask_iban_valid("GB82WEST12345698765433", 22)); /* mod 97 */
    assert_false(mt_mask_iban_valid("GB82WEST1234569876543", 21));  /* length */
    assert_false(mt_mask_iban_valid("ZZ82WEST12345698765432", 22)); /* country */
    assert_true(mt_mask_aba_valid("011000015", 9));
    assert_true(mt_mask_aba_valid("021000021", 9));
    assert_false(mt_mask_aba_valid("011000016", 9)); /* checksum */
    assert_false(mt_mask_aba_valid("911000015", 9)); /* not a Fed prefix */
    assert_true(mt_mask_ssn_valid("123-45-6789", 11));
    assert_true(mt_mask_ssn_valid("123456789", 9));
    assert_false(mt_mask_ssn_valid("000-45-6789", 11));
    assert_false(mt_mask_ssn_valid("666-45-6789", 11));
    assert_false(mt_mask_ssn_valid("923-45-6789", 11));
    assert_false(mt_mask_ssn_valid("123-00-6789", 11));
    assert_false(mt_mask_ssn_valid("123-45-0000", 11));
    assert_false(mt_mask_ssn_valid("123-456789", 10));
    assert_true(mt_mask_entropy("aaaa", 4) < 0.01);
    assert_true(mt_mask_entropy("abcd", 4) > 1.99);
}

#define KEY1 "\"tokenize_key\":\"0123456789abcdef-key-one\""
#define KEY2 "\"tokenize_key\":\"0123456789abcdef-key-two\""

static void tokenize_is_stable_per_key_and_differs_across_keys(void **state)
{
    (void)state;
    mt_mask_engine *e1, *e2;
    mt_mask_ctx *c1 = ctx_for_rules("{" KEY1 ",\"actions\":{\"email\":\"tokenize\"}}", &e1);
    mt_mask_ctx *c2 = ctx_for_rules("{" KEY2 ",\"actions\":{\"email\":\"tokenize\"}}", &e2);
    char *a = mask_text_with(c1, "to alice@example.com");
    char *b = mask_text_with(c1, "from alice@example.com");
    char *c = mask_text_with(c2, "to alice@example.com");
    const char *ta = strstr(a, "[TOKEN:email:"), *tb = strstr(b, "[TOKEN:email:"),
               *tc = strstr(c, "[TOKEN:email:");
    assert_non_null(ta);
    assert_non_null(tb);
    assert_non_null(tc);
    assert_int_equal(strlen(ta), strlen("[TOKEN:email:") + 16 + 1);
    assert_string_equal(ta, tb);
    assert_string_not_equal(ta, tc);
    free(a);
    free(b);
    free(c);
    mt_mask_ctx_free(c1);
    mt_mask_ctx_free(c2);
    mt_mask_engine_free(e1);
    mt_mask_engine_free(e2);
}

static void tokenize_without_a_key_is_rejected(void **state)
{
    (void)state;
    mt_mask_rules *r;
    mt_mask_engine *e = NULL;
    mt_errbuf eb = {""};
    const char *j = "{\"actions\":{\"email\":\"tokenize\"}}";
    assert_int_equal(mt_mask_rules_load(j, strlen(j), &r, &eb), MT_OK);
    assert_int_equal(mt_mask_engine_new(r, &e, &eb), MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "tokenize_key"));
}

static void partial_keeps_the_last_four_and_drop_nulls_the_value(void **state)
{
    (void)state;
    mt_mask_engine *e;
    mt_mask_ctx *c = ctx_for_rules(
        "{\"actions\":{\"credit_card\":\"partial\",\"us_ssn\":\"drop\",\"email\":\"partial\"}}", &e);
    char *m = mask_text_with(c, "card 4111 1111 1111 1111 mail a@b.io");
    assert_string_equal(m, "card ...1111 mail [REDACTED:email]"); /* short: redacted */
    free(m);
    m = mask_json_with(c, "{\"a\":\"ssn 123-45-6789\",\"b\":\"x\"}", MT_OK);
    assert_string_equal(m, "{\"a\":null,\"b\":\"x\"}");
    free(m);
    m = mask_text_with(c, "ssn 123-45-6789"); /* text: drop acts as redact */
    assert_string_equal(m, "ssn [REDACTED:us_ssn]");
    free(m);
    mt_mask_ctx_free(c);
    mt_mask_engine_free(e);
}

static void allow_lists_keep_values_and_paths(void **state)
{
    (void)state;
    mt_mask_engine *e;
    mt_mask_ctx *c = ctx_for_rules("{\"allow\":{\"values\":[\"ops@example.com\"],"
                                   "\"paths\":[\"/params/arguments/*/contact\"]}}",
                                   &e);
    char *m = mask_json_with(c,
                             "{\"params\":{\"arguments\":{\"x\":{\"contact\":\"bob@example.com\"},"
                             "\"note\":\"ops@example.com and bob@example.com\"}}}",
                             MT_OK);
    assert_string_equal(m, "{\"params\":{\"arguments\":{\"x\":{\"contact\":\"bob@example.com\"},"
                           "\"note\":\"ops@example.com and [REDACTED:email]\"}}}");
    free(m);
    mt_mask_ctx_free(c);
    mt_mask_engine_free(e);
}

static void field_names_mask_whole_values_except_mcp_names(void **state)
{
    (void)state;
    char *m = mask_json_with(
        ctx,
        "{\"password\":\"hunter2x\",\"X-Api-Key\":\"abcdefgh\",\"client_secret\":\"zq8x7w6v\","
        "\"_meta\":{\"progressToken\":\"tok-123456\"},\"maxTokens\":100,\"token_type\":\"Bearer\","
        "\"usage\":{\"input_tokens\":\"1234567\"},\"secretName\":\"api-tls\","
        "\"db_password\":\"${DB_PASSWORD}\",\"env\":[{\"name\":\"SIGNING_SECRET\",\"value\":\"q9w8e7r6t5\"}]}",
        MT_OK);
    assert_string_equal(
        m, "{\"password\":\"[REDACTED:secret_field]\",\"X-Api-Key\":\"[REDACTED:secret_field]\","
           "\"client_secret\":\"[REDACTED:secret_field]\",\"_meta\":{\"progressToken\":\"tok-123456\"},"
           "\"maxTokens\":100,\"token_type\":\"Bearer\",\"usage\":{\"input_tokens\":\"1234567\"},"
           "\"secretName\":\"api-tls\",\"db_password\":\"${DB_PASSWORD}\","
           "\"env\":[{\"name\":\"SIGNING_SECRET\",\"value\":\"[REDACTED:secret_field]\"}]}");
    free(m);
}

static void untouched_json_is_byte_identical(void **state)
{
    (void)state;
    const char *in = "{ \"a\" : [1, 2.5e3, -0, true, false, null, \"caf\\u00e9 \\\"q\\\"\"] ,\n"
                     "  \"b\":{} , \"c\":[] }";
    char *m = mask_json_with(ctx, in, MT_OK);
    assert_string_equal(m, in);
    free(m);
}

static void escaped_json_inside_strings_is_masked(void **state)
{
    (void)state;
    /* A log line whose message embeds a request body escaped once and twice. */
    const char *in = "{\"text\":\"body: {\\\"username\\\":\\\"yuki\\\",\\\"password\\\":\\\"po0W73mmxGcQL#T\\\"} "
                     "inner: {\\\\\\\"api_key\\\\\\\":\\\\\\\"Zx8f7Kq2Lm9Pw3Rt\\\\\\\"}\"}";
    char *m = mask_json_with(ctx, in, MT_OK);
    assert_null(strstr(m, "po0W73mmxGcQL#T"));
    assert_null(strstr(m, "Zx8f7Kq2Lm9Pw3Rt"));
    assert_non_null(strstr(m, "yuki"));
    free(m);
    /* A secret spelled with \u escapes is decoded before scanning. */
    m = mask_json_with(ctx, "[\"mail alice\\u0040example.com\"]", MT_OK);
    assert_string_equal(m, "[\"mail [REDACTED:email]\"]");
    free(m);
}


/* Emails are anchored natively on '@' (one byte of the local part before
 * it, one of the domain after it): the edges of the string and of the
 * anchor's classes. */
static void email_anchors_at_the_edges(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"a@b.io", "[REDACTED:email]"},
        {"mail x@y.io", "mail [REDACTED:email]"},
        {"x@y.io, z%q@w.example.org.", "[REDACTED:email], [REDACTED:email]."},
        {"@b.io a@", "@b.io a@"},
        {"a@@b.io", "a@@b.io"},
        {"a @b.io a@ b.io", "a @b.io a@ b.io"},
        {"a@_b.io", "a@_b.io"},
        {"git@github.com:org/repo.git", "[REDACTED:email]:org/repo.git"},
        {"postgres://u:p4ss@db.example.com/x", "postgres://u:[REDACTED:db_connection_string]@db.example.com/x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *m = mask_text(cases[i][0]);
        assert_string_equal(m, cases[i][1]);
        free(m);
    }
}

/* A value that a token format and a keyed pattern both find is named by the
 * format, whatever order the scan found them in. */
static void identical_spans_are_named_by_the_specific_detector(void **state)
{
    (void)state;
    char *m = mask_text("GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345 next");
    assert_string_equal(m, "GITHUB_TOKEN=[REDACTED:github_token] next");
    free(m);
    m = mask_text("export NPM_TOKEN=npm_0123456789abcdefghijABCDEFGHIJ012345");
    assert_string_equal(m, "export NPM_TOKEN=[REDACTED:npm_token]");
    free(m);
}

/* The walker hands the decoder the backslashes it met, up to a limit, and
 * the decoder finds the rest itself: strings on both sides of the limit,
 * with a surrogate pair (two escapes, one character) across it. */
static void many_escapes_decode_alike(void **state)
{
    (void)state;
    static const char key[] = "AKIAZ7QW3ERT5YUI9OPL";
    for (size_t n = 505; n <= 520; n += 3) {
        mt_buf in = MT_BUF_INIT, want = MT_BUF_INIT;
        assert_int_equal(mt_buf_append(&in, "[\"", 2), MT_OK);
        assert_int_equal(mt_buf_append(&want, "[\"", 2), MT_OK);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(mt_buf_append(&in, "ab\\n", 4), MT_OK);
            assert_int_equal(mt_buf_append(&want, "ab\\n", 4), MT_OK);
        }
        const char *tail = "\\ud83d\\ude00 \\\" id ";
        assert_int_equal(mt_buf_append(&in, tail, strlen(tail)), MT_OK);
        assert_int_equal(mt_buf_append(&in, key, strlen(key)), MT_OK);
        assert_int_equal(mt_buf_append(&in, " \\t end\"]", 10), MT_OK);
        const char *wtail = "\xF0\x9F\x98\x80 \\\" id [REDACTED:aws_access_key_id] \\t end\"]";
        assert_int_equal(mt_buf_append(&want, wtail, strlen(wtail) + 1), MT_OK);
        assert_int_equal(mt_buf_append_byte(&in, 0), MT_OK);
        char *m = mask_json_with(ctx, (const char *)in.data, MT_OK);
        assert_string_equal(m, (const char *)want.data);
        free(m);
        mt_buf_free(&in);
        mt_buf_free(&want);
    }
}

/* xorshift64: reproducible random inputs for the equivalence tests. */
static uint64_t rnd_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void count_explain(void *ud, const mt_mask_match *m)
{
    (void)m;
    (*(int *)ud)++;
}

static void simd_scans_agree_with_the_scalar_reference(void **state)
{
    (void)state;
    /* Bytes that stop a string scan or count as digits, mixed with plain
     * ASCII and UTF-8 lead/continuation bytes, at every offset and length
     * (across the 16-byte blocks and the scalar tail). */
    static const char pool[] = "\"\\\x01\x1f\x7f\x80\xc3\xa9\xff 09/:aZ+@[";
    char buf[200];
    for (int round = 0; round < 40000; round++) {
        /* half the rounds on SSE2, half on AVX-512BW where the CPU has it */
        mask_simd_avx512(round % 2 == 0);
        size_t n = (size_t)(rnd() % 150);
        unsigned density = (unsigned)(rnd() % 4); /* 0: only plain bytes */
        for (size_t i = 0; i < n; i++) {
            uint64_t r = rnd();
            buf[i] = density && r % 16 < density ? pool[(r >> 8) % (sizeof pool - 1)]
                                                 : (char)(' ' + (char)((r >> 16) % 90));
        }
        size_t off = (size_t)(rnd() % 8);
        if (off > n)
            off = n;
        bool h1 = false, h2 = false;
        assert_int_equal(mask_str_stop(buf + off, n - off, &h1),
                         mask_str_stop_ref(buf + off, n - off, &h2));
        assert_int_equal(h1, h2);
        mask_classes c1, c2;
        mask_classes64(buf + off, n - off, &c1);
        mask_classes64_ref(buf + off, n - off, &c2);
        assert_memory_equal(&c1, &c2, sizeof c1);
        uint64_t l1 = 1, l2 = 2;
        assert_true(mask_str_masks64(buf + off, n - off, &l1) ==
                    mask_str_masks64_ref(buf + off, n - off, &l2));
        assert_true(l1 == l2);
    }
    mask_simd_avx512(true);
}

/* Random text dense in digits, separators and the shapes of the numeric
 * detectors (valid and not): both native scanners report the same spans. */
static void native_scanner_agrees_with_the_reference(void **state)
{
    (void)state;
    static const char *const shapes[] = {
        "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "378282246310005",
        "3782 822463 10005", "5555555555554444", "DE89370400440532013000",
        "GB82 WEST 1234 5698 7654 32", "078-05-1120", "123-45-6789", "021000021", "123456789",
        "+14155550100", "+1 415 555 0100", "+44 20 7946 0958", "(415) 555-0100", "415-555-0100",
        "415.555.0100", "2026-12-03 01:29:28", "v1.22.3", "0x1234", "9e526b97-ff91-4efb-8206",
        "+0123456789", "AB12", "1234567890123456789012", "GB82WEST12345698765432",
        "4111111111111111x", "x4111111111111111", "+44a", "NL91ABNA0417164300", "1a2b3c",
    };
    static const char seps[] = " -+.()/:_\n\"AZbx";
    mt_mask_ctx *c = ctx;
    char buf[600];
    for (int round = 0; round < 4000; round++) {
        size_t n = 0, target = (size_t)(rnd() % 400);
        while (n < target) {
            uint64_t r = rnd();
            const char *piece = NULL;
            char one[2] = {0, 0};
            if (r % 8 == 0) {
                piece = shapes[(r >> 8) % (sizeof shapes / sizeof shapes[0])];
            } else {
                one[0] = r % 8 < 5 ? (char)('0' + (r >> 8) % 10) : seps[(r >> 8) % (sizeof seps - 1)];
                piece = one;
            }
            size_t k = strlen(piece);
            if (n + k >= sizeof buf)
                break;
            memcpy(buf + n, piece, k);
            n += k;
        }
        mask_span a[256], b[256];
        size_t na, nb;
        c->nspans = 0;
        assert_int_equal(mask_scan_native(c, buf, n), MT_OK);
        na = c->nspans < 256 ? c->nspans : 256;
        memcpy(a, c->spans, na * sizeof a[0]);
        c->nspans = 0;
        assert_int_equal(mask_scan_native_ref(c, buf, n), MT_OK);
        nb = c->nspans < 256 ? c->nspans : 256;
        memcpy(b, c->spans, nb * sizeof b[0]);
        c->nspans = 0;
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++) {
            assert_int_equal(a[i].start, b[i].start);
            assert_int_equal(a[i].end, b[i].end);
            assert_int_equal(a[i].det, b[i].det);
        }
    }
    /* A run longer than the 64-byte window, and runs that cross it. */
    memset(buf, '7', 200);
    memcpy(buf + 61, " 4111111111111111 ", 18);
    c->nspans = 0;
    assert_int_equal(mask_scan_native(c, buf, 200), MT_OK);
    assert_int_equal(c->nspans, 1);
    assert_int_equal(c->spans[0].start, 62);
    c->nspans = 0;
}

static void masked_strings_leave_every_other_byte_in_place(void **state)
{
    (void)state;
    /* Untouched strings keep their escapes (\/, \u00e9) and whitespace
     * between tokens stays as it was; only the masked strings change. */
    const char *in = "  { \"a\\/b\" :\t\"caf\\u00e9\" ,\n \"card\" : \"pay 4111111111111111 now\" ,"
                     " \"n\": [ 1 , \"x\\\"y\" ,\"mail a\\u0040b.io\"] }  ";
    const char *want = "  { \"a\\/b\" :\t\"caf\\u00e9\" ,\n \"card\" : \"pay [REDACTED:credit_card] now\" ,"
                       " \"n\": [ 1 , \"x\\\"y\" ,\"mail [REDACTED:email]\"] }  ";
    char *m = mask_json_with(ctx, in, MT_OK);
    assert_string_equal(m, want);
    free(m);
    /* The same with an explain callback (JSON pointers are then kept). */
    mt_mask_ctx_set_explain(ctx, count_explain, &(int){0});
    m = mask_json_with(ctx, in, MT_OK);
    mt_mask_ctx_set_explain(ctx, NULL, NULL);
    assert_string_equal(m, want);
    free(m);
    /* A secret hidden behind \u escapes (every letter), and a surrogate
     * pair before it, is found in the decoded text. */
    m = mask_json_with(ctx, "[\"\\ud83d\\ude00 \\u0041\\u004b\\u0049\\u0041IOSFODNN7ABCDEFG\"]", MT_OK);
    assert_null(strstr(m, "IOSFODNN7ABCDEFG"));
    assert_non_null(strstr(m, "[REDACTED:aws_access_key_id]"));
    free(m);
}

static void member_name_answers_survive_the_name_cache(void **state)
{
    (void)state;
    /* "a_token_z" and "a_bbkbb_z" share a cache slot (same length, first,
     * middle and last byte): alternating them must not reuse the other's
     * answer; names longer than the cache's 32 bytes are not cached. */
    static const char *const names[] = {"a_token_z", "a_bbkbb_z", "a_token_z", "a_bbkbb_z",
                                        "type", "this_is_a_very_long_member_name_password",
                                        "this_is_a_very_long_member_name_pastword"};
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char in[160];
            snprintf(in, sizeof in, "{\"%s\":\"Qz8vR2kLm4Np\"}", names[i]);
            char *m = mask_json_with(ctx, in, MT_OK);
            bool secret = mask_key_is_secret(names[i], strlen(names[i]));
            assert_true(secret == (strstr(m, "Qz8vR2kLm4Np") == NULL));
            free(m);
        }
    assert_true(mask_key_is_secret("a_token_z", 9));
    assert_false(mask_key_is_secret("a_bbkbb_z", 9));
}

static void invalid_utf8_falls_back_to_text(void **state)
{
    (void)state;
    const char in[] = "{\"a\":\"\xff\xfe card 4111111111111111\"}";
    mt_buf out = MT_BUF_INIT;
    mt_errbuf eb = {""};
    bool as_text = false;
    assert_int_equal(mt_mask_json(ctx, in, sizeof in - 1, &out, NULL, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "UTF-8"));
    assert_int_equal(mt_mask_payload(ctx, in, sizeof in - 1, &out, NULL, &as_text, &eb), MT_OK);
    assert_true(as_text);
    assert_null(has_bytes(out.data, out.len, "4111111111111111", 16));
    mt_buf_free(&out);
}

static void nesting_past_the_limit_fails_and_payload_masks_as_text(void **state)
{
    (void)state;
    char in[512];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        in[n++] = '[';
    n += (size_t)snprintf(in + n, sizeof in - n, "\"a@b.example.com\"");
    for (int i = 0; i < 100; i++)
        in[n++] = ']';
    mt_buf out = MT_BUF_INIT;
    mt_errbuf eb = {""};
    bool as_text = false;
    assert_int_equal(mt_mask_json(ctx, in, n, &out, NULL, &eb), MT_ERR_TOO_LARGE);
    assert_non_null(strstr(eb.msg, "nesting deeper than 64"));
    assert_int_equal(out.len, 0);
    assert_int_equal(mt_mask_payload(ctx, in, n, &out, NULL, &as_text, &eb), MT_OK);
    assert_true(as_text);
    assert_null(has_bytes(out.data, out.len, "a@b.example.com", 15));
    mt_buf_free(&out);
}

static void not_json_is_a_parse_error(void **state)
{
    (void)state;
    static const char *const bad[] = {"{", "{\"a\"}", "[1,]", "\"abc", "{\"a\":1} x", "[01]",
                                      "[\"\\x\"]", "[\"\\u12\"]", "nul", "[1 2]", "",
                                      "{\"a\":\"ye\\\"\\" /* ends inside an escape */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mt_buf out = MT_BUF_INIT;
        mt_errbuf eb = {""};
        if (mt_mask_json(ctx, bad[i], strlen(bad[i]), &out, NULL, &eb) != MT_ERR_PARSE)
            fail_msg("accepted %s", bad[i]);
        mt_buf_free(&out);
    }
}

static void expect_rule_error(const char *json, const char *id, const char *words)
{
    mt_mask_rules *r = NULL;
    mt_mask_engine *e = NULL;
    mt_errbuf eb = {""};
    mt_err err = mt_mask_rules_load(json, strlen(json), &r, &eb);
    if (!err)
        err = mt_mask_engine_new(r, &e, &eb);
    mt_mask_engine_free(e);
    if (err != MT_ERR_CONFIG)
        fail_msg("accepted %s", json);
    if (!strstr(eb.msg, id) || !strstr(eb.msg, words))
        fail_msg("message for %s: %s", json, eb.msg);
}

static void bad_user_rules_are_rejected_with_their_id(void **state)
{
    (void)state;
    expect_rule_error("{\"rules\":[{\"id\":\"r-open\",\"type\":\"x\",\"regex\":\"ab(c\"}]}", "r-open",
                      "invalid regex");
    expect_rule_error("{\"rules\":[{\"id\":\"r-cata\",\"type\":\"x\",\"regex\":\"(a+)+$\"}]}",
                      "r-cata", "catastrophic");
    expect_rule_error("{\"rules\":[{\"id\":\"r-backref\",\"type\":\"x\",\"regex\":\"(ab)\\\\1\"}]}",
                      "r-backref", "Vectorscan");
    expect_rule_error("{\"rules\":[{\"id\":\"r-empty\",\"type\":\"x\",\"regex\":\"a*\"}]}",
                      "r-empty", "Vectorscan");
    expect_rule_error("{\"rules\":[{\"id\":\"r-act\",\"type\":\"x\",\"regex\":\"abc\",\"action\":\"hide\"}]}",
                      "r-act", "action");
    expect_rule_error("{\"rules\":[{\"id\":\"r-type\",\"type\":\"X Y\",\"regex\":\"abc\"}]}", "r-type",
                      "type");
    expect_rule_error("{\"actions\":{\"nope\":\"redact\"}}", "nope", "no detector");
    expect_rule_error("{\"colour\":1}", "colour", "unknown key");
    /* Debian's Vectorscan 5.4.9 aborts the process on >255-byte inputs with
     * these shapes: refused at load (a probe scans in a child process) */
    expect_rule_error("{\"rules\":[{\"id\":\"r-vermicelli\",\"type\":\"x\",\"regex\":\"a+bc\"}]}",
                      "r-vermicelli", "PR 392");
    expect_rule_error("{\"rules\":[{\"id\":\"ok\",\"type\":\"x\",\"regex\":\"acme_[a-z]{8}\"},"
                      "{\"id\":\"r-dotstar\",\"type\":\"x\",\"regex\":\".*@e.a\"}]}",
                      "r-dotstar", "PR 392");
}

static void rules_that_trip_the_vectorscan_defect_can_be_rewritten(void **state)
{
    (void)state;
    /* the rewrite the error message suggests loads and masks long input */
    mt_mask_engine *e;
    mt_mask_ctx *c = ctx_for_rules(
        "{\"rules\":[{\"id\":\"bounded\",\"type\":\"x\",\"regex\":\"a{1,64}bc\"}]}", &e);
    char in[600];
    memset(in, ' ', sizeof in - 1);
    in[sizeof in - 1] = '\0';
    memcpy(in + 400, "aaabc", 5);
    char *m = mask_text_with(c, in);
    assert_non_null(strstr(m, "[REDACTED:x]"));
    assert_null(strstr(m, "aaabc"));
    free(m);
    mt_mask_ctx_free(c);
    mt_mask_engine_free(e);
}

static void user_rules_mask_their_capture_group(void **state)
{
    (void)state;
    mt_mask_engine *e;
    mt_mask_ctx *c = ctx_for_rules(
        "{\"rules\":[{\"id\":\"acme\",\"type\":\"acme_key\",\"regex\":\"acme_id=(AC[0-9]{6})\"},"
        "{\"id\":\"acct\",\"type\":\"account\",\"regex\":\"\\\\bACCT[0-9]{16}\\\\b\",\"confirm\":\"luhn\"}]}",
        &e);
    char *m = mask_text_with(c, "acme_id=AC123456 ACCT4111111111111111 ACCT4111111111111112");
    assert_string_equal(m, "acme_id=[REDACTED:acme_key] [REDACTED:account] ACCT4111111111111112");
    free(m);
    mt_mask_ctx_free(c);
    mt_mask_engine_free(e);
}

static void oversize_strings_are_replaced_whole(void **state)
{
    (void)state;
    mt_mask_engine *e;
    mt_mask_ctx *c = ctx_for_rules("{\"max_string\":4096}", &e);
    size_t n = 10000;
    char *in = malloc(n + 16);
    assert_non_null(in);
    memcpy(in, "[\"", 2);
    memset(in + 2, 'a', n);
    memcpy(in + 2 + n, "\",\"ok\"]", 8);
    mt_buf out = MT_BUF_INIT;
    mt_mask_summary sum;
    mt_mask_summary_init(&sum);
    assert_int_equal(mt_mask_json(c, in, strlen(in), &out, &sum, NULL), MT_OK);
    assert_int_equal(out.len, strlen("[\"[REDACTED:oversize]\",\"ok\"]"));
    assert_memory_equal(out.data, "[\"[REDACTED:oversize]\",\"ok\"]", out.len);
    assert_int_equal(sum.total, 1);
    assert_string_equal(sum.items[0].detector, "oversize_string");
    /* Output is bounded by the input, not by the string's size. */
    assert_true(out.cap < 4096);
    /* With escapes too: replaced without being decoded. */
    for (size_t i = 2; i + 1 < 2 + n; i += 2)
        memcpy(in + i, "\\n", 2);
    mt_buf_reset(&out);
    assert_int_equal(mt_mask_json(c, in, strlen(in), &out, &sum, NULL), MT_OK);
    assert_memory_equal(out.data, "[\"[REDACTED:oversize]\",\"ok\"]", out.len);
    free(in);
    mt_buf_free(&out);
    mt_mask_ctx_free(c);
    mt_mask_engine_free(e);
}

static void builtins_can_be_turned_off(void **state)
{
    (void)state;
    mt_mask_engine *e;
    mt_mask_ctx *c = ctx_for_rules("{\"builtin_detectors\":false}", &e);
    char *m = mask_json_with(c, "{\"password\":\"hunter2x\",\"a\":\"alice@example.com\"}", MT_OK);
    assert_string_equal(m, "{\"password\":\"[REDACTED:secret_field]\",\"a\":\"alice@example.com\"}");
    free(m);
    mt_mask_ctx_free(c);
    mt_mask_engine_free(e);
    /* One native detector off: the others still run. */
    c = ctx_for_rules("{\"disable\":[\"email\"]}", &e);
    m = mask_text_with(c, "alice@example.com ssn 123-45-6789");
    assert_string_equal(m, "alice@example.com ssn [REDACTED:us_ssn]");
    free(m);
    mt_mask_ctx_free(c);
    mt_mask_engine_free(e);
}

typedef struct seen {
    int n;
    char pointer[64];
    size_t start, len;
} seen;

static void record(void *ud, const mt_mask_match *m)
{
    seen *s = ud;
    s->n++;
    snprintf(s->pointer, sizeof s->pointer, "%s:%s", m->pointer, m->detector);
    s->start = m->start;
    s->len = m->len;
}

static void explain_and_summary_report_where_not_what(void **state)
{
    (void)state;
    seen s = {0, "", 0, 0};
    mt_mask_summary sum;
    mt_mask_summary_init(&sum);
    mt_mask_ctx_set_explain(ctx, record, &s);
    const char *in = "{\"a\":[{\"b/c\":\"ssn 123-45-6789\"}]}";
    mt_buf out = MT_BUF_INIT;
    assert_int_equal(mt_mask_json(ctx, in, strlen(in), &out, &sum, NULL), MT_OK);
    mt_mask_ctx_set_explain(ctx, NULL, NULL);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.pointer, "/a/0/b~1c:us_ssn");
    assert_int_equal(s.start, 4);
    assert_int_equal(s.len, 11);
    assert_int_equal(sum.n, 1);
    assert_int_equal(sum.items[0].count, 1);
    assert_int_equal(sum.items[0].action, MT_MASK_REDACT);
    mt_buf_free(&out);
}

static void many_candidates_fail_closed(void **state)
{
    (void)state;
    /* 200k tiny emails: more candidates than the engine keeps; the whole
     * string is masked rather than scanned partially. */
    size_t reps = 200000, n = reps * 7;
    char *in = malloc(n + 1);
    assert_non_null(in);
    for (size_t i = 0; i < reps; i++)
        memcpy(in + i * 7, "a@b.io ", 7);
    in[n] = 0;
    char *m = mask_text(in);
    assert_string_equal(m, "[REDACTED:unscannable]");
    free(m);
    free(in);
}

/* Builds a built-in engine with the cache options; *hit = from the cache. */
static mt_mask_engine *cached_engine(const mt_mask_engine_opts *o, bool *hit)
{
    mt_mask_rules *r = NULL;
    mt_mask_engine *e = NULL;
    mt_errbuf eb = {""};
    assert_int_equal(mt_mask_rules_load(NULL, 0, &r, &eb), MT_OK);
    if (mt_mask_engine_new_opts(r, o, &e, &eb) != MT_OK)
        fail_msg("engine: %s", eb.msg);
    *hit = mt_mask_engine_from_cache(e);
    return e;
}

static void compiled_database_cache_is_authenticated(void **state)
{
    (void)state;
    char dir[] = "/tmp/mt-mask-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    static const uint8_t k1[] = "cache key one", k2[] = "cache key two";
    mt_mask_engine_opts o = {dir, k1, sizeof k1 - 1};
    const char *in = "export GITHUB_TOKEN=ghp_Ab1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV1wX2 done";
    bool hit;
    mt_mask_engine *a = cached_engine(&o, &hit);
    assert_false(hit); /* compiled, then written */
    mt_mask_engine *b = cached_engine(&o, &hit);
    assert_true(hit);
    mt_mask_ctx *ca = NULL, *cb = NULL;
    assert_int_equal(mt_mask_ctx_new(a, &ca, NULL), MT_OK);
    assert_int_equal(mt_mask_ctx_new(b, &cb, NULL), MT_OK);
    char *ma = mask_text_with(ca, in), *mb = mask_text_with(cb, in);
    assert_string_equal(ma, mb);
    assert_null(strstr(mb, "ghp_Ab1c"));
    free(ma);
    free(mb);
    mt_mask_ctx_free(ca);
    mt_mask_ctx_free(cb);
    mt_mask_engine_free(b);
    /* another key: the file is not trusted */
    mt_mask_engine_opts o2 = {dir, k2, sizeof k2 - 1};
    mt_mask_engine *c = cached_engine(&o2, &hit);
    assert_false(hit);
    mt_mask_engine_free(c);
    /* a flipped byte: ignored, rebuilt, rewritten */
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    char path[512] = "";
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".hsdb") && !strstr(de->d_name, ".tmp"))
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    closedir(d);
    assert_true(path[0] != '\0');
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, -5, SEEK_END);
    int ch = fgetc(f);
    fseek(f, -5, SEEK_END);
    fputc(ch ^ 0x40, f);
    fclose(f);
    o.cache_key = k2; /* the last write was under k2 */
    o.cache_key_len = sizeof k2 - 1;
    c = cached_engine(&o, &hit);
    assert_false(hit);
    mt_mask_engine_free(c);
    c = cached_engine(&o, &hit);
    assert_true(hit);
    mt_mask_engine_free(c);
    /* no key: no cache */
    mt_mask_engine_opts none = {dir, NULL, 0};
    c = cached_engine(&none, &hit);
    assert_false(hit);
    mt_mask_engine_free(c);
    mt_mask_engine_free(a);
    d = opendir(dir);
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}


/* mt_mask_log_install: log lines (msg and values) get the engine's detectors;
 * ts/level/component stay; uninstall restores plain lines. */
static void log_lines_are_masked_by_the_engine(void **state)
{
    (void)state;
    char path[] = "/tmp/mt-test-masklog-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    mt_log_set_fd(fd);
    mt_errbuf eb = {""};
    assert_int_equal(mt_mask_log_install(eng, &eb), MT_OK);
    mt_logs(MT_LOG_ERROR, "test", "upstream said AKIAQWERTYUIOPASDFGH", "detail",
            "card 4111 1111 1111 1111 declined", "plain", "nothing here", "empty", "", NULL);
    mt_mask_log_uninstall();
    mt_logs(MT_LOG_ERROR, "test", "after AKIAQWERTYUIOPASDFGH", NULL);
    mt_log_set_fd(2);
    char buf[4096];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    buf[n] = '\0';
    char *second = strchr(buf, '\n');
    assert_non_null(second);
    *second++ = '\0';
    assert_null(strstr(buf, "AKIAQWERTYUIOPASDFGH"));
    assert_null(strstr(buf, "4111 1111 1111 1111"));
    assert_non_null(strstr(buf, "[REDACTED:"));
    assert_non_null(strstr(buf, "\"plain\":\"nothing here\""));
    assert_non_null(strstr(buf, "\"component\":\"test\""));
    assert_non_null(strstr(second, "AKIAQWERTYUIOPASDFGH")); /* uninstalled */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_detector_masks_its_planted_value),
        cmocka_unit_test(keyed_near_misses_survive),
        cmocka_unit_test(decoys_survive_unchanged),
        cmocka_unit_test(validators_follow_their_standards),
        cmocka_unit_test(tokenize_is_stable_per_key_and_differs_across_keys),
        cmocka_unit_test(tokenize_without_a_key_is_rejected),
        cmocka_unit_test(partial_keeps_the_last_four_and_drop_nulls_the_value),
        cmocka_unit_test(allow_lists_keep_values_and_paths),
        cmocka_unit_test(field_names_mask_whole_values_except_mcp_names),
        cmocka_unit_test(untouched_json_is_byte_identical),
        cmocka_unit_test(escaped_json_inside_strings_is_masked),
        cmocka_unit_test(many_escapes_decode_alike),
        cmocka_unit_test(email_anchors_at_the_edges),
        cmocka_unit_test(identical_spans_are_named_by_the_specific_detector),
        cmocka_unit_test(simd_scans_agree_with_the_scalar_reference),
        cmocka_unit_test(native_scanner_agrees_with_the_reference),
        cmocka_unit_test(masked_strings_leave_every_other_byte_in_place),
        cmocka_unit_test(member_name_answers_survive_the_name_cache),
        cmocka_unit_test(invalid_utf8_falls_back_to_text),
        cmocka_unit_test(nesting_past_the_limit_fails_and_payload_masks_as_text),
        cmocka_unit_test(not_json_is_a_parse_error),
        cmocka_unit_test(bad_user_rules_are_rejected_with_their_id),
        cmocka_unit_test(rules_that_trip_the_vectorscan_defect_can_be_rewritten),
        cmocka_unit_test(user_rules_mask_their_capture_group),
        cmocka_unit_test(oversize_strings_are_replaced_whole),
        cmocka_unit_test(explain_and_summary_report_where_not_what),
        cmocka_unit_test(builtins_can_be_turned_off),
        cmocka_unit_test(many_candidates_fail_closed),
        cmocka_unit_test(compiled_database_cache_is_authenticated),
        cmocka_unit_test(log_lines_are_masked_by_the_engine),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
