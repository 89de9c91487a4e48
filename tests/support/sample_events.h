/* Deterministic, fully valid sample records for every mcptrail Avro schema,
 * for unit, integration and cross-language tests and benchmarks. Each
 * function returns a new jansson object (caller json_decref's it) in the JSON
 * mapping documented in mcptrail/avro.h; the same i always gives the same
 * record, different i give different ids. Variation by i covers every event
 * kind, null and non-null optional fields, empty and non-empty arrays,
 * non-ASCII text and longs beyond 2^53. */
#ifndef MT_TEST_SAMPLE_EVENTS_H
#define MT_TEST_SAMPLE_EVENTS_H

#include <stdint.h>

#include <jansson.h>

/* SessionEvent: session_id changes every 16 events; seq = i % 16; event_id is
 * a UUIDv7-shaped string unique per i; payload_masked ~300 bytes. */
json_t *mt_sample_session_event(uint64_t i);
json_t *mt_sample_approval_request(uint64_t i);
json_t *mt_sample_approval_vote(uint64_t i);
/* signature holds 64 deterministic bytes, not a real Ed25519 signature. */
json_t *mt_sample_approval_decision(uint64_t i);

#endif
