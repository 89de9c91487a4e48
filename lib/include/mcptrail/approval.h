/* Signed approval decisions (schemas/approval_decision.avsc), shared by the
 * signer (mcptrail-approvals) and the verifiers (the sidecar, tools, tests).
 *
 * The signed message is defined in the schema's doc and implemented exactly
 * once, here: the ASCII bytes "mcptrail.ApprovalDecision.v1", one 0x00 byte,
 * then the Avro binary encoding of every field that precedes `signature`
 * (approval_id, request_hash, decision, expires, approvers, decided, key_id)
 * in schema order. It is computed as the binary datum of the record with
 * signature set to empty bytes, minus its final 0x00 byte (the zero length
 * of the empty signature), so the schema stays the single definition of the
 * field order.
 *
 * Decisions are handled in the JSON mapping of mcptrail/avro.h (request_hash
 * and signature as lowercase hex strings). */
#ifndef MCPTRAIL_APPROVAL_H
#define MCPTRAIL_APPROVAL_H

#include <jansson.h>

#include "mcptrail/avro.h"
#include "mcptrail/buf.h"
#include "mcptrail/crypto.h"
#include "mcptrail/err.h"

#define MT_APPROVAL_DECISION_CONTEXT "mcptrail.ApprovalDecision.v1"
#define MT_APPROVAL_DECISION_SCHEMA "dev.mcptrail.ApprovalDecision"

/* Appends the signed message of `decision` (any signature value it carries
 * is ignored) to out. MT_ERR_SCHEMA when the record does not fit the schema. */
mt_err mt_approval_decision_message(const mt_avro_schema *s, const json_t *decision,
                                    mt_buf *out, mt_errbuf *eb);

/* Sets decision.key_id to the key's id (mt_ed25519_key_id) and
 * decision.signature to the Ed25519 signature of the message. Ed25519 is
 * deterministic: the same decision and key give the same bytes. */
mt_err mt_approval_decision_sign(const mt_avro_schema *s, json_t *decision,
                                 const mt_ed25519_key *key, mt_errbuf *eb);

/* MT_OK when decision.signature is a valid signature of its message under
 * key; MT_ERR_BAD_SIGNATURE when it is not (or is not 64 bytes of hex).
 * The caller picks the key by decision.key_id, and separately checks
 * approval_id, request_hash, decision and expires against what it holds. */
mt_err mt_approval_decision_verify(const mt_avro_schema *s, const json_t *decision,
                                   const mt_ed25519_key *key, mt_errbuf *eb);

#endif
