/* mcptrail-approvals entry point: configuration, keys, one event loop.
 * SIGTERM/SIGINT stop the loop; decisions in flight are flushed (bounded)
 * and anything not acknowledged is re-sent by the next start's replay. */
#include <signal.h>
#include <stdio.h>

#include <event2/event.h>

#include "mcptrail/crypto.h"
#include "mcptrail/jwt.h"
#include "mcptrail/log.h"
#include "mcptrail/runtime.h"
#include "options.h"
#include "service.h"
#include "trust.h"

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    mt_logs(MT_LOG_INFO, "approvals", "shutting down", NULL);
    event_base_loopexit(arg, NULL);
}

/* Every key allowed to sign on the approval topics: this service's own
 * (current and retired), then the sidecars and bots of trust.file. */
static mt_err load_trust(const mt_approvals_config *cfg, const mt_ed25519_key *key,
                         mt_trust *t, mt_errbuf *eb)
{
    mt_err err = mt_trust_add_service(t, key, false, eb);
    for (size_t i = 0; err == MT_OK && i < cfg->signing_previous.n; i++)
        err = mt_trust_add_service_file(t, cfg->signing_previous.items[i], eb);
    if (err == MT_OK)
        err = mt_trust_load_file(t, cfg->trust_file, eb);
    if (err == MT_OK && mt_trust_count(t, MT_TRUST_SIDECAR) == 0)
        err = mt_fail(eb, MT_ERR_CONFIG,
                      "trust.file %s names no sidecar key: every ApprovalRequest would be "
                      "ignored (add each sidecar's approvals.signing_key_file public key)",
                      cfg->trust_file);
    return err;
}

int main(int argc, char **argv)
{
    int rc = 1;
    mt_errbuf eb = {{0}};
    mt_approvals_config cfg = {0};
    mt_runtime rt = {0};
    bool rt_ok = false;
    mt_ed25519_key *key = NULL;
    mt_jwks *jwks = NULL;
    mt_trust trust;
    struct event_base *base = NULL;
    mt_approvals *svc = NULL;
    struct event *sigs[2] = {NULL, NULL};
    mt_cfg_result res = {0};
    mt_trust_init(&trust);

    if (mt_cfg_load(&mt_approvals_spec, &cfg, argc, argv, NULL, &res, &eb) != MT_OK)
        goto fail;
    switch (res.action) {
    case MT_CFG_RUN:
        break;
    case MT_CFG_SHOW_HELP:
        rc = mt_cfg_print_help(&mt_approvals_spec, stdout) == MT_OK ? 0 : 1;
        goto out;
    case MT_CFG_SHOW_VERSION:
        mt_cfg_print_version(&mt_approvals_spec, stdout);
        rc = 0;
        goto out;
    case MT_CFG_PRINT_CONFIG:
        rc = mt_cfg_print_effective(&mt_approvals_spec, &cfg, stdout) == MT_OK ? 0 : 1;
        goto out;
    }
    if (mt_approvals_config_finish(&cfg, &eb) != MT_OK ||
        mt_runtime_init(&rt, &cfg.common, 1, &eb) != MT_OK)
        goto fail;
    rt_ok = true;
    if (mt_ed25519_load_private_pem(cfg.signing_key.value, cfg.signing_key.len,
                                    cfg.signing_key.path, &key, &eb) != MT_OK ||
        mt_jwks_load_file(cfg.jwks_file, &jwks, &eb) != MT_OK ||
        load_trust(&cfg, key, &trust, &eb) != MT_OK)
        goto fail;
    signal(SIGPIPE, SIG_IGN);
    if (!(base = event_base_new()))
        goto out;
    mt_approvals_params p = {
        .cfg = &cfg, .kafka = rt.kafka, .schemas = rt.schemas, .key = key, .trust = &trust,
        .jwks = jwks, .base = base};
    if (mt_approvals_new(&p, &svc, &eb) != MT_OK)
        goto fail;
    char kid[MT_ED25519_KEY_ID_SIZE] = "";
    mt_ed25519_key_id(key, kid, NULL);
    mt_log(MT_LOG_INFO, "approvals", "listening", "address", json_string(cfg.api_address),
           "port", json_integer(mt_approvals_port(svc)), "key_id", json_string(kid),
           "trusted_sidecars", json_integer((json_int_t)mt_trust_count(&trust, MT_TRUST_SIDECAR)),
           "trusted_bots", json_integer((json_int_t)mt_trust_count(&trust, MT_TRUST_BOT)), NULL);
    sigs[0] = evsignal_new(base, SIGTERM, on_signal, base);
    sigs[1] = evsignal_new(base, SIGINT, on_signal, base);
    for (int i = 0; i < 2; i++)
        if (!sigs[i] || event_add(sigs[i], NULL) != 0)
            goto out;
    event_base_dispatch(base);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "mcptrail-approvals: %s\n", eb.msg);
out:
    mt_approvals_free(svc);
    for (int i = 0; i < 2; i++)
        if (sigs[i])
            event_free(sigs[i]);
    if (base)
        event_base_free(base);
    mt_jwks_free(jwks);
    mt_trust_free(&trust);
    mt_ed25519_free(key);
    if (rt_ok)
        mt_runtime_free(&rt);
    mt_cfg_result_free(&res);
    mt_cfg_free(&mt_approvals_spec, &cfg);
    return rc;
}
