/* Fuzzes mt_avro_decode, the entry point for every record read from Kafka or
 * an archive: arbitrary bytes must give MT_OK or a clean error code, never a
 * crash, leak, or read outside the input. The registry (schemas/) is loaded
 * once; seeds in fuzz/corpus/avro_decode are real encodings, so the fuzzer
 * starts past the magic and fingerprint checks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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
        fprintf(stderr, "fuzz_avro_decode: %s\n", eb.msg);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = NULL;
    const mt_avro_schema *s = NULL;
    mt_errbuf eb;
    mt_err err = mt_avro_decode(reg, data, size, &s, &v, &eb);
    if (err == MT_OK && (!v || !s))
        abort(); /* success must hand back both */
    if (err != MT_OK && v)
        abort(); /* failure must hand back nothing */
    json_decref(v);
    return 0;
}
