/* Unit tests of the approval state machine (consumers/approvals/state.c):
 * one table of scenarios (request settings + a vote sequence with the
 * outcome each vote must get + the final state), then the operations that
 * are not votes: expiry, duplicate requests, adopting published decisions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "state.h"

#define REQ_ISS "https://token.actions.githubusercontent.com"
#define REQ_SUB "repo:acme/payments:ref:refs/heads/main"
#define IDP "https://login.example.com"
#define EXPIRES 10000000

typedef struct tvote {
    const char *iss, *sub;
    const char *groups; /* comma-separated, NULL: none */
    mt_appr_vote_kind kind;
    const char *reason;
    int64_t ts;
    mt_appr_source source;
    int other_hash;      /* non-zero: vote names another request hash */
    const char *id;      /* NULL: "a1" */
    mt_appr_outcome want;
    const char *signer;  /* key id that signed the vote; NULL: "service" */
} tvote;

typedef struct scenario {
    const char *name;
    int64_t min_approvals;
    bool four_eyes, reason_required, no_groups;
    tvote votes[6];
    size_t nvotes;
    mt_appr_state final;
    size_t approvals;
    int64_t decided;
} scenario;

#define V(iss, sub, g, k, r, ts, want) {iss, sub, g, k, r, ts, MT_APPR_SRC_API, 0, NULL, want, NULL}
#define APPROVE MT_APPR_VOTE_APPROVE
#define DENY MT_APPR_VOTE_DENY

static const scenario scenarios[] = {
    {"two_distinct_approvers_approve", 2, true, false, false,
     {V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_COUNTED),
      V(IDP, "bob", "ops", APPROVE, "ok", 200, MT_APPR_DECIDED)},
     2, MT_APPR_APPROVED, 2, 200},
    {"same_approver_twice_is_idempotent_and_counts_once", 2, true, false, false,
     {V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_COUNTED),
      V(IDP, "alice", "sre", APPROVE, NULL, 150, MT_APPR_DUPLICATE)},
     2, MT_APPR_PENDING, 1, 0},
    {"same_subject_from_another_issuer_is_another_approver", 2, true, false, false,
     {V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_COUNTED),
      V("https://other-idp", "alice", "sre", APPROVE, NULL, 150, MT_APPR_DECIDED)},
     2, MT_APPR_APPROVED, 2, 150},
    {"changing_a_vote_is_refused", 2, true, false, false,
     {V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_COUNTED),
      V(IDP, "alice", "sre", DENY, NULL, 150, MT_APPR_ALREADY_VOTED)},
     2, MT_APPR_PENDING, 1, 0},
    {"four_eyes_requester_cannot_approve_itself", 1, true, false, false,
     {V(REQ_ISS, REQ_SUB, "sre", APPROVE, NULL, 100, MT_APPR_SELF_APPROVAL)},
     1, MT_APPR_PENDING, 0, 0},
    {"four_eyes_requester_may_deny_itself", 1, true, false, false,
     {V(REQ_ISS, REQ_SUB, "sre", DENY, NULL, 100, MT_APPR_DECIDED)},
     1, MT_APPR_DENIED, 0, 100},
    {"without_four_eyes_requester_may_approve", 1, false, false, false,
     {V(REQ_ISS, REQ_SUB, "sre", APPROVE, NULL, 100, MT_APPR_DECIDED)},
     1, MT_APPR_APPROVED, 1, 100},
    {"requester_subject_under_another_issuer_is_not_the_requester", 1, true, false, false,
     {V(IDP, REQ_SUB, "sre", APPROVE, NULL, 100, MT_APPR_DECIDED)},
     1, MT_APPR_APPROVED, 1, 100},
    {"voter_outside_the_groups_is_refused", 1, true, false, false,
     {V(IDP, "mallory", "dev,qa", APPROVE, NULL, 100, MT_APPR_NOT_IN_GROUP),
      V(IDP, "nogroups", NULL, DENY, NULL, 110, MT_APPR_NOT_IN_GROUP)},
     2, MT_APPR_PENDING, 0, 0},
    {"group_check_comes_before_four_eyes", 1, true, false, false,
     {V(REQ_ISS, REQ_SUB, "dev", APPROVE, NULL, 100, MT_APPR_NOT_IN_GROUP)},
     1, MT_APPR_PENDING, 0, 0},
    {"empty_approver_groups_admit_nobody", 1, true, false, true,
     {V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_NOT_IN_GROUP)},
     1, MT_APPR_PENDING, 0, 0},
    {"one_deny_decides_denied_and_is_final", 2, true, false, false,
     {V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_COUNTED),
      V(IDP, "bob", "sre", DENY, "not today", 200, MT_APPR_DECIDED),
      V(IDP, "carol", "sre", APPROVE, NULL, 300, MT_APPR_TERMINAL),
      V(IDP, "bob", "sre", DENY, "not today", 400, MT_APPR_DUPLICATE)},
     4, MT_APPR_DENIED, 1, 200},
    {"approved_is_final", 1, true, false, false,
     {V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_DECIDED),
      V(IDP, "bob", "sre", DENY, NULL, 200, MT_APPR_TERMINAL),
      V(IDP, "alice", "sre", APPROVE, NULL, 300, MT_APPR_DUPLICATE)},
     3, MT_APPR_APPROVED, 1, 100},
    {"reason_required_refuses_missing_and_blank_reasons", 1, true, true, false,
     {V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_REASON_REQUIRED),
      V(IDP, "alice", "sre", APPROVE, " \t\n", 110, MT_APPR_REASON_REQUIRED),
      V(IDP, "bob", "sre", DENY, "", 120, MT_APPR_REASON_REQUIRED),
      V(IDP, "alice", "sre", APPROVE, "ticket CHG-7", 130, MT_APPR_DECIDED)},
     4, MT_APPR_APPROVED, 1, 130},
    {"vote_at_expiry_expires_the_approval", 2, true, false, false,
     {V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_COUNTED),
      V(IDP, "bob", "sre", APPROVE, NULL, EXPIRES, MT_APPR_TOO_LATE),
      V(IDP, "carol", "sre", APPROVE, NULL, 200, MT_APPR_TERMINAL)},
     3, MT_APPR_EXPIRED, 1, EXPIRES},
    {"late_vote_of_an_ineligible_voter_does_not_expire", 2, true, false, false,
     {V(IDP, "mallory", "dev", APPROVE, NULL, EXPIRES + 5, MT_APPR_NOT_IN_GROUP),
      V(REQ_ISS, REQ_SUB, "sre", APPROVE, NULL, EXPIRES + 5, MT_APPR_SELF_APPROVAL),
      V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_COUNTED),
      V(IDP, "alice", "sre", DENY, NULL, EXPIRES + 5, MT_APPR_ALREADY_VOTED)},
     4, MT_APPR_PENDING, 1, 0},
    {"vote_for_unknown_approval_is_refused", 1, true, false, false,
     {{IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_SRC_API, 0, "nope", MT_APPR_UNKNOWN, NULL}},
     1, MT_APPR_PENDING, 0, 0},
    {"vote_for_another_request_hash_is_refused", 1, true, false, false,
     {{IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_SRC_API, 1, NULL,
       MT_APPR_HASH_MISMATCH, NULL}},
     1, MT_APPR_PENDING, 0, 0},
    {"sidecar_cancel_cancels", 2, true, false, false,
     {V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_COUNTED),
      {"spiffe://cluster", "sidecar", NULL, MT_APPR_VOTE_CANCEL, "client disconnected", 150,
       MT_APPR_SRC_SIDECAR, 0, NULL, MT_APPR_DECIDED, "sidecar-a"},
      V(IDP, "bob", "sre", APPROVE, NULL, 200, MT_APPR_TERMINAL)},
     3, MT_APPR_CANCELLED, 1, 150},
    {"cancel_from_another_source_is_refused", 1, true, false, false,
     {{IDP, "alice", "sre", MT_APPR_VOTE_CANCEL, NULL, 100, MT_APPR_SRC_API, 0, NULL,
       MT_APPR_CANCEL_NOT_SIDECAR, NULL},
      {IDP, "bot", "sre", MT_APPR_VOTE_CANCEL, NULL, 100, MT_APPR_SRC_BOT, 0, NULL,
       MT_APPR_CANCEL_NOT_SIDECAR, NULL}},
     2, MT_APPR_PENDING, 0, 0},
    {"cancel_after_decision_is_refused", 1, true, false, false,
     {V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_DECIDED),
      {"spiffe://cluster", "sidecar", NULL, MT_APPR_VOTE_CANCEL, NULL, 150,
       MT_APPR_SRC_SIDECAR, 0, NULL, MT_APPR_TERMINAL, "sidecar-a"}},
     2, MT_APPR_APPROVED, 1, 100},
    {"only_the_requesting_sidecar_cancels", 1, true, false, false,
     {{"spiffe://cluster", "sidecar", NULL, MT_APPR_VOTE_CANCEL, NULL, 150,
       MT_APPR_SRC_SIDECAR, 0, NULL, MT_APPR_CANCEL_FOREIGN, "sidecar-b"},
      {"spiffe://cluster", "sidecar", NULL, MT_APPR_VOTE_CANCEL, NULL, 160,
       MT_APPR_SRC_SIDECAR, 0, NULL, MT_APPR_DECIDED, "sidecar-a"}},
     2, MT_APPR_CANCELLED, 0, 160},
    {"a_sidecar_never_approves_or_denies", 1, true, false, false,
     {{"spiffe://cluster", "sidecar", "sre", APPROVE, NULL, 150, MT_APPR_SRC_SIDECAR, 0, NULL,
       MT_APPR_SIDECAR_NOT_CANCEL, "sidecar-a"},
      {"spiffe://cluster", "sidecar", "sre", DENY, NULL, 160, MT_APPR_SRC_SIDECAR, 0, NULL,
       MT_APPR_SIDECAR_NOT_CANCEL, "sidecar-a"}},
     2, MT_APPR_PENDING, 0, 0},
    {"min_approvals_below_one_means_one", 0, true, false, false,
     {V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_DECIDED)},
     1, MT_APPR_APPROVED, 1, 100},
    {"bot_votes_count_like_api_votes", 2, true, false, false,
     {{IDP, "readonly-bot", "sre", APPROVE, "read-only tool", 100, MT_APPR_SRC_BOT, 0, NULL,
       MT_APPR_COUNTED, NULL},
      V(IDP, "alice", "sre", APPROVE, NULL, 200, MT_APPR_DECIDED)},
     2, MT_APPR_APPROVED, 2, 200},
};

static const char *const req_groups[] = {"sre", "ops"};

static void add_request(mt_appr_table *t, const char *id, int64_t min, bool four_eyes,
                        bool reason_required, bool no_groups)
{
    mt_appr_request r = {
        .approval_id = id,
        .requester_issuer = REQ_ISS,
        .requester_subject = REQ_SUB,
        .groups = req_groups,
        .ngroups = no_groups ? 0 : 2,
        .min_approvals = min,
        .four_eyes = four_eyes,
        .reason_required = reason_required,
        .created = 1,
        .expires = EXPIRES,
        .key_id = "sidecar-a",
    };
    memset(r.request_hash, 0x11, sizeof r.request_hash);
    mt_appr_add_result res;
    assert_int_equal(mt_appr_add_request(t, &r, &res), MT_OK);
    assert_int_equal(res, MT_APPR_ADDED);
}

static mt_appr_outcome cast(mt_appr_table *t, const tvote *tv, bool check_only)
{
    char buf[128] = "";
    const char *groups[8];
    size_t ng = 0;
    if (tv->groups) {
        snprintf(buf, sizeof buf, "%s", tv->groups);
        for (char *p = buf; p && ng < 8;) {
            groups[ng++] = p;
            p = strchr(p, ',');
            if (p)
                *p++ = '\0';
        }
    }
    mt_appr_vote_in v = {
        .approval_id = tv->id ? tv->id : "a1",
        .issuer = tv->iss,
        .subject = tv->sub,
        .groups = groups,
        .ngroups = ng,
        .kind = tv->kind,
        .reason = tv->reason,
        .ts = tv->ts,
        .source = tv->source,
        .signer_key = tv->signer ? tv->signer : "service",
    };
    memset(v.request_hash, tv->other_hash ? 0x22 : 0x11, sizeof v.request_hash);
    return check_only ? mt_appr_vote_check(t, &v) : mt_appr_vote_apply(t, &v, NULL);
}

static void scenarios_follow_the_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        const scenario *sc = &scenarios[i];
        mt_appr_table t;
        mt_appr_table_init(&t);
        add_request(&t, "a1", sc->min_approvals, sc->four_eyes, sc->reason_required,
                    sc->no_groups);
        for (size_t j = 0; j < sc->nvotes; j++) {
            /* The API's pre-check agrees with the apply (expiry aside: the
             * check does not change state, so TOO_LATE repeats). */
            mt_appr_outcome pre = cast(&t, &sc->votes[j], true);
            mt_appr_outcome got = cast(&t, &sc->votes[j], false);
            if (got != sc->votes[j].want || (pre != got && !(pre == MT_APPR_COUNTED &&
                                                              got == MT_APPR_DECIDED)))
                fail_msg("%s: vote %zu: got %s (check said %s), want %s", sc->name, j,
                         mt_appr_outcome_name(got), mt_appr_outcome_name(pre),
                         mt_appr_outcome_name(sc->votes[j].want));
        }
        const mt_appr *a = mt_appr_find(&t, "a1");
        assert_non_null(a);
        if (a->state != sc->final || mt_appr_approvals(a) != sc->approvals ||
            a->decided != sc->decided)
            fail_msg("%s: state %s approvals %zu decided %lld, want %s %zu %lld", sc->name,
                     mt_appr_state_name(a->state), mt_appr_approvals(a), (long long)a->decided,
                     mt_appr_state_name(sc->final), sc->approvals, (long long)sc->decided);
        mt_appr_table_free(&t);
    }
}

static void expiry_waits_for_the_grace_period_and_is_final(void **state)
{
    (void)state;
    mt_appr_table t;
    mt_appr_table_init(&t);
    add_request(&t, "a1", 1, true, false, false);
    add_request(&t, "a2", 1, true, false, false);
    tvote ok = V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_DECIDED);
    tvote ok2 = ok;
    ok2.id = "a2";
    assert_int_equal(cast(&t, &ok2, false), MT_APPR_DECIDED);
    assert_int_equal(mt_appr_expire_due(&t, EXPIRES, 2000000, NULL, NULL), 0);
    assert_int_equal(mt_appr_expire_due(&t, EXPIRES + 1999999, 2000000, NULL, NULL), 0);
    assert_int_equal(mt_appr_expire_due(&t, EXPIRES + 2000000, 2000000, NULL, NULL), 1);
    const mt_appr *a = mt_appr_find(&t, "a1");
    assert_int_equal(a->state, MT_APPR_EXPIRED);
    assert_int_equal(a->decided, EXPIRES);
    assert_int_equal(mt_appr_find(&t, "a2")->state, MT_APPR_APPROVED); /* decided stays */
    /* A vote cast before expiry but read after the expiry is too late now. */
    assert_int_equal(cast(&t, &ok, false), MT_APPR_TERMINAL);
    assert_int_equal(mt_appr_expire_due(&t, EXPIRES * 2, 0, NULL, NULL), 0);
    mt_appr_table_free(&t);
}

static void duplicate_and_conflicting_requests_keep_the_first(void **state)
{
    (void)state;
    mt_appr_table t;
    mt_appr_table_init(&t);
    add_request(&t, "a1", 2, true, false, false);
    mt_appr_request r = {.approval_id = "a1", .min_approvals = 1};
    memset(r.request_hash, 0x11, sizeof r.request_hash);
    mt_appr_add_result res;
    assert_int_equal(mt_appr_add_request(&t, &r, &res), MT_OK);
    assert_int_equal(res, MT_APPR_ADD_DUPLICATE);
    memset(r.request_hash, 0x33, sizeof r.request_hash);
    assert_int_equal(mt_appr_add_request(&t, &r, &res), MT_OK);
    assert_int_equal(res, MT_APPR_ADD_CONFLICT);
    assert_int_equal(t.n, 1);
    assert_int_equal(mt_appr_find(&t, "a1")->min_approvals, 2);
    r.approval_id = "";
    assert_int_equal(mt_appr_add_request(&t, &r, &res), MT_ERR_INVALID_ARG);
    mt_appr_table_free(&t);
}

static void published_decision_overrides_replayed_state(void **state)
{
    (void)state;
    mt_appr_table t;
    mt_appr_table_init(&t);
    add_request(&t, "a1", 1, true, false, false);
    tvote ok = V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_DECIDED);
    assert_int_equal(cast(&t, &ok, false), MT_APPR_DECIDED);
    uint8_t h[MT_APPR_HASH_LEN];
    memset(h, 0x11, sizeof h);
    json_t *d = json_pack("{s:s}", "approval_id", "a1");
    mt_appr *a = NULL;
    assert_int_equal(mt_appr_adopt_decision(&t, "a1", h, MT_APPR_EXPIRED, EXPIRES, d, &a), MT_OK);
    assert_int_equal(a->state, MT_APPR_EXPIRED);
    assert_true(a->published);
    assert_ptr_equal(a->decision, d);
    /* A decision for an id outside the replay window makes a bare entry,
     * which a later request for the same hash fills in. */
    assert_int_equal(mt_appr_adopt_decision(&t, "old", h, MT_APPR_DENIED, 5, d, &a), MT_OK);
    assert_null(a->record);
    json_t *rec = json_pack("{s:s}", "approval_id", "old");
    mt_appr_request r = {.approval_id = "old", .record = rec};
    memcpy(r.request_hash, h, sizeof h);
    mt_appr_add_result res;
    assert_int_equal(mt_appr_add_request(&t, &r, &res), MT_OK);
    assert_int_equal(res, MT_APPR_ADD_DUPLICATE);
    assert_ptr_equal(mt_appr_find(&t, "old")->record, rec);
    assert_int_equal(mt_appr_find(&t, "old")->state, MT_APPR_DENIED);
    assert_int_equal(mt_appr_adopt_decision(&t, "x", h, MT_APPR_PENDING, 5, d, NULL),
                     MT_ERR_INVALID_ARG);
    json_decref(rec);
    json_decref(d);
    mt_appr_table_free(&t);
}

static void check_changes_nothing(void **state)
{
    (void)state;
    mt_appr_table t;
    mt_appr_table_init(&t);
    add_request(&t, "a1", 1, true, false, false);
    tvote ok = V(IDP, "alice", "sre", APPROVE, NULL, 100, MT_APPR_COUNTED);
    tvote late = V(IDP, "alice", "sre", APPROVE, NULL, EXPIRES, MT_APPR_TOO_LATE);
    assert_int_equal(cast(&t, &ok, true), MT_APPR_COUNTED);
    assert_int_equal(cast(&t, &late, true), MT_APPR_TOO_LATE);
    const mt_appr *a = mt_appr_find(&t, "a1");
    assert_int_equal(a->state, MT_APPR_PENDING);
    assert_int_equal(a->nvotes, 0);
    mt_appr_table_free(&t);
}

static void malformed_votes_are_invalid(void **state)
{
    (void)state;
    mt_appr_table t;
    mt_appr_table_init(&t);
    add_request(&t, "a1", 1, true, false, false);
    tvote nosub = V(IDP, "", "sre", APPROVE, NULL, 100, MT_APPR_INVALID);
    assert_int_equal(cast(&t, &nosub, false), MT_APPR_INVALID);
    assert_int_equal(mt_appr_vote_apply(&t, NULL, NULL), MT_APPR_INVALID);
    mt_appr_table_free(&t);
}

static void rejections_are_kept_in_order_bounded_and_all_counted(void **state)
{
    (void)state;
    mt_appr_table t;
    mt_appr_table_init(&t);
    add_request(&t, "a1", 1, true, false, false);
    mt_appr *a = mt_appr_find(&t, "a1");
    for (int i = 0; i < MT_APPR_MAX_REJECTED + 5; i++) {
        mt_appr_rejection r = {.what = "vote", .subject = i == 0 ? "alice" : "bob",
                               .issuer = IDP, .vote = "approve", .source = "bot",
                               .reason = i == 0 ? "unsigned" : "bad_signature", .ts = i};
        assert_int_equal(mt_appr_note_rejected(a, &r), MT_OK);
    }
    mt_appr_rejection req = {.what = "request", .reason = "unknown_key"};
    assert_int_equal(mt_appr_note_rejected(a, &req), MT_OK);
    assert_int_equal(a->nrejected, MT_APPR_MAX_REJECTED);
    assert_int_equal(a->rejected_total, MT_APPR_MAX_REJECTED + 6);
    assert_string_equal(a->rejected[0].subject, "alice");
    assert_string_equal(a->rejected[0].reason, "unsigned");
    assert_null(a->rejected[0].key_id);
    assert_string_equal(a->rejected[1].reason, "bad_signature");
    /* What a forger claims is kept bounded, cut on a character boundary. */
    add_request(&t, "a2", 1, true, false, false);
    mt_appr *b = mt_appr_find(&t, "a2");
    char big[600];
    memset(big, 'a', sizeof big);
    memcpy(big + MT_APPR_REJECTED_FIELD_MAX - 1, "\xc3\xa9", 2); /* é across the cut */
    big[sizeof big - 1] = '\0';
    mt_appr_rejection forged = {.what = "vote", .subject = big, .issuer = big, .key_id = big,
                                .reason = "unknown_key"};
    assert_int_equal(mt_appr_note_rejected(b, &forged), MT_OK);
    assert_int_equal(strlen(b->rejected[0].subject), MT_APPR_REJECTED_FIELD_MAX - 1);
    assert_int_equal(strlen(b->rejected[0].issuer), MT_APPR_REJECTED_FIELD_MAX - 1);
    assert_int_equal(strlen(b->rejected[0].key_id), MT_APPR_KEY_ID_SIZE - 1);
    /* Rejections change nothing else. */
    assert_int_equal(a->state, MT_APPR_PENDING);
    assert_int_equal(a->nvotes, 0);
    mt_appr_table_free(&t);
}

static void names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++) {
        mt_appr_state s;
        assert_true(mt_appr_state_parse(mt_appr_state_name((mt_appr_state)i), &s));
        assert_int_equal(s, i);
    }
    for (int i = 0; i < 3; i++) {
        mt_appr_vote_kind k;
        assert_true(mt_appr_vote_kind_parse(mt_appr_vote_kind_name((mt_appr_vote_kind)i), &k));
        assert_int_equal(k, i);
    }
    for (int i = 0; i < 4; i++) {
        mt_appr_source k;
        assert_true(mt_appr_source_parse(mt_appr_source_name((mt_appr_source)i), &k));
        assert_int_equal(k, i);
    }
    mt_appr_state s;
    assert_false(mt_appr_state_parse("Approved", &s));
    for (int o = MT_APPR_COUNTED; o <= MT_APPR_INVALID; o++)
        assert_string_not_equal(mt_appr_outcome_text((mt_appr_outcome)o), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scenarios_follow_the_rules),
        cmocka_unit_test(expiry_waits_for_the_grace_period_and_is_final),
        cmocka_unit_test(duplicate_and_conflicting_requests_keep_the_first),
        cmocka_unit_test(published_decision_overrides_replayed_state),
        cmocka_unit_test(check_changes_nothing),
        cmocka_unit_test(malformed_votes_are_invalid),
        cmocka_unit_test(rejections_are_kept_in_order_bounded_and_all_counted),
        cmocka_unit_test(names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
