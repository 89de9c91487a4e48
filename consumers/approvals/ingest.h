/* From a decoded approval record to the state machine: the signature check
 * (trust.h), the record's fields turned into state-machine inputs
 * (state.h), and the approval's history of rejected records. Pure: no I/O,
 * no clock, no Kafka, so the service (service.c) and the fuzz target
 * (fuzz/fuzz_approvals.c) run the same code, and a replay reproduces it.
 *
 * Each call fills an mt_appr_ingest telling the caller what happened, for
 * its logs and metrics:
 *   reason == NULL   applied (a request added, a vote counted or a known
 *                    duplicate, a decision adopted)
 *   reason != NULL   not applied: a trust verdict name (unsigned,
 *                    bad_signature, ...), a rule outcome name (not_in_group,
 *                    ...) or "malformed"; detail says why. A rejected
 *                    request or vote naming a known approval is noted in its
 *                    history (mt_appr_note_rejected); a malformed one is not. */
#ifndef MT_APPROVALS_INGEST_H
#define MT_APPROVALS_INGEST_H

#include <stdbool.h>

#include <jansson.h>

#include "mcptrail/avro.h"
#include "state.h"
#include "trust.h"

typedef struct mt_appr_ingest {
    const char *reason;       /* NULL: applied */
    char detail[512]; /* as mt_errbuf.msg */
    mt_appr *a;               /* the approval the record names, when known */
    const mt_trust_key *signer;
    mt_appr_add_result added; /* requests */
    mt_appr_outcome outcome;  /* votes */
    bool deferred;            /* votes: unknown approval, not applied (defer_unknown) */
} mt_appr_ingest;

/* An ApprovalRequest (schema s). */
void mt_appr_ingest_request(mt_appr_table *t, const mt_trust *trust, const mt_avro_schema *s,
                            json_t *rec, mt_appr_ingest *out);

/* An ApprovalVote. With defer_unknown, a signed vote for an approval not in
 * the table is left alone (out->deferred): its request may still come. */
void mt_appr_ingest_vote(mt_appr_table *t, const mt_trust *trust, const mt_avro_schema *s,
                         json_t *rec, bool defer_unknown, mt_appr_ingest *out);

/* An ApprovalDecision read from the decisions topic: adopted when it
 * verifies under a service key (reason "bad_signature"... otherwise). An
 * approval already published keeps its own decision (out->a is set). */
void mt_appr_ingest_decision(mt_appr_table *t, const mt_trust *trust, const mt_avro_schema *s,
                             json_t *rec, mt_appr_ingest *out);

/* Borrowed string items of a JSON array (non-strings skipped), at most max. */
size_t mt_appr_string_items(const json_t *arr, const char **out, size_t max);

/* Notes rec (what: "vote" or "request") as rejected for reason in the
 * history of the approval it names, if that approval is known. */
void mt_appr_ingest_note(mt_appr_table *t, const char *what, const json_t *rec,
                         const char *reason);

#endif
