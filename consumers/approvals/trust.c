/* Signing keys and the records each may sign; the rules are in trust.h.
 * The key table is small (a few hundred keys at most) and searched
 * linearly by key id. */
#include "trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/approval.h"
#include "mcptrail/json.h"

#define TRUST_FILE_MAX (1u << 20)

void mt_trust_init(mt_trust *t)
{
    memset(t, 0, sizeof *t);
}

static void key_free(mt_trust_key *k)
{
    free(k->name);
    mt_ed25519_free(k->key);
    free(k->subject);
    free(k->issuer);
    for (size_t i = 0; i < k->ngroups; i++)
        free(k->groups[i]);
    free(k->groups);
    memset(k, 0, sizeof *k);
}

void mt_trust_free(mt_trust *t)
{
    for (size_t i = 0; i < t->n; i++)
        key_free(&t->keys[i]);
    free(t->keys);
    memset(t, 0, sizeof *t);
}

const mt_trust_key *mt_trust_find(const mt_trust *t, const char *key_id)
{
    for (size_t i = 0; key_id && i < t->n; i++)
        if (strcmp(t->keys[i].id, key_id) == 0)
            return &t->keys[i];
    return NULL;
}

size_t mt_trust_count(const mt_trust *t, mt_trust_role role)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->keys[i].role == role;
    return n;
}

const char *mt_trust_role_name(mt_trust_role r)
{
    switch (r) {
    case MT_TRUST_SERVICE: return "service";
    case MT_TRUST_SIDECAR: return "sidecar";
    case MT_TRUST_BOT: return "bot";
    }
    return "?";
}

const char *mt_trust_verdict_name(mt_trust_verdict v)
{
    switch (v) {
    case MT_TRUST_OK: return "ok";
    case MT_TRUST_UNSIGNED: return "unsigned";
    case MT_TRUST_UNKNOWN_KEY: return "unknown_key";
    case MT_TRUST_BAD_SIGNATURE: return "bad_signature";
    case MT_TRUST_WRONG_ROLE: return "wrong_role";
    case MT_TRUST_IDENTITY: return "identity_not_allowed";
    case MT_TRUST_GROUPS: return "group_not_allowed";
    case MT_TRUST_RETIRED: return "retired_key";
    }
    return "?";
}

/* Takes ownership of *k (moved into the table, or freed on error). */
static mt_err add_key(mt_trust *t, mt_trust_key *k, const char *where, mt_errbuf *eb)
{
    mt_err err = mt_ed25519_key_id(k->key, k->id, eb);
    const mt_trust_key *dup = err ? NULL : mt_trust_find(t, k->id);
    if (!err && dup)
        err = mt_fail(eb, MT_ERR_CONFIG,
                      "%s: key %s is already trusted as %s '%s' (a key has one role and one "
                      "name)",
                      where, k->id, mt_trust_role_name(dup->role), dup->name);
    if (!err && mt_trust_count(t, k->role) >= MT_TRUST_MAX_KEYS)
        err = mt_fail(eb, MT_ERR_CONFIG, "%s: more than %d %s keys", where, MT_TRUST_MAX_KEYS,
                      mt_trust_role_name(k->role));
    if (!err && t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        mt_trust_key *p = realloc(t->keys, cap * sizeof *p);
        if (!p)
            err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        else {
            t->keys = p;
            t->cap = cap;
        }
    }
    if (err) {
        key_free(k);
        return err;
    }
    t->keys[t->n++] = *k;
    memset(k, 0, sizeof *k);
    return MT_OK;
}

/* The public part of key, as a key of its own (the table owns its keys). */
static mt_err public_copy(const mt_ed25519_key *key, mt_ed25519_key **out, mt_errbuf *eb)
{
    uint8_t raw[MT_ED25519_PUBLIC_LEN];
    mt_err err = mt_ed25519_public_raw(key, raw, eb);
    return err ? err : mt_ed25519_from_public_raw(raw, out, eb);
}

mt_err mt_trust_add_service(mt_trust *t, const mt_ed25519_key *key, bool retired, mt_errbuf *eb)
{
    mt_trust_key k = {.role = MT_TRUST_SERVICE, .retired = retired};
    mt_err err = public_copy(key, &k.key, eb);
    if (err)
        return err;
    if (!(k.name = strdup(retired ? "service-retired" : "service"))) {
        key_free(&k);
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    return add_key(t, &k, retired ? "signing.previous_public_keys" : "signing.key_file", eb);
}

mt_err mt_trust_add_service_file(mt_trust *t, const char *path, mt_errbuf *eb)
{
    mt_trust_key k = {.role = MT_TRUST_SERVICE, .retired = true};
    mt_err err = mt_ed25519_load_public_pem_file(path, &k.key, eb);
    if (err)
        return err;
    if (!(k.name = strdup("service-retired"))) {
        key_free(&k);
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    return add_key(t, &k, path, eb);
}

static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > MT_TRUST_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The key of one entry: "public_key" (PEM text) or "public_key_file"
 * (relative to the trust file's directory), exactly one of them. */
static mt_err entry_key(const json_t *e, const char *dir, const char *where,
                        mt_ed25519_key **out, mt_errbuf *eb)
{
    const char *pem = json_string_value(json_object_get(e, "public_key"));
    const char *file = json_string_value(json_object_get(e, "public_key_file"));
    if (!pem == !file)
        return mt_fail(eb, MT_ERR_CONFIG, "%s: give exactly one of public_key (PEM text) and "
                       "public_key_file", where);
    if (pem)
        return mt_ed25519_load_public_pem(pem, strlen(pem), where, out, eb);
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s%s", file[0] == '/' ? "" : dir, file) >=
        sizeof path)
        return mt_fail(eb, MT_ERR_CONFIG, "%s: public_key_file path too long", where);
    mt_errbuf inner = {{0}};
    mt_err err = mt_ed25519_load_public_pem_file(path, out, &inner);
    return err ? mt_fail(eb, err, "%s: %s", where, inner.msg) : MT_OK;
}

static mt_err load_entry(mt_trust *t, const json_t *e, mt_trust_role role, const char *dir,
                         const char *where, mt_errbuf *eb)
{
    static const char *const sidecar_keys[] = {"name", "public_key", "public_key_file", NULL};
    static const char *const bot_keys[] = {"name",    "public_key", "public_key_file",
                                           "subject", "issuer",     "groups", NULL};
    if (!json_is_object(e))
        return mt_fail(eb, MT_ERR_CONFIG, "%s: must be an object", where);
    const char *const *allowed = role == MT_TRUST_BOT ? bot_keys : sidecar_keys;
    const char *member;
    json_t *v;
    json_object_foreach((json_t *)e, member, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], member) != 0)
            i++;
        if (!allowed[i])
            return mt_fail(eb, MT_ERR_CONFIG, "%s: unknown member '%.64s'", where, member);
    }
    const char *name = json_string_value(json_object_get(e, "name"));
    if (!name_ok(name))
        return mt_fail(eb, MT_ERR_CONFIG,
                       "%s: name must be 1-%d characters of [A-Za-z0-9._-]", where,
                       MT_TRUST_NAME_MAX);
    mt_trust_key k = {.role = role};
    mt_err err = entry_key(e, dir, where, &k.key, eb);
    if (err)
        return err;
    if (!(k.name = strdup(name))) {
        key_free(&k);
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    if (role == MT_TRUST_BOT) {
        const char *sub = json_string_value(json_object_get(e, "subject"));
        const char *iss = json_string_value(json_object_get(e, "issuer"));
        const json_t *groups = json_object_get(e, "groups");
        if (!sub || !*sub || !iss || !*iss || !json_is_array(groups) ||
            json_array_size(groups) > MT_TRUST_MAX_GROUPS) {
            key_free(&k);
            return mt_fail(eb, MT_ERR_CONFIG,
                           "%s: a bot needs subject, issuer (non-empty strings) and groups (an "
                           "array of at most %d strings)",
                           where, MT_TRUST_MAX_GROUPS);
        }
        k.subject = strdup(sub);
        k.issuer = strdup(iss);
        k.groups = calloc(json_array_size(groups) + 1, sizeof *k.groups);
        bool bad = !k.subject || !k.issuer || !k.groups;
        size_t i;
        json_t *g;
        json_array_foreach(groups, i, g)
        {
            if (bad)
                break;
            if (!json_is_string(g) || !*json_string_value(g)) {
                key_free(&k);
                return mt_fail(eb, MT_ERR_CONFIG, "%s: groups[%zu] is not a non-empty string",
                               where, i);
            }
            if (!(k.groups[k.ngroups] = strdup(json_string_value(g))))
                bad = true;
            else
                k.ngroups++;
        }
        if (bad) {
            key_free(&k);
            return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        }
    }
    return add_key(t, &k, where, eb);
}

mt_err mt_trust_load_file(mt_trust *t, const char *path, mt_errbuf *eb)
{
    mt_json_limits lim = MT_JSON_LIMITS_DEFAULT;
    lim.max_bytes = TRUST_FILE_MAX;
    json_t *doc = NULL;
    mt_err err = mt_json_load_file(path, &lim, &doc, eb);
    if (err)
        return err;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path + 1) : 0;
    if (dl >= sizeof dir) {
        json_decref(doc);
        return mt_fail(eb, MT_ERR_CONFIG, "%s: path too long", path);
    }
    memcpy(dir, path, dl);
    dir[dl] = '\0';
    if (!json_is_object(doc)) {
        err = mt_fail(eb, MT_ERR_CONFIG, "%s: must be a JSON object with sidecars and bots",
                      path);
        goto out;
    }
    const char *member;
    json_t *v;
    json_object_foreach(doc, member, v)
    {
        if (strcmp(member, "sidecars") != 0 && strcmp(member, "bots") != 0) {
            err = mt_fail(eb, MT_ERR_CONFIG,
                          "%s: unknown member '%.64s' (a trust file has sidecars and bots)",
                          path, member);
            goto out;
        }
        if (!json_is_array(v)) {
            err = mt_fail(eb, MT_ERR_CONFIG, "%s: %s must be an array", path, member);
            goto out;
        }
    }
    static const struct {
        const char *member;
        mt_trust_role role;
    } lists[] = {{"sidecars", MT_TRUST_SIDECAR}, {"bots", MT_TRUST_BOT}};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(doc, lists[l].member), i, e)
        {
            char where[4200];
            snprintf(where, sizeof where, "%s: %s[%zu]", path, lists[l].member, i);
            if ((err = load_entry(t, e, lists[l].role, dir, where, eb)) != MT_OK)
                goto out;
        }
    }
out:
    json_decref(doc);
    return err;
}

/* Signature under the key key_id names, and that key's role. */
static mt_trust_verdict check_signed(const mt_trust *t, const mt_avro_schema *s,
                                     const json_t *rec, mt_trust_role want,
                                     const mt_trust_key **signer, mt_errbuf *eb)
{
    *signer = NULL;
    const char *kid = json_string_value(json_object_get(rec, "key_id"));
    const char *sig = json_string_value(json_object_get(rec, "signature"));
    if (!kid || !*kid || !sig || !*sig) {
        mt_fail(eb, MT_ERR_BAD_SIGNATURE, "record is not signed");
        return MT_TRUST_UNSIGNED;
    }
    const mt_trust_key *k = mt_trust_find(t, kid);
    if (!k) {
        mt_fail(eb, MT_ERR_BAD_SIGNATURE, "key %.32s is not trusted", kid);
        return MT_TRUST_UNKNOWN_KEY;
    }
    if (mt_approval_verify(s, rec, k->key, eb) != MT_OK)
        return MT_TRUST_BAD_SIGNATURE;
    *signer = k;
    if (k->role != want) {
        mt_fail(eb, MT_ERR_BAD_SIGNATURE, "signed by %s key '%s', which may not sign this",
                mt_trust_role_name(k->role), k->name);
        return MT_TRUST_WRONG_ROLE;
    }
    return MT_TRUST_OK;
}

mt_trust_verdict mt_trust_check_request(const mt_trust *t, const mt_avro_schema *s,
                                        const json_t *rec, const mt_trust_key **signer,
                                        mt_errbuf *eb)
{
    return check_signed(t, s, rec, MT_TRUST_SIDECAR, signer, eb);
}

mt_trust_verdict mt_trust_check_decision(const mt_trust *t, const mt_avro_schema *s,
                                         const json_t *rec, const mt_trust_key **signer,
                                         mt_errbuf *eb)
{
    return check_signed(t, s, rec, MT_TRUST_SERVICE, signer, eb);
}

static bool has_group(const mt_trust_key *k, const char *g)
{
    for (size_t i = 0; g && i < k->ngroups; i++)
        if (strcmp(k->groups[i], g) == 0)
            return true;
    return false;
}

mt_trust_verdict mt_trust_check_vote(const mt_trust *t, const mt_avro_schema *s,
                                     const json_t *rec, const mt_trust_key **signer,
                                     mt_errbuf *eb)
{
    const char *src = json_string_value(json_object_get(rec, "source"));
    mt_trust_role want = MT_TRUST_SERVICE;
    if (src && strcmp(src, "bot") == 0)
        want = MT_TRUST_BOT;
    else if (src && strcmp(src, "sidecar") == 0)
        want = MT_TRUST_SIDECAR;
    mt_trust_verdict v = check_signed(t, s, rec, want, signer, eb);
    if (v == MT_TRUST_OK && (*signer)->retired) {
        mt_fail(eb, MT_ERR_BAD_SIGNATURE,
                "signed by a retired service key: it verifies published decisions only");
        return MT_TRUST_RETIRED;
    }
    if (v != MT_TRUST_OK || want != MT_TRUST_BOT)
        return v;
    const mt_trust_key *k = *signer;
    const json_t *voter = json_object_get(rec, "voter");
    const char *sub = json_string_value(json_object_get(voter, "subject"));
    const char *iss = json_string_value(json_object_get(voter, "issuer"));
    if (!sub || !iss || strcmp(sub, k->subject) != 0 || strcmp(iss, k->issuer) != 0) {
        mt_fail(eb, MT_ERR_BAD_SIGNATURE,
                "bot key '%s' votes only as subject '%s' of issuer '%s', not as '%.64s' of "
                "'%.64s'",
                k->name, k->subject, k->issuer, sub ? sub : "", iss ? iss : "");
        return MT_TRUST_IDENTITY;
    }
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(voter, "groups"), i, g)
    {
        if (!has_group(k, json_string_value(g))) {
            mt_fail(eb, MT_ERR_BAD_SIGNATURE, "bot key '%s' may not vote as group '%.64s'",
                    k->name, json_string_value(g) ? json_string_value(g) : "?");
            return MT_TRUST_GROUPS;
        }
    }
    return MT_TRUST_OK;
}
