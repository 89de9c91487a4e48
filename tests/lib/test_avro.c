/* avro: Parsing Canonical Form and CRC-64-AVRO against the Avro project's own
 * reference vectors (share/test/data/schema-tests.txt), the mcptrail schemas,
 * round trips of every Avro type and of the sample events, and the decoder's
 * answer to each kind of hostile input (truncation, bad magic, unknown
 * fingerprint, oversized lengths and counts, deep nesting, trailing bytes,
 * invalid UTF-8). Leaks are caught by LeakSanitizer in sanitizer builds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mcptrail/avro.h"
#include "sample_events.h"

/* ---- helpers ---------------------------------------------------------------- */

static mt_avro_registry *load_registry(void)
{
    mt_avro_registry *reg = NULL;
    mt_errbuf eb = {""};
    mt_err err = mt_avro_registry_load(NULL, &reg, &eb);
    if (err)
        fail_msg("registry load failed: %s", eb.msg);
    return reg;
}

static mt_avro_schema *parse_schema(const char *text)
{
    mt_avro_schema *s = NULL;
    mt_errbuf eb = {""};
    if (mt_avro_schema_parse(text, &s, &eb))
        fail_msg("schema parse failed: %s", eb.msg);
    return s;
}

static void put_varint(mt_buf *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
    while (z > 0x7f) {
        assert_int_equal(mt_buf_append_byte(b, (uint8_t)(z | 0x80)), MT_OK);
        z >>= 7;
    }
    assert_int_equal(mt_buf_append_byte(b, (uint8_t)z), MT_OK);
}

/* Decodes raw datum bytes with schema text and returns the error code. */
static mt_err decode_raw(const char *schema, const uint8_t *data, size_t len, mt_errbuf *eb)
{
    mt_avro_schema *s = parse_schema(schema);
    json_t *v = (json_t *)1;
    mt_err err = mt_avro_decode_datum(s, data, len, &v, eb);
    if (err)
        assert_null(v);
    json_decref(v);
    mt_avro_schema_free(s);
    return err;
}

typedef json_t *(*sample_fn)(uint64_t);
static const struct {
    const char *name;
    sample_fn fn;
} samples[] = {
    {"dev.mcptrail.SessionEvent", mt_sample_session_event},
    {"dev.mcptrail.ApprovalRequest", mt_sample_approval_request},
    {"dev.mcptrail.ApprovalVote", mt_sample_approval_vote},
    {"dev.mcptrail.ApprovalDecision", mt_sample_approval_decision},
};

/* ---- fingerprints and canonical form ------------------------------------- */

/* From Avro's share/test/data/schema-tests.txt: input, canonical form and the
 * Java long fingerprint (0 = none given in the file for that case). */
static const struct {
    const char *input, *canonical;
    int64_t fp;
} pcf_vectors[] = {
    {"\"null\"", "\"null\"", 7195948357588979594LL},
    {"{\"type\":\"null\"}", "\"null\"", 0},
    {"\"boolean\"", "\"boolean\"", -6970731678124411036LL},
    {"{\"type\":\"boolean\"}", "\"boolean\"", 0},
    {"\"int\"", "\"int\"", 8247732601305521295LL},
    {"{\"type\":\"int\"}", "\"int\"", 0},
    {"\"long\"", "\"long\"", -3434872931120570953LL},
    {"{\"type\":\"long\"}", "\"long\"", 0},
    {"\"float\"", "\"float\"", 5583340709985441680LL},
    {"{\"type\":\"float\"}", "\"float\"", 0},
    {"\"double\"", "\"double\"", -8181574048448539266LL},
    {"{\"type\":\"double\"}", "\"double\"", 0},
    {"\"bytes\"", "\"bytes\"", 5746618253357095269LL},
    {"{\"type\":\"bytes\"}", "\"bytes\"", 0},
    {"\"string\"", "\"string\"", -8142146995180207161LL},
    {"{\"type\":\"string\"}", "\"string\"", 0},
    {"[  ]", "[]", -1241056759729112623LL},
    {"[ \"int\"  ]", "[\"int\"]", -5232228896498058493LL},
    {"[ \"int\" , {\"type\":\"boolean\"} ]", "[\"int\",\"boolean\"]", 5392556393470105090LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"x.y.foo\",\"type\":\"record\",\"fields\":[]}", 5916914534497305771LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"a.b.foo\", \"namespace\":\"x.y\"}",
     "{\"name\":\"a.b.foo\",\"type\":\"record\",\"fields\":[]}", -4616218487480524110LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"Useful info\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922LL},
    {"{\"fields\":[], \"type\":\"record\", \"name\":\"foo\", \"doc\":\"foo\", "
     "\"aliases\":[\"foo\",\"bar\"]}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[]}", -4824392279771201922LL},
    {"{\"fields\":[{\"type\":{\"type\":\"boolean\"}, \"name\":\"f1\"}], \"type\":\"record\", "
     "\"name\":\"foo\"}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"}]}",
     7843277075252814651LL},
    {"{ \"fields\":[{\"type\":\"boolean\", \"aliases\":[], \"name\":\"f1\", "
     "\"default\":\"true\"},\n"
     "            {\"order\":\"descending\",\"name\":\"f2\",\"doc\":\"Hello\",\"type\":\"int\"}],\n"
     "  \"type\":\"record\", \"name\":\"foo\"\n}",
     "{\"name\":\"foo\",\"type\":\"record\",\"fields\":[{\"name\":\"f1\",\"type\":\"boolean\"},"
     "{\"name\":\"f2\",\"type\":\"int\"}]}",
     -4860222112080293046LL},
    {"{\"type\":\"enum\", \"name\":\"foo\", \"symbols\":[\"A1\"]}",
     "{\"name\":\"foo\",\"type\":\"enum\",\"symbols\":[\"A1\"]}", -6342190197741309591LL},
    {"{\"namespace\":\"x.y.z\", \"type\":\"enum\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"symbols\":[\"A1\", \"A2\"]}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"enum\",\"symbols\":[\"A1\",\"A2\"]}",
     -4448647247586288245LL},
    {"{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}",
     "{\"name\":\"foo\",\"type\":\"fixed\",\"size\":15}", 1756455273707447556LL},
    {"{\"namespace\":\"x.y.z\", \"type\":\"fixed\", \"name\":\"foo\", \"doc\":\"foo bar\", "
     "\"size\":32}",
     "{\"name\":\"x.y.z.foo\",\"type\":\"fixed\",\"size\":32}", -3064184465700546786LL},
    {"{ \"items\":{\"type\":\"null\"}, \"type\":\"array\"}",
     "{\"type\":\"array\",\"items\":\"null\"}", -589620603366471059LL},
    {"{ \"values\":\"string\", \"type\":\"map\"}", "{\"type\":\"map\",\"values\":\"string\"}",
     -8732877298790414990LL},
    {"{\"name\":\"PigValue\",\"type\":\"record\",\n"
     "   \"fields\":[{\"name\":\"value\", \"type\":[\"null\", \"int\", \"long\", \"PigValue\"]}]}",
     "{\"name\":\"PigValue\",\"type\":\"record\",\"fields\":[{\"name\":\"value\",\"type\":"
     "[\"null\",\"int\",\"long\",\"PigValue\"]}]}",
     -1759257747318642341LL},
};

static void pcf_and_fingerprint_match_avro_reference_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof pcf_vectors / sizeof pcf_vectors[0]; i++) {
        char *pcf = NULL;
        mt_errbuf eb = {""};
        mt_err err = mt_avro_parsing_canonical_form(pcf_vectors[i].input, &pcf, &eb);
        if (err)
            fail_msg("vector %zu: %s", i, eb.msg);
        if (strcmp(pcf, pcf_vectors[i].canonical) != 0)
            fail_msg("vector %zu: PCF %s, expected %s", i, pcf, pcf_vectors[i].canonical);
        uint64_t fp = mt_avro_crc64(pcf, strlen(pcf));
        if (pcf_vectors[i].fp != 0 && fp != (uint64_t)pcf_vectors[i].fp)
            fail_msg("vector %zu: fingerprint %016llx, expected %016llx", i, (unsigned long long)fp,
                     (unsigned long long)pcf_vectors[i].fp);
        free(pcf);
    }
}

static void crc64_of_string_schema_is_published_value(void **state)
{
    (void)state;
    /* "string" -> 0x8f014872634503c7, quoted in the Avro spec discussion. */
    assert_int_equal(mt_avro_crc64("\"string\"", 8), 0x8f014872634503c7ULL);
    /* CRC-64-AVRO of no bytes is the EMPTY constant itself. */
    assert_int_equal(mt_avro_crc64("", 0), 0xc15d213aa4d7a795ULL);
}

static void pcf_writes_full_names_and_names_repeats(void **state)
{
    (void)state;
    const char *in =
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"a.b\",\"doc\":\"d\",\"fields\":["
        " {\"name\":\"h\",\"type\":{\"type\":\"fixed\",\"name\":\"H\",\"size\":0032,\"doc\":\"x\"}}"
        ","
        " {\"name\":\"h2\",\"type\":[\"null\",\"H\"],\"default\":null},"
        " {\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"c.E\",\"symbols\":[\"X\"]}},"
        " {\"name\":\"t\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}},"
        " {\"name\":\"inner\",\"type\":{\"type\":\"record\",\"name\":\"I\",\"fields\":[{\"name\":"
        "\"e2\",\"type\":\"c.E\"}]}}"
        "]}";
    char *pcf = NULL;
    mt_errbuf eb = {""};
    /* "0032" is not valid JSON (leading zero): the parser must refuse it. */
    assert_int_equal(mt_avro_parsing_canonical_form(in, &pcf, &eb), MT_ERR_PARSE);
    char fixed_in[1024];
    const char *p = strstr(in, "0032");
    snprintf(fixed_in, sizeof fixed_in, "%.*s32%s", (int)(p - in), in, p + 4);
    if (mt_avro_parsing_canonical_form(fixed_in, &pcf, &eb))
        fail_msg("%s", eb.msg);
    assert_string_equal(
        pcf, "{\"name\":\"a.b.R\",\"type\":\"record\",\"fields\":["
             "{\"name\":\"h\",\"type\":{\"name\":\"a.b.H\",\"type\":\"fixed\",\"size\":32}},"
             "{\"name\":\"h2\",\"type\":[\"null\",\"a.b.H\"]},"
             "{\"name\":\"e\",\"type\":{\"name\":\"c.E\",\"type\":\"enum\",\"symbols\":[\"X\"]}},"
             "{\"name\":\"t\",\"type\":\"long\"},"
             "{\"name\":\"inner\",\"type\":{\"name\":\"a.b.I\",\"type\":\"record\",\"fields\":"
             "[{\"name\":\"e2\",\"type\":\"c.E\"}]}}]}");
    free(pcf);
}

static void schema_errors_are_parse_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "not json",
        "\"Unknown\"",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"Nope\"}]}",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"},{"
        "\"name\":\"a\",\"type\":\"int\"}]}",
        "{\"type\":\"record\",\"name\":\"1R\",\"fields\":[]}",
        "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"A\"]}",
        "{\"type\":\"fixed\",\"name\":\"F\",\"size\":-1}",
        "[\"int\",\"int\"]",
        "[\"null\",[\"int\"]]",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":{\"type\":"
        "\"fixed\",\"name\":\"R\",\"size\":1}}]}",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":\"int\","
        "\"default\":\"x\"}]}",
        "{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":\"a\",\"type\":[\"null\","
        "\"int\"],\"default\":5}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mt_avro_schema *s = NULL;
        mt_errbuf eb = {""};
        mt_err err = mt_avro_schema_parse(bad[i], &s, &eb);
        if (err != MT_ERR_PARSE)
            fail_msg("schema %zu: got %s, expected MT_ERR_PARSE", i, mt_errname(err));
        assert_null(s);
        assert_true(eb.msg[0] != '\0');
    }
}

/* ---- registry ---------------------------------------------------------------- */

static void registry_holds_the_four_schemas(void **state)
{
    (void)state;
    mt_avro_registry *reg = load_registry();
    assert_int_equal(mt_avro_registry_count(reg), 4);
    for (size_t i = 0; i < 4; i++) {
        const mt_avro_schema *s = mt_avro_registry_find(reg, samples[i].name);
        assert_non_null(s);
        assert_string_equal(mt_avro_schema_name(s), samples[i].name);
        assert_ptr_equal(mt_avro_registry_find_fp(reg, mt_avro_schema_fingerprint(s)), s);
        const char *pcf = mt_avro_schema_canonical(s);
        assert_int_equal(mt_avro_crc64(pcf, strlen(pcf)), mt_avro_schema_fingerprint(s));
        assert_non_null(strstr(mt_avro_schema_json(s), "\"doc\""));
    }
    assert_null(mt_avro_registry_find(reg, "dev.mcptrail.Nope"));
    assert_null(mt_avro_registry_find_fp(reg, 0x1234));
    mt_avro_registry_free(reg);
}

/* ---- schema evolution ------------------------------------------------------ */

/* Records written by an earlier version (schemas/previous) decode as the
 * current schema, with the fields added since at their defaults. */
static void previous_versions_decode_as_the_current_schema(void **state)
{
    (void)state;
    mt_avro_registry *reg = load_registry();
    assert_true(mt_avro_registry_previous_count(reg) >= 2);
    const mt_avro_schema *cur = mt_avro_registry_find(reg, "dev.mcptrail.ApprovalVote");
    const mt_avro_version *v1 = NULL;
    for (size_t i = 0; i < mt_avro_registry_previous_count(reg); i++) {
        const mt_avro_version *v = mt_avro_registry_previous_at(reg, i);
        assert_ptr_equal(v->reader, mt_avro_registry_find(reg, mt_avro_schema_name(v->writer)));
        assert_int_not_equal(mt_avro_schema_fingerprint(v->writer),
                             mt_avro_schema_fingerprint(v->reader));
        if (v->reader == cur)
            v1 = v;
    }
    assert_non_null(v1);
    assert_ptr_equal(mt_avro_registry_previous(reg, mt_avro_schema_fingerprint(v1->writer)), v1);
    assert_null(mt_avro_registry_find_fp(reg, mt_avro_schema_fingerprint(v1->writer)));
    json_t *in = mt_sample_approval_vote(1);
    json_object_del(in, "key_id");
    json_object_del(in, "signature");
    mt_buf b = MT_BUF_INIT;
    mt_errbuf eb = {""};
    if (mt_avro_encode(v1->writer, in, &b, &eb))
        fail_msg("encode with the previous version: %s", eb.msg);
    const mt_avro_schema *got = NULL;
    json_t *out = NULL;
    if (mt_avro_decode(reg, b.data, b.len, &got, &out, &eb))
        fail_msg("decode of a previous version: %s", eb.msg);
    assert_ptr_equal(got, cur);
    assert_true(json_is_null(json_object_get(out, "key_id")));
    assert_true(json_is_null(json_object_get(out, "signature")));
    json_object_del(out, "key_id");
    json_object_del(out, "signature");
    assert_true(json_equal(in, out));
    /* A truncated old record still fails as truncated. */
    json_decref(out);
    out = (json_t *)1;
    assert_int_equal(mt_avro_decode(reg, b.data, b.len - 1, NULL, &out, NULL), MT_ERR_TRUNCATED);
    assert_null(out);
    mt_buf_free(&b);
    json_decref(in);
    mt_avro_registry_free(reg);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A previous version the current schema cannot read fails the load, and
 * the message names the file and the field. */
static void incompatible_previous_version_fails_the_load(void **state)
{
    (void)state;
    static const char cur[] =
        "{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":["
        "{\"name\":\"a\",\"type\":\"string\"},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"x\",\"y\"]}},"
        "{\"name\":\"n\",\"type\":[\"null\",\"long\"],\"default\":null}]}";
    static const struct {
        const char *prev, *want;
    } cases[] = {
        /* compatible: a field added with a default since */
        {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":["
         "{\"name\":\"a\",\"type\":\"string\"},"
         "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"x\"]}}]}",
         NULL},
        {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":["
         "{\"name\":\"a\",\"type\":\"string\"},{\"name\":\"gone\",\"type\":\"int\"},"
         "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"x\"]}}]}",
         "t.R.gone: field removed"},
        {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":["
         "{\"name\":\"a\",\"type\":\"string\"},"
         "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"x\",\"z\"]}}]}",
         "enum symbol z removed"},
        {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":["
         "{\"name\":\"a\",\"type\":\"bytes\"},"
         "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"x\"]}}]}",
         "t.R.a: bytes became string"},
        {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":["
         "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"x\"]}}]}",
         "t.R.a: added without a default"},
        {"{\"type\":\"record\",\"name\":\"Other\",\"namespace\":\"t\",\"fields\":[]}",
         "which no current schema defines"},
        {cur, "is loaded already"},
        /* a nullable pair may not become a wider union (its JSON form changes) */
        {"{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"t\",\"fields\":["
         "{\"name\":\"a\",\"type\":\"string\"},"
         "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"x\"]}},"
         "{\"name\":\"n\",\"type\":[\"null\",\"long\",\"string\"]}]}",
         "are not interchangeable"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[] = "/tmp/mt-avro-evo.XXXXXX", sub[64];
        assert_non_null(mkdtemp(dir));
        snprintf(sub, sizeof sub, "%s/previous", dir);
        assert_int_equal(mkdir(sub, 0700), 0);
        write_file(dir, "r.avsc", cur);
        write_file(sub, "r.v1.avsc", cases[i].prev);
        mt_avro_registry *reg = NULL;
        mt_errbuf eb = {""};
        mt_err err = mt_avro_registry_load(dir, &reg, &eb);
        if (!cases[i].want) {
            if (err)
                fail_msg("case %zu: %s", i, eb.msg);
            assert_int_equal(mt_avro_registry_previous_count(reg), 1);
        } else {
            assert_int_not_equal(err, MT_OK);
            assert_null(reg);
            if (!strstr(eb.msg, cases[i].want) || !strstr(eb.msg, "r.v1.avsc"))
                fail_msg("case %zu: '%s' does not say '%s'", i, eb.msg, cases[i].want);
        }
        mt_avro_registry_free(reg);
        char path[128];
        snprintf(path, sizeof path, "%s/r.v1.avsc", sub);
        unlink(path);
        rmdir(sub);
        snprintf(path, sizeof path, "%s/r.avsc", dir);
        unlink(path);
        rmdir(dir);
    }
}

/* Every record, enum, fixed and field of every schema file carries a doc. */
static void check_docs(const json_t *t, const char *where)
{
    if (json_is_array(t)) {
        size_t i;
        json_t *b;
        json_array_foreach(t, i, b) check_docs(b, where);
        return;
    }
    if (!json_is_object(t))
        return;
    const char *type = json_string_value(json_object_get(t, "type"));
    if (type && (!strcmp(type, "record") || !strcmp(type, "enum") || !strcmp(type, "fixed"))) {
        if (!json_is_string(json_object_get(t, "doc")))
            fail_msg("%s: type %s has no doc", where,
                     json_string_value(json_object_get(t, "name")));
    }
    if (type && !strcmp(type, "record")) {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(t, "fields"), i, f)
        {
            if (!json_is_string(json_object_get(f, "doc")))
                fail_msg("%s: field %s has no doc", where,
                         json_string_value(json_object_get(f, "name")));
            check_docs(json_object_get(f, "type"), where);
        }
    }
    check_docs(json_object_get(t, "items"), where);
    check_docs(json_object_get(t, "values"), where);
    if (!type)
        check_docs(json_object_get(t, "type"), where);
}

static void every_schema_record_and_field_has_a_doc(void **state)
{
    (void)state;
    mt_avro_registry *reg = load_registry();
    for (size_t i = 0; i < mt_avro_registry_count(reg); i++) {
        const mt_avro_schema *s = mt_avro_registry_at(reg, i);
        json_t *j = json_loads(mt_avro_schema_json(s), 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "namespace")), "dev.mcptrail");
        check_docs(j, mt_avro_schema_name(s));
        json_decref(j);
    }
    mt_avro_registry_free(reg);
}

static void registry_load_reports_missing_dir(void **state)
{
    (void)state;
    mt_avro_registry *reg = (mt_avro_registry *)1;
    mt_errbuf eb = {""};
    assert_int_equal(mt_avro_registry_load("/nonexistent/schemas", &reg, &eb), MT_ERR_IO);
    assert_null(reg);
    assert_non_null(strstr(eb.msg, "/nonexistent/schemas"));
}

/* ---- round trips ------------------------------------------------------------- */

static void sample_records_round_trip_through_single_object_encoding(void **state)
{
    (void)state;
    mt_avro_registry *reg = load_registry();
    mt_buf b = MT_BUF_INIT;
    for (size_t k = 0; k < 4; k++) {
        const mt_avro_schema *s = mt_avro_registry_find(reg, samples[k].name);
        for (uint64_t i = 0; i < 300; i++) {
            json_t *in = samples[k].fn(i);
            assert_non_null(in);
            mt_errbuf eb = {""};
            mt_buf_reset(&b);
            if (mt_avro_encode(s, in, &b, &eb))
                fail_msg("%s #%llu: %s", samples[k].name, (unsigned long long)i, eb.msg);
            assert_int_equal(b.data[0], 0xC3);
            assert_int_equal(b.data[1], 0x01);
            uint64_t fp = 0;
            for (int q = 0; q < 8; q++)
                fp |= (uint64_t)b.data[2 + q] << (8 * q);
            assert_int_equal(fp, mt_avro_schema_fingerprint(s));
            const mt_avro_schema *got = NULL;
            json_t *out = NULL;
            if (mt_avro_decode(reg, b.data, b.len, &got, &out, &eb))
                fail_msg("%s #%llu decode: %s", samples[k].name, (unsigned long long)i, eb.msg);
            assert_ptr_equal(got, s);
            if (!json_equal(in, out)) {
                char *a = json_dumps(in, JSON_SORT_KEYS), *c = json_dumps(out, JSON_SORT_KEYS);
                fail_msg("mismatch:\n%s\n%s", a, c);
            }
            json_decref(in);
            json_decref(out);
        }
    }
    mt_buf_free(&b);
    mt_avro_registry_free(reg);
}

static void sample_session_events_are_distinct(void **state)
{
    (void)state;
    json_t *a = mt_sample_session_event(1), *b = mt_sample_session_event(2),
           *a2 = mt_sample_session_event(1);
    assert_true(json_equal(a, a2));
    assert_string_not_equal(json_string_value(json_object_get(a, "event_id")),
                            json_string_value(json_object_get(b, "event_id")));
    size_t plen = json_string_length(json_object_get(a, "payload_masked"));
    assert_true(plen >= 250 && plen <= 450);
    json_decref(a);
    json_decref(a2);
    json_decref(b);
}

static const char all_types_schema[] =
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"n\",\"type\":\"null\"},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"by\",\"type\":\"bytes\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":[\"null\",\"string\"]}},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F4\",\"size\":4}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"int\",\"string\",\"E\",{\"type\":\"array\",\"items\":"
    "\"int\"}]},"
    "{\"name\":\"nu\",\"type\":[\"string\",\"null\"]},"
    "{\"name\":\"next\",\"type\":[\"null\",\"All\"],\"default\":null},"
    "{\"name\":\"dflt\",\"type\":{\"type\":\"record\",\"name\":\"D\",\"fields\":["
    "  {\"name\":\"x\",\"type\":\"int\",\"default\":7},"
    "  {\"name\":\"y\",\"type\":[\"string\",\"null\"],\"default\":\"hi\"}]},"
    "  \"default\":{}}"
    "]}";

static void every_avro_type_round_trips(void **state)
{
    (void)state;
    mt_avro_schema *s = parse_schema(all_types_schema);
    static const char *const values[] = {
        "{\"n\":null,\"b\":true,\"i\":-2147483648,\"l\":9223372036854775807,\"f\":1.5,"
        "\"d\":-2.25e300,\"by\":\"00ff10\",\"s\":\"h\\u00e9llo \\u2603 \\ud83d\\ude00\","
        "\"e\":\"C\",\"a\":[1,-1,0,-9223372036854775808],\"m\":{\"k\":\"v\",\"z\":null,\"\":"
        "\"empty key\"},"
        "\"fx\":\"deadbeef\",\"u\":{\"int\":5},\"nu\":\"x\",\"next\":null,\"dflt\":{\"x\":1,\"y\":"
        "null}}",
        "{\"n\":null,\"b\":false,\"i\":2147483647,\"l\":-1,\"f\":0,\"d\":0,\"by\":\"\",\"s\":\"\","
        "\"e\":\"A\",\"a\":[],\"m\":{},\"fx\":\"00000000\",\"u\":null,\"nu\":null,"
        "\"next\":{\"n\":null,\"b\":false,\"i\":0,\"l\":0,\"f\":-3.0,\"d\":1e-300,\"by\":\"ab\","
        "\"s\":\"inner\",\"e\":\"B\",\"a\":[2],\"m\":{},\"fx\":\"01020304\",\"u\":{\"t.E\":\"B\"},"
        "\"nu\":null,\"next\":null,\"dflt\":{\"x\":7,\"y\":\"hi\"}},\"dflt\":{\"x\":7,\"y\":\"hi\"}"
        "}",
        "{\"n\":null,\"b\":false,\"i\":0,\"l\":0,\"f\":0.0,\"d\":0.0,\"by\":\"\",\"s\":\"\","
        "\"e\":\"A\",\"a\":[],\"m\":{},\"fx\":\"00000000\",\"u\":{\"array\":[1,2]},\"nu\":\"\","
        "\"next\":null,\"dflt\":{\"x\":7,\"y\":\"hi\"}}",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        json_error_t je;
        json_t *in = json_loads(values[i], 0, &je);
        if (!in)
            fail_msg("value %zu: %s", i, je.text);
        mt_buf b = MT_BUF_INIT;
        mt_errbuf eb = {""};
        if (mt_avro_encode_datum(s, in, &b, &eb))
            fail_msg("value %zu: %s", i, eb.msg);
        json_t *out = NULL;
        if (mt_avro_decode_datum(s, b.data, b.len, &out, &eb))
            fail_msg("value %zu decode: %s", i, eb.msg);
        /* Integers given for float/double come back as reals: compare numerically. */
        if (!json_equal(in, out)) {
            json_t *f = json_object_get(in, "f"), *d = json_object_get(in, "d");
            if (json_number_value(f) != json_number_value(json_object_get(out, "f")) ||
                json_number_value(d) != json_number_value(json_object_get(out, "d")))
                fail_msg("value %zu float mismatch", i);
            json_object_set(in, "f", json_object_get(out, "f"));
            json_object_set(in, "d", json_object_get(out, "d"));
            if (!json_equal(in, out)) {
                char *a = json_dumps(in, JSON_SORT_KEYS), *c = json_dumps(out, JSON_SORT_KEYS);
                fail_msg("value %zu mismatch:\n%s\n%s", i, a, c);
            }
        }
        json_decref(in);
        json_decref(out);
        mt_buf_free(&b);
    }
    mt_avro_schema_free(s);
}

static void missing_optional_fields_take_their_defaults(void **state)
{
    (void)state;
    mt_avro_registry *reg = load_registry();
    const mt_avro_schema *s = mt_avro_registry_find(reg, "dev.mcptrail.SessionEvent");
    json_t *ev = mt_sample_session_event(1);
    static const char *const optional[] = {
        "http",     "rpc",           "payload_masked", "payload_hmac", "mask_summary", "policy",
        "approval", "justification", "latency_us",     "traceparent",  "prev_hash"};
    for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++)
        json_object_del(ev, optional[i]);
    json_object_del(json_object_get(ev, "identity"), "ci");
    mt_buf b = MT_BUF_INIT;
    mt_errbuf eb = {""};
    if (mt_avro_encode(s, ev, &b, &eb))
        fail_msg("%s", eb.msg);
    json_t *out = NULL;
    assert_int_equal(mt_avro_decode(reg, b.data, b.len, NULL, &out, &eb), MT_OK);
    for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++) {
        json_t *v = json_object_get(out, optional[i]);
        assert_non_null(v);
        if (strcmp(optional[i], "mask_summary") == 0)
            assert_true(json_is_array(v) && json_array_size(v) == 0);
        else
            assert_true(json_is_null(v));
    }
    assert_true(json_is_null(json_object_get(json_object_get(out, "identity"), "ci")));
    json_decref(out);
    json_decref(ev);
    mt_buf_free(&b);
    mt_avro_registry_free(reg);
}

static void encode_rejects_values_that_do_not_fit(void **state)
{
    (void)state;
    mt_avro_registry *reg = load_registry();
    const mt_avro_schema *s = mt_avro_registry_find(reg, "dev.mcptrail.SessionEvent");
    static const struct {
        const char *key, *json, *expect_in_msg;
    } cases[] = {
        {"nosuchfield", "1", "nosuchfield"},
        {"kind", "\"launch\"", "launch"},
        {"seq", "\"1\"", "seq"},
        {"payload_hmac", "\"zz\"", "payload_hmac"},
        {"payload_hmac", "\"00\"", "32 bytes"},
        {"prev_hash", "{\"bytes\":\"00\"}", "prev_hash"},
        {"mask_summary", "[{\"detector\":\"x\",\"action\":\"redact\"}]", "mask_summary[0].count"},
        {"identity", "{\"ci\":{\"run_attempt\":4294967296}}", "identity.ci.run_attempt"},
        {"source", "null", "source"},
    };
    mt_buf b = MT_BUF_INIT;
    assert_int_equal(mt_buf_append(&b, "keep", 4), MT_OK);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *ev = mt_sample_session_event(i);
        json_object_set_new(ev, cases[i].key, json_loads(cases[i].json, JSON_DECODE_ANY, NULL));
        mt_errbuf eb = {""};
        mt_err err = mt_avro_encode(s, ev, &b, &eb);
        if (err != MT_ERR_SCHEMA)
            fail_msg("case %zu: got %s (%s)", i, mt_errname(err), eb.msg);
        if (!strstr(eb.msg, cases[i].expect_in_msg))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, eb.msg, cases[i].expect_in_msg);
        assert_int_equal(b.len, 4); /* nothing half-written left behind */
        json_decref(ev);
    }
    json_t *ev = mt_sample_session_event(0);
    json_object_del(ev, "session_id");
    mt_errbuf eb = {""};
    assert_int_equal(mt_avro_encode(s, ev, &b, &eb), MT_ERR_SCHEMA);
    assert_non_null(strstr(eb.msg, "session_id"));
    json_decref(ev);
    mt_buf_free(&b);
    mt_avro_registry_free(reg);
}

/* ---- hostile input ----------------------------------------------------------- */

static void every_prefix_of_a_valid_record_is_truncated(void **state)
{
    (void)state;
    mt_avro_registry *reg = load_registry();
    for (size_t k = 0; k < 4; k++) {
        json_t *in = samples[k].fn(7);
        mt_buf b = MT_BUF_INIT;
        mt_errbuf eb = {""};
        assert_int_equal(mt_avro_encode(mt_avro_registry_find(reg, samples[k].name), in, &b, &eb),
                         MT_OK);
        for (size_t len = 0; len < b.len; len++) {
            /* A copy of exactly len bytes so ASan sees any read past the end. */
            uint8_t *copy = malloc(len ? len : 1);
            memcpy(copy, b.data, len);
            json_t *out = NULL;
            mt_err err = mt_avro_decode(reg, copy, len, NULL, &out, &eb);
            if (err != MT_ERR_TRUNCATED)
                fail_msg("%s prefix %zu/%zu: %s (%s)", samples[k].name, len, b.len, mt_errname(err),
                         eb.msg);
            assert_null(out);
            free(copy);
        }
        json_decref(in);
        mt_buf_free(&b);
    }
    mt_avro_registry_free(reg);
}

static void wrong_magic_is_bad_magic(void **state)
{
    (void)state;
    mt_avro_registry *reg = load_registry();
    json_t *out = NULL;
    mt_errbuf eb = {""};
    const uint8_t confluent[] = {0x00, 0, 0, 0, 1, 2, 'a'};
    assert_int_equal(mt_avro_decode(reg, confluent, sizeof confluent, NULL, &out, &eb),
                     MT_ERR_BAD_MAGIC);
    const uint8_t c3_02[] = {0xC3, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(mt_avro_decode(reg, c3_02, sizeof c3_02, NULL, &out, &eb), MT_ERR_BAD_MAGIC);
    assert_int_equal(mt_avro_decode(reg, (const uint8_t *)"{", 1, NULL, &out, &eb),
                     MT_ERR_BAD_MAGIC);
    assert_null(out);
    mt_avro_registry_free(reg);
}

static void unknown_fingerprint_is_unknown_schema(void **state)
{
    (void)state;
    mt_avro_registry *reg = load_registry();
    const uint8_t data[] = {0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0};
    json_t *out = NULL;
    mt_errbuf eb = {""};
    assert_int_equal(mt_avro_decode(reg, data, sizeof data, NULL, &out, &eb),
                     MT_ERR_UNKNOWN_SCHEMA);
    assert_non_null(strstr(eb.msg, "0807060504030201"));
    assert_null(out);
    mt_avro_registry_free(reg);
}

static void trailing_bytes_are_rejected(void **state)
{
    (void)state;
    mt_avro_registry *reg = load_registry();
    json_t *in = mt_sample_approval_vote(3);
    mt_buf b = MT_BUF_INIT;
    mt_errbuf eb = {""};
    assert_int_equal(
        mt_avro_encode(mt_avro_registry_find(reg, "dev.mcptrail.ApprovalVote"), in, &b, &eb),
        MT_OK);
    size_t good = b.len;
    assert_int_equal(mt_buf_append(&b, "\0garbage", 8), MT_OK);
    json_t *out = NULL;
    assert_int_equal(mt_avro_decode(reg, b.data, b.len, NULL, &out, &eb), MT_ERR_SCHEMA);
    assert_null(out);
    char want[64];
    snprintf(want, sizeof want, "byte offset %zu", good);
    assert_non_null(strstr(eb.msg, want));
    json_decref(in);
    mt_buf_free(&b);
    mt_avro_registry_free(reg);
}

static void length_beyond_remaining_bytes_is_truncated(void **state)
{
    (void)state;
    mt_buf b = MT_BUF_INIT;
    mt_errbuf eb = {""};
    put_varint(&b, 100);
    assert_int_equal(mt_buf_append(&b, "short", 5), MT_OK);
    assert_int_equal(decode_raw("\"string\"", b.data, b.len, &eb), MT_ERR_TRUNCATED);
    assert_non_null(strstr(eb.msg, "byte offset 0"));
    assert_int_equal(decode_raw("\"bytes\"", b.data, b.len, &eb), MT_ERR_TRUNCATED);
    /* 3 strings announced, bytes for fewer than 3 one-byte strings remain. */
    mt_buf_reset(&b);
    put_varint(&b, 3);
    put_varint(&b, 0);
    assert_int_equal(decode_raw("{\"type\":\"array\",\"items\":\"string\"}", b.data, b.len, &eb),
                     MT_ERR_TRUNCATED);
    /* Block byte size beyond the input. */
    mt_buf_reset(&b);
    put_varint(&b, -1);
    put_varint(&b, 1000);
    put_varint(&b, 1);
    put_varint(&b, 0);
    assert_int_equal(decode_raw("{\"type\":\"array\",\"items\":\"int\"}", b.data, b.len, &eb),
                     MT_ERR_TRUNCATED);
    mt_buf_free(&b);
}

static void absurd_sizes_are_too_large(void **state)
{
    (void)state;
    mt_buf b = MT_BUF_INIT;
    mt_errbuf eb = {""};
    put_varint(&b, (int64_t)1 << 62);
    assert_int_equal(decode_raw("\"string\"", b.data, b.len, &eb), MT_ERR_TOO_LARGE);
    assert_non_null(strstr(eb.msg, "4611686018427387904"));
    assert_int_equal(decode_raw("\"bytes\"", b.data, b.len, &eb), MT_ERR_TOO_LARGE);
    mt_buf_reset(&b);
    put_varint(&b, (int64_t)1 << 40);
    assert_int_equal(decode_raw("{\"type\":\"array\",\"items\":\"long\"}", b.data, b.len, &eb),
                     MT_ERR_TOO_LARGE);
    assert_int_equal(decode_raw("{\"type\":\"map\",\"values\":\"null\"}", b.data, b.len, &eb),
                     MT_ERR_TOO_LARGE);
    /* Zero-size items take no bytes, so only the item budget bounds them:
     * exactly the limit decodes, one more in a second block does not. */
    assert_int_equal(decode_raw("{\"type\":\"array\",\"items\":\"null\"}", b.data, b.len, &eb),
                     MT_ERR_TOO_LARGE);
    mt_buf_reset(&b);
    put_varint(&b, MT_AVRO_MAX_ITEMS);
    put_varint(&b, 0);
    assert_int_equal(decode_raw("{\"type\":\"array\",\"items\":\"null\"}", b.data, b.len, &eb),
                     MT_OK);
    mt_buf_reset(&b);
    put_varint(&b, MT_AVRO_MAX_ITEMS);
    put_varint(&b, 1);
    put_varint(&b, 0);
    assert_int_equal(decode_raw("{\"type\":\"array\",\"items\":\"null\"}", b.data, b.len, &eb),
                     MT_ERR_TOO_LARGE);
    mt_buf_free(&b);
}

static void deep_nesting_is_too_large(void **state)
{
    (void)state;
    const char *schema = "{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":\"next\","
                         "\"type\":[\"null\",\"N\"]}]}";
    mt_buf b = MT_BUF_INIT;
    mt_errbuf eb = {""};
    for (int i = 0; i < 10; i++)
        put_varint(&b, 1);
    put_varint(&b, 0);
    assert_int_equal(decode_raw(schema, b.data, b.len, &eb), MT_OK);
    mt_buf_reset(&b);
    for (int i = 0; i < 1000; i++)
        put_varint(&b, 1);
    put_varint(&b, 0);
    assert_int_equal(decode_raw(schema, b.data, b.len, &eb), MT_ERR_TOO_LARGE);
    mt_buf_free(&b);
    /* Encoding a too-deep value fails the same way instead of overflowing the stack. */
    mt_avro_schema *s = parse_schema(schema);
    json_t *v = json_pack("{s:n}", "next");
    for (int i = 0; i < 100; i++)
        v = json_pack("{s:o}", "next", v);
    mt_buf out = MT_BUF_INIT;
    assert_int_equal(mt_avro_encode_datum(s, v, &out, &eb), MT_ERR_TOO_LARGE);
    assert_int_equal(out.len, 0);
    json_decref(v);
    mt_buf_free(&out);
    mt_avro_schema_free(s);
}

static void malformed_values_are_schema_errors(void **state)
{
    (void)state;
    mt_errbuf eb = {""};
    const uint8_t overlong_varint[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(decode_raw("\"long\"", overlong_varint, sizeof overlong_varint, &eb),
                     MT_ERR_SCHEMA);
    const uint8_t eleven[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00};
    assert_int_equal(decode_raw("\"long\"", eleven, sizeof eleven, &eb), MT_ERR_SCHEMA);
    const uint8_t max_long[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(decode_raw("\"long\"", max_long, sizeof max_long, &eb), MT_OK);
    const uint8_t big_int[] = {0x80, 0x80, 0x80, 0x80, 0x10}; /* 2^31 after zig-zag */
    assert_int_equal(decode_raw("\"int\"", big_int, sizeof big_int, &eb), MT_ERR_SCHEMA);
    const uint8_t bool2[] = {2};
    assert_int_equal(decode_raw("\"boolean\"", bool2, 1, &eb), MT_ERR_SCHEMA);
    const uint8_t enum9[] = {18};
    assert_int_equal(
        decode_raw("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}", enum9, 1, &eb),
        MT_ERR_SCHEMA);
    const uint8_t branch5[] = {10};
    assert_int_equal(decode_raw("[\"null\",\"int\"]", branch5, 1, &eb), MT_ERR_SCHEMA);
    const uint8_t neg_branch[] = {1};
    assert_int_equal(decode_raw("[\"null\",\"int\"]", neg_branch, 1, &eb), MT_ERR_SCHEMA);
    const uint8_t neg_len[] = {1};
    assert_int_equal(decode_raw("\"string\"", neg_len, 1, &eb), MT_ERR_SCHEMA);
    /* First byte 8: zig-zag varint for length 4. */
    static const uint8_t bad_utf8[][5] = {
        {8, 'a', 0xff, 'b', 'c'},    /* invalid byte */
        {8, 0xc0, 0x80, 'a', 'b'},   /* overlong NUL */
        {8, 0xed, 0xa0, 0x80, 'a'},  /* UTF-16 surrogate */
        {8, 'a', 'b', 'c', 0xe2},    /* sequence cut by the end of the string */
        {8, 0xf4, 0x90, 0x80, 0x80}, /* beyond U+10FFFF */
    };
    for (size_t i = 0; i < sizeof bad_utf8 / sizeof bad_utf8[0]; i++) {
        if (decode_raw("\"string\"", bad_utf8[i], 5, &eb) != MT_ERR_SCHEMA)
            fail_msg("utf8 case %zu accepted", i);
        assert_non_null(strstr(eb.msg, "UTF-8"));
    }
    const uint8_t nan_double[] = {0, 0, 0, 0, 0, 0, 0xf8, 0x7f};
    assert_int_equal(decode_raw("\"double\"", nan_double, 8, &eb), MT_ERR_SCHEMA);
}

static void negative_block_counts_decode(void **state)
{
    (void)state;
    /* Writers may emit -count followed by the block's byte size (Avro spec). */
    mt_buf b = MT_BUF_INIT;
    put_varint(&b, -2);
    put_varint(&b, 2);
    put_varint(&b, 5);
    put_varint(&b, -6);
    put_varint(&b, 1);
    put_varint(&b, 7);
    put_varint(&b, 0);
    mt_avro_schema *s = parse_schema("{\"type\":\"array\",\"items\":\"int\"}");
    json_t *out = NULL;
    mt_errbuf eb = {""};
    if (mt_avro_decode_datum(s, b.data, b.len, &out, &eb))
        fail_msg("%s", eb.msg);
    json_t *want = json_pack("[i,i,i]", 5, -6, 7);
    assert_true(json_equal(out, want));
    json_decref(want);
    json_decref(out);
    mt_avro_schema_free(s);
    mt_buf_free(&b);
}

/* ---- streaming writer ---------------------------------------------------------- */

static const char *WRITER_SCHEMA =
    "{\"type\":\"record\",\"name\":\"W\",\"namespace\":\"t\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"n\",\"type\":\"long\"},"
    "{\"name\":\"small\",\"type\":[\"null\",\"int\"]},"
    "{\"name\":\"flag\",\"type\":\"boolean\"},"
    "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"K\",\"symbols\":[\"a\",\"b\"]}},"
    "{\"name\":\"opt\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"h\",\"type\":[\"null\",{\"type\":\"fixed\",\"name\":\"F\",\"size\":4}]},"
    "{\"name\":\"sub\",\"type\":[\"null\",{\"type\":\"record\",\"name\":\"S\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"string\"},{\"name\":\"y\",\"type\":[\"null\",\"long\"]}]}]},"
    "{\"name\":\"list\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}]}";

static void write_w(mt_avro_writer *w, mt_avro_schema *s, mt_buf *b, bool with_sub)
{
    static const uint8_t fx[4] = {0xde, 0xad, 0xbe, 0xef};
    json_t *list = json_pack("[s,s]", "p", "q");
    mt_avro_writer_begin(w, s, b);
    mt_avw_string(w, "id", "ev-1", 4);
    mt_avw_long(w, "n", -1234567890123);
    mt_avw_long(w, "small", 42);
    mt_avw_bool(w, "flag", 1);
    mt_avw_enum(w, "kind", "b");
    mt_avw_string(w, "opt", NULL, 0);
    mt_avw_fixed(w, "h", fx, sizeof fx);
    if (with_sub) {
        mt_avw_record_begin(w, "sub");
        mt_avw_string(w, "x", "\xc3\xa9t\xc3\xa9", 5);
        mt_avw_null(w, "y");
        mt_avw_record_end(w);
    } else {
        mt_avw_null(w, "sub");
    }
    mt_avw_json(w, "list", list);
    json_decref(list);
}

static void writer_matches_the_json_encoder(void **state)
{
    (void)state;
    mt_avro_schema *s = parse_schema(WRITER_SCHEMA);
    for (int with_sub = 0; with_sub < 2; with_sub++) {
        mt_buf got = MT_BUF_INIT, want = MT_BUF_INIT;
        mt_avro_writer w;
        mt_errbuf eb = {""};
        write_w(&w, s, &got, with_sub);
        assert_int_equal(mt_avro_writer_finish(&w, &eb), MT_OK);
        json_t *v = json_pack("{s:s,s:I,s:i,s:b,s:s,s:n,s:s,s:o,s:[ss]}", "id", "ev-1", "n",
                              (json_int_t)-1234567890123, "small", 42, "flag", 1, "kind", "b",
                              "opt", "h", "deadbeef", "sub",
                              with_sub ? json_pack("{s:s,s:n}", "x", "\xc3\xa9t\xc3\xa9", "y")
                                       : json_null(),
                              "list", "p", "q");
        assert_non_null(v);
        assert_int_equal(mt_avro_encode(s, v, &want, &eb), MT_OK);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.data, want.data, want.len);
        json_decref(v);
        mt_buf_free(&got);
        mt_buf_free(&want);
    }
    mt_avro_schema_free(s);
}

static void writer_errors_name_the_field_and_restore_the_buffer(void **state)
{
    (void)state;
    mt_avro_schema *s = parse_schema(WRITER_SCHEMA);
    struct {
        int step; /* which deviation */
        mt_err err;
        const char *msg;
    } cases[] = {
        {0, MT_ERR_SCHEMA, "expects field \"id\""},
        {1, MT_ERR_SCHEMA, "invalid UTF-8 at byte 1"},
        {2, MT_ERR_SCHEMA, "does not fit an Avro int"},
        {3, MT_ERR_SCHEMA, "\"c\" is not a symbol"},
        {4, MT_ERR_SCHEMA, "n: schema type long does not take this value"},
        {5, MT_ERR_SCHEMA, "opt: field of t.W not written"},
        {6, MT_ERR_SCHEMA, "sub.y: field of t.S not written"},
        {7, MT_ERR_SCHEMA, "h: t.F takes 4 bytes, got 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mt_buf b = MT_BUF_INIT;
        mt_buf_append(&b, "keep", 4);
        mt_avro_writer w;
        mt_errbuf eb = {""};
        mt_avro_writer_begin(&w, s, &b);
        int k = cases[i].step;
        if (k == 0) {
            mt_avw_string(&w, "event_id", "x", 1);
        } else {
            mt_avw_string(&w, "id", k == 1 ? "a\xff" : "a", k == 1 ? 2 : 1);
            if (k == 4) {
                mt_avw_null(&w, "n"); /* n is a plain long */
            } else {
                mt_avw_long(&w, "n", 1);
                mt_avw_long(&w, "small", k == 2 ? (int64_t)1 << 40 : 1);
                mt_avw_bool(&w, "flag", 0);
                mt_avw_enum(&w, "kind", k == 3 ? "c" : "a");
                if (k == 7) {
                    mt_avw_string(&w, "opt", "o", 1);
                    mt_avw_fixed(&w, "h", (const uint8_t *)"abc", 3);
                } else if (k == 6) {
                    mt_avw_string(&w, "opt", "o", 1);
                    mt_avw_null(&w, "h");
                    mt_avw_record_begin(&w, "sub");
                    mt_avw_string(&w, "x", "x", 1);
                    mt_avw_record_end(&w); /* y missing */
                }
            }
        }
        assert_int_equal(mt_avro_writer_finish(&w, &eb), cases[i].err);
        if (!strstr(eb.msg, cases[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, eb.msg, cases[i].msg);
        assert_int_equal(b.len, 4);
        mt_buf_free(&b);
    }
    mt_avro_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pcf_and_fingerprint_match_avro_reference_vectors),
        cmocka_unit_test(crc64_of_string_schema_is_published_value),
        cmocka_unit_test(pcf_writes_full_names_and_names_repeats),
        cmocka_unit_test(schema_errors_are_parse_errors),
        cmocka_unit_test(registry_holds_the_four_schemas),
        cmocka_unit_test(every_schema_record_and_field_has_a_doc),
        cmocka_unit_test(registry_load_reports_missing_dir),
        cmocka_unit_test(sample_records_round_trip_through_single_object_encoding),
        cmocka_unit_test(sample_session_events_are_distinct),
        cmocka_unit_test(every_avro_type_round_trips),
        cmocka_unit_test(missing_optional_fields_take_their_defaults),
        cmocka_unit_test(encode_rejects_values_that_do_not_fit),
        cmocka_unit_test(every_prefix_of_a_valid_record_is_truncated),
        cmocka_unit_test(wrong_magic_is_bad_magic),
        cmocka_unit_test(unknown_fingerprint_is_unknown_schema),
        cmocka_unit_test(trailing_bytes_are_rejected),
        cmocka_unit_test(length_beyond_remaining_bytes_is_truncated),
        cmocka_unit_test(absurd_sizes_are_too_large),
        cmocka_unit_test(deep_nesting_is_too_large),
        cmocka_unit_test(malformed_values_are_schema_errors),
        cmocka_unit_test(negative_block_counts_decode),
        cmocka_unit_test(writer_matches_the_json_encoder),
        cmocka_unit_test(previous_versions_decode_as_the_current_schema),
        cmocka_unit_test(incompatible_previous_version_fails_the_load),
        cmocka_unit_test(writer_errors_name_the_field_and_restore_the_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
