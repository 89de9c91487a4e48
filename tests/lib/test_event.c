/* Unit tests of the SessionEvent summary decoder (lib/src/event_summary.c):
 * fields agree with the generic decoder on encoded events (version 2 and
 * version 1 records), every truncation and a wrong fingerprint fail cleanly,
 * trailing bytes are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcptrail/event.h"
#include "mcptrail/avro.h"

static mt_avro_registry *reg;
static const mt_avro_schema *sch;
static uint64_t fp;

static const char *FULL =
    "{\"event_id\":\"0199a000-0000-7000-8000-000000000001\",\"session_id\":\"s-1\",\"seq\":7,"
    "\"stream\":{\"instance_id\":\"0199a000-0000-7000-8000-0000000000ff\",\"seq\":41,"
    "\"prev_hash\":\"" "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100" "\","
    "\"session_prev\":39},"
    "\"ts\":1764000000123456,\"kind\":\"request\",\"direction\":\"client_to_server\","
    "\"source\":{\"cluster\":\"c\",\"namespace\":\"n\",\"pod\":\"p\",\"upstream\":\"u\"},"
    "\"identity\":{\"issuer\":\"iss\",\"subject\":\"sub\",\"audience\":\"aud\",\"auth_method\":\"jwt\","
    "\"token_fingerprint\":\"" "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" "\","
    "\"ci\":{\"repository\":\"acme/app\",\"workflow\":\"deploy.yml\",\"job\":\"j\",\"run_id\":\"42\","
    "\"run_attempt\":2,\"sha\":\"abc\",\"ref\":\"refs/heads/main\",\"actor\":\"octocat\",\"environment\":\"prod\"}},"
    "\"http\":{\"method\":\"POST\",\"path\":\"/mcp\",\"status\":200,\"sse_event_id\":null,"
    "\"protocol_version\":\"2025-06-18\",\"mcp_session_id\":null},"
    "\"rpc\":{\"id\":\"1\",\"method\":\"tools/call\",\"tool\":\"deploy\",\"resource_uri\":null,"
    "\"is_error\":true,\"error_code\":-32001},"
    "\"payload_masked\":\"{\\\"a\\\":1}\",\"payload_hmac\":null,"
    "\"mask_summary\":[{\"detector\":\"aws\",\"action\":\"redact\",\"count\":2},"
    "{\"detector\":\"card\",\"action\":\"partial\",\"count\":3}],"
    "\"policy\":{\"rule_id\":\"r1\",\"action\":\"approve\"},"
    "\"approval\":{\"approval_id\":\"ap-1\",\"decision\":\"approved\",\"approvers\":[\"alice\",\"bob\"]},"
    "\"justification\":\"ticket 1\",\"latency_us\":1500,\"traceparent\":null,"
    "\"sidecar_version\":\"0.1.0\",\"prev_hash\":null,"
    "\"call\":{\"call_id\":\"c-1\",\"round\":2,\"result_type\":\"input_required\",\"sealed\":true},"
    "\"client\":{\"name\":\"cli\",\"version\":null,\"capabilities\":\"{}\"}}";

static const char *MINIMAL =
    "{\"event_id\":\"e\",\"session_id\":\"s\",\"seq\":0,\"ts\":1,\"kind\":\"session_end\","
    "\"direction\":\"internal\",\"source\":{\"cluster\":\"\",\"namespace\":\"\",\"pod\":\"\","
    "\"upstream\":\"\"},\"identity\":{},\"sidecar_version\":\"v\"}";

static const char *INSTANCE_START =
    "{\"event_id\":\"e0\",\"session_id\":\"i-1\",\"seq\":0,"
    "\"stream\":{\"instance_id\":\"i-1\",\"seq\":0,\"prev_hash\":null,\"session_prev\":null,"
    "\"signature\":{\"key_id\":\"0123456789abcdef\",\"value\":\""
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\"}},"
    "\"ts\":5,\"kind\":\"instance_start\",\"direction\":\"internal\","
    "\"source\":{\"cluster\":\"c\",\"namespace\":\"n\",\"pod\":\"p\",\"upstream\":\"u\"},"
    "\"identity\":{},\"sidecar_version\":\"v\",\"instance\":{\"config_sha256\":\""
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" "\",\"policy_sha256\":null,"
    "\"host\":\"h\",\"pid\":4242,\"listen\":\"127.0.0.1:8080\",\"heartbeat_ms\":30000,"
    "\"mode\":\"strict\"}}";

/* A version 1 record (no stream, no instance: schemas/previous). */
static const char *V1 =
    "{\"event_id\":\"e1\",\"session_id\":\"s\",\"seq\":3,\"ts\":9,\"kind\":\"heartbeat\","
    "\"direction\":\"internal\",\"source\":{\"cluster\":\"\",\"namespace\":\"\",\"pod\":\"\","
    "\"upstream\":\"\"},\"identity\":{\"subject\":\"alice\"},\"sidecar_version\":\"old\","
    "\"prev_hash\":\"" "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" "\"}";

static const mt_avro_schema *v1_schema(void)
{
    const mt_avro_version *v = mt_avro_registry_previous(reg, MT_SESSION_EVENT_FP_V1);
    assert_non_null(v);
    return v->writer;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(mt_avro_registry_load(NULL, &reg, NULL), MT_OK);
    sch = mt_avro_registry_find(reg, "dev.mcptrail.SessionEvent");
    assert_non_null(sch);
    fp = mt_avro_schema_fingerprint(sch);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mt_avro_registry_free(reg);
    return 0;
}

static void encode_with(const mt_avro_schema *with, const char *json, mt_buf *out)
{
    json_error_t je;
    json_t *j = json_loads(json, 0, &je);
    assert_non_null(j);
    mt_errbuf eb = {{0}};
    mt_err err = mt_avro_encode(with, j, out, &eb);
    if (err)
        fail_msg("encode: %s", eb.msg);
    json_decref(j);
}

static void encode(const char *json, mt_buf *out)
{
    encode_with(sch, json, out);
}

static void assert_sv(mt_sv v, const char *want)
{
    if (!want) {
        assert_null(v.p);
        return;
    }
    assert_non_null(v.p);
    assert_int_equal(v.n, strlen(want));
    assert_memory_equal(v.p, want, v.n);
}

static void summary_fields_match_the_encoded_event(void **state)
{
    (void)state;
    mt_buf b = {0};
    encode(FULL, &b);
    mt_rev e;
    assert_int_equal(mt_rev_parse(b.data, b.len, fp, &e), MT_OK);
    assert_sv(e.event_id, "0199a000-0000-7000-8000-000000000001");
    assert_sv(e.session_id, "s-1");
    assert_int_equal(e.seq, 7);
    assert_int_equal(e.ts_us, 1764000000123456LL);
    assert_string_equal(mt_rev_kind_names[e.kind], "request");
    assert_string_equal(mt_rev_direction_names[e.direction], "client_to_server");
    assert_sv(e.subject, "sub");
    assert_sv(e.issuer, "iss");
    assert_true(e.has_ci);
    assert_sv(e.repository, "acme/app");
    assert_sv(e.workflow, "deploy.yml");
    assert_sv(e.run_id, "42");
    assert_sv(e.actor, "octocat");
    assert_sv(e.http_method, "POST");
    assert_int_equal(e.http_status, 200);
    assert_sv(e.tool, "deploy");
    assert_true(e.is_error);
    assert_int_equal(e.error_code, -32001);
    assert_sv(e.payload, "{\"a\":1}");
    assert_int_equal(e.mask_entries, 2);
    assert_int_equal(e.mask_total, 5);
    assert_string_equal(mt_rev_policy_names[e.policy_action], "approve");
    assert_sv(e.rule_id, "r1");
    assert_sv(e.approval_id, "ap-1");
    assert_string_equal(mt_rev_decision_names[e.decision], "approved");
    assert_int_equal(e.napprovers, 2);
    assert_sv(e.justification, "ticket 1");
    assert_int_equal(e.latency_us, 1500);
    assert_sv(e.sidecar_version, "0.1.0");
    assert_int_equal(e.version, 3);
    assert_sv(e.call_id, "c-1");
    assert_int_equal(e.call_round, 2);
    assert_sv(e.result_type, "input_required");
    assert_true(e.call_sealed);
    assert_true(e.has_client);
    assert_sv(e.client_name, "cli");
    assert_sv(e.client_version, NULL);
    assert_sv(e.client_capabilities, "{}");
    assert_sv(e.instance_id, "0199a000-0000-7000-8000-0000000000ff");
    assert_int_equal(e.stream_seq, 41);
    assert_non_null(e.stream_prev);
    assert_int_equal(e.stream_prev[0], 0xff);
    assert_int_equal(e.session_prev, 39);
    assert_null(e.prev_hash);
    assert_false(e.has_instance);
    assert_null(e.stream_key_id.p);
    mt_buf_free(&b);
    /* the checkpoint message: label, NUL, id, NUL, seq big-endian, prev (zeros for null) */
    uint8_t m[MT_STREAM_CHECKPOINT_MAX];
    size_t ml = mt_stream_checkpoint_message("abc", 3, 258, NULL, m);
    assert_int_equal(ml, 30 + 3 + 1 + 8 + 32);
    assert_memory_equal(m, "mcptrail stream checkpoint v1\0abc\0", 34);
    assert_int_equal(m[34 + 6], 1);
    assert_int_equal(m[34 + 7], 2);
    assert_int_equal(m[ml - 1], 0);
}

static void instance_start_and_version_1_records_decode(void **state)
{
    (void)state;
    mt_buf b = {0};
    encode(INSTANCE_START, &b);
    mt_rev e;
    assert_int_equal(mt_rev_parse(b.data, b.len, fp, &e), MT_OK);
    assert_int_equal(e.kind, MT_REV_KIND_INSTANCE_START);
    assert_int_equal(e.stream_seq, 0);
    assert_null(e.stream_prev);
    assert_int_equal(e.session_prev, -1);
    assert_true(e.has_instance);
    assert_sv(e.stream_key_id, "0123456789abcdef");
    assert_non_null(e.stream_sig);
    assert_int_equal(e.stream_sig[63], 0x00);
    assert_int_equal(e.stream_sig[32], 0xff);
    assert_int_equal(e.config_sha256[1], 0x11);
    assert_null(e.policy_sha256);
    assert_sv(e.host, "h");
    assert_int_equal(e.pid, 4242);
    assert_sv(e.listen, "127.0.0.1:8080");
    assert_int_equal(e.heartbeat_ms, 30000);
    assert_sv(e.mode, "strict");
    mt_buf_free(&b);

    /* version 1: known by its fixed fingerprint, read without a stream */
    assert_int_equal(mt_avro_schema_fingerprint(v1_schema()), MT_SESSION_EVENT_FP_V1);
    encode_with(v1_schema(), V1, &b);
    assert_int_equal(mt_rev_parse(b.data, b.len, fp, &e), MT_OK);
    assert_int_equal(e.version, 1);
    assert_null(e.instance_id.p);
    assert_int_equal(e.stream_seq, -1);
    assert_int_equal(e.seq, 3);
    assert_sv(e.subject, "alice");
    assert_non_null(e.prev_hash);
    assert_string_equal(mt_rev_kind_names[e.kind], "heartbeat");
    /* EventKind had 12 symbols in version 1: instance_start is out of range there */
    b.data[10 + 3 + 2 + 1 + 1] = 2 * 12; /* "e1" "s" seq ts, then kind */
    assert_int_equal(mt_rev_parse(b.data, b.len, fp, &e), MT_ERR_SCHEMA);
    mt_buf_free(&b);

    /* version 2: known by its fixed fingerprint, read without logical calls */
    const mt_avro_version *v2 = mt_avro_registry_previous(reg, MT_SESSION_EVENT_FP_V2);
    assert_non_null(v2);
    assert_int_equal(mt_avro_schema_fingerprint(v2->writer), MT_SESSION_EVENT_FP_V2);
    encode_with(v2->writer, INSTANCE_START, &b);
    assert_int_equal(mt_rev_parse(b.data, b.len, fp, &e), MT_OK);
    assert_int_equal(e.version, 2);
    assert_true(e.has_instance);
    assert_null(e.call_id.p);
    assert_false(e.has_client);
    mt_buf write = MT_BUF_INIT;
    assert_int_equal(mt_rev_write_json(b.data, b.len, fp, &write), MT_OK);
    assert_non_null(strstr((const char *)write.data, ",\"call\":null,\"client\":null}"));
    mt_buf_free(&write);
    mt_buf_free(&b);
}

static void nulls_decode_as_null_views(void **state)
{
    (void)state;
    mt_buf b = {0};
    encode(MINIMAL, &b);
    mt_rev e;
    assert_int_equal(mt_rev_parse(b.data, b.len, fp, &e), MT_OK);
    assert_null(e.subject.p);
    assert_false(e.has_ci);
    assert_int_equal(e.http_status, -1);
    assert_int_equal(e.policy_action, -1);
    assert_int_equal(e.decision, -1);
    assert_int_equal(e.latency_us, -1);
    assert_null(e.payload.p);
    assert_string_equal(mt_rev_kind_names[e.kind], "session_end");
    mt_buf_free(&b);
}

static void every_truncation_fails_cleanly(void **state)
{
    (void)state;
    mt_buf b = {0};
    encode(FULL, &b);
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan catches any over-read */
        memcpy(copy, b.data, n);
        mt_rev e;
        assert_int_not_equal(mt_rev_parse(copy, n, fp, &e), MT_OK);
        free(copy);
    }
    mt_buf_free(&b);
}

static void trailing_bytes_and_wrong_fingerprint_are_refused(void **state)
{
    (void)state;
    mt_buf b = {0};
    encode(MINIMAL, &b);
    mt_rev e;
    assert_int_equal(mt_rev_parse(b.data, b.len, fp ^ 1, &e), MT_ERR_UNKNOWN_SCHEMA);
    mt_buf_append_byte(&b, 0);
    assert_int_equal(mt_rev_parse(b.data, b.len, fp, &e), MT_ERR_SCHEMA);
    b.data[0] = 0x00;
    assert_int_equal(mt_rev_parse(b.data, b.len, fp, &e), MT_ERR_BAD_MAGIC);
    mt_buf_free(&b);
}

static void bad_enum_index_is_a_schema_error(void **state)
{
    (void)state;
    mt_buf b = {0};
    encode(MINIMAL, &b);
    /* datum: "e"(2) "s"(2) seq(1) stream null(1) ts(1) kind(1): kind index at 10+7 */
    b.data[17] = 2 * 14; /* zigzag 14: one past the last EventKind */
    mt_rev e;
    assert_int_equal(mt_rev_parse(b.data, b.len, fp, &e), MT_ERR_SCHEMA);
    mt_buf_free(&b);
}

static void check_json_writer_with(const mt_avro_schema *with, const char *json)
{
    mt_buf b = {0}, w = {0};
    encode_with(with, json, &b);
    json_t *d = NULL;
    assert_int_equal(mt_avro_decode(reg, b.data, b.len, NULL, &d, NULL), MT_OK);
    char *want = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_int_equal(mt_rev_write_json(b.data, b.len, fp, &w), MT_OK);
    mt_buf_append_byte(&w, 0);
    assert_string_equal((const char *)w.data, want);
    free(want);
    json_decref(d);
    mt_buf_free(&b);
    mt_buf_free(&w);
}

static void check_json_writer(const char *json)
{
    check_json_writer_with(sch, json);
}

static void json_writer_prints_what_the_generic_decoder_prints(void **state)
{
    (void)state;
    check_json_writer(FULL);
    check_json_writer(MINIMAL);
    check_json_writer(INSTANCE_START);
    /* a version 1 record resolved to the current schema: stream and instance null */
    check_json_writer_with(v1_schema(), V1);
    /* escapes: quotes, backslash, control characters, slash, non-ASCII, U+2028 */
    check_json_writer(
        "{\"event_id\":\"e\\\"q\\\\b\",\"session_id\":\"s\\u0001\\u001f\\b\\f\\n\\r\\t/\","
        "\"seq\":-5,\"ts\":-1,\"kind\":\"heartbeat\",\"direction\":\"internal\","
        "\"source\":{\"cluster\":\"Gr\u00fc\u00dfe\",\"namespace\":\"\\u2028\",\"pod\":\"\u65e5\","
        "\"upstream\":\"\\u007f\"},\"identity\":{},\"mask_summary\":[],"
        "\"approval\":{\"approval_id\":\"a\",\"decision\":null,\"approvers\":[]},"
        "\"sidecar_version\":\"v\"}");
}

static void reindent_matches_jansson_indent(void **state)
{
    (void)state;
    const char *texts[] = {
        "{\"a\":1,\"b\":[1,2,{\"c\":\"x,y:[z]\\\"\"}],\"e\":{},\"f\":[],\"g\":null}",
        "[true,false,\"s\",-1.5]",
        "{ \"spaced\" : [ 1 , 2 ] }",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        json_t *j = json_loads(texts[i], JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        char *want = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
        mt_buf b = {0};
        assert_int_equal(mt_json_reindent(texts[i], strlen(texts[i]), "", &b), MT_OK);
        mt_buf_append_byte(&b, 0);
        assert_string_equal((const char *)b.data, want);
        free(want);
        json_decref(j);
        mt_buf_free(&b);
    }
    mt_buf b = {0};
    assert_int_equal(mt_json_reindent("{\"a\":[1}", 9, "", &b), MT_ERR_PARSE);
    assert_int_equal(mt_json_reindent("\"open", 5, "", &b), MT_ERR_PARSE);
    /* a NUL byte outside a string is text, not the end of the input (was a hang) */
    assert_int_equal(mt_json_reindent("[1\0002]", 5, "", &b), MT_OK);
    assert_int_equal(b.len, 9);
    b.len = 0;
    assert_int_equal(b.len, 0);
    mt_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(summary_fields_match_the_encoded_event),
        cmocka_unit_test(nulls_decode_as_null_views),
        cmocka_unit_test(instance_start_and_version_1_records_decode),
        cmocka_unit_test(every_truncation_fails_cleanly),
        cmocka_unit_test(trailing_bytes_and_wrong_fingerprint_are_refused),
        cmocka_unit_test(bad_enum_index_is_a_schema_error),
        cmocka_unit_test(json_writer_prints_what_the_generic_decoder_prints),
        cmocka_unit_test(reindent_matches_jansson_indent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
