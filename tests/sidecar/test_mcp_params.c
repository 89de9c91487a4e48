/* tests/sidecar/test_mcp_params.c: Mcp-Param-* headers against tools/call arguments
 * (sidecar/mcp_params.c), after the 2026-07-28 Streamable HTTP rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <jansson.h>

#include "mcp_params.h"

static const char tools_list[] =
    "{\"tools\":["
    "{\"name\":\"deploy\",\"inputSchema\":{\"type\":\"object\",\"properties\":{"
    "  \"region\":{\"type\":\"string\",\"x-mcp-header\":\"Region\"},"
    "  \"replicas\":{\"type\":\"integer\",\"x-mcp-header\":\"Replicas\"},"
    "  \"dry\":{\"type\":\"boolean\",\"x-mcp-header\":\"Dry-Run\"},"
    "  \"target\":{\"type\":\"object\",\"properties\":{"
    "     \"cluster\":{\"type\":\"string\",\"x-mcp-header\":\"Cluster\"}}},"
    "  \"bad\":{\"type\":\"string\",\"x-mcp-header\":\"has space\"},"
    "  \"list\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"x-mcp-header\":\"Item\"}}}}},"
    "{\"name\":\"plain\",\"inputSchema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}},"
    "{\"inputSchema\":{}}, 7]}";

typedef struct hdrs {
    const char *names[8], *values[8];
    size_t n;
} hdrs;

static const char *lookup(void *ctx, const char *name)
{
    hdrs *h = ctx;
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->names[i], name) == 0)
            return h->values[i];
    return NULL;
}

static mt_mcp_params *learned(void)
{
    mt_mcp_params *p;
    assert_int_equal(mt_mcp_params_new(&p), MT_OK);
    json_t *r = json_loads(tools_list, 0, NULL);
    assert_non_null(r);
    assert_int_equal(mt_mcp_params_learn(p, r), 2);
    json_decref(r);
    return p;
}

static mt_err check(mt_mcp_params *p, const char *tool, const char *args, hdrs *h,
                    const char **cell)
{
    json_t *a = json_loads(args, 0, NULL);
    assert_non_null(a);
    mt_errbuf eb = {{0}};
    *cell = NULL;
    mt_err err = mt_mcp_params_check(p, tool, a, lookup, h, cell, &eb);
    json_decref(a);
    return err;
}

static void learns_properties_chain_only(void **state)
{
    (void)state;
    mt_mcp_params *p = learned();
    /* Region, Replicas, Dry-Run, Cluster; not the invalid token, not under items */
    assert_int_equal(mt_mcp_params_count(p, "deploy"), 4);
    assert_int_equal(mt_mcp_params_count(p, "plain"), 0);
    assert_int_equal(mt_mcp_params_count(p, "unknown"), 0);
    mt_mcp_params_free(p);
}

static void matching_headers_pass(void **state)
{
    (void)state;
    mt_mcp_params *p = learned();
    const char *cell;
    hdrs h = {{"mcp-param-region", "Mcp-Param-Replicas", "Mcp-Param-Dry-Run", "Mcp-Param-Cluster"},
              {"eu-west-1", "3", "false", "=?base64?cHJvZMOp?="}, 4};
    assert_int_equal(check(p, "deploy",
                           "{\"region\":\"eu-west-1\",\"replicas\":3,\"dry\":false,"
                           "\"target\":{\"cluster\":\"prod\xc3\xa9\"}}", &h, &cell), MT_OK);
    /* integers compare numerically; absent or null arguments expect no header */
    hdrs h2 = {{"Mcp-Param-Replicas"}, {"3.0"}, 1};
    assert_int_equal(check(p, "deploy", "{\"replicas\":3,\"region\":null}", &h2, &cell), MT_OK);
    hdrs none = {{0}, {0}, 0};
    assert_int_equal(check(p, "plain", "{\"a\":\"x\"}", &none, &cell), MT_OK);
    assert_int_equal(check(p, "unknown", "{\"region\":\"x\"}", &none, &cell), MT_OK);
    mt_mcp_params_free(p);
}

static void disagreeing_headers_are_refused(void **state)
{
    (void)state;
    mt_mcp_params *p = learned();
    const char *cell;
    hdrs none = {{0}, {0}, 0};
    assert_int_equal(check(p, "deploy", "{\"region\":\"eu\"}", &none, &cell), MT_ERR_PARSE);
    assert_string_equal(cell, "param-header-missing");
    hdrs wrong = {{"Mcp-Param-Region"}, {"us"}, 1};
    assert_int_equal(check(p, "deploy", "{\"region\":\"eu\"}", &wrong, &cell), MT_ERR_PARSE);
    assert_string_equal(cell, "param-header-mismatch");
    hdrs boolean = {{"Mcp-Param-Dry-Run"}, {"True"}, 1};
    assert_int_equal(check(p, "deploy", "{\"dry\":true}", &boolean, &cell), MT_ERR_PARSE);
    assert_string_equal(cell, "param-header-mismatch");
    const char *bad[] = {"=?base64?cHJvZA?=", "=?base64?cHJvZB==?=", "=?base64?cH*vZA==?=",
                         "=?base64?AA==?="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hdrs h = {{"Mcp-Param-Cluster"}, {bad[i]}, 1};
        assert_int_equal(check(p, "deploy", "{\"target\":{\"cluster\":\"prod\"}}", &h, &cell),
                         MT_ERR_PARSE);
        assert_string_equal(cell, "param-header-invalid-encoding");
    }
    mt_mcp_params_free(p);
}

static void relisting_replaces_a_tools_declarations(void **state)
{
    (void)state;
    mt_mcp_params *p = learned();
    json_t *r = json_loads("{\"tools\":[{\"name\":\"deploy\",\"inputSchema\":{\"properties\":{}}}]}",
                           0, NULL);
    assert_int_equal(mt_mcp_params_learn(p, r), 1);
    json_decref(r);
    assert_int_equal(mt_mcp_params_count(p, "deploy"), 0);
    assert_int_equal(mt_mcp_params_learn(p, NULL), 0);
    mt_mcp_params_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(learns_properties_chain_only),
        cmocka_unit_test(matching_headers_pass),
        cmocka_unit_test(disagreeing_headers_are_refused),
        cmocka_unit_test(relisting_replaces_a_tools_declarations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
