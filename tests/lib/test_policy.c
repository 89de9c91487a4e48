/* policy: glob and JSON Pointer semantics, each matcher, first-match order and
 * the default, every validation error with its exact message, file limits,
 * the deny response, and the realistic fixture tests/fixtures/policy/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcptrail/policy.h"

/* Tests write JSON with single quotes; this swaps them for double quotes. */
static char *dq(const char *s)
{
    char *o = strdup(s);
    assert_non_null(o);
    for (char *p = o; *p; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

static mt_policy *load(const char *sq)
{
    char *s = dq(sq);
    mt_policy *pol = NULL;
    mt_errbuf eb = {""};
    mt_err err = mt_policy_parse(s, strlen(s), &pol, &eb);
    if (err)
        fail_msg("policy did not load: %s", eb.msg);
    free(s);
    return pol;
}

static mt_err load_err(const char *sq, mt_errbuf *eb)
{
    char *s = dq(sq);
    mt_policy *pol = (mt_policy *)1;
    mt_err err = mt_policy_parse(s, strlen(s), &pol, eb);
    assert_null(pol);
    free(s);
    return err;
}

static json_t *js(const char *sq)
{
    char *s = dq(sq);
    json_error_t e;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON %s: %s", s, e.text);
    free(s);
    return j;
}

/* One rule whose match is `match` (single-quoted JSON); default allow. */
static mt_policy *one_rule(const char *match)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{'version':1,'default':'allow','rules':[{'id':'r','match':%s,'action':'deny'}]}",
             match);
    return load(buf);
}

static const char *eval_id(const mt_policy *pol, const mt_policy_input *in)
{
    mt_policy_decision d;
    mt_policy_eval(pol, in, &d);
    return d.rule_id;
}

/* Does the single rule `match` match a tools/call with these arguments? */
static bool args_match(const char *match, const char *args)
{
    mt_policy *pol = one_rule(match);
    json_t *a = args ? js(args) : NULL;
    mt_policy_input in = {.method = "tools/call", .tool = "t", .arguments = a};
    bool hit = strcmp(eval_id(pol, &in), "r") == 0;
    json_decref(a);
    mt_policy_free(pol);
    return hit;
}

/* ---- glob ---------------------------------------------------------------- */

static void glob_star_matches_any_run_including_empty_and_slash(void **state)
{
    (void)state;
    assert_true(mt_policy_glob_match("delete_*", "delete_"));
    assert_true(mt_policy_glob_match("delete_*", "delete_user"));
    assert_true(mt_policy_glob_match("repo:acme/*", "repo:acme/payments:ref:refs/heads/main"));
    assert_true(mt_policy_glob_match("*", ""));
    assert_true(mt_policy_glob_match("*", "a/b/c"));
    assert_true(mt_policy_glob_match("**", "x"));
    assert_false(mt_policy_glob_match("delete_*", "undelete_user"));
}

static void glob_without_star_is_exact(void **state)
{
    (void)state;
    assert_true(mt_policy_glob_match("tools/call", "tools/call"));
    assert_false(mt_policy_glob_match("tools/call", "tools/calls"));
    assert_false(mt_policy_glob_match("tools/call", "tools/cal"));
    assert_false(mt_policy_glob_match("tools/call", "Tools/call"));
    assert_false(mt_policy_glob_match("a", ""));
}

static void glob_backtracks_over_several_stars(void **state)
{
    (void)state;
    assert_true(mt_policy_glob_match("*a*b*c", "xxaxxbxxbxxc"));
    assert_true(mt_policy_glob_match("a*a", "aaa"));
    assert_true(mt_policy_glob_match("*_prod_*", "db_prod_eu"));
    assert_false(mt_policy_glob_match("*a*b*c", "xxaxxbxxbxxcd"));
    assert_false(mt_policy_glob_match("a*a", "a"));
    /* long pathological input finishes (quadratic bound, no recursion) */
    char text[4097];
    memset(text, 'a', 4096);
    text[4096] = '\0';
    assert_false(mt_policy_glob_match("*a*a*a*a*a*b", text));
}

static void glob_backslash_makes_star_literal(void **state)
{
    (void)state;
    assert_true(mt_policy_glob_match("a\\*b", "a*b"));
    assert_false(mt_policy_glob_match("a\\*b", "axb"));
    assert_true(mt_policy_glob_match("a\\\\b", "a\\b"));
    assert_true(mt_policy_glob_match("*\\*", "x*"));
    assert_false(mt_policy_glob_match("*\\*", "x"));
}

/* ---- method and tool ----------------------------------------------------- */

static void method_matches_exactly_or_by_glob(void **state)
{
    (void)state;
    mt_policy *pol = one_rule("{'method':'tools/call'}");
    mt_policy_input in = {.method = "tools/call"};
    assert_string_equal(eval_id(pol, &in), "r");
    in.method = "tools/list";
    assert_string_equal(eval_id(pol, &in), "default");
    mt_policy_free(pol);
    pol = one_rule("{'method':'resources/*'}");
    in.method = "resources/read";
    assert_string_equal(eval_id(pol, &in), "r");
    in.method = "tools/call";
    assert_string_equal(eval_id(pol, &in), "default");
    in.method = NULL;
    assert_string_equal(eval_id(pol, &in), "default");
    mt_policy_free(pol);
}

static void tool_glob_does_not_match_a_call_without_a_tool(void **state)
{
    (void)state;
    mt_policy *pol = one_rule("{'tool':'delete_*'}");
    mt_policy_input in = {.method = "tools/call", .tool = "delete_user"};
    assert_string_equal(eval_id(pol, &in), "r");
    in.tool = "read_user";
    assert_string_equal(eval_id(pol, &in), "default");
    in.tool = NULL;
    assert_string_equal(eval_id(pol, &in), "default");
    mt_policy_free(pol);
}

static void empty_match_matches_everything(void **state)
{
    (void)state;
    mt_policy *pol = one_rule("{}");
    mt_policy_input in = {0};
    assert_string_equal(eval_id(pol, &in), "r");
    mt_policy_free(pol);
}

/* ---- arguments ----------------------------------------------------------- */

static void arg_eq_compares_json_values_and_numbers_by_value(void **state)
{
    (void)state;
    const char *m = "{'arguments':[{'path':'/environment','op':'eq','value':'production'}]}";
    assert_true(args_match(m, "{'environment':'production'}"));
    assert_false(args_match(m, "{'environment':'staging'}"));
    assert_false(args_match(m, "{}"));
    assert_false(args_match(m, NULL));
    const char *n = "{'arguments':[{'path':'/n','op':'eq','value':1}]}";
    assert_true(args_match(n, "{'n':1.0}"));
    assert_false(args_match(n, "{'n':'1'}"));
    const char *big = "{'arguments':[{'path':'/n','op':'eq','value':9007199254740993}]}";
    assert_true(args_match(big, "{'n':9007199254740993}"));
    assert_false(args_match(big, "{'n':9007199254740992}"));
    const char *o = "{'arguments':[{'path':'/o','op':'eq','value':{'a':[1,true]}}]}";
    assert_true(args_match(o, "{'o':{'a':[1,true]}}"));
    assert_false(args_match(o, "{'o':{'a':[1,false]}}"));
}

static void arg_ne_holds_when_value_differs_or_is_absent(void **state)
{
    (void)state;
    const char *m = "{'arguments':[{'path':'/environment','op':'ne','value':'staging'}]}";
    assert_true(args_match(m, "{'environment':'production'}"));
    assert_true(args_match(m, "{}"));
    assert_true(args_match(m, NULL));
    assert_false(args_match(m, "{'environment':'staging'}"));
}

static void arg_in_matches_any_listed_value(void **state)
{
    (void)state;
    const char *m = "{'arguments':[{'path':'/region','op':'in','value':['eu','us',7]}]}";
    assert_true(args_match(m, "{'region':'us'}"));
    assert_true(args_match(m, "{'region':7}"));
    assert_false(args_match(m, "{'region':'ap'}"));
    assert_false(args_match(m, "{}"));
}

static void arg_glob_matches_strings_only(void **state)
{
    (void)state;
    const char *m = "{'arguments':[{'path':'/table','op':'glob','value':'prod_*'}]}";
    assert_true(args_match(m, "{'table':'prod_users'}"));
    assert_false(args_match(m, "{'table':'dev_users'}"));
    assert_false(args_match(m, "{'table':['prod_users']}"));
    assert_false(args_match(m, "{}"));
}

static void arg_exists_checks_presence_or_absence(void **state)
{
    (void)state;
    const char *present = "{'arguments':[{'path':'/force','op':'exists'}]}";
    assert_true(args_match(present, "{'force':null}"));
    assert_false(args_match(present, "{}"));
    const char *absent = "{'arguments':[{'path':'/force','op':'exists','value':false}]}";
    assert_true(args_match(absent, "{}"));
    assert_true(args_match(absent, NULL));
    assert_false(args_match(absent, "{'force':false}"));
}

static void pointer_unescapes_tilde_one_as_slash_and_tilde_zero_as_tilde(void **state)
{
    (void)state;
    const char *m = "{'arguments':[{'path':'/a~1b/c~0d','op':'eq','value':1}]}";
    assert_true(args_match(m, "{'a/b':{'c~d':1}}"));
    assert_false(args_match(m, "{'a':{'b':{'c~d':1}}}"));
    /* ~01 is '~' then '1', not '/' */
    const char *order = "{'arguments':[{'path':'/~01','op':'exists'}]}";
    assert_true(args_match(order, "{'~1':0}"));
    assert_false(args_match(order, "{'/':0}"));
}

static void pointer_indexes_arrays_by_canonical_decimal(void **state)
{
    (void)state;
    const char *m = "{'arguments':[{'path':'/hosts/1/name','op':'eq','value':'db'}]}";
    assert_true(args_match(m, "{'hosts':[{'name':'web'},{'name':'db'}]}"));
    assert_false(args_match(m, "{'hosts':[{'name':'db'}]}"));
    assert_false(args_match("{'arguments':[{'path':'/hosts/01','op':'exists'}]}",
                            "{'hosts':[0,1]}"));
    assert_false(args_match("{'arguments':[{'path':'/hosts/-','op':'exists'}]}",
                            "{'hosts':[0,1]}"));
    assert_false(args_match("{'arguments':[{'path':'/s/0','op':'exists'}]}", "{'s':'abc'}"));
}

static void empty_pointer_refers_to_the_whole_arguments(void **state)
{
    (void)state;
    const char *m = "{'arguments':[{'path':'','op':'eq','value':{}}]}";
    assert_true(args_match(m, "{}"));
    assert_false(args_match(m, "{'a':1}"));
    /* "/" is the key "" */
    assert_true(args_match("{'arguments':[{'path':'/','op':'eq','value':2}]}", "{'':2}"));
}

/* ---- identity ------------------------------------------------------------ */

static void identity_subject_and_repository_match_by_glob(void **state)
{
    (void)state;
    mt_policy *pol = one_rule(
        "{'identity':{'subject':'repo:acme/*','repository':'acme/payments-api'}}");
    mt_policy_input in = {.subject = "repo:acme/payments-api:ref:refs/heads/main",
                          .repository = "acme/payments-api"};
    assert_string_equal(eval_id(pol, &in), "r");
    in.repository = "acme/other";
    assert_string_equal(eval_id(pol, &in), "default");
    in.repository = "acme/payments-api";
    in.subject = "repo:evil/acme";
    assert_string_equal(eval_id(pol, &in), "default");
    in.subject = NULL;
    assert_string_equal(eval_id(pol, &in), "default");
    mt_policy_free(pol);
}

static void claim_condition_matches_when_array_claim_contains_value(void **state)
{
    (void)state;
    mt_policy *pol = one_rule("{'identity':{'claims':{'groups':'sre'}}}");
    json_t *c = js("{'groups':['dev','sre']}");
    mt_policy_input in = {.claims = c};
    assert_string_equal(eval_id(pol, &in), "r");
    json_decref(c);
    c = js("{'groups':['dev','sre-oncall']}");
    in.claims = c;
    assert_string_equal(eval_id(pol, &in), "default");
    json_decref(c);
    c = js("{'groups':[]}");
    in.claims = c;
    assert_string_equal(eval_id(pol, &in), "default");
    json_decref(c);
    mt_policy_free(pol);
}

static void claim_condition_globs_string_claims_and_needs_the_claim(void **state)
{
    (void)state;
    mt_policy *pol = one_rule(
        "{'identity':{'claims':{'environment':'prod*','ref':'refs/heads/main'}}}");
    json_t *c = js("{'environment':'production','ref':'refs/heads/main'}");
    mt_policy_input in = {.claims = c};
    assert_string_equal(eval_id(pol, &in), "r");
    json_decref(c);
    c = js("{'environment':'production'}");
    in.claims = c;
    assert_string_equal(eval_id(pol, &in), "default");
    json_decref(c);
    c = js("{'environment':1,'ref':'refs/heads/main'}");
    in.claims = c;
    assert_string_equal(eval_id(pol, &in), "default");
    json_decref(c);
    in.claims = NULL;
    assert_string_equal(eval_id(pol, &in), "default");
    mt_policy_free(pol);
}

/* ---- order, AND, default ------------------------------------------------- */

static void first_matching_rule_wins(void **state)
{
    (void)state;
    mt_policy *pol = load("{'version':1,'default':'deny','rules':["
                          "{'id':'a','match':{'tool':'x_*'},'action':'record-only'},"
                          "{'id':'b','match':{'tool':'*'},'action':'allow','message':'m'},"
                          "{'id':'c','match':{'tool':'x_1'},'action':'deny'}]}");
    mt_policy_input in = {.method = "tools/call", .tool = "x_1"};
    mt_policy_decision d;
    mt_policy_eval(pol, &in, &d);
    assert_int_equal(d.action, MT_POLICY_RECORD_ONLY);
    assert_string_equal(d.rule_id, "a");
    assert_null(d.message);
    in.tool = "y";
    mt_policy_eval(pol, &in, &d);
    assert_int_equal(d.action, MT_POLICY_ALLOW);
    assert_string_equal(d.rule_id, "b");
    assert_string_equal(d.message, "m");
    mt_policy_free(pol);
}

static void all_conditions_of_a_match_must_hold(void **state)
{
    (void)state;
    mt_policy *pol = one_rule("{'method':'tools/call','tool':'deploy',"
                              "'arguments':[{'path':'/env','op':'eq','value':'prod'}],"
                              "'identity':{'claims':{'groups':'sre'}}}");
    json_t *a = js("{'env':'prod'}");
    json_t *c = js("{'groups':['sre']}");
    mt_policy_input in = {.method = "tools/call", .tool = "deploy", .arguments = a, .claims = c};
    assert_string_equal(eval_id(pol, &in), "r");
    in.tool = "other";
    assert_string_equal(eval_id(pol, &in), "default");
    in.tool = "deploy";
    in.claims = NULL;
    assert_string_equal(eval_id(pol, &in), "default");
    in.claims = c;
    in.method = "tools/list";
    assert_string_equal(eval_id(pol, &in), "default");
    json_decref(a);
    json_decref(c);
    mt_policy_free(pol);
}

static void no_match_gives_default_action_and_rule_id_default(void **state)
{
    (void)state;
    const char *actions[] = {"allow", "deny", "record-only"};
    mt_policy_action want[] = {MT_POLICY_ALLOW, MT_POLICY_DENY, MT_POLICY_RECORD_ONLY};
    for (size_t i = 0; i < 3; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "{'version':1,'default':'%s','rules':[]}", actions[i]);
        mt_policy *pol = load(buf);
        mt_policy_input in = {.method = "tools/call"};
        mt_policy_decision d;
        mt_policy_eval(pol, &in, &d);
        assert_int_equal(d.action, want[i]);
        assert_string_equal(d.rule_id, MT_POLICY_DEFAULT_ID);
        assert_null(d.message);
        assert_string_equal(mt_policy_action_name(d.action), actions[i]);
        assert_int_equal(mt_policy_rule_count(pol), 0);
        mt_policy_free(pol);
    }
}

/* ---- validation ---------------------------------------------------------- */

static void expect_error(const char *sq, mt_err want, const char *msg)
{
    mt_errbuf eb = {""};
    mt_err err = load_err(sq, &eb);
    if (err != want || strcmp(eb.msg, msg) != 0)
        fail_msg("for %s\n want %d '%s'\n got  %d '%s'", sq, want, msg, err, eb.msg);
}

#define RULE_PRE "{'version':1,'default':'allow','rules':["

static void validation_rejects_bad_top_level(void **state)
{
    (void)state;
    expect_error("{'version':1,'default':'allow','rules':[],'extra':1}", MT_ERR_CONFIG,
                 "policy: unknown key 'extra' (expected version, default, rules)");
    expect_error("{'default':'allow','rules':[]}", MT_ERR_NOT_FOUND,
                 "policy: field 'version' is required");
    expect_error("{'version':2,'default':'allow','rules':[]}", MT_ERR_CONFIG,
                 "policy: version 2 is not supported (expected 1)");
    expect_error("{'version':'1','default':'allow','rules':[]}", MT_ERR_PARSE,
                 "policy: field 'version' must be an integer, got string");
    expect_error("{'version':1,'rules':[]}", MT_ERR_NOT_FOUND,
                 "policy: field 'default' is required");
    expect_error("{'version':1,'default':'permit','rules':[]}", MT_ERR_CONFIG,
                 "policy: default must be one of allow, deny, record-only; got 'permit'");
    expect_error("{'version':1,'default':'allow'}", MT_ERR_NOT_FOUND,
                 "policy: field 'rules' is required");
    expect_error("{'version':1,'default':'allow','rules':{}}", MT_ERR_PARSE,
                 "policy: field 'rules' must be an array, got object");
    expect_error("[]", MT_ERR_PARSE, "policy: top level must be an object, got array");
}

static void validation_reports_syntax_errors_and_duplicate_keys(void **state)
{
    (void)state;
    mt_errbuf eb;
    assert_int_equal(load_err("{'version':1,", &eb), MT_ERR_PARSE);
    assert_memory_equal(eb.msg, "policy: invalid JSON at line 1, column ",
                        strlen("policy: invalid JSON at line 1, column "));
    assert_int_equal(load_err("{'version':1,'version':1,'default':'allow','rules':[]}", &eb),
                     MT_ERR_PARSE);
    assert_string_equal(eb.msg, "policy: invalid JSON at line 1, column 22: duplicate object key "
                                "near '\"version\"'");
}

static void validation_rejects_bad_rules(void **state)
{
    (void)state;
    expect_error(RULE_PRE "1]}", MT_ERR_PARSE, "rules[0]: must be an object, got integer");
    expect_error(RULE_PRE "{'match':{},'action':'deny'}]}", MT_ERR_NOT_FOUND,
                 "rules[0]: field 'id' is required");
    expect_error(RULE_PRE "{'id':'','match':{},'action':'deny'}]}", MT_ERR_CONFIG,
                 "rules[0]: id '' must be 1 to 128 characters of A-Z a-z 0-9 - _ . :");
    expect_error(RULE_PRE "{'id':'a b','match':{},'action':'deny'}]}", MT_ERR_CONFIG,
                 "rules[0]: id 'a b' must be 1 to 128 characters of A-Z a-z 0-9 - _ . :");
    expect_error(RULE_PRE "{'id':'default','match':{},'action':'deny'}]}", MT_ERR_CONFIG,
                 "rules[0]: id 'default' is reserved for decisions no rule made");
    expect_error(RULE_PRE "{'id':'a','match':{},'action':'deny'},"
                          "{'id':'b','match':{},'action':'deny'},"
                          "{'id':'a','match':{},'action':'allow'}]}",
                 MT_ERR_CONFIG, "rules[2]: duplicate id 'a' (first used by rules[0])");
    expect_error(RULE_PRE "{'id':'a','match':{},'action':'deny','when':1}]}", MT_ERR_CONFIG,
                 "rules[0] (id 'a'): unknown key 'when' (expected id, match, action, message, "
                 "approval)");
    expect_error(RULE_PRE "{'id':'a','match':{},'action':'hold'}]}", MT_ERR_CONFIG,
                 "rules[0] (id 'a'): action must be one of allow, deny, record-only, approve; "
                 "got 'hold'");
    expect_error(RULE_PRE "{'id':'a','match':{}}]}", MT_ERR_NOT_FOUND,
                 "rules[0] (id 'a'): field 'action' is required");
    expect_error(RULE_PRE "{'id':'a','action':'deny'}]}", MT_ERR_NOT_FOUND,
                 "rules[0] (id 'a'): field 'match' is required");
    expect_error(RULE_PRE "{'id':'a','match':{},'action':'deny','message':5}]}", MT_ERR_PARSE,
                 "rules[0] (id 'a'): field 'message' must be a string, got integer");
}

static void validation_rejects_bad_matches(void **state)
{
    (void)state;
    expect_error(RULE_PRE "{'id':'a','match':{'methods':'x'},'action':'deny'}]}", MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match: unknown key 'methods' "
                 "(expected method, tool, arguments, identity)");
    expect_error(RULE_PRE "{'id':'a','match':{'tool':''},'action':'deny'}]}", MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.tool: pattern must not be empty");
    expect_error(RULE_PRE "{'id':'a','match':{'method':'x\\\\'},'action':'deny'}]}",
                 MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.method: pattern 'x\\' ends with a lone '\\'; "
                 "write '\\\\' for a literal backslash");
    expect_error(RULE_PRE "{'id':'a','match':{'tool':['x']},'action':'deny'}]}", MT_ERR_PARSE,
                 "rules[0] (id 'a'): match: field 'tool' must be a string, got array");
    expect_error(RULE_PRE "{'id':'a','match':{'identity':{'sub':'x'}},'action':'deny'}]}",
                 MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.identity: unknown key 'sub' "
                 "(expected subject, repository, claims)");
    expect_error(RULE_PRE
                 "{'id':'a','match':{'identity':{'claims':{'groups':['sre']}}},'action':'deny'}]}",
                 MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.identity.claims.groups: must be a string pattern, "
                 "got array");
}

static void validation_rejects_bad_argument_predicates(void **state)
{
    (void)state;
#define ARG(x) RULE_PRE "{'id':'a','match':{'arguments':[" x "]},'action':'deny'}]}"
    expect_error(ARG("{'path':'env','op':'exists'}"), MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.arguments[0].path: JSON Pointer 'env' must be empty "
                 "or start with '/'");
    expect_error(ARG("{'path':'/a~2','op':'exists'}"), MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.arguments[0].path: JSON Pointer '/a~2': '~' must be "
                 "followed by '0' or '1' (write ~0 for '~', ~1 for '/')");
    expect_error(ARG("{'path':'/a~','op':'exists'}"), MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.arguments[0].path: JSON Pointer '/a~': '~' must be "
                 "followed by '0' or '1' (write ~0 for '~', ~1 for '/')");
    expect_error(ARG("{'path':'/a','op':'exists'},{'path':'/b','op':'regex','value':'.'}"),
                 MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.arguments[1]: op must be one of eq, ne, in, glob, "
                 "exists; got 'regex'");
    expect_error(ARG("{'path':'/a','op':'eq'}"), MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.arguments[0]: op 'eq' needs a value");
    expect_error(ARG("{'path':'/a','op':'in','value':'x'}"), MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.arguments[0]: op 'in' needs an array value, got "
                 "string");
    expect_error(ARG("{'path':'/a','op':'glob','value':3}"), MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.arguments[0]: op 'glob' needs a string value, got "
                 "integer");
    expect_error(ARG("{'path':'/a','op':'exists','value':'yes'}"), MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.arguments[0]: op 'exists' takes true, false or no "
                 "value, got string");
    expect_error(ARG("{'path':'/a','op':'eq','value':1,'not':true}"), MT_ERR_CONFIG,
                 "rules[0] (id 'a'): match.arguments[0]: unknown key 'not' "
                 "(expected path, op, value)");
    expect_error(ARG("{'op':'exists'}"), MT_ERR_NOT_FOUND,
                 "rules[0] (id 'a'): match.arguments[0]: field 'path' is required");
    expect_error(ARG("'x'"), MT_ERR_PARSE,
                 "rules[0] (id 'a'): match.arguments[0]: must be an object, got string");
#undef ARG
}

static void validation_rejects_more_than_10000_rules(void **state)
{
    (void)state;
    size_t cap = 64 + 60 * 10001;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t off = (size_t)snprintf(s, cap, "{\"version\":1,\"default\":\"allow\",\"rules\":[");
    for (int i = 0; i < 10001; i++)
        off += (size_t)snprintf(s + off, cap - off,
                                "%s{\"id\":\"r%d\",\"match\":{},\"action\":\"allow\"}",
                                i ? "," : "", i);
    off += (size_t)snprintf(s + off, cap - off, "]}");
    mt_policy *pol = NULL;
    mt_errbuf eb;
    assert_int_equal(mt_policy_parse(s, off, &pol, &eb), MT_ERR_TOO_LARGE);
    assert_string_equal(eb.msg, "policy: 10001 rules, limit is 10000");
    assert_null(pol);
    /* exactly 10,000 loads */
    char *last = strstr(s, ",{\"id\":\"r10000\"");
    assert_non_null(last);
    memcpy(last, "]}", 3);
    assert_int_equal(mt_policy_parse(s, strlen(s), &pol, &eb), MT_OK);
    assert_int_equal(mt_policy_rule_count(pol), 10000);
    mt_policy_free(pol);
    free(s);
}

static void file_larger_than_1_mib_is_refused(void **state)
{
    (void)state;
    char path[] = "/tmp/mt_policy_big_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("{\"version\":1,\"default\":\"allow\",\"rules\":[]", f);
    for (size_t i = 0; i < MT_POLICY_MAX_BYTES; i++)
        fputc(' ', f);
    fputs("}", f);
    fclose(f);
    mt_policy *pol = (mt_policy *)1;
    mt_errbuf eb;
    assert_int_equal(mt_policy_load_file(path, &pol, &eb), MT_ERR_TOO_LARGE);
    assert_null(pol);
    char want[256];
    snprintf(want, sizeof want, "%s: file is %zu bytes, limit is 1048576", path,
             MT_POLICY_MAX_BYTES + 42);
    assert_string_equal(eb.msg, want);
    unlink(path);
}

static void load_file_prefixes_errors_with_the_path(void **state)
{
    (void)state;
    char path[] = "/tmp/mt_policy_bad_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("{\"version\":1,\"default\":\"maybe\",\"rules\":[]}", f);
    fclose(f);
    mt_policy *pol = NULL;
    mt_errbuf eb;
    assert_int_equal(mt_policy_load_file(path, &pol, &eb), MT_ERR_CONFIG);
    char want[256];
    snprintf(want, sizeof want,
             "%s: policy: default must be one of allow, deny, record-only; got 'maybe'", path);
    assert_string_equal(eb.msg, want);
    unlink(path);
    assert_int_equal(mt_policy_load_file(path, &pol, &eb), MT_ERR_NOT_FOUND);
    assert_null(pol);
}


/* ---- approve ------------------------------------------------------------- */

static void approve_rule_carries_its_approval(void **state)
{
    (void)state;
    mt_policy *pol = load(
        "{'version':1,'default':'allow','rules':[{'id':'prod-deploy','match':{'tool':'deploy',"
        "'arguments':[{'path':'/environment','op':'eq','value':'production'}]},"
        "'action':'approve','approval':{'groups':['sre','release'],'min_approvals':2,"
        "'reason_required':true,'expiry':600,'justification':{'header':'X-Why',"
        "'claim':'ticket','required':true}}},"
        "{'id':'t','match':{'tool':'rollback'},'action':'approve','approval':{'hold':'ticket'}}]}");
    json_t *args = js("{'environment':'production'}");
    mt_policy_input in = {.method = "tools/call", .tool = "deploy", .arguments = args};
    mt_policy_decision d;
    mt_policy_eval(pol, &in, &d);
    assert_int_equal(d.action, MT_POLICY_APPROVE);
    assert_string_equal(mt_policy_action_name(d.action), "approve");
    assert_non_null(d.approval);
    assert_int_equal(d.approval->ngroups, 2);
    assert_string_equal(d.approval->groups[1], "release");
    assert_int_equal(d.approval->min_approvals, 2);
    assert_true(d.approval->four_eyes);
    assert_true(d.approval->reason_required);
    assert_int_equal(d.approval->expiry_s, 600);
    assert_int_equal(d.approval->hold, MT_POLICY_HOLD_WAIT);
    assert_string_equal(d.approval->justification_header, "X-Why");
    assert_string_equal(d.approval->justification_claim, "ticket");
    assert_true(d.approval->justification_required);
    in.tool = "rollback";
    mt_policy_eval(pol, &in, &d);
    assert_int_equal(d.approval->hold, MT_POLICY_HOLD_TICKET);
    assert_int_equal(d.approval->min_approvals, 1);
    assert_int_equal(d.approval->expiry_s, MT_POLICY_DEFAULT_EXPIRY_S);
    assert_string_equal(d.approval->justification_header, MT_POLICY_DEFAULT_JUSTIFICATION_HEADER);
    assert_null(d.approval->justification_claim);
    in.tool = "status";
    mt_policy_eval(pol, &in, &d);
    assert_int_equal(d.action, MT_POLICY_ALLOW);
    assert_null(d.approval);
    json_decref(args);
    mt_policy_free(pol);
}

static void approve_rule_errors_name_the_field(void **state)
{
    (void)state;
    const char *pre = "{'version':1,'default':'allow','rules':[{'id':'a','match':{},";
    struct {
        const char *rule;
        const char *msg;
    } cases[] = {
        {"'action':'approve'}]}", "rules[0] (id 'a'): action approve needs an \"approval\" object"},
        {"'action':'allow','approval':{}}]}", "\"approval\" is only allowed with action approve"},
        {"'action':'approve','approval':{'min_approvals':0}}]}", "approval.min_approvals: must be 1 to 16, got 0"},
        {"'action':'approve','approval':{'expiry':1}}]}", "approval.expiry: must be 5 to 604800 seconds, got 1"},
        {"'action':'approve','approval':{'hold':'later'}}]}", "approval.hold: must be wait or ticket, got 'later'"},
        {"'action':'approve','approval':{'groups':['']}}]}", "approval.groups[0]: must be a non-empty string"},
        {"'action':'approve','approval':{'quorum':2}}]}", "approval: unknown key 'quorum'"},
        {"'action':'approve','approval':{'justification':{'header':'a b'}}}]}", "is not an HTTP header name"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s%s", pre, cases[i].rule);
        mt_errbuf eb = {""};
        assert_int_equal(load_err(buf, &eb), MT_ERR_CONFIG);
        if (!strstr(eb.msg, cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, eb.msg, cases[i].msg);
    }
    mt_errbuf eb = {""};
    assert_int_equal(load_err("{'version':1,'default':'approve','rules':[]}", &eb), MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "default cannot be approve"));
}

/* ---- deny response ------------------------------------------------------- */

static void deny_response_carries_code_message_and_rule_id(void **state)
{
    (void)state;
    mt_policy_decision d = {MT_POLICY_DENY, "deny-prod-delete", "not in production", NULL};
    json_t *id = json_integer(7);
    json_t *r = mt_policy_deny_response(id, &d);
    assert_non_null(r);
    char *s = json_dumps(r, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"error\":{\"code\":-32001,\"data\":{\"reason\":\"not in "
                           "production\",\"rule_id\":\"deny-prod-delete\"},\"message\":"
                           "\"denied by policy\"},\"id\":7,\"jsonrpc\":\"2.0\"}");
    free(s);
    json_decref(r);
    json_decref(id);
    d.message = NULL;
    r = mt_policy_deny_response(NULL, &d);
    s = json_dumps(r, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(s, "{\"error\":{\"code\":-32001,\"data\":{\"rule_id\":"
                           "\"deny-prod-delete\"},\"message\":\"denied by policy\"},\"id\":null,"
                           "\"jsonrpc\":\"2.0\"}");
    free(s);
    json_decref(r);
}

/* ---- the example fixture ------------------------------------------------- */

static mt_policy *load_example(void)
{
    const char *src = getenv("MT_SOURCE_DIR");
    assert_non_null(src);
    char path[512];
    snprintf(path, sizeof path, "%s/tests/fixtures/policy/example.json", src);
    mt_policy *pol = NULL;
    mt_errbuf eb = {""};
    if (mt_policy_load_file(path, &pol, &eb))
        fail_msg("%s", eb.msg);
    return pol;
}

static void example_policy_decides_realistic_calls(void **state)
{
    (void)state;
    mt_policy *pol = load_example();
    json_t *prod = js("{'environment':'production','id':42}");
    json_t *stag = js("{'environment':'staging','id':42}");
    json_t *push = js("{'ref':'main','force':true}");
    json_t *sre = js("{'sub':'alice','groups':['dev','sre']}");
    json_t *dev = js("{'sub':'bob','groups':['dev']}");
    struct {
        mt_policy_input in;
        const char *rule;
        mt_policy_action action;
    } cases[] = {
        {{"tools/call", "delete_user", prod, dev, "bob", NULL}, "deny-prod-delete",
         MT_POLICY_DENY},
        /* the first rule wins even for a CI identity the later allow would admit */
        {{"tools/call", "delete_user", prod, NULL, "repo:acme/payments-api:ref:refs/heads/main",
          "acme/payments-api"},
         "deny-prod-delete", MT_POLICY_DENY},
        {{"tools/call", "delete_user", stag, NULL, "repo:acme/payments-api:ref:refs/heads/main",
          "acme/payments-api"},
         "ci-payments-writes", MT_POLICY_ALLOW},
        {{"tools/call", "git_push", push, dev, "bob", NULL}, "deny-force-push-main",
         MT_POLICY_DENY},
        {{"tools/call", "deploy_service", stag, sre, "alice", NULL}, "sre-may-deploy",
         MT_POLICY_ALLOW},
        {{"tools/call", "deploy_service", stag, dev, "bob", NULL}, "deny-other-deploys",
         MT_POLICY_DENY},
        {{"tools/call", "read_file", NULL, dev, "bob", NULL}, "record-only-reads",
         MT_POLICY_RECORD_ONLY},
        {{"tools/list", NULL, NULL, dev, "bob", NULL}, "protocol-plumbing", MT_POLICY_ALLOW},
        {{"initialize", NULL, NULL, dev, "bob", NULL}, "lifecycle", MT_POLICY_ALLOW},
        {{"tools/call", "delete_user", stag, dev, "bob", NULL}, "default", MT_POLICY_DENY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mt_policy_decision d;
        mt_policy_eval(pol, &cases[i].in, &d);
        if (strcmp(d.rule_id, cases[i].rule) != 0 || d.action != cases[i].action)
            fail_msg("case %zu: want %s/%s, got %s/%s", i, cases[i].rule,
                     mt_policy_action_name(cases[i].action), d.rule_id,
                     mt_policy_action_name(d.action));
    }
    json_decref(prod);
    json_decref(stag);
    json_decref(push);
    json_decref(sre);
    json_decref(dev);
    mt_policy_free(pol);
}

/* Every policy shown in docs/policy.md (a ```json block with "version") loads,
 * so the documentation cannot show a policy the loader refuses. */
static void docs_policy_md_examples_load(void **state)
{
    (void)state;
    const char *src = getenv("MT_SOURCE_DIR");
    assert_non_null(src);
    char path[512];
    snprintf(path, sizeof path, "%s/docs/policy.md", src);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s is missing", path);
    static char doc[65536];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';
    int loaded = 0;
    for (char *p = strstr(doc, "```json\n"); p; p = strstr(p, "```json\n")) {
        p += strlen("```json\n");
        char *end = strstr(p, "```");
        assert_non_null(end);
        size_t len = (size_t)(end - p);
        *end = '\0';
        bool is_policy = strstr(p, "\"version\"") != NULL;
        *end = '`';
        if (is_policy) {
            mt_policy *pol = NULL;
            mt_errbuf eb = {""};
            if (mt_policy_parse(p, len, &pol, &eb))
                fail_msg("docs/policy.md example %d: %s", loaded + 1, eb.msg);
            mt_policy_free(pol);
            loaded++;
        }
        p = end + 3;
    }
    assert_true(loaded >= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(glob_star_matches_any_run_including_empty_and_slash),
        cmocka_unit_test(glob_without_star_is_exact),
        cmocka_unit_test(glob_backtracks_over_several_stars),
        cmocka_unit_test(glob_backslash_makes_star_literal),
        cmocka_unit_test(method_matches_exactly_or_by_glob),
        cmocka_unit_test(tool_glob_does_not_match_a_call_without_a_tool),
        cmocka_unit_test(empty_match_matches_everything),
        cmocka_unit_test(arg_eq_compares_json_values_and_numbers_by_value),
        cmocka_unit_test(arg_ne_holds_when_value_differs_or_is_absent),
        cmocka_unit_test(arg_in_matches_any_listed_value),
        cmocka_unit_test(arg_glob_matches_strings_only),
        cmocka_unit_test(arg_exists_checks_presence_or_absence),
        cmocka_unit_test(pointer_unescapes_tilde_one_as_slash_and_tilde_zero_as_tilde),
        cmocka_unit_test(pointer_indexes_arrays_by_canonical_decimal),
        cmocka_unit_test(empty_pointer_refers_to_the_whole_arguments),
        cmocka_unit_test(identity_subject_and_repository_match_by_glob),
        cmocka_unit_test(claim_condition_matches_when_array_claim_contains_value),
        cmocka_unit_test(claim_condition_globs_string_claims_and_needs_the_claim),
        cmocka_unit_test(first_matching_rule_wins),
        cmocka_unit_test(all_conditions_of_a_match_must_hold),
        cmocka_unit_test(no_match_gives_default_action_and_rule_id_default),
        cmocka_unit_test(validation_rejects_bad_top_level),
        cmocka_unit_test(validation_reports_syntax_errors_and_duplicate_keys),
        cmocka_unit_test(validation_rejects_bad_rules),
        cmocka_unit_test(validation_rejects_bad_matches),
        cmocka_unit_test(validation_rejects_bad_argument_predicates),
        cmocka_unit_test(validation_rejects_more_than_10000_rules),
        cmocka_unit_test(file_larger_than_1_mib_is_refused),
        cmocka_unit_test(load_file_prefixes_errors_with_the_path),
        cmocka_unit_test(deny_response_carries_code_message_and_rule_id),
        cmocka_unit_test(approve_rule_carries_its_approval),
        cmocka_unit_test(approve_rule_errors_name_the_field),
        cmocka_unit_test(example_policy_decides_realistic_calls),
        cmocka_unit_test(docs_policy_md_examples_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
