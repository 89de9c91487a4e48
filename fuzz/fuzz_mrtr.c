/* libFuzzer target: arbitrary bytes as a client's requestState through
 * mt_mrtr_open (sidecar/mrtr.c) under a fixed key, as a server's
 * requestState through the link table, and as a JSON-RPC response through
 * mt_mrtr_result_of. Invariants: a state opens only when it is exactly a
 * state this key sealed (re-sealing what opened and opening that gives the
 * same fields back); nothing leaks; bounded memory. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mrtr.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mt_mrtr_keys *keys;
static mt_mrtr_links *links;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!keys) {
        static const uint8_t secret[] = "fuzz-request-state-key-0123456789abcdef";
        const uint8_t *s[1] = {secret};
        size_t l[1] = {sizeof secret - 1};
        CHECK(mt_mrtr_keys_from(s, l, 1, &keys, NULL) == MT_OK);
        CHECK(mt_mrtr_links_new(64, 1000, &links) == MT_OK);
    }
    mt_mrtr_state st;
    mt_errbuf eb;
    if (mt_mrtr_open(keys, (const char *)data, size, 0, &st, &eb) == MT_OK) {
        /* only our own seal opens: seal what opened again and compare */
        mt_buf again = MT_BUF_INIT;
        CHECK(mt_mrtr_seal(keys, &st, &again, &eb) == MT_OK);
        mt_mrtr_state back;
        CHECK(mt_mrtr_open(keys, (const char *)again.data, again.len, 0, &back, &eb) == MT_OK);
        CHECK(back.stage == st.stage && back.round == st.round &&
              strcmp(back.call_id, st.call_id) == 0 && strcmp(back.nonce, st.nonce) == 0 &&
              memcmp(back.call_hash, st.call_hash, sizeof st.call_hash) == 0);
        CHECK((back.upstream_state == NULL) == (st.upstream_state == NULL));
        mt_mrtr_state_clear(&back);
        mt_buf_free(&again);
        mt_mrtr_state_clear(&st);
    }
    mt_mrtr_link v, o;
    memset(&v, 0, sizeof v);
    strcpy(v.call_id, "fuzz-call");
    v.round = 2;
    CHECK(mt_mrtr_links_put(links, data, size, &v, 0) == MT_OK);
    CHECK(mt_mrtr_links_take(links, data, size, 1, &o) && o.round == 2);
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (j) {
        mt_mrtr_result r = mt_mrtr_result_of(j);
        CHECK(r >= MT_MRTR_RESULT_NONE && r <= MT_MRTR_RESULT_OTHER);
        json_decref(j);
    }
    return 0;
}
