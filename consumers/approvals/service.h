/* mcptrail-approvals engine: one libevent loop that
 *   - reads mcptrail.approval.{requests,votes,decisions} from the beginning
 *     (every partition assigned, no consumer group, no commits) and feeds the
 *     state machine (state.h). Records read before every partition reached
 *     its end are buffered and applied as requests, then votes, then
 *     decisions, so cross-topic read order cannot change the replayed state;
 *     only then is the service ready (/readyz) and allowed to publish;
 *   - publishes a signed ApprovalDecision (lib approval.h) for every approval
 *     that is terminal and has no decision on the topic yet, with the
 *     idempotent producer (acks=all); an approval counts as published only
 *     once its decision is acked (or read back from the topic), and a failed
 *     send is retried on the next tick. Decision content depends only on the
 *     records (decided = time of the deciding record), so a re-send after a
 *     crash carries the same bytes;
 *   - trusts nothing for having been written to a topic: a request or vote
 *     is applied only when its signature verifies under a key whose role
 *     allows it (trust.h); everything else is logged, counted per reason in
 *     /metrics and kept in the approval's history as rejected;
 *   - serves the approvers' HTTP API. A vote through the API is checked
 *     against the current state (for a clear error), signed with the
 *     service's key, written to the votes topic, and answered 202 once Kafka
 *     acked it; the state machine applies it when it reads it back, like a
 *     bot's vote: the topic is the single source of truth;
 *   - serves the web console's static files under /console/ (console.dir):
 *     a strict Content-Security-Policy, file names restricted to one plain
 *     path segment so nothing outside the directory can be named. */
#ifndef MT_APPROVALS_SERVICE_H
#define MT_APPROVALS_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "mcptrail/avro.h"
#include "mcptrail/crypto.h"
#include "mcptrail/err.h"
#include "mcptrail/jwt.h"
#include "mcptrail/kafka.h"
#include "options.h"
#include "state.h"
#include "trust.h"

struct event_base;

typedef struct mt_approvals mt_approvals;

typedef struct mt_approvals_params {
    const mt_approvals_config *cfg;
    mt_kafka_config kafka;
    const mt_avro_registry *schemas;
    const mt_ed25519_key *key; /* private: signs decisions and API/console votes */
    const mt_trust *trust;     /* every key allowed to sign (the service's among them) */
    const mt_jwks *jwks;       /* approvers' token keys */
    struct event_base *base;
} mt_approvals_params;

/* Binds the API, creates the Kafka reader and producer and starts the
 * timers. Everything borrowed in params must outlive the service. */
mt_err mt_approvals_new(const mt_approvals_params *p, mt_approvals **out, mt_errbuf *eb);

/* Port the API listens on (useful with api.port 0). */
int mt_approvals_port(const mt_approvals *s);

/* True once the replay reached the end of every partition. */
bool mt_approvals_ready(const mt_approvals *s);

const mt_appr_table *mt_approvals_table(const mt_approvals *s);

/* Waits (bounded) for decisions in flight, then frees everything. */
void mt_approvals_free(mt_approvals *s);

#endif
