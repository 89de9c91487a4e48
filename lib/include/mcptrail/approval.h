/* Signed approval records (schemas/approval_*.avsc): ApprovalRequest (signed
 * by the sidecar that holds the call), ApprovalVote (signed by the service
 * for API and console votes, by a bot's own key, or by the requesting
 * sidecar for a cancel) and ApprovalDecision (signed by mcptrail-approvals).
 * One signing rule for the three, implemented once, here.
 *
 * The signed message of a record is its type's context string
 * ("mcptrail.ApprovalRequest.v1", "mcptrail.ApprovalVote.v1",
 * "mcptrail.ApprovalDecision.v1"), one 0x00 byte, then the Avro binary
 * encoding of every field that precedes `signature` (the last field, key_id
 * among them) in schema order. It is computed as the binary datum of the
 * record with signature set to null (requests, votes: a ["null", "bytes"]
 * union) or to empty bytes (decisions), minus its final 0x00 byte, so the
 * schema stays the single definition of the field order and a field added
 * before `signature` is covered without a code change here. The context
 * binds a signature to one record type: a signed vote can never pass as a
 * request or a decision, even under the same key.
 *
 * Records are handled in the JSON mapping of mcptrail/avro.h (request_hash
 * and signature as lowercase hex strings). */
#ifndef MCPTRAIL_APPROVAL_H
#define MCPTRAIL_APPROVAL_H

#include <jansson.h>

#include "mcptrail/avro.h"
#include "mcptrail/buf.h"
#include "mcptrail/crypto.h"
#include "mcptrail/err.h"

#define MT_APPROVAL_REQUEST_SCHEMA "dev.mcptrail.ApprovalRequest"
#define MT_APPROVAL_VOTE_SCHEMA "dev.mcptrail.ApprovalVote"
#define MT_APPROVAL_DECISION_SCHEMA "dev.mcptrail.ApprovalDecision"

/* The signing context of schema s ("mcptrail.ApprovalVote.v1", ...), or
 * NULL when s is not a signed approval record type. */
const char *mt_approval_context(const mt_avro_schema *s);

/* Appends the signed message of rec (any signature it carries is ignored)
 * to out. MT_ERR_INVALID_ARG for a schema that is not a signed type,
 * MT_ERR_SCHEMA when the record does not fit the schema. */
mt_err mt_approval_message(const mt_avro_schema *s, const json_t *rec, mt_buf *out,
                           mt_errbuf *eb);

/* Sets rec.key_id to the key's id (mt_ed25519_key_id) and rec.signature to
 * the Ed25519 signature of the message. Ed25519 is deterministic: the same
 * record and key give the same bytes. */
mt_err mt_approval_sign(const mt_avro_schema *s, json_t *rec, const mt_ed25519_key *key,
                        mt_errbuf *eb);

/* MT_OK when rec.signature is a valid signature of its message under key;
 * MT_ERR_BAD_SIGNATURE when it is not, is missing (null: unsigned) or is not
 * 64 bytes of hex. The caller picks the key by rec.key_id and decides what
 * that key may sign. */
mt_err mt_approval_verify(const mt_avro_schema *s, const json_t *rec, const mt_ed25519_key *key,
                          mt_errbuf *eb);

#endif
