/* Fuzzes the binary datum decoder without the single-object header, plus a
 * round-trip oracle: the first input byte picks one of the schemas, the rest
 * is a datum. Whatever decodes must re-encode without error and decode again
 * to the same value, checked as encode(decode(encode(v))) == encode(v) (the
 * input's bytes may differ: writers may use negative block counts or
 * non-minimal varints, which decode but are never produced). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/avro.h"

static mt_avro_registry *reg;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mt_errbuf eb = {""};
    if (mt_avro_registry_load(NULL, &reg, &eb)) {
        fprintf(stderr, "fuzz_avro_datum: %s\n", eb.msg);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const mt_avro_schema *s = mt_avro_registry_at(reg, data[0] % mt_avro_registry_count(reg));
    json_t *v = NULL, *v2 = NULL;
    mt_errbuf eb;
    if (mt_avro_decode_datum(s, data + 1, size - 1, &v, &eb) != MT_OK)
        return 0;
    mt_buf b = MT_BUF_INIT;
    if (mt_avro_encode_datum(s, v, &b, &eb) != MT_OK) {
        fprintf(stderr, "decoded datum does not re-encode: %s\n", eb.msg);
        abort();
    }
    /* Compared as encodings, not with json_equal: jansson looks object keys up
     * as C strings, so a map key with a NUL byte never compares equal. */
    mt_buf b2 = MT_BUF_INIT;
    if (mt_avro_decode_datum(s, b.data, b.len, &v2, &eb) != MT_OK ||
        mt_avro_encode_datum(s, v2, &b2, &eb) != MT_OK || b2.len != b.len ||
        memcmp(b2.data, b.data, b.len) != 0) {
        fprintf(stderr, "re-encoded datum does not decode to the same value: %s\n", eb.msg);
        abort();
    }
    json_decref(v);
    json_decref(v2);
    mt_buf_free(&b);
    mt_buf_free(&b2);
    return 0;
}
