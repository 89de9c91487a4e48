/* json: size and depth limits, syntax errors with line/column, duplicate
 * keys, typed and optional getters with exact messages, canonical dumps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcptrail/json.h"

static json_t *parse_ok(const char *s)
{
    json_t *j = NULL;
    mt_errbuf eb;
    assert_int_equal(mt_json_parse(s, strlen(s), NULL, &j, &eb), MT_OK);
    assert_non_null(j);
    return j;
}

static mt_err parse_err(const char *s, const mt_json_limits *lim, mt_errbuf *eb)
{
    json_t *j = (json_t *)1;
    mt_err err = mt_json_parse(s, strlen(s), lim, &j, eb);
    assert_null(j);
    return err;
}

static void parses_valid_object(void **state)
{
    (void)state;
    json_t *j = parse_ok("{\"a\": [1, 2, {\"b\": \"c\"}]}");
    assert_true(json_is_array(json_object_get(j, "a")));
    json_decref(j);
}

static void input_over_size_limit_is_too_large(void **state)
{
    (void)state;
    mt_errbuf eb;
    mt_json_limits lim = {8, 64, true, false, false};
    assert_int_equal(parse_err("{\"a\":12345}", &lim, &eb), MT_ERR_TOO_LARGE);
    assert_string_equal(eb.msg, "JSON input is 11 bytes, limit is 8");
}

static void nesting_over_depth_limit_is_too_large_with_position(void **state)
{
    (void)state;
    mt_errbuf eb;
    mt_json_limits lim = {1024, 3, true, false, false};
    assert_int_equal(parse_err("{\"a\":\n  [[[1]]]}", &lim, &eb), MT_ERR_TOO_LARGE);
    assert_string_equal(eb.msg, "JSON nesting deeper than 3 levels at line 2, column 5");
    /* exactly at the limit is fine */
    json_t *j = NULL;
    assert_int_equal(mt_json_parse("[[[1]]]", 7, &lim, &j, &eb), MT_OK);
    json_decref(j);
}

static void brackets_inside_strings_do_not_count_toward_depth(void **state)
{
    (void)state;
    mt_errbuf eb;
    mt_json_limits lim = {1024, 2, true, false, false};
    const char *s = "[{\"k\":\"[[[[{{{{ \\\" [[[[\"}]";
    json_t *j = NULL;
    assert_int_equal(mt_json_parse(s, strlen(s), &lim, &j, &eb), MT_OK);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "k")),
                        "[[[[{{{{ \" [[[[");
    json_decref(j);
}

static void huge_nesting_is_rejected_before_jansson_recurses(void **state)
{
    (void)state;
    size_t n = 1000000;
    char *s = malloc(n);
    assert_non_null(s);
    memset(s, '[', n);
    json_t *j = NULL;
    mt_errbuf eb;
    assert_int_equal(mt_json_parse(s, n, &(mt_json_limits){n, 64, true, false, false}, &j, &eb),
                     MT_ERR_TOO_LARGE);
    free(s);
}

static void syntax_error_reports_line_and_column(void **state)
{
    (void)state;
    mt_errbuf eb;
    assert_int_equal(parse_err("{\n  \"a\": 1,\n  \"b\" 2\n}", NULL, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "invalid JSON at line 3, column 7: ':' expected near '2'");
    assert_int_equal(parse_err("{\"a\":1} x", NULL, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "end of file expected"));
    assert_int_equal(parse_err("", NULL, &eb), MT_ERR_PARSE);
}

static void duplicate_keys_are_rejected_by_default(void **state)
{
    (void)state;
    mt_errbuf eb;
    assert_int_equal(parse_err("{\"tool\":\"ls\",\"tool\":\"rm\"}", NULL, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "duplicate object key"));
    mt_json_limits lax = {1024, 8, false, false, false};
    json_t *j = NULL;
    assert_int_equal(mt_json_parse("{\"a\":1,\"a\":2}", 13, &lax, &j, &eb), MT_OK);
    json_decref(j);
}

static void scalars_and_nul_need_opt_in(void **state)
{
    (void)state;
    mt_errbuf eb;
    assert_int_equal(parse_err("42", NULL, &eb), MT_ERR_PARSE);
    assert_int_equal(parse_err("[\"a\\u0000b\"]", NULL, &eb), MT_ERR_PARSE);
    mt_json_limits any = {1024, 8, true, true, true};
    json_t *j = NULL;
    assert_int_equal(mt_json_parse("42", 2, &any, &j, &eb), MT_OK);
    assert_int_equal(json_integer_value(j), 42);
    json_decref(j);
    assert_int_equal(mt_json_parse("[\"a\\u0000b\"]", 12, &any, &j, &eb), MT_OK);
    assert_int_equal(json_string_length(json_array_get(j, 0)), 3);
    json_decref(j);
}

static void getters_return_values_of_the_right_type(void **state)
{
    (void)state;
    json_t *o = parse_ok("{\"s\":\"x\",\"i\":-7,\"r\":1.5,\"b\":true,\"o\":{},\"a\":[]}");
    mt_errbuf eb;
    const char *s;
    json_int_t i;
    double d;
    bool b;
    json_t *c;
    assert_int_equal(mt_json_get_string(o, "s", &s, &eb), MT_OK);
    assert_string_equal(s, "x");
    assert_int_equal(mt_json_get_int(o, "i", &i, &eb), MT_OK);
    assert_int_equal(i, -7);
    assert_int_equal(mt_json_get_number(o, "r", &d, &eb), MT_OK);
    assert_true(d == 1.5);
    assert_int_equal(mt_json_get_number(o, "i", &d, &eb), MT_OK);
    assert_true(d == -7.0);
    assert_int_equal(mt_json_get_bool(o, "b", &b, &eb), MT_OK);
    assert_true(b);
    assert_int_equal(mt_json_get_object(o, "o", &c, &eb), MT_OK);
    assert_true(json_is_object(c));
    assert_int_equal(mt_json_get_array(o, "a", &c, &eb), MT_OK);
    assert_true(json_is_array(c));
    json_decref(o);
}

static void getters_name_field_and_types_on_mismatch(void **state)
{
    (void)state;
    json_t *o = parse_ok("{\"x\":3,\"s\":\"v\",\"n\":null,\"r\":2.5,\"f\":false}");
    mt_errbuf eb;
    const char *s;
    json_int_t i;
    bool b;
    json_t *c;
    assert_int_equal(mt_json_get_string(o, "x", &s, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "field 'x' must be a string, got integer");
    assert_int_equal(mt_json_get_int(o, "s", &i, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "field 's' must be an integer, got string");
    assert_int_equal(mt_json_get_int(o, "r", &i, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "field 'r' must be an integer, got real");
    assert_int_equal(mt_json_get_bool(o, "n", &b, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "field 'n' must be a boolean, got null");
    assert_int_equal(mt_json_get_object(o, "f", &c, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "field 'f' must be an object, got boolean");
    assert_int_equal(mt_json_get_array(o, "s", &c, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "field 's' must be an array, got string");
    assert_int_equal(mt_json_get_string(o, "missing", &s, &eb), MT_ERR_NOT_FOUND);
    assert_string_equal(eb.msg, "field 'missing' is required");
    json_t *arr = json_array();
    assert_int_equal(mt_json_get_string(arr, "x", &s, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "expected an object with field 'x', got array");
    json_decref(arr);
    assert_int_equal(mt_json_get_int_range(o, "x", 5, 10, &i, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "field 'x' must be between 5 and 10, got 3");
    assert_int_equal(mt_json_get_int_range(o, "x", 1, 3, &i, &eb), MT_OK);
    assert_int_equal(i, 3);
    json_decref(o);
}

static void optional_getters_default_when_absent_or_null(void **state)
{
    (void)state;
    json_t *o = parse_ok("{\"n\":null,\"i\":4,\"s\":7}");
    mt_errbuf eb;
    const char *s;
    json_int_t i;
    bool b;
    json_t *c = (json_t *)1;
    assert_int_equal(mt_json_opt_string(o, "absent", "dflt", &s, &eb), MT_OK);
    assert_string_equal(s, "dflt");
    assert_int_equal(mt_json_opt_string(o, "n", NULL, &s, &eb), MT_OK);
    assert_null(s);
    assert_int_equal(mt_json_opt_int(o, "i", 9, &i, &eb), MT_OK);
    assert_int_equal(i, 4);
    assert_int_equal(mt_json_opt_int(o, "absent", 9, &i, &eb), MT_OK);
    assert_int_equal(i, 9);
    assert_int_equal(mt_json_opt_bool(o, "absent", true, &b, &eb), MT_OK);
    assert_true(b);
    assert_int_equal(mt_json_opt_object(o, "absent", &c, &eb), MT_OK);
    assert_null(c);
    assert_int_equal(mt_json_opt_array(o, "n", &c, &eb), MT_OK);
    assert_null(c);
    /* present with the wrong type is still an error */
    assert_int_equal(mt_json_opt_string(o, "s", "d", &s, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "field 's' must be a string, got integer");
    assert_int_equal(mt_json_opt_object(o, "i", &c, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "field 'i' must be an object, got integer");
    json_decref(o);
}

static void canonical_dump_sorts_keys_compacts_and_keeps_utf8(void **state)
{
    (void)state;
    json_t *o = parse_ok("{ \"b\" : [1, {\"z\":true, \"a\":null}],\n \"a\": \"caf\xc3\xa9 \\u00e9\","
                         " \"c\": \"tab\\t\\u0001/\" }");
    mt_buf b = MT_BUF_INIT;
    mt_errbuf eb;
    assert_int_equal(mt_json_dump_canonical(o, &b, &eb), MT_OK);
    const char *want = "{\"a\":\"caf\xc3\xa9 \xc3\xa9\",\"b\":[1,{\"a\":null,\"z\":true}],"
                       "\"c\":\"tab\\t\\u0001/\"}";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    /* appends to existing content and accepts scalars */
    json_t *n = json_integer(-5);
    assert_int_equal(mt_json_dump_canonical(n, &b, &eb), MT_OK);
    assert_memory_equal(b.data + strlen(want), "-5", 2);
    json_decref(n);
    /* same value, different input order: same bytes */
    json_t *o2 = parse_ok("{\"c\":\"tab\\t\\u0001/\",\"a\":\"caf\xc3\xa9 \xc3\xa9\","
                          "\"b\":[1,{\"a\":null,\"z\":true}]}");
    mt_buf b2 = MT_BUF_INIT;
    assert_int_equal(mt_json_dump_canonical(o2, &b2, &eb), MT_OK);
    assert_int_equal(b2.len, strlen(want));
    assert_memory_equal(b2.data, want, b2.len);
    mt_buf_free(&b);
    mt_buf_free(&b2);
    json_decref(o);
    json_decref(o2);
}

static void load_file_names_the_path_in_errors(void **state)
{
    (void)state;
    char path[] = "/tmp/mt_test_json_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\"a\": [1,\n 2,]}";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    json_t *j = NULL;
    mt_errbuf eb;
    char want[256];
    assert_int_equal(mt_json_load_file(path, NULL, &j, &eb), MT_ERR_PARSE);
    snprintf(want, sizeof want, "%s: invalid JSON at line 2, column 4: unexpected token near ']'",
             path);
    assert_string_equal(eb.msg, want);
    mt_json_limits small = {4, 8, true, false, false};
    assert_int_equal(mt_json_load_file(path, &small, &j, &eb), MT_ERR_TOO_LARGE);
    snprintf(want, sizeof want, "%s: file is 15 bytes, limit is 4", path);
    assert_string_equal(eb.msg, want);
    unlink(path);
    assert_int_equal(mt_json_load_file(path, NULL, &j, &eb), MT_ERR_NOT_FOUND);
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    assert_string_equal(eb.msg, want);
    assert_null(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_valid_object),
        cmocka_unit_test(input_over_size_limit_is_too_large),
        cmocka_unit_test(nesting_over_depth_limit_is_too_large_with_position),
        cmocka_unit_test(brackets_inside_strings_do_not_count_toward_depth),
        cmocka_unit_test(huge_nesting_is_rejected_before_jansson_recurses),
        cmocka_unit_test(syntax_error_reports_line_and_column),
        cmocka_unit_test(duplicate_keys_are_rejected_by_default),
        cmocka_unit_test(scalars_and_nul_need_opt_in),
        cmocka_unit_test(getters_return_values_of_the_right_type),
        cmocka_unit_test(getters_name_field_and_types_on_mismatch),
        cmocka_unit_test(optional_getters_default_when_absent_or_null),
        cmocka_unit_test(canonical_dump_sorts_keys_compacts_and_keeps_utf8),
        cmocka_unit_test(load_file_names_the_path_in_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
