/* err: every code has a distinct name and a description; mt_fail formats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "mcptrail/err.h"

static void every_code_has_a_name_and_text(void **state)
{
    (void)state;
    for (int e = MT_OK; e <= MT_ERR_STATE; e++) {
        assert_string_not_equal(mt_errname((mt_err)e), "MT_ERR_?");
        assert_string_not_equal(mt_strerror((mt_err)e), "unknown error code");
        for (int f = MT_OK; f < e; f++)
            assert_string_not_equal(mt_errname((mt_err)e), mt_errname((mt_err)f));
    }
    assert_string_equal(mt_errname((mt_err)9999), "MT_ERR_?");
}

static void fail_formats_detail_and_returns_code(void **state)
{
    (void)state;
    mt_errbuf eb;
    assert_int_equal(mt_fail(&eb, MT_ERR_PARSE, "line %d: %s", 3, "bad"), MT_ERR_PARSE);
    assert_string_equal(eb.msg, "line 3: bad");
    assert_int_equal(mt_fail(NULL, MT_ERR_IO, "ignored"), MT_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_a_name_and_text),
        cmocka_unit_test(fail_formats_detail_and_returns_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
