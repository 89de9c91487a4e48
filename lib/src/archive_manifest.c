/* Manifest encoding, parsing and signatures; the format is in mcptrail/archive.h.
 * The signed bytes are re-derived from the parsed fields (never taken from
 * the file), so a verifier and the writer agree on exactly one byte string
 * per manifest whatever whitespace or key order a tamperer introduces. */
#include "mcptrail/archive.h"

#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#include "mcptrail/json.h"

const char *mt_manifest_kind_name(mt_manifest_kind k)
{
    switch (k) {
    case MT_MANIFEST_SEGMENT:
        return "segment";
    case MT_MANIFEST_HEARTBEAT:
        return "heartbeat";
    case MT_MANIFEST_CLOSE:
        return "close";
    }
    return "?";
}

static json_t *hexval(const uint8_t *p, size_t n)
{
    char hex[2 * 64 + 1];
    if (mt_hex_encode(p, n, hex, sizeof hex) != MT_OK)
        return NULL;
    return json_string(hex);
}

/* The object without "signature". */
static json_t *to_json(const mt_manifest *m)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "v", json_integer(1));
    bad |= json_object_set_new(o, "kind", json_string(mt_manifest_kind_name(m->kind)));
    bad |= json_object_set_new(o, "topic", json_string(m->topic));
    bad |= json_object_set_new(o, "partition", json_integer(m->partition));
    bad |= json_object_set_new(o, "seq", json_integer((json_int_t)m->seq));
    bad |= json_object_set_new(o, "first_offset", json_integer(m->first_offset));
    bad |= json_object_set_new(o, "last_offset", json_integer(m->last_offset));
    bad |= json_object_set_new(o, "next_offset", json_integer(m->next_offset));
    bad |= json_object_set_new(o, "records", json_integer((json_int_t)m->records));
    bad |= json_object_set_new(o, "segment", json_string(m->segment));
    bad |= json_object_set_new(o, "segment_bytes", json_integer((json_int_t)m->segment_bytes));
    bad |= json_object_set_new(o, "sha256", hexval(m->sha256, MT_SHA256_LEN));
    bad |= json_object_set_new(o, "merkle_root", hexval(m->merkle_root, MT_SHA256_LEN));
    bad |= json_object_set_new(o, "prev_sha256", hexval(m->prev_sha256, MT_SHA256_LEN));
    bad |= json_object_set_new(o, "created_ms", json_integer(m->created_ms));
    bad |= json_object_set_new(o, "ts_first_ms", json_integer(m->ts_first_ms));
    bad |= json_object_set_new(o, "ts_last_ms", json_integer(m->ts_last_ms));
    bad |= json_object_set_new(o, "heartbeat_ms", json_integer(m->heartbeat_ms));
    bad |= json_object_set_new(o, "key_id", json_string(m->key_id));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static mt_err signed_bytes(const mt_manifest *m, mt_buf *out, mt_errbuf *eb)
{
    json_t *o = to_json(m);
    if (!o)
        return mt_fail(eb, MT_ERR_NOMEM, "manifest: out of memory");
    mt_err err = mt_json_dump_canonical(o, out, eb);
    json_decref(o);
    return err;
}

mt_err mt_manifest_sign_encode(mt_manifest *m, const mt_ed25519_key *key, mt_buf *out,
                               mt_errbuf *eb)
{
    mt_buf tbs = MT_BUF_INIT;
    json_t *o = NULL;
    mt_err err = mt_ed25519_key_id(key, m->key_id, eb);
    if (err || (err = signed_bytes(m, &tbs, eb)) != MT_OK ||
        (err = mt_ed25519_sign(key, tbs.data, tbs.len, m->signature, eb)) != MT_OK)
        goto out;
    if (!(o = to_json(m)) ||
        json_object_set_new(o, "signature", hexval(m->signature, MT_ED25519_SIG_LEN)) != 0) {
        err = mt_fail(eb, MT_ERR_NOMEM, "manifest: out of memory");
        goto out;
    }
    err = mt_json_dump_canonical(o, out, eb);
out:
    json_decref(o);
    mt_buf_free(&tbs);
    return err;
}

static mt_err get_i64(const json_t *o, const char *f, int64_t min, int64_t max, int64_t *v,
                      mt_errbuf *eb)
{
    json_int_t x;
    mt_err err = mt_json_get_int_range(o, f, min, max, &x, eb);
    if (!err)
        *v = x;
    return err;
}

static mt_err get_hex(const json_t *o, const char *f, uint8_t *out, size_t n, mt_errbuf *eb)
{
    const char *s;
    size_t got;
    mt_err err = mt_json_get_string(o, f, &s, eb);
    if (err)
        return err;
    if (strlen(s) != 2 * n)
        return mt_fail(eb, MT_ERR_PARSE, "field '%s' must be %zu hex characters", f, 2 * n);
    return mt_hex_decode(s, 2 * n, out, n, &got, eb);
}

static mt_err get_str(const json_t *o, const char *f, char *out, size_t cap, mt_errbuf *eb)
{
    const char *s;
    mt_err err = mt_json_get_string(o, f, &s, eb);
    if (err)
        return err;
    size_t n = strlen(s);
    if (n >= cap)
        return mt_fail(eb, MT_ERR_TOO_LARGE, "field '%s' is longer than %zu bytes", f, cap - 1);
    memcpy(out, s, n + 1);
    return MT_OK;
}

static const char *const FIELDS[] = {
    "v", "kind", "topic", "partition", "seq", "first_offset", "last_offset", "next_offset",
    "records", "segment", "segment_bytes", "sha256", "merkle_root", "prev_sha256",
    "created_ms", "ts_first_ms", "ts_last_ms", "heartbeat_ms", "key_id", "signature"};

mt_err mt_manifest_parse(const uint8_t *data, size_t len, mt_manifest *m, bool *canonical,
                         mt_errbuf *eb)
{
    json_t *o = NULL;
    mt_buf canon = MT_BUF_INIT;
    mt_json_limits lim = MT_JSON_LIMITS_DEFAULT;
    lim.max_bytes = MT_MANIFEST_MAX_BYTES;
    lim.max_depth = 4;
    memset(m, 0, sizeof *m);
    mt_err err = mt_json_parse(data, len, &lim, &o, eb);
    if (err)
        return err;
    if (!json_is_object(o)) {
        err = mt_fail(eb, MT_ERR_PARSE, "a manifest must be a JSON object");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        bool known = false;
        for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
            known |= strcmp(k, FIELDS[i]) == 0;
        if (!known) {
            err = mt_fail(eb, MT_ERR_PARSE, "unknown field '%.64s'", k);
            goto out;
        }
    }
    int64_t ver, part, seq, recs, bytes;
    const char *kind;
    if ((err = get_i64(o, "v", 1, 1, &ver, eb)) != MT_OK ||
        (err = mt_json_get_string(o, "kind", &kind, eb)) != MT_OK)
        goto out;
    if (strcmp(kind, "segment") == 0)
        m->kind = MT_MANIFEST_SEGMENT;
    else if (strcmp(kind, "heartbeat") == 0)
        m->kind = MT_MANIFEST_HEARTBEAT;
    else if (strcmp(kind, "close") == 0)
        m->kind = MT_MANIFEST_CLOSE;
    else {
        err = mt_fail(eb, MT_ERR_PARSE, "field 'kind' is '%.32s' (segment, heartbeat, close)",
                      kind);
        goto out;
    }
    if ((err = get_str(o, "topic", m->topic, sizeof m->topic, eb)) != MT_OK ||
        (err = get_i64(o, "partition", 0, INT32_MAX, &part, eb)) != MT_OK ||
        (err = get_i64(o, "seq", 0, INT64_MAX, &seq, eb)) != MT_OK ||
        (err = get_i64(o, "first_offset", -1, INT64_MAX, &m->first_offset, eb)) != MT_OK ||
        (err = get_i64(o, "last_offset", -1, INT64_MAX, &m->last_offset, eb)) != MT_OK ||
        (err = get_i64(o, "next_offset", 0, INT64_MAX, &m->next_offset, eb)) != MT_OK ||
        (err = get_i64(o, "records", 0, INT64_MAX, &recs, eb)) != MT_OK ||
        (err = get_str(o, "segment", m->segment, sizeof m->segment, eb)) != MT_OK ||
        (err = get_i64(o, "segment_bytes", 0, INT64_MAX, &bytes, eb)) != MT_OK ||
        (err = get_hex(o, "sha256", m->sha256, MT_SHA256_LEN, eb)) != MT_OK ||
        (err = get_hex(o, "merkle_root", m->merkle_root, MT_SHA256_LEN, eb)) != MT_OK ||
        (err = get_hex(o, "prev_sha256", m->prev_sha256, MT_SHA256_LEN, eb)) != MT_OK ||
        (err = get_i64(o, "created_ms", 0, INT64_MAX, &m->created_ms, eb)) != MT_OK ||
        (err = get_i64(o, "ts_first_ms", -1, INT64_MAX, &m->ts_first_ms, eb)) != MT_OK ||
        (err = get_i64(o, "ts_last_ms", -1, INT64_MAX, &m->ts_last_ms, eb)) != MT_OK ||
        (err = get_i64(o, "heartbeat_ms", 0, INT64_MAX, &m->heartbeat_ms, eb)) != MT_OK ||
        (err = get_str(o, "key_id", m->key_id, sizeof m->key_id, eb)) != MT_OK ||
        (err = get_hex(o, "signature", m->signature, MT_ED25519_SIG_LEN, eb)) != MT_OK)
        goto out;
    m->partition = (int32_t)part;
    m->seq = (uint64_t)seq;
    m->records = (uint64_t)recs;
    m->segment_bytes = (uint64_t)bytes;
    if (strchr(m->segment, '/') || strcmp(m->segment, "..") == 0 ||
        strcmp(m->segment, ".") == 0) {
        err = mt_fail(eb, MT_ERR_PARSE, "field 'segment' must be a plain file name");
        goto out;
    }
    if (canonical) {
        if ((err = mt_json_dump_canonical(o, &canon, eb)) != MT_OK)
            goto out;
        *canonical = canon.len == len && memcmp(canon.data, data, len) == 0;
    }
out:
    json_decref(o);
    mt_buf_free(&canon);
    return err;
}

mt_err mt_manifest_verify_sig(const mt_manifest *m, const mt_ed25519_key *pub, mt_errbuf *eb)
{
    mt_buf tbs = MT_BUF_INIT;
    mt_err err = signed_bytes(m, &tbs, eb);
    if (!err)
        err = mt_ed25519_verify(pub, tbs.data, tbs.len, m->signature, MT_ED25519_SIG_LEN, eb);
    mt_buf_free(&tbs);
    return err;
}
