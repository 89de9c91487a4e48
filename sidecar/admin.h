/* Admin port of mcptrail-sidecar: /healthz (the process serves HTTP),
 * /readyz (Kafka answered a metadata request recently and the JWKS is
 * loaded) and /metrics (Prometheus text exposition format 0.0.4).
 *
 * Kafka reachability is probed by a background thread with its own small
 * librdkafka handle, so a dead broker never blocks the event loop that
 * serves MCP traffic; /readyz only reads the last result. */
#ifndef MCPTRAIL_SIDECAR_ADMIN_H
#define MCPTRAIL_SIDECAR_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "mcptrail/err.h"
#include "mcptrail/kafka.h"
#include "proxy.h"

struct event_base;
struct mt_recorder;

typedef struct mt_admin mt_admin;

typedef struct mt_admin_config {
    const char *address;
    uint16_t port;                 /* 0: ephemeral */
    const mt_kafka_config *kafka;  /* NULL: readiness does not depend on Kafka */
    int probe_interval_ms;         /* 0: 5000 */
    mt_sidecar_metrics *metrics;   /* read by /metrics */
    const mt_proxy *proxy;         /* NULL: auth readiness not checked */
    const struct mt_recorder *rec; /* NULL: event counters from metrics */
    const struct mt_hold_hub *holds; /* NULL: no approval holds configured */
} mt_admin_config;

mt_err mt_admin_new(struct event_base *base, const mt_admin_config *cfg, mt_admin **out,
                    mt_errbuf *eb);
uint16_t mt_admin_port(const mt_admin *a);
/* Last Kafka probe result (true when no Kafka is configured). */
bool mt_admin_kafka_ready(const mt_admin *a);
void mt_admin_free(mt_admin *a);

#endif
