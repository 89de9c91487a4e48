/* Approval decision signing and verification; see mcptrail/approval.h for
 * the signed message. The message is derived from the schema-driven encoder
 * rather than hand-written field by field, so a field added before
 * `signature` is covered by the signature without a code change here. */
#include "mcptrail/approval.h"

#include <string.h>

mt_err mt_approval_decision_message(const mt_avro_schema *s, const json_t *decision,
                                    mt_buf *out, mt_errbuf *eb)
{
    if (!s || !json_is_object(decision) || !out)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "approval decision: need a schema and an object");
    if (strcmp(mt_avro_schema_name(s), MT_APPROVAL_DECISION_SCHEMA) != 0)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "approval decision: schema is %s, not %s",
                       mt_avro_schema_name(s), MT_APPROVAL_DECISION_SCHEMA);
    json_t *copy = json_copy((json_t *)decision);
    if (!copy || json_object_set_new(copy, "signature", json_string("")) != 0) {
        json_decref(copy);
        return mt_fail(eb, MT_ERR_NOMEM, "approval decision: out of memory");
    }
    size_t start = out->len;
    mt_err err = mt_buf_append(out, MT_APPROVAL_DECISION_CONTEXT,
                               sizeof MT_APPROVAL_DECISION_CONTEXT); /* with the NUL */
    if (err == MT_OK)
        err = mt_avro_encode_datum(s, copy, out, eb);
    json_decref(copy);
    if (err) {
        out->len = start;
        return err == MT_ERR_NOMEM ? mt_fail(eb, err, "approval decision: out of memory") : err;
    }
    /* The empty signature is the last field: its zero length is one 0x00. */
    if (out->len == start || out->data[out->len - 1] != 0) {
        out->len = start;
        return mt_fail(eb, MT_ERR_SCHEMA,
                       "approval decision: signature is not the last field of the schema");
    }
    out->len--;
    return MT_OK;
}

mt_err mt_approval_decision_sign(const mt_avro_schema *s, json_t *decision,
                                 const mt_ed25519_key *key, mt_errbuf *eb)
{
    char kid[MT_ED25519_KEY_ID_SIZE];
    mt_err err = mt_ed25519_key_id(key, kid, eb);
    if (err)
        return err;
    if (!json_is_object(decision) || json_object_set_new(decision, "key_id", json_string(kid)))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "approval decision: not an object");
    mt_buf msg = MT_BUF_INIT;
    uint8_t sig[MT_ED25519_SIG_LEN];
    char hex[2 * MT_ED25519_SIG_LEN + 1];
    if ((err = mt_approval_decision_message(s, decision, &msg, eb)) != MT_OK)
        goto out;
    if ((err = mt_ed25519_sign(key, msg.data, msg.len, sig, eb)) != MT_OK)
        goto out;
    if ((err = mt_hex_encode(sig, sizeof sig, hex, sizeof hex)) != MT_OK)
        goto out;
    if (json_object_set_new(decision, "signature", json_string(hex)) != 0)
        err = mt_fail(eb, MT_ERR_NOMEM, "approval decision: out of memory");
out:
    mt_buf_free(&msg);
    return err;
}

mt_err mt_approval_decision_verify(const mt_avro_schema *s, const json_t *decision,
                                   const mt_ed25519_key *key, mt_errbuf *eb)
{
    const char *hex = json_string_value(json_object_get(decision, "signature"));
    if (!hex)
        return mt_fail(eb, MT_ERR_BAD_SIGNATURE, "approval decision: no signature");
    uint8_t sig[MT_ED25519_SIG_LEN];
    size_t n = 0;
    if (strlen(hex) != 2 * MT_ED25519_SIG_LEN ||
        mt_hex_decode(hex, strlen(hex), sig, sizeof sig, &n, NULL) != MT_OK)
        return mt_fail(eb, MT_ERR_BAD_SIGNATURE,
                       "approval decision: signature is not 64 bytes of hex");
    mt_buf msg = MT_BUF_INIT;
    mt_err err = mt_approval_decision_message(s, decision, &msg, eb);
    if (err == MT_OK)
        err = mt_ed25519_verify(key, msg.data, msg.len, sig, n, eb);
    mt_buf_free(&msg);
    return err;
}
