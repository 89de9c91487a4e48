/* log: line shape, threshold, redaction of secret keys and tokens, escaping,
 * UTF-8 repair, text format, and whole lines under concurrent writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcptrail/log.h"

/* Each test logs into a fresh temporary file and reads it back. */
static char tmp_path[64];
static int tmp_fd = -1;

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_path, sizeof tmp_path, "/tmp/mt_test_log_XXXXXX");
    tmp_fd = mkstemp(tmp_path);
    if (tmp_fd < 0)
        return -1;
    mt_log_set_fd(tmp_fd);
    mt_log_set_level(MT_LOG_DEBUG);
    mt_log_set_format(MT_LOG_FORMAT_JSON);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mt_log_set_fd(2);
    mt_log_set_level(MT_LOG_INFO);
    mt_log_set_format(MT_LOG_FORMAT_JSON);
    close(tmp_fd);
    unlink(tmp_path);
    return 0;
}

/* Everything written so far (caller frees). */
static char *captured(void)
{
    off_t end = lseek(tmp_fd, 0, SEEK_END);
    char *s = calloc((size_t)end + 1, 1);
    assert_non_null(s);
    assert_int_equal(pread(tmp_fd, s, (size_t)end, 0), end);
    return s;
}

/* The single captured line, parsed. */
static json_t *one_line(void)
{
    char *s = captured();
    size_t len = strlen(s);
    assert_true(len > 0);
    assert_int_equal(s[len - 1], '\n');
    assert_null(memchr(s, '\n', len - 1)); /* exactly one line */
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    assert_non_null(j);
    free(s);
    return j;
}

static void json_line_has_fixed_keys_then_fields_in_order(void **state)
{
    (void)state;
    mt_log(MT_LOG_INFO, "kafka", "producer started", "brokers", json_string("b1:9092"),
           "partitions", json_integer(3), NULL);
    char *s = captured();
    /* Key order is part of the format: people grep these lines. */
    assert_non_null(strstr(s, "{\"ts\":\""));
    assert_non_null(strstr(s, "Z\",\"level\":\"info\",\"component\":\"kafka\","
                              "\"msg\":\"producer started\",\"brokers\":\"b1:9092\","
                              "\"partitions\":3}\n"));
    /* ts = 2026-11-25T03:56:57.123456Z: 27 characters, microseconds. */
    const char *ts = s + strlen("{\"ts\":\"");
    assert_int_equal(strchr(ts, '"') - ts, 27);
    assert_int_equal(ts[4], '-');
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[19], '.');
    assert_int_equal(ts[26], 'Z');
    free(s);
}

static int evaluated;

static json_t *counted_value(void)
{
    evaluated++;
    return json_string("x");
}

static void below_threshold_writes_nothing_and_skips_arguments(void **state)
{
    (void)state;
    evaluated = 0;
    mt_log_set_level(MT_LOG_WARN);
    mt_log(MT_LOG_INFO, "c", "hidden", "k", counted_value(), NULL);
    mt_logs(MT_LOG_DEBUG, "c", "hidden", "k", "v", NULL);
    mt_logf(MT_LOG_DEBUG, "c", "hidden %d", 1);
    assert_int_equal(evaluated, 0);
    assert_false(mt_log_enabled(MT_LOG_INFO));
    assert_true(mt_log_enabled(MT_LOG_ERROR));
    char *s = captured();
    assert_string_equal(s, "");
    free(s);
    mt_log(MT_LOG_ERROR, "c", "shown", "k", counted_value(), NULL);
    assert_int_equal(evaluated, 1);
    json_t *j = one_line();
    assert_string_equal(json_string_value(json_object_get(j, "level")), "error");
    json_decref(j);
}

static void parse_level_accepts_names_and_rejects_others(void **state)
{
    (void)state;
    mt_log_level l;
    mt_errbuf eb;
    assert_int_equal(mt_log_parse_level("debug", &l, &eb), MT_OK);
    assert_int_equal(l, MT_LOG_DEBUG);
    assert_int_equal(mt_log_parse_level("WARNING", &l, &eb), MT_OK);
    assert_int_equal(l, MT_LOG_WARN);
    assert_int_equal(mt_log_parse_level("Error", &l, &eb), MT_OK);
    assert_int_equal(l, MT_LOG_ERROR);
    assert_int_equal(mt_log_parse_level("verbose", &l, &eb), MT_ERR_CONFIG);
    assert_string_equal(eb.msg, "'verbose' is not a log level (use debug, info, warn or error)");
    assert_string_equal(mt_log_level_name(MT_LOG_WARN), "warn");
}

static void secret_named_keys_are_redacted_at_any_depth(void **state)
{
    (void)state;
    json_t *nested = json_pack("{s:s, s:{s:s, s:i}}", "user", "alice", "headers",
                               "Authorization", "Basic YWxpY2U6cHc=", "retry", 2);
    mt_log(MT_LOG_INFO, "auth", "login", "password", json_string("hunter2"), "X-Api-Key",
           json_string("k1"), "SESSION_COOKIE", json_string("c1"), "client_secret",
           json_integer(42), "private_key_pem", json_string("-----BEGIN"), "req", nested, NULL);
    json_t *j = one_line();
    const char *redacted_keys[] = {"password", "X-Api-Key", "SESSION_COOKIE", "client_secret",
                                   "private_key_pem"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(json_string_value(json_object_get(j, redacted_keys[i])),
                            "[REDACTED]");
    json_t *req = json_object_get(j, "req");
    assert_string_equal(json_string_value(json_object_get(req, "user")), "alice");
    json_t *h = json_object_get(req, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "Authorization")), "[REDACTED]");
    assert_int_equal(json_integer_value(json_object_get(h, "retry")), 2);
    char *s = captured();
    assert_null(strstr(s, "hunter2"));
    assert_null(strstr(s, "YWxpY2U6cHc"));
    free(s);
    json_decref(j);
    assert_true(mt_log_key_is_secret("db.Credentials"));
    assert_true(mt_log_key_is_secret("APIKEY"));
    assert_false(mt_log_key_is_secret("tool"));
    assert_false(mt_log_key_is_secret("progressToken"));
    assert_false(mt_log_key_is_secret("maxTokens"));
    assert_false(mt_log_key_is_secret("output_tokens"));
    assert_true(mt_log_key_is_secret("progressTokens")); /* only the exact names */
    assert_true(mt_log_key_is_secret("access_token"));
}

static void bearer_tokens_and_jwts_are_redacted_in_any_field_and_msg(void **state)
{
    (void)state;
    const char *jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjaSJ9.c2lnbmF0dXJl";
    char msg[256];
    snprintf(msg, sizeof msg, "rejected token %s from runner", jwt);
    mt_logs(MT_LOG_WARN, "auth", msg, "header", "bearer abc.DEF-123_x~+/=", "note",
            "sent Bearer\tzzz, then left", "plain", "eyJ alone is fine", NULL);
    json_t *j = one_line();
    assert_string_equal(json_string_value(json_object_get(j, "msg")),
                        "rejected token [REDACTED] from runner");
    assert_string_equal(json_string_value(json_object_get(j, "header")), "bearer [REDACTED]");
    assert_string_equal(json_string_value(json_object_get(j, "note")),
                        "sent Bearer\t[REDACTED], then left");
    assert_string_equal(json_string_value(json_object_get(j, "plain")), "eyJ alone is fine");
    json_decref(j);

    char *r = mt_log_redact_text("a=eyJx.eyJy. b", 14); /* alg none: empty signature */
    assert_string_equal(r, "a=[REDACTED] b");
    free(r);
    r = mt_log_redact_text("the bearer of news", 18); /* no token-looking word after */
    assert_string_equal(r, "the bearer [REDACTED] news");
    free(r);
    r = mt_log_redact_text("unbearer x", 10); /* not a word boundary */
    assert_string_equal(r, "unbearer x");
    free(r);
}

static void callers_object_is_not_modified_by_redaction(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:s}", "token", "t0k3n");
    mt_log(MT_LOG_INFO, "c", "m", "obj", json_incref(o), NULL);
    assert_string_equal(json_string_value(json_object_get(o, "token")), "t0k3n");
    json_decref(o);
    json_t *j = one_line();
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "obj"), "token")), "[REDACTED]");
    json_decref(j);
}

static void control_characters_are_escaped_and_stay_on_one_line(void **state)
{
    (void)state;
    mt_logs(MT_LOG_INFO, "c", "line1\nline2\r\x01\"q\"\\", "k", "a\nb", NULL);
    char *s = captured();
    assert_non_null(strstr(s, "\"msg\":\"line1\\nline2\\r\\u0001\\\"q\\\"\\\\\""));
    assert_non_null(strstr(s, "\"k\":\"a\\nb\""));
    free(s);
    json_t *j = one_line(); /* asserts a single line */
    json_decref(j);
}

static void invalid_utf8_is_replaced_not_dropped(void **state)
{
    (void)state;
    mt_logs(MT_LOG_INFO, "c", "bad \xff byte", "k", "ok \xc3\xa9 \xed\xa0\x80", NULL);
    json_t *j = one_line();
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "bad \xEF\xBF\xBD byte");
    /* é kept; the encoded surrogate (3 invalid bytes) becomes 3 replacements */
    assert_string_equal(json_string_value(json_object_get(j, "k")),
                        "ok \xc3\xa9 \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    json_decref(j);
}

static void fields_cannot_overwrite_fixed_keys(void **state)
{
    (void)state;
    mt_logs(MT_LOG_INFO, "real", "real msg", "msg", "fake", "level", "error", NULL);
    json_t *j = one_line();
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "real msg");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(j, "field.msg")), "fake");
    assert_string_equal(json_string_value(json_object_get(j, "field.level")), "error");
    json_decref(j);
}

static void null_values_are_logged_as_null(void **state)
{
    (void)state;
    mt_log(MT_LOG_INFO, "c", "m", "a", json_string("\xff"), NULL); /* json_string fails */
    mt_logs(MT_LOG_INFO, "c", "m2", "b", (const char *)NULL, NULL);
    char *s = captured();
    assert_non_null(strstr(s, "\"a\":null}\n"));
    assert_non_null(strstr(s, "\"b\":null}\n"));
    free(s);
}

static void logf_formats_the_message(void **state)
{
    (void)state;
    mt_logf(MT_LOG_WARN, "spool", "%d events pending in %s", 12, "/var/spool");
    json_t *j = one_line();
    assert_string_equal(json_string_value(json_object_get(j, "msg")),
                        "12 events pending in /var/spool");
    json_decref(j);
}

static void text_format_is_one_readable_line(void **state)
{
    (void)state;
    mt_log_set_format(MT_LOG_FORMAT_TEXT);
    mt_log(MT_LOG_WARN, "jwks", "refresh\nfailed", "url", json_string("https://x/jwks"),
           "attempt", json_integer(2), "why", json_string("timed out"), "password",
           json_string("pw"), NULL);
    char *s = captured();
    const char *rest = strchr(s, ' ');
    assert_non_null(rest);
    assert_string_equal(rest, " WARN  jwks refresh failed url=https://x/jwks attempt=2 "
                              "why=\"timed out\" password=[REDACTED]\n");
    free(s);
}

#define THREADS 8
#define LINES 300

static void *writer(void *arg)
{
    long id = (long)(intptr_t)arg;
    char pad[600];
    memset(pad, 'a' + (int)id, sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < LINES; i++)
        mt_log(MT_LOG_INFO, "t", "concurrent", "thread", json_integer(id), "i", json_integer(i),
               "pad", json_string(pad), NULL);
    return NULL;
}

static void concurrent_writers_never_interleave_lines(void **state)
{
    (void)state;
    /* O_APPEND makes each write(2) land whole at the end of the file. */
    int fd = open(tmp_path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    mt_log_set_fd(fd);
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        assert_int_equal(pthread_create(&th[t], NULL, writer, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    mt_log_set_fd(tmp_fd);
    close(fd);
    char *s = captured();
    int counts[THREADS] = {0};
    size_t lines = 0;
    for (char *line = s, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, &je);
        assert_non_null(j);
        counts[json_integer_value(json_object_get(j, "thread"))]++;
        json_decref(j);
        lines++;
    }
    assert_int_equal(lines, THREADS * LINES);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(counts[t], LINES);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(json_line_has_fixed_keys_then_fields_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(below_threshold_writes_nothing_and_skips_arguments,
                                        setup, teardown),
        cmocka_unit_test(parse_level_accepts_names_and_rejects_others),
        cmocka_unit_test_setup_teardown(secret_named_keys_are_redacted_at_any_depth, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bearer_tokens_and_jwts_are_redacted_in_any_field_and_msg,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(callers_object_is_not_modified_by_redaction, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(control_characters_are_escaped_and_stay_on_one_line,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_utf8_is_replaced_not_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(fields_cannot_overwrite_fixed_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(null_values_are_logged_as_null, setup, teardown),
        cmocka_unit_test_setup_teardown(logf_formats_the_message, setup, teardown),
        cmocka_unit_test_setup_teardown(text_format_is_one_readable_line, setup, teardown),
        cmocka_unit_test_setup_teardown(concurrent_writers_never_interleave_lines, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
