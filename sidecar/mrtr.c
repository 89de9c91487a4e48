/* MCP 2026-07-28 multi-round-trip requests at the sidecar: call hash, sealed
 * request states, the link table and the single-use set (mrtr.h). */
#include "mrtr.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/buf.h"
#include "mcptrail/json.h"
#include "mcptrail/jwt.h"

bool mt_mrtr_method_supported(const char *method)
{
    return method && (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0 ||
                      strcmp(method, "resources/read") == 0);
}

mt_mrtr_result mt_mrtr_result_of(const json_t *msg)
{
    const json_t *res = json_object_get(msg, "result");
    if (!json_is_object(res))
        return MT_MRTR_RESULT_NONE;
    const json_t *rt = json_object_get(res, "resultType");
    if (!rt)
        return MT_MRTR_RESULT_COMPLETE;
    const char *s = json_string_value(rt);
    if (s && strcmp(s, "complete") == 0)
        return MT_MRTR_RESULT_COMPLETE;
    if (s && strcmp(s, "input_required") == 0)
        return MT_MRTR_RESULT_INPUT_REQUIRED;
    return MT_MRTR_RESULT_OTHER;
}

static mt_err hash_part(mt_sha256_ctx *c, const char *s, mt_errbuf *eb)
{
    /* each part length-prefixed: no two part lists hash alike */
    size_t n = s ? strlen(s) : 0;
    uint8_t len[9];
    len[0] = s ? 1 : 0;
    for (int i = 0; i < 8; i++)
        len[1 + i] = (uint8_t)((uint64_t)n >> (8 * (7 - i)));
    mt_err err = mt_sha256_update(c, len, sizeof len, eb);
    return err == MT_OK && n ? mt_sha256_update(c, s, n, eb) : err;
}

mt_err mt_mrtr_call_hash(const char *method, const char *name, const json_t *arguments,
                         const char *issuer, const char *subject, uint8_t out[MT_SHA256_LEN],
                         mt_errbuf *eb)
{
    mt_buf args = MT_BUF_INIT;
    mt_err err = MT_OK;
    if (arguments && (err = mt_json_dump_canonical(arguments, &args, eb)) != MT_OK)
        return err;
    if (arguments && (err = mt_buf_append_byte(&args, 0)) != MT_OK) {
        mt_buf_free(&args);
        return err;
    }
    mt_sha256_ctx c;
    if ((err = mt_sha256_init(&c, eb)) == MT_OK) {
        static const char label[] = "mcptrail logical call v1";
        err = mt_sha256_update(&c, label, sizeof label, eb);
        if (err == MT_OK)
            err = hash_part(&c, method, eb);
        if (err == MT_OK)
            err = hash_part(&c, name, eb);
        if (err == MT_OK)
            err = hash_part(&c, arguments ? (const char *)args.data : NULL, eb);
        if (err == MT_OK)
            err = hash_part(&c, issuer, eb);
        if (err == MT_OK)
            err = hash_part(&c, subject, eb);
        if (err == MT_OK)
            err = mt_sha256_final(&c, out, eb);
        mt_sha256_free(&c);
    }
    mt_buf_free(&args);
    return err;
}

/* ---- keys ---------------------------------------------------------------- */

typedef struct state_key {
    mt_hmac *mac;
    char id[17];
} state_key;

struct mt_mrtr_keys {
    state_key k[MT_MRTR_MAX_KEYS];
    size_t n;
};

void mt_mrtr_keys_free(mt_mrtr_keys *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++)
        mt_hmac_free(k->k[i].mac);
    free(k);
}

static mt_err add_key(mt_mrtr_keys *k, const uint8_t *secret, size_t len, const char *what,
                      mt_errbuf *eb)
{
    if (k->n == MT_MRTR_MAX_KEYS)
        return mt_fail(eb, MT_ERR_CONFIG, "at most %d request-state keys", MT_MRTR_MAX_KEYS);
    if (len < MT_MRTR_KEY_MIN)
        return mt_fail(eb, MT_ERR_CONFIG,
                       "%s: a request-state key needs at least %d bytes of secret, it has %zu",
                       what, MT_MRTR_KEY_MIN, len);
    uint8_t dg[MT_SHA256_LEN];
    mt_err err = mt_sha256(secret, len, dg);
    if (err == MT_OK)
        err = mt_hex_encode(dg, 8, k->k[k->n].id, sizeof k->k[k->n].id);
    if (err == MT_OK)
        err = mt_hmac_new(secret, len, &k->k[k->n].mac, eb);
    if (err == MT_OK)
        k->n++;
    return err;
}

mt_err mt_mrtr_keys_from(const uint8_t *const *secrets, const size_t *lens, size_t n,
                         mt_mrtr_keys **out, mt_errbuf *eb)
{
    *out = NULL;
    if (n == 0)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "no request-state key");
    mt_mrtr_keys *k = calloc(1, sizeof *k);
    if (!k)
        return MT_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        mt_err err = add_key(k, secrets[i], lens[i], "request-state key", eb);
        if (err != MT_OK) {
            mt_mrtr_keys_free(k);
            return err;
        }
    }
    *out = k;
    return MT_OK;
}

mt_err mt_mrtr_keys_load(const char *const *files, size_t n, mt_mrtr_keys **out, mt_errbuf *eb)
{
    *out = NULL;
    if (n == 0)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "no request-state key file");
    mt_mrtr_keys *k = calloc(1, sizeof *k);
    if (!k)
        return MT_ERR_NOMEM;
    mt_err err = MT_OK;
    for (size_t i = 0; i < n && err == MT_OK; i++) {
        mt_buf b = MT_BUF_INIT;
        err = mt_read_file(files[i], 4096, &b, eb);
        if (err == MT_OK) {
            size_t s = 0, e = b.len;
            while (s < e && isspace(b.data[s]))
                s++;
            while (e > s && isspace(b.data[e - 1]))
                e--;
            err = add_key(k, b.data + s, e - s, files[i], eb);
        }
        if (b.data)
            memset(b.data, 0, b.cap);
        mt_buf_free(&b);
    }
    if (err != MT_OK) {
        mt_mrtr_keys_free(k);
        return err;
    }
    *out = k;
    return MT_OK;
}

const char *mt_mrtr_keys_id(const mt_mrtr_keys *k)
{
    return k && k->n ? k->k[0].id : "";
}

/* ---- sealed states --------------------------------------------------------- */

void mt_mrtr_state_clear(mt_mrtr_state *s)
{
    free(s->upstream_state);
    memset(s, 0, sizeof *s);
}

bool mt_mrtr_is_sealed(const char *text, size_t len)
{
    size_t p = strlen(MT_MRTR_PREFIX);
    return text && len > p && memcmp(text, MT_MRTR_PREFIX, p) == 0;
}

mt_err mt_mrtr_seal(const mt_mrtr_keys *k, mt_mrtr_state *s, mt_buf *out, mt_errbuf *eb)
{
    if (!k || k->n == 0)
        return mt_fail(eb, MT_ERR_STATE, "no request-state key to seal with");
    if (s->upstream_state && strlen(s->upstream_state) > MT_MRTR_UPSTREAM_MAX)
        return mt_fail(eb, MT_ERR_TOO_LARGE,
                       "the server's requestState is longer than %u bytes: not wrapped",
                       MT_MRTR_UPSTREAM_MAX);
    mt_err err;
    if (!s->nonce[0]) {
        uint8_t r[16];
        if ((err = mt_random_bytes(r, sizeof r, eb)) != MT_OK ||
            (err = mt_hex_encode(r, sizeof r, s->nonce, sizeof s->nonce)) != MT_OK)
            return err;
    }
    char hash[65];
    if ((err = mt_hex_encode(s->call_hash, MT_SHA256_LEN, hash, sizeof hash)) != MT_OK)
        return err;
    json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:i, s:I, s:s}", "k", k->k[0].id, "s",
                          (int)s->stage, "a", s->approval_id, "c", s->call_id, "h", hash, "r",
                          s->round, "e", (json_int_t)s->expires_ms, "n", s->nonce);
    if (o && s->upstream_state &&
        json_object_set_new(o, "u", json_string(s->upstream_state)) != 0) {
        json_decref(o);
        o = NULL;
    }
    if (!o)
        return MT_ERR_NOMEM;
    mt_buf payload = MT_BUF_INIT, text = MT_BUF_INIT;
    err = mt_json_dump_canonical(o, &payload, eb);
    json_decref(o);
    if (err == MT_OK)
        err = mt_buf_append(&text, MT_MRTR_PREFIX, strlen(MT_MRTR_PREFIX));
    if (err == MT_OK)
        err = mt_b64url_encode(payload.data, payload.len, &text);
    uint8_t mac[MT_SHA256_LEN];
    if (err == MT_OK)
        err = mt_hmac_compute(k->k[0].mac, text.data, text.len, mac, eb);
    if (err == MT_OK)
        err = mt_buf_append_byte(&text, '.');
    if (err == MT_OK)
        err = mt_b64url_encode(mac, sizeof mac, &text);
    if (err == MT_OK)
        err = mt_buf_append(out, text.data, text.len);
    mt_buf_free(&payload);
    mt_buf_free(&text);
    return err;
}

static mt_err copy_id(const json_t *o, const char *field, char out[37], mt_errbuf *eb)
{
    const char *v = json_string_value(json_object_get(o, field));
    if (!v || strlen(v) > 36)
        return mt_fail(eb, MT_ERR_PARSE, "requestState: field '%s' missing or malformed", field);
    strcpy(out, v);
    return MT_OK;
}

mt_err mt_mrtr_open(const mt_mrtr_keys *k, const char *text, size_t len, int64_t now_ms,
                    mt_mrtr_state *out, mt_errbuf *eb)
{
    memset(out, 0, sizeof *out);
    if (len > MT_MRTR_STATE_MAX)
        return mt_fail(eb, MT_ERR_TOO_LARGE, "requestState longer than %u bytes",
                       MT_MRTR_STATE_MAX);
    if (!mt_mrtr_is_sealed(text, len))
        return mt_fail(eb, MT_ERR_PARSE, "requestState was not issued by mcptrail");
    const char *dot = memchr(text + strlen(MT_MRTR_PREFIX), '.', len - strlen(MT_MRTR_PREFIX));
    if (!dot)
        return mt_fail(eb, MT_ERR_PARSE, "requestState: no MAC part");
    size_t signed_len = (size_t)(dot - text);
    uint8_t mac[MT_SHA256_LEN + 3];
    size_t mac_len = 0;
    if (mt_b64url_decode(dot + 1, len - signed_len - 1, mac, sizeof mac, &mac_len, eb) != MT_OK ||
        mac_len != MT_SHA256_LEN)
        return mt_fail(eb, MT_ERR_PARSE, "requestState: MAC part malformed");
    if (!k || k->n == 0)
        return mt_fail(eb, MT_ERR_STATE, "no request-state key to verify with");
    bool ok = false;
    for (size_t i = 0; i < k->n && !ok; i++) {
        uint8_t want[MT_SHA256_LEN];
        if (mt_hmac_compute(k->k[i].mac, text, signed_len, want, eb) != MT_OK)
            return MT_ERR_CRYPTO;
        ok = mt_ct_equal(want, mac, MT_SHA256_LEN);
    }
    if (!ok)
        return mt_fail(eb, MT_ERR_BAD_SIGNATURE,
                       "requestState does not verify under any request-state key "
                       "(changed, forged, or sealed with a retired key)");
    /* authentic from here on: still parsed strictly */
    const char *p64 = text + strlen(MT_MRTR_PREFIX);
    size_t p64_len = signed_len - strlen(MT_MRTR_PREFIX);
    uint8_t *payload = malloc(p64_len * 3 / 4 + 4);
    if (!payload)
        return MT_ERR_NOMEM;
    size_t plen = 0;
    mt_err err = mt_b64url_decode(p64, p64_len, payload, p64_len * 3 / 4 + 4, &plen, eb);
    json_t *o = err == MT_OK ? json_loadb((const char *)payload, plen, JSON_REJECT_DUPLICATES,
                                          NULL)
                             : NULL;
    free(payload);
    if (!json_is_object(o)) {
        json_decref(o);
        return mt_fail(eb, MT_ERR_PARSE, "requestState: payload is not a JSON object");
    }
    const json_t *st = json_object_get(o, "s"), *r = json_object_get(o, "r"),
                 *e = json_object_get(o, "e"), *u = json_object_get(o, "u");
    const char *h = json_string_value(json_object_get(o, "h"));
    const char *n = json_string_value(json_object_get(o, "n"));
    size_t hlen = 0;
    if (!json_is_integer(st) || (json_integer_value(st) != MT_MRTR_AWAITING_APPROVAL &&
                                 json_integer_value(st) != MT_MRTR_RELEASED) ||
        !json_is_integer(r) || json_integer_value(r) < 2 || json_integer_value(r) > 1000000 ||
        !json_is_integer(e) || !h || strlen(h) != 64 || !n || strlen(n) != 32 ||
        (u && !json_is_string(u))) {
        json_decref(o);
        return mt_fail(eb, MT_ERR_PARSE, "requestState: payload fields malformed");
    }
    out->stage = (mt_mrtr_stage)json_integer_value(st);
    out->round = (int)json_integer_value(r);
    out->expires_ms = (int64_t)json_integer_value(e);
    strcpy(out->nonce, n);
    err = copy_id(o, "a", out->approval_id, eb);
    if (err == MT_OK)
        err = copy_id(o, "c", out->call_id, eb);
    if (err == MT_OK)
        err = mt_hex_decode(h, 64, out->call_hash, MT_SHA256_LEN, &hlen, eb);
    if (err == MT_OK && u && !(out->upstream_state = strdup(json_string_value(u))))
        err = MT_ERR_NOMEM;
    json_decref(o);
    if (err == MT_OK && now_ms > out->expires_ms)
        err = mt_fail(eb, MT_ERR_TIMEOUT, "requestState expired %lld ms ago",
                      (long long)(now_ms - out->expires_ms));
    if (err != MT_OK)
        mt_mrtr_state_clear(out);
    return err;
}

/* ---- link table ------------------------------------------------------------ */

typedef struct link {
    uint8_t key[MT_SHA256_LEN];
    mt_mrtr_link v;
    int64_t until; /* 0: empty */
} link;

struct mt_mrtr_links {
    link *v; /* ring in insertion order; lookups scan (cap is small) */
    size_t cap, next, n;
    int64_t ttl_ms;
};

mt_err mt_mrtr_links_new(size_t cap, int64_t ttl_ms, mt_mrtr_links **out)
{
    *out = NULL;
    if (cap == 0)
        return MT_ERR_INVALID_ARG;
    mt_mrtr_links *l = calloc(1, sizeof *l);
    if (!l || !(l->v = calloc(cap, sizeof *l->v))) {
        free(l);
        return MT_ERR_NOMEM;
    }
    l->cap = cap;
    l->ttl_ms = ttl_ms;
    *out = l;
    return MT_OK;
}

void mt_mrtr_links_free(mt_mrtr_links *l)
{
    if (!l)
        return;
    free(l->v);
    free(l);
}

mt_err mt_mrtr_links_put(mt_mrtr_links *l, const void *state, size_t len, const mt_mrtr_link *v,
                         int64_t now_ms)
{
    link *e = &l->v[l->next];
    if (mt_sha256(state, len, e->key) != MT_OK)
        return MT_ERR_CRYPTO;
    if (!e->until)
        l->n++;
    e->v = *v;
    e->v.call_id[36] = e->v.approval_id[36] = '\0';
    e->until = now_ms + l->ttl_ms;
    l->next = (l->next + 1) % l->cap;
    return MT_OK;
}

bool mt_mrtr_links_take(mt_mrtr_links *l, const void *state, size_t len, int64_t now_ms,
                        mt_mrtr_link *out)
{
    uint8_t key[MT_SHA256_LEN];
    if (mt_sha256(state, len, key) != MT_OK)
        return false;
    for (size_t i = 0; i < l->cap; i++) {
        link *e = &l->v[i];
        if (!e->until || memcmp(e->key, key, sizeof key) != 0)
            continue;
        bool live = e->until >= now_ms;
        if (live)
            *out = e->v;
        e->until = 0;
        l->n--;
        return live;
    }
    return false;
}

size_t mt_mrtr_links_count(const mt_mrtr_links *l)
{
    return l->n;
}

/* ---- single use ------------------------------------------------------------ */

typedef struct seen_entry {
    char nonce[33];
    int64_t until; /* 0: empty */
} seen_entry;

struct mt_mrtr_seen {
    seen_entry *v;
    size_t cap;
};

mt_err mt_mrtr_seen_new(size_t cap, mt_mrtr_seen **out)
{
    *out = NULL;
    if (cap == 0)
        return MT_ERR_INVALID_ARG;
    mt_mrtr_seen *s = calloc(1, sizeof *s);
    if (!s || !(s->v = calloc(cap, sizeof *s->v))) {
        free(s);
        return MT_ERR_NOMEM;
    }
    s->cap = cap;
    *out = s;
    return MT_OK;
}

void mt_mrtr_seen_free(mt_mrtr_seen *s)
{
    if (!s)
        return;
    free(s->v);
    free(s);
}

bool mt_mrtr_seen_use(mt_mrtr_seen *s, const char *nonce, int64_t expires_ms, int64_t now_ms)
{
    seen_entry *slot = NULL;
    for (size_t i = 0; i < s->cap; i++) {
        seen_entry *e = &s->v[i];
        if (e->until && e->until < now_ms)
            e->until = 0; /* expired: its state cannot open any more */
        if (e->until && strcmp(e->nonce, nonce) == 0)
            return false;
        if (!e->until && !slot)
            slot = e;
    }
    if (!slot)
        return false; /* full: fail closed rather than forget a live nonce */
    snprintf(slot->nonce, sizeof slot->nonce, "%s", nonce);
    slot->until = expires_ms;
    return true;
}
