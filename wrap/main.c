/* mcptrail-wrap: a stdio-to-stdio recorder a CI job puts in front of a stdio
 * MCP server it launches itself (docs/wrap.md):
 *
 *   mcptrail-wrap [options] -- COMMAND ARGS...
 *
 * Loads the configuration, verifies the job's token, starts the recorder and
 * the server, relays (relay.h) until the server ended, then flushes and
 * exits with the server's status. SIGTERM / SIGINT: as if the client closed
 * stdin. Logs go to stderr; stdout is the MCP channel. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "mcptrail/log.h"
#include "mcptrail/mask.h"
#include "mcptrail/policy.h"
#include "mcptrail/runtime.h"
#include "identity.h"
#include "options.h"
#include "recorder.h"
#include "relay.h"
#include "setup.h"

typedef struct app {
    struct event_base *base;
    mt_wrap_relay *relay;
} app;

static void on_done(void *arg)
{
    app *a = arg;
    event_base_loopexit(a->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    app *a = arg;
    mt_log(MT_LOG_INFO, "wrap", "signal: stopping the server", "signal", json_integer(sig),
           NULL);
    if (a->relay)
        mt_wrap_relay_stop(a->relay);
}

/* "npx -y @scope/server" for the record's source.upstream (cut at 255 bytes). */
static void command_text(const mt_cfg_result *res, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < res->nargs && n + 1 < outlen; i++) {
        int k = snprintf(out + n, outlen - n, "%s%s", i ? " " : "", res->args[i]);
        if (k < 0)
            break;
        n += (size_t)k;
    }
}

int main(int argc, char **argv)
{
    int rc = 2;
    mt_errbuf eb = {{0}};
    mt_wrap_config cfg = {0};
    mt_cfg_result res = {0};
    mt_runtime rt = {0};
    bool rt_ok = false, started = false;
    app a = {0};
    mt_recorder *rec = NULL;
    mt_mask_engine *mask = NULL;
    mt_ed25519_key *stream_key = NULL;
    mt_policy *policy = NULL;
    mt_kafka_prop *rec_props = NULL;
    json_t *identity = NULL, *claims = NULL;
    struct event *sigs[2] = {NULL, NULL};

    mt_err err = mt_cfg_load(&mt_wrap_spec, &cfg, argc, argv, NULL, &res, &eb);
    if (err) {
        fprintf(stderr, "mcptrail-wrap: %s\n", eb.msg);
        goto out;
    }
    switch (res.action) {
    case MT_CFG_RUN:
        break;
    case MT_CFG_SHOW_HELP:
        rc = mt_cfg_print_help(&mt_wrap_spec, stdout) == MT_OK ? 0 : 1;
        goto out;
    case MT_CFG_SHOW_VERSION:
        mt_cfg_print_version(&mt_wrap_spec, stdout);
        rc = 0;
        goto out;
    case MT_CFG_PRINT_CONFIG:
        rc = mt_cfg_print_effective(&mt_wrap_spec, &cfg, stdout) == MT_OK ? 0 : 1;
        goto out;
    }
    if (res.nargs == 0) {
        fprintf(stderr, "mcptrail-wrap: no server to run: mcptrail-wrap [options] -- COMMAND "
                        "ARGS...\n");
        goto out;
    }
    if ((err = mt_wrap_config_finish(&cfg, &eb)) != MT_OK ||
        (err = mt_runtime_init(&rt, &cfg.common, 1, &eb)) != MT_OK) {
        fprintf(stderr, "mcptrail-wrap: %s\n", eb.msg);
        goto out;
    }
    rt_ok = true;
    signal(SIGPIPE, SIG_IGN);
    if (!cfg.hmac_key.value || cfg.hmac_key.len == 0) {
        mt_logs(MT_LOG_ERROR, "wrap", "record.hmac_key_file is required", NULL);
        goto out;
    }
    /* Masking first: the identity step may log what a token source said. */
    if ((err = mt_setup_mask(cfg.mask_rules_file, cfg.mask_cache_dir, &cfg.hmac_key, &mask,
                             &eb)) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "wrap", "cannot load the masking rules", "error", eb.msg, NULL);
        goto out;
    }
    if ((err = mt_wrap_identity(&cfg, &identity, &claims, &eb)) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "wrap", "no verified CI identity; the server is not started",
                "error", eb.msg, NULL);
        goto out;
    }
    if (cfg.policy_file && (err = mt_policy_load_file(cfg.policy_file, &policy, &eb)) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "wrap", "cannot load policy.file", "error", eb.msg, NULL);
        goto out;
    }
    if (cfg.record_signing_key.value &&
        (err = mt_ed25519_load_private_pem(cfg.record_signing_key.value,
                                           cfg.record_signing_key.len,
                                           cfg.record_signing_key.path, &stream_key, &eb)) !=
            MT_OK) {
        mt_logs(MT_LOG_ERROR, "wrap", "cannot load record.signing_key_file", "error", eb.msg,
                NULL);
        goto out;
    }
    if (!(a.base = event_base_new()))
        goto out;
    bool strict = cfg.record_mode == 0;
    mt_kafka_config rec_kafka;
    if (mt_setup_rec_kafka(&rt.kafka, strict, &rec_props, &rec_kafka) != MT_OK)
        goto out;
    char upstream[256];
    command_text(&res, upstream, sizeof upstream);
    mt_recorder_config rc_cfg = {
        .kafka = rec_kafka,
        .topic = cfg.record_topic,
        .mode = strict ? MT_REC_STRICT : MT_REC_ASYNC,
        .spool_dir = strict ? NULL : cfg.spool_dir,
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
        mt_logs(MT_LOG_ERROR, "wrap", "cannot start the recorder", "error", eb.msg, NULL);
        goto out;
    }
    if ((err = mt_setup_instance_start(rec, &mt_wrap_spec, &cfg, cfg.policy_file, "stdio",
                                       &eb)) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "wrap", "cannot record instance_start", "error", eb.msg, NULL);
        goto out;
    }
    started = true;
    mt_strlist argvl = {res.args, res.nargs};
    mt_child_spec spec = {
        .argv = &argvl,
        .env_allow = &cfg.env_allow,
        .env = &cfg.env,
        .cwd = cfg.cwd,
        .max_line = (size_t)cfg.max_line_bytes,
        .max_buffered = (size_t)cfg.max_buffered,
        .stop_grace_ms = cfg.stop_grace_ms,
        .log_name = "stdio",
    };
    mt_wrap_relay_config relay_cfg = {
        .base = a.base,
        .rec = rec,
        .identity = identity,
        .claims = claims,
        .policy = policy,
        .child = &spec,
        .strict = strict,
        .max_line = (size_t)cfg.max_line_bytes,
        .in_fd = STDIN_FILENO,
        .out_fd = STDOUT_FILENO,
        .on_done = on_done,
        .arg = &a,
    };
    if ((err = mt_wrap_relay_start(&relay_cfg, &a.relay, &eb)) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "wrap", "cannot start the server", "error", eb.msg, NULL);
        goto out;
    }
    const int signums[2] = {SIGTERM, SIGINT};
    for (size_t i = 0; i < 2; i++) {
        sigs[i] = evsignal_new(a.base, signums[i], on_signal, &a);
        if (!sigs[i] || evsignal_add(sigs[i], NULL) != 0)
            goto out;
    }
    mt_logs(MT_LOG_INFO, "wrap", "recording", "command", upstream, "record_mode",
            strict ? "strict" : "async", "subject",
            json_string_value(json_object_get(identity, "subject")), NULL);
    event_base_dispatch(a.base);
    rc = mt_wrap_relay_exit_code(a.relay);
out:
    for (size_t i = 0; i < 2; i++)
        if (sigs[i])
            event_free(sigs[i]);
    mt_wrap_relay_free(a.relay);
    if (rec) {
        if (started)
            (void)mt_rec_instance_stop(rec, NULL, NULL);
        if (mt_recorder_flush(rec, 10000, &eb) != MT_OK)
            mt_logs(MT_LOG_WARN, "wrap", "recorder flush incomplete", "error", eb.msg, NULL);
        mt_recorder_free(rec);
    }
    json_decref(identity);
    json_decref(claims);
    mt_policy_free(policy);
    mt_ed25519_free(stream_key);
    mt_mask_log_uninstall();
    mt_mask_engine_free(mask);
    if (a.base)
        event_base_free(a.base);
    if (rt_ok)
        mt_runtime_free(&rt);
    mt_cfg_result_free(&res);
    mt_cfg_free(&mt_wrap_spec, &cfg);
    free(rec_props);
    return rc;
}
