/* Unit tests of lib/src/approval.c: the signed message is exactly what
 * approval_decision.avsc's doc specifies, a signed decision verifies with
 * the public key, and changing any signed field (or the key) breaks it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mcptrail/approval.h"

static mt_avro_registry *reg;
static const mt_avro_schema *schema;

static int setup(void **state)
{
    (void)state;
    if (mt_avro_registry_load(NULL, &reg, NULL) != MT_OK)
        return -1;
    schema = mt_avro_registry_find(reg, MT_APPROVAL_DECISION_SCHEMA);
    return schema ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    mt_avro_registry_free(reg);
    return 0;
}

static json_t *sample(void)
{
    return json_pack(
        "{s:s,s:s,s:s,s:I,s:[{s:s,s:s,s:s,s:I},{s:s,s:s,s:n,s:I}],s:I,s:s,s:s}", "approval_id",
        "019b76da-a800-7370-b78a-004e54b0412e", "request_hash",
        "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592", "decision",
        "approved", "expires", (json_int_t)1767226500000000, "approvers", "subject", "alice",
        "issuer", "https://login.example.com", "reason", "checked", "ts",
        (json_int_t)1767225700000000, "subject", "bob", "issuer", "https://login.example.com",
        "reason", "ts", (json_int_t)1767225800000000, "decided", (json_int_t)1767225800000000,
        "key_id", "", "signature", "");
}

static void message_is_context_nul_and_fields_before_signature(void **state)
{
    (void)state;
    json_t *d = sample();
    mt_buf msg = MT_BUF_INIT, datum = MT_BUF_INIT;
    assert_int_equal(mt_approval_decision_message(schema, d, &msg, NULL), MT_OK);
    assert_int_equal(mt_avro_encode_datum(schema, d, &datum, NULL), MT_OK); /* signature "" */
    size_t clen = strlen("mcptrail.ApprovalDecision.v1");
    assert_int_equal(msg.len, clen + 1 + datum.len - 1);
    assert_memory_equal(msg.data, "mcptrail.ApprovalDecision.v1", clen);
    assert_int_equal(msg.data[clen], 0);
    assert_memory_equal(msg.data + clen + 1, datum.data, datum.len - 1);
    assert_int_equal(datum.data[datum.len - 1], 0);
    /* The signature value itself is not part of the message. */
    json_object_set_new(d, "signature", json_string("abcd"));
    mt_buf msg2 = MT_BUF_INIT;
    assert_int_equal(mt_approval_decision_message(schema, d, &msg2, NULL), MT_OK);
    assert_int_equal(msg2.len, msg.len);
    assert_memory_equal(msg2.data, msg.data, msg.len);
    mt_buf_free(&msg);
    mt_buf_free(&msg2);
    mt_buf_free(&datum);
    json_decref(d);
}

static void signed_decision_verifies_and_is_deterministic(void **state)
{
    (void)state;
    mt_ed25519_key *key = NULL, *pub = NULL;
    uint8_t raw[MT_ED25519_PUBLIC_LEN];
    assert_int_equal(mt_ed25519_generate(&key, NULL), MT_OK);
    assert_int_equal(mt_ed25519_public_raw(key, raw, NULL), MT_OK);
    assert_int_equal(mt_ed25519_from_public_raw(raw, &pub, NULL), MT_OK);
    json_t *d = sample(), *d2 = sample();
    assert_int_equal(mt_approval_decision_sign(schema, d, key, NULL), MT_OK);
    assert_int_equal(mt_approval_decision_sign(schema, d2, key, NULL), MT_OK);
    assert_true(json_equal(d, d2));
    char kid[MT_ED25519_KEY_ID_SIZE];
    assert_int_equal(mt_ed25519_key_id(key, kid, NULL), MT_OK);
    assert_string_equal(json_string_value(json_object_get(d, "key_id")), kid);
    assert_int_equal(strlen(json_string_value(json_object_get(d, "signature"))), 128);
    assert_int_equal(mt_approval_decision_verify(schema, d, pub, NULL), MT_OK);
    /* Survives the wire: single-object encode, decode, verify. */
    mt_buf wire = MT_BUF_INIT;
    json_t *back = NULL;
    assert_int_equal(mt_avro_encode(schema, d, &wire, NULL), MT_OK);
    assert_int_equal(mt_avro_decode(reg, wire.data, wire.len, NULL, &back, NULL), MT_OK);
    assert_int_equal(mt_approval_decision_verify(schema, back, pub, NULL), MT_OK);
    json_decref(back);
    mt_buf_free(&wire);
    json_decref(d);
    json_decref(d2);
    mt_ed25519_free(pub);
    mt_ed25519_free(key);
}

static void changing_any_signed_field_breaks_the_signature(void **state)
{
    (void)state;
    mt_ed25519_key *key = NULL, *other = NULL;
    assert_int_equal(mt_ed25519_generate(&key, NULL), MT_OK);
    assert_int_equal(mt_ed25519_generate(&other, NULL), MT_OK);
    json_t *d = sample();
    assert_int_equal(mt_approval_decision_sign(schema, d, key, NULL), MT_OK);
    struct {
        const char *field;
        json_t *value;
    } edits[] = {
        {"approval_id", json_string("019b76da-a800-7370-b78a-004e54b0412f")},
        {"request_hash",
         json_string("5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c593")},
        {"decision", json_string("denied")},
        {"expires", json_integer(1767226500000001)},
        {"approvers", json_array()},
        {"decided", json_integer(1767225800000001)},
        {"key_id", json_string("0000000000000000")},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        json_t *t = json_deep_copy(d);
        json_object_set_new(t, edits[i].field, edits[i].value);
        mt_errbuf eb = {{0}};
        if (mt_approval_decision_verify(schema, t, key, &eb) != MT_ERR_BAD_SIGNATURE)
            fail_msg("changing %s did not break the signature", edits[i].field);
        json_decref(t);
    }
    /* A changed approver reason, a flipped signature bit, a short signature,
     * and another key. */
    json_t *t = json_deep_copy(d);
    json_object_set_new(json_array_get(json_object_get(t, "approvers"), 0), "reason",
                        json_string("checkeD"));
    assert_int_equal(mt_approval_decision_verify(schema, t, key, NULL), MT_ERR_BAD_SIGNATURE);
    json_decref(t);
    t = json_deep_copy(d);
    char sig[129];
    snprintf(sig, sizeof sig, "%s", json_string_value(json_object_get(t, "signature")));
    sig[0] = sig[0] == '0' ? '1' : '0';
    json_object_set_new(t, "signature", json_string(sig));
    assert_int_equal(mt_approval_decision_verify(schema, t, key, NULL), MT_ERR_BAD_SIGNATURE);
    sig[126] = '\0';
    json_object_set_new(t, "signature", json_string(sig));
    assert_int_equal(mt_approval_decision_verify(schema, t, key, NULL), MT_ERR_BAD_SIGNATURE);
    json_decref(t);
    assert_int_equal(mt_approval_decision_verify(schema, d, other, NULL), MT_ERR_BAD_SIGNATURE);
    json_decref(d);
    mt_ed25519_free(other);
    mt_ed25519_free(key);
}

static void wrong_schema_or_bad_record_is_refused(void **state)
{
    (void)state;
    mt_buf msg = MT_BUF_INIT;
    mt_errbuf eb = {{0}};
    json_t *d = sample();
    const mt_avro_schema *vote = mt_avro_registry_find(reg, "dev.mcptrail.ApprovalVote");
    assert_int_equal(mt_approval_decision_message(vote, d, &msg, &eb), MT_ERR_INVALID_ARG);
    json_object_set_new(d, "decision", json_string("maybe"));
    assert_int_equal(mt_approval_decision_message(schema, d, &msg, &eb), MT_ERR_SCHEMA);
    assert_int_equal(msg.len, 0);
    mt_buf_free(&msg);
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(message_is_context_nul_and_fields_before_signature),
        cmocka_unit_test(signed_decision_verifies_and_is_deterministic),
        cmocka_unit_test(changing_any_signed_field_breaks_the_signature),
        cmocka_unit_test(wrong_schema_or_bad_record_is_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
