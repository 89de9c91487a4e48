/* strmap: values are created zeroed and found again by key (any bytes,
 * including NUL), pointers survive growth, iteration visits every entry
 * once, keys read back from values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcptrail/strmap.h"

typedef struct counter {
    uint64_t hits;
    char tag;
} counter;

static void values_are_zeroed_and_found_again(void **state)
{
    (void)state;
    mt_strmap m;
    mt_strmap_init(&m, sizeof(counter));
    assert_null(mt_strmap_find(&m, "a", 1));
    bool created = false;
    counter *a = mt_strmap_get(&m, "alpha", 5, &created);
    assert_non_null(a);
    assert_true(created);
    assert_int_equal(a->hits, 0);
    a->hits = 7;
    counter *again = mt_strmap_get(&m, "alpha", 5, &created);
    assert_false(created);
    assert_ptr_equal(again, a);
    /* a prefix and a key with a NUL byte are other keys */
    assert_ptr_not_equal(mt_strmap_get(&m, "alph", 4, NULL), a);
    counter *z = mt_strmap_get(&m, "al\0pha", 6, &created);
    assert_true(created);
    assert_ptr_not_equal(z, a);
    size_t kl = 0;
    const char *k = mt_strmap_key(&m, z, &kl);
    assert_int_equal(kl, 6);
    assert_memory_equal(k, "al\0pha", 7); /* NUL-terminated copy */
    assert_string_equal(mt_strmap_key(&m, a, NULL), "alpha");
    assert_ptr_equal(mt_strmap_find(&m, "alpha", 5), a);
    assert_int_equal(mt_strmap_count(&m), 3);
    /* the empty key is a key */
    assert_non_null(mt_strmap_get(&m, "", 0, &created));
    assert_true(created);
    assert_int_equal(mt_strmap_count(&m), 4);
    mt_strmap_free(&m);
    assert_int_equal(mt_strmap_count(&m), 0);
    assert_null(mt_strmap_find(&m, "alpha", 5));
}

static void pointers_survive_growth_and_iteration_sees_all(void **state)
{
    (void)state;
    enum { N = 20000 };
    mt_strmap m;
    mt_strmap_init(&m, sizeof(counter));
    counter **first = calloc(N, sizeof *first);
    assert_non_null(first);
    char key[32];
    for (unsigned i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "session-%u", i);
        first[i] = mt_strmap_get(&m, key, (size_t)n, NULL);
        assert_non_null(first[i]);
        first[i]->hits = i;
        first[i]->tag = 'x';
    }
    assert_int_equal(mt_strmap_count(&m), N);
    for (unsigned i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "session-%u", i);
        counter *c = mt_strmap_find(&m, key, (size_t)n);
        assert_ptr_equal(c, first[i]);
        assert_int_equal(c->hits, i);
    }
    unsigned *seen = calloc(N, sizeof *seen);
    assert_non_null(seen);
    size_t it = 0, visited = 0;
    void *v;
    while (mt_strmap_next(&m, &it, &v)) {
        counter *c = v;
        unsigned idx = 0;
        assert_int_equal(sscanf(mt_strmap_key(&m, c, NULL), "session-%u", &idx), 1);
        assert_int_equal(c->hits, idx);
        seen[idx]++;
        visited++;
    }
    assert_int_equal(visited, N);
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    free(seen);
    free(first);
    mt_strmap_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_are_zeroed_and_found_again),
        cmocka_unit_test(pointers_survive_growth_and_iteration_sees_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
