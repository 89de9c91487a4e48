/* Recorder: turns every message the sidecar sees into a SessionEvent
 * (schemas/session_event.avsc) on Kafka, in order per session, never lost.
 *
 * Sessions are keyed by Mcp-Session-Id (or a generated UUIDv7 for one
 * stateless exchange). Each session numbers its events 0, 1, 2... and chains
 * them: prev_hash = SHA-256 of the previous event's single-object encoding.
 *
 * Stream: the recorder is one sidecar process's stream (docs/archive.md
 * "Streams"). It mints an instance id (UUIDv7) at creation; every event it
 * emits, whatever its session, carries stream {instance_id, seq, prev_hash,
 * session_prev}: a gapless sequence over all of them and a hash chain (the
 * same SHA-256 as the session chain's). The instance's own events
 * (instance_start, heartbeat when idle, instance_stop) are recorded in a
 * session named by the instance id. seq and prev_hash (session and stream)
 * are committed only once the event was handed to the producer, so an event
 * refused up front leaves no gap. An event that Kafka then fails to
 * acknowledge (strict mode) stays in the chain: the hole on the topic is
 * visible evidence of the failure (the proxy answered an error instead).
 *
 * Payloads (and justifications) are masked before recording by the masking
 * engine (mcptrail/mask.h, docs/masking.md): JSON bodies string by string,
 * anything else as text; a body that is not UTF-8 text after masking is
 * recorded as "[binary payload: N bytes]". mask_summary counts what was
 * masked per detector and action. payload_hmac = HMAC-SHA256(key, raw body).
 *
 * Modes:
 *  strict: the done callback runs with MT_OK once Kafka acknowledged the
 *          event (acks=all), or with an error when delivery failed.
 *  async:  the callback runs before mt_rec_emit returns. With a spool_dir
 *          every event is first appended (write-ahead) to the on-disk spool
 *          (spool-<n>.log files of length + CRC32C framed records) and then
 *          produced from there in order, so each session's events reach the
 *          topic in seq order. The append is a write() into the page cache
 *          before the callback runs; appended data is fdatasync'ed by a
 *          syncer thread, requested once per event-loop turn and coalesced
 *          (group commit, at most one round per spool_sync_interval_ms); the
 *          loop thread never waits for it. A kill -9 therefore loses nothing
 *          (the kernel holds the written data); a power loss or kernel crash
 *          may lose the events appended since the start of the last completed
 *          sync round (the interval plus one fdatasync).
 *          Acks advance a durable "acked up to" marker (spool_dir/spool.ack,
 *          written with rename by the syncer after each round). Files rotate
 *          at 4 MiB (or a quarter of spool_max_bytes); fully acked ones are
 *          unlinked by the syncer, the loop thread never truncates. A spool
 *          found at start is replayed from the marker. Delivery is
 *          at-least-once: events acked but not yet in the marker at a crash
 *          (at most one loop turn's acks, plus those in flight) and events
 *          re-sent by a rewind after a failed replay are sent again; readers
 *          drop duplicates by event_id. Spool full (spool_max_bytes, which
 *          counts file bytes incl. acked ones of the current file) ->
 *          MT_ERR_TOO_LARGE (fail closed). Without a spool_dir, events go to
 *          the producer only and a full in-flight table is an error.
 *
 * Delivery reports reach the libevent loop through a pipe that librdkafka
 * writes to (mt_producer_set_wakeup_fd); no polling timers. Call everything from the
 * event_base's thread (the spool syncer thread is internal). */
#ifndef MCPTRAIL_SIDECAR_RECORDER_H
#define MCPTRAIL_SIDECAR_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mcptrail/avro.h"
#include "mcptrail/crypto.h"
#include "mcptrail/err.h"
#include "mcptrail/kafka.h"
#include "mcptrail/mask.h"

struct event_base;

typedef enum mt_rec_mode { MT_REC_STRICT = 0, MT_REC_ASYNC = 1 } mt_rec_mode;

#define MT_REC_DEFAULT_TOPIC "mcptrail.events"
#define MT_REC_DEFAULT_MAX_SESSIONS 10000
#define MT_REC_DEFAULT_IDLE_S 3600
#define MT_REC_DEFAULT_SPOOL_MAX ((uint64_t)256 << 20)
#define MT_REC_MAX_SESSION_ID 256 /* bytes; longer ids are refused */
#define MT_REC_DEFAULT_HEARTBEAT_MS 30000

typedef struct mt_recorder_config {
    mt_kafka_config kafka;        /* strings borrowed for the recorder's life */
    const char *topic;            /* NULL: MT_REC_DEFAULT_TOPIC */
    mt_rec_mode mode;
    int delivery_timeout_ms;      /* 0: librdkafka default (300 s) */
    size_t max_inflight;          /* producer table bound; 0: kafka default */
    const char *spool_dir;        /* async only (strict ignores it): where to spool
                                     (created); NULL: no spool, full table = error */
    uint64_t spool_max_bytes;     /* 0: MT_REC_DEFAULT_SPOOL_MAX */
    int spool_sync_interval_ms;   /* least time between fdatasync rounds; 0: every turn */
    const uint8_t *hmac_key;      /* required, copied */
    size_t hmac_key_len;
    const char *source_cluster;   /* Source record; NULL -> "" */
    const char *source_namespace;
    const char *source_pod;
    const char *source_upstream;
    const char *sidecar_version;  /* NULL -> "0.0.0" */
    size_t max_sessions;          /* 0: MT_REC_DEFAULT_MAX_SESSIONS; LRU beyond */
    int session_idle_s;           /* 0: MT_REC_DEFAULT_IDLE_S; then session_end */
    int heartbeat_ms;             /* idle heartbeat interval (after mt_rec_instance_start);
                                     0: MT_REC_DEFAULT_HEARTBEAT_MS */
    const mt_ed25519_key *signing_key; /* borrowed; NULL: stream checkpoints unsigned. Signs
                                     instance_start, heartbeats, instance_stop and at
                                     most one other event a second */
    const mt_avro_registry *schemas; /* NULL: loaded from $MT_SCHEMA_DIR / default */
    const mt_mask_engine *mask;   /* borrowed; NULL: the built-in detectors (compiled
                                     at the first payload) */
} mt_recorder_config;

/* Counters for the admin port; read with mt_rec_metrics_get. */
typedef struct mt_rec_metrics {
    uint64_t produced;        /* events acknowledged by Kafka */
    uint64_t failed;          /* events lost to the caller: strict delivery error, spool full */
    uint64_t spooled;         /* records appended to the spool */
    uint64_t spool_bytes;     /* spooled bytes Kafka has not acknowledged yet */
    uint64_t active_sessions;
} mt_rec_metrics;

/* One message to record. Strings are borrowed for the call only. */
typedef struct mt_rec_event {
    const char *kind;      /* EventKind symbol: "request", "response", "sse_event"... */
    const char *direction; /* "client_to_server" | "server_to_client" | "internal" */
    const json_t *identity; /* Identity JSON (mt_identity_to_json); NULL: all null */
    struct {
        const char *method; /* NULL: no http record */
        const char *path;
        int status;         /* 0: null */
        const char *sse_event_id;
        const char *protocol_version;
        const char *mcp_session_id; /* upstream Mcp-Session-Id; NULL: null */
    } http;
    struct {
        bool present;       /* false: rpc null */
        const char *id;     /* compact JSON text of the id, NULL for notifications */
        const char *method, *tool, *resource_uri;
        bool is_error;
        bool has_error_code;
        int64_t error_code;
    } rpc;
    const void *payload;   /* raw body; NULL: no body */
    size_t payload_len;
    const char *policy_rule_id; /* NULL: policy null */
    const char *policy_action;  /* "allow" | "deny" | "approve" | "record_only" */
    const char *justification;  /* masked as text before recording */
    const json_t *approval;     /* ApprovalInfo JSON {approval_id, decision, approvers};
                                   NULL: null */
    char *event_id_out;         /* when set (37 bytes), receives the event's event_id */
    int64_t latency_us;         /* < 0: null */
    const char *traceparent;
    struct {
        const char *call_id;     /* NULL and round 0: call null (LogicalCall); NULL and
                                    round >= 1: this event's own event_id (a call's
                                    first request names the call) */
        int round;
        const char *result_type; /* NULL: null */
        bool sealed;
    } call;
    struct {
        const char *name, *version; /* masked as text; NULL: null */
        const char *capabilities;   /* canonical JSON text, masked as text; NULL: null */
    } client;                       /* all NULL: client null */
} mt_rec_event;

typedef struct mt_recorder mt_recorder;
typedef struct mt_rec_session mt_rec_session;

/* Runs exactly once per mt_rec_emit (see the modes above). */
typedef void (*mt_rec_done_cb)(void *arg, mt_err err);

mt_err mt_recorder_new(const mt_recorder_config *cfg, struct event_base *base,
                       mt_recorder **out, mt_errbuf *eb);

/* Stops timers, spools (async) what is still in flight, frees everything.
 * Does not wait for Kafka: call mt_recorder_flush first for a clean stop.
 * Strict callbacks still pending run with MT_ERR_STATE. */
void mt_recorder_free(mt_recorder *rec);

/* Waits (blocking, up to timeout_ms) for in-flight events to be acked. */
mt_err mt_recorder_flush(mt_recorder *rec, int timeout_ms, mt_errbuf *eb);

/* Finds or creates the session `session_id` (NULL: a new session with a
 * generated UUIDv7 id) and returns a held reference, NULL when the id is
 * empty or too long, or the registry is full of held sessions. A new session
 * may evict the least recently used idle one (session_end recorded).
 * Release with mt_rec_session_release. */
mt_rec_session *mt_rec_session_get(mt_recorder *rec, const char *session_id);
void mt_rec_session_release(mt_recorder *rec, mt_rec_session *s);
const char *mt_rec_session_id(const mt_rec_session *s);
uint64_t mt_rec_session_next_seq(const mt_rec_session *s);

/* Removes a one-exchange session (a stateless request and its response, a
 * refused request) from the registry without recording anything: the
 * stream, not a session_end, proves nothing followed. */
void mt_rec_session_close(mt_recorder *rec, mt_rec_session *s);

/* Records a session_end event and removes the session from the registry
 * (the held reference stays valid until released; further emits on it get
 * MT_ERR_STATE). cb as for mt_rec_emit; may be NULL. */
mt_err mt_rec_session_end(mt_recorder *rec, mt_rec_session *s, mt_rec_done_cb cb, void *arg);

/* Builds, masks, encodes and produces one SessionEvent of session s (key =
 * session id). cb (may be NULL) runs exactly once: strict: later from the
 * event loop with the delivery outcome, or before return when the event
 * could not be handed to Kafka (the error is also returned); async: before
 * return. */
mt_err mt_rec_emit(mt_recorder *rec, mt_rec_session *s, const mt_rec_event *ev,
                   mt_rec_done_cb cb, void *arg);

void mt_rec_metrics_get(const mt_recorder *rec, mt_rec_metrics *out);

/* What instance_start records about the process (InstanceInfo). */
typedef struct mt_rec_instance {
    const uint8_t *config_sha256; /* 32 bytes: SHA-256 of --print-config's output */
    const uint8_t *policy_sha256; /* 32 bytes; NULL: no policy file */
    const char *listen;           /* the MCP listener, host:port */
} mt_rec_instance;

/* The stream's id (UUIDv7 text). */
const char *mt_rec_instance_id(const mt_recorder *rec);

/* Records instance_start (call it before the first request is served: its
 * stream seq is then 0) and starts the idle heartbeat: a heartbeat event
 * whenever nothing was recorded for heartbeat_ms. */
mt_err mt_rec_instance_start(mt_recorder *rec, const mt_rec_instance *info, mt_errbuf *eb);

/* Records instance_stop (clean shutdown; call mt_recorder_flush after it)
 * and stops the heartbeat. cb as for mt_rec_emit; may be NULL. */
mt_err mt_rec_instance_stop(mt_recorder *rec, mt_rec_done_cb cb, void *arg);

/* Masks a payload exactly as events' payload_masked are masked (JSON
 * string by string, else as text; binary described). *out is a new
 * NUL-terminated string (free it). For what leaves the sidecar outside
 * SessionEvents, e.g. the arguments of an ApprovalRequest. */
mt_err mt_rec_mask(mt_recorder *rec, const void *payload, size_t len, char **out,
                   mt_errbuf *eb);

/* A new UUIDv7 (RFC 9562) as 36 characters plus NUL. */
mt_err mt_rec_uuid7(mt_recorder *rec, char out[37]);


/* Test hooks: pause/resume the spool syncer thread (async with a spool;
 * no-op otherwise) and count its completed sync rounds. */
void mt_rec_test_pause_syncer(mt_recorder *rec, bool paused);
uint64_t mt_rec_test_sync_rounds(mt_recorder *rec);

#endif
