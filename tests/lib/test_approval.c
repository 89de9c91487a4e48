/* Unit tests of lib/src/approval.c: the signed message is exactly what
 * the approval schemas' docs specify, signed decisions, votes and requests
 * verify with the public key, and changing any signed field (or the key,
 * or dropping the signature) breaks them. */
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
    assert_int_equal(mt_approval_message(schema, d, &msg, NULL), MT_OK);
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
    assert_int_equal(mt_approval_message(schema, d, &msg2, NULL), MT_OK);
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
    assert_int_equal(mt_approval_sign(schema, d, key, NULL), MT_OK);
    assert_int_equal(mt_approval_sign(schema, d2, key, NULL), MT_OK);
    assert_true(json_equal(d, d2));
    char kid[MT_ED25519_KEY_ID_SIZE];
    assert_int_equal(mt_ed25519_key_id(key, kid, NULL), MT_OK);
    assert_string_equal(json_string_value(json_object_get(d, "key_id")), kid);
    assert_int_equal(strlen(json_string_value(json_object_get(d, "signature"))), 128);
    assert_int_equal(mt_approval_verify(schema, d, pub, NULL), MT_OK);
    /* Survives the wire: single-object encode, decode, verify. */
    mt_buf wire = MT_BUF_INIT;
    json_t *back = NULL;
    assert_int_equal(mt_avro_encode(schema, d, &wire, NULL), MT_OK);
    assert_int_equal(mt_avro_decode(reg, wire.data, wire.len, NULL, &back, NULL), MT_OK);
    assert_int_equal(mt_approval_verify(schema, back, pub, NULL), MT_OK);
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
    assert_int_equal(mt_approval_sign(schema, d, key, NULL), MT_OK);
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
        if (mt_approval_verify(schema, t, key, &eb) != MT_ERR_BAD_SIGNATURE)
            fail_msg("changing %s did not break the signature", edits[i].field);
        json_decref(t);
    }
    /* A changed approver reason, a flipped signature bit, a short signature,
     * and another key. */
    json_t *t = json_deep_copy(d);
    json_object_set_new(json_array_get(json_object_get(t, "approvers"), 0), "reason",
                        json_string("checkeD"));
    assert_int_equal(mt_approval_verify(schema, t, key, NULL), MT_ERR_BAD_SIGNATURE);
    json_decref(t);
    t = json_deep_copy(d);
    char sig[129];
    snprintf(sig, sizeof sig, "%s", json_string_value(json_object_get(t, "signature")));
    sig[0] = sig[0] == '0' ? '1' : '0';
    json_object_set_new(t, "signature", json_string(sig));
    assert_int_equal(mt_approval_verify(schema, t, key, NULL), MT_ERR_BAD_SIGNATURE);
    sig[126] = '\0';
    json_object_set_new(t, "signature", json_string(sig));
    assert_int_equal(mt_approval_verify(schema, t, key, NULL), MT_ERR_BAD_SIGNATURE);
    json_decref(t);
    assert_int_equal(mt_approval_verify(schema, d, other, NULL), MT_ERR_BAD_SIGNATURE);
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
    const mt_avro_schema *ev = mt_avro_registry_find(reg, "dev.mcptrail.SessionEvent");
    assert_null(mt_approval_context(ev));
    assert_int_equal(mt_approval_message(ev, d, &msg, &eb), MT_ERR_INVALID_ARG);
    const mt_avro_schema *vote = mt_avro_registry_find(reg, MT_APPROVAL_VOTE_SCHEMA);
    assert_int_equal(mt_approval_message(vote, d, &msg, &eb), MT_ERR_SCHEMA); /* not a vote */
    json_object_set_new(d, "decision", json_string("maybe"));
    assert_int_equal(mt_approval_message(schema, d, &msg, &eb), MT_ERR_SCHEMA);
    assert_int_equal(msg.len, 0);
    mt_buf_free(&msg);
    json_decref(d);
}

static json_t *sample_vote(void)
{
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:[s]},s:s,s:s,s:I,s:s}", "approval_id",
                     "019b76da-a800-7370-b78a-004e54b0412e", "request_hash",
                     "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592",
                     "voter", "subject", "release-bot", "issuer", "mcptrail-approval-bot",
                     "groups", "bots", "vote", "approve", "reason", "rule 3",
                     "ts", (json_int_t)1767225700000000, "source", "bot");
}

/* Votes and requests: signature is a ["null", "bytes"] union whose null
 * branch is one 0x00, so the message rule is the decision's. */
static void vote_message_is_context_and_datum_with_null_signature(void **state)
{
    (void)state;
    const mt_avro_schema *vs = mt_avro_registry_find(reg, MT_APPROVAL_VOTE_SCHEMA);
    assert_string_equal(mt_approval_context(vs), "mcptrail.ApprovalVote.v1");
    json_t *v = sample_vote();
    json_object_set_new(v, "key_id", json_string("0011223344556677"));
    mt_buf msg = MT_BUF_INIT, datum = MT_BUF_INIT;
    assert_int_equal(mt_approval_message(vs, v, &msg, NULL), MT_OK);
    assert_int_equal(mt_avro_encode_datum(vs, v, &datum, NULL), MT_OK); /* signature null */
    size_t clen = strlen("mcptrail.ApprovalVote.v1");
    assert_int_equal(msg.len, clen + 1 + datum.len - 1);
    assert_memory_equal(msg.data, "mcptrail.ApprovalVote.v1", clen + 1);
    assert_memory_equal(msg.data + clen + 1, datum.data, datum.len - 1);
    mt_buf_free(&msg);
    mt_buf_free(&datum);
    json_decref(v);
}

static void votes_and_requests_verify_and_any_change_breaks_them(void **state)
{
    (void)state;
    mt_ed25519_key *key = NULL, *other = NULL;
    assert_int_equal(mt_ed25519_generate(&key, NULL), MT_OK);
    assert_int_equal(mt_ed25519_generate(&other, NULL), MT_OK);
    const mt_avro_schema *vs = mt_avro_registry_find(reg, MT_APPROVAL_VOTE_SCHEMA);
    const mt_avro_schema *rs = mt_avro_registry_find(reg, MT_APPROVAL_REQUEST_SCHEMA);
    json_t *v = sample_vote();
    /* Unsigned (both fields default to null): never verifies. */
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_approval_verify(vs, v, key, &eb), MT_ERR_BAD_SIGNATURE);
    assert_non_null(strstr(eb.msg, "no signature"));
    assert_int_equal(mt_approval_sign(vs, v, key, NULL), MT_OK);
    assert_int_equal(mt_approval_verify(vs, v, key, NULL), MT_OK);
    assert_int_equal(mt_approval_verify(vs, v, other, NULL), MT_ERR_BAD_SIGNATURE);
    /* Over the wire and back. */
    mt_buf wire = MT_BUF_INIT;
    json_t *back = NULL;
    assert_int_equal(mt_avro_encode(vs, v, &wire, NULL), MT_OK);
    assert_int_equal(mt_avro_decode(reg, wire.data, wire.len, NULL, &back, NULL), MT_OK);
    assert_int_equal(mt_approval_verify(vs, back, key, NULL), MT_OK);
    json_decref(back);
    mt_buf_free(&wire);
    /* Each signed field. */
    const char *fields[] = {"approval_id", "request_hash", "vote", "reason", "ts", "source",
                            "key_id"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *t = json_deep_copy(v);
        json_t *f = json_object_get(t, fields[i]);
        if (json_is_integer(f))
            json_object_set_new(t, fields[i], json_integer(json_integer_value(f) + 1));
        else if (strcmp(fields[i], "vote") == 0)
            json_object_set_new(t, "vote", json_string("deny"));
        else if (strcmp(fields[i], "source") == 0)
            json_object_set_new(t, "source", json_string("api"));
        else if (strcmp(fields[i], "request_hash") == 0)
            json_object_set_new(t, "request_hash",
                                json_string("6d41402abc4b2a76b9719d911017c5925d41402abc4b2a7"
                                            "6b9719d911017c592"));
        else
            json_object_set_new(t, fields[i], json_string("tampered"));
        if (mt_approval_verify(vs, t, key, NULL) != MT_ERR_BAD_SIGNATURE)
            fail_msg("changing %s did not break the vote's signature", fields[i]);
        json_decref(t);
    }
    json_t *t = json_deep_copy(v);
    json_t *voter = json_object_get(t, "voter");
    json_array_append_new(json_object_get(voter, "groups"), json_string("sre"));
    assert_int_equal(mt_approval_verify(vs, t, key, NULL), MT_ERR_BAD_SIGNATURE);
    json_decref(t);
    /* A request signs the same way, under its own context. */
    json_t *r = json_pack(
        "{s:s,s:s,s:s,s:s,s:I,s:I,s:{s:s,s:s},s:s,s:s,s:s,s:[s],s:i}", "approval_id",
        "019b76da-a800-7370-b78a-004e54b0412e", "request_hash",
        "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592", "session_id", "s1",
        "event_id", "e1", "created", (json_int_t)1767225700000000, "expires",
        (json_int_t)1767226300000000, "identity", "issuer", "https://ci.example.com", "subject",
        "repo:acme/infra", "tool", "deploy", "method", "tools/call", "rule_id", "prod",
        "approver_groups", "sre", "min_approvals", 2);
    assert_int_equal(mt_approval_sign(rs, r, key, NULL), MT_OK);
    assert_int_equal(mt_approval_verify(rs, r, key, NULL), MT_OK);
    json_object_set_new(r, "min_approvals", json_integer(1));
    assert_int_equal(mt_approval_verify(rs, r, key, NULL), MT_ERR_BAD_SIGNATURE);
    json_decref(r);
    json_decref(v);
    mt_ed25519_free(other);
    mt_ed25519_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(message_is_context_nul_and_fields_before_signature),
        cmocka_unit_test(signed_decision_verifies_and_is_deterministic),
        cmocka_unit_test(changing_any_signed_field_breaks_the_signature),
        cmocka_unit_test(wrong_schema_or_bad_record_is_refused),
        cmocka_unit_test(vote_message_is_context_and_datum_with_null_signature),
        cmocka_unit_test(votes_and_requests_verify_and_any_change_breaks_them),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
