/* Multi-round-trip calls of the proxy engine (MCP 2026-07-28; mrtr.h,
 * docs/sidecar.md "Multi-round-trip calls"): the rounds of one logical call
 * are recorded under one call id and numbered, and an approval covers the
 * call, not one round.
 *
 *   request:  the call hash names the call; a requestState the client echoes
 *             is either the server's (looked up in the link table: call id,
 *             round) or one the sidecar sealed (opened, bound to this call,
 *             single use on this replica, then replaced by what the server
 *             gave, or removed when the server never saw the call);
 *   response: an input-required result of a call an approval released gets
 *             a sealed RELEASED state around the server's, so the retry runs
 *             without a new hold, on any replica holding the key; other
 *             input-required results are linked to the call.
 * The URL-elicitation answer of a held call (proxy_mrtr_url_result) carries
 * a sealed AWAITING_APPROVAL state; proxy_hold.c decides its retries. */
#include <stdlib.h>
#include <string.h>

#include "mcptrail/log.h"
#include "mcptrail/runtime.h"
#include "proxy_internal.h"

#define LINKS_CAP 4096u        /* server states remembered (oldest evicted) */
#define SEEN_CAP 65536u        /* live used nonces (beyond: sealed states refused) */
#define CLIENT_FIELD_MAX 256u  /* clientInfo name/version kept */
#define CLIENT_CAPS_MAX 4096u  /* clientCapabilities JSON kept */

#define META_CLIENT_INFO "io.modelcontextprotocol/clientInfo"
#define META_CLIENT_CAPS "io.modelcontextprotocol/clientCapabilities"

static int64_t now_ms(void)
{
    return mt_now_us() / 1000;
}

mt_err proxy_mrtr_init(mt_proxy *p, mt_errbuf *eb)
{
    const mt_sidecar_config *cfg = p->cfg;
    mt_err err;
    if (cfg->approvals_state_keys.n) {
        err = mt_mrtr_keys_load((const char *const *)cfg->approvals_state_keys.items,
                                cfg->approvals_state_keys.n, &p->mrtr_keys, eb);
    } else {
        uint8_t secret[32];
        const uint8_t *s = secret;
        size_t n = sizeof secret;
        err = mt_random_bytes(secret, sizeof secret, eb);
        if (err == MT_OK)
            err = mt_mrtr_keys_from(&s, &n, 1, &p->mrtr_keys, eb);
        OPENSSL_cleanse(secret, sizeof secret);
    }
    if (err != MT_OK)
        return err;
    mt_logs(MT_LOG_INFO, "sidecar", "requestState sealing key", "key_id",
            mt_mrtr_keys_id(p->mrtr_keys), "scope",
            cfg->approvals_state_keys.n ? "approvals.state_key_files"
                                        : "this process only (approvals.state_key_files unset)",
            NULL);
    if ((err = mt_mrtr_links_new(LINKS_CAP, cfg->approvals_state_ttl_ms, &p->mrtr_links)) !=
            MT_OK ||
        (err = mt_mrtr_seen_new(SEEN_CAP, &p->mrtr_seen)) != MT_OK)
        return mt_fail(eb, err, "out of memory");
    return MT_OK;
}

void proxy_mrtr_free(mt_proxy *p)
{
    mt_mrtr_keys_free(p->mrtr_keys);
    mt_mrtr_links_free(p->mrtr_links);
    mt_mrtr_seen_free(p->mrtr_seen);
    p->mrtr_keys = NULL;
    p->mrtr_links = NULL;
    p->mrtr_seen = NULL;
}

static char *bounded_string(const json_t *v, size_t max)
{
    return json_is_string(v) ? strndup(json_string_value(v), max) : NULL;
}

/* A W3C traceparent: version-traceid-parentid-flags, lowercase hex. */
static bool is_traceparent(const char *t)
{
    static const size_t seg[] = {2, 32, 16, 2};
    for (size_t i = 0; i < 4; i++) {
        for (size_t k = 0; k < seg[i]; k++, t++)
            if (!((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'f')))
                return false;
        if (*t != (i < 3 ? '-' : '\0'))
            return false;
        t++;
    }
    return true;
}

/* _meta client info of a 2026-07-28 request, for the request's event, and
 * its traceparent when no header carried one. */
static void note_client(fwd *f, const json_t *meta)
{
    const char *tp = json_string_value(json_object_get(meta, "traceparent"));
    if (!f->traceparent && tp && is_traceparent(tp))
        f->traceparent = strdup(tp);
    const json_t *ci = json_object_get(meta, META_CLIENT_INFO);
    f->call.client_name = bounded_string(json_object_get(ci, "name"), CLIENT_FIELD_MAX);
    f->call.client_version = bounded_string(json_object_get(ci, "version"), CLIENT_FIELD_MAX);
    const json_t *caps = json_object_get(meta, META_CLIENT_CAPS);
    if (json_is_object(caps)) {
        f->call.client_caps = json_dumps(caps, JSON_COMPACT | JSON_SORT_KEYS);
        if (f->call.client_caps && strlen(f->call.client_caps) > CLIENT_CAPS_MAX) {
            free(f->call.client_caps); /* recorded only when it is of a sane size */
            f->call.client_caps = NULL;
        }
    }
}

static bool refuse(proxy_refusal *r, int code, const char *reason, const char *fmt,
                   const char *detail)
{
    r->code = code;
    r->reason = reason;
    snprintf(r->msg, sizeof r->msg, fmt, detail);
    return false;
}

/* The body the upstream gets: the client's message with the sidecar's
 * state replaced by the server's (RELEASED) or removed (AWAITING). */
static bool rewrite_body(fwd *f, const mt_mcp_msg *m, const mt_mrtr_state *s)
{
    json_t *doc = json_deep_copy(m->json);
    json_t *params = json_object_get(doc, "params");
    if (!params)
        goto fail;
    if (s->stage == MT_MRTR_RELEASED && s->upstream_state) {
        json_object_set_new(params, "requestState", json_string(s->upstream_state));
    } else {
        json_object_del(params, "requestState");
    }
    if (s->stage == MT_MRTR_AWAITING_APPROVAL) {
        json_t *ir = json_object_get(params, "inputResponses");
        json_object_del(ir, MT_MRTR_APPROVAL_INPUT);
        if (json_is_object(ir) && json_object_size(ir) == 0)
            json_object_del(params, "inputResponses");
    }
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    doc = NULL;
    if (!text || !(f->fwd_body = evbuffer_new()) ||
        evbuffer_add(f->fwd_body, text, strlen(text)) != 0) {
        free(text);
        goto fail;
    }
    free(text);
    return true;
fail:
    json_decref(doc);
    return false;
}

bool proxy_mrtr_request(fwd *f, const mt_mcp_msg *m, proxy_refusal *r)
{
    mt_proxy *p = f->p;
    note_client(f, json_object_get(m->params, "_meta"));
    if (m->kind != MT_MCP_REQUEST || !m->method || !mt_mrtr_method_supported(m->method))
        return true;
    f->call.on = true;
    f->call.round = 1;
    const char *name = m->tool_name ? m->tool_name : m->prompt_name ? m->prompt_name
                                                                     : m->resource_uri;
    mt_errbuf eb = {{0}};
    if (mt_mrtr_call_hash(m->method, name, json_object_get(m->params, "arguments"),
                          json_string_value(json_object_get(f->identity, "issuer")),
                          json_string_value(json_object_get(f->identity, "subject")),
                          f->call.hash, &eb) != MT_OK)
        return refuse(r, MT_MCP_INTERNAL_ERROR, "hash_failed", "cannot hash the call: %s",
                      eb.msg);
    const json_t *rs = json_object_get(m->params, "requestState");
    if (!json_is_string(rs))
        return true; /* absent; a malformed one is the server's to refuse */
    const char *st = json_string_value(rs);
    size_t sl = json_string_length(rs);
    int64_t now = now_ms();
    if (!mt_mrtr_is_sealed(st, sl)) {
        mt_mrtr_link l;
        if (mt_mrtr_links_take(p->mrtr_links, st, sl, now, &l) &&
            memcmp(l.call_hash, f->call.hash, MT_SHA256_LEN) == 0) {
            memcpy(f->call.id, l.call_id, sizeof f->call.id);
            f->call.round = l.round;
        }
        return true;
    }
    f->call.sealed_in = true;
    mt_mrtr_state s;
    mt_err err = mt_mrtr_open(p->mrtr_keys, st, sl, now, &s, &eb);
    if (err == MT_ERR_BAD_SIGNATURE)
        return refuse(r, MT_MCP_INVALID_PARAMS, "request_state_forged",
                      "requestState refused: %s (not sealed by this deployment, or changed)",
                      eb.msg);
    if (err == MT_ERR_TIMEOUT)
        return refuse(r, MT_RPC_APPROVAL_EXPIRED, "request_state_expired",
                      "requestState refused: %s; call again without it", eb.msg);
    if (err != MT_OK)
        return refuse(r, MT_MCP_INVALID_PARAMS, "request_state_invalid",
                      "requestState refused: %s", eb.msg);
    bool ok = false;
    /* A RELEASED state lets a round of an approved call run: it passes once.
     * An AWAITING state only asks whether the approval is decided; the
     * release is guarded by the approval's own single use (proxy_hold.c), so
     * a client polling a pending approval spends no nonces. */
    bool released = s.stage == MT_MRTR_RELEASED;
    if (memcmp(s.call_hash, f->call.hash, MT_SHA256_LEN) != 0) {
        refuse(r, MT_MCP_INVALID_PARAMS, "request_state_other_call",
               "requestState refused: it belongs to another call (tool, arguments or "
               "caller differ)%s", "");
    } else if (released && !mt_mrtr_seen_use(p->mrtr_seen, s.nonce, s.expires_ms, now)) {
        refuse(r, MT_MCP_INVALID_PARAMS, "request_state_replayed",
               "requestState refused: already used (each sealed state passes once)%s", "");
    } else if (!rewrite_body(f, m, &s)) {
        refuse(r, MT_MCP_INTERNAL_ERROR, "nomem", "out of memory%s", "");
    } else {
        memcpy(f->call.id, s.call_id, sizeof f->call.id);
        memcpy(f->approval_id, s.approval_id, sizeof f->approval_id);
        if (released && mt_hold_claims_on(p->holds)) { /* once per deployment */
            f->call.claim_pending = true;
            snprintf(f->call.claim_nonce, sizeof f->call.claim_nonce, "%s", s.nonce);
            f->call.claim_expires_ms = s.expires_ms;
        }
        f->call.round = s.round;
        f->call.expires_ms = s.expires_ms;
        f->call.covered = s.stage == MT_MRTR_RELEASED;
        f->call.approved = f->call.covered;
        f->call.awaiting = s.stage == MT_MRTR_AWAITING_APPROVAL;
        ok = true;
    }
    mt_mrtr_state_clear(&s);
    return ok;
}

bool proxy_mrtr_wants_url(fwd *f, const mt_mcp_msg *m)
{
    const mt_sidecar_config *cfg = f->p->cfg;
    if (!f->call.on || !cfg->approvals_url_elicitation || !f->p->holds ||
        !cfg->approvals_console_url || !*cfg->approvals_console_url)
        return false;
    const json_t *caps =
        json_object_get(json_object_get(m->params, "_meta"), META_CLIENT_CAPS);
    return json_is_object(json_object_get(json_object_get(caps, "elicitation"), "url"));
}

static const char *call_id_of(const fwd *f)
{
    return f->call.id[0] ? f->call.id : f->event_id[0] ? f->event_id : NULL;
}

/* The sealed state of f's call for its next round (nonce left to mt_mrtr_seal). */
static void next_round_state(fwd *f, mt_mrtr_stage stage, int64_t expires_ms, mt_mrtr_state *s)
{
    memset(s, 0, sizeof *s);
    s->stage = stage;
    memcpy(s->approval_id, f->approval_id, sizeof s->approval_id);
    snprintf(s->call_id, sizeof s->call_id, "%s", call_id_of(f) ? call_id_of(f) : "");
    memcpy(s->call_hash, f->call.hash, MT_SHA256_LEN);
    s->round = f->call.round + 1;
    s->expires_ms = expires_ms;
}

void proxy_mrtr_fill(fwd *f, mt_rec_event *ev)
{
    if (!f->call.on)
        return;
    ev->call.call_id = call_id_of(f);
    ev->call.round = f->call.round;
    ev->call.sealed = f->call.sealed_in;
}

bool proxy_mrtr_response(fwd *f, const void *data, size_t len, mt_buf *out,
                         const char **result_type, bool *sealed)
{
    *result_type = NULL;
    *sealed = false;
    if (!f->call.on || !len)
        return false;
    json_t *msg = json_loadb(data, len, 0, NULL);
    mt_mrtr_result rt = mt_mrtr_result_of(msg);
    json_t *result = json_object_get(msg, "result");
    if (rt == MT_MRTR_RESULT_COMPLETE) {
        *result_type = "complete";
    } else if (rt == MT_MRTR_RESULT_OTHER) {
        const char *rt_text = json_string_value(json_object_get(result, "resultType"));
        snprintf(f->call.result_type, sizeof f->call.result_type, "%s",
                 rt_text ? rt_text : "(not a string)");
        *result_type = f->call.result_type;
    } else if (rt == MT_MRTR_RESULT_INPUT_REQUIRED) {
        *result_type = "input_required";
    }
    bool rewritten = false;
    const json_t *rs = json_object_get(result, "requestState");
    const char *ustate = json_is_string(rs) ? json_string_value(rs) : NULL;
    mt_errbuf eb = {{0}};
    if (rt == MT_MRTR_RESULT_INPUT_REQUIRED && f->call.approved && f->approval_id[0]) {
        mt_mrtr_state s;
        next_round_state(f, MT_MRTR_RELEASED, now_ms() + f->p->cfg->approvals_state_ttl_ms, &s);
        s.upstream_state = ustate ? strdup(ustate) : NULL;
        mt_buf text = MT_BUF_INIT;
        char *dump = NULL;
        if ((ustate && !s.upstream_state) ||
            mt_mrtr_seal(f->p->mrtr_keys, &s, &text, &eb) != MT_OK ||
            json_object_set_new(result, "requestState",
                                json_stringn((const char *)text.data, text.len)) != 0 ||
            !(dump = json_dumps(msg, JSON_COMPACT)) ||
            mt_buf_append(out, dump, strlen(dump)) != MT_OK) {
            /* the retry then needs a new approval (fails closed) */
            mt_logs(MT_LOG_WARN, "approvals", "input-required result not sealed", "approval_id",
                    f->approval_id, "error", eb.msg[0] ? eb.msg : "out of memory", NULL);
            mt_buf_reset(out);
        } else {
            rewritten = *sealed = true;
        }
        free(dump);
        mt_buf_free(&text);
        mt_mrtr_state_clear(&s);
    } else if (rt == MT_MRTR_RESULT_INPUT_REQUIRED && ustate) {
        mt_mrtr_link l;
        memset(&l, 0, sizeof l);
        snprintf(l.call_id, sizeof l.call_id, "%s", call_id_of(f) ? call_id_of(f) : "");
        l.round = f->call.round + 1;
        memcpy(l.call_hash, f->call.hash, MT_SHA256_LEN);
        (void)mt_mrtr_links_put(f->p->mrtr_links, ustate, strlen(ustate), &l, now_ms());
    }
    json_decref(msg);
    return rewritten;
}

json_t *proxy_mrtr_url_result(fwd *f, const char *console_link, int64_t expires_ms,
                              mt_errbuf *eb)
{
    mt_mrtr_state s;
    next_round_state(f, MT_MRTR_AWAITING_APPROVAL, expires_ms, &s);
    mt_buf text = MT_BUF_INIT;
    if (mt_mrtr_seal(f->p->mrtr_keys, &s, &text, eb) != MT_OK) {
        mt_buf_free(&text);
        return NULL;
    }
    char message[512];
    snprintf(message, sizeof message,
             "%s %s needs an approval (rule %s, approval %s): open the link, wait for the "
             "decision, then continue",
             f->rpc.method ? f->rpc.method : "call", f->rpc.tool ? f->rpc.tool : "",
             f->decision.rule_id ? f->decision.rule_id : "", f->approval_id);
    json_t *id = f->rpc.id ? json_loads(f->rpc.id, JSON_DECODE_ANY, NULL) : NULL;
    json_t *body = json_pack(
        "{s:s, s:o, s:{s:s, s:{s:{s:s, s:{s:s, s:s, s:s}}}, s:s%}}", "jsonrpc", "2.0", "id",
        id ? id : json_null(), "result", "resultType", "input_required", "inputRequests",
        MT_MRTR_APPROVAL_INPUT, "method", "elicitation/create", "params", "mode", "url",
        "message", message, "url", console_link, "requestState", (const char *)text.data,
        text.len);
    mt_buf_free(&text);
    if (!body)
        mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    return body;
}
