/* Summary decoder of SessionEvent records (lib/src/event_summary.c), used by
 * mcptrail-replay and the archive tools.
 *
 * `list` and the session index must scan millions of archived records per
 * second, which a generic datum -> JSON decode (mt_avro_decode) cannot do.
 * mt_rev_parse walks the binary datum of one single-object SessionEvent
 * (schemas/session_event.avsc, field order fixed by the fingerprint check)
 * without allocating and returns views into the input for the fields replay
 * filters and groups on; everything else is skipped with bounds checks.
 * Input is untrusted (archives and topics): every length is checked against
 * what remains, array block counts are bounded, and fuzz/fuzz_replay.c
 * drives it. Views stay valid as long as the input bytes. */
#ifndef MCPTRAIL_EVENT_H
#define MCPTRAIL_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcptrail/buf.h"
#include "mcptrail/err.h"

/* A string view; p == NULL means the Avro value was null. */
typedef struct mt_sv {
    const char *p;
    size_t n;
} mt_sv;

/* Fingerprints of the SessionEvent versions readers accept: the current one
 * (version 3) comes from the schema directory (mt_avro_schema_fingerprint);
 * version 1 (schemas/previous/session_event.v1.avsc, records written before
 * streams) and version 2 (session_event.v2.avsc, before logical calls) are
 * fixed forever and accepted as well by every function below. */
#define MT_SESSION_EVENT_FP_V1 UINT64_C(0x1595b1d849a4d607)
#define MT_SESSION_EVENT_FP_V2 UINT64_C(0x6b7deb049f1c604d)

enum { MT_REV_KINDS = 14, MT_REV_KINDS_V1 = 12, MT_REV_POLICY_ACTIONS = 4, MT_REV_DECISIONS = 4 };
/* kind indexes of the instance's own events */
enum { MT_REV_KIND_SESSION_END = 10, MT_REV_KIND_HEARTBEAT = 11, MT_REV_KIND_INSTANCE_START = 12,
       MT_REV_KIND_INSTANCE_STOP = 13 };
extern const char *const mt_rev_kind_names[MT_REV_KINDS];
extern const char *const mt_rev_direction_names[3];
extern const char *const mt_rev_policy_names[MT_REV_POLICY_ACTIONS];
extern const char *const mt_rev_decision_names[MT_REV_DECISIONS];

typedef struct mt_rev {
    int version;      /* 1, 2 or 3 (the fingerprint's) */
    mt_sv event_id, session_id;
    int64_t seq, ts_us;
    /* stream (version 2; instance_id.p NULL in version 1 records) */
    mt_sv instance_id;
    int64_t stream_seq;            /* -1: no stream */
    const uint8_t *stream_prev;    /* 32 bytes, NULL for the stream's first event */
    int64_t session_prev;          /* -1: null */
    mt_sv stream_key_id;           /* a signed checkpoint's key id; p NULL: none */
    const uint8_t *stream_sig;     /* its 64-byte Ed25519 signature */
    int kind, direction;
    mt_sv cluster, namespace_, pod, upstream;
    mt_sv issuer, subject, auth_method;
    bool has_ci;
    mt_sv repository, workflow, job, run_id, sha, ref, actor, environment;
    int64_t run_attempt; /* -1: null */
    mt_sv http_method, http_path;
    mt_sv protocol_version, mcp_session_id;
    int64_t http_status; /* -1: null */
    mt_sv rpc_id, rpc_method, tool;
    bool is_error;
    int64_t error_code; /* 0: null */
    mt_sv payload;
    uint32_t mask_entries;
    int64_t mask_total;
    int policy_action; /* -1: no policy result */
    mt_sv rule_id;
    mt_sv approval_id;
    int decision; /* -1: null */
    uint32_t napprovers;
    mt_sv justification;
    int64_t latency_us; /* -1: null */
    mt_sv traceparent;
    mt_sv sidecar_version;
    const uint8_t *prev_hash; /* the session chain's, 32 bytes; NULL: null */
    /* instance (instance_start events) */
    bool has_instance;
    const uint8_t *config_sha256, *policy_sha256; /* policy: NULL when null */
    mt_sv host, listen, mode;
    int64_t pid, heartbeat_ms;
    /* logical call (version 3; call_id.p NULL: none) */
    mt_sv call_id, result_type;
    int64_t call_round; /* 0: no call */
    bool call_sealed;
    /* client metadata (version 3) */
    bool has_client;
    mt_sv client_name, client_version, client_capabilities;
} mt_rev;

/* value: a whole single-object record (C3 01, fingerprint, datum).
 * MT_ERR_BAD_MAGIC, MT_ERR_UNKNOWN_SCHEMA (fingerprint is neither fp nor
 * MT_SESSION_EVENT_FP_V1/V2: not a SessionEvent), MT_ERR_TRUNCATED or MT_ERR_SCHEMA (bad union/enum index,
 * negative length, trailing bytes). */
mt_err mt_rev_parse(const uint8_t *value, size_t len, uint64_t fp, mt_rev *ev);

/* The bytes a stream checkpoint signature signs (docs/archive.md "Streams"):
 * "mcptrail stream checkpoint v1", NUL, the instance id, NUL, seq as 8 bytes
 * big-endian, and prev_hash (32 zero bytes when null). Returns the length
 * written to out (at most MT_STREAM_CHECKPOINT_MAX), 0 when the id is too long. */
#define MT_STREAM_CHECKPOINT_MAX 360
size_t mt_stream_checkpoint_message(const char *instance_id, size_t id_len, int64_t seq,
                                    const uint8_t *prev_hash, uint8_t *out);

/* Equality of a view with a NUL-terminated string (a null view equals nothing). */
bool mt_sv_eq(mt_sv v, const char *s);

#endif

/* Appends the event as one compact JSON object in the Avro JSON mapping of
 * mcptrail/avro.h, byte for byte what json_dumps(JSON_COMPACT |
 * JSON_PRESERVE_ORDER) prints for mt_avro_decode's value (tests compare the
 * two; a version 1 or 2 record is written resolved to the current schema,
 * the fields it lacks null, as mt_avro_decode resolves it), without building a tree: `show --format jsonl` of large sessions.
 * Errors as mt_rev_parse; on error out->len is restored. */
mt_err mt_rev_write_json(const uint8_t *value, size_t len, uint64_t fp, mt_buf *out);

/* Appends JSON text re-indented by 2 (jansson's JSON_INDENT(2) layout) with
 * every line after the first prefixed by `prefix`. MT_ERR_PARSE (out->len
 * restored) when the brackets or strings do not balance; the text is not
 * otherwise validated (it is only displayed). */
mt_err mt_json_reindent(const char *text, size_t n, const char *prefix, mt_buf *out);
