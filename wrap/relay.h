/* The stdio-to-stdio relay of mcptrail-wrap (docs/wrap.md): the client
 * (an agent) on our stdin/stdout, the server a child process (child.h).
 *
 * Every line either side writes is one JSON-RPC message (or batch); each is
 * recorded as a SessionEvent of the wrapper's one session before it passes:
 * in strict mode only once Kafka acknowledged it, in order per direction.
 * A client request that cannot be recorded is answered with a JSON-RPC error
 * (-32603, data.mcptrail "not_recorded") and never reaches the server; a
 * server message that cannot be recorded is not passed on. Requests the
 * policy denies (or marks approve: the wrapper holds no calls) are answered
 * by the wrapper, recorded as policy_denied. Lines that are not JSON-RPC or
 * longer than max_line: a client line gets a parse error answer; a server
 * line stops the server. When the server exits, every request it still owed
 * is answered with an error (-32603, "upstream_exited") and the exit is
 * recorded; when the client closes stdin, the server's stdin is closed once
 * everything before passed, and the relay ends with the server. */
#ifndef MCPTRAIL_WRAP_RELAY_H
#define MCPTRAIL_WRAP_RELAY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "mcptrail/err.h"
#include "mcptrail/policy.h"
#include "child.h"
#include "recorder.h"

struct event_base;

typedef struct mt_wrap_relay mt_wrap_relay;

typedef struct mt_wrap_relay_config {
    struct event_base *base;
    mt_recorder *rec;
    const json_t *identity;     /* SessionEvent identity (borrowed) */
    const json_t *claims;       /* verified token claims for the policy (NULL: none) */
    const mt_policy *policy;    /* NULL: everything allowed */
    const mt_child_spec *child; /* the server */
    bool strict;
    size_t max_line;            /* a client line longer than this gets an error answer */
    int in_fd, out_fd;          /* the client's side (0 and 1) */
    void (*on_done)(void *arg); /* the relay ended (server exited, everything passed) */
    void *arg;
} mt_wrap_relay_config;

mt_err mt_wrap_relay_start(const mt_wrap_relay_config *cfg, mt_wrap_relay **out,
                           mt_errbuf *eb);

/* As if the client closed stdin (SIGTERM, SIGINT). */
void mt_wrap_relay_stop(mt_wrap_relay *r);

/* The server's exit status once done (as a shell reports it: 128+signal). */
int mt_wrap_relay_exit_code(const mt_wrap_relay *r);

void mt_wrap_relay_free(mt_wrap_relay *r);

#endif
