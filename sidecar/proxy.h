/* The sidecar engine: an evhttp server in front of one upstream MCP server.
 *
 * Every request passes, in order: connection limit, Host/Origin allow-lists
 * (403), the RFC 9728 metadata document, authentication (401 with
 * WWW-Authenticate), the policy (policy.file: a denied request is answered
 * with a JSON-RPC error and recorded as `policy_denied`, never forwarded),
 * recording of the request, forwarding to the upstream
 * (client Authorization replaced by the configured upstream credential),
 * and recording of the response. JSON responses are held until recorded;
 * text/event-stream responses are relayed event by event, each one
 * recorded, with back-pressure: the upstream socket stops being read while
 * the client's output buffer is above MT_PROXY_CLIENT_HIGH_WATER.
 *
 * The proxy runs entirely on the caller's event_base (one thread). */
#ifndef MCPTRAIL_SIDECAR_PROXY_H
#define MCPTRAIL_SIDECAR_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "jwks_fetch.h"
#include "mcptrail/err.h"
#include "options.h"

struct event_base;

/* JSON-RPC error codes the sidecar answers with itself. -32603 is the
 * standard "internal error"; the data member says which mcptrail condition. */
#define MT_RPC_INTERNAL_ERROR (-32603)
#define MT_RPC_MSG_NOT_RECORDED "request not recorded: Kafka unavailable"
#define MT_RPC_MSG_UPSTREAM "upstream MCP server unavailable"

/* Approval holds (docs/policy.md "Approvals"): the JSON-RPC error codes a
 * held call can end with. -32001 (MT_POLICY_DENY_CODE) is a policy deny. */
#define MT_RPC_APPROVAL_REQUIRED (-32002)  /* ticket mode: retry after approval */
#define MT_RPC_JUSTIFICATION_REQUIRED (-32003)
#define MT_RPC_APPROVAL_DENIED (-32004)
#define MT_RPC_APPROVAL_EXPIRED (-32005)
#define MT_RPC_APPROVAL_CANCELLED (-32006)
#define MT_RPC_APPROVAL_UNAVAILABLE (-32007) /* approvals not configured / not published */

#define MT_PROXY_CLIENT_HIGH_WATER ((size_t)256 * 1024)

/* Latency histogram upper bounds, seconds (Prometheus "le"). */
#define MT_METRICS_NBUCKETS 12
extern const double mt_metrics_bucket_le[MT_METRICS_NBUCKETS];

/* Counters the admin port exposes. Single-threaded: plain integers. */
typedef struct mt_sidecar_metrics {
    uint64_t requests_by_code[600]; /* index = HTTP status */
    uint64_t latency_buckets[MT_METRICS_NBUCKETS]; /* non-cumulative */
    uint64_t latency_count;
    double latency_sum_s;
    uint64_t events_produced;
    uint64_t events_failed;
    uint64_t events_spooled;
    int64_t active_sessions;
    int64_t active_connections;
} mt_sidecar_metrics;

typedef struct mt_proxy mt_proxy;

/* Binds cfg->listen_address:listen_port on base. cfg and metrics must
 * outlive the proxy. MT_ERR_IO when the address cannot be bound,
 * MT_ERR_CONFIG for an unusable TLS setup. */
mt_err mt_proxy_new(struct event_base *base, const mt_sidecar_config *cfg,
                    mt_sidecar_metrics *metrics, mt_proxy **out, mt_errbuf *eb);

struct mt_recorder;

/* Records every message through rec (borrowed; NULL: no recording). In
 * strict mode (cfg->record_mode) the request is forwarded only after its
 * event is acked and each response/SSE event is released only after its
 * own; a failure answers a JSON-RPC error (MT_RPC_MSG_NOT_RECORDED). */
void mt_proxy_set_recorder(mt_proxy *p, struct mt_recorder *rec);

struct mt_hold_hub;

/* Approval holds (borrowed; NULL: a call the policy marks `approve` is
 * refused with MT_RPC_APPROVAL_UNAVAILABLE). progress_interval_ms: period of
 * the notifications/progress sent to a waiting client that gave a
 * progressToken and accepts SSE (0: none). */
void mt_proxy_set_holds(mt_proxy *p, struct mt_hold_hub *hub, int64_t progress_interval_ms);

/* Loads cfg->policy.file again (SIGHUP). On success the new policy decides
 * every request from now on; exchanges in flight keep the policy they were
 * decided by, which is freed when the last of them ends. On error (message
 * in eb) the current policy stays. MT_OK and no change when policy.file is
 * unset. */
mt_err mt_proxy_reload_policy(mt_proxy *p, mt_errbuf *eb);

/* Rules of the current policy; -1 when there is none. */
long mt_proxy_policy_rules(const mt_proxy *p);

/* The bound port (useful with listen.port 0). */
uint16_t mt_proxy_port(const mt_proxy *p);

/* Stops accepting new connections; requests in flight continue. */
void mt_proxy_stop_accepting(mt_proxy *p);

/* Graceful shutdown: stops accepting and calls cb (once) as soon as no
 * request is in flight, possibly before returning. */
void mt_proxy_drain(mt_proxy *p, void (*cb)(void *arg), void *arg);

/* Requests (client exchanges) not yet finished. */
size_t mt_proxy_inflight(const mt_proxy *p);

/* True when the JWKS (if configured) is loaded, for /readyz. */
bool mt_proxy_auth_ready(const mt_proxy *p);

/* Counters of the auth.jwks_url fetcher; false (out untouched) when the
 * keys come from auth.jwks_file or nowhere. */
bool mt_proxy_jwks_stats(const mt_proxy *p, mt_jwks_fetch_stats *out);

void mt_proxy_free(mt_proxy *p);

#endif
