/* Policy: which JSON-RPC calls the sidecar lets through, refuses, or only
 * records. The language is documented in docs/policy.md.
 *
 * A policy is loaded and validated once, then never changes: mt_policy_eval
 * only reads it, so any number of threads may evaluate the same policy, and a
 * reload (SIGHUP) builds a new mt_policy and swaps a pointer. Decisions borrow
 * strings from the policy that made them; free an old policy only after no
 * request still holds a decision from it. */
#ifndef MCPTRAIL_POLICY_H
#define MCPTRAIL_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "mcptrail/err.h"

/* Bounds checked on load. */
#define MT_POLICY_MAX_BYTES ((size_t)1 << 20) /* 1 MiB policy file */
#define MT_POLICY_MAX_RULES 10000
#define MT_POLICY_MAX_ID 128 /* bytes in a rule id */

/* The JSON-RPC error a deny answers with: code, fixed message, and
 * data {"rule_id": "...", "reason": "<rule message, when it has one>"}. */
#define MT_POLICY_DENY_CODE (-32001)
#define MT_POLICY_DENY_MESSAGE "denied by policy"

/* The rule id a decision carries when no rule matched. Reserved: no rule may
 * use it. */
#define MT_POLICY_DEFAULT_ID "default"

typedef enum mt_policy_action {
    MT_POLICY_ALLOW,
    MT_POLICY_DENY,
    MT_POLICY_RECORD_ONLY,
    MT_POLICY_APPROVE, /* hold for a signed approval decision (docs/policy.md) */
} mt_policy_action;

/* Bounds of an approve rule's `approval` object. */
#define MT_POLICY_MAX_APPROVALS 16
#define MT_POLICY_MAX_GROUPS 64
#define MT_POLICY_DEFAULT_EXPIRY_S 900
#define MT_POLICY_MIN_EXPIRY_S 5
#define MT_POLICY_MAX_EXPIRY_S (7 * 24 * 3600)
#define MT_POLICY_DEFAULT_JUSTIFICATION_HEADER "Mcp-Justification"

typedef enum mt_policy_hold {
    MT_POLICY_HOLD_WAIT,   /* the client's request stays open until the decision */
    MT_POLICY_HOLD_TICKET, /* answered at once; the identical retry passes once approved */
} mt_policy_hold;

/* What an approve rule asks of the approval (strings borrowed from the
 * policy). */
typedef struct mt_policy_approval {
    const char **groups; /* approver must hold one of them; none: any approver */
    size_t ngroups;
    int min_approvals;      /* distinct approve votes needed, 1..MT_POLICY_MAX_APPROVALS */
    bool four_eyes;         /* requester can never approve (default true) */
    bool reason_required;   /* every vote carries a reason (default false) */
    long expiry_s;          /* undecided approvals expire after this many seconds */
    mt_policy_hold hold;
    const char *justification_header; /* request header carrying the justification */
    const char *justification_claim;  /* or a verified token claim; NULL: none */
    bool justification_required; /* no justification -> refused (-32003) */
} mt_policy_approval;

typedef struct mt_policy mt_policy;

/* What one call looks like to the policy. Every pointer may be NULL: a
 * condition on something absent does not match (except `ne` and
 * `exists: false`, see docs/policy.md). */
typedef struct mt_policy_input {
    const char *method;      /* JSON-RPC method, e.g. "tools/call" */
    const char *tool;        /* params.name of tools/call; NULL otherwise */
    const json_t *arguments; /* params.arguments */
    const json_t *claims;    /* all verified token claims (object) */
    const char *subject;     /* verified subject (sub, or SPIFFE id) */
    const char *repository;  /* CI repository, e.g. "acme/payments-api" */
} mt_policy_input;

typedef struct mt_policy_decision {
    mt_policy_action action;
    const char *rule_id; /* matching rule's id, or MT_POLICY_DEFAULT_ID */
    const char *message; /* the rule's message; NULL when it has none */
    const mt_policy_approval *approval; /* MT_POLICY_APPROVE only; else NULL */
} mt_policy_decision;

/* Parses and validates policy JSON text of len bytes (at most
 * MT_POLICY_MAX_BYTES). On success *out is a new policy; on failure *out is
 * NULL and eb says what is wrong and where ("rules[2] (id 'x'): match.tool:
 * ..."). Errors: MT_ERR_PARSE (syntax or a wrong JSON type), MT_ERR_CONFIG
 * (unknown key, bad value, duplicate id, ...), MT_ERR_TOO_LARGE, MT_ERR_NOMEM. */
mt_err mt_policy_parse(const char *text, size_t len, mt_policy **out, mt_errbuf *eb);

/* The same, from a file; messages start with the path. MT_ERR_NOT_FOUND and
 * MT_ERR_IO when the file cannot be read. */
mt_err mt_policy_load_file(const char *path, mt_policy **out, mt_errbuf *eb);

void mt_policy_free(mt_policy *pol);

/* First matching rule wins; no match gives the policy's default. Never
 * fails; out's strings live as long as pol. */
void mt_policy_eval(const mt_policy *pol, const mt_policy_input *in, mt_policy_decision *out);

/* "allow", "deny", "record-only", "approve": the spelling used in policy
 * files. */
const char *mt_policy_action_name(mt_policy_action action);

size_t mt_policy_rule_count(const mt_policy *pol);

/* A JSON-RPC 2.0 error response for a deny decision, answering request id
 * (borrowed; NULL means JSON null). New reference, NULL on allocation
 * failure. */
json_t *mt_policy_deny_response(const json_t *id, const mt_policy_decision *d);

/* Glob as used by every pattern in a policy: '*' matches any run of bytes
 * (including '/' and the empty run), '\' makes the next byte literal, every
 * other byte matches itself. Exposed for tests and for tools that preview a
 * rule. */
bool mt_policy_glob_match(const char *pattern, const char *text);

#endif
