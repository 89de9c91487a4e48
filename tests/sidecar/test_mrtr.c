/* Tests for sidecar/mrtr.c: result types, the logical call hash, sealed
 * request states (round trip, tampering, forgery, expiry, rotation), the
 * link table and the single-use set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mrtr.h"

static const uint8_t secret_a[] = "0123456789abcdef0123456789abcdef-key-a";
static const uint8_t secret_b[] = "fedcba9876543210fedcba9876543210-key-b";

static mt_mrtr_keys *keys(const uint8_t *first, const uint8_t *second)
{
    const uint8_t *s[2] = {first, second};
    size_t l[2] = {sizeof secret_a - 1, sizeof secret_b - 1};
    mt_mrtr_keys *k;
    mt_errbuf eb;
    if (mt_mrtr_keys_from(s, l, second ? 2 : 1, &k, &eb) != MT_OK)
        fail_msg("keys: %s", eb.msg);
    return k;
}

static mt_mrtr_state sample(void)
{
    mt_mrtr_state s = {0};
    s.stage = MT_MRTR_RELEASED;
    strcpy(s.approval_id, "0197a000-0000-7000-8000-000000000001");
    strcpy(s.call_id, "0197a000-0000-7000-8000-0000000000c1");
    memset(s.call_hash, 0xab, sizeof s.call_hash);
    s.round = 2;
    s.expires_ms = 2000000000000LL;
    s.upstream_state = strdup("server-state-\"quoted\"");
    return s;
}

static char *seal(const mt_mrtr_keys *k, mt_mrtr_state *s)
{
    mt_buf out = MT_BUF_INIT;
    mt_errbuf eb;
    if (mt_mrtr_seal(k, s, &out, &eb) != MT_OK)
        fail_msg("seal: %s", eb.msg);
    char *t = strndup((const char *)out.data, out.len);
    mt_buf_free(&out);
    return t;
}

static void result_types_are_read_from_the_result(void **st)
{
    (void)st;
    static const struct {
        const char *json;
        mt_mrtr_result want;
    } cases[] = {
        {"{\"id\":1,\"result\":{\"content\":[]}}", MT_MRTR_RESULT_COMPLETE},
        {"{\"id\":1,\"result\":{\"resultType\":\"complete\"}}", MT_MRTR_RESULT_COMPLETE},
        {"{\"id\":1,\"result\":{\"resultType\":\"input_required\"}}",
         MT_MRTR_RESULT_INPUT_REQUIRED},
        {"{\"id\":1,\"result\":{\"resultType\":\"task\"}}", MT_MRTR_RESULT_OTHER},
        {"{\"id\":1,\"result\":{\"resultType\":7}}", MT_MRTR_RESULT_OTHER},
        {"{\"id\":1,\"error\":{\"code\":1}}", MT_MRTR_RESULT_NONE},
        {"{\"method\":\"x\"}", MT_MRTR_RESULT_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = json_loads(cases[i].json, 0, NULL);
        assert_non_null(j);
        assert_int_equal(mt_mrtr_result_of(j), cases[i].want);
        json_decref(j);
    }
    assert_true(mt_mrtr_method_supported("tools/call"));
    assert_true(mt_mrtr_method_supported("resources/read"));
    assert_false(mt_mrtr_method_supported("tools/list"));
    assert_false(mt_mrtr_method_supported(NULL));
}

static void call_hash_ignores_key_order_and_binds_every_part(void **st)
{
    (void)st;
    json_t *a1 = json_loads("{\"service\":\"payments\",\"version\":\"1.2.3\"}", 0, NULL);
    json_t *a2 = json_loads("{ \"version\" : \"1.2.3\", \"service\" : \"payments\" }", 0, NULL);
    json_t *a3 = json_loads("{\"service\":\"payments\",\"version\":\"1.2.4\"}", 0, NULL);
    uint8_t h1[32], h2[32], h[32];
    mt_errbuf eb;
    assert_int_equal(mt_mrtr_call_hash("tools/call", "deploy", a1, "iss", "sub", h1, &eb), MT_OK);
    assert_int_equal(mt_mrtr_call_hash("tools/call", "deploy", a2, "iss", "sub", h2, &eb), MT_OK);
    assert_memory_equal(h1, h2, 32);
    assert_int_equal(mt_mrtr_call_hash("tools/call", "deploy", a3, "iss", "sub", h, &eb), MT_OK);
    assert_memory_not_equal(h1, h, 32);
    assert_int_equal(mt_mrtr_call_hash("tools/call", "deploy2", a1, "iss", "sub", h, &eb), MT_OK);
    assert_memory_not_equal(h1, h, 32);
    assert_int_equal(mt_mrtr_call_hash("tools/call", "deploy", a1, "iss", "other", h, &eb),
                     MT_OK);
    assert_memory_not_equal(h1, h, 32);
    /* parts cannot slide into each other */
    assert_int_equal(mt_mrtr_call_hash("tools/call", "deploy", a1, "iss", "sub", h, &eb), MT_OK);
    uint8_t x[32], y[32];
    assert_int_equal(mt_mrtr_call_hash("m", "ab", NULL, "c", NULL, x, &eb), MT_OK);
    assert_int_equal(mt_mrtr_call_hash("m", "a", NULL, "bc", NULL, y, &eb), MT_OK);
    assert_memory_not_equal(x, y, 32);
    assert_int_equal(mt_mrtr_call_hash("m", NULL, NULL, NULL, NULL, x, &eb), MT_OK);
    assert_int_equal(mt_mrtr_call_hash("m", "", NULL, NULL, NULL, y, &eb), MT_OK);
    assert_memory_not_equal(x, y, 32);
    json_decref(a1);
    json_decref(a2);
    json_decref(a3);
}

static void sealed_state_round_trips(void **st)
{
    (void)st;
    mt_mrtr_keys *k = keys(secret_a, NULL);
    mt_mrtr_state s = sample();
    char *t = seal(k, &s);
    assert_true(mt_mrtr_is_sealed(t, strlen(t)));
    assert_int_equal(strlen(s.nonce), 32);
    mt_mrtr_state o;
    mt_errbuf eb;
    assert_int_equal(mt_mrtr_open(k, t, strlen(t), 1000, &o, &eb), MT_OK);
    assert_int_equal(o.stage, MT_MRTR_RELEASED);
    assert_string_equal(o.approval_id, s.approval_id);
    assert_string_equal(o.call_id, s.call_id);
    assert_memory_equal(o.call_hash, s.call_hash, 32);
    assert_int_equal(o.round, 2);
    assert_int_equal(o.expires_ms, s.expires_ms);
    assert_string_equal(o.nonce, s.nonce);
    assert_string_equal(o.upstream_state, "server-state-\"quoted\"");
    mt_mrtr_state_clear(&o);
    /* no server state: none comes back */
    free(s.upstream_state);
    s.upstream_state = NULL;
    s.nonce[0] = '\0';
    s.stage = MT_MRTR_AWAITING_APPROVAL;
    char *t2 = seal(k, &s);
    assert_int_equal(mt_mrtr_open(k, t2, strlen(t2), 1000, &o, &eb), MT_OK);
    assert_null(o.upstream_state);
    assert_int_equal(o.stage, MT_MRTR_AWAITING_APPROVAL);
    mt_mrtr_state_clear(&o);
    free(t);
    free(t2);
    mt_mrtr_state_clear(&s);
    mt_mrtr_keys_free(k);
}

static void changed_forged_and_expired_states_are_refused(void **st)
{
    (void)st;
    mt_mrtr_keys *k = keys(secret_a, NULL), *other = keys(secret_b, NULL);
    mt_mrtr_state s = sample(), o;
    char *t = seal(k, &s);
    mt_errbuf eb;
    /* every single-byte change in the payload or MAC fails */
    size_t n = strlen(t);
    for (size_t i = strlen(MT_MRTR_PREFIX); i < n; i++) {
        char *c = strdup(t);
        c[i] = c[i] == 'A' ? 'B' : 'A';
        mt_err err = mt_mrtr_open(k, c, n, 1000, &o, &eb);
        if (err == MT_OK)
            fail_msg("changed byte %zu opened", i);
        free(c);
    }
    /* sealed by another deployment's key */
    char *f = seal(other, &s);
    assert_int_equal(mt_mrtr_open(k, f, strlen(f), 1000, &o, &eb), MT_ERR_BAD_SIGNATURE);
    /* not ours at all */
    assert_int_equal(mt_mrtr_open(k, "opaque-server-state", 19, 1000, &o, &eb), MT_ERR_PARSE);
    assert_int_equal(mt_mrtr_open(k, "mtrs1.abc", 9, 1000, &o, &eb), MT_ERR_PARSE);
    /* expired */
    assert_int_equal(mt_mrtr_open(k, t, n, s.expires_ms + 1, &o, &eb), MT_ERR_TIMEOUT);
    assert_non_null(strstr(eb.msg, "expired"));
    free(t);
    free(f);
    mt_mrtr_state_clear(&s);
    mt_mrtr_keys_free(k);
    mt_mrtr_keys_free(other);
}

static void rotation_opens_with_any_key_and_seals_with_the_first(void **st)
{
    (void)st;
    mt_mrtr_keys *old = keys(secret_b, NULL), *both = keys(secret_a, secret_b);
    mt_mrtr_state s = sample(), o;
    char *t = seal(old, &s);
    mt_errbuf eb;
    assert_int_equal(mt_mrtr_open(both, t, strlen(t), 1000, &o, &eb), MT_OK);
    mt_mrtr_state_clear(&o);
    s.nonce[0] = '\0';
    char *t2 = seal(both, &s);
    assert_int_equal(mt_mrtr_open(old, t2, strlen(t2), 1000, &o, &eb), MT_ERR_BAD_SIGNATURE);
    assert_string_not_equal(mt_mrtr_keys_id(old), mt_mrtr_keys_id(both));
    assert_int_equal(strlen(mt_mrtr_keys_id(both)), 16);
    free(t);
    free(t2);
    mt_mrtr_state_clear(&s);
    mt_mrtr_keys_free(old);
    mt_mrtr_keys_free(both);
}

static void short_keys_and_huge_states_are_refused(void **st)
{
    (void)st;
    const uint8_t *s[1] = {(const uint8_t *)"short"};
    size_t l[1] = {5};
    mt_mrtr_keys *k;
    mt_errbuf eb;
    assert_int_equal(mt_mrtr_keys_from(s, l, 1, &k, &eb), MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "at least 32 bytes"));
    k = keys(secret_a, NULL);
    mt_mrtr_state big = sample();
    free(big.upstream_state);
    big.upstream_state = malloc(MT_MRTR_UPSTREAM_MAX + 2);
    memset(big.upstream_state, 'x', MT_MRTR_UPSTREAM_MAX + 1);
    big.upstream_state[MT_MRTR_UPSTREAM_MAX + 1] = '\0';
    mt_buf out = MT_BUF_INIT;
    assert_int_equal(mt_mrtr_seal(k, &big, &out, &eb), MT_ERR_TOO_LARGE);
    mt_buf_free(&out);
    char *huge = malloc(MT_MRTR_STATE_MAX + 10);
    memset(huge, 'A', MT_MRTR_STATE_MAX + 9);
    memcpy(huge, MT_MRTR_PREFIX, strlen(MT_MRTR_PREFIX));
    mt_mrtr_state o;
    assert_int_equal(mt_mrtr_open(k, huge, MT_MRTR_STATE_MAX + 9, 0, &o, &eb), MT_ERR_TOO_LARGE);
    free(huge);
    mt_mrtr_state_clear(&big);
    mt_mrtr_keys_free(k);
}

static mt_mrtr_link lk(const char *call_id, int round, const char *approval_id)
{
    mt_mrtr_link v;
    memset(&v, 0, sizeof v);
    snprintf(v.call_id, sizeof v.call_id, "%s", call_id);
    snprintf(v.approval_id, sizeof v.approval_id, "%s", approval_id);
    v.round = round;
    memset(v.call_hash, round, sizeof v.call_hash);
    return v;
}

static void links_are_taken_once_and_expire(void **st)
{
    (void)st;
    mt_mrtr_links *l;
    assert_int_equal(mt_mrtr_links_new(2, 100, &l), MT_OK);
    mt_mrtr_link v = lk("call-1", 2, "ap-1"), o;
    assert_int_equal(mt_mrtr_links_put(l, "s1", 2, &v, 0), MT_OK);
    assert_true(mt_mrtr_links_take(l, "s1", 2, 50, &o));
    assert_string_equal(o.call_id, "call-1");
    assert_string_equal(o.approval_id, "ap-1");
    assert_int_equal(o.round, 2);
    assert_memory_equal(o.call_hash, v.call_hash, 32);
    assert_false(mt_mrtr_links_take(l, "s1", 2, 50, &o));
    v = lk("call-2", 3, "");
    assert_int_equal(mt_mrtr_links_put(l, "s2", 2, &v, 0), MT_OK);
    assert_false(mt_mrtr_links_take(l, "s2", 2, 101, &o)); /* expired */
    /* bounded: the oldest goes */
    v = lk("call-a", 2, "");
    assert_int_equal(mt_mrtr_links_put(l, "a", 1, &v, 0), MT_OK);
    v = lk("call-b", 2, "");
    assert_int_equal(mt_mrtr_links_put(l, "b", 1, &v, 0), MT_OK);
    v = lk("call-c", 2, "");
    assert_int_equal(mt_mrtr_links_put(l, "c", 1, &v, 0), MT_OK);
    assert_int_equal(mt_mrtr_links_count(l), 2);
    assert_false(mt_mrtr_links_take(l, "a", 1, 1, &o));
    assert_true(mt_mrtr_links_take(l, "c", 1, 1, &o));
    assert_string_equal(o.call_id, "call-c");
    assert_string_equal(o.approval_id, "");
    mt_mrtr_links_free(l);
}

static void nonces_are_single_use_and_the_set_fails_closed(void **st)
{
    (void)st;
    mt_mrtr_seen *s;
    assert_int_equal(mt_mrtr_seen_new(2, &s), MT_OK);
    assert_true(mt_mrtr_seen_use(s, "n1", 100, 0));
    assert_false(mt_mrtr_seen_use(s, "n1", 100, 50));
    assert_true(mt_mrtr_seen_use(s, "n2", 100, 50));
    assert_false(mt_mrtr_seen_use(s, "n3", 100, 60)); /* full of live nonces */
    assert_true(mt_mrtr_seen_use(s, "n3", 300, 101)); /* n1, n2 expired */
    mt_mrtr_seen_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(result_types_are_read_from_the_result),
        cmocka_unit_test(call_hash_ignores_key_order_and_binds_every_part),
        cmocka_unit_test(sealed_state_round_trips),
        cmocka_unit_test(changed_forged_and_expired_states_are_refused),
        cmocka_unit_test(rotation_opens_with_any_key_and_seals_with_the_first),
        cmocka_unit_test(short_keys_and_huge_states_are_refused),
        cmocka_unit_test(links_are_taken_once_and_expire),
        cmocka_unit_test(nonces_are_single_use_and_the_set_fails_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
