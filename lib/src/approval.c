/* Approval record signing and verification; see mcptrail/approval.h for the
 * signed message. The message is derived from the schema-driven encoder
 * rather than hand-written field by field. */
#include "mcptrail/approval.h"

#include <stdbool.h>
#include <string.h>

static const struct {
    const char *schema, *context;
} signed_types[] = {
    {MT_APPROVAL_REQUEST_SCHEMA, "mcptrail.ApprovalRequest.v1"},
    {MT_APPROVAL_VOTE_SCHEMA, "mcptrail.ApprovalVote.v1"},
    {MT_APPROVAL_DECISION_SCHEMA, "mcptrail.ApprovalDecision.v1"},
};

const char *mt_approval_context(const mt_avro_schema *s)
{
    const char *name = s ? mt_avro_schema_name(s) : NULL;
    for (size_t i = 0; name && i < sizeof signed_types / sizeof signed_types[0]; i++)
        if (strcmp(name, signed_types[i].schema) == 0)
            return signed_types[i].context;
    return NULL;
}

mt_err mt_approval_message(const mt_avro_schema *s, const json_t *rec, mt_buf *out,
                           mt_errbuf *eb)
{
    if (!s || !json_is_object(rec) || !out)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "approval record: need a schema and an object");
    const char *ctx = mt_approval_context(s);
    if (!ctx)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "approval record: %s is not a signed record type",
                       mt_avro_schema_name(s));
    bool is_decision = strcmp(mt_avro_schema_name(s), MT_APPROVAL_DECISION_SCHEMA) == 0;
    json_t *copy = json_copy((json_t *)rec);
    if (!copy || json_object_set_new(copy, "signature",
                                     is_decision ? json_string("") : json_null()) != 0) {
        json_decref(copy);
        return mt_fail(eb, MT_ERR_NOMEM, "approval record: out of memory");
    }
    size_t start = out->len;
    mt_err err = mt_buf_append(out, ctx, strlen(ctx) + 1); /* with the NUL */
    if (err == MT_OK)
        err = mt_avro_encode_datum(s, copy, out, eb);
    json_decref(copy);
    if (err) {
        out->len = start;
        return err == MT_ERR_NOMEM ? mt_fail(eb, err, "approval record: out of memory") : err;
    }
    /* The unsigned signature is the last field: empty bytes (length 0) or
     * the null branch (index 0) are both one 0x00. */
    if (out->len == start || out->data[out->len - 1] != 0) {
        out->len = start;
        return mt_fail(eb, MT_ERR_SCHEMA, "approval record: signature is not the last field of %s",
                       mt_avro_schema_name(s));
    }
    out->len--;
    return MT_OK;
}

mt_err mt_approval_sign(const mt_avro_schema *s, json_t *rec, const mt_ed25519_key *key,
                        mt_errbuf *eb)
{
    char kid[MT_ED25519_KEY_ID_SIZE];
    mt_err err = mt_ed25519_key_id(key, kid, eb);
    if (err)
        return err;
    if (!json_is_object(rec) || json_object_set_new(rec, "key_id", json_string(kid)))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "approval record: not an object");
    mt_buf msg = MT_BUF_INIT;
    uint8_t sig[MT_ED25519_SIG_LEN];
    char hex[2 * MT_ED25519_SIG_LEN + 1];
    if ((err = mt_approval_message(s, rec, &msg, eb)) != MT_OK)
        goto out;
    if ((err = mt_ed25519_sign(key, msg.data, msg.len, sig, eb)) != MT_OK)
        goto out;
    if ((err = mt_hex_encode(sig, sizeof sig, hex, sizeof hex)) != MT_OK)
        goto out;
    if (json_object_set_new(rec, "signature", json_string(hex)) != 0)
        err = mt_fail(eb, MT_ERR_NOMEM, "approval record: out of memory");
out:
    mt_buf_free(&msg);
    return err;
}

mt_err mt_approval_verify(const mt_avro_schema *s, const json_t *rec, const mt_ed25519_key *key,
                          mt_errbuf *eb)
{
    const char *hex = json_string_value(json_object_get(rec, "signature"));
    if (!hex || !*hex)
        return mt_fail(eb, MT_ERR_BAD_SIGNATURE, "approval record: no signature");
    uint8_t sig[MT_ED25519_SIG_LEN];
    size_t n = 0;
    if (strlen(hex) != 2 * MT_ED25519_SIG_LEN ||
        mt_hex_decode(hex, strlen(hex), sig, sizeof sig, &n, NULL) != MT_OK)
        return mt_fail(eb, MT_ERR_BAD_SIGNATURE,
                       "approval record: signature is not 64 bytes of hex");
    mt_buf msg = MT_BUF_INIT;
    mt_err err = mt_approval_message(s, rec, &msg, eb);
    if (err == MT_OK)
        err = mt_ed25519_verify(key, msg.data, msg.len, sig, n, eb);
    mt_buf_free(&msg);
    return err;
}
