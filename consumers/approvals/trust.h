/* Who may sign what on the approval topics (docs/approvals.md "Who may
 * vote"). Writing a topic is not trusted: every ApprovalRequest and
 * ApprovalVote must carry an Ed25519 signature (lib approval.h) under a key
 * whose role allows that record:
 *
 *   role     keys from                          may sign
 *   service  signing.key_file                   votes with source api or console
 *                                               (the service writes them for the
 *                                               JWT-verified approver), decisions
 *            retired keys of                    decisions only (what was published
 *            signing.previous_public_keys       before a rotation); never votes, so
 *                                               a rotated-out key mints nothing
 *   sidecar  trust file "sidecars"              ApprovalRequests; votes with source
 *                                               sidecar (cancel, and only for an
 *                                               approval that key requested: the
 *                                               state machine checks that part)
 *   bot      trust file "bots", each bound to   votes with source bot, as exactly
 *            a subject, issuer and groups       that subject and issuer; claimed
 *                                               groups must be a subset of the
 *                                               key's, and only the key's count
 *
 * A key has one role: the same public key under two roles (or twice) is a
 * load error. Checks are pure (no I/O after loading) and deterministic, so
 * a replay of the topics rejects exactly what the live service rejected.
 *
 * The trust file (JSON; relative key paths are relative to it):
 *   {"sidecars": [{"name": "payments", "public_key_file": "payments.pub.pem"}],
 *    "bots": [{"name": "release-bot", "public_key": "-----BEGIN PUBLIC KEY-----...",
 *              "subject": "release-bot", "issuer": "mcptrail-approval-bot",
 *              "groups": ["bots"]}]} */
#ifndef MT_APPROVALS_TRUST_H
#define MT_APPROVALS_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "mcptrail/avro.h"
#include "mcptrail/crypto.h"
#include "mcptrail/err.h"

#define MT_TRUST_MAX_KEYS 256   /* per role */
#define MT_TRUST_MAX_GROUPS 64  /* per bot */
#define MT_TRUST_NAME_MAX 64

typedef enum mt_trust_role {
    MT_TRUST_SERVICE = 0,
    MT_TRUST_SIDECAR,
    MT_TRUST_BOT,
} mt_trust_role;

typedef struct mt_trust_key {
    mt_trust_role role;
    char id[MT_ED25519_KEY_ID_SIZE];
    char *name;             /* from the trust file; "service" or "service-retired" */
    mt_ed25519_key *key;    /* public part only */
    bool retired;           /* service: a key of signing.previous_public_keys */
    char *subject, *issuer; /* bots: the only identity the key votes as */
    char **groups;          /* bots: the groups its votes count with */
    size_t ngroups;
} mt_trust_key;

typedef struct mt_trust {
    mt_trust_key *keys;
    size_t n, cap;
} mt_trust;

typedef enum mt_trust_verdict {
    MT_TRUST_OK = 0,
    MT_TRUST_UNSIGNED,       /* no key_id or no signature */
    MT_TRUST_UNKNOWN_KEY,    /* key_id names no trusted key */
    MT_TRUST_BAD_SIGNATURE,  /* does not verify under the key its key_id names */
    MT_TRUST_WRONG_ROLE,     /* the key may not sign this record or vote source */
    MT_TRUST_IDENTITY,       /* a bot key voting as another subject or issuer */
    MT_TRUST_GROUPS,         /* a bot key claiming a group it does not hold */
    MT_TRUST_RETIRED,        /* a vote signed by a retired service key */
} mt_trust_verdict;
#define MT_TRUST_VERDICTS 8 /* MT_TRUST_OK .. MT_TRUST_RETIRED */

void mt_trust_init(mt_trust *t);
void mt_trust_free(mt_trust *t);

/* Adds the public part of key with role service (name "service", or
 * "service-retired" for a key that only verifies what it signed before a
 * rotation). */
mt_err mt_trust_add_service(mt_trust *t, const mt_ed25519_key *key, bool retired, mt_errbuf *eb);

/* Adds a service key from a PEM file (signing.previous_public_keys). */
mt_err mt_trust_add_service_file(mt_trust *t, const char *path, mt_errbuf *eb);

/* Loads the sidecars and bots of a trust file. Errors name the file, the
 * entry and what is wrong (unknown member, bad key, duplicate key, ...). */
mt_err mt_trust_load_file(mt_trust *t, const char *path, mt_errbuf *eb);

const mt_trust_key *mt_trust_find(const mt_trust *t, const char *key_id);
size_t mt_trust_count(const mt_trust *t, mt_trust_role role);

/* An ApprovalRequest (schema s, decoded): signed by a sidecar key. */
mt_trust_verdict mt_trust_check_request(const mt_trust *t, const mt_avro_schema *s,
                                        const json_t *rec, const mt_trust_key **signer,
                                        mt_errbuf *eb);

/* An ApprovalVote: signed by a key whose role matches its source (api,
 * console: service; bot: bot, with the identity and groups rules above;
 * sidecar: sidecar). */
mt_trust_verdict mt_trust_check_vote(const mt_trust *t, const mt_avro_schema *s,
                                     const json_t *rec, const mt_trust_key **signer,
                                     mt_errbuf *eb);

/* An ApprovalDecision: signed by a service key. */
mt_trust_verdict mt_trust_check_decision(const mt_trust *t, const mt_avro_schema *s,
                                         const json_t *rec, const mt_trust_key **signer,
                                         mt_errbuf *eb);

/* "ok", "unsigned", "unknown_key", "bad_signature", "wrong_role",
 * "identity_not_allowed", "group_not_allowed", "retired_key". */
const char *mt_trust_verdict_name(mt_trust_verdict v);
const char *mt_trust_role_name(mt_trust_role r);

#endif
