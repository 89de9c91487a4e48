/* Admission review handling of mcptrail-injector (see inject.h).
 *
 * Every review is answered: a body that is not JSON, a review of another
 * API version, a pod without containers all get an AdmissionReview whose
 * response carries the request uid when one could be read, `allowed` per the
 * failure mode, and a status message that says what was wrong. The API
 * server itself would otherwise report a bare "failed calling webhook".
 *
 * The patch only appends (containers/-, volumes/-, new label and annotation
 * keys), so it applies on top of whatever other webhooks did before us and
 * never rewrites the user's own containers. */
#include "inject.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mcptrail/buf.h"
#include "mcptrail/json.h"

const char *mt_inject_outcome_name(mt_inject_outcome o)
{
    switch (o) {
    case MT_INJECT_PATCHED:
        return "patched";
    case MT_INJECT_NOT_OPTED:
        return "not_opted_in";
    case MT_INJECT_ALREADY:
        return "already_injected";
    case MT_INJECT_ERROR:
        return "error";
    }
    return "unknown";
}

/* --- template -------------------------------------------------------------- */

static mt_err check_string_map(const json_t *tpl, const char *field, mt_errbuf *eb)
{
    const json_t *m = json_object_get(tpl, field);
    if (!m)
        return MT_OK;
    if (!json_is_object(m))
        return mt_fail(eb, MT_ERR_CONFIG, "template: '%s' must be an object, got %s", field,
                       mt_json_type_name(m));
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        if (!json_is_string(v))
            return mt_fail(eb, MT_ERR_CONFIG, "template: %s['%s'] must be a string, got %s", field,
                           k, mt_json_type_name(v));
    }
    return MT_OK;
}

static const char *map_get(const json_t *map, const char *key);

static bool is_string_array(const json_t *a)
{
    size_t i;
    const json_t *v;
    if (!json_is_array(a))
        return false;
    json_array_foreach((json_t *)a, i, v)
    {
        if (!json_is_string(v))
            return false;
    }
    return true;
}

mt_err mt_inject_template_check(const json_t *tpl, mt_errbuf *eb)
{
    if (!json_is_object(tpl))
        return mt_fail(eb, MT_ERR_CONFIG, "template: must be a JSON object");
    const json_t *c = json_object_get(tpl, "container");
    if (!json_is_object(c))
        return mt_fail(eb, MT_ERR_CONFIG, "template: 'container' must be an object");
    const json_t *name = json_object_get(c, "name");
    const json_t *image = json_object_get(c, "image");
    if (!json_is_string(name) || json_string_length(name) == 0)
        return mt_fail(eb, MT_ERR_CONFIG, "template: container.name must be a non-empty string");
    if (!json_is_string(image) || json_string_length(image) == 0)
        return mt_fail(eb, MT_ERR_CONFIG, "template: container.image must be a non-empty string");
    const json_t *vols = json_object_get(tpl, "volumes");
    if (vols) {
        if (!json_is_array(vols))
            return mt_fail(eb, MT_ERR_CONFIG, "template: 'volumes' must be an array");
        size_t i;
        const json_t *v;
        json_array_foreach((json_t *)vols, i, v)
        {
            if (!json_is_object(v) || !json_is_string(json_object_get(v, "name")))
                return mt_fail(eb, MT_ERR_CONFIG,
                               "template: volumes[%zu] must be an object with a string 'name'", i);
        }
    }
    mt_err err;
    if ((err = check_string_map(tpl, "labels", eb)) != MT_OK ||
        (err = check_string_map(tpl, "annotations", eb)) != MT_OK)
        return err;
    const json_t *env = json_object_get(tpl, "upstreamPortEnv");
    if (env && !json_is_string(env))
        return mt_fail(eb, MT_ERR_CONFIG, "template: 'upstreamPortEnv' must be a string");
    const json_t *st = json_object_get(tpl, "stdio");
    if (st) {
        if (!json_is_object(st))
            return mt_fail(eb, MT_ERR_CONFIG, "template: 'stdio' must be an object");
        const json_t *l = json_object_get(st, "launcher");
        if (!is_string_array(l) || json_array_size(l) == 0)
            return mt_fail(eb, MT_ERR_CONFIG,
                           "template: stdio.launcher must be a non-empty array of strings");
        const json_t *senv = json_object_get(st, "env");
        size_t i;
        const json_t *e;
        if (senv && !json_is_array(senv))
            return mt_fail(eb, MT_ERR_CONFIG, "template: stdio.env must be an array");
        json_array_foreach((json_t *)senv, i, e)
        {
            if (!map_get(e, "name"))
                return mt_fail(eb, MT_ERR_CONFIG,
                               "template: stdio.env[%zu] must be an object with a string 'name'",
                               i);
        }
        const char *objs[] = {"initContainer", "volume", "mount"};
        for (size_t k = 0; k < 3; k++)
            if (!map_get(json_object_get(st, objs[k]), "name"))
                return mt_fail(eb, MT_ERR_CONFIG,
                               "template: stdio.%s must be an object with a string 'name'",
                               objs[k]);
    }
    return MT_OK;
}

mt_err mt_inject_template_load(const char *path, json_t **out, mt_errbuf *eb)
{
    mt_json_limits lim = MT_JSON_LIMITS_DEFAULT;
    json_t *tpl = NULL;
    mt_err err = mt_json_load_file(path, &lim, &tpl, eb);
    if (err != MT_OK)
        return err;
    if ((err = mt_inject_template_check(tpl, eb)) != MT_OK) {
        json_decref(tpl);
        return err;
    }
    *out = tpl;
    return MT_OK;
}

/* --- patch ----------------------------------------------------------------- */

/* RFC 6901 escaping of one reference token ('~' -> "~0", '/' -> "~1"). */
static mt_err pointer_append(mt_buf *b, const char *token)
{
    mt_err err = MT_OK;
    for (const char *s = token; *s && err == MT_OK; s++) {
        if (*s == '~')
            err = mt_buf_append(b, "~0", 2);
        else if (*s == '/')
            err = mt_buf_append(b, "~1", 2);
        else
            err = mt_buf_append_byte(b, (uint8_t)*s);
    }
    return err;
}

static mt_err add_op(json_t *patch, const char *prefix, const char *key, json_t *value)
{
    mt_buf b = MT_BUF_INIT;
    mt_err err = mt_buf_append(&b, prefix, strlen(prefix));
    if (err == MT_OK && key)
        err = pointer_append(&b, key);
    if (err == MT_OK)
        err = mt_buf_append_byte(&b, 0);
    json_t *op = NULL;
    if (err == MT_OK && value)
        op =
            json_pack("{s:s, s:s, s:O}", "op", "add", "path", (const char *)b.data, "value", value);
    json_decref(value);
    mt_buf_free(&b);
    if (err == MT_OK && (!op || json_array_append_new(patch, op) != 0))
        err = MT_ERR_NOMEM;
    return err;
}

/* {"op":"replace","path":path,"value":value} (value stolen). */
static mt_err replace_op(json_t *patch, const char *path, json_t *value)
{
    json_t *op = value ? json_pack("{s:s, s:s, s:o}", "op", "replace", "path", path, "value",
                                   value)
                       : NULL;
    return op && json_array_append_new(patch, op) == 0 ? MT_OK : MT_ERR_NOMEM;
}

static const char *map_get(const json_t *map, const char *key)
{
    const json_t *v = json_is_object(map) ? json_object_get(map, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool has_container(const json_t *list, const char *name)
{
    size_t i;
    const json_t *c;
    if (!json_is_array(list) || !name)
        return false;
    json_array_foreach((json_t *)list, i, c)
    {
        const char *n = map_get(c, "name");
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

/* Ports the template container listens on; a pod container declaring one
 * of them would fail to start next to the sidecar. */
static mt_err check_port_clash(const json_t *containers, const json_t *sidecar, mt_errbuf *eb)
{
    const json_t *sports = json_object_get(sidecar, "ports");
    size_t i, j, k;
    const json_t *c, *p, *sp;
    if (!json_is_array(sports))
        return MT_OK;
    json_array_foreach((json_t *)containers, i, c)
    {
        const json_t *ports = json_object_get(c, "ports");
        if (!json_is_array(ports))
            continue;
        json_array_foreach((json_t *)ports, j, p)
        {
            const json_t *cp = json_object_get(p, "containerPort");
            if (!json_is_integer(cp))
                continue;
            json_array_foreach((json_t *)sports, k, sp)
            {
                const json_t *scp = json_object_get(sp, "containerPort");
                if (json_is_integer(scp) && json_integer_value(scp) == json_integer_value(cp))
                    return mt_fail(eb, MT_ERR_CONFIG,
                                   "container '%s' declares port %lld, which the mcptrail "
                                   "sidecar listens on; move the MCP server to another port "
                                   "(and set the %s annotation)",
                                   map_get(c, "name") ? map_get(c, "name") : "?",
                                   (long long)json_integer_value(cp),
                                   MT_INJECT_ANNOTATION_UPSTREAM_PORT);
            }
        }
    }
    return MT_OK;
}

/* Upstream port: annotation, else the first containerPort of the first
 * container, else 0 (keep the template's). */
static mt_err upstream_port(const json_t *annotations, const json_t *containers, long *out,
                            mt_errbuf *eb)
{
    *out = 0;
    const char *a = map_get(annotations, MT_INJECT_ANNOTATION_UPSTREAM_PORT);
    if (a) {
        char *end = NULL;
        long v = strtol(a, &end, 10);
        if (!*a || *end || v < 1 || v > 65535 || a[0] == '+' || a[0] == '-' || a[0] == ' ')
            return mt_fail(eb, MT_ERR_PARSE,
                           "annotation %s: '%.40s' is not a port number (1..65535)",
                           MT_INJECT_ANNOTATION_UPSTREAM_PORT, a);
        *out = v;
        return MT_OK;
    }
    const json_t *ports = json_object_get(json_array_get(containers, 0), "ports");
    const json_t *cp = json_object_get(json_array_get(ports, 0), "containerPort");
    if (json_is_integer(cp) && json_integer_value(cp) >= 1 && json_integer_value(cp) <= 65535)
        *out = (long)json_integer_value(cp);
    return MT_OK;
}

/* The template container with the upstream port set in its environment. */
static json_t *sidecar_container(const mt_inject_params *p, long port)
{
    json_t *c = json_deep_copy(json_object_get(p->tpl, "container"));
    const char *envname = map_get(p->tpl, "upstreamPortEnv");
    if (!c || port == 0 || !envname)
        return c;
    char text[16];
    snprintf(text, sizeof text, "%ld", port);
    json_t *env = json_object_get(c, "env");
    if (!json_is_array(env)) {
        env = json_array();
        if (!env || json_object_set_new(c, "env", env) != 0)
            goto nomem;
    }
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *n = map_get(e, "name");
        if (n && strcmp(n, envname) == 0) {
            json_object_del(e, "valueFrom");
            if (json_object_set_new(e, "value", json_string(text)) != 0)
                goto nomem;
            return c;
        }
    }
    if (json_array_append_new(env, json_pack("{s:s, s:s}", "name", envname, "value", text)) == 0)
        return c;
nomem:
    json_decref(c);
    return NULL;
}

/* Adds the template volumes tvols to the pod's (volumes, NULL: none yet).
 * Volumes the pod already has under the same name are the user's own (e.g. a
 * differently named ConfigMap): kept. */
static mt_err add_volumes(json_t *patch, const json_t *volumes, const json_t *tvols)
{
    mt_err err = MT_OK;
    if (!json_is_array(tvols) || json_array_size(tvols) == 0)
        return MT_OK;
    if (!volumes)
        return add_op(patch, "/spec/volumes", NULL, json_deep_copy(tvols));
    size_t i;
    const json_t *tv;
    json_array_foreach((json_t *)tvols, i, tv)
    {
        if (err != MT_OK)
            break;
        if (has_container(volumes, map_get(tv, "name")))
            continue;
        err = add_op(patch, "/spec/volumes/-", NULL, json_deep_copy(tv));
    }
    return err;
}

/* Appends the entries of from (array) whose key (e.g. "name") is not in to
 * yet. */
static mt_err merge_by(json_t *to, const json_t *from, const char *key)
{
    size_t i;
    const json_t *e;
    json_array_foreach((json_t *)from, i, e)
    {
        if (has_container(to, map_get(e, key))) /* has_container: any array of named objects */
            continue;
        if (json_array_append_new(to, json_deep_copy(e)) != 0)
            return MT_ERR_NOMEM;
    }
    return MT_OK;
}

/* a followed by b, malloc'd; NULL: no memory. */
static char *concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (s) {
        memcpy(s, a, na);
        memcpy(s + na, b, nb + 1);
    }
    return s;
}

/* The array member `field` of object o, created empty when absent. */
static json_t *array_member(json_t *o, const char *field)
{
    json_t *a = json_object_get(o, field);
    if (json_is_array(a))
        return a;
    a = json_array();
    return a && json_object_set_new(o, field, a) == 0 ? a : NULL;
}

/* mcptrail.io/stdio: the pod's MCP server is a stdio program and the
 * sidecar runs it as its child, in the server's own container
 * (docs/kubernetes.md "stdio servers"). An init container copies the
 * sidecar bundle (binary, the libraries it needs with their loader,
 * schemas) into an emptyDir; the server container's command becomes the
 * sidecar, started through the bundled loader, with the original command and
 * args as upstream.command and upstream.env_inherit (the server keeps the
 * container's environment but MCPTRAIL_*, which the container may not set);
 * it gets the sidecar's environment, mounts, ports and probes, and keeps its
 * image, resources and security context. The server then runs with the
 * sidecar's user and files (docs/kubernetes.md "stdio servers": trust). */
static mt_err stdio_patch(const mt_inject_params *p, const json_t *spec,
                          const json_t *annotations, json_t *patch, mt_errbuf *eb)
{
    const json_t *st = json_object_get(p->tpl, "stdio");
    if (!st)
        return mt_fail(eb, MT_ERR_CONFIG,
                       "the pod asks for %s but the injection template has no stdio section "
                       "(set sidecar.stdio.enabled in the chart)",
                       MT_INJECT_ANNOTATION_STDIO);
    const json_t *containers = json_object_get(spec, "containers");
    const char *want = map_get(annotations, MT_INJECT_ANNOTATION_STDIO_CONTAINER);
    size_t idx = 0;
    if (want) {
        size_t i;
        const json_t *c;
        bool found = false;
        json_array_foreach((json_t *)containers, i, c)
        {
            if (!found && strcmp(map_get(c, "name"), want) == 0) {
                idx = i;
                found = true;
            }
        }
        if (!found)
            return mt_fail(eb, MT_ERR_CONFIG, "%s names no container '%s' of the pod",
                           MT_INJECT_ANNOTATION_STDIO_CONTAINER, want);
    }
    const json_t *c = json_array_get(containers, idx);
    const json_t *cmd = json_object_get(c, "command");
    const json_t *args = json_object_get(c, "args");
    if (!is_string_array(cmd) || json_array_size(cmd) == 0 || (args && !is_string_array(args)))
        return mt_fail(eb, MT_ERR_CONFIG,
                       "container '%s' (the stdio MCP server) must set command (and args, if "
                       "any) as arrays of strings: the webhook cannot read the image's "
                       "entrypoint",
                       map_get(c, "name"));
    /* the sidecar's settings are its own: the server's env may not set them */
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(c, "env"), i, e)
    {
        const char *n = map_get(e, "name");
        if (n && strncmp(n, "MCPTRAIL_", 9) == 0)
            return mt_fail(eb, MT_ERR_CONFIG,
                           "container '%s' sets %s: MCPTRAIL_* variables would configure the "
                           "sidecar that runs in this container; remove it",
                           map_get(c, "name"), n);
    }
    /* the sidecar's ports must be free in the other containers */
    json_t *others = json_deep_copy(containers);
    mt_err err = others && json_array_remove(others, idx) == 0 ? MT_OK : MT_ERR_NOMEM;
    if (err == MT_OK)
        err = check_port_clash(others, json_object_get(p->tpl, "container"), eb);
    json_decref(others);
    if (err != MT_OK)
        return err == MT_ERR_NOMEM ? mt_fail(eb, err, "out of memory building the patch") : err;
    json_t *argv = json_deep_copy(cmd);
    json_t *sc = sidecar_container(p, 0);
    json_t *nc = json_deep_copy(c);
    json_t *init = json_deep_copy(json_object_get(st, "initContainer"));
    json_t *tvols = json_deep_copy(json_object_get(p->tpl, "volumes"));
    char *argv_text = NULL;
    err = argv && sc && nc && init && (tvols || !json_object_get(p->tpl, "volumes"))
              ? MT_OK
              : MT_ERR_NOMEM;
    if (err == MT_OK && args && json_array_extend(argv, (json_t *)args) != 0)
        err = MT_ERR_NOMEM;
    if (err == MT_OK && !(argv_text = json_dumps(argv, JSON_COMPACT)))
        err = MT_ERR_NOMEM;
    json_t *nargs = err == MT_OK ? json_deep_copy(json_object_get(sc, "args")) : NULL;
    if (err == MT_OK && !nargs)
        nargs = json_array();
    if (err == MT_OK) {
        char *a1 = concat("--upstream.command=", argv_text);
        if (!nargs || !a1 || json_array_append_new(nargs, json_string(a1)) != 0 ||
            json_array_append_new(nargs, json_string("--upstream.env_inherit=true")) != 0 ||
            json_object_set(nc, "command", json_object_get(st, "launcher")) != 0) {
            err = MT_ERR_NOMEM;
            json_decref(nargs);
        } else if (json_object_set_new(nc, "args", nargs) != 0) { /* steals nargs either way */
            err = MT_ERR_NOMEM;
        }
        free(a1);
    }
    /* the sidecar's environment, then the container's own (no MCPTRAIL_* among
     * them, checked above); the sidecar's mounts join the container's */
    json_t *env = json_array();
    json_t *mounts = err == MT_OK ? array_member(nc, "volumeMounts") : NULL;
    if (err == MT_OK && (!env || !mounts || merge_by(env, json_object_get(sc, "env"), "name") ||
                         merge_by(env, json_object_get(st, "env"), "name") ||
                         merge_by(env, json_object_get(c, "env"), "name") ||
                         json_object_set(nc, "env", env) != 0 ||
                         merge_by(mounts, json_object_get(sc, "volumeMounts"), "name") ||
                         json_array_append(mounts, json_object_get(st, "mount")) != 0))
        err = MT_ERR_NOMEM;
    json_decref(env);
    /* clients reach the sidecar's port, probes ask the sidecar */
    const char *take[] = {"ports", "startupProbe", "livenessProbe", "readinessProbe"};
    for (size_t k = 0; err == MT_OK && k < 4; k++) {
        json_t *v = json_object_get(sc, take[k]);
        if (v ? json_object_set(nc, take[k], v) != 0 : (json_object_del(nc, take[k]), false))
            err = MT_ERR_NOMEM;
    }
    char path[64];
    snprintf(path, sizeof path, "/spec/containers/%zu", idx);
    if (err == MT_OK) {
        err = replace_op(patch, path, nc);
        nc = NULL;
    }
    if (err == MT_OK) {
        const json_t *inits = json_object_get(spec, "initContainers");
        err = inits ? add_op(patch, "/spec/initContainers/-", NULL, init)
                    : add_op(patch, "/spec/initContainers", NULL, json_pack("[o]", init));
        init = NULL;
    }
    if (err == MT_OK && !tvols)
        tvols = json_array();
    if (err == MT_OK && (!tvols || json_array_append(tvols, json_object_get(st, "volume")) != 0))
        err = MT_ERR_NOMEM;
    if (err == MT_OK)
        err = add_volumes(patch, json_object_get(spec, "volumes"), tvols);
    json_decref(argv);
    json_decref(sc);
    json_decref(nc);
    json_decref(init);
    json_decref(tvols);
    free(argv_text);
    return err == MT_OK ? MT_OK : mt_fail(eb, err, "out of memory building the patch");
}

/* Adds the keys of tpl[field] missing from the pod's metadata[field]. */
static mt_err add_map_entries(json_t *patch, const json_t *meta, const json_t *extra,
                              const char *field)
{
    const json_t *have = json_object_get(meta, field);
    if (!json_is_object(extra) || json_object_size(extra) == 0)
        return MT_OK;
    if (!json_is_object(have)) {
        char path[64];
        snprintf(path, sizeof path, "/metadata/%s", field);
        return add_op(patch, path, NULL, json_deep_copy(extra));
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "/metadata/%s/", field);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)extra, k, v)
    {
        if (json_object_get(have, k))
            continue;
        mt_err err = add_op(patch, prefix, k, json_deep_copy(v));
        if (err != MT_OK)
            return err;
    }
    return MT_OK;
}

mt_err mt_inject_pod_patch(const mt_inject_params *p, const json_t *pod, json_t **patch_out,
                           mt_inject_outcome *outcome, mt_errbuf *eb)
{
    *patch_out = NULL;
    *outcome = MT_INJECT_ERROR;
    if (!json_is_object(pod))
        return mt_fail(eb, MT_ERR_PARSE, "request.object must be a Pod object, got %s",
                       mt_json_type_name(pod));
    const json_t *meta = json_object_get(pod, "metadata");
    if (meta && !json_is_object(meta))
        return mt_fail(eb, MT_ERR_PARSE, "request.object.metadata must be an object, got %s",
                       mt_json_type_name(meta));
    const json_t *labels = json_object_get(meta, "labels");
    const json_t *annotations = json_object_get(meta, "annotations");
    if ((labels && !json_is_object(labels)) || (annotations && !json_is_object(annotations)))
        return mt_fail(eb, MT_ERR_PARSE,
                       "request.object.metadata.labels and .annotations must be objects");
    const char *lv = map_get(labels, p->opt_in_key);
    const char *av = map_get(annotations, p->opt_in_key);
    bool opt_out = (lv && strcmp(lv, "false") == 0) || (av && strcmp(av, "false") == 0);
    bool opt_in = (lv && strcmp(lv, "true") == 0) || (av && strcmp(av, "true") == 0);
    if (opt_out || !opt_in) {
        *outcome = MT_INJECT_NOT_OPTED;
        return MT_OK;
    }
    const json_t *spec = json_object_get(pod, "spec");
    if (!json_is_object(spec))
        return mt_fail(eb, MT_ERR_PARSE, "request.object.spec must be an object (a Pod spec)");
    const json_t *containers = json_object_get(spec, "containers");
    if (!json_is_array(containers) || json_array_size(containers) == 0)
        return mt_fail(eb, MT_ERR_PARSE,
                       "request.object.spec.containers must be a non-empty array");
    const json_t *init = json_object_get(spec, "initContainers");
    const char *sname = map_get(json_object_get(p->tpl, "container"), "name");
    if (map_get(annotations, MT_INJECT_ANNOTATION_DONE) || has_container(containers, sname) ||
        has_container(init, sname)) {
        *outcome = MT_INJECT_ALREADY;
        return MT_OK;
    }
    size_t i;
    const json_t *c;
    json_array_foreach((json_t *)containers, i, c)
    {
        if (!json_is_object(c) || !json_is_string(json_object_get(c, "name")))
            return mt_fail(eb, MT_ERR_PARSE,
                           "request.object.spec.containers[%zu] must be an object with a "
                           "string 'name'",
                           i);
    }
    const json_t *volumes = json_object_get(spec, "volumes");
    if (volumes && !json_is_array(volumes))
        return mt_fail(eb, MT_ERR_PARSE, "request.object.spec.volumes must be an array");
    const char *stdio = map_get(annotations, MT_INJECT_ANNOTATION_STDIO);
    json_t *patch = NULL;
    mt_err err;
    if (stdio && strcmp(stdio, "true") == 0) {
        if (!(patch = json_array()))
            return MT_ERR_NOMEM;
        if ((err = stdio_patch(p, spec, annotations, patch, eb)) != MT_OK) {
            json_decref(patch);
            return err;
        }
        goto metadata;
    }
    err = check_port_clash(containers, json_object_get(p->tpl, "container"), eb);
    long port = 0;
    if (err == MT_OK)
        err = upstream_port(annotations, containers, &port, eb);
    if (err != MT_OK)
        return err;
    /* An upstream on the sidecar's own port would make it proxy to itself. */
    const json_t *sports = json_object_get(json_object_get(p->tpl, "container"), "ports");
    const json_t *sp;
    json_array_foreach((json_t *)sports, i, sp)
    {
        const json_t *scp = json_object_get(sp, "containerPort");
        if (port != 0 && json_is_integer(scp) && json_integer_value(scp) == port)
            return mt_fail(eb, MT_ERR_CONFIG,
                           "the MCP server's port %ld (from %s or the first containerPort) is "
                           "a port of the mcptrail sidecar itself; move the MCP server to "
                           "another port",
                           port, MT_INJECT_ANNOTATION_UPSTREAM_PORT);
    }

    if (!(patch = json_array()))
        return MT_ERR_NOMEM;
    json_t *sc = sidecar_container(p, port);
    err = sc ? add_op(patch, "/spec/containers/-", NULL, sc) : MT_ERR_NOMEM;
    if (err == MT_OK)
        err = add_volumes(patch, volumes, json_object_get(p->tpl, "volumes"));
metadata:;
    json_t *ann = NULL;
    if (err == MT_OK) {
        ann = json_deep_copy(json_object_get(p->tpl, "annotations"));
        if (!ann)
            ann = json_object();
        if (!ann || json_object_set_new(ann, MT_INJECT_ANNOTATION_DONE,
                                        json_string(p->version ? p->version : "")) != 0)
            err = MT_ERR_NOMEM;
    }
    if (err == MT_OK && !meta) {
        json_t *m = json_object();
        if (!m)
            err = MT_ERR_NOMEM;
        else
            err = add_op(patch, "/metadata", NULL, m);
    }
    if (err == MT_OK)
        err = add_map_entries(patch, meta, json_object_get(p->tpl, "labels"), "labels");
    if (err == MT_OK)
        err = add_map_entries(patch, meta, ann, "annotations");
    json_decref(ann);
    if (err != MT_OK) {
        json_decref(patch);
        return mt_fail(eb, err, "out of memory building the patch");
    }
    *patch_out = patch;
    *outcome = MT_INJECT_PATCHED;
    return MT_OK;
}

/* --- review ---------------------------------------------------------------- */

static char *b64(const char *data, size_t len)
{
    if (len > (size_t)1 << 28)
        return NULL;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    return out;
}

static mt_err respond(const mt_inject_params *p, const char *uid, const json_t *patch,
                      const char *error, char **response)
{
    json_t *resp =
        json_pack("{s:s, s:b}", "uid", uid ? uid : "", "allowed", error ? !p->fail_closed : 1);
    mt_err err = resp ? MT_OK : MT_ERR_NOMEM;
    if (err == MT_OK && patch) {
        char *text = json_dumps(patch, JSON_COMPACT);
        char *enc = text ? b64(text, strlen(text)) : NULL;
        if (!enc || json_object_set_new(resp, "patchType", json_string("JSONPatch")) != 0 ||
            json_object_set_new(resp, "patch", json_string(enc)) != 0)
            err = MT_ERR_NOMEM;
        free(enc);
        free(text);
    }
    if (err == MT_OK && error) {
        char msg[700];
        snprintf(msg, sizeof msg, "mcptrail-injector: %s", error);
        if (p->fail_closed) {
            if (json_object_set_new(resp, "status",
                                    json_pack("{s:i, s:s, s:s, s:s}", "code", 400, "status",
                                              "Failure", "reason", "BadRequest", "message", msg)) !=
                0)
                err = MT_ERR_NOMEM;
        } else {
            char warn[760];
            snprintf(warn, sizeof warn, "%s; admitted without the mcptrail sidecar", msg);
            if (json_object_set_new(resp, "warnings", json_pack("[s]", warn)) != 0)
                err = MT_ERR_NOMEM;
        }
    }
    json_t *review = NULL;
    if (err == MT_OK) {
        review = json_pack("{s:s, s:s, s:O}", "apiVersion", "admission.k8s.io/v1", "kind",
                           "AdmissionReview", "response", resp);
        if (!review || !(*response = json_dumps(review, JSON_COMPACT)))
            err = MT_ERR_NOMEM;
    }
    json_decref(review);
    json_decref(resp);
    return err;
}

mt_err mt_inject_review(const mt_inject_params *p, const void *body, size_t len, char **response,
                        mt_inject_outcome *outcome, mt_errbuf *reason)
{
    mt_errbuf eb = {{0}};
    json_t *review = NULL, *patch = NULL;
    const char *uid = NULL;
    mt_json_limits lim = MT_JSON_LIMITS_DEFAULT;
    lim.max_bytes = p->max_bytes ? p->max_bytes : lim.max_bytes;
    lim.max_depth = 128; /* pod specs nest deeper than policies */
    *response = NULL;
    *outcome = MT_INJECT_ERROR;
    mt_err err = mt_json_parse(body, len, &lim, &review, &eb);
    if (err != MT_OK) {
        char tmp[sizeof eb.msg];
        memcpy(tmp, eb.msg, sizeof tmp);
        snprintf(eb.msg, sizeof eb.msg, "%s: %.400s",
                 err == MT_ERR_TOO_LARGE ? "the AdmissionReview is over the size or nesting bound"
                                         : "the AdmissionReview is not valid JSON",
                 tmp);
        goto answer;
    }
    const json_t *req = json_object_get(review, "request");
    if (json_is_object(req) && json_is_string(json_object_get(req, "uid")))
        uid = json_string_value(json_object_get(req, "uid"));
    const char *api = map_get(review, "apiVersion");
    const char *kind = map_get(review, "kind");
    if (!api || strcmp(api, "admission.k8s.io/v1") != 0 || !kind ||
        strcmp(kind, "AdmissionReview") != 0) {
        err = mt_fail(&eb, MT_ERR_PARSE,
                      "expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got "
                      "'%.60s' '%.60s' (set admissionReviewVersions: [v1])",
                      api ? api : "(none)", kind ? kind : "(none)");
        goto answer;
    }
    if (!json_is_object(req)) {
        err = mt_fail(&eb, MT_ERR_PARSE, "'request' must be an object");
        goto answer;
    }
    if (!uid || !*uid) {
        err = mt_fail(&eb, MT_ERR_PARSE, "request.uid must be a non-empty string");
        goto answer;
    }
    const json_t *rk = json_object_get(req, "kind");
    const char *op = map_get(req, "operation");
    const char *rkind = map_get(rk, "kind");
    const char *rgroup = map_get(rk, "group");
    if (!rkind || strcmp(rkind, "Pod") != 0 || (rgroup && *rgroup) || !op ||
        strcmp(op, "CREATE") != 0) {
        *outcome = MT_INJECT_NOT_OPTED; /* not ours to change: admit as is */
        goto answer;
    }
    err = mt_inject_pod_patch(p, json_object_get(req, "object"), &patch, outcome, &eb);
answer:
    if (err == MT_ERR_NOMEM) {
        json_decref(review);
        return mt_fail(reason, MT_ERR_NOMEM, "out of memory");
    }
    if (err != MT_OK)
        *outcome = MT_INJECT_ERROR;
    err = respond(p, uid, patch, *outcome == MT_INJECT_ERROR ? eb.msg : NULL, response);
    if (reason && *outcome == MT_INJECT_ERROR)
        memcpy(reason->msg, eb.msg, sizeof reason->msg);
    json_decref(patch);
    json_decref(review);
    return err;
}
