/* The pure part of mcptrail-injector: one AdmissionReview v1 request body
 * in, one AdmissionReview v1 response body out, with no network and no
 * global state, so unit tests and the fuzzer drive exactly what the webhook
 * serves.
 *
 * What gets injected is not built here: the chart renders the named template
 * `mcptrail.sidecar` (container, volumes, labels, annotations) into a JSON
 * "injection template" file that the injector loads at start, so a pod that
 * includes the template by hand and a pod the webhook patched carry the same
 * container. This module decides whether a pod gets it and writes the
 * RFC 6902 JSONPatch that adds it. */
#ifndef MT_INJECTOR_INJECT_H
#define MT_INJECTOR_INJECT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "mcptrail/err.h"

/* Marks a pod as injected (value: the injector version); its presence, or a
 * container with the template container's name, means "already injected". */
#define MT_INJECT_ANNOTATION_DONE "mcptrail.io/injected"
/* Optional pod annotation: port of the MCP server the sidecar forwards to.
 * Unset: the first containerPort of the pod's first container, else the
 * template's own upstream port. */
#define MT_INJECT_ANNOTATION_UPSTREAM_PORT "mcptrail.io/upstream-port"
/* Optional pod annotation "true": the MCP server is a stdio program the
 * sidecar runs in the server's own container (needs the template's "stdio"
 * section); which container: MT_INJECT_ANNOTATION_STDIO_CONTAINER (default:
 * the first). */
#define MT_INJECT_ANNOTATION_STDIO "mcptrail.io/stdio"
#define MT_INJECT_ANNOTATION_STDIO_CONTAINER "mcptrail.io/stdio-container"

typedef enum mt_inject_outcome {
    MT_INJECT_PATCHED,   /* opted in; the response carries a patch */
    MT_INJECT_NOT_OPTED, /* allowed unchanged: no opt-in, not a pod, not CREATE */
    MT_INJECT_ALREADY,   /* allowed unchanged: the sidecar is already there */
    MT_INJECT_ERROR,     /* malformed review or pod; allowed per failure mode */
} mt_inject_outcome;

typedef struct mt_inject_params {
    /* Opt-in key, read as a label and as an annotation; "true" opts in,
     * "false" (either place) opts out. */
    const char *opt_in_key;
    /* Errors (malformed review, pod that cannot take the sidecar): false
     * answers allowed=true with a warning (failurePolicy Ignore), true
     * answers allowed=false with the reason (failurePolicy Fail). */
    bool fail_closed;
    /* Loaded and checked by mt_inject_template_check (borrowed). */
    const json_t *tpl;
    const char *version; /* value of MT_INJECT_ANNOTATION_DONE */
    size_t max_bytes;    /* request body bound (the server also enforces it) */
} mt_inject_params;

/* Checks an injection template: {"container": {"name": ..., "image": ...,
 * ...}, "volumes": [{"name": ...}, ...], "labels": {k: "v"},
 * "annotations": {k: "v"}, "upstreamPortEnv": "MCPTRAIL_UPSTREAM_PORT",
 * "stdio": {"launcher": [argv prefix that starts the bundled sidecar],
 * "env": [variables for the bundled sidecar],
 * "initContainer": {...}, "volume": {...}, "mount": {...}}}. container is required; the rest optional. Messages name the
 * field. */
mt_err mt_inject_template_check(const json_t *tpl, mt_errbuf *eb);

/* Loads and checks a template file (at most 1 MiB). */
mt_err mt_inject_template_load(const char *path, json_t **out, mt_errbuf *eb);

/* Answers one review. On MT_OK *response is a malloc'd NUL-terminated
 * AdmissionReview JSON text (caller frees) for every input, malformed ones
 * included; *outcome says what happened and reason (may be NULL) gets the
 * error text of MT_INJECT_ERROR. Only allocation failure returns an error. */
mt_err mt_inject_review(const mt_inject_params *p, const void *body, size_t len, char **response,
                        mt_inject_outcome *outcome, mt_errbuf *reason);

/* The JSONPatch (array of operations, new reference) for a pod object, or
 * NULL with *outcome NOT_OPTED / ALREADY. MT_ERR_PARSE / MT_ERR_CONFIG with a
 * message naming the field when the pod cannot take the sidecar. */
mt_err mt_inject_pod_patch(const mt_inject_params *p, const json_t *pod, json_t **patch,
                           mt_inject_outcome *outcome, mt_errbuf *eb);

const char *mt_inject_outcome_name(mt_inject_outcome o);

#endif
