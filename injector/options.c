/* mcptrail-injector option table; see options.h. Like every mcptrail
 * listener it binds loopback by default; the chart's Deployment sets
 * listen.address to 0.0.0.0. */
#include "options.h"

#include <stddef.h>

#define O(field) offsetof(mt_injector_config, field)

static const char *const failure_modes[] = {"fail", "ignore", NULL};

const mt_cfg_option mt_injector_options[] = {
    {"listen.address", MT_CFG_STRING, "127.0.0.1",
     "Address of the HTTPS listener (POST /mutate, GET /healthz, /readyz). Pods use `0.0.0.0`.",
     O(listen_address), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"listen.port", MT_CFG_INT, "8443", "TCP port of the HTTPS listener (0: ephemeral, for tests).",
     O(listen_port), 0, 65535, NULL, 0},
    {"tls.cert_file", MT_CFG_STRING, NULL,
     "PEM certificate chain the API server verifies (against the webhook's caBundle).", O(tls_cert),
     0, 0, NULL, MT_CFG_F_REQUIRED},
    {"tls.key_file", MT_CFG_STRING, NULL, "PEM private key matching tls.cert_file.", O(tls_key), 0,
     0, NULL, MT_CFG_F_REQUIRED},
    {"limits.max_body_bytes", MT_CFG_SIZE, "4MiB",
     "Largest AdmissionReview body accepted (413 beyond, which the API server handles per "
     "the webhook's failurePolicy).",
     O(max_body_bytes), 16384, 64 << 20, NULL, 0},
    {"limits.request_timeout", MT_CFG_DURATION, "10s",
     "Connection read/write timeout (the API server gives a webhook at most 30 s).",
     O(request_timeout_ms), 1000, 60000, NULL, 0},
    {"inject.template_file", MT_CFG_STRING, NULL,
     "Injection template (JSON: the sidecar `container`, its `volumes`, pod `labels` and "
     "`annotations` to add, `upstreamPortEnv`), rendered by the Helm chart from the "
     "`mcptrail.sidecar` named template.",
     O(template_file), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"inject.opt_in_key", MT_CFG_STRING, "mcptrail.io/inject",
     "Pod label or annotation that opts in (`\"true\"`) or out (`\"false\"`) of injection.",
     O(opt_in_key), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"inject.failure_mode", MT_CFG_ENUM, "fail",
     "Answer to a malformed review or a pod that cannot take the sidecar: `fail` denies it "
     "with the reason, `ignore` admits it unchanged with a warning. Match the webhook's "
     "failurePolicy.",
     O(failure_mode), 0, 0, failure_modes, 0},
    MT_CFG_END,
};

const mt_cfg_spec mt_injector_spec = {
    .program = "mcptrail-injector",
    .summary = "Mutating admission webhook: adds the mcptrail sidecar to pods that opt in.",
    .env_prefix = "MCPTRAIL_",
    .parts = {{mt_cfg_common_options, offsetof(mt_injector_config, common)},
              {mt_injector_options, 0},
              {NULL, 0}},
};
