/* Tests for sidecar/mcp.c: message kinds, batches, every validation error
 * with its JSON-RPC code, version / session id / 2026-07-28 header checks,
 * and the exact error body bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mcp.h"

static mt_mcp_batch parse_ok(const char *body)
{
    mt_mcp_batch b;
    mt_errbuf eb;
    mt_err err = mt_mcp_parse(body, strlen(body), NULL, &b, &eb);
    if (err)
        fail_msg("parse %s: %s", body, eb.msg);
    return b;
}

/* Parses an invalid body; checks the mt_err, JSON-RPC code and message. */
static void parse_bad(const char *body, const mt_mcp_limits *lim, mt_err want_err, int want_code,
                      const char *want_msg, const char *want_id)
{
    mt_mcp_batch b;
    mt_errbuf eb;
    mt_err err = mt_mcp_parse(body, strlen(body), lim, &b, &eb);
    if (err != want_err)
        fail_msg("%s: got %s (%s)", body, mt_errname(err), err ? eb.msg : "");
    assert_int_equal(b.rpc_code, want_code);
    if (!strstr(eb.msg, want_msg))
        fail_msg("%s: message '%s' lacks '%s'", body, eb.msg, want_msg);
    if (want_id)
        assert_string_equal(b.err_id, want_id);
    assert_int_equal(b.n, 0);
    mt_mcp_batch_free(&b);
}

static void tools_call_request_yields_tool_name_id_and_progress_token(void **state)
{
    (void)state;
    mt_mcp_batch b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":"
                              "{\"name\":\"echo\",\"arguments\":{\"x\":1},"
                              "\"_meta\":{\"progressToken\":\"tok-1\"}}}");
    assert_false(b.is_batch);
    assert_int_equal(b.n, 1);
    const mt_mcp_msg *m = &b.msgs[0];
    assert_int_equal(m->kind, MT_MCP_REQUEST);
    assert_string_equal(mt_mcp_kind_name(m->kind), "request");
    assert_string_equal(m->id, "7");
    assert_string_equal(m->method, "tools/call");
    assert_non_null(m->params);
    assert_string_equal(m->tool_name, "echo");
    assert_null(m->prompt_name);
    assert_null(m->resource_uri);
    assert_true(m->has_progress_token);
    assert_string_equal(m->progress_token, "\"tok-1\"");
    assert_false(m->is_error);
    /* params stay readable for policy. */
    json_t *args = json_object_get(m->params, "arguments");
    assert_int_equal(json_integer_value(json_object_get(args, "x")), 1);
    mt_mcp_batch_free(&b);
}

static void string_ids_and_numeric_progress_tokens_are_canonical_json(void **state)
{
    (void)state;
    mt_mcp_batch b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"method\":\"ping\","
                              "\"params\":{\"_meta\":{\"progressToken\":42}}}");
    assert_string_equal(b.msgs[0].id, "\"a\\\"b\"");
    assert_string_equal(b.msgs[0].progress_token, "42");
    assert_null(b.msgs[0].tool_name);
    mt_mcp_batch_free(&b);
}

static void resources_and_prompts_yield_uri_and_name(void **state)
{
    (void)state;
    mt_mcp_batch b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\","
                              "\"params\":{\"uri\":\"file:///etc/hosts\"}}");
    assert_string_equal(b.msgs[0].resource_uri, "file:///etc/hosts");
    mt_mcp_batch_free(&b);
    b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/subscribe\","
                 "\"params\":{\"uri\":\"x:y\"}}");
    assert_string_equal(b.msgs[0].resource_uri, "x:y");
    mt_mcp_batch_free(&b);
    b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\","
                 "\"params\":{\"name\":\"greet\"}}");
    assert_string_equal(b.msgs[0].prompt_name, "greet");
    assert_null(b.msgs[0].tool_name);
    mt_mcp_batch_free(&b);
    /* subscribe without a uri (removed in 2026-07-28): left to the server */
    b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/subscribe\"}");
    assert_null(b.msgs[0].resource_uri);
    mt_mcp_batch_free(&b);
}

static void notification_has_no_id(void **state)
{
    (void)state;
    mt_mcp_batch b = parse_ok("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    assert_int_equal(b.msgs[0].kind, MT_MCP_NOTIFICATION);
    assert_null(b.msgs[0].id);
    assert_null(b.msgs[0].params);
    assert_false(b.msgs[0].has_progress_token);
    mt_mcp_batch_free(&b);
}

static void response_reports_tool_result_is_error(void **state)
{
    (void)state;
    mt_mcp_batch b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":[],"
                              "\"isError\":true}}");
    assert_int_equal(b.msgs[0].kind, MT_MCP_RESPONSE);
    assert_string_equal(b.msgs[0].id, "3");
    assert_true(b.msgs[0].is_error);
    assert_null(b.msgs[0].method);
    mt_mcp_batch_free(&b);
    b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"isError\":\"true\"}}");
    assert_false(b.msgs[0].is_error);
    mt_mcp_batch_free(&b);
}

static void error_response_yields_code_message_and_null_id(void **state)
{
    (void)state;
    mt_mcp_batch b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32601,"
                              "\"message\":\"Method not found\"}}");
    assert_int_equal(b.msgs[0].kind, MT_MCP_ERROR_RESPONSE);
    assert_string_equal(b.msgs[0].id, "null");
    assert_true(b.msgs[0].is_error);
    assert_int_equal(b.msgs[0].error_code, -32601);
    assert_string_equal(b.msgs[0].error_message, "Method not found");
    mt_mcp_batch_free(&b);
}

static void batch_keeps_order_and_kinds(void **state)
{
    (void)state;
    mt_mcp_batch b = parse_ok("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"},"
                              "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"},"
                              "{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"result\":{}}]");
    assert_true(b.is_batch);
    assert_int_equal(b.n, 3);
    assert_int_equal(b.msgs[0].kind, MT_MCP_REQUEST);
    assert_int_equal(b.msgs[1].kind, MT_MCP_NOTIFICATION);
    assert_int_equal(b.msgs[2].kind, MT_MCP_RESPONSE);
    assert_string_equal(b.msgs[2].id, "\"r\"");
    mt_mcp_batch_free(&b);
}

static void batch_rules_are_enforced(void **state)
{
    (void)state;
    mt_mcp_limits nob = MT_MCP_LIMITS_DEFAULT;
    nob.allow_batch = false;
    parse_bad("[{\"jsonrpc\":\"2.0\",\"method\":\"a\"}]", &nob, MT_ERR_PARSE, -32600,
              "batches are not allowed", "null");
    parse_bad("[]", NULL, MT_ERR_PARSE, -32600, "empty batch", NULL);
    mt_mcp_limits two = MT_MCP_LIMITS_DEFAULT;
    two.max_batch = 2;
    parse_bad("[{\"jsonrpc\":\"2.0\",\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"method\":\"a\"},"
              "{\"jsonrpc\":\"2.0\",\"method\":\"a\"}]",
              &two, MT_ERR_TOO_LARGE, -32600, "batch of 3 messages exceeds the limit of 2", NULL);
    parse_bad("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}]", NULL, MT_ERR_PARSE,
              -32600, "message 1: 'initialize' must not be part of a batch", "1");
    assert_true(mt_mcp_version_allows_batch(MT_MCP_V_2025_03_26));
    assert_true(mt_mcp_version_allows_batch(MT_MCP_V_2024_11_05));
    assert_false(mt_mcp_version_allows_batch(MT_MCP_V_2025_06_18));
    assert_false(mt_mcp_version_allows_batch(MT_MCP_V_2026_07_28));
}

static void each_validation_error_has_its_code_and_message(void **state)
{
    (void)state;
    parse_bad("{\"jsonrpc\":", NULL, MT_ERR_PARSE, -32700, "line 1", NULL);
    parse_bad("\"str\"", NULL, MT_ERR_PARSE, -32700, "", NULL);
    parse_bad("[{\"jsonrpc\":\"2.0\",\"method\":\"a\"},{\"jsonrpc\":\"1.0\",\"id\":5,"
              "\"method\":\"a\"}]",
              NULL, MT_ERR_PARSE, -32600, "message 2: 'jsonrpc' must be \"2.0\"", "5");
    parse_bad("{\"id\":1,\"method\":\"a\"}", NULL, MT_ERR_PARSE, -32600,
              "'jsonrpc' must be \"2.0\"", "1");
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1}", NULL, MT_ERR_PARSE, -32600,
              "request without method", "1");
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"a\"}", NULL, MT_ERR_PARSE, -32600,
              "id must be string or number", "null");
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"a\"}", NULL, MT_ERR_PARSE, -32600,
              "id must be string or number", NULL);
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}", NULL, MT_ERR_PARSE, -32600,
              "id must be string or number", NULL);
    parse_bad("{\"jsonrpc\":\"2.0\",\"result\":{}}", NULL, MT_ERR_PARSE, -32600,
              "response without id", NULL);
    parse_bad("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"m\"}}", NULL, MT_ERR_PARSE,
              -32600, "error response without id", NULL);
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", NULL, MT_ERR_PARSE, -32600,
              "'method' must be a string", "1");
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"params\":3}", NULL, MT_ERR_PARSE,
              -32600, "'params' must be an object or array", "1");
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"result\":{}}", NULL, MT_ERR_PARSE,
              -32600, "request must not carry 'result' or 'error'", "1");
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}", NULL, MT_ERR_PARSE,
              -32600, "must not carry both 'result' and 'error'", "1");
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"x\",\"message\":\"m\"}}", NULL,
              MT_ERR_PARSE, -32600, "'error.code' must be an integer", "1");
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}", NULL, MT_ERR_PARSE, -32600,
              "'error.message' must be a string", "1");
    parse_bad("[1]", NULL, MT_ERR_PARSE, -32600,
              "message 1: message must be a JSON object, got "
              "integer",
              NULL);
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{}}", NULL,
              MT_ERR_PARSE, -32602, "tools/call params.name must be a string, got nothing", "2");
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\",\"params\":{\"uri\":1}}",
              NULL, MT_ERR_PARSE, -32602, "resources/read params.uri must be a string, got integer",
              "2");
    parse_bad("{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"method\":\"a\"}", NULL, MT_ERR_PARSE,
              -32700, "duplicate", NULL);
}

static void size_and_depth_limits_are_too_large(void **state)
{
    (void)state;
    mt_mcp_limits lim = MT_MCP_LIMITS_DEFAULT;
    lim.max_bytes = 10;
    parse_bad("{\"jsonrpc\":\"2.0\",\"method\":\"a\"}", &lim, MT_ERR_TOO_LARGE, -32600, "", NULL);
    lim = (mt_mcp_limits)MT_MCP_LIMITS_DEFAULT;
    lim.max_depth = 2;
    parse_bad("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"params\":{\"a\":[[1]]}}", &lim,
              MT_ERR_TOO_LARGE, -32600, "", NULL);
}

static void protocol_versions_are_known_or_refused(void **state)
{
    (void)state;
    mt_mcp_version v;
    mt_errbuf eb;
    assert_int_equal(mt_mcp_parse_version("2025-06-18", &v, &eb), MT_OK);
    assert_int_equal(v, MT_MCP_V_2025_06_18);
    assert_int_equal(mt_mcp_parse_version("2026-07-28", &v, &eb), MT_OK);
    assert_true(mt_mcp_version_is_stateless(v));
    assert_int_equal(mt_mcp_parse_version(NULL, &v, &eb), MT_OK);
    assert_int_equal(v, MT_MCP_V_2025_03_26);
    assert_false(mt_mcp_version_is_stateless(v));
    assert_int_equal(mt_mcp_parse_version("1900-01-01", &v, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "unsupported MCP-Protocol-Version '1900-01-01'"));
    assert_string_equal(mt_mcp_version_name(MT_MCP_V_2025_11_25), "2025-11-25");
}

static void session_ids_are_visible_ascii_and_bounded(void **state)
{
    (void)state;
    mt_errbuf eb;
    assert_int_equal(mt_mcp_check_session_id("abc-123_~!", 10, &eb), MT_OK);
    assert_int_equal(mt_mcp_check_session_id("a b", 3, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "byte 1 is 0x20"));
    assert_int_equal(mt_mcp_check_session_id("", 0, &eb), MT_ERR_PARSE);
    assert_int_equal(mt_mcp_check_session_id("\x7f", 1, &eb), MT_ERR_PARSE);
    char big[MT_MCP_SESSION_ID_MAX + 1];
    memset(big, 'a', sizeof big);
    assert_int_equal(mt_mcp_check_session_id(big, MT_MCP_SESSION_ID_MAX, &eb), MT_OK);
    assert_int_equal(mt_mcp_check_session_id(big, sizeof big, &eb), MT_ERR_PARSE);
}

static void protocol_errors_get_their_http_status(void **state)
{
    (void)state;
    const char *cases[][2] = {
        {"{\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}", "404"},
        {"{\"error\":{\"code\":-32022,\"message\":\"x\"}}", "400"},
        {"{\"error\":{\"code\":-32021,\"message\":\"x\"}}", "400"},
        {"{\"error\":{\"code\":-32602,\"message\":\"Invalid _meta envelope for 2026\"}}",
         "400"},
        {"{\"error\":{\"code\":-32602,\"message\":\"x\",\"data\":{\"envelope\":{}}}}", "400"},
        {"{\"error\":{\"code\":-32602,\"message\":\"Unknown tool: rm\"}}", "0"},
        {"{\"error\":{\"code\":-32603,\"message\":\"x\"}}", "0"},
        {"{\"error\":{\"code\":\"-32601\"}}", "0"},
        {"{\"result\":{}}", "0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *m = json_loads(cases[i][0], 0, NULL);
        assert_non_null(m);
        assert_int_equal(mt_mcp_error_http_status(m), atoi(cases[i][1]));
        json_decref(m);
    }
}

static void stateless_headers_must_match_the_body(void **state)
{
    (void)state;
    mt_errbuf eb;
    mt_mcp_batch b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
                              "\"params\":{\"name\":\"echo\"}}");
    const mt_mcp_version v = MT_MCP_V_2026_07_28;
    assert_int_equal(mt_mcp_check_headers(v, "tools/call", "echo", &b, &eb), MT_OK);
    assert_int_equal(mt_mcp_check_headers(v, " tools/call\t", "echo ", &b, &eb), MT_OK);
    assert_int_equal(mt_mcp_check_headers(v, "tools/call", "=?base64?ZWNobw==?=", &b, &eb), MT_OK);
    assert_int_equal(mt_mcp_check_headers(v, "tools/list", "echo", &b, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "Mcp-Method header 'tools/list' does not match method "
                                "'tools/call' of tools/call");
    assert_int_equal(mt_mcp_check_headers(v, "tools/call", "rm", &b, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "Mcp-Name header 'rm' does not match params.name 'echo' of "
                                "tools/call");
    assert_int_equal(mt_mcp_check_headers(v, "tools/call", NULL, &b, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "Mcp-Name header is required for tools/call");
    assert_int_equal(mt_mcp_check_headers(v, NULL, "echo", &b, &eb), MT_ERR_PARSE);
    assert_int_equal(mt_mcp_check_headers(v, "tools/call", "=?base64?!!!!?=", &b, &eb),
                     MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "invalid Base64"));
    /* Older versions do not define the headers. */
    assert_int_equal(mt_mcp_check_headers(MT_MCP_V_2025_11_25, "x", "y", &b, &eb), MT_OK);
    mt_mcp_batch_free(&b);

    b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{"
                 "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"v999.0.0\"}}}");
    assert_int_equal(mt_mcp_check_headers(v, "server/discover", NULL, &b, &eb), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "MCP-Protocol-Version header '2026-07-28' does not match "
                                "params._meta protocolVersion 'v999.0.0' of server/discover");
    mt_mcp_batch_free(&b);

    b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\","
                 "\"params\":{\"uri\":\"file:///\xc3\xa9\"}}");
    assert_int_equal(
        mt_mcp_check_headers(v, "resources/read", "=?base64?ZmlsZTovLy/DqQ==?=", &b, &eb), MT_OK);
    assert_int_equal(mt_mcp_check_headers(v, "resources/read", "file:///e", &b, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "params.uri"));
    mt_mcp_batch_free(&b);

    /* Methods without a target need only Mcp-Method; responses need nothing. */
    b = parse_ok("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\"}");
    assert_int_equal(mt_mcp_check_headers(v, "notifications/cancelled", NULL, &b, &eb), MT_OK);
    /* a notification may come bare (no headers defined for it), never mismatched */
    assert_int_equal(mt_mcp_check_headers(v, NULL, NULL, &b, &eb), MT_OK);
    assert_int_equal(mt_mcp_check_headers(v, "tools/call", NULL, &b, &eb), MT_ERR_PARSE);
    mt_mcp_batch_free(&b);
    b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    assert_int_equal(mt_mcp_check_headers(v, NULL, NULL, &b, &eb), MT_ERR_PARSE);
    mt_mcp_batch_free(&b);
    b = parse_ok("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
    assert_int_equal(mt_mcp_check_headers(v, NULL, NULL, &b, &eb), MT_OK);
    mt_mcp_batch_free(&b);
    b = parse_ok("[{\"jsonrpc\":\"2.0\",\"method\":\"a\"}]");
    assert_int_equal(mt_mcp_check_headers(v, "a", NULL, &b, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "batches are not allowed for 2026-07-28"));
    mt_mcp_batch_free(&b);
}

static void check_body(const char *id, int code, const char *msg, const char *data,
                       const char *want)
{
    mt_buf out = MT_BUF_INIT;
    mt_errbuf eb;
    json_t *d = data ? json_loads(data, 0, NULL) : NULL;
    mt_err err = mt_mcp_error_body(id, code, msg, d, &out, &eb);
    json_decref(d);
    if (err)
        fail_msg("error body: %s", eb.msg);
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    mt_buf_free(&out);
}

static void error_body_is_exact_compact_json_rpc(void **state)
{
    (void)state;
    check_body("7", -32600, "Invalid Request", NULL,
               "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32600,\"message\":"
               "\"Invalid Request\"}}");
    check_body(NULL, -32700, "Parse error", NULL,
               "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":"
               "\"Parse error\"}}");
    check_body("\"a\\\"b\"", -32001, "denied by \"rule\"\n", "{\"rule\":\"r1\",\"a\":[1]}",
               "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"error\":{\"code\":-32001,\"message\":"
               "\"denied by \\\"rule\\\"\\n\",\"data\":{\"a\":[1],\"rule\":\"r1\"}}}");
}

static void error_body_refuses_bad_id_or_message(void **state)
{
    (void)state;
    mt_buf out = MT_BUF_INIT;
    mt_errbuf eb;
    assert_int_equal(mt_mcp_error_body("{}", 1, "m", NULL, &out, &eb), MT_ERR_INVALID_ARG);
    assert_int_equal(mt_mcp_error_body("\"open", 1, "m", NULL, &out, &eb), MT_ERR_INVALID_ARG);
    assert_int_equal(mt_mcp_error_body("1", 1, "\xff", NULL, &out, &eb), MT_ERR_INVALID_ARG);
    assert_int_equal(out.len, 0);
    mt_buf_free(&out);
}

static void error_body_echoes_ids_from_failed_parses(void **state)
{
    (void)state;
    mt_mcp_batch b;
    mt_buf out = MT_BUF_INIT;
    const char *body = "{\"jsonrpc\":\"2.0\",\"id\":\"q\"}";
    assert_int_equal(mt_mcp_parse(body, strlen(body), NULL, &b, NULL), MT_ERR_PARSE);
    assert_int_equal(
        mt_mcp_error_body(b.err_id, b.rpc_code, "request without method", NULL, &out, NULL), MT_OK);
    const char *want = "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"error\":{\"code\":-32600,"
                       "\"message\":\"request without method\"}}";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    mt_buf_free(&out);
    mt_mcp_batch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tools_call_request_yields_tool_name_id_and_progress_token),
        cmocka_unit_test(string_ids_and_numeric_progress_tokens_are_canonical_json),
        cmocka_unit_test(resources_and_prompts_yield_uri_and_name),
        cmocka_unit_test(notification_has_no_id),
        cmocka_unit_test(response_reports_tool_result_is_error),
        cmocka_unit_test(error_response_yields_code_message_and_null_id),
        cmocka_unit_test(batch_keeps_order_and_kinds),
        cmocka_unit_test(batch_rules_are_enforced),
        cmocka_unit_test(each_validation_error_has_its_code_and_message),
        cmocka_unit_test(size_and_depth_limits_are_too_large),
        cmocka_unit_test(protocol_versions_are_known_or_refused),
        cmocka_unit_test(session_ids_are_visible_ascii_and_bounded),
        cmocka_unit_test(stateless_headers_must_match_the_body),
        cmocka_unit_test(protocol_errors_get_their_http_status),
        cmocka_unit_test(error_body_is_exact_compact_json_rpc),
        cmocka_unit_test(error_body_refuses_bad_id_or_message),
        cmocka_unit_test(error_body_echoes_ids_from_failed_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
