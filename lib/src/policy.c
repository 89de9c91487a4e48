/* Policy: load, validate and evaluate the rules that decide whether a
 * JSON-RPC call is allowed, denied or only recorded.
 *
 * Loading parses the file with the strict JSON helpers (size, depth and
 * duplicate-key limits), then compiles each rule into a flat struct: glob
 * patterns are checked, JSON Pointers are split and unescaped once, operator
 * values are type-checked, unknown keys and duplicate ids are refused. Every
 * string and value in a compiled rule is borrowed from the parsed document,
 * which the policy keeps, so loading copies nothing but pointer tokens.
 *
 * Evaluation walks the rules in order and returns the first whose every
 * condition holds. It allocates nothing and writes nothing, which is what
 * makes a loaded policy safe to share between threads and to swap on reload.
 *
 * Absent inputs never satisfy a positive condition: a rule on `tool` does
 * not match a call without a tool, a claim condition does not match a token
 * without that claim. Only `ne` and `exists: false` hold on absence. */
#include "mcptrail/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/json.h"

#define MAX_ARG_CONDS 64   /* argument predicates per rule */
#define MAX_CLAIM_CONDS 64 /* claim conditions per rule */
#define MAX_POINTER_TOKENS 32

typedef enum arg_op { OP_EQ, OP_NE, OP_IN, OP_GLOB, OP_EXISTS } arg_op;

typedef struct arg_cond {
    char **tokens; /* unescaped JSON Pointer reference tokens */
    size_t ntokens;
    arg_op op;
    const json_t *value; /* eq, ne: the value; in: the array; glob: the pattern */
    bool want;           /* exists: true = must be present, false = must be absent */
} arg_cond;

typedef struct claim_cond {
    const char *name;
    const char *pattern;
} claim_cond;

typedef struct rule {
    const char *id;
    const char *message;
    mt_policy_action action;
    mt_policy_approval approval; /* action approve only */
    const char *method; /* glob patterns; NULL = no condition */
    const char *tool;
    const char *subject;
    const char *repository;
    arg_cond *args;
    size_t nargs;
    claim_cond *claims;
    size_t nclaims;
} rule;

struct mt_policy {
    json_t *doc; /* owns every string the rules point at */
    mt_policy_action dflt;
    rule *rules;
    size_t nrules;
};

/* Locations in messages ("rules[2] (id 'x'): match.tool") are built with
 * this so a long id truncates the location, never the message. */
static void loc(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void loc(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

/* ---- glob ---------------------------------------------------------------- */

bool mt_policy_glob_match(const char *p, const char *t)
{
    /* Classic single-backtrack matcher: on a mismatch, retry from the last
     * '*' with one more byte consumed. O(len(p) * len(t)), no recursion. */
    const char *star_p = NULL, *star_t = NULL;
    while (*t) {
        if (*p == '*') {
            star_p = ++p;
            star_t = t;
            continue;
        }
        if (*p == '\\' && p[1]) {
            if (p[1] == *t) {
                p += 2;
                t++;
                continue;
            }
        } else if (*p && *p == *t) {
            p++;
            t++;
            continue;
        }
        if (!star_p)
            return false;
        p = star_p;
        t = ++star_t;
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static mt_err check_glob(const char *pat, const char *where, mt_errbuf *eb)
{
    if (!*pat)
        return mt_fail(eb, MT_ERR_CONFIG, "%s: pattern must not be empty", where);
    for (const char *s = pat; *s; s++) {
        if (*s == '\\') {
            if (!s[1])
                return mt_fail(eb, MT_ERR_CONFIG,
                               "%s: pattern '%.100s' ends with a lone '\\'; write '\\\\' for a "
                               "literal backslash",
                               where, pat);
            s++;
        }
    }
    return MT_OK;
}

/* ---- JSON Pointer (RFC 6901) --------------------------------------------- */

static void free_tokens(char **tokens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tokens[i]);
    free(tokens);
}

static mt_err parse_pointer(const char *ptr, char ***out, size_t *nout, const char *where,
                            mt_errbuf *eb)
{
    *out = NULL;
    *nout = 0;
    if (*ptr == '\0')
        return MT_OK; /* the whole arguments object */
    if (*ptr != '/')
        return mt_fail(eb, MT_ERR_CONFIG,
                       "%s: JSON Pointer '%.100s' must be empty or start with '/'", where, ptr);
    size_t n = 0;
    for (const char *s = ptr; *s; s++)
        if (*s == '/')
            n++;
    if (n > MAX_POINTER_TOKENS)
        return mt_fail(eb, MT_ERR_CONFIG, "%s: JSON Pointer '%.100s' has %zu tokens, limit is %d",
                       where, ptr, n, MAX_POINTER_TOKENS);
    char **tokens = calloc(n, sizeof *tokens);
    if (!tokens)
        return mt_fail(eb, MT_ERR_NOMEM, "%s: out of memory", where);
    const char *s = ptr + 1;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(s, '/');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char *tok = malloc(len + 1);
        if (!tok) {
            free_tokens(tokens, i);
            return mt_fail(eb, MT_ERR_NOMEM, "%s: out of memory", where);
        }
        size_t k = 0;
        for (size_t j = 0; j < len; j++) {
            if (s[j] != '~') {
                tok[k++] = s[j];
                continue;
            }
            if (j + 1 < len && (s[j + 1] == '0' || s[j + 1] == '1')) {
                tok[k++] = s[j + 1] == '0' ? '~' : '/';
                j++;
                continue;
            }
            free(tok);
            free_tokens(tokens, i);
            return mt_fail(eb, MT_ERR_CONFIG,
                           "%s: JSON Pointer '%.100s': '~' must be followed by '0' or '1' "
                           "(write ~0 for '~', ~1 for '/')",
                           where, ptr);
        }
        tok[k] = '\0';
        tokens[i] = tok;
        s += len + 1;
    }
    *out = tokens;
    *nout = n;
    return MT_OK;
}

/* Array index per RFC 6901: "0" or digits without a leading zero. "-" (the
 * element after the last) never exists. */
static bool parse_index(const char *tok, size_t *out)
{
    if (!*tok || (tok[0] == '0' && tok[1]) || strlen(tok) > 9)
        return false;
    size_t v = 0;
    for (const char *s = tok; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (size_t)(*s - '0');
    }
    *out = v;
    return true;
}

static const json_t *resolve(const json_t *root, char *const *tokens, size_t n)
{
    const json_t *cur = root;
    for (size_t i = 0; cur && i < n; i++) {
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tokens[i]);
        } else if (json_is_array(cur)) {
            size_t idx;
            cur = parse_index(tokens[i], &idx) ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
    }
    return cur;
}

/* ---- loading ------------------------------------------------------------- */

static const char *const top_keys[] = {"version", "default", "rules", NULL};
static const char *const rule_keys[] = {"id", "match", "action", "message", "approval", NULL};
static const char *const approval_keys[] = {"groups",  "min_approvals",   "four_eyes",
                                            "reason_required", "expiry", "hold",
                                            "justification", NULL};
static const char *const justification_keys[] = {"header", "claim", "required", NULL};
static const char *const match_keys[] = {"method", "tool", "arguments", "identity", NULL};
static const char *const arg_keys[] = {"path", "op", "value", NULL};
static const char *const identity_keys[] = {"subject", "repository", "claims", NULL};

static mt_err check_keys(const json_t *obj, const char *const *allowed, const char *where,
                         mt_errbuf *eb)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool known = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                known = true;
        if (known)
            continue;
        char list[160] = "";
        size_t off = 0;
        for (size_t i = 0; allowed[i] && off < sizeof list; i++)
            off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "",
                                    allowed[i]);
        return mt_fail(eb, MT_ERR_CONFIG, "%s: unknown key '%.64s' (expected %s)", where, key,
                       list);
    }
    return MT_OK;
}

/* Wraps an mt_json getter's message with the location it applies to. */
static mt_err at(mt_errbuf *eb, const char *where, mt_err err, const mt_errbuf *inner)
{
    if (err)
        mt_fail(eb, err, "%s: %s", where, inner->msg);
    return err;
}

static mt_err parse_action(const char *s, mt_policy_action *out, const char *where,
                           const char *field, mt_errbuf *eb)
{
    if (strcmp(s, "allow") == 0)
        *out = MT_POLICY_ALLOW;
    else if (strcmp(s, "deny") == 0)
        *out = MT_POLICY_DENY;
    else if (strcmp(s, "record-only") == 0)
        *out = MT_POLICY_RECORD_ONLY;
    else if (strcmp(s, "approve") == 0)
        *out = MT_POLICY_APPROVE;
    else
        return mt_fail(eb, MT_ERR_CONFIG, "%s: %s must be one of allow, deny, record-only%s; got '%.64s'",
                       where, field, strcmp(field, "default") == 0 ? "" : ", approve", s);
    return MT_OK;
}

/* An optional glob-pattern field: NULL when absent. */
static mt_err opt_glob(const json_t *obj, const char *field, const char **out, const char *where,
                       mt_errbuf *eb)
{
    mt_errbuf inner;
    mt_err err = at(eb, where, mt_json_opt_string(obj, field, NULL, out, &inner), &inner);
    if (err || !*out)
        return err;
    char w[320];
    loc(w, sizeof w, "%s.%s", where, field);
    return check_glob(*out, w, eb);
}

static mt_err compile_arg(const json_t *c, arg_cond *ac, const char *where, mt_errbuf *eb)
{
    mt_errbuf inner;
    mt_err err;
    if (!json_is_object(c))
        return mt_fail(eb, MT_ERR_PARSE, "%s: must be an object, got %s", where,
                       mt_json_type_name(c));
    if ((err = check_keys(c, arg_keys, where, eb)))
        return err;
    const char *path, *op;
    if ((err = at(eb, where, mt_json_get_string(c, "path", &path, &inner), &inner)) ||
        (err = at(eb, where, mt_json_get_string(c, "op", &op, &inner), &inner)))
        return err;
    const json_t *value = json_object_get(c, "value");
    if (strcmp(op, "eq") == 0)
        ac->op = OP_EQ;
    else if (strcmp(op, "ne") == 0)
        ac->op = OP_NE;
    else if (strcmp(op, "in") == 0)
        ac->op = OP_IN;
    else if (strcmp(op, "glob") == 0)
        ac->op = OP_GLOB;
    else if (strcmp(op, "exists") == 0)
        ac->op = OP_EXISTS;
    else
        return mt_fail(eb, MT_ERR_CONFIG,
                       "%s: op must be one of eq, ne, in, glob, exists; got '%.64s'", where, op);
    switch (ac->op) {
    case OP_EQ:
    case OP_NE:
        if (!value)
            return mt_fail(eb, MT_ERR_CONFIG, "%s: op '%s' needs a value", where, op);
        break;
    case OP_IN:
        if (!json_is_array(value))
            return mt_fail(eb, MT_ERR_CONFIG, "%s: op 'in' needs an array value, got %s", where,
                           mt_json_type_name(value));
        break;
    case OP_GLOB:
        if (!json_is_string(value))
            return mt_fail(eb, MT_ERR_CONFIG, "%s: op 'glob' needs a string value, got %s",
                           where, mt_json_type_name(value));
        char w[320];
        loc(w, sizeof w, "%s.value", where);
        if ((err = check_glob(json_string_value(value), w, eb)))
            return err;
        break;
    case OP_EXISTS:
        if (value && !json_is_boolean(value))
            return mt_fail(eb, MT_ERR_CONFIG,
                           "%s: op 'exists' takes true, false or no value, got %s", where,
                           mt_json_type_name(value));
        ac->want = !value || json_is_true(value);
        break;
    }
    ac->value = value;
    char w[320];
    loc(w, sizeof w, "%s.path", where);
    return parse_pointer(path, &ac->tokens, &ac->ntokens, w, eb);
}

static mt_err compile_identity(const json_t *idn, rule *r, const char *where, mt_errbuf *eb)
{
    mt_errbuf inner;
    mt_err err;
    if ((err = check_keys(idn, identity_keys, where, eb)) ||
        (err = opt_glob(idn, "subject", &r->subject, where, eb)) ||
        (err = opt_glob(idn, "repository", &r->repository, where, eb)))
        return err;
    json_t *claims;
    if ((err = at(eb, where, mt_json_opt_object(idn, "claims", &claims, &inner), &inner)))
        return err;
    if (!claims)
        return MT_OK;
    size_t n = json_object_size(claims);
    if (n > MAX_CLAIM_CONDS)
        return mt_fail(eb, MT_ERR_CONFIG, "%s.claims: %zu conditions, limit is %d", where, n,
                       MAX_CLAIM_CONDS);
    r->claims = calloc(n ? n : 1, sizeof *r->claims);
    if (!r->claims)
        return mt_fail(eb, MT_ERR_NOMEM, "%s: out of memory", where);
    const char *name;
    json_t *v;
    json_object_foreach(claims, name, v) {
        char w[320];
        loc(w, sizeof w, "%s.claims.%.64s", where, name);
        if (!json_is_string(v))
            return mt_fail(eb, MT_ERR_CONFIG, "%s: must be a string pattern, got %s", w,
                           mt_json_type_name(v));
        if ((err = check_glob(json_string_value(v), w, eb)))
            return err;
        r->claims[r->nclaims].name = name;
        r->claims[r->nclaims].pattern = json_string_value(v);
        r->nclaims++;
    }
    return MT_OK;
}

static mt_err compile_match(const json_t *m, rule *r, const char *where, mt_errbuf *eb)
{
    mt_errbuf inner;
    mt_err err;
    if ((err = check_keys(m, match_keys, where, eb)) ||
        (err = opt_glob(m, "method", &r->method, where, eb)) ||
        (err = opt_glob(m, "tool", &r->tool, where, eb)))
        return err;
    json_t *args, *idn;
    if ((err = at(eb, where, mt_json_opt_array(m, "arguments", &args, &inner), &inner)) ||
        (err = at(eb, where, mt_json_opt_object(m, "identity", &idn, &inner), &inner)))
        return err;
    if (args) {
        size_t n = json_array_size(args);
        if (n > MAX_ARG_CONDS)
            return mt_fail(eb, MT_ERR_CONFIG, "%s.arguments: %zu conditions, limit is %d", where,
                           n, MAX_ARG_CONDS);
        r->args = calloc(n ? n : 1, sizeof *r->args);
        if (!r->args)
            return mt_fail(eb, MT_ERR_NOMEM, "%s: out of memory", where);
        for (size_t i = 0; i < n; i++) {
            char w[320];
            loc(w, sizeof w, "%s.arguments[%zu]", where, i);
            err = compile_arg(json_array_get(args, i), &r->args[i], w, eb);
            r->nargs = i + 1; /* so free sees any tokens already split */
            if (err)
                return err;
        }
    }
    if (idn) {
        char w[320];
        loc(w, sizeof w, "%s.identity", where);
        return compile_identity(idn, r, w, eb);
    }
    return MT_OK;
}

static bool valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > MT_POLICY_MAX_ID)
        return false;
    for (const char *s = id; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

/* An HTTP header name: 1-64 token characters (RFC 9110). */
static bool valid_header_name(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("!#$%&'*+-.^_`|~", h[i]) && !((h[i] >= '0' && h[i] <= '9') ||
                                                 (h[i] >= 'A' && h[i] <= 'Z') ||
                                                 (h[i] >= 'a' && h[i] <= 'z')))
            return false;
    return true;
}

static mt_err compile_approval(const json_t *a, mt_policy_approval *ap, const char *where,
                               mt_errbuf *eb)
{
    mt_errbuf inner;
    mt_err err;
    char w[320];
    loc(w, sizeof w, "%s: approval", where);
    if ((err = check_keys(a, approval_keys, w, eb)))
        return err;
    json_t *groups = NULL, *just = NULL;
    json_int_t min = 1, expiry = MT_POLICY_DEFAULT_EXPIRY_S;
    const char *hold = "wait";
    if ((err = at(eb, w, mt_json_opt_array(a, "groups", &groups, &inner), &inner)) ||
        (err = at(eb, w, mt_json_opt_int(a, "min_approvals", 1, &min, &inner), &inner)) ||
        (err = at(eb, w, mt_json_opt_bool(a, "four_eyes", true, &ap->four_eyes, &inner),
                  &inner)) ||
        (err = at(eb, w, mt_json_opt_bool(a, "reason_required", false, &ap->reason_required,
                                          &inner),
                  &inner)) ||
        (err = at(eb, w,
                  mt_json_opt_int(a, "expiry", MT_POLICY_DEFAULT_EXPIRY_S, &expiry, &inner),
                  &inner)) ||
        (err = at(eb, w, mt_json_opt_string(a, "hold", "wait", &hold, &inner), &inner)) ||
        (err = at(eb, w, mt_json_opt_object(a, "justification", &just, &inner), &inner)))
        return err;
    if (min < 1 || min > MT_POLICY_MAX_APPROVALS)
        return mt_fail(eb, MT_ERR_CONFIG, "%s.min_approvals: must be 1 to %d, got %lld", w,
                       MT_POLICY_MAX_APPROVALS, (long long)min);
    if (expiry < MT_POLICY_MIN_EXPIRY_S || expiry > MT_POLICY_MAX_EXPIRY_S)
        return mt_fail(eb, MT_ERR_CONFIG, "%s.expiry: must be %d to %d seconds, got %lld", w,
                       MT_POLICY_MIN_EXPIRY_S, MT_POLICY_MAX_EXPIRY_S, (long long)expiry);
    ap->min_approvals = (int)min;
    ap->expiry_s = (long)expiry;
    if (strcmp(hold, "wait") == 0)
        ap->hold = MT_POLICY_HOLD_WAIT;
    else if (strcmp(hold, "ticket") == 0)
        ap->hold = MT_POLICY_HOLD_TICKET;
    else
        return mt_fail(eb, MT_ERR_CONFIG, "%s.hold: must be wait or ticket, got '%.64s'", w,
                       hold);
    size_t ng = json_array_size(groups);
    if (ng > MT_POLICY_MAX_GROUPS)
        return mt_fail(eb, MT_ERR_CONFIG, "%s.groups: %zu groups, limit is %d", w, ng,
                       MT_POLICY_MAX_GROUPS);
    if (ng && !(ap->groups = calloc(ng, sizeof *ap->groups)))
        return mt_fail(eb, MT_ERR_NOMEM, "%s: out of memory", w);
    for (size_t i = 0; i < ng; i++) {
        const char *g = json_string_value(json_array_get(groups, i));
        if (!g || !*g || strlen(g) > 256)
            return mt_fail(eb, MT_ERR_CONFIG,
                           "%s.groups[%zu]: must be a non-empty string of at most 256 bytes",
                           w, i);
        ap->groups[ap->ngroups++] = g;
    }
    ap->justification_header = MT_POLICY_DEFAULT_JUSTIFICATION_HEADER;
    if (just) {
        char jw[360];
        loc(jw, sizeof jw, "%s.justification", w);
        if ((err = check_keys(just, justification_keys, jw, eb)) ||
            (err = at(eb, jw,
                      mt_json_opt_string(just, "header", MT_POLICY_DEFAULT_JUSTIFICATION_HEADER,
                                         &ap->justification_header, &inner),
                      &inner)) ||
            (err = at(eb, jw,
                      mt_json_opt_string(just, "claim", NULL, &ap->justification_claim, &inner),
                      &inner)) ||
            (err = at(eb, jw,
                      mt_json_opt_bool(just, "required", false, &ap->justification_required,
                                       &inner),
                      &inner)))
            return err;
        if (!valid_header_name(ap->justification_header))
            return mt_fail(eb, MT_ERR_CONFIG,
                           "%s.header: '%.64s' is not an HTTP header name (1-64 token characters)",
                           jw, ap->justification_header);
        if (ap->justification_claim && !*ap->justification_claim)
            return mt_fail(eb, MT_ERR_CONFIG, "%s.claim: must not be empty", jw);
    }
    return MT_OK;
}

static mt_err compile_rule(const json_t *j, size_t idx, rule *r, json_t *seen, mt_errbuf *eb)
{
    mt_errbuf inner;
    mt_err err;
    char where[256];
    loc(where, sizeof where, "rules[%zu]", idx);
    if (!json_is_object(j))
        return mt_fail(eb, MT_ERR_PARSE, "%s: must be an object, got %s", where,
                       mt_json_type_name(j));
    if ((err = at(eb, where, mt_json_get_string(j, "id", &r->id, &inner), &inner)))
        return err;
    if (!valid_id(r->id))
        return mt_fail(eb, MT_ERR_CONFIG,
                       "%s: id '%.64s' must be 1 to %d characters of A-Z a-z 0-9 - _ . :", where,
                       r->id, MT_POLICY_MAX_ID);
    if (strcmp(r->id, MT_POLICY_DEFAULT_ID) == 0)
        return mt_fail(eb, MT_ERR_CONFIG,
                       "%s: id 'default' is reserved for decisions no rule made", where);
    json_t *first = json_object_get(seen, r->id);
    if (first)
        return mt_fail(eb, MT_ERR_CONFIG, "%s: duplicate id '%s' (first used by rules[%lld])",
                       where, r->id, (long long)json_integer_value(first));
    if (json_object_set_new(seen, r->id, json_integer((json_int_t)idx)))
        return mt_fail(eb, MT_ERR_NOMEM, "%s: out of memory", where);
    loc(where, sizeof where, "rules[%zu] (id '%s')", idx, r->id);
    if ((err = check_keys(j, rule_keys, where, eb)))
        return err;
    const char *action;
    json_t *match;
    if ((err = at(eb, where, mt_json_get_string(j, "action", &action, &inner), &inner)) ||
        (err = parse_action(action, &r->action, where, "action", eb)) ||
        (err = at(eb, where, mt_json_opt_string(j, "message", NULL, &r->message, &inner),
                  &inner)) ||
        (err = at(eb, where, mt_json_get_object(j, "match", &match, &inner), &inner)))
        return err;
    json_t *approval = json_object_get(j, "approval");
    if (r->action == MT_POLICY_APPROVE && !json_is_object(approval))
        return mt_fail(eb, MT_ERR_CONFIG,
                       "%s: action approve needs an \"approval\" object (groups, "
                       "min_approvals, ...)",
                       where);
    if (r->action != MT_POLICY_APPROVE && approval)
        return mt_fail(eb, MT_ERR_CONFIG, "%s: \"approval\" is only allowed with action approve",
                       where);
    if (approval && (err = compile_approval(approval, &r->approval, where, eb)))
        return err;
    char w[320];
    loc(w, sizeof w, "%s: match", where);
    return compile_match(match, r, w, eb);
}

static void free_rule(rule *r)
{
    for (size_t i = 0; i < r->nargs; i++)
        free_tokens(r->args[i].tokens, r->args[i].ntokens);
    free(r->args);
    free(r->claims);
    free(r->approval.groups);
}

void mt_policy_free(mt_policy *pol)
{
    if (!pol)
        return;
    for (size_t i = 0; i < pol->nrules; i++)
        free_rule(&pol->rules[i]);
    free(pol->rules);
    json_decref(pol->doc);
    free(pol);
}

/* Takes ownership of doc. */
static mt_err compile(json_t *doc, mt_policy **out, mt_errbuf *eb)
{
    mt_errbuf inner;
    mt_err err;
    json_t *seen = NULL;
    mt_policy *pol = calloc(1, sizeof *pol);
    if (!pol) {
        json_decref(doc);
        return mt_fail(eb, MT_ERR_NOMEM, "policy: out of memory");
    }
    pol->doc = doc;
    if (!json_is_object(doc)) {
        err = mt_fail(eb, MT_ERR_PARSE, "policy: top level must be an object, got %s",
                      mt_json_type_name(doc));
        goto fail;
    }
    if ((err = check_keys(doc, top_keys, "policy", eb)))
        goto fail;
    json_int_t version;
    if ((err = at(eb, "policy", mt_json_get_int(doc, "version", &version, &inner), &inner)))
        goto fail;
    if (version != 1) {
        err = mt_fail(eb, MT_ERR_CONFIG,
                      "policy: version %" JSON_INTEGER_FORMAT " is not supported (expected 1)",
                      version);
        goto fail;
    }
    const char *dflt;
    json_t *rules;
    if ((err = at(eb, "policy", mt_json_get_string(doc, "default", &dflt, &inner), &inner)) ||
        (err = parse_action(dflt, &pol->dflt, "policy", "default", eb)) ||
        (err = at(eb, "policy", mt_json_get_array(doc, "rules", &rules, &inner), &inner)))
        goto fail;
    if (pol->dflt == MT_POLICY_APPROVE) {
        err = mt_fail(eb, MT_ERR_CONFIG,
                      "policy: default cannot be approve (write a rule with match {} and an "
                      "approval object)");
        goto fail;
    }
    size_t n = json_array_size(rules);
    if (n > MT_POLICY_MAX_RULES) {
        err = mt_fail(eb, MT_ERR_TOO_LARGE, "policy: %zu rules, limit is %d", n,
                      MT_POLICY_MAX_RULES);
        goto fail;
    }
    pol->rules = calloc(n ? n : 1, sizeof *pol->rules);
    seen = json_object();
    if (!pol->rules || !seen) {
        err = mt_fail(eb, MT_ERR_NOMEM, "policy: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        err = compile_rule(json_array_get(rules, i), i, &pol->rules[i], seen, eb);
        pol->nrules = i + 1;
        if (err)
            goto fail;
    }
    json_decref(seen);
    *out = pol;
    return MT_OK;
fail:
    json_decref(seen);
    mt_policy_free(pol);
    return err;
}

static const mt_json_limits policy_limits = {MT_POLICY_MAX_BYTES, 64, true, false, false};

mt_err mt_policy_parse(const char *text, size_t len, mt_policy **out, mt_errbuf *eb)
{
    *out = NULL;
    json_t *doc;
    mt_errbuf inner;
    mt_err err = mt_json_parse(text, len, &policy_limits, &doc, &inner);
    if (err)
        return mt_fail(eb, err, "policy: %s", inner.msg);
    return compile(doc, out, eb);
}

mt_err mt_policy_load_file(const char *path, mt_policy **out, mt_errbuf *eb)
{
    *out = NULL;
    json_t *doc;
    mt_err err = mt_json_load_file(path, &policy_limits, &doc, eb);
    if (err)
        return err;
    mt_errbuf inner;
    err = compile(doc, out, &inner);
    if (err)
        mt_fail(eb, err, "%s: %s", path, inner.msg);
    return err;
}

/* ---- evaluation ---------------------------------------------------------- */

static bool glob_opt(const char *pattern, const char *text)
{
    return !pattern || (text && mt_policy_glob_match(pattern, text));
}

/* Numbers compare by value so 1 and 1.0 are equal (two integers exactly,
 * so ids beyond 2^53 stay distinct); everything else by jansson's structural
 * equality. */
static bool values_equal(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    return json_equal((json_t *)a, (json_t *)b) == 1;
}

static bool arg_holds(const arg_cond *ac, const json_t *args)
{
    const json_t *v = args ? resolve(args, ac->tokens, ac->ntokens) : NULL;
    switch (ac->op) {
    case OP_EQ: return v && values_equal(v, ac->value);
    case OP_NE: return !v || !values_equal(v, ac->value);
    case OP_IN:
        if (!v)
            return false;
        for (size_t i = 0; i < json_array_size(ac->value); i++)
            if (values_equal(v, json_array_get(ac->value, i)))
                return true;
        return false;
    case OP_GLOB:
        return json_is_string(v) &&
               mt_policy_glob_match(json_string_value(ac->value), json_string_value(v));
    case OP_EXISTS: return (v != NULL) == ac->want;
    }
    return false;
}

/* A string claim matches the pattern; an array claim matches when any of
 * its string elements does (the groups claim is the usual case). */
static bool claim_holds(const claim_cond *cc, const json_t *claims)
{
    const json_t *v = json_is_object(claims) ? json_object_get(claims, cc->name) : NULL;
    if (json_is_string(v))
        return mt_policy_glob_match(cc->pattern, json_string_value(v));
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            if (json_is_string(e) && mt_policy_glob_match(cc->pattern, json_string_value(e)))
                return true;
        }
    }
    return false;
}

static bool rule_matches(const rule *r, const mt_policy_input *in)
{
    if (!glob_opt(r->method, in->method) || !glob_opt(r->tool, in->tool) ||
        !glob_opt(r->subject, in->subject) || !glob_opt(r->repository, in->repository))
        return false;
    for (size_t i = 0; i < r->nargs; i++)
        if (!arg_holds(&r->args[i], in->arguments))
            return false;
    for (size_t i = 0; i < r->nclaims; i++)
        if (!claim_holds(&r->claims[i], in->claims))
            return false;
    return true;
}

void mt_policy_eval(const mt_policy *pol, const mt_policy_input *in, mt_policy_decision *out)
{
    for (size_t i = 0; i < pol->nrules; i++) {
        const rule *r = &pol->rules[i];
        if (rule_matches(r, in)) {
            out->action = r->action;
            out->rule_id = r->id;
            out->message = r->message;
            out->approval = r->action == MT_POLICY_APPROVE ? &r->approval : NULL;
            return;
        }
    }
    out->action = pol->dflt;
    out->rule_id = MT_POLICY_DEFAULT_ID;
    out->message = NULL;
    out->approval = NULL;
}

const char *mt_policy_action_name(mt_policy_action action)
{
    switch (action) {
    case MT_POLICY_ALLOW: return "allow";
    case MT_POLICY_DENY: return "deny";
    case MT_POLICY_RECORD_ONLY: return "record-only";
    case MT_POLICY_APPROVE: return "approve";
    }
    return "unknown";
}

size_t mt_policy_rule_count(const mt_policy *pol)
{
    return pol->nrules;
}

json_t *mt_policy_deny_response(const json_t *id, const mt_policy_decision *d)
{
    json_t *data = d->message ? json_pack("{s:s, s:s}", "rule_id", d->rule_id, "reason",
                                          d->message)
                              : json_pack("{s:s}", "rule_id", d->rule_id);
    if (!data)
        return NULL;
    return json_pack("{s:s, s:O?, s:{s:i, s:s, s:o}}", "jsonrpc", "2.0", "id", (json_t *)id,
                     "error", "code", MT_POLICY_DENY_CODE, "message", MT_POLICY_DENY_MESSAGE,
                     "data", data);
}
