/* config: every type's parser (good values, bad values with exact messages,
 * overflow, bounds), file/env/CLI layering and precedence, unknown keys and
 * flags with suggestions, --help completeness, --print-config masking,
 * secret files, and that docs/configuration.md matches the generator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcptrail/config.h"

struct tcfg {
    mt_common_config common;
    char *name;
    int64_t port;
    bool verbose;
    int64_t linger;
    int64_t timeout;
    int64_t max_body;
    int mode;
    mt_strlist tags;
    mt_cfg_secret token_file;
    char *password;
};

static const char *const modes[] = {"strict", "async", NULL};

static const mt_cfg_option test_opts[] = {
    {"service.name", MT_CFG_STRING, "svc", "Service name.", offsetof(struct tcfg, name), 0, 0,
     NULL, 0},
    {"http.port", MT_CFG_INT, "8080", "Listen port.", offsetof(struct tcfg, port), 1, 65535, NULL,
     0},
    {"verbose", MT_CFG_BOOL, "false", "Chatty.", offsetof(struct tcfg, verbose), 0, 0, NULL, 0},
    {"kafka.linger", MT_CFG_DURATION, "5ms", "Producer linger.", offsetof(struct tcfg, linger), 0,
     60000, NULL, 0},
    {"timeout", MT_CFG_DURATION, "30s", "Unbounded duration.", offsetof(struct tcfg, timeout), 0,
     0, NULL, 0},
    {"max-body", MT_CFG_SIZE, "1MiB", "Largest body.", offsetof(struct tcfg, max_body), 0, 0,
     NULL, 0},
    {"mode", MT_CFG_ENUM, "strict", "Recording mode.", offsetof(struct tcfg, mode), 0, 0, modes,
     0},
    {"tags", MT_CFG_LIST, "a,b", "Tags.", offsetof(struct tcfg, tags), 0, 0, NULL, 0},
    {"upstream.token_file", MT_CFG_SECRET_FILE, NULL, "Upstream token file.",
     offsetof(struct tcfg, token_file), 0, 0, NULL, 0},
    {"upstream.auth", MT_CFG_STRING, NULL, "Inline credential.", offsetof(struct tcfg, password),
     0, 0, NULL, MT_CFG_F_SECRET},
    MT_CFG_END,
};

static const mt_cfg_spec spec = {
    .program = "mcptrail-test",
    .version = "9.9.9",
    .summary = "Test binary.",
    .env_prefix = "MCPTRAIL_",
    .positional = NULL,
    .parts = {{mt_cfg_common_options, offsetof(struct tcfg, common)}, {test_opts, 0}},
};

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mt_test_config_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to tmpdir/name; returns the path in a static buffer. */
static const char *write_file(const char *name, const char *text)
{
    static char path[2][128];
    static int which;
    char *p = path[which ^= 1];
    snprintf(p, sizeof path[0], "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static char *const no_env[] = {NULL};

/* Loads with argv given as a NULL-terminated list after the program name. */
static mt_err load(struct tcfg *c, char *const *env, mt_cfg_result *res, mt_errbuf *eb, ...)
{
    char *argv[32] = {"mcptrail-test"};
    int argc = 1;
    va_list ap;
    va_start(ap, eb);
    for (char *a; (a = va_arg(ap, char *)) && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    return mt_cfg_load(&spec, c, argc, argv, env ? env : no_env, res, eb);
}

static const mt_cfg_option *opt(const char *name)
{
    for (const mt_cfg_option *o = test_opts; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    for (const mt_cfg_option *o = mt_cfg_common_options; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    fail_msg("no option %s", name);
    return NULL;
}

/* Parses text for option name; on error returns the message in eb. */
static mt_err parse(const char *name, const char *text, void *field, mt_errbuf *eb)
{
    return mt_cfg_parse_value(opt(name), text, field, eb);
}

static void expect_bad(const char *name, const char *text, const char *msg)
{
    union {
        int64_t i;
        bool b;
        int e;
        mt_strlist l;
        char *s;
    } field;
    memset(&field, 0, sizeof field);
    mt_errbuf eb;
    assert_int_equal(parse(name, text, &field, &eb), MT_ERR_CONFIG);
    if (msg) /* NULL: only the error code is checked (a parser's own wording follows) */
        assert_string_equal(eb.msg, msg);
}

static void defaults_fill_the_struct(void **state)
{
    (void)state;
    struct tcfg c = {0};
    mt_errbuf eb;
    assert_int_equal(load(&c, NULL, NULL, &eb, NULL), MT_OK);
    assert_int_equal(c.common.log_level, 1);
    assert_int_equal(c.common.log_format, 0);
    assert_string_equal(c.common.kafka_brokers, "localhost:9092");
    assert_string_equal(c.common.kafka_client_id, "mcptrail");
    assert_int_equal(c.common.kafka_properties.n, 0);
    assert_null(c.common.schema_dir);
    assert_string_equal(c.name, "svc");
    assert_int_equal(c.port, 8080);
    assert_false(c.verbose);
    assert_int_equal(c.linger, 5);
    assert_int_equal(c.timeout, 30000);
    assert_int_equal(c.max_body, 1 << 20);
    assert_int_equal(c.mode, 0);
    assert_int_equal(c.tags.n, 2);
    assert_string_equal(c.tags.items[1], "b");
    assert_null(c.token_file.path);
    assert_null(c.password);
    mt_cfg_free(&spec, &c);
    assert_null(c.name);
}

static void int_parser_accepts_signed_decimal_within_bounds(void **state)
{
    (void)state;
    int64_t v;
    mt_errbuf eb;
    assert_int_equal(parse("http.port", "443", &v, &eb), MT_OK);
    assert_int_equal(v, 443);
    assert_int_equal(parse("http.port", "+1", &v, &eb), MT_OK);
    assert_int_equal(v, 1);
    mt_cfg_option unb = {"n", MT_CFG_INT, NULL, NULL, 0, 0, 0, NULL, 0};
    assert_int_equal(mt_cfg_parse_value(&unb, "-9223372036854775808", &v, &eb), MT_OK);
    assert_true(v == INT64_MIN);
    assert_int_equal(mt_cfg_parse_value(&unb, "9223372036854775807", &v, &eb), MT_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(mt_cfg_parse_value(&unb, "9223372036854775808", &v, &eb), MT_ERR_CONFIG);
    assert_string_equal(eb.msg, "n: '9223372036854775808' is out of range (must fit in 64 bits)");
    assert_int_equal(mt_cfg_parse_value(&unb, "-99999999999999999999999", &v, &eb),
                     MT_ERR_CONFIG);
}

static void int_parser_rejects_bad_and_out_of_range_values(void **state)
{
    (void)state;
    expect_bad("http.port", "80a", "http.port: '80a' is not an integer");
    expect_bad("http.port", "", "http.port: '' is not an integer");
    expect_bad("http.port", " 80", "http.port: ' 80' is not an integer");
    expect_bad("http.port", "0x50", "http.port: '0x50' is not an integer");
    expect_bad("http.port", "70000", "http.port: 70000 is out of range (1..65535)");
    expect_bad("http.port", "0", "http.port: 0 is out of range (1..65535)");
    expect_bad("http.port", "-1", "http.port: -1 is out of range (1..65535)");
    expect_bad("http.port", "99999999999999999999",
               "http.port: '99999999999999999999' is out of range (1..65535)");
}

static void bool_parser_accepts_common_spellings(void **state)
{
    (void)state;
    const char *yes[] = {"true", "TRUE", "yes", "on", "1"};
    const char *no[] = {"false", "False", "no", "off", "0"};
    mt_errbuf eb;
    for (size_t i = 0; i < 5; i++) {
        bool b = false;
        assert_int_equal(parse("verbose", yes[i], &b, &eb), MT_OK);
        assert_true(b);
        assert_int_equal(parse("verbose", no[i], &b, &eb), MT_OK);
        assert_false(b);
    }
    expect_bad("verbose", "maybe", "verbose: 'maybe' is not a boolean (use true or false)");
    expect_bad("verbose", "", "verbose: '' is not a boolean (use true or false)");
}

static void duration_parser_converts_units_to_ms(void **state)
{
    (void)state;
    struct { const char *text; int64_t ms; } ok[] = {
        {"250ms", 250}, {"5s", 5000}, {"2m", 120000}, {"1h", 3600000}, {"0", 0}, {"0s", 0},
    };
    mt_errbuf eb;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -1;
        assert_int_equal(parse("timeout", ok[i].text, &v, &eb), MT_OK);
        assert_true(v == ok[i].ms);
    }
    int64_t v;
    assert_int_equal(parse("timeout", "2562047788015h", &v, &eb), MT_OK); /* fits */
}

static void duration_parser_rejects_bad_values_and_overflow(void **state)
{
    (void)state;
    expect_bad("kafka.linger", "5x", "kafka.linger: '5x' is not a duration (use e.g. 250ms, 5s)");
    expect_bad("kafka.linger", "5", "kafka.linger: '5' is not a duration (use e.g. 250ms, 5s)");
    expect_bad("kafka.linger", "1.5s", "kafka.linger: '1.5s' is not a duration (use e.g. 250ms, 5s)");
    expect_bad("kafka.linger", "-5s", "kafka.linger: '-5s' is not a duration (use e.g. 250ms, 5s)");
    expect_bad("kafka.linger", "s", "kafka.linger: 's' is not a duration (use e.g. 250ms, 5s)");
    expect_bad("kafka.linger", "5 s", "kafka.linger: '5 s' is not a duration (use e.g. 250ms, 5s)");
    expect_bad("kafka.linger", "2m1s", "kafka.linger: '2m1s' is not a duration (use e.g. 250ms, 5s)");
    expect_bad("kafka.linger", "2h", "kafka.linger: '2h' is out of range (0ms..1m)");
    expect_bad("timeout", "2562047788016h", "timeout: '2562047788016h' is too large for a duration");
    expect_bad("timeout", "99999999999999999999ms",
               "timeout: '99999999999999999999ms' is too large for a duration");
}

static void size_parser_converts_units_to_bytes(void **state)
{
    (void)state;
    struct { const char *text; int64_t bytes; } ok[] = {
        {"512", 512}, {"512B", 512}, {"64KiB", 65536}, {"10MiB", 10485760},
        {"1GiB", 1073741824}, {"2TiB", (int64_t)2 << 40}, {"5MB", 5000000}, {"3KB", 3000},
        {"0", 0},
    };
    mt_errbuf eb;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = -1;
        assert_int_equal(parse("max-body", ok[i].text, &v, &eb), MT_OK);
        assert_true(v == ok[i].bytes);
    }
}

static void size_parser_rejects_bad_values_and_overflow(void **state)
{
    (void)state;
    expect_bad("max-body", "10MB/s", "max-body: '10MB/s' is not a size (use e.g. 64KiB, 10MiB)");
    expect_bad("max-body", "10mib", "max-body: '10mib' is not a size (use e.g. 64KiB, 10MiB)");
    expect_bad("max-body", "KiB", "max-body: 'KiB' is not a size (use e.g. 64KiB, 10MiB)");
    expect_bad("max-body", "8388608TiB", "max-body: '8388608TiB' is too large for a size");
    expect_bad("max-body", "18446744073709551616",
               "max-body: '18446744073709551616' is too large for a size");
    int64_t v;
    mt_errbuf eb;
    assert_int_equal(parse("max-body", "8388607TiB", &v, &eb), MT_OK);
    mt_cfg_option bounded = {"spool.max", MT_CFG_SIZE, NULL, NULL, 0, 4096, (int64_t)1 << 30,
                             NULL, 0};
    assert_int_equal(mt_cfg_parse_value(&bounded, "2GiB", &v, &eb), MT_ERR_CONFIG);
    assert_string_equal(eb.msg, "spool.max: '2GiB' is out of range (4KiB..1GiB)");
    assert_int_equal(mt_cfg_parse_value(&bounded, "4095", &v, &eb), MT_ERR_CONFIG);
    assert_string_equal(eb.msg, "spool.max: '4095' is out of range (4KiB..1GiB)");
}

static void enum_parser_matches_exactly(void **state)
{
    (void)state;
    int v = -1;
    mt_errbuf eb;
    assert_int_equal(parse("mode", "async", &v, &eb), MT_OK);
    assert_int_equal(v, 1);
    expect_bad("mode", "fast", "mode: 'fast' is not one of: strict, async");
    expect_bad("mode", "Async", "mode: 'Async' is not one of: strict, async");
    expect_bad("log.level", "verbose", "log.level: 'verbose' is not one of: debug, info, warn, error");
}

static void list_parser_splits_trims_and_checks_key_value(void **state)
{
    (void)state;
    mt_strlist l = {NULL, 0};
    mt_errbuf eb;
    assert_int_equal(parse("tags", " x , y,,z ", &l, &eb), MT_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[0], "x");
    assert_string_equal(l.items[2], "z");
    assert_int_equal(parse("tags", "", &l, &eb), MT_OK); /* replaces, frees the old list */
    assert_int_equal(l.n, 0);
    assert_int_equal(parse("kafka.properties",
                           "security.protocol=SSL,ssl.cipher.suites=A:B,C:D,sasl.mechanism=PLAIN",
                           &l, &eb),
                     MT_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[1], "ssl.cipher.suites=A:B,C:D");
    assert_string_equal(l.items[2], "sasl.mechanism=PLAIN");
    expect_bad("kafka.properties", "novalue", "kafka.properties: 'novalue' is not key=value");
    expect_bad("kafka.properties", "=x", "kafka.properties: '=x' is not key=value");
    /* JSON array text (env, CLI): items may hold commas, e.g. an argv */
    assert_int_equal(parse("tags", " [\"npx\", \"-y\", \"a,b\"]", &l, &eb), MT_OK);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.items[2], "a,b");
    expect_bad("tags", "[\"x\", 1]", "tags: item 1 of the JSON array is not a string");
    expect_bad("tags", "[\"x\"", NULL);
    for (size_t i = 0; i < l.n; i++)
        free(l.items[i]);
    free(l.items);
}

static void env_names_are_prefixed_upper_case_with_underscores(void **state)
{
    (void)state;
    char name[64];
    mt_cfg_env_name("MCPTRAIL_", "kafka.brokers", name, sizeof name);
    assert_string_equal(name, "MCPTRAIL_KAFKA_BROKERS");
    mt_cfg_env_name("MCPTRAIL_", "max-body", name, sizeof name);
    assert_string_equal(name, "MCPTRAIL_MAX_BODY");
    mt_cfg_env_name("MCPTRAIL_", "kafka.brokers", name, 12);
    assert_string_equal(name, "MCPTRAIL_KA"); /* truncated, terminated */
}

static void file_accepts_nested_and_dotted_keys(void **state)
{
    (void)state;
    const char *path = write_file("c.json",
                                  "{\"kafka\": {\"brokers\": \"k1:9092,k2:9092\", \"linger\": \"20ms\","
                                  " \"properties\": {\"security.protocol\": \"SSL\", \"retries\": 3}},"
                                  " \"http.port\": 9000, \"verbose\": true, \"tags\": [\"p\", \"q\"],"
                                  " \"max-body\": 2048, \"log\": {\"level\": \"debug\"},"
                                  " \"service.name\": null}");
    struct tcfg c = {0};
    mt_errbuf eb;
    assert_int_equal(load(&c, NULL, NULL, &eb, "--config", path, NULL), MT_OK);
    assert_string_equal(c.common.kafka_brokers, "k1:9092,k2:9092");
    assert_int_equal(c.linger, 20);
    assert_int_equal(c.common.kafka_properties.n, 2);
    assert_string_equal(c.common.kafka_properties.items[0], "security.protocol=SSL");
    assert_string_equal(c.common.kafka_properties.items[1], "retries=3");
    assert_int_equal(c.port, 9000);
    assert_true(c.verbose);
    assert_int_equal(c.tags.n, 2);
    assert_int_equal(c.max_body, 2048);
    assert_int_equal(c.common.log_level, 0);
    assert_string_equal(c.name, "svc"); /* null keeps the default */
    mt_cfg_free(&spec, &c);
}

static void file_unknown_key_names_closest_option(void **state)
{
    (void)state;
    struct tcfg c = {0};
    mt_errbuf eb;
    char want[512];
    const char *path = write_file("u.json", "{\"kafka\": {\"broker\": \"x\"}}");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--config", path, NULL), MT_ERR_CONFIG);
    snprintf(want, sizeof want,
             "config file %s: unknown key 'kafka.broker' (closest known option: 'kafka.brokers')",
             path);
    assert_string_equal(eb.msg, want);
    path = write_file("u2.json", "{\"htpp.port\": 1}");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--config", path, NULL), MT_ERR_CONFIG);
    snprintf(want, sizeof want,
             "config file %s: unknown key 'htpp.port' (closest known option: 'http.port')", path);
    assert_string_equal(eb.msg, want);
    /* an object under a leaf name is not a way to sneak in unknown keys */
    path = write_file("u3.json", "{\"http\": {\"port\": {\"x\": 1}}}");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--config", path, NULL), MT_ERR_CONFIG);
    snprintf(want, sizeof want, "http.port: expected an integer, got object [in config file %s]",
             path);
    assert_string_equal(eb.msg, want);
    mt_cfg_free(&spec, &c);
}

static void file_rejects_wrong_types_duplicates_and_bad_json(void **state)
{
    (void)state;
    struct tcfg c = {0};
    mt_errbuf eb;
    char want[512];
    const char *path = write_file("t.json", "{\"kafka.brokers\": 9092}");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--config", path, NULL), MT_ERR_CONFIG);
    snprintf(want, sizeof want, "kafka.brokers: expected a string, got integer [in config file %s]",
             path);
    assert_string_equal(eb.msg, want);
    path = write_file("t2.json", "{\"kafka.linger\": \"5x\"}");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--config", path, NULL), MT_ERR_CONFIG);
    snprintf(want, sizeof want,
             "kafka.linger: '5x' is not a duration (use e.g. 250ms, 5s) [in config file %s]", path);
    assert_string_equal(eb.msg, want);
    path = write_file("t3.json", "{\"kafka.brokers\": \"a\", \"kafka\": {\"brokers\": \"b\"}}");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--config", path, NULL), MT_ERR_CONFIG);
    snprintf(want, sizeof want,
             "config file %s: 'kafka.brokers' is set twice (nested and dotted forms)", path);
    assert_string_equal(eb.msg, want);
    path = write_file("t4.json", "{\"verbose\": true, \"verbose\": false}");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--config", path, NULL), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "duplicate object key"));
    path = write_file("t5.json", "{\"verbose\": tru}");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--config", path, NULL), MT_ERR_PARSE);
    snprintf(want, sizeof want, "config file %s: invalid JSON at line 1, column ", path);
    assert_memory_equal(eb.msg, want, strlen(want));
    path = write_file("t6.json", "[1]");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--config", path, NULL), MT_ERR_CONFIG);
    snprintf(want, sizeof want, "config file %s: top level must be an object, got array", path);
    assert_string_equal(eb.msg, want);
    path = write_file("t7.json", "{\"tags\": [\"a\", 2]}");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--config", path, NULL), MT_ERR_CONFIG);
    snprintf(want, sizeof want, "tags: item 2 must be a string, got integer [in config file %s]",
             path);
    assert_string_equal(eb.msg, want);
    assert_int_equal(load(&c, NULL, NULL, &eb, "--config", "/nonexistent/mt.json", NULL),
                     MT_ERR_NOT_FOUND);
    assert_string_equal(eb.msg, "config file /nonexistent/mt.json: No such file or directory");
    mt_cfg_free(&spec, &c);
}

static void precedence_is_defaults_file_env_cli(void **state)
{
    (void)state;
    const char *path = write_file("p.json", "{\"service.name\": \"file\", \"http.port\": 1001,"
                                            " \"mode\": \"async\", \"timeout\": \"1m\"}");
    char *env[] = {"MCPTRAIL_SERVICE_NAME=env", "MCPTRAIL_HTTP_PORT=1002", "OTHER=1", NULL};
    struct tcfg c = {0};
    mt_errbuf eb;
    assert_int_equal(load(&c, env, NULL, &eb, "--config", path, "--service.name=cli", NULL),
                     MT_OK);
    assert_string_equal(c.name, "cli");   /* cli > env > file */
    assert_int_equal(c.port, 1002);       /* env > file */
    assert_int_equal(c.mode, 1);          /* file > default */
    assert_int_equal(c.timeout, 60000);
    assert_int_equal(c.max_body, 1 << 20); /* default */
    /* the config file can also come from the environment */
    char *env2[] = {"MCPTRAIL_CONFIG=", NULL};
    char cfgvar[160];
    snprintf(cfgvar, sizeof cfgvar, "MCPTRAIL_CONFIG=%s", path);
    env2[0] = cfgvar;
    assert_int_equal(load(&c, env2, NULL, &eb, NULL), MT_OK); /* reload into the same struct */
    assert_string_equal(c.name, "file");
    assert_int_equal(c.port, 1001);
    mt_cfg_free(&spec, &c);
}

static void env_values_are_validated_and_named(void **state)
{
    (void)state;
    char *env[] = {"MCPTRAIL_KAFKA_LINGER=5x", NULL};
    struct tcfg c = {0};
    mt_errbuf eb;
    assert_int_equal(load(&c, env, NULL, &eb, NULL), MT_ERR_CONFIG);
    assert_string_equal(eb.msg, "kafka.linger: '5x' is not a duration (use e.g. 250ms, 5s) "
                                "[from environment variable MCPTRAIL_KAFKA_LINGER]");
    char *env2[] = {"MCPTRAIL_MAX_BODY=64KiB", "MCPTRAIL_KAFKA_PROPERTIES=a=1,b=2", NULL};
    assert_int_equal(load(&c, env2, NULL, &eb, NULL), MT_OK);
    assert_int_equal(c.max_body, 65536);
    assert_int_equal(c.common.kafka_properties.n, 2);
    mt_cfg_free(&spec, &c);
}

static void cli_accepts_equals_space_and_bare_bool_forms(void **state)
{
    (void)state;
    struct tcfg c = {0};
    mt_errbuf eb;
    mt_cfg_result res;
    assert_int_equal(load(&c, NULL, &res, &eb, "--http.port=81", "--kafka.linger", "1s",
                          "--verbose", "--kafka.properties", "a=1", "--kafka.properties=b=2,c=3",
                          "--tags", "x", NULL),
                     MT_OK);
    assert_int_equal(res.action, MT_CFG_RUN);
    assert_int_equal(c.port, 81);
    assert_int_equal(c.linger, 1000);
    assert_true(c.verbose);
    assert_int_equal(c.common.kafka_properties.n, 3); /* repeated list flag appends */
    assert_string_equal(c.common.kafka_properties.items[2], "c=3");
    assert_int_equal(c.tags.n, 1); /* the CLI replaces the default list */
    mt_cfg_result_free(&res);
    assert_int_equal(load(&c, NULL, NULL, &eb, "--verbose=false", NULL), MT_OK);
    assert_false(c.verbose);
    mt_cfg_free(&spec, &c);
}

static void cli_errors_are_precise(void **state)
{
    (void)state;
    struct tcfg c = {0};
    mt_errbuf eb;
    assert_int_equal(load(&c, NULL, NULL, &eb, "--kafka.brokerz=x", NULL), MT_ERR_CONFIG);
    assert_string_equal(eb.msg,
                        "unknown flag '--kafka.brokerz' (closest known option: '--kafka.brokers')");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--http.port", NULL), MT_ERR_CONFIG);
    assert_string_equal(eb.msg, "--http.port needs a value (--http.port=VALUE)");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--http.port", "--verbose", NULL), MT_ERR_CONFIG);
    assert_string_equal(eb.msg, "--http.port needs a value (--http.port=VALUE)");
    assert_int_equal(load(&c, NULL, NULL, &eb, "stray", NULL), MT_ERR_CONFIG);
    assert_string_equal(eb.msg, "unexpected argument 'stray' (options start with --)");
    assert_int_equal(load(&c, NULL, NULL, &eb, "-v", NULL), MT_ERR_CONFIG);
    assert_string_equal(eb.msg, "unknown flag '-v' (options are --name or --name=value)");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--http.port=70000", NULL), MT_ERR_CONFIG);
    assert_string_equal(eb.msg, "http.port: 70000 is out of range (1..65535) [from command line]");
    assert_int_equal(load(&c, NULL, NULL, &eb, "--kafka.brokers=", NULL), MT_ERR_CONFIG);
    assert_string_equal(eb.msg, "kafka.brokers is required: set it in the config file, with "
                                "MCPTRAIL_KAFKA_BROKERS, or --kafka.brokers");
    mt_cfg_free(&spec, &c);
}

static void positional_arguments_when_the_spec_allows_them(void **state)
{
    (void)state;
    mt_cfg_spec s2 = spec;
    s2.positional = "verify DIR";
    struct tcfg c = {0};
    mt_errbuf eb;
    mt_cfg_result res;
    char *argv[] = {"p", "verify", "--verbose", "/data", "--", "--not-a-flag", NULL};
    assert_int_equal(mt_cfg_load(&s2, &c, 6, argv, no_env, &res, &eb), MT_OK);
    assert_int_equal(res.nargs, 3);
    assert_string_equal(res.args[0], "verify");
    assert_string_equal(res.args[1], "/data");
    assert_string_equal(res.args[2], "--not-a-flag");
    assert_true(c.verbose);
    mt_cfg_result_free(&res);
    mt_cfg_free(&s2, &c);
}

static void help_and_version_win_even_over_bad_input(void **state)
{
    (void)state;
    struct tcfg c = {0};
    mt_errbuf eb;
    mt_cfg_result res;
    char *env[] = {"MCPTRAIL_HTTP_PORT=bad", NULL};
    assert_int_equal(load(&c, env, &res, &eb, "--typo", "--help", NULL), MT_OK);
    assert_int_equal(res.action, MT_CFG_SHOW_HELP);
    mt_cfg_result_free(&res);
    assert_int_equal(load(&c, NULL, &res, &eb, "--version", NULL), MT_OK);
    assert_int_equal(res.action, MT_CFG_SHOW_VERSION);
    mt_cfg_result_free(&res);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    mt_cfg_print_version(&spec, f);
    fclose(f);
    assert_string_equal(out, "mcptrail-test 9.9.9\n");
    free(out);
    mt_cfg_free(&spec, &c);
}

static void help_lists_every_option_with_type_default_and_env(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_int_equal(mt_cfg_print_help(&spec, f), MT_OK);
    fclose(f);
    assert_non_null(strstr(out, "Usage: mcptrail-test [OPTIONS]\nTest binary.\n"));
    for (size_t p = 0; spec.parts[p].options; p++) {
        for (const mt_cfg_option *o = spec.parts[p].options; o->name; o++) {
            char flag[160], env[160], line[512];
            snprintf(flag, sizeof flag, "  --%s=", o->name);
            assert_non_null(strstr(out, flag));
            mt_cfg_env_name("MCPTRAIL_", o->name, env, sizeof env);
            snprintf(line, sizeof line, "; env: %s\n", env);
            assert_non_null(strstr(out, line));
            assert_non_null(strstr(out, o->doc));
        }
    }
    assert_non_null(strstr(out, "  --http.port=INT\n      Listen port.\n"
                                "      type: integer 1..65535; default: 8080; env: "
                                "MCPTRAIL_HTTP_PORT\n"));
    assert_non_null(strstr(out, "type: duration 0ms..1m; default: 5ms;"));
    assert_non_null(strstr(out, "type: one of debug|info|warn|error; default: info;"));
    assert_non_null(strstr(out, "--config FILE"));
    assert_non_null(strstr(out, "--print-config"));
    free(out);
}

static void print_config_masks_secrets(void **state)
{
    (void)state;
    const char *secret = write_file("token", "s3cr3t-upstream\n");
    char tokarg[160];
    snprintf(tokarg, sizeof tokarg, "--upstream.token_file=%s", secret);
    char *env[] = {"MCPTRAIL_UPSTREAM_AUTH=inline-pass", NULL};
    struct tcfg c = {0};
    mt_errbuf eb;
    mt_cfg_result res;
    assert_int_equal(load(&c, env, &res, &eb, tokarg, "--print-config",
                          "--kafka.properties=sasl.password=pw1,sasl.username=bob,"
                          "ssl.key.password=pw2,sasl.oauthbearer.client.secret=pw3",
                          "--timeout=90s", NULL),
                     MT_OK);
    assert_int_equal(res.action, MT_CFG_PRINT_CONFIG);
    mt_cfg_result_free(&res);
    /* the secret file was read, without its newline */
    assert_string_equal(c.token_file.value, "s3cr3t-upstream");
    assert_int_equal(c.token_file.len, 15);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_int_equal(mt_cfg_print_effective(&spec, &c, f), MT_OK);
    fclose(f);
    assert_null(strstr(out, "s3cr3t"));
    assert_null(strstr(out, "inline-pass"));
    assert_null(strstr(out, "pw1"));
    assert_null(strstr(out, "pw2"));
    assert_null(strstr(out, "pw3"));
    assert_non_null(strstr(out, "\"upstream.auth\": \"[REDACTED]\""));
    assert_non_null(strstr(out, "\"sasl.password=[REDACTED]\""));
    assert_non_null(strstr(out, "\"sasl.username=bob\""));
    assert_non_null(strstr(out, secret)); /* the path is not a secret */
    assert_non_null(strstr(out, "\"timeout\": \"90s\""));
    assert_non_null(strstr(out, "\"max-body\": \"1MiB\""));
    assert_non_null(strstr(out, "\"log.level\": \"info\""));
    assert_non_null(strstr(out, "\"schema_dir\": null"));
    /* the output is itself a valid config file */
    const char *again = write_file("again.json", out);
    free(out);
    struct tcfg c2 = {0};
    assert_int_equal(load(&c2, NULL, NULL, &eb, "--config", again, NULL), MT_OK);
    assert_int_equal(c2.timeout, 90000);
    assert_string_equal(c2.token_file.value, "s3cr3t-upstream");
    mt_cfg_free(&spec, &c2);
    mt_cfg_free(&spec, &c);
}

static void secret_file_must_be_readable_and_small(void **state)
{
    (void)state;
    struct tcfg c = {0};
    mt_errbuf eb;
    assert_int_equal(load(&c, NULL, NULL, &eb, "--upstream.token_file=/nonexistent/tok", NULL),
                     MT_ERR_CONFIG);
    assert_string_equal(eb.msg,
                        "upstream.token_file: cannot read '/nonexistent/tok': No such file or "
                        "directory");
    char *big = malloc(70001);
    assert_non_null(big);
    memset(big, 'k', 70000);
    big[70000] = '\0';
    const char *path = write_file("big", big);
    free(big);
    char arg[160], want[256];
    snprintf(arg, sizeof arg, "--upstream.token_file=%s", path);
    assert_int_equal(load(&c, NULL, NULL, &eb, arg, NULL), MT_ERR_CONFIG);
    snprintf(want, sizeof want, "upstream.token_file: '%s' is larger than 65536 bytes", path);
    assert_string_equal(eb.msg, want);
    mt_cfg_free(&spec, &c);
}

static void edit_distance_counts_single_edits(void **state)
{
    (void)state;
    assert_int_equal(mt_cfg_edit_distance("kafka.broker", "kafka.brokers"), 1);
    assert_int_equal(mt_cfg_edit_distance("htpp.port", "http.port"), 1);
    assert_int_equal(mt_cfg_edit_distance("", "abc"), 3);
    assert_int_equal(mt_cfg_edit_distance("same", "same"), 0);
}

static void markdown_table_has_a_row_per_option(void **state)
{
    (void)state;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_int_equal(mt_cfg_write_markdown(test_opts, "MT_", f), MT_OK);
    fclose(f);
    assert_non_null(strstr(out, "| Option | Type | Default | Environment | Description |\n"));
    assert_non_null(strstr(out, "| `mode` | one of strict\\|async | `strict` | `MT_MODE` | "
                                "Recording mode. |\n"));
    assert_non_null(strstr(out, "| `upstream.token_file` | secret file path | (unset) | "
                                "`MT_UPSTREAM_TOKEN_FILE` |"));
    free(out);
}

static void docs_configuration_md_is_up_to_date(void **state)
{
    (void)state;
    const char *src = getenv("MT_SOURCE_DIR");
    assert_non_null(src);
    char path[512];
    snprintf(path, sizeof path, "%s/docs/configuration.md", src);
    char *gen = NULL;
    size_t genlen = 0;
    FILE *f = open_memstream(&gen, &genlen);
    assert_int_equal(mt_cfg_write_reference(mt_cfg_doc_sections, f), MT_OK);
    fclose(f);
    FILE *doc = fopen(path, "rb");
    if (!doc)
        fail_msg("%s is missing: run mcptrail-config-doc > docs/configuration.md", path);
    char *have = calloc(genlen + 2, 1);
    assert_non_null(have);
    size_t havelen = fread(have, 1, genlen + 1, doc);
    fclose(doc);
    if (havelen != genlen || memcmp(have, gen, genlen) != 0)
        fail_msg("%s is stale: run build/tools/mcptrail-config-doc > docs/configuration.md",
                 path);
    assert_memory_equal(gen, "<!-- Generated by `mcptrail-config-doc > docs/configuration.md`",
                        strlen("<!-- Generated by `mcptrail-config-doc > docs/configuration.md`"));
    free(have);
    free(gen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_fill_the_struct),
        cmocka_unit_test(int_parser_accepts_signed_decimal_within_bounds),
        cmocka_unit_test(int_parser_rejects_bad_and_out_of_range_values),
        cmocka_unit_test(bool_parser_accepts_common_spellings),
        cmocka_unit_test(duration_parser_converts_units_to_ms),
        cmocka_unit_test(duration_parser_rejects_bad_values_and_overflow),
        cmocka_unit_test(size_parser_converts_units_to_bytes),
        cmocka_unit_test(size_parser_rejects_bad_values_and_overflow),
        cmocka_unit_test(enum_parser_matches_exactly),
        cmocka_unit_test(list_parser_splits_trims_and_checks_key_value),
        cmocka_unit_test(env_names_are_prefixed_upper_case_with_underscores),
        cmocka_unit_test_setup_teardown(file_accepts_nested_and_dotted_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(file_unknown_key_names_closest_option, setup, teardown),
        cmocka_unit_test_setup_teardown(file_rejects_wrong_types_duplicates_and_bad_json, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(precedence_is_defaults_file_env_cli, setup, teardown),
        cmocka_unit_test(env_values_are_validated_and_named),
        cmocka_unit_test(cli_accepts_equals_space_and_bare_bool_forms),
        cmocka_unit_test(cli_errors_are_precise),
        cmocka_unit_test(positional_arguments_when_the_spec_allows_them),
        cmocka_unit_test(help_and_version_win_even_over_bad_input),
        cmocka_unit_test(help_lists_every_option_with_type_default_and_env),
        cmocka_unit_test_setup_teardown(print_config_masks_secrets, setup, teardown),
        cmocka_unit_test_setup_teardown(secret_file_must_be_readable_and_small, setup, teardown),
        cmocka_unit_test(edit_distance_counts_single_edits),
        cmocka_unit_test(markdown_table_has_a_row_per_option),
        cmocka_unit_test(docs_configuration_md_is_up_to_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
