/* mcptrail-sidecar entry point: loads the configuration, builds the engine
 * and the admin port on one event loop, and handles signals. SIGTERM and
 * SIGINT stop accepting, let requests in flight finish (bounded by
 * limits.request_timeout), then exit; SIGHUP reloads policy.file (an
 * invalid file is logged and the previous policy kept; connections stay). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <openssl/crypto.h>

#include "admin.h"
#include "hold.h"
#include "mcptrail/buf.h"
#include "mcptrail/crypto.h"
#include "mcptrail/log.h"
#include "mcptrail/mask.h"
#include "mcptrail/runtime.h"
#include "options.h"
#include "proxy.h"
#include "recorder.h"
#include "setup.h"

typedef struct app {
    struct event_base *base;
    mt_proxy *proxy;
    const mt_sidecar_config *cfg;
    struct event *deadline;
    bool stopping;
} app;

static void drained(void *arg)
{
    app *a = arg;
    mt_logs(MT_LOG_INFO, "sidecar", "drained; exiting", NULL);
    event_base_loopexit(a->base, NULL);
}

static void drain_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    app *a = arg;
    mt_log(MT_LOG_WARN, "sidecar", "drain deadline passed; exiting with requests in flight",
           "inflight", json_integer((json_int_t)mt_proxy_inflight(a->proxy)), NULL);
    event_base_loopexit(a->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    app *a = arg;
    if (sig == SIGHUP) {
        if (!a->cfg->policy_file) {
            mt_logs(MT_LOG_INFO, "sidecar", "SIGHUP received; no policy.file to reload", NULL);
            return;
        }
        mt_errbuf eb = {{0}};
        if (mt_proxy_reload_policy(a->proxy, &eb) != MT_OK)
            mt_logs(MT_LOG_ERROR, "policy", "reload failed; keeping the previous policy",
                    "error", eb.msg, NULL);
        else
            mt_log(MT_LOG_INFO, "policy", "policy reloaded", "file",
                   json_string(a->cfg->policy_file), "rules",
                   json_integer(mt_proxy_policy_rules(a->proxy)), NULL);
        return;
    }
    if (a->stopping)
        return;
    a->stopping = true;
    mt_logs(MT_LOG_INFO, "sidecar", "shutting down: draining requests in flight", NULL);
    struct timeval tv = {(time_t)(a->cfg->request_timeout_ms / 1000), 0};
    a->deadline = evtimer_new(a->base, drain_deadline, a);
    if (a->deadline)
        evtimer_add(a->deadline, &tv);
    mt_proxy_drain(a->proxy, drained, a);
}

int main(int argc, char **argv)
{
    int rc = 1;
    mt_errbuf eb = {{0}};
    mt_sidecar_config cfg = {0};
    mt_runtime rt = {0};
    bool rt_ok = false;
    app a = {0};
    mt_admin *admin = NULL;
    mt_recorder *rec = NULL;
    mt_ed25519_key *stream_key = NULL;
    bool started = false;
    mt_hold_hub *holds = NULL;
    mt_ed25519_key *hold_key = NULL;
    mt_mask_engine *mask = NULL;
    mt_sidecar_metrics metrics = {0};
    struct event *sigs[3] = {NULL, NULL, NULL};
    mt_kafka_prop *rec_props = NULL;

    mt_cfg_result res = {0};
    mt_err err = mt_cfg_load(&mt_sidecar_spec, &cfg, argc, argv, NULL, &res, &eb);
    if (err) {
        fprintf(stderr, "mcptrail-sidecar: %s\n", eb.msg);
        goto out;
    }
    switch (res.action) {
    case MT_CFG_RUN:
        break;
    case MT_CFG_SHOW_HELP:
        rc = mt_cfg_print_help(&mt_sidecar_spec, stdout) == MT_OK ? 0 : 1;
        goto out;
    case MT_CFG_SHOW_VERSION:
        mt_cfg_print_version(&mt_sidecar_spec, stdout);
        rc = 0;
        goto out;
    case MT_CFG_PRINT_CONFIG:
        rc = mt_cfg_print_effective(&mt_sidecar_spec, &cfg, stdout) == MT_OK ? 0 : 1;
        goto out;
    }
    if ((err = mt_sidecar_config_finish(&cfg, &eb)) != MT_OK) {
        fprintf(stderr, "mcptrail-sidecar: %s\n", eb.msg);
        goto out;
    }
    if ((err = mt_runtime_init(&rt, &cfg.common, 1, &eb)) != MT_OK) {
        fprintf(stderr, "mcptrail-sidecar: %s\n", eb.msg);
        goto out;
    }
    rt_ok = true;
    signal(SIGPIPE, SIG_IGN);
    a.cfg = &cfg;
    /* epoll changelist: the per-request enable/disable of upstream and
     * client bufferevents collapses into one epoll_ctl per fd per loop turn. */
    struct event_config *ecfg = event_config_new();
    if (!ecfg)
        goto out;
    event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    a.base = event_base_new_with_config(ecfg);
    event_config_free(ecfg);
    if (!a.base)
        goto out;
    if (!cfg.hmac_key.value || cfg.hmac_key.len == 0) {
        mt_logs(MT_LOG_ERROR, "sidecar", "record.hmac_key_file is required", NULL);
        goto out;
    }
    char upstream[300];
    snprintf(upstream, sizeof upstream, "%s:%d", cfg.upstream_host, (int)cfg.upstream_port);
    mt_kafka_config rec_kafka;
    if (mt_setup_rec_kafka(&rt.kafka, cfg.record_mode == MT_RECORD_STRICT, &rec_props,
                           &rec_kafka) != MT_OK)
        goto out;
    /* The masking engine: rules checked (and compiled, or read from the
     * cache) before anything is served. */
    if ((err = mt_setup_mask(cfg.mask_rules_file, cfg.mask_cache_dir, &cfg.hmac_key, &mask,
                             &eb)) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "sidecar", "cannot load the masking rules", "error", eb.msg, NULL);
        goto out;
    }
    if (cfg.record_signing_key.value &&
        (err = mt_ed25519_load_private_pem(cfg.record_signing_key.value,
                                           cfg.record_signing_key.len,
                                           cfg.record_signing_key.path, &stream_key, &eb)) !=
            MT_OK) {
        mt_logs(MT_LOG_ERROR, "sidecar", "cannot load record.signing_key_file", "error", eb.msg,
                NULL);
        goto out;
    }
    mt_recorder_config rc_cfg = {
        .kafka = rec_kafka,
        .topic = cfg.record_topic,
        .mode = cfg.record_mode == MT_RECORD_STRICT ? MT_REC_STRICT : MT_REC_ASYNC,
        .spool_dir = cfg.record_mode == MT_RECORD_ASYNC ? cfg.spool_dir : NULL,
        .spool_max_bytes = (uint64_t)cfg.spool_max_bytes,
        .spool_sync_interval_ms = (int)cfg.spool_sync_interval_ms,
        .hmac_key = (const uint8_t *)cfg.hmac_key.value,
        .hmac_key_len = cfg.hmac_key.len,
        .source_cluster = cfg.source_cluster,
        .source_namespace = cfg.source_namespace,
        .source_pod = cfg.source_pod,
        .source_upstream = upstream,
        .sidecar_version = MT_VERSION,
        .heartbeat_ms = (int)cfg.heartbeat_interval_ms,
        .signing_key = stream_key,
        .schemas = rt.schemas,
        .mask = mask,
    };
    if ((err = mt_recorder_new(&rc_cfg, a.base, &rec, &eb)) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "sidecar", "cannot start the recorder", "error", eb.msg, NULL);
        goto out;
    }
    if ((err = mt_proxy_new(a.base, &cfg, &metrics, &a.proxy, &eb)) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "sidecar", "cannot start the proxy", "error", eb.msg, NULL);
        goto out;
    }
    mt_proxy_set_recorder(a.proxy, rec);
    if (cfg.approvals_decision_keys.n > 0) {
        if (!cfg.approvals_signing_key.value) {
            mt_logs(MT_LOG_ERROR, "sidecar", "cannot start approval holds", "error",
                    "approvals.signing_key_file is required with approvals.decision_keys: "
                    "approval requests must be signed",
                    NULL);
            err = MT_ERR_CONFIG;
            goto out;
        }
        if ((err = mt_ed25519_load_private_pem(
                 cfg.approvals_signing_key.value, cfg.approvals_signing_key.len,
                 cfg.approvals_signing_key.path, &hold_key, &eb)) != MT_OK) {
            mt_logs(MT_LOG_ERROR, "sidecar", "cannot start approval holds", "error", eb.msg,
                    NULL);
            goto out;
        }
        char kid[MT_ED25519_KEY_ID_SIZE] = "";
        (void)mt_ed25519_key_id(hold_key, kid, NULL);
        mt_logs(MT_LOG_INFO, "sidecar", "approval requests are signed", "key_id", kid, NULL);
        mt_hold_hub_config hc = {
            .signing_key = hold_key,
            .kafka = rt.kafka,
            .topic_requests = cfg.approvals_topic_requests,
            .topic_votes = cfg.approvals_topic_votes,
            .topic_decisions = cfg.approvals_topic_decisions,
            .topic_claims = cfg.approvals_topic_claims,
            .decision_key_files = (const char *const *)cfg.approvals_decision_keys.items,
            .ndecision_keys = cfg.approvals_decision_keys.n,
            .console_url = cfg.approvals_console_url,
            .decision_lookback_ms = cfg.approvals_lookback_ms,
            .expiry_grace_ms = cfg.approvals_grace_ms,
            .max_pending = (size_t)cfg.approvals_max_pending,
            .voter = cfg.source_pod && *cfg.source_pod ? cfg.source_pod : "mcptrail-sidecar",
            .schemas = rt.schemas,
        };
        if ((err = mt_hold_hub_new(&hc, a.base, &holds, &eb)) != MT_OK) {
            mt_logs(MT_LOG_ERROR, "sidecar", "cannot start approval holds", "error", eb.msg,
                    NULL);
            goto out;
        }
        mt_proxy_set_holds(a.proxy, holds, cfg.approvals_progress_ms);
        if (!cfg.approvals_topic_claims)
            mt_logs(MT_LOG_INFO, "approvals", "sealed requestStates are single use per replica",
                    "hint", "set approvals.topic_claims when several replicas serve one "
                    "deployment", NULL);
    }
    mt_admin_config ac = {.address = cfg.admin_address,
                          .port = (uint16_t)cfg.admin_port,
                          .kafka = &rt.kafka,
                          .metrics = &metrics,
                          .proxy = a.proxy,
                          .rec = rec,
                          .holds = holds};
    if ((err = mt_admin_new(a.base, &ac, &admin, &eb)) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "sidecar", "cannot start the admin port", "error", eb.msg, NULL);
        goto out;
    }
    const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(a.base, signums[i], on_signal, &a);
        if (!sigs[i] || evsignal_add(sigs[i], NULL) != 0)
            goto out;
    }
    char listen[320];
    snprintf(listen, sizeof listen, "%s:%d", cfg.listen_address, mt_proxy_port(a.proxy));
    if ((err = mt_setup_instance_start(rec, &mt_sidecar_spec, &cfg, cfg.policy_file, listen,
                                       &eb)) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "sidecar", "cannot record instance_start", "error", eb.msg, NULL);
        goto out;
    }
    started = true;
    mt_log(MT_LOG_INFO, "sidecar", "listening", "address", json_string(cfg.listen_address),
           "port", json_integer(mt_proxy_port(a.proxy)), "admin_port",
           json_integer(mt_admin_port(admin)), "upstream_port",
           json_integer(cfg.upstream_port), "record_mode",
           json_string(cfg.record_mode == MT_RECORD_STRICT ? "strict" : "async"),
           "policy_rules", json_integer(mt_proxy_policy_rules(a.proxy)), NULL);
    event_base_dispatch(a.base);
    rc = 0;
out:
    for (size_t i = 0; i < 3; i++)
        if (sigs[i])
            event_free(sigs[i]);
    if (a.deadline)
        event_free(a.deadline);
    mt_admin_free(admin);
    mt_proxy_free(a.proxy);
    mt_hold_hub_free(holds);
    mt_ed25519_free(hold_key);
    if (rec) {
        if (started && rc == 0)
            (void)mt_rec_instance_stop(rec, NULL, NULL); /* a clean stop, in the stream */
        /* flush the producer so acknowledged-but-unreported events settle */
        if (mt_recorder_flush(rec, 10000, &eb) != MT_OK)
            mt_logs(MT_LOG_WARN, "sidecar", "recorder flush incomplete", "error", eb.msg, NULL);
        mt_recorder_free(rec);
    }
    mt_ed25519_free(stream_key);
    mt_mask_log_uninstall();
    mt_mask_engine_free(mask);
    if (a.base)
        event_base_free(a.base);
    if (rt_ok)
        mt_runtime_free(&rt);
    mt_cfg_result_free(&res);
    mt_cfg_free(&mt_sidecar_spec, &cfg);
    free(rec_props);
    return rc;
}
