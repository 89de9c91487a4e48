/* Avro C generic-value baseline used by bench/codec_kafka.c. */
#ifndef MT_BENCH_AVROC_BASELINE_H
#define MT_BENCH_AVROC_BASELINE_H

#include <avro.h>
#include <jansson.h>

/* Fills v (a generic value of the record's schema) from the mcptrail JSON
 * mapping of a datum (see mcptrail/avro.h). 0 on success. */
int mt_avroc_from_json(avro_value_t *v, const json_t *j);

#endif
