/* Fuzzes what `mcptrail-archiver verify` reads from an untrusted archive: the
 * first input byte picks the manifest parser (mt_manifest_parse) or the
 * segment reader (mt_segment_read, with every record's ids parsed as verify
 * does); the rest is the file. Any bytes must give MT_OK or a clean error,
 * never a crash, leak or out-of-bounds read. Seeds in fuzz/corpus/archive are
 * a real manifest and a real deflate segment (with the selector byte). */
#include <stdint.h>
#include <stdlib.h>

#include "mcptrail/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_record(const mt_segment_record *r, void *ctx)
{
    mt_record_ids ids;
    (void)ctx;
    mt_record_ids_parse(r->value, r->value_len, 0x1234, &ids);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        mt_manifest m;
        bool canonical;
        mt_manifest_parse(data + 1, size - 1, &m, &canonical, NULL);
    } else {
        mt_segment_read(data + 1, size - 1, on_record, NULL, NULL);
    }
    return 0;
}
