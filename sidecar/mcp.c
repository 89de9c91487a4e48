/* MCP JSON-RPC 2.0 message classification (see mcp.h).
 *
 * The body goes through mt_json_parse (size, depth and duplicate-key limits)
 * once; each message object is then classified by which members it has
 * (method / result / error / id) and checked against JSON-RPC 2.0 plus MCP's
 * stricter rules (request ids are never null, params are structured). The id
 * and progress token texts of all messages go into one arena so a batch costs
 * two allocations besides jansson's tree; their pointers are fixed up once the
 * arena stops moving. */
#include "mcp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/json.h"

#define ARENA_NONE SIZE_MAX

static const struct {
    mt_mcp_version v;
    const char *name;
} versions[] = {
    {MT_MCP_V_2024_11_05, "2024-11-05"}, {MT_MCP_V_2025_03_26, "2025-03-26"},
    {MT_MCP_V_2025_06_18, "2025-06-18"}, {MT_MCP_V_2025_11_25, "2025-11-25"},
    {MT_MCP_V_2026_07_28, "2026-07-28"},
};

const char *mt_mcp_kind_name(mt_mcp_kind kind)
{
    switch (kind) {
    case MT_MCP_REQUEST:
        return "request";
    case MT_MCP_NOTIFICATION:
        return "notification";
    case MT_MCP_RESPONSE:
        return "response";
    case MT_MCP_ERROR_RESPONSE:
        return "error_response";
    }
    return "unknown";
}

const char *mt_mcp_version_at(size_t i, mt_mcp_version *v)
{
    if (i >= sizeof versions / sizeof versions[0])
        return NULL;
    if (v)
        *v = versions[i].v;
    return versions[i].name;
}

const char *mt_mcp_version_name(mt_mcp_version v)
{
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++)
        if (versions[i].v == v)
            return versions[i].name;
    return "unknown";
}

mt_err mt_mcp_parse_version(const char *header, mt_mcp_version *out, mt_errbuf *eb)
{
    if (!out)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_mcp_parse_version: out is NULL");
    if (!header || !header[0]) {
        /* The spec: without the header, assume 2025-03-26. */
        *out = MT_MCP_V_2025_03_26;
        return MT_OK;
    }
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        if (strcmp(header, versions[i].name) == 0) {
            *out = versions[i].v;
            return MT_OK;
        }
    }
    *out = MT_MCP_V_UNKNOWN;
    size_t n = strnlen(header, 64);
    return mt_fail(eb, MT_ERR_PARSE,
                   "unsupported MCP-Protocol-Version '%.*s'%s; supported: 2024-11-05, "
                   "2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28",
                   (int)n, header, header[n] ? "..." : "");
}

bool mt_mcp_version_allows_batch(mt_mcp_version v)
{
    return v == MT_MCP_V_2024_11_05 || v == MT_MCP_V_2025_03_26;
}

bool mt_mcp_version_is_stateless(mt_mcp_version v)
{
    return v >= MT_MCP_V_2026_07_28;
}

mt_err mt_mcp_check_session_id(const char *value, size_t len, mt_errbuf *eb)
{
    if (!value || len == 0)
        return mt_fail(eb, MT_ERR_PARSE, "Mcp-Session-Id is empty");
    if (len > MT_MCP_SESSION_ID_MAX)
        return mt_fail(eb, MT_ERR_PARSE, "Mcp-Session-Id is %zu bytes, longer than %d", len,
                       MT_MCP_SESSION_ID_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x21 || c > 0x7e)
            return mt_fail(eb, MT_ERR_PARSE,
                           "Mcp-Session-Id byte %zu is 0x%02x; only visible ASCII "
                           "(0x21-0x7E) is allowed",
                           i, c);
    }
    return MT_OK;
}

/* ---- parsing ---------------------------------------------------------- */

/* Per-message arena offsets, patched into pointers at the end. */
typedef struct offs {
    size_t id, token;
} offs;

/* Appends the canonical text of v plus a NUL to the arena; *off = start. */
static mt_err arena_text(mt_buf *arena, const json_t *v, size_t *off)
{
    *off = arena->len;
    mt_err err = mt_json_dump_canonical(v, arena, NULL);
    if (err)
        return err;
    return mt_buf_append_byte(arena, 0);
}

/* Formats "message N: " for batches so errors point at the culprit. */
static void where(char *w, size_t wlen, const mt_mcp_batch *b, size_t i)
{
    if (b->is_batch)
        snprintf(w, wlen, "message %zu: ", i + 1);
    else
        w[0] = 0;
}

static mt_err bad(mt_mcp_batch *b, size_t i, int code, mt_errbuf *eb, const char *w,
                  const char *what)
{
    b->rpc_code = code;
    b->err_index = i;
    return mt_fail(eb, MT_ERR_PARSE, "%s%s", w, what);
}

/* Reads the MCP-specific targets out of params for the methods that have
 * them; a missing or non-string target is invalid params (policy must never
 * see an unnamed tools/call). */
static mt_err targets(mt_mcp_batch *b, size_t i, mt_mcp_msg *m, const char *w, mt_errbuf *eb)
{
    const char *field = NULL;
    const char **dst = NULL;
    if (strcmp(m->method, "tools/call") == 0) {
        field = "name";
        dst = &m->tool_name;
    } else if (strcmp(m->method, "prompts/get") == 0) {
        field = "name";
        dst = &m->prompt_name;
    } else if (strcmp(m->method, "resources/read") == 0 ||
               strcmp(m->method, "resources/subscribe") == 0 ||
               strcmp(m->method, "resources/unsubscribe") == 0) {
        field = "uri";
        dst = &m->resource_uri;
    }
    if (!field || m->kind != MT_MCP_REQUEST)
        return MT_OK;
    json_t *v = json_is_object(m->params) ? json_object_get(m->params, field) : NULL;
    /* resources/subscribe and unsubscribe (gone in 2026-07-28, where the
     * server answers -32601): the uri is read when there is one, and a call
     * without one is left to the server to refuse. */
    if (!json_is_string(v) && dst == &m->resource_uri && strcmp(m->method, "resources/read") != 0)
        return MT_OK;
    if (!json_is_string(v)) {
        b->rpc_code = MT_MCP_INVALID_PARAMS;
        b->err_index = i;
        return mt_fail(eb, MT_ERR_PARSE, "%s%s params.%s must be a string, got %s", w, m->method,
                       field, v ? mt_json_type_name(v) : "nothing");
    }
    *dst = json_string_value(v);
    return MT_OK;
}

static mt_err parse_one(mt_mcp_batch *b, size_t i, json_t *o, mt_buf *arena, offs *of,
                        mt_errbuf *eb)
{
    char w[32];
    where(w, sizeof w, b, i);
    mt_mcp_msg *m = &b->msgs[i];
    memset(m, 0, sizeof *m);
    of->id = of->token = ARENA_NONE;
    m->json = o;
    if (!json_is_object(o)) {
        b->rpc_code = MT_MCP_INVALID_REQUEST;
        b->err_index = i;
        return mt_fail(eb, MT_ERR_PARSE, "%smessage must be a JSON object, got %s", w,
                       mt_json_type_name(o));
    }
    json_t *id = json_object_get(o, "id");
    /* Read the id first so even an invalid message's error can echo it. */
    if (json_is_string(id) || json_is_number(id)) {
        mt_err err = arena_text(arena, id, &of->id);
        if (err)
            return err;
    }
    json_t *ver = json_object_get(o, "jsonrpc");
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0 ||
        json_string_length(ver) != 3)
        return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "'jsonrpc' must be \"2.0\"");

    json_t *method = json_object_get(o, "method");
    json_t *result = json_object_get(o, "result");
    json_t *error = json_object_get(o, "error");
    if (method) {
        if (!json_is_string(method))
            return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "'method' must be a string");
        if (result || error)
            return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w,
                       "request must not carry 'result' or 'error'");
        m->method = json_string_value(method);
        if (strlen(m->method) != json_string_length(method))
            return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "'method' contains a NUL");
        m->params = json_object_get(o, "params");
        if (m->params && !json_is_object(m->params) && !json_is_array(m->params))
            return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "'params' must be an object or array");
        if (!id) {
            m->kind = MT_MCP_NOTIFICATION;
        } else {
            if (!json_is_string(id) && !json_is_number(id))
                return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "id must be string or number");
            m->kind = MT_MCP_REQUEST;
        }
        if (b->is_batch && strcmp(m->method, "initialize") == 0)
            return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w,
                       "'initialize' must not be part of a batch");
        json_t *meta = json_is_object(m->params) ? json_object_get(m->params, "_meta") : NULL;
        json_t *tok = json_is_object(meta) ? json_object_get(meta, "progressToken") : NULL;
        if (json_is_string(tok) || json_is_number(tok)) {
            m->has_progress_token = true;
            mt_err err = arena_text(arena, tok, &of->token);
            if (err)
                return err;
        }
        return targets(b, i, m, w, eb);
    }
    if (result && error)
        return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w,
                   "response must not carry both 'result' and 'error'");
    if (result) {
        if (!id)
            return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "response without id");
        if (!json_is_string(id) && !json_is_number(id))
            return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "id must be string or number");
        m->kind = MT_MCP_RESPONSE;
        m->is_error = json_is_object(result) && json_is_true(json_object_get(result, "isError"));
        return MT_OK;
    }
    if (error) {
        if (!id)
            return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "error response without id");
        if (!json_is_string(id) && !json_is_number(id) && !json_is_null(id))
            return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "id must be string, number or null");
        if (!json_is_object(error))
            return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "'error' must be an object");
        json_t *code = json_object_get(error, "code");
        json_t *msg = json_object_get(error, "message");
        if (!json_is_integer(code))
            return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "'error.code' must be an integer");
        if (!json_is_string(msg))
            return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "'error.message' must be a string");
        if (json_is_null(id)) {
            mt_err err = arena_text(arena, id, &of->id);
            if (err)
                return err;
        }
        m->kind = MT_MCP_ERROR_RESPONSE;
        m->is_error = true;
        m->error_code = (long long)json_integer_value(code);
        m->error_message = json_string_value(msg);
        return MT_OK;
    }
    return bad(b, i, MT_MCP_INVALID_REQUEST, eb, w, "request without method");
}

mt_err mt_mcp_parse(const void *body, size_t len, const mt_mcp_limits *lim, mt_mcp_batch *out,
                    mt_errbuf *eb)
{
    static const mt_mcp_limits dflt = MT_MCP_LIMITS_DEFAULT;
    mt_buf arena = MT_BUF_INIT;
    offs *of = NULL;
    mt_err err;
    if (!out)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_mcp_parse: out is NULL");
    memset(out, 0, sizeof *out);
    out->err_index = SIZE_MAX;
    out->err_id = "null";
    out->rpc_code = MT_MCP_INVALID_REQUEST;
    if (!body && len)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_mcp_parse: body is NULL");
    if (!lim)
        lim = &dflt;

    mt_json_limits jl = {lim->max_bytes, lim->max_depth, true, false, false};
    err = mt_json_parse(body, len, &jl, &out->root, eb);
    if (err) {
        out->rpc_code = err == MT_ERR_PARSE ? MT_MCP_PARSE_ERROR : MT_MCP_INVALID_REQUEST;
        return err;
    }
    size_t n = 1;
    if (json_is_array(out->root)) {
        out->is_batch = true;
        n = json_array_size(out->root);
        if (!lim->allow_batch) {
            err = mt_fail(eb, MT_ERR_PARSE,
                          "JSON-RPC batches are not allowed for this protocol version");
            goto fail;
        }
        if (n == 0) {
            err = mt_fail(eb, MT_ERR_PARSE, "empty batch");
            goto fail;
        }
        if (n > lim->max_batch) {
            err = mt_fail(eb, MT_ERR_TOO_LARGE, "batch of %zu messages exceeds the limit of %zu", n,
                          lim->max_batch);
            goto fail;
        }
    }
    out->msgs = calloc(n, sizeof *out->msgs);
    of = calloc(n, sizeof *of);
    if (!out->msgs || !of) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory for %zu messages", n);
        goto fail;
    }
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        json_t *o = out->is_batch ? json_array_get(out->root, i) : out->root;
        err = parse_one(out, i, o, &arena, &of[i], eb);
        if (err) {
            if (err != MT_ERR_PARSE)
                goto fail;
            if (of[i].id != ARENA_NONE) {
                /* Hand the arena over so err_id can point into it. */
                out->owned_ = (char *)arena.data;
                out->err_id = out->owned_ + of[i].id;
                arena.data = NULL;
            }
            goto fail;
        }
    }
    out->owned_ = (char *)arena.data;
    arena.data = NULL;
    for (size_t i = 0; i < n; i++) {
        if (of[i].id != ARENA_NONE)
            out->msgs[i].id = out->owned_ + of[i].id;
        if (of[i].token != ARENA_NONE)
            out->msgs[i].progress_token = out->owned_ + of[i].token;
    }
    free(of);
    return MT_OK;

fail:
    free(of);
    mt_buf_free(&arena);
    free(out->msgs);
    out->msgs = NULL;
    out->n = 0;
    return err;
}

void mt_mcp_batch_free(mt_mcp_batch *b)
{
    if (!b)
        return;
    json_decref(b->root);
    free(b->msgs);
    free(b->owned_);
    memset(b, 0, sizeof *b);
}

/* ---- 2026-07-28 header checks ---------------------------------------- */

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

bool mt_mcp_b64_decode(const char *in, size_t len, char *out, size_t *olen, bool *canonical)
{
    if (len % 4)
        return false;
    size_t o = 0;
    bool canon = true;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + (size_t)k];
            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else {
                if (pad)
                    return false;
                v[k] = b64val(c);
                if (v[k] < 0)
                    return false;
            }
        }
        unsigned triple = (unsigned)(v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3]);
        if ((pad == 2 && (triple & 0xffff)) || (pad == 1 && (triple & 0xff)))
            canon = false; /* bits after the data are set */
        out[o++] = (char)(triple >> 16);
        if (pad < 2)
            out[o++] = (char)(triple >> 8 & 0xff);
        if (pad < 1)
            out[o++] = (char)(triple & 0xff);
    }
    *olen = o;
    if (canonical)
        *canonical = canon;
    return true;
}

bool mt_mcp_b64_sentinel(const char *v, size_t len, const char **payload, size_t *plen)
{
    if (len < 11 || memcmp(v, "=?base64?", 9) != 0 || memcmp(v + len - 2, "?=", 2) != 0)
        return false;
    *payload = v + 9;
    *plen = len - 11;
    return true;
}

/* Compares a header value (trimmed, possibly =?base64?...?=) with want. */
static mt_err header_equals(const char *hname, const char *hv, const char *want, size_t want_len,
                            const char *what, const char *method, mt_errbuf *eb)
{
    if (!hv)
        return mt_fail(eb, MT_ERR_PARSE, "%s header is required for %s", hname, method);
    size_t len = strlen(hv);
    while (len && (hv[0] == ' ' || hv[0] == '\t'))
        hv++, len--;
    while (len && (hv[len - 1] == ' ' || hv[len - 1] == '\t'))
        len--;
    const char *val = hv;
    size_t vlen = len;
    char stackbuf[512];
    char *dec = NULL;
    mt_err err = MT_OK;
    const char *payload;
    size_t plen;
    if (mt_mcp_b64_sentinel(hv, len, &payload, &plen)) {
        dec = plen / 4 * 3 <= sizeof stackbuf ? stackbuf : malloc(plen / 4 * 3 + 1);
        if (!dec)
            return mt_fail(eb, MT_ERR_NOMEM, "out of memory decoding %s", hname);
        if (!mt_mcp_b64_decode(payload, plen, dec, &vlen, NULL)) {
            err =
                mt_fail(eb, MT_ERR_PARSE, "%s header has invalid Base64 in =?base64?...?=", hname);
            goto done;
        }
        val = dec;
    }
    if (vlen != want_len || memcmp(val, want, vlen) != 0) {
        int shown = vlen > 128 ? 128 : (int)vlen;
        int wshown = want_len > 128 ? 128 : (int)want_len;
        err = mt_fail(eb, MT_ERR_PARSE, "%s header '%.*s' does not match %s '%.*s' of %s", hname,
                      shown, val, what, wshown, want, method);
    }
done:
    if (dec && dec != stackbuf)
        free(dec);
    return err;
}

mt_err mt_mcp_check_headers(mt_mcp_version v, const char *mcp_method, const char *mcp_name,
                            const mt_mcp_batch *b, mt_errbuf *eb)
{
    if (!b)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_mcp_check_headers: batch is NULL");
    if (!mt_mcp_version_is_stateless(v))
        return MT_OK;
    if (b->is_batch)
        return mt_fail(eb, MT_ERR_PARSE, "JSON-RPC batches are not allowed for %s",
                       mt_mcp_version_name(v));
    if (b->n != 1)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_mcp_check_headers: no message");
    const mt_mcp_msg *m = &b->msgs[0];
    if (!m->method)
        return MT_OK;
    /* 2026-07-28 defines no header requirements for notification POSTs (a
     * client closing a listen stream may send notifications/cancelled bare):
     * a notification's Mcp-Method is checked only when it is sent. */
    if (m->kind == MT_MCP_NOTIFICATION && !mcp_method)
        return MT_OK;
    mt_err err = header_equals("Mcp-Method", mcp_method, m->method, strlen(m->method), "method",
                               m->method, eb);
    if (err)
        return err;
    /* the version the request's envelope claims is the header's (a stdio
     * server behind the sidecar never sees the header to check it) */
    json_t *pv = json_object_get(json_object_get(m->params, "_meta"),
                                 "io.modelcontextprotocol/protocolVersion");
    if (json_is_string(pv) && strcmp(json_string_value(pv), mt_mcp_version_name(v)) != 0)
        return mt_fail(eb, MT_ERR_PARSE,
                       "MCP-Protocol-Version header '%s' does not match "
                       "params._meta protocolVersion '%.64s' of %s",
                       mt_mcp_version_name(v), json_string_value(pv), m->method);
    const char *target = NULL;
    const char *what = NULL;
    if (strcmp(m->method, "tools/call") == 0) {
        target = m->tool_name, what = "params.name";
    } else if (strcmp(m->method, "prompts/get") == 0) {
        target = m->prompt_name, what = "params.name";
    } else if (strcmp(m->method, "resources/read") == 0) {
        target = m->resource_uri, what = "params.uri";
    }
    if (!target)
        return MT_OK;
    json_t *jv = json_object_get(m->params, what + 7);
    return header_equals("Mcp-Name", mcp_name, target, json_string_length(jv), what, m->method, eb);
}

int mt_mcp_error_http_status(const json_t *msg)
{
    json_t *err = json_object_get(msg, "error");
    json_t *code = json_object_get(err, "code");
    if (!json_is_integer(code))
        return 0;
    switch (json_integer_value(code)) {
    case MT_MCP_PARSE_ERROR:
    case MT_MCP_INVALID_REQUEST:
    case MT_MCP_UNSUPPORTED_VERSION:
    case MT_MCP_MISSING_CAPABILITY:
    case MT_MCP_HEADER_MISMATCH:
        return 400;
    case MT_MCP_METHOD_NOT_FOUND:
        return 404;
    case MT_MCP_INVALID_PARAMS: {
        const char *m = json_string_value(json_object_get(err, "message"));
        return json_object_get(json_object_get(err, "data"), "envelope") ||
                       (m && strstr(m, "_meta envelope"))
                   ? 400
                   : 0;
    }
    default:
        return 0;
    }
}

/* ---- error body -------------------------------------------------------- */

static bool valid_id_text(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return false;
    if (strcmp(s, "null") == 0)
        return true;
    if (s[0] == '"') {
        /* A JSON string: let jansson confirm it, ids are short. */
        json_error_t je;
        json_t *v = json_loadb(s, n, JSON_DECODE_ANY, &je);
        bool ok = json_is_string(v);
        json_decref(v);
        return ok;
    }
    for (size_t i = 0; i < n; i++)
        if (!strchr("-+.eE0123456789", s[i]))
            return false;
    return true;
}

mt_err mt_mcp_error_body(const char *id_json, int code, const char *message, const json_t *data,
                         mt_buf *out, mt_errbuf *eb)
{
    mt_err err;
    json_t *msg = NULL;
    char num[48];
    if (!out || !message)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_mcp_error_body: NULL");
    if (!id_json)
        id_json = "null";
    if (!valid_id_text(id_json))
        return mt_fail(eb, MT_ERR_INVALID_ARG,
                       "mt_mcp_error_body: id must be JSON string, number or null text");
    msg = json_string(message);
    if (!msg)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_mcp_error_body: message is not valid UTF-8");
    size_t start = out->len;
    static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
    if ((err = mt_buf_append(out, head, sizeof head - 1)))
        goto fail;
    if ((err = mt_buf_append(out, id_json, strlen(id_json))))
        goto fail;
    int nl = snprintf(num, sizeof num, ",\"error\":{\"code\":%d", code);
    if ((err = mt_buf_append(out, num, (size_t)nl)))
        goto fail;
    if ((err = mt_buf_append(out, ",\"message\":", 11)))
        goto fail;
    if ((err = mt_json_dump_canonical(msg, out, eb)))
        goto fail;
    if (data) {
        if ((err = mt_buf_append(out, ",\"data\":", 8)))
            goto fail;
        if ((err = mt_json_dump_canonical(data, out, eb)))
            goto fail;
    }
    if ((err = mt_buf_append(out, "}}", 2)))
        goto fail;
    json_decref(msg);
    return MT_OK;
fail:
    out->len = start;
    json_decref(msg);
    return err;
}
