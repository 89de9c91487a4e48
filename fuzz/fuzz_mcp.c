/* libFuzzer target: arbitrary bytes as an MCP POST body through
 * mt_mcp_parse, then the 2026-07-28 header checks (Mcp-Method/Mcp-Name, and
 * Mcp-Param-* against x-mcp-header declarations learned from any "tools"
 * list in the input, with header values taken from params["x-headers"]) and
 * the error body builder on whatever it yields. Asserts the invariants callers rely on: success
 * means n >= 1 with ids on requests and responses; failure leaves no
 * messages and an error body can always be built from err_id. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp.h"
#include "mcp_params.h"

/* Checked in every build type: the fuzz build defines NDEBUG. */
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fuzz_header(void *ctx, const char *name)
{
    const json_t *h = json_object_get(ctx, name);
    return json_string_value(h);
}

static void params_round(const mt_mcp_batch *b)
{
    mt_mcp_params *pp = NULL;
    if (mt_mcp_params_new(&pp) != MT_OK)
        return;
    for (size_t i = 0; i < b->n; i++) {
        const json_t *m = b->msgs[i].json;
        (void)mt_mcp_params_learn(pp, json_object_get(m, "result"));
        (void)mt_mcp_params_learn(pp, b->msgs[i].params);
    }
    for (size_t i = 0; i < b->n; i++) {
        const mt_mcp_msg *m = &b->msgs[i];
        const char *cell = NULL;
        mt_errbuf eb;
        mt_err err = mt_mcp_params_check(pp, m->tool_name, json_object_get(m->params, "arguments"),
                                         fuzz_header, json_object_get(m->params, "x-headers"),
                                         &cell, &eb);
        CHECK(err == MT_OK || (err == MT_ERR_PARSE && cell != NULL));
    }
    mt_mcp_params_free(pp);
}

static bool plain(const char *s, size_t jlen)
{
    size_t n = strlen(s);
    if (n != jlen)
        return false;
    if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        return false;
    return strncmp(s, "=?base64?", 9) != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mt_mcp_limits lim = MT_MCP_LIMITS_DEFAULT;
    lim.max_depth = 32;
    lim.max_batch = 16;
    mt_mcp_batch b;
    mt_errbuf eb;
    mt_buf out = MT_BUF_INIT;
    mt_err err = mt_mcp_parse(data, size, &lim, &b, &eb);
    if (err) {
        CHECK(b.n == 0 && b.msgs == NULL);
        CHECK(b.rpc_code == MT_MCP_PARSE_ERROR || b.rpc_code == MT_MCP_INVALID_REQUEST ||
              b.rpc_code == MT_MCP_INVALID_PARAMS);
        mt_err e2 = mt_mcp_error_body(b.err_id, b.rpc_code, eb.msg, NULL, &out, NULL);
        /* eb.msg quotes input and may hold invalid UTF-8; that is the only refusal. */
        CHECK(e2 == MT_OK || e2 == MT_ERR_INVALID_ARG);
    } else {
        CHECK(b.n >= 1);
        for (size_t i = 0; i < b.n; i++) {
            const mt_mcp_msg *m = &b.msgs[i];
            CHECK((m->kind == MT_MCP_NOTIFICATION) == (m->id == NULL));
            CHECK((m->method != NULL) ==
                  (m->kind == MT_MCP_REQUEST || m->kind == MT_MCP_NOTIFICATION));
            CHECK(m->has_progress_token == (m->progress_token != NULL));
            if (m->tool_name)
                CHECK(strcmp(m->method, "tools/call") == 0);
            mt_buf_reset(&out);
            CHECK(mt_mcp_error_body(m->id, -32001, "denied", m->params, &out, NULL) == MT_OK);
            json_t *back = json_loadb((const char *)out.data, out.len, 0, NULL);
            CHECK(back != NULL);
            json_decref(back);
        }
        const mt_mcp_msg *m = &b.msgs[0];
        const char *name = m->tool_name     ? m->tool_name
                           : m->prompt_name ? m->prompt_name
                                            : m->resource_uri;
        err = mt_mcp_check_headers(MT_MCP_V_2026_07_28, m->method, name, &b, &eb);
        /* Headers copied from a single body agree unless the value needs the
         * header encoding (edge whitespace, the base64 sentinel, a NUL), or the
         * envelope claims another protocol version than the header's. */
        json_t *pv = json_object_get(json_object_get(m->params, "_meta"),
                                     "io.modelcontextprotocol/protocolVersion");
        bool same_version = !json_is_string(pv) || strcmp(json_string_value(pv), "2026-07-28") == 0;
        if (!b.is_batch && m->method && same_version && plain(m->method, strlen(m->method)) &&
            (!name || plain(name, json_string_length(json_object_get(
                                      m->params, m->resource_uri ? "uri" : "name")))))
            CHECK(err == MT_OK);
        (void)mt_mcp_check_headers(MT_MCP_V_2026_07_28, "x", "=?base64?eA==?=", &b, &eb);
        params_round(&b);
    }
    mt_buf_free(&out);
    mt_mcp_batch_free(&b);
    return 0;
}
