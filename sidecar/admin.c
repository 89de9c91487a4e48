/* Admin port (see admin.h). The metrics text is rendered on each scrape
 * from the plain counters the proxy updates on the same thread. */
#include "admin.h"

#include "hold.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <librdkafka/rdkafka.h>

#include "mcptrail/log.h"
#include "recorder.h"

struct mt_admin {
    mt_admin_config cfg;
    struct evhttp *http;
    uint16_t port;
    rd_kafka_t *rk; /* probe handle, used only by the probe thread */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;        /* under mu */
    atomic_bool kafka_ok;
};

static void reply_text(struct evhttp_request *req, int code, const char *reason,
                       const char *ctype, struct evbuffer *body)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
    evhttp_send_reply(req, code, reason, body);
}

static void metrics_render(const mt_sidecar_metrics *m, struct evbuffer *b)
{
    evbuffer_add_printf(b, "# HELP mcptrail_requests_total HTTP requests answered, by status.\n"
                           "# TYPE mcptrail_requests_total counter\n");
    for (int c = 0; c < 600; c++)
        if (m->requests_by_code[c])
            evbuffer_add_printf(b, "mcptrail_requests_total{code=\"%d\"} %llu\n", c,
                                (unsigned long long)m->requests_by_code[c]);
    evbuffer_add_printf(b, "# HELP mcptrail_request_duration_seconds Time from request to "
                           "the end of the response.\n"
                           "# TYPE mcptrail_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i < MT_METRICS_NBUCKETS; i++) {
        cum += m->latency_buckets[i];
        evbuffer_add_printf(b, "mcptrail_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                            mt_metrics_bucket_le[i], (unsigned long long)cum);
    }
    evbuffer_add_printf(b,
                        "mcptrail_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                        "mcptrail_request_duration_seconds_sum %.6f\n"
                        "mcptrail_request_duration_seconds_count %llu\n",
                        (unsigned long long)m->latency_count, m->latency_sum_s,
                        (unsigned long long)m->latency_count);
    evbuffer_add_printf(
        b,
        "# HELP mcptrail_events_produced_total Session events acknowledged by Kafka.\n"
        "# TYPE mcptrail_events_produced_total counter\n"
        "mcptrail_events_produced_total %llu\n"
        "# HELP mcptrail_events_failed_total Session events Kafka did not acknowledge.\n"
        "# TYPE mcptrail_events_failed_total counter\n"
        "mcptrail_events_failed_total %llu\n"
        "# HELP mcptrail_events_spooled_total Session events written to the disk spool.\n"
        "# TYPE mcptrail_events_spooled_total counter\n"
        "mcptrail_events_spooled_total %llu\n"
        "# HELP mcptrail_active_sessions MCP sessions currently tracked.\n"
        "# TYPE mcptrail_active_sessions gauge\n"
        "mcptrail_active_sessions %lld\n",
        (unsigned long long)m->events_produced, (unsigned long long)m->events_failed,
        (unsigned long long)m->events_spooled, (long long)m->active_sessions);
}

/* auth.jwks_url fetcher counters (only when the keys come from a URL). */
static void jwks_render(const mt_jwks_fetch_stats *js, struct evbuffer *b)
{
    evbuffer_add_printf(
        b,
        "# HELP mcptrail_jwks_fetch_total JWKS fetches from auth.jwks_url, by result.\n"
        "# TYPE mcptrail_jwks_fetch_total counter\n"
        "mcptrail_jwks_fetch_total{result=\"ok\"} %llu\n"
        "mcptrail_jwks_fetch_total{result=\"failed\"} %llu\n"
        "# HELP mcptrail_jwks_unknown_kid_refresh_total Refreshes asked for by tokens with an "
        "unknown kid, by outcome (limited: refused by auth.jwks_min_refresh or one in flight).\n"
        "# TYPE mcptrail_jwks_unknown_kid_refresh_total counter\n"
        "mcptrail_jwks_unknown_kid_refresh_total{outcome=\"started\"} %llu\n"
        "mcptrail_jwks_unknown_kid_refresh_total{outcome=\"limited\"} %llu\n"
        "# HELP mcptrail_jwks_last_success_timestamp_seconds When the keys in use were "
        "fetched (0: never, running on the cached copy).\n"
        "# TYPE mcptrail_jwks_last_success_timestamp_seconds gauge\n"
        "mcptrail_jwks_last_success_timestamp_seconds %lld\n",
        (unsigned long long)js->fetch_ok, (unsigned long long)js->fetch_failed,
        (unsigned long long)js->ondemand_started, (unsigned long long)js->ondemand_limited,
        (long long)js->last_ok_unix);
}

/* Approval holds (approvals.decision_keys set). */
static void holds_render(const mt_hold_hub *h, struct evbuffer *b)
{
    mt_hold_metrics m;
    mt_hold_hub_metrics(h, &m);
    evbuffer_add_printf(
        b,
        "# HELP mcptrail_approvals_requested_total Calls held for approval (ApprovalRequest "
        "published).\n"
        "# TYPE mcptrail_approvals_requested_total counter\n"
        "mcptrail_approvals_requested_total %llu\n"
        "# HELP mcptrail_approvals_decided_total Held calls ended, by outcome.\n"
        "# TYPE mcptrail_approvals_decided_total counter\n"
        "mcptrail_approvals_decided_total{decision=\"approved\"} %llu\n"
        "mcptrail_approvals_decided_total{decision=\"denied\"} %llu\n"
        "mcptrail_approvals_decided_total{decision=\"expired\"} %llu\n"
        "mcptrail_approvals_decided_total{decision=\"cancelled\"} %llu\n"
        "# HELP mcptrail_approvals_decisions_ignored_total Decisions not acted upon (bad "
        "signature, other hash, replay...).\n"
        "# TYPE mcptrail_approvals_decisions_ignored_total counter\n"
        "mcptrail_approvals_decisions_ignored_total %llu\n"
        "# HELP mcptrail_approvals_pending Calls waiting for a decision and open tickets.\n"
        "# TYPE mcptrail_approvals_pending gauge\n"
        "mcptrail_approvals_pending %llu\n",
        (unsigned long long)m.requested, (unsigned long long)m.approved,
        (unsigned long long)m.denied, (unsigned long long)m.expired,
        (unsigned long long)m.cancelled, (unsigned long long)m.ignored,
        (unsigned long long)m.pending);
}

static void on_admin_request(struct evhttp_request *req, void *arg)
{
    mt_admin *a = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (!path) {
        evhttp_send_error(req, 400, NULL);
    } else if (strcmp(path, "/healthz") == 0) {
        evbuffer_add_printf(b, "ok\n");
        reply_text(req, 200, "OK", "text/plain; charset=utf-8", b);
    } else if (strcmp(path, "/readyz") == 0) {
        bool kafka = mt_admin_kafka_ready(a);
        bool auth = !a->cfg.proxy || mt_proxy_auth_ready(a->cfg.proxy);
        evbuffer_add_printf(b, "{\"ready\":%s,\"kafka\":%s,\"jwks\":%s}\n",
                            kafka && auth ? "true" : "false", kafka ? "true" : "false",
                            auth ? "true" : "false");
        reply_text(req, kafka && auth ? 200 : 503, kafka && auth ? "OK" : "Service Unavailable",
                   "application/json", b);
    } else if (strcmp(path, "/metrics") == 0 && a->cfg.metrics) {
        if (a->cfg.rec) {
            mt_rec_metrics rm;
            mt_rec_metrics_get(a->cfg.rec, &rm);
            a->cfg.metrics->events_produced = rm.produced;
            a->cfg.metrics->events_failed = rm.failed;
            a->cfg.metrics->events_spooled = rm.spooled;
            a->cfg.metrics->active_sessions = (int64_t)rm.active_sessions;
        }
        metrics_render(a->cfg.metrics, b);
        mt_jwks_fetch_stats js;
        if (a->cfg.proxy && mt_proxy_jwks_stats(a->cfg.proxy, &js))
            jwks_render(&js, b);
        if (a->cfg.holds)
            holds_render(a->cfg.holds, b);
        reply_text(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", b);
    } else {
        evhttp_send_error(req, 404, NULL);
    }
    evbuffer_free(b);
}

/* Probe loop: a metadata request with a short timeout, then wait for the
 * interval or for shutdown (condition variable, so stopping is immediate). */
static void *probe_main(void *arg)
{
    mt_admin *a = arg;
    int interval = a->cfg.probe_interval_ms > 0 ? a->cfg.probe_interval_ms : 5000;
    pthread_mutex_lock(&a->mu);
    while (!a->stopping) {
        pthread_mutex_unlock(&a->mu);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(a->rk, 0, NULL, &md, 2000);
        bool ok = e == RD_KAFKA_RESP_ERR_NO_ERROR && md && md->broker_cnt > 0;
        if (md)
            rd_kafka_metadata_destroy(md);
        if (ok != atomic_load(&a->kafka_ok))
            mt_logs(ok ? MT_LOG_INFO : MT_LOG_WARN, "admin",
                    ok ? "Kafka reachable" : "Kafka unreachable", "error",
                    ok ? NULL : rd_kafka_err2str(e), NULL);
        atomic_store(&a->kafka_ok, ok);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += interval / 1000;
        until.tv_nsec += (long)(interval % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&a->mu);
        while (!a->stopping && pthread_cond_timedwait(&a->cv, &a->mu, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

static mt_err probe_start(mt_admin *a, mt_errbuf *eb)
{
    const mt_kafka_config *kc = a->cfg.kafka;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", kc->bootstrap, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "client.id", kc->client_id ? kc->client_id : "mcptrail",
                          errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr))
        goto fail;
    for (size_t i = 0; i < kc->nprops; i++)
        if (rd_kafka_conf_set(conf, kc->props[i].key, kc->props[i].value, errstr,
                              sizeof errstr))
            goto fail;
    a->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!a->rk) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new owns conf on success only */
        return mt_fail(eb, MT_ERR_KAFKA, "readiness probe: %s", errstr);
    }
    if (pthread_create(&a->thread, NULL, probe_main, a) != 0)
        return mt_fail(eb, MT_ERR_IO, "readiness probe: cannot start thread");
    a->thread_started = true;
    return MT_OK;
fail:
    rd_kafka_conf_destroy(conf);
    return mt_fail(eb, MT_ERR_CONFIG, "readiness probe: %s", errstr);
}

mt_err mt_admin_new(struct event_base *base, const mt_admin_config *cfg, mt_admin **out,
                    mt_errbuf *eb)
{
    mt_err err = MT_OK;
    mt_admin *a = calloc(1, sizeof *a);
    if (!a)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    a->cfg = *cfg;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    atomic_init(&a->kafka_ok, cfg->kafka == NULL);
    a->http = evhttp_new(base);
    if (!a->http) {
        err = mt_fail(eb, MT_ERR_NOMEM, "evhttp_new failed");
        goto fail;
    }
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(a->http, on_admin_request, a);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(a->http, cfg->address, cfg->port);
    if (!bound) {
        err = mt_fail(eb, MT_ERR_IO, "admin: cannot listen on %s:%u", cfg->address,
                      (unsigned)cfg->port);
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) == 0)
        a->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    if (cfg->kafka && (err = probe_start(a, eb)) != MT_OK)
        goto fail;
    *out = a;
    return MT_OK;
fail:
    mt_admin_free(a);
    return err;
}

uint16_t mt_admin_port(const mt_admin *a)
{
    return a->port;
}

bool mt_admin_kafka_ready(const mt_admin *a)
{
    return atomic_load(&((mt_admin *)a)->kafka_ok);
}

void mt_admin_free(mt_admin *a)
{
    if (!a)
        return;
    if (a->thread_started) {
        pthread_mutex_lock(&a->mu);
        a->stopping = true;
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->thread, NULL);
    }
    if (a->rk)
        rd_kafka_destroy(a->rk);
    if (a->http)
        evhttp_free(a->http);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
