/* Unit tests of lib/src/runtime.c: kafka.properties become librdkafka
 * properties, and kafka.sasl_password_file adds sasl.password from a file
 * (never from a flag) and refuses a second password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mcptrail/runtime.h"

static const char *prop(const mt_runtime *rt, const char *key)
{
    for (size_t i = 0; i < rt->kafka.nprops; i++)
        if (strcmp(rt->kafka.props[i].key, key) == 0)
            return rt->kafka.props[i].value;
    return NULL;
}

static void password_file_adds_sasl_password(void **state)
{
    (void)state;
    char *items[] = {"security.protocol=SASL_SSL", "sasl.username=sidecar"};
    mt_common_config c = {.kafka_brokers = "127.0.0.1:1",
                          .kafka_properties = {items, 2},
                          .kafka_sasl_password = {"/run/secrets/pw", "s3cret", 6}};
    mt_runtime rt;
    mt_errbuf eb = {{0}};
    if (mt_runtime_init(&rt, &c, 1, &eb) != MT_OK)
        fail_msg("%s", eb.msg);
    assert_int_equal(rt.kafka.nprops, 3);
    assert_string_equal(prop(&rt, "security.protocol"), "SASL_SSL");
    assert_string_equal(prop(&rt, "sasl.username"), "sidecar");
    assert_string_equal(prop(&rt, "sasl.password"), "s3cret");
    mt_runtime_free(&rt);
    /* Only the file: still one property. */
    c.kafka_properties = (mt_strlist){NULL, 0};
    assert_int_equal(mt_runtime_init(&rt, &c, 1, &eb), MT_OK);
    assert_int_equal(rt.kafka.nprops, 1);
    mt_runtime_free(&rt);
}

static void two_passwords_or_a_bad_file_are_refused(void **state)
{
    (void)state;
    char *items[] = {"sasl.password=other"};
    mt_common_config c = {.kafka_brokers = "127.0.0.1:1",
                          .kafka_properties = {items, 1},
                          .kafka_sasl_password = {"/run/secrets/pw", "s3cret", 6}};
    mt_runtime rt;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_runtime_init(&rt, &c, 1, &eb), MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "one place"));
    assert_null(strstr(eb.msg, "s3cret"));
    c.kafka_properties = (mt_strlist){NULL, 0};
    c.kafka_sasl_password = (mt_cfg_secret){"/run/secrets/pw", "a\nb", 3};
    assert_int_equal(mt_runtime_init(&rt, &c, 1, &eb), MT_ERR_CONFIG);
    assert_non_null(strstr(eb.msg, "/run/secrets/pw"));
    assert_null(strstr(eb.msg, "a\nb"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(password_file_adds_sasl_password),
        cmocka_unit_test(two_passwords_or_a_bad_file_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
