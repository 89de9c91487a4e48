/* Approval records into the state machine; see ingest.h. */
#include "ingest.h"

#include <stdio.h>
#include <string.h>

#include "mcptrail/crypto.h"

static bool hash_from_hex(const json_t *v, uint8_t out[MT_APPR_HASH_LEN])
{
    const char *h = json_string_value(v);
    size_t n = 0;
    return h && strlen(h) == 2 * MT_APPR_HASH_LEN &&
           mt_hex_decode(h, strlen(h), out, MT_APPR_HASH_LEN, &n, NULL) == MT_OK &&
           n == MT_APPR_HASH_LEN;
}

size_t mt_appr_string_items(const json_t *arr, const char **out, size_t max)
{
    size_t n = 0, i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (n < max && json_is_string(v))
            out[n++] = json_string_value(v);
    }
    return n;
}

static int64_t jint(const json_t *o, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(o, k));
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

void mt_appr_ingest_note(mt_appr_table *t, const char *what, const json_t *rec,
                         const char *reason)
{
    bool vote = strcmp(what, "vote") == 0;
    mt_appr *a = mt_appr_find(t, jstr(rec, "approval_id"));
    if (!a)
        return;
    const json_t *who = json_object_get(rec, vote ? "voter" : "identity");
    mt_appr_rejection r = {
        .what = (char *)what,
        .issuer = (char *)jstr(who, "issuer"),
        .subject = (char *)jstr(who, "subject"),
        .vote = (char *)jstr(rec, "vote"),
        .source = (char *)jstr(rec, "source"),
        .key_id = (char *)jstr(rec, "key_id"),
        .reason = (char *)reason,
        .ts = jint(rec, vote ? "ts" : "created"),
    };
    (void)mt_appr_note_rejected(a, &r); /* out of memory: still counted in rejected_total */
}

static void rejected(mt_appr_table *t, const char *what, const json_t *rec, const char *reason,
                     const char *detail, mt_appr_ingest *out)
{
    out->reason = reason;
    snprintf(out->detail, sizeof out->detail, "%s", detail ? detail : "");
    mt_appr_ingest_note(t, what, rec, reason);
    out->a = mt_appr_find(t, jstr(rec, "approval_id"));
}

static void malformed(mt_appr_ingest *out, const char *detail)
{
    out->reason = "malformed";
    snprintf(out->detail, sizeof out->detail, "%s", detail);
}

void mt_appr_ingest_request(mt_appr_table *t, const mt_trust *trust, const mt_avro_schema *s,
                            json_t *rec, mt_appr_ingest *out)
{
    memset(out, 0, sizeof *out);
    mt_errbuf eb = {{0}};
    mt_trust_verdict tv = mt_trust_check_request(trust, s, rec, &out->signer, &eb);
    if (tv != MT_TRUST_OK) {
        rejected(t, "request", rec, mt_trust_verdict_name(tv), eb.msg, out);
        return;
    }
    const char *groups[MT_APPR_MAX_GROUPS];
    json_t *id = json_object_get(rec, "identity");
    mt_appr_request r = {
        .approval_id = jstr(rec, "approval_id"),
        .requester_issuer = jstr(id, "issuer"),
        .requester_subject = jstr(id, "subject"),
        .groups = groups,
        .ngroups = mt_appr_string_items(json_object_get(rec, "approver_groups"), groups,
                                MT_APPR_MAX_GROUPS),
        .min_approvals = jint(rec, "min_approvals"),
        .four_eyes = json_is_true(json_object_get(rec, "four_eyes")),
        .reason_required = json_is_true(json_object_get(rec, "reason_required")),
        .created = jint(rec, "created"),
        .expires = jint(rec, "expires"),
        .key_id = out->signer->id,
        .record = rec,
    };
    if (!hash_from_hex(json_object_get(rec, "request_hash"), r.request_hash)) {
        malformed(out, "request_hash is not 32 bytes of hex");
        return;
    }
    if (mt_appr_add_request(t, &r, &out->added) != MT_OK) {
        malformed(out, "request not added (missing id or out of memory)");
        return;
    }
    out->a = mt_appr_find(t, r.approval_id);
}

void mt_appr_ingest_vote(mt_appr_table *t, const mt_trust *trust, const mt_avro_schema *s,
                         json_t *rec, bool defer_unknown, mt_appr_ingest *out)
{
    memset(out, 0, sizeof *out);
    mt_errbuf eb = {{0}};
    mt_trust_verdict tv = mt_trust_check_vote(trust, s, rec, &out->signer, &eb);
    if (tv != MT_TRUST_OK) {
        rejected(t, "vote", rec, mt_trust_verdict_name(tv), eb.msg, out);
        return;
    }
    const mt_trust_key *signer = out->signer;
    const char *groups[MT_APPR_MAX_GROUPS];
    json_t *voter = json_object_get(rec, "voter");
    mt_appr_vote_in v = {
        .approval_id = jstr(rec, "approval_id"),
        .issuer = jstr(voter, "issuer"),
        .subject = jstr(voter, "subject"),
        .groups = groups,
        .reason = jstr(rec, "reason"),
        .ts = jint(rec, "ts"),
        .signer_key = signer->id,
    };
    /* The groups a vote counts with come from whoever vouches for them: the
     * approver's verified token (the service signed the vote), the bot's
     * entry in the trust file, nobody for a sidecar. */
    if (signer->role == MT_TRUST_SERVICE)
        v.ngroups = mt_appr_string_items(json_object_get(voter, "groups"), groups, MT_APPR_MAX_GROUPS);
    else if (signer->role == MT_TRUST_BOT)
        for (; v.ngroups < signer->ngroups && v.ngroups < MT_APPR_MAX_GROUPS; v.ngroups++)
            groups[v.ngroups] = signer->groups[v.ngroups];
    if (!hash_from_hex(json_object_get(rec, "request_hash"), v.request_hash) ||
        !mt_appr_vote_kind_parse(jstr(rec, "vote"), &v.kind) ||
        !mt_appr_source_parse(jstr(rec, "source"), &v.source)) {
        malformed(out, "request_hash, vote or source do not parse");
        return;
    }
    if (defer_unknown && !mt_appr_find(t, v.approval_id)) {
        out->deferred = true;
        return;
    }
    out->outcome = mt_appr_vote_apply(t, &v, &out->a);
    if (out->outcome != MT_APPR_COUNTED && out->outcome != MT_APPR_DECIDED &&
        out->outcome != MT_APPR_DUPLICATE)
        rejected(t, "vote", rec, mt_appr_outcome_name(out->outcome),
                 mt_appr_outcome_text(out->outcome), out);
}

void mt_appr_ingest_decision(mt_appr_table *t, const mt_trust *trust, const mt_avro_schema *s,
                             json_t *rec, mt_appr_ingest *out)
{
    memset(out, 0, sizeof *out);
    const char *id = jstr(rec, "approval_id");
    uint8_t hash[MT_APPR_HASH_LEN];
    mt_appr_state st;
    if (!id || !hash_from_hex(json_object_get(rec, "request_hash"), hash) ||
        !mt_appr_state_parse(jstr(rec, "decision"), &st) || st == MT_APPR_PENDING) {
        malformed(out, "approval_id, request_hash or decision do not parse");
        return;
    }
    mt_errbuf eb = {{0}};
    mt_trust_verdict tv = mt_trust_check_decision(trust, s, rec, &out->signer, &eb);
    if (tv != MT_TRUST_OK) {
        /* Only the service writes the topic: a record that does not verify
         * under its key (or a retired one) is forged and is not adopted. */
        out->reason = mt_trust_verdict_name(tv);
        snprintf(out->detail, sizeof out->detail, "%s", eb.msg);
        return;
    }
    out->a = mt_appr_find(t, id);
    if (out->a && memcmp(out->a->request_hash, hash, MT_APPR_HASH_LEN) != 0) {
        out->reason = "hash_mismatch";
        snprintf(out->detail, sizeof out->detail,
                 "a signed decision names another request hash than the approval's");
        return;
    }
    if (out->a && out->a->published)
        return; /* the service's own decision read back after its ack */
    if (out->a && out->a->state != MT_APPR_PENDING && out->a->state != st)
        snprintf(out->detail, sizeof out->detail,
                 "published decision %s differs from the replayed state %s; the published one "
                 "stands",
                 mt_appr_state_name(st), mt_appr_state_name(out->a->state));
    if (mt_appr_adopt_decision(t, id, hash, st, jint(rec, "decided"), rec, &out->a) != MT_OK)
        malformed(out, "out of memory adopting a decision");
}
