/* Tests of injector/inject.c with real AdmissionReview v1 bodies
 * (tests/fixtures/admission/, shaped like what kube-apiserver sends for a pod
 * a ReplicaSet creates) and the injection template the chart renders
 * (tests/fixtures/admission/template.json, from `helm template`).
 *
 * Each patch is applied by a small RFC 6902 "add" applier below and the
 * patched pod is reviewed again: a second pass must add nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "inject.h"

static json_t *g_tpl;

static char *fixture_path(const char *name)
{
    const char *src = getenv("MT_SOURCE_DIR");
    static char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/admission/%s", src ? src : ".", name);
    return path;
}

static char *read_fixture(const char *name, size_t *len)
{
    FILE *f = fopen(fixture_path(name), "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    mt_errbuf eb = {{0}};
    if (mt_inject_template_load(fixture_path("template.json"), &g_tpl, &eb) != MT_OK) {
        fprintf(stderr, "template: %s\n", eb.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(g_tpl);
    return 0;
}

static mt_inject_params params(bool fail_closed)
{
    return (mt_inject_params){.opt_in_key = "mcptrail.io/inject",
                              .fail_closed = fail_closed,
                              .tpl = g_tpl,
                              .version = "0.1.0-test",
                              .max_bytes = 4u << 20};
}

typedef struct answer {
    json_t *review;   /* the whole response */
    json_t *response; /* borrowed */
    json_t *patch;    /* decoded patch or NULL */
    mt_inject_outcome outcome;
    char reason[512];
} answer;

static answer run_body(const mt_inject_params *p, const char *body, size_t len)
{
    answer a = {0};
    char *text = NULL;
    mt_errbuf reason = {{0}};
    assert_int_equal(mt_inject_review(p, body, len, &text, &a.outcome, &reason), MT_OK);
    assert_non_null(text);
    json_error_t je;
    a.review = json_loads(text, 0, &je);
    free(text);
    assert_non_null(a.review);
    assert_string_equal(json_string_value(json_object_get(a.review, "apiVersion")),
                        "admission.k8s.io/v1");
    assert_string_equal(json_string_value(json_object_get(a.review, "kind")), "AdmissionReview");
    a.response = json_object_get(a.review, "response");
    assert_true(json_is_object(a.response));
    assert_true(json_is_boolean(json_object_get(a.response, "allowed")));
    const char *b64 = json_string_value(json_object_get(a.response, "patch"));
    if (b64) {
        assert_string_equal(json_string_value(json_object_get(a.response, "patchType")),
                            "JSONPatch");
        size_t n = strlen(b64);
        unsigned char *raw = malloc(n + 1);
        assert_non_null(raw);
        int m = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
        assert_true(m >= 0);
        while (m > 0 && raw[m - 1] == 0) /* EVP_DecodeBlock keeps the padding's zero bytes */
            m--;
        a.patch = json_loadb((const char *)raw, (size_t)m, 0, &je);
        free(raw);
        assert_true(json_is_array(a.patch));
    }
    memcpy(a.reason, reason.msg, sizeof a.reason);
    return a;
}

static answer run(const mt_inject_params *p, const char *fixture)
{
    size_t len = 0;
    char *body = read_fixture(fixture, &len);
    answer a = run_body(p, body, len);
    free(body);
    return a;
}

static void answer_free(answer *a)
{
    json_decref(a->patch);
    json_decref(a->review);
}

static bool allowed(const answer *a)
{
    return json_is_true(json_object_get(a->response, "allowed"));
}

static const char *uid(const answer *a)
{
    return json_string_value(json_object_get(a->response, "uid"));
}

/* --- a tiny RFC 6902 applier: "add" only, which is all the injector emits --- */

static char *unescape_token(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '~' && i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '1')) {
            out[j++] = s[i + 1] == '0' ? '~' : '/';
            i++;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = 0;
    return out;
}

static void apply_patch(json_t *doc, const json_t *patch)
{
    size_t i;
    const json_t *op;
    json_array_foreach((json_t *)patch, i, op)
    {
        const char *kind = json_string_value(json_object_get(op, "op"));
        bool replace = strcmp(kind, "replace") == 0; /* stdio: the server's container */
        assert_true(replace || strcmp(kind, "add") == 0);
        const char *path = json_string_value(json_object_get(op, "path"));
        json_t *value = json_object_get(op, "value");
        assert_non_null(path);
        assert_non_null(value);
        assert_true(path[0] == '/');
        json_t *parent = doc;
        const char *p = path + 1;
        for (;;) {
            const char *slash = strchr(p, '/');
            char *tok = unescape_token(p, slash ? (size_t)(slash - p) : strlen(p));
            if (!slash) {
                if (json_is_array(parent) && replace) {
                    size_t at = (size_t)strtoul(tok, NULL, 10);
                    assert_true(at < json_array_size(parent));
                    assert_int_equal(json_array_set(parent, at, value), 0);
                } else if (json_is_array(parent)) {
                    assert_string_equal(tok, "-");
                    assert_int_equal(json_array_append(parent, value), 0);
                } else {
                    assert_true(json_is_object(parent));
                    /* RFC 6902 "add" to an existing member replaces it; the injector
                     * must never do that to the user's data. */
                    assert_null(json_object_get(parent, tok));
                    assert_int_equal(json_object_set(parent, tok, value), 0);
                }
                free(tok);
                break;
            }
            json_t *next = json_is_object(parent) ? json_object_get(parent, tok) : NULL;
            free(tok);
            assert_non_null(next); /* the target's parent must exist */
            parent = next;
            p = slash + 1;
        }
    }
}

/* Reviews the pod the patch produced again: nothing more to add. */
static void assert_second_pass_adds_nothing(const mt_inject_params *p, const char *fixture,
                                            const json_t *patch)
{
    size_t len = 0;
    char *body = read_fixture(fixture, &len);
    json_error_t je;
    json_t *review = json_loadb(body, len, 0, &je);
    free(body);
    assert_non_null(review);
    json_t *pod = json_object_get(json_object_get(review, "request"), "object");
    apply_patch(pod, patch);
    char *again = json_dumps(review, JSON_COMPACT);
    answer b = run_body(p, again, strlen(again));
    assert_int_equal(b.outcome, MT_INJECT_ALREADY);
    assert_true(allowed(&b));
    assert_null(b.patch);
    free(again);
    answer_free(&b);
    json_decref(review);
}

static const json_t *op_at(const json_t *patch, const char *path, size_t nth)
{
    size_t i, seen = 0;
    const json_t *op;
    json_array_foreach((json_t *)patch, i, op)
    {
        if (strcmp(json_string_value(json_object_get(op, "path")), path) == 0 && seen++ == nth)
            return op;
    }
    return NULL;
}

static const char *env_value(const json_t *container, const char *name)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(container, "env"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
            return json_string_value(json_object_get(e, "value"));
    }
    return NULL;
}

/* --- opt-in ----------------------------------------------------------------- */

static void test_opt_in_label_injects_container_volumes_label_annotations(void **state)
{
    (void)state;
    mt_inject_params p = params(true);
    answer a = run(&p, "review-opt-in-label.json");
    assert_int_equal(a.outcome, MT_INJECT_PATCHED);
    assert_true(allowed(&a));
    assert_string_equal(uid(&a), "705ab4f5-6393-11e8-b7cc-42010a800002");
    const json_t *c = json_object_get(op_at(a.patch, "/spec/containers/-", 0), "value");
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "mcptrail-sidecar");
    /* the upstream port comes from the MCP server's containerPort */
    assert_string_equal(env_value(c, "MCPTRAIL_UPSTREAM_PORT"), "3000");
    /* the pod already has a volume (the service account token): volumes are appended */
    const char *want[] = {"mcptrail-config", "mcptrail-policy", "mcptrail-keys", "mcptrail-state"};
    for (size_t i = 0; i < 4; i++) {
        const json_t *v = json_object_get(op_at(a.patch, "/spec/volumes/-", i), "value");
        assert_non_null(v);
        assert_string_equal(json_string_value(json_object_get(v, "name")), want[i]);
    }
    assert_null(op_at(a.patch, "/spec/volumes/-", 4));
    const json_t *keys = json_object_get(op_at(a.patch, "/spec/volumes/-", 2), "value");
    assert_non_null(json_object_get(keys, "secret"));
    assert_non_null(op_at(a.patch, "/metadata/labels/mcptrail.io~1sidecar", 0));
    /* no annotations on the pod: one op adds the whole map */
    const json_t *ann = json_object_get(op_at(a.patch, "/metadata/annotations", 0), "value");
    assert_string_equal(json_string_value(json_object_get(ann, "mcptrail.io/injected")),
                        "0.1.0-test");
    assert_string_equal(json_string_value(json_object_get(ann, "prometheus.io/scrape")), "true");
    assert_second_pass_adds_nothing(&p, "review-opt-in-label.json", a.patch);
    answer_free(&a);
}

static void test_opt_in_annotation_adds_keys_to_existing_annotations(void **state)
{
    (void)state;
    mt_inject_params p = params(true);
    answer a = run(&p, "review-opt-in-annotation.json");
    assert_int_equal(a.outcome, MT_INJECT_PATCHED);
    assert_non_null(op_at(a.patch, "/metadata/annotations/mcptrail.io~1injected", 0));
    assert_non_null(op_at(a.patch, "/metadata/annotations/prometheus.io~1port", 0));
    assert_null(op_at(a.patch, "/metadata/annotations", 0));
    assert_second_pass_adds_nothing(&p, "review-opt-in-annotation.json", a.patch);
    answer_free(&a);
}

static void test_pod_without_opt_in_is_admitted_unchanged(void **state)
{
    (void)state;
    mt_inject_params p = params(true);
    answer a = run(&p, "review-no-opt-in.json");
    assert_int_equal(a.outcome, MT_INJECT_NOT_OPTED);
    assert_true(allowed(&a));
    assert_null(a.patch);
    assert_null(json_object_get(a.response, "status"));
    assert_string_equal(uid(&a), "8b1c2d3e-0002-4a5b-9c8d-7e6f5a4b3c2d");
    answer_free(&a);
}

static void test_opt_out_annotation_wins_over_label(void **state)
{
    (void)state;
    mt_inject_params p = params(true);
    answer a = run(&p, "review-opt-out.json");
    assert_int_equal(a.outcome, MT_INJECT_NOT_OPTED);
    assert_true(allowed(&a));
    assert_null(a.patch);
    answer_free(&a);
}

static void test_update_and_non_pod_reviews_are_admitted_unchanged(void **state)
{
    (void)state;
    mt_inject_params p = params(true);
    const char *f[] = {"review-update.json", "review-not-a-pod.json"};
    for (size_t i = 0; i < 2; i++) {
        answer a = run(&p, f[i]);
        assert_int_equal(a.outcome, MT_INJECT_NOT_OPTED);
        assert_true(allowed(&a));
        assert_null(a.patch);
        answer_free(&a);
    }
}

/* --- idempotency -------------------------------------------------------------- */

static void test_already_injected_pod_gets_no_patch(void **state)
{
    (void)state;
    mt_inject_params p = params(true);
    answer a = run(&p, "review-already-injected.json");
    assert_int_equal(a.outcome, MT_INJECT_ALREADY);
    assert_true(allowed(&a));
    assert_null(a.patch);
    answer_free(&a);
}

static void test_pod_with_hand_added_sidecar_gets_no_second_one(void **state)
{
    (void)state;
    mt_inject_params p = params(true);
    answer a = run(&p, "review-manual-sidecar.json");
    assert_int_equal(a.outcome, MT_INJECT_ALREADY);
    assert_null(a.patch);
    answer_free(&a);
}

/* --- several containers ------------------------------------------------------- */

static void test_several_containers_keep_theirs_and_port_annotation_wins(void **state)
{
    (void)state;
    mt_inject_params p = params(true);
    answer a = run(&p, "review-several-containers.json");
    assert_int_equal(a.outcome, MT_INJECT_PATCHED);
    /* exactly one container added, appended after the three */
    assert_non_null(op_at(a.patch, "/spec/containers/-", 0));
    assert_null(op_at(a.patch, "/spec/containers/-", 1));
    const json_t *c = json_object_get(op_at(a.patch, "/spec/containers/-", 0), "value");
    assert_string_equal(env_value(c, "MCPTRAIL_UPSTREAM_PORT"), "3005");
    /* the pod's own "mcptrail-config" volume is kept; the other three are added */
    size_t n = 0;
    for (const json_t *op; (op = op_at(a.patch, "/spec/volumes/-", n)) != NULL; n++)
        assert_string_not_equal(
            json_string_value(json_object_get(json_object_get(op, "value"), "name")),
            "mcptrail-config");
    assert_int_equal(n, 3);
    /* nothing touches initContainers or the existing containers */
    size_t i;
    const json_t *op;
    json_array_foreach(a.patch, i, op)
    {
        const char *path = json_string_value(json_object_get(op, "path"));
        assert_null(strstr(path, "initContainers"));
        assert_true(strncmp(path, "/spec/containers/", 17) != 0 ||
                    strcmp(path, "/spec/containers/-") == 0);
    }
    assert_second_pass_adds_nothing(&p, "review-several-containers.json", a.patch);
    answer_free(&a);
}

static void test_pod_without_volumes_gets_the_whole_list(void **state)
{
    (void)state;
    mt_inject_params p = params(true);
    answer a = run(&p, "review-no-volumes.json");
    assert_int_equal(a.outcome, MT_INJECT_PATCHED);
    const json_t *v = json_object_get(op_at(a.patch, "/spec/volumes", 0), "value");
    assert_true(json_is_array(v));
    assert_int_equal(json_array_size(v), 4);
    assert_null(op_at(a.patch, "/spec/volumes/-", 0));
    assert_second_pass_adds_nothing(&p, "review-no-volumes.json", a.patch);
    answer_free(&a);
}

/* --- malformed reviews -------------------------------------------------------- */

typedef struct bad_case {
    const char *fixture;
    const char *message; /* substring of status.message */
    const char *uid;     /* echoed uid, or "" when the review has none */
} bad_case;

static const bad_case bad_cases[] = {
    {"malformed-not-json.json",
     "the AdmissionReview is not valid JSON: invalid JSON at line 1, column 3", ""},
    {"malformed-truncated.json", "the AdmissionReview is not valid JSON", ""},
    {"malformed-v1beta1.json",
     "expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got "
     "'admission.k8s.io/v1beta1'",
     "8b1c2d3e-0010-4a5b-9c8d-7e6f5a4b3c2d"},
    {"malformed-no-uid.json", "request.uid must be a non-empty string", ""},
    {"malformed-no-containers.json", "request.object.spec.containers must be a non-empty array",
     "8b1c2d3e-0011-4a5b-9c8d-7e6f5a4b3c2d"},
    {"malformed-port-clash.json",
     "container 'mcp-server' declares port 8080, which the mcptrail sidecar listens on",
     "8b1c2d3e-0012-4a5b-9c8d-7e6f5a4b3c2d"},
    {"malformed-bad-port-annotation.json",
     "annotation mcptrail.io/upstream-port: 'http' is not a port number",
     "8b1c2d3e-0013-4a5b-9c8d-7e6f5a4b3c2d"},
    {"malformed-upstream-is-sidecar-port.json",
     "the MCP server's port 9090 (from mcptrail.io/upstream-port or the first containerPort) "
     "is a port of the mcptrail sidecar itself",
     "8b1c2d3e-0016-4a5b-9c8d-7e6f5a4b3c2d"},
    {"malformed-labels-not-object.json", "metadata.labels and .annotations must be objects",
     "8b1c2d3e-0014-4a5b-9c8d-7e6f5a4b3c2d"},
};

static void test_malformed_reviews_are_denied_with_the_reason_when_failing_closed(void **state)
{
    (void)state;
    mt_inject_params p = params(true);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        answer a = run(&p, bad_cases[i].fixture);
        const json_t *st = json_object_get(a.response, "status");
        const char *msg = json_string_value(json_object_get(st, "message"));
        if (!msg || !strstr(msg, bad_cases[i].message))
            fail_msg("%s: status.message '%s' lacks '%s'", bad_cases[i].fixture,
                     msg ? msg : "(none)", bad_cases[i].message);
        assert_int_equal(a.outcome, MT_INJECT_ERROR);
        assert_false(allowed(&a));
        assert_null(a.patch);
        assert_int_equal(json_integer_value(json_object_get(st, "code")), 400);
        assert_non_null(strstr(msg, "mcptrail-injector: "));
        assert_string_equal(uid(&a), bad_cases[i].uid);
        assert_non_null(strstr(a.reason, bad_cases[i].message));
        answer_free(&a);
    }
}

static void test_malformed_reviews_are_admitted_with_a_warning_when_ignoring(void **state)
{
    (void)state;
    mt_inject_params p = params(false);
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        answer a = run(&p, bad_cases[i].fixture);
        assert_int_equal(a.outcome, MT_INJECT_ERROR);
        assert_true(allowed(&a));
        assert_null(a.patch);
        const char *w =
            json_string_value(json_array_get(json_object_get(a.response, "warnings"), 0));
        assert_non_null(w);
        assert_non_null(strstr(w, bad_cases[i].message));
        assert_non_null(strstr(w, "admitted without the mcptrail sidecar"));
        answer_free(&a);
    }
}

static void test_body_over_the_bound_is_refused_not_parsed(void **state)
{
    (void)state;
    mt_inject_params p = params(true);
    p.max_bytes = 1024;
    answer a = run(&p, "review-opt-in-label.json");
    assert_int_equal(a.outcome, MT_INJECT_ERROR);
    assert_false(allowed(&a));
    assert_non_null(strstr(a.reason, "the AdmissionReview is over the size or nesting bound"));
    answer_free(&a);
}

static void test_odd_inputs_never_crash(void **state)
{
    (void)state;
    mt_inject_params p = params(true);
    const char *bodies[] = {"",
                            "[]",
                            "null",
                            "{}",
                            "\"review\"",
                            "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
                            "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                            "\"request\":{\"uid\":\"u\",\"kind\":{\"kind\":\"Pod\"},"
                            "\"operation\":\"CREATE\",\"object\":[]}}",
                            "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                            "\"request\":{\"uid\":\"u\",\"kind\":{\"kind\":\"Pod\"},"
                            "\"operation\":\"CREATE\",\"object\":{\"metadata\":{\"labels\":"
                            "{\"mcptrail.io/inject\":\"true\"}},\"spec\":{\"containers\":[7]}}}}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        answer a = run_body(&p, bodies[i], strlen(bodies[i]));
        assert_int_equal(a.outcome, MT_INJECT_ERROR);
        assert_false(allowed(&a));
        answer_free(&a);
    }
    /* nesting far beyond any pod */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = 0;
    answer a = run_body(&p, deep, 2 * depth);
    assert_int_equal(a.outcome, MT_INJECT_ERROR);
    answer_free(&a);
    free(deep);
}

/* --- template ------------------------------------------------------------------ */

/* --- stdio servers ------------------------------------------------------------- */

/* The review of review-opt-in-label.json with the pod marked mcptrail.io/stdio
 * and its first container given command, args and an env variable. */
static char *stdio_review(bool with_command)
{
    size_t len = 0;
    char *body = read_fixture("review-opt-in-label.json", &len);
    json_t *review = json_loadb(body, len, 0, NULL);
    free(body);
    assert_non_null(review);
    json_t *pod = json_object_get(json_object_get(review, "request"), "object");
    json_t *meta = json_object_get(pod, "metadata");
    json_object_set_new(meta, "annotations", json_pack("{s:s}", "mcptrail.io/stdio", "true"));
    json_t *c = json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
    if (with_command) {
        json_object_set_new(c, "command", json_pack("[s, s]", "npx", "-y"));
        json_object_set_new(c, "args", json_pack("[s, s]", "@scope/server", "/data, a"));
    }
    json_object_set_new(c, "env", json_pack("[{s:s, s:s}]", "name", "GITHUB_API", "value", "x"));
    char *text = json_dumps(review, JSON_COMPACT);
    json_decref(review);
    return text;
}

static void test_stdio_server_runs_under_the_sidecar_in_its_container(void **state)
{
    (void)state;
    /* the template the chart renders with sidecar.stdio.enabled (tests/helm checks it) */
    json_t *tpl = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_inject_template_load(fixture_path("template-stdio.json"), &tpl, &eb), MT_OK);
    assert_int_equal(mt_inject_template_check(tpl, &eb), MT_OK);
    mt_inject_params p = params(true);
    p.tpl = tpl;
    char *body = stdio_review(true);
    answer a = run_body(&p, body, strlen(body));
    assert_int_equal(a.outcome, MT_INJECT_PATCHED);
    /* no sidecar container: the server's container is replaced by one running the sidecar */
    assert_null(op_at(a.patch, "/spec/containers/-", 0));
    const json_t *op = op_at(a.patch, "/spec/containers/0", 0);
    assert_non_null(op);
    assert_string_equal(json_string_value(json_object_get(op, "op")), "replace");
    const json_t *c = json_object_get(op, "value");
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "command"), 3)),
                        "/mcptrail/bin/mcptrail-sidecar");
    const json_t *args = json_object_get(c, "args");
    size_t n = json_array_size(args);
    assert_true(n >= 2);
    assert_string_equal(json_string_value(json_array_get(args, n - 2)),
                        "--upstream.command=[\"npx\",\"-y\",\"@scope/server\",\"/data, a\"]");
    assert_string_equal(json_string_value(json_array_get(args, n - 1)),
                        "--upstream.env_inherit=true");
    /* its own variables, then the sidecar's; the sidecar's ports and probes */
    assert_string_equal(env_value(c, "GITHUB_API"), "x");
    assert_string_equal(env_value(c, "MCPTRAIL_SCHEMA_DIR"), "/mcptrail/schemas");
    assert_true(json_is_object(json_object_get(c, "startupProbe")));
    const json_t *port0 = json_array_get(json_object_get(c, "ports"), 0);
    assert_string_equal(json_string_value(json_object_get(port0, "name")), "mcp");
    const json_t *mounts = json_object_get(c, "volumeMounts");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(mounts, json_array_size(mounts) - 1), "mountPath")),
                        "/mcptrail");
    /* the bundle comes in by an init container and an emptyDir */
    const json_t *inits = json_object_get(op_at(a.patch, "/spec/initContainers", 0), "value");
    assert_string_equal(json_string_value(json_object_get(json_array_get(inits, 0), "name")),
                        "mcptrail-bundle");
    const json_t *v = json_object_get(op_at(a.patch, "/spec/volumes/-", 4), "value");
    assert_string_equal(json_string_value(json_object_get(v, "name")), "mcptrail-bundle");
    answer_free(&a);
    /* applied, the pod is injected: a second review adds nothing */
    json_t *review = json_loads(body, 0, NULL);
    a = run_body(&p, body, strlen(body));
    apply_patch(json_object_get(json_object_get(review, "request"), "object"), a.patch);
    answer_free(&a);
    char *again = json_dumps(review, JSON_COMPACT);
    answer b = run_body(&p, again, strlen(again));
    assert_int_equal(b.outcome, MT_INJECT_ALREADY);
    answer_free(&b);
    free(again);
    json_decref(review);
    free(body);
    /* a container without command cannot be run this way: refused with the reason */
    body = stdio_review(false);
    a = run_body(&p, body, strlen(body));
    assert_int_equal(a.outcome, MT_INJECT_ERROR);
    assert_non_null(strstr(a.reason, "must set command"));
    answer_free(&a);
    free(body);
    /* the container may not configure the sidecar through MCPTRAIL_* variables */
    body = stdio_review(true);
    json_t *r2 = json_loads(body, 0, NULL);
    free(body);
    json_t *c0 = json_array_get(
        json_object_get(json_object_get(json_object_get(json_object_get(r2, "request"), "object"),
                                        "spec"),
                        "containers"),
        0);
    json_array_append_new(json_object_get(c0, "env"),
                          json_pack("{s:s, s:s}", "name", "MCPTRAIL_RECORD_MODE", "value", "async"));
    body = json_dumps(r2, JSON_COMPACT);
    json_decref(r2);
    a = run_body(&p, body, strlen(body));
    assert_int_equal(a.outcome, MT_INJECT_ERROR);
    assert_non_null(strstr(a.reason, "MCPTRAIL_RECORD_MODE"));
    answer_free(&a);
    free(body);
    /* a template without the stdio section says how to get one */
    p.tpl = g_tpl;
    body = stdio_review(true);
    a = run_body(&p, body, strlen(body));
    assert_int_equal(a.outcome, MT_INJECT_ERROR);
    assert_non_null(strstr(a.reason, "sidecar.stdio.enabled"));
    answer_free(&a);
    free(body);
    json_decref(tpl);
}

static void test_template_errors_name_the_field(void **state)
{
    (void)state;
    struct {
        const char *json;
        const char *msg;
    } cases[] = {
        {"{}", "'container' must be an object"},
        {"{\"container\":{\"image\":\"x\"}}", "container.name must be a non-empty string"},
        {"{\"container\":{\"name\":\"s\"}}", "container.image must be a non-empty string"},
        {"{\"container\":{\"name\":\"s\",\"image\":\"x\"},\"volumes\":{}}",
         "'volumes' must be an array"},
        {"{\"container\":{\"name\":\"s\",\"image\":\"x\"},\"labels\":{\"a\":1}}",
         "labels['a'] must be a string, got integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *t = json_loads(cases[i].json, 0, NULL);
        mt_errbuf eb = {{0}};
        assert_int_equal(mt_inject_template_check(t, &eb), MT_ERR_CONFIG);
        if (!strstr(eb.msg, cases[i].msg))
            fail_msg("'%s' lacks '%s'", eb.msg, cases[i].msg);
        json_decref(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opt_in_label_injects_container_volumes_label_annotations),
        cmocka_unit_test(test_opt_in_annotation_adds_keys_to_existing_annotations),
        cmocka_unit_test(test_pod_without_opt_in_is_admitted_unchanged),
        cmocka_unit_test(test_opt_out_annotation_wins_over_label),
        cmocka_unit_test(test_update_and_non_pod_reviews_are_admitted_unchanged),
        cmocka_unit_test(test_already_injected_pod_gets_no_patch),
        cmocka_unit_test(test_pod_with_hand_added_sidecar_gets_no_second_one),
        cmocka_unit_test(test_several_containers_keep_theirs_and_port_annotation_wins),
        cmocka_unit_test(test_pod_without_volumes_gets_the_whole_list),
        cmocka_unit_test(test_malformed_reviews_are_denied_with_the_reason_when_failing_closed),
        cmocka_unit_test(test_malformed_reviews_are_admitted_with_a_warning_when_ignoring),
        cmocka_unit_test(test_body_over_the_bound_is_refused_not_parsed),
        cmocka_unit_test(test_odd_inputs_never_crash),
        cmocka_unit_test(test_template_errors_name_the_field),
        cmocka_unit_test(test_stdio_server_runs_under_the_sidecar_in_its_container),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
