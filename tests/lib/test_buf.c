/* buf: appends grow the buffer, contents survive growth, the cap is enforced;
 * typed arrays double and refuse sizes that overflow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcptrail/buf.h"

static void appends_survive_growth(void **state)
{
    (void)state;
    mt_buf b = MT_BUF_INIT;
    for (unsigned i = 0; i < 10000; i++)
        assert_int_equal(mt_buf_append_byte(&b, (uint8_t)(i & 0xff)), MT_OK);
    assert_int_equal(b.len, 10000);
    for (unsigned i = 0; i < 10000; i++)
        assert_int_equal(b.data[i], (uint8_t)(i & 0xff));
    mt_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_int_equal(mt_buf_append(&b, "abc", 3), MT_OK);
    assert_memory_equal(b.data, "abc", 3);
    mt_buf_free(&b);
    assert_null(b.data);
}

static void reserve_past_cap_is_too_large(void **state)
{
    (void)state;
    mt_buf b = MT_BUF_INIT;
    assert_int_equal(mt_buf_reserve(&b, MT_BUF_MAX + 1), MT_ERR_TOO_LARGE);
    assert_int_equal(mt_buf_append(&b, "x", 1), MT_OK);
    assert_int_equal(mt_buf_reserve(&b, SIZE_MAX), MT_ERR_TOO_LARGE);
    mt_buf_free(&b);
}

static void arrays_grow_by_doubling_and_refuse_overflow(void **state)
{
    (void)state;
    uint64_t *v = NULL;
    size_t cap = 0;
    for (size_t n = 0; n < 1000; n++) {
        assert_int_equal(mt_array_reserve((void **)&v, &cap, n + 1, sizeof *v, 16), MT_OK);
        assert_true(cap >= n + 1);
        v[n] = n;
    }
    assert_int_equal(cap, 1024); /* 16 doubled six times */
    for (size_t n = 0; n < 1000; n++)
        assert_int_equal(v[n], n);
    uint64_t *before = v;
    assert_int_equal(mt_array_reserve((void **)&v, &cap, SIZE_MAX / 4, sizeof *v, 16),
                     MT_ERR_NOMEM);
    assert_ptr_equal(v, before); /* unchanged on failure */
    assert_int_equal(cap, 1024);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appends_survive_growth),
        cmocka_unit_test(reserve_past_cap_is_too_large),
        cmocka_unit_test(arrays_grow_by_doubling_and_refuse_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
