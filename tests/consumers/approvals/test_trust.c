/* Unit tests of consumers/approvals/trust.c: the trust file's format and
 * its errors, and which key may sign which approval record: requests only
 * under a sidecar key, votes under the key their source requires, a bot
 * only as the identity and within the groups of its entry, decisions only
 * under the service's current or retired keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mcptrail/approval.h"
#include "trust.h"

typedef struct fx {
    mt_avro_registry *reg;
    const mt_avro_schema *req, *vote, *dec;
    mt_ed25519_key *service, *retired, *sidecar, *bot, *rogue;
    char dir[64], files[8][160];
    int nfiles;
} fx;

static const char *file_in(fx *f, const char *name, const char *text)
{
    char *p = f->files[f->nfiles++];
    snprintf(p, sizeof f->files[0], "%s/%s", f->dir, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return p;
}

static char *pem_of(const mt_ed25519_key *k)
{
    mt_buf b = MT_BUF_INIT;
    assert_int_equal(mt_ed25519_public_pem(k, &b, NULL), MT_OK);
    char *s = strndup((const char *)b.data, b.len);
    mt_buf_free(&b);
    return s;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    assert_int_equal(mt_avro_registry_load(NULL, &f->reg, NULL), MT_OK);
    f->req = mt_avro_registry_find(f->reg, MT_APPROVAL_REQUEST_SCHEMA);
    f->vote = mt_avro_registry_find(f->reg, MT_APPROVAL_VOTE_SCHEMA);
    f->dec = mt_avro_registry_find(f->reg, MT_APPROVAL_DECISION_SCHEMA);
    mt_ed25519_key **keys[] = {&f->service, &f->retired, &f->sidecar, &f->bot, &f->rogue};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(mt_ed25519_generate(keys[i], NULL), MT_OK);
    snprintf(f->dir, sizeof f->dir, "/tmp/mt-trust-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[160];
    snprintf(path, sizeof path, "%s/sidecar.pub.pem", f->dir);
    assert_int_equal(mt_ed25519_write_public_pem(f->sidecar, path, NULL), MT_OK);
    snprintf(f->files[f->nfiles++], sizeof f->files[0], "%s", path);
    snprintf(path, sizeof path, "%s/retired.pub.pem", f->dir);
    assert_int_equal(mt_ed25519_write_public_pem(f->retired, path, NULL), MT_OK);
    snprintf(f->files[f->nfiles++], sizeof f->files[0], "%s", path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    for (int i = 0; i < f->nfiles; i++)
        unlink(f->files[i]);
    rmdir(f->dir);
    mt_ed25519_key *keys[] = {f->service, f->retired, f->sidecar, f->bot, f->rogue};
    for (size_t i = 0; i < 5; i++)
        mt_ed25519_free(keys[i]);
    mt_avro_registry_free(f->reg);
    free(f);
    return 0;
}

/* The service key, the retired one, the sidecar from its file (relative
 * path) and the bot inline. */
static void load_all(fx *f, mt_trust *t)
{
    char *bot_pem = pem_of(f->bot);
    json_t *doc = json_pack("{s:[{s:s,s:s}],s:[{s:s,s:s,s:s,s:s,s:[s,s]}]}", "sidecars", "name",
                            "payments", "public_key_file", "sidecar.pub.pem", "bots", "name",
                            "release-bot", "public_key", bot_pem, "subject", "release-bot",
                            "issuer", "mcptrail-approval-bot", "groups", "bots", "readonly");
    char *text = json_dumps(doc, 0);
    const char *path = file_in(f, "trust.json", text);
    free(text);
    json_decref(doc);
    free(bot_pem);
    mt_trust_init(t);
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_trust_add_service(t, f->service, false, &eb), MT_OK);
    assert_int_equal(mt_trust_add_service_file(t, f->files[1], &eb), MT_OK);
    if (mt_trust_load_file(t, path, &eb) != MT_OK)
        fail_msg("%s", eb.msg);
    f->nfiles--;
    unlink(path);
}

static void trust_file_loads_sidecars_and_bots(void **state)
{
    fx *f = *state;
    mt_trust t;
    load_all(f, &t);
    assert_int_equal(mt_trust_count(&t, MT_TRUST_SERVICE), 2);
    assert_int_equal(mt_trust_count(&t, MT_TRUST_SIDECAR), 1);
    assert_int_equal(mt_trust_count(&t, MT_TRUST_BOT), 1);
    char kid[MT_ED25519_KEY_ID_SIZE];
    assert_int_equal(mt_ed25519_key_id(f->bot, kid, NULL), MT_OK);
    const mt_trust_key *k = mt_trust_find(&t, kid);
    assert_non_null(k);
    assert_int_equal(k->role, MT_TRUST_BOT);
    assert_string_equal(k->name, "release-bot");
    assert_string_equal(k->subject, "release-bot");
    assert_int_equal(k->ngroups, 2);
    assert_false(mt_ed25519_has_private(k->key));
    assert_null(mt_trust_find(&t, "0000000000000000"));
    mt_trust_free(&t);
}

static void trust_file_errors_name_the_entry(void **state)
{
    fx *f = *state;
    char *pem = pem_of(f->sidecar);
    char *bot = pem_of(f->bot);
    char dup[2048], both[2048], nosub[2048];
    snprintf(dup, sizeof dup,
             "{\"sidecars\":[{\"name\":\"a\",\"public_key_file\":\"sidecar.pub.pem\"}],"
             "\"bots\":[{\"name\":\"b\",\"public_key_file\":\"%s/sidecar.pub.pem\","
             "\"subject\":\"b\",\"issuer\":\"i\",\"groups\":[]}]}",
             f->dir);
    json_t *j = json_pack("{s:[{s:s,s:s,s:s}]}", "sidecars", "name", "a", "public_key", pem,
                          "public_key_file", "sidecar.pub.pem");
    char *t = json_dumps(j, 0);
    snprintf(both, sizeof both, "%s", t);
    free(t);
    json_decref(j);
    j = json_pack("{s:[{s:s,s:s,s:s,s:[]}]}", "bots", "name", "b", "public_key", bot, "issuer",
                  "i", "groups");
    t = json_dumps(j, 0);
    snprintf(nosub, sizeof nosub, "%s", t);
    free(t);
    json_decref(j);
    static const char *const want[] = {
        "unknown member 'admins'", "sidecars must be an array", "unknown member 'key'",
        "name must be",            "already trusted as sidecar 'a'",
        "exactly one of public_key", "needs subject, issuer", "sidecars[0]: ",
    };
    const char *docs[] = {
        "{\"admins\":[]}",
        "{\"sidecars\":{}}",
        "{\"sidecars\":[{\"name\":\"a\",\"key\":\"x\"}]}",
        "{\"sidecars\":[{\"name\":\"a b\",\"public_key_file\":\"sidecar.pub.pem\"}]}",
        dup,
        both,
        nosub,
        "{\"sidecars\":[{\"name\":\"a\",\"public_key_file\":\"missing.pem\"}]}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        const char *path = file_in(f, "bad.json", docs[i]);
        mt_trust tr;
        mt_trust_init(&tr);
        mt_errbuf eb = {{0}};
        if (mt_trust_load_file(&tr, path, &eb) == MT_OK)
            fail_msg("case %zu loaded", i);
        if (!strstr(eb.msg, want[i]) || !strstr(eb.msg, "bad.json"))
            fail_msg("case %zu: '%s' does not say '%s'", i, eb.msg, want[i]);
        mt_trust_free(&tr);
        f->nfiles--;
        unlink(path);
    }
    /* The service's own key cannot also be a sidecar's. */
    mt_trust tr;
    mt_trust_init(&tr);
    assert_int_equal(mt_trust_add_service(&tr, f->sidecar, false, NULL), MT_OK);
    const char *path = file_in(
        f, "t.json", "{\"sidecars\":[{\"name\":\"a\",\"public_key_file\":\"sidecar.pub.pem\"}]}");
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_trust_load_file(&tr, path, &eb), MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "already trusted as service"));
    mt_trust_free(&tr);
    f->nfiles--;
    unlink(path);
    free(pem);
    free(bot);
}

static json_t *vote(const char *source, const char *sub, const char *iss, json_t *groups)
{
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:o},s:s,s:n,s:I,s:s}", "approval_id", "ap-1",
                     "request_hash",
                     "aa00000000000000000000000000000000000000000000000000000000000001", "voter",
                     "subject", sub, "issuer", iss, "groups", groups, "vote", "approve",
                     "reason", "ts", (json_int_t)1767225700000000, "source", source);
}

static mt_trust_verdict check_vote(fx *f, mt_trust *t, json_t *v, const mt_ed25519_key *key)
{
    if (key)
        assert_int_equal(mt_approval_sign(f->vote, v, key, NULL), MT_OK);
    const mt_trust_key *signer = NULL;
    mt_trust_verdict r = mt_trust_check_vote(t, f->vote, v, &signer, NULL);
    assert_true(r != MT_TRUST_OK || signer != NULL);
    json_decref(v);
    return r;
}

static void each_source_needs_its_own_kind_of_key(void **state)
{
    fx *f = *state;
    mt_trust t;
    load_all(f, &t);
    json_t *sre = json_pack("[s]", "sre");
    /* api / console: only the service's current key; a retired one mints no vote. */
    assert_int_equal(check_vote(f, &t, vote("api", "alice", "idp", json_incref(sre)), f->service),
                     MT_TRUST_OK);
    assert_int_equal(
        check_vote(f, &t, vote("console", "alice", "idp", json_incref(sre)), f->retired),
        MT_TRUST_RETIRED);
    assert_int_equal(check_vote(f, &t, vote("api", "alice", "idp", json_incref(sre)), NULL),
                     MT_TRUST_UNSIGNED);
    assert_int_equal(check_vote(f, &t, vote("api", "alice", "idp", json_incref(sre)), f->rogue),
                     MT_TRUST_UNKNOWN_KEY);
    assert_int_equal(check_vote(f, &t, vote("api", "alice", "idp", json_incref(sre)), f->bot),
                     MT_TRUST_WRONG_ROLE);
    assert_int_equal(
        check_vote(f, &t, vote("console", "alice", "idp", json_incref(sre)), f->sidecar),
        MT_TRUST_WRONG_ROLE);
    /* bot: the bot's key, as its own identity, within its groups. */
    assert_int_equal(check_vote(f, &t,
                                vote("bot", "release-bot", "mcptrail-approval-bot",
                                     json_pack("[s]", "bots")),
                                f->bot),
                     MT_TRUST_OK);
    assert_int_equal(check_vote(f, &t,
                                vote("bot", "release-bot", "mcptrail-approval-bot",
                                     json_array()),
                                f->bot),
                     MT_TRUST_OK);
    assert_int_equal(check_vote(f, &t, vote("bot", "alice", "mcptrail-approval-bot",
                                            json_array()),
                                f->bot),
                     MT_TRUST_IDENTITY);
    assert_int_equal(check_vote(f, &t, vote("bot", "release-bot", "idp", json_array()), f->bot),
                     MT_TRUST_IDENTITY);
    assert_int_equal(check_vote(f, &t,
                                vote("bot", "release-bot", "mcptrail-approval-bot",
                                     json_pack("[s,s]", "bots", "sre")),
                                f->bot),
                     MT_TRUST_GROUPS);
    assert_int_equal(check_vote(f, &t,
                                vote("bot", "release-bot", "mcptrail-approval-bot",
                                     json_array()),
                                f->service),
                     MT_TRUST_WRONG_ROLE);
    /* sidecar: a sidecar key. */
    assert_int_equal(check_vote(f, &t, vote("sidecar", "sc", "mcptrail-sidecar", json_array()),
                                f->sidecar),
                     MT_TRUST_OK);
    assert_int_equal(check_vote(f, &t, vote("sidecar", "sc", "mcptrail-sidecar", json_array()),
                                f->service),
                     MT_TRUST_WRONG_ROLE);
    /* A signature copied onto another record does not verify. */
    json_t *v = vote("api", "alice", "idp", json_incref(sre));
    assert_int_equal(mt_approval_sign(f->vote, v, f->service, NULL), MT_OK);
    json_object_set_new(v, "approval_id", json_string("ap-2"));
    assert_int_equal(check_vote(f, &t, v, NULL), MT_TRUST_BAD_SIGNATURE);
    json_decref(sre);
    mt_trust_free(&t);
}

static void requests_need_a_sidecar_key_and_decisions_the_service(void **state)
{
    fx *f = *state;
    mt_trust t;
    load_all(f, &t);
    /* A retired service key still verifies decisions published before a rotation. */
    const mt_ed25519_key *keys[] = {f->sidecar, f->service, f->bot, f->rogue, NULL, f->retired};
    const mt_trust_verdict want_req[] = {MT_TRUST_OK, MT_TRUST_WRONG_ROLE, MT_TRUST_WRONG_ROLE,
                                         MT_TRUST_UNKNOWN_KEY, MT_TRUST_UNSIGNED,
                                         MT_TRUST_WRONG_ROLE};
    const mt_trust_verdict want_dec[] = {MT_TRUST_WRONG_ROLE, MT_TRUST_OK, MT_TRUST_WRONG_ROLE,
                                         MT_TRUST_UNKNOWN_KEY, MT_TRUST_UNSIGNED, MT_TRUST_OK};
    for (size_t i = 0; i < 6; i++) {
        json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:{},s:s,s:s}", "approval_id", "ap-1",
                              "request_hash",
                              "aa00000000000000000000000000000000000000000000000000000000000001",
                              "session_id", "s", "event_id", "e", "created", (json_int_t)1,
                              "expires", (json_int_t)2, "identity", "method", "tools/call",
                              "rule_id", "r");
        if (keys[i])
            assert_int_equal(mt_approval_sign(f->req, r, keys[i], NULL), MT_OK);
        const mt_trust_key *signer = NULL;
        mt_errbuf eb = {{0}};
        mt_trust_verdict v = mt_trust_check_request(&t, f->req, r, &signer, &eb);
        if (v != want_req[i])
            fail_msg("request signed by key %zu: %s (%s)", i, mt_trust_verdict_name(v), eb.msg);
        json_decref(r);
        json_t *d = json_pack("{s:s,s:s,s:s,s:I,s:[],s:I,s:s,s:s}", "approval_id", "ap-1",
                              "request_hash",
                              "aa00000000000000000000000000000000000000000000000000000000000001",
                              "decision", "approved", "expires", (json_int_t)2, "approvers",
                              "decided", (json_int_t)1, "key_id", "", "signature", "");
        if (keys[i])
            assert_int_equal(mt_approval_sign(f->dec, d, keys[i], NULL), MT_OK);
        v = mt_trust_check_decision(&t, f->dec, d, &signer, &eb);
        if (v != want_dec[i])
            fail_msg("decision signed by key %zu: %s (%s)", i, mt_trust_verdict_name(v), eb.msg);
        json_decref(d);
    }
    mt_trust_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trust_file_loads_sidecars_and_bots),
        cmocka_unit_test(trust_file_errors_name_the_entry),
        cmocka_unit_test(each_source_needs_its_own_kind_of_key),
        cmocka_unit_test(requests_need_a_sidecar_key_and_decisions_the_service),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
