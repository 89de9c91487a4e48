/* libFuzzer target: the input is an AdmissionReview body handed to
 * mt_inject_review (injector/inject.c), as the webhook's POST /mutate does,
 * once failing closed and once failing open. Whatever the bytes, the answer
 * must be an AdmissionReview v1 JSON object whose response has a boolean
 * `allowed`; a patch is only present when allowed, and decodes from base64
 * into a JSON array of "add" operations on /spec or /metadata. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "inject.h"

/* Checked in every build type: the fuzz build defines NDEBUG. */
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The shape the chart renders (tests/fixtures/admission/template.json), trimmed. */
static const char template_json[] =
    "{\"container\":{\"name\":\"mcptrail-sidecar\",\"image\":\"mcptrail/sidecar:0.1.0\","
    "\"env\":[{\"name\":\"MCPTRAIL_UPSTREAM_PORT\",\"value\":\"3000\"}],"
    "\"ports\":[{\"name\":\"mcp\",\"containerPort\":8080},"
    "{\"name\":\"mcptrail-admin\",\"containerPort\":9090}]},"
    "\"volumes\":[{\"name\":\"mcptrail-config\",\"configMap\":{\"name\":\"c\"}},"
    "{\"name\":\"mcptrail-keys\",\"secret\":{\"secretName\":\"k\"}}],"
    "\"labels\":{\"mcptrail.io/sidecar\":\"injected\"},"
    "\"annotations\":{\"prometheus.io/scrape\":\"true\"},"
    "\"upstreamPortEnv\":\"MCPTRAIL_UPSTREAM_PORT\"}";

static json_t *tpl;

static void check_answer(const char *text, bool fail_closed, mt_inject_outcome outcome)
{
    json_t *review = json_loads(text, 0, NULL);
    CHECK(json_is_object(review));
    CHECK(strcmp(json_string_value(json_object_get(review, "apiVersion")), "admission.k8s.io/v1") ==
          0);
    json_t *resp = json_object_get(review, "response");
    CHECK(json_is_string(json_object_get(resp, "uid")));
    json_t *allowed = json_object_get(resp, "allowed");
    CHECK(json_is_boolean(allowed));
    const char *patch = json_string_value(json_object_get(resp, "patch"));
    if (outcome == MT_INJECT_ERROR)
        CHECK(json_is_true(allowed) == !fail_closed && !patch);
    else
        CHECK(json_is_true(allowed));
    CHECK((outcome == MT_INJECT_PATCHED) == (patch != NULL));
    if (patch) {
        size_t n = strlen(patch);
        unsigned char *raw = malloc(n + 1);
        CHECK(raw);
        int m = EVP_DecodeBlock(raw, (const unsigned char *)patch, (int)n);
        CHECK(m >= 0);
        while (m > 0 && raw[m - 1] == 0)
            m--;
        json_t *ops = json_loadb((const char *)raw, (size_t)m, 0, NULL);
        free(raw);
        CHECK(json_is_array(ops) && json_array_size(ops) > 0);
        size_t i;
        json_t *op;
        json_array_foreach(ops, i, op)
        {
            const char *path = json_string_value(json_object_get(op, "path"));
            CHECK(strcmp(json_string_value(json_object_get(op, "op")), "add") == 0);
            CHECK(path && (strncmp(path, "/spec/", 6) == 0 || strncmp(path, "/metadata", 9) == 0));
            CHECK(json_object_get(op, "value"));
        }
        json_decref(ops);
    }
    json_decref(review);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tpl) {
        tpl = json_loads(template_json, 0, NULL);
        CHECK(tpl && mt_inject_template_check(tpl, NULL) == MT_OK);
    }
    for (int mode = 0; mode < 2; mode++) {
        mt_inject_params p = {.opt_in_key = "mcptrail.io/inject",
                              .fail_closed = mode == 0,
                              .tpl = tpl,
                              .version = "fuzz",
                              .max_bytes = 1u << 20};
        char *resp = NULL;
        mt_inject_outcome outcome;
        mt_errbuf reason = {{0}};
        if (mt_inject_review(&p, data, size, &resp, &outcome, &reason) != MT_OK)
            continue; /* allocation failure only */
        check_answer(resp, p.fail_closed, outcome);
        free(resp);
    }
    return 0;
}
