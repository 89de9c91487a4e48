/* The proxy engine in-process for tests: one libevent loop that runs an
 * upstream stub (an evhttp server on 127.0.0.1, ephemeral port), the
 * mt_proxy (listening on 127.0.0.1 port 0) and a small HTTP client, plus an
 * optional strict or async recorder writing to a mock Kafka cluster.
 *
 * Nothing sleeps: every wait runs the loop until a completion callback
 * breaks it, bounded by a deadline timer (mt_pfx_run). Tests embed an
 * mt_pfx in their own fixture and pass their fixture to the upstream
 * callback. Functions return mt_err with the detail in eb, for the test to
 * assert on; this module links mt_sidecar_core and so lives in
 * mt_testsupport_sidecar, apart from the benchmarks' mt_testsupport. */
#ifndef MT_TEST_PROXY_FIXTURE_H
#define MT_TEST_PROXY_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "mcptrail/err.h"
#include "mock_kafka.h"
#include "options.h"
#include "proxy.h"
#include "recorder.h"

#define MT_PFX_TOPIC "mcptrail.events"

typedef struct mt_pfx {
    struct event_base *base;
    struct evhttp *up;      /* the upstream stub; a test may free it (set NULL) */
    uint16_t up_port;       /* where the proxy sends upstream requests */
    mt_sidecar_config cfg;
    mt_sidecar_metrics metrics;
    mt_proxy *proxy;
    struct event *deadline;
    bool timed_out;         /* the last mt_pfx_run ended at its deadline */
    mt_mock_kafka kafka;    /* with rec, after mt_pfx_record */
    mt_recorder *rec;
    /* the last response the client saw */
    int status;             /* HTTP status; 0: no response; -1: deadline */
    char *body;             /* NUL-terminated, body_len bytes */
    size_t body_len;
    size_t chunks;          /* chunked deliveries (a relayed SSE stream) */
    char www_auth[512];
    char content_type[128];
} mt_pfx;

/* Loop, deadline timer and upstream stub answering every request with
 * on_upstream(req, arg). Sets the log level to errors only. */
mt_err mt_pfx_init(mt_pfx *f, void (*on_upstream)(struct evhttp_request *, void *), void *arg,
                   mt_errbuf *eb);

/* Configures and starts the proxy as `argv0 --listen.port=0
 * --upstream.port=<f->up_port> extra...` (later options win) with no
 * environment. */
mt_err mt_pfx_start(mt_pfx *f, const char *argv0, const char *const *extra, size_t nextra,
                    mt_errbuf *eb);

/* Starts a 1-broker mock cluster with topic MT_PFX_TOPIC and attaches a
 * recorder in `mode` writing to it (delivery_timeout_ms; spool_dir: async
 * only, may be NULL). The recorder's client logs nothing: tests take the
 * broker down on purpose. */
mt_err mt_pfx_record(mt_pfx *f, mt_rec_mode mode, int delivery_timeout_ms, const char *spool_dir,
                     mt_errbuf *eb);

/* Detaches and frees the recorder and stops the mock cluster. */
void mt_pfx_unrecord(mt_pfx *f);

/* Runs the loop until something breaks it or `seconds` pass:
 * MT_ERR_TIMEOUT (f->timed_out, f->status = -1) in the latter case. */
mt_err mt_pfx_run(mt_pfx *f, int seconds);

/* One client request; zero fields take the defaults noted. */
typedef struct mt_pfx_req {
    uint16_t port;                /* 0: the proxy's */
    enum evhttp_cmd_type cmd;     /* 0: POST */
    const char *path;             /* NULL: "/mcp" */
    const char *host;             /* NULL: "localhost" */
    const char *authz;            /* Authorization; NULL: none */
    const char *const *hdrs;      /* extra name/value pairs, NULL-ended; NULL: none */
    const char *body;             /* NULL: empty */
    size_t body_len;
} mt_pfx_req;

/* Sends r (with Content-Type application/json and an Accept for JSON and
 * SSE) and waits up to 10 s for the whole response, stored in f. */
mt_err mt_pfx_request(mt_pfx *f, const mt_pfx_req *r, mt_errbuf *eb);

/* The client's evhttp completion callback (arg: the mt_pfx): stores the
 * response in f and breaks the loop. For tests that drive a request
 * themselves. */
void mt_pfx_on_response(struct evhttp_request *req, void *arg);

/* Every SessionEvent recorded so far, decoded, up to the first of `kind`
 * (see mt_mock_kafka_read_events). */
mt_err mt_pfx_events_until(mt_pfx *f, const char *kind, int timeout_ms, json_t **events,
                           mt_errbuf *eb);

/* Frees everything init, start and record made, in an order that lets
 * in-flight exchanges release their recorder sessions. A test's own
 * objects that hold the proxy or sockets on the loop go first. */
void mt_pfx_fini(mt_pfx *f);

#endif
