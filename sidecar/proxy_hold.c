/* Approval holds of the proxy engine (hold.h; docs/policy.md "Approvals",
 * docs/approvals.md "Signed decisions and how the sidecar uses them"): the
 * exchange's side of a call the policy marks `approve`, once its request
 * event is recorded. A wait hold publishes the ApprovalRequest and keeps
 * the call open until a verified decision, the sidecar's own expiry, the
 * client's notifications/cancelled or its disconnect (meanwhile the client
 * may get notifications/progress over an SSE reply the sidecar starts
 * itself); a ticket hold answers at once and releases the identical retry
 * once approved. Every outcome goes through the recording gate (proxy.c)
 * before the client hears it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>

#include "mcptrail/log.h"
#include "mcptrail/runtime.h"
#include "proxy_internal.h"

static void held_link(fwd *f)
{
    mt_proxy *p = f->p;
    f->held_next = p->held;
    f->held_prev = NULL;
    if (p->held)
        p->held->held_prev = f;
    p->held = f;
    f->in_held = true;
}

void proxy_held_unlink(fwd *f)
{
    if (!f->in_held)
        return;
    if (f->held_prev)
        f->held_prev->held_next = f->held_next;
    else
        f->p->held = f->held_next;
    if (f->held_next)
        f->held_next->held_prev = f->held_prev;
    f->in_held = false;
    if (f->progress_ev) {
        event_free(f->progress_ev);
        f->progress_ev = NULL;
    }
    if (f->eof_ev) {
        event_free(f->eof_ev);
        f->eof_ev = NULL;
    }
}

/* evhttp does not read a connection while its request is being answered, so
 * a client that goes away from a silent hold would stay unnoticed: peek at
 * the socket. EOF or an error cancels the hold; data (a pipelined request,
 * TLS records) ends the watch, the next write then notices a close. */
static void on_held_client_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    fwd *f = arg;
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))) {
        if (n > 0 && f->eof_ev) {
            event_free(f->eof_ev);
            f->eof_ev = NULL;
        }
        return;
    }
    if (f->hold) {
        mt_logs(MT_LOG_INFO, "approvals", "client left a held call", "approval_id",
                f->approval_id, NULL);
        proxy_hold_cancel(f, "client disconnected");
    }
}

/* Writes a JSON body to a reply the sidecar already started as SSE (the
 * client was sent progress while held): one `message` event, then the end. */
void proxy_wrapped_send(fwd *f, struct evbuffer *body)
{
    struct evbuffer *chunk = evbuffer_new();
    if (chunk) {
        size_t len = evbuffer_get_length(body);
        const char *d = len ? (const char *)evbuffer_pullup(body, -1) : "";
        evbuffer_add_printf(chunk, "event: message\n");
        /* one data: line per line of the body (JSON has no other newlines) */
        size_t i = 0;
        while (i < len) {
            const char *nl = memchr(d + i, '\n', len - i);
            size_t n = nl ? (size_t)(nl - (d + i)) : len - i;
            evbuffer_add(chunk, "data: ", 6);
            evbuffer_add(chunk, d + i, n);
            evbuffer_add(chunk, "\n", 1);
            i += n + (nl ? 1 : 0);
        }
        evbuffer_add(chunk, "\n", 1);
        evhttp_send_reply_chunk(f->creq, chunk);
        evbuffer_free(chunk);
    }
    evhttp_send_reply_end(f->creq);
}

/* The JSON-RPC error a held call ends with (HTTP 200: the transport worked). */
static json_t *hold_error(fwd *f, int code, const char *message, json_t *data)
{
    json_t *id = f->rpc.id ? json_loads(f->rpc.id, JSON_DECODE_ANY, NULL) : NULL;
    if (data) {
        json_object_set_new(data, "approval_id", json_string(f->approval_id));
        json_object_set_new(data, "rule_id", json_string(f->decision.rule_id));
    }
    return json_pack("{s:s, s:o, s:{s:i, s:s, s:o}}", "jsonrpc", "2.0", "id",
                     id ? id : json_null(), "error", "code", code, "message", message, "data",
                     data ? data : json_object());
}

/* Records an approval event (kind, approval info, payload) and then
 * answers `body` (stolen; NULL: continue to the upstream instead). */
static void hold_record(fwd *f, const char *kind, const char *decision_symbol,
                        const json_t *decision, const char *payload, json_t *body,
                        mt_rec_done_cb cb)
{
    if (body) {
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        f->upstream_done = true;
        f->reject_code = 200;
        f->reject_reason = "OK";
        if (!f->reject_body)
            f->reject_body = evbuffer_new();
        if (f->reject_body && text)
            evbuffer_add(f->reject_body, text, strlen(text));
        free(text);
    }
    json_t *info = mt_hold_approval_info(f->approval_id, decision_symbol, decision);
    mt_rec_event ev;
    proxy_fill_event(f, &ev, kind, "internal", 0, NULL, 0);
    ev.approval = info;
    ev.justification = f->justification;
    if (!f->p->rec || !f->session) {
        f->pending_acks++;
        cb(f, MT_OK);
    } else {
        proxy_emit_payload(f, &ev, payload, payload ? strlen(payload) : 0, cb, f);
    }
    json_decref(info);
}

static void on_approved_recorded(void *arg, mt_err err)
{
    fwd *f = arg;
    f->pending_acks--;
    if (f->creq) {
        if (err != MT_OK) {
            /* strict: the approval is in the record before the call runs */
            mt_logs(MT_LOG_ERROR, "approvals", "approval not recorded; call not forwarded",
                    "approval_id", f->approval_id, NULL);
            struct evbuffer *b = evbuffer_new();
            json_t *e = hold_error(f, MT_RPC_INTERNAL_ERROR, MT_RPC_MSG_NOT_RECORDED, NULL);
            char *t = e ? json_dumps(e, JSON_COMPACT) : NULL;
            json_decref(e);
            if (b && t)
                evbuffer_add(b, t, strlen(t));
            free(t);
            if (f->wrapped) {
                proxy_wrapped_send(f, b);
            } else {
                evhttp_add_header(evhttp_request_get_output_headers(f->creq), "Content-Type",
                                  "application/json");
                evhttp_send_reply(f->creq, 503, "Service Unavailable", b);
            }
            if (b)
                evbuffer_free(b);
            f->upstream_done = true;
            proxy_client_finished(f);
        } else {
            proxy_start_upstream(f, f->creq);
        }
    }
    proxy_fwd_maybe_free(f);
}

/* Reasons of a denied decision's approvers, "subject: reason; ...". */
static json_t *deny_data(const json_t *decision)
{
    json_t *data = json_object(), *who = json_array();
    const json_t *arr = decision ? json_object_get(decision, "approvers") : NULL;
    for (size_t i = 0; who && i < json_array_size(arr); i++) {
        const json_t *a = json_array_get(arr, i);
        json_array_append_new(who, json_pack("{s:O?, s:O?}", "subject",
                                             json_object_get(a, "subject"), "reason",
                                             json_object_get(a, "reason")));
    }
    json_object_set_new(data, "approvers", who ? who : json_array());
    const json_t *first = json_object_get(json_array_get(arr, 0), "reason");
    if (json_is_string(first))
        json_object_set(data, "reason", (json_t *)first);
    return data;
}

/* The end of a hold: record approval_decided, then forward (approved) or
 * answer the error. */
static void hold_conclude(fwd *f, mt_hold_outcome o, const json_t *decision)
{
    proxy_held_unlink(f);
    char *payload = decision ? json_dumps(decision, JSON_COMPACT) : NULL;
    const char *sym = mt_hold_outcome_symbol(o);
    json_t *body = NULL;
    switch (o) {
    case MT_HOLD_APPROVED:
        f->call.approved = true; /* its input-required results get sealed states */
        break;
    case MT_HOLD_DENIED:
        body = hold_error(f, MT_RPC_APPROVAL_DENIED, "approval denied", deny_data(decision));
        break;
    case MT_HOLD_EXPIRED:
        body = hold_error(f, MT_RPC_APPROVAL_EXPIRED, "approval expired without a decision",
                          json_object());
        break;
    case MT_HOLD_CANCELLED:
        body = hold_error(f, MT_RPC_APPROVAL_CANCELLED, "approval cancelled", json_object());
        break;
    }
    hold_record(f, "approval_decided", sym, decision, payload, body,
                o == MT_HOLD_APPROVED ? on_approved_recorded : proxy_on_reject_recorded);
    free(payload);
}

static void on_hold_decided(void *arg, const mt_hold_verdict *v)
{
    fwd *f = arg;
    mt_hold_finish(f->p->holds, f->hold);
    f->hold = NULL;
    hold_conclude(f, v->outcome, v->decision);
}

static void on_event_recorded_quiet(void *arg, mt_err err)
{
    fwd *f = arg;
    (void)err;
    f->pending_acks--;
    proxy_fwd_maybe_free(f);
}

static void on_hold_ignored(void *arg, const mt_hold_ignored *ig)
{
    fwd *f = arg;
    json_t *d = json_pack("{s:s, s:s?, s:s?, s:s?}", "decision_ignored", ig->reason,
                          "approval_id", ig->approval_id, "key_id", ig->key_id, "decision",
                          ig->decision);
    char *payload = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    mt_rec_event ev;
    proxy_fill_event(f, &ev, "error", "internal", 0, NULL, 0);
    json_t *info = mt_hold_approval_info(f->approval_id, NULL, NULL);
    ev.approval = info;
    if (f->p->rec && f->session)
        proxy_emit_payload(f, &ev, payload, payload ? strlen(payload) : 0, on_event_recorded_quiet, f);
    json_decref(info);
    free(payload);
}

static void on_hold_published(void *arg, mt_err err)
{
    fwd *f = arg;
    if (err == MT_OK)
        return;
    mt_hold_finish(f->p->holds, f->hold);
    f->hold = NULL;
    proxy_held_unlink(f);
    if (f->creq)
        hold_record(f, "error", NULL, NULL, "approval request not published",
                    hold_error(f, MT_RPC_APPROVAL_UNAVAILABLE,
                               "approval request could not be published", json_object()),
                    proxy_on_reject_recorded);
}

static void on_progress_sent(void *arg, mt_err err)
{
    fwd *f = arg;
    (void)err;
    f->pending_acks--;
    proxy_fwd_maybe_free(f);
}

/* notifications/progress to a client waiting for a decision: the reply
 * becomes an SSE stream at the first one. Each is recorded (what the
 * client received) before it is sent. */
static void on_progress_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fwd *f = arg;
    if (!f->creq || !f->hold)
        return;
    f->progress_n++;
    char msg[160];
    snprintf(msg, sizeof msg, "waiting for approval %s", f->approval_id);
    char text[1024];
    int tn = snprintf(text, sizeof text,
                      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":"
                      "{\"progressToken\":%s,\"progress\":%u,\"message\":\"%s\"}}",
                      f->progress_token, f->progress_n, msg);
    if (tn < 0 || (size_t)tn >= sizeof text)
        return;
    if (!f->wrapped) {
        struct evkeyvalq *oh = evhttp_request_get_output_headers(f->creq);
        evhttp_add_header(oh, "Content-Type", "text/event-stream");
        evhttp_add_header(oh, "Cache-Control", "no-store");
        evhttp_send_reply_start(f->creq, 200, "OK");
        f->wrapped = f->started = true;
        f->status = 200;
    }
    mt_rec_event ev;
    proxy_fill_event(f, &ev, "notification", "server_to_client", 200, NULL, 0);
    ev.rpc.id = NULL;
    ev.rpc.method = "notifications/progress";
    json_t *info = mt_hold_approval_info(f->approval_id, NULL, NULL);
    ev.approval = info;
    struct evbuffer *chunk = evbuffer_new();
    if (chunk) {
        evbuffer_add_printf(chunk, "event: message\ndata: %s\n\n", text);
        evhttp_send_reply_chunk(f->creq, chunk);
        evbuffer_free(chunk);
    }
    if (f->p->rec && f->session)
        proxy_emit_payload(f, &ev, text, strlen(text), on_progress_sent, f);
    json_decref(info);
}

/* Answers a URL-elicitation approval (first ask, or a retry still pending):
 * an input-required result with the console link and a sealed state.
 * kind: the recorded event's kind. */
static void answer_url(fwd *f, const char *kind, int64_t expires_ms)
{
    char link[1024];
    mt_hold_console_link(f->p->holds, f->approval_id, link, sizeof link);
    mt_errbuf eb = {{0}};
    json_t *body = proxy_mrtr_url_result(f, link, expires_ms, &eb);
    if (!body) {
        mt_logs(MT_LOG_ERROR, "approvals", "cannot answer the approval URL", "error", eb.msg,
                NULL);
        hold_record(f, "error", NULL, NULL, eb.msg,
                    hold_error(f, MT_RPC_APPROVAL_UNAVAILABLE,
                               "approval request could not be answered", json_object()),
                    proxy_on_reject_recorded);
        return;
    }
    char *payload = json_dumps(body, JSON_COMPACT);
    hold_record(f, kind, NULL, NULL, payload, body, proxy_on_reject_recorded);
    free(payload);
}

/* Releases a call whose URL-elicitation approval is approved: the ticket
 * (or, for an approval another replica asked, the approval id) is used up
 * here, then the call goes on. */
static void release_url_now(fwd *f, const json_t *d)
{
    mt_hold_hub *hub = f->p->holds;
    const char *subject = json_string_value(json_object_get(f->identity, "subject"));
    mt_ticket *t = mt_hold_ticket_find(hub, f->call.hash, subject);
    if (t && strcmp(mt_hold_ticket_approval_id(t), f->approval_id) == 0)
        mt_hold_ticket_consume(hub, t);
    else
        mt_hold_mark_used(hub, f->approval_id, f->call.hash);
    hold_conclude(f, MT_HOLD_APPROVED, d);
}

static void refuse_used(fwd *f, const char *why)
{
    char msg[256];
    snprintf(msg, sizeof msg, "approval already used (%s): call again for a new approval", why);
    mt_logs(MT_LOG_INFO, "approvals", "approval already used", "approval_id", f->approval_id,
            "reason", why, NULL);
    hold_record(f, "error", NULL, NULL, msg,
                hold_error(f, MT_RPC_APPROVAL_EXPIRED, msg, json_object()),
                proxy_on_reject_recorded);
}

static void on_release_claimed(void *arg, bool won, const char *why)
{
    fwd *f = arg;
    f->call.claim = NULL;
    json_t *d = f->verdict;
    f->verdict = NULL;
    if (!f->creq) {
        f->upstream_done = true;
        proxy_fwd_maybe_free(f);
    } else if (won) {
        release_url_now(f, d);
    } else {
        refuse_used(f, why);
    }
    json_decref(d);
}

/* The same URL-elicitation approval can be presented to every replica (each
 * read its decision), so with approvals.topic_claims its release is claimed
 * first: it runs once per deployment. */
static void release_url(fwd *f, const json_t *d)
{
    mt_hold_hub *hub = f->p->holds;
    if (!mt_hold_claims_on(hub)) {
        release_url_now(f, d);
        return;
    }
    char key[MT_HOLD_CLAIM_KEY_MAX + 1];
    snprintf(key, sizeof key, "a:%s", f->approval_id);
    json_int_t exp_us = json_integer_value(json_object_get(d, "expires"));
    int64_t exp_ms = exp_us > 0 ? (int64_t)(exp_us / 1000) : mt_now_us() / 1000 + 86400000;
    json_decref(f->verdict);
    f->verdict = json_incref((json_t *)d);
    mt_errbuf eb = {{0}};
    if (mt_hold_claim_start(hub, key, exp_ms, on_release_claimed, f, &f->call.claim, &eb) !=
        MT_OK)
        on_release_claimed(f, false, eb.msg);
}

/* The retry of a call whose approval was asked by URL elicitation (its
 * sealed AWAITING_APPROVAL state was opened and checked in classify): the
 * decision is this sidecar's ticket, or one read from the decisions topic
 * for an approval another replica asked. Approved: forwarded once (without
 * the sidecar's input response and state); pending: asked again with a fresh
 * state, until the approval expires. */
static void hold_retry_awaiting(fwd *f)
{
    mt_proxy *p = f->p;
    const char *subject = json_string_value(json_object_get(f->identity, "subject"));
    mt_ticket *t = mt_hold_ticket_find(p->holds, f->call.hash, subject);
    if (t && strcmp(mt_hold_ticket_approval_id(t), f->approval_id) == 0) {
        mt_ticket_state st = mt_hold_ticket_state(p->holds, t);
        if (st == MT_TICKET_PENDING) {
            answer_url(f, "response", mt_hold_ticket_expires(t) / 1000);
            return;
        }
        json_t *d = json_incref((json_t *)mt_hold_ticket_decision(t));
        if (st == MT_TICKET_APPROVED) {
            release_url(f, d);
        } else {
            mt_hold_ticket_consume(p->holds, t);
            hold_conclude(f, st == MT_TICKET_DENIED ? MT_HOLD_DENIED : MT_HOLD_EXPIRED, d);
        }
        json_decref(d);
        return;
    }
    if (mt_hold_approval_used(p->holds, f->approval_id)) {
        refuse_used(f, "released before");
        return;
    }
    mt_hold_outcome o;
    const json_t *d = NULL;
    if (mt_hold_decision_lookup(p->holds, f->approval_id, f->call.hash, &o, &d)) {
        json_t *dd = json_incref((json_t *)d);
        if (o == MT_HOLD_APPROVED)
            release_url(f, dd);
        else
            hold_conclude(f, o, dd);
        json_decref(dd);
        return;
    }
    answer_url(f, "response", f->call.expires_ms);
}

/* The request event is recorded: hold the call (wait), or answer its ticket. */
void proxy_hold_begin(fwd *f)
{
    mt_proxy *p = f->p;
    const mt_policy_approval *ap = f->decision.approval;
    f->hold_pending = false;
    if (p->holds && f->call.awaiting) {
        hold_retry_awaiting(f);
        return;
    }
    if (!p->holds) {
        hold_record(f, "error", NULL, NULL, "approvals not configured",
                    hold_error(f, MT_RPC_APPROVAL_UNAVAILABLE,
                               "this call needs an approval but the sidecar has no approvals "
                               "configured (approvals.decision_keys)",
                               json_object()),
                    proxy_on_reject_recorded);
        return;
    }
    const char *subject = json_string_value(json_object_get(f->identity, "subject"));
    /* URL elicitation: a ticket keyed by the call hash, asked through the client */
    bool ticket = ap->hold == MT_POLICY_HOLD_TICKET || f->call.url;
    mt_policy_approval url_ap = *ap;
    url_ap.hold = MT_POLICY_HOLD_TICKET;
    if (ticket) {
        mt_ticket *t = mt_hold_ticket_find(p->holds, f->req_hash, subject);
        if (t) {
            memcpy(f->approval_id, mt_hold_ticket_approval_id(t), sizeof f->approval_id);
            mt_ticket_state st = mt_hold_ticket_state(p->holds, t);
            if (st == MT_TICKET_APPROVED && f->call.url) {
                json_t *d = json_incref((json_t *)mt_hold_ticket_decision(t));
                release_url(f, d); /* once per deployment, as from its sealed state */
                json_decref(d);
                return;
            }
            if (st != MT_TICKET_PENDING) {
                json_t *d = json_incref((json_t *)mt_hold_ticket_decision(t));
                mt_hold_ticket_consume(p->holds, t);
                hold_conclude(f, st == MT_TICKET_APPROVED ? MT_HOLD_APPROVED
                                 : st == MT_TICKET_DENIED ? MT_HOLD_DENIED
                                                          : MT_HOLD_EXPIRED,
                              d);
                json_decref(d);
                return;
            }
        }
    }
    char *args = NULL;
    if (!(ticket && mt_hold_ticket_find(p->holds, f->req_hash, subject))) {
        struct evbuffer *body = evhttp_request_get_input_buffer(f->creq);
        size_t blen = evbuffer_get_length(body);
        mt_errbuf meb = {{0}};
        /* arguments_masked: the params of the call (the whole body of a batch) */
        const char *raw = blen ? (const char *)evbuffer_pullup(body, -1) : "";
        json_t *doc = json_loadb(raw, blen, 0, NULL);
        json_t *params = json_is_object(doc) ? json_object_get(doc, "params") : NULL;
        char *ptext = params ? json_dumps(params, JSON_COMPACT) : NULL;
        if (p->rec)
            (void)mt_rec_mask(p->rec, ptext ? ptext : raw, ptext ? strlen(ptext) : blen, &args,
                              &meb);
        free(ptext);
        json_decref(doc);
        char *just = NULL;
        if (p->rec && f->justification)
            (void)mt_rec_mask(p->rec, f->justification, strlen(f->justification), &just, &meb);
        mt_hold_request rq = {
            .request_hash = f->req_hash,
            .session_id = f->session ? mt_rec_session_id(f->session) : "",
            .event_id = f->event_id,
            .identity = f->identity,
            .method = f->rpc.method,
            .tool = f->rpc.tool,
            .arguments_masked = args,
            .justification = just,
            .rule_id = f->decision.rule_id,
            .approval = ticket ? &url_ap : ap,
        };
        mt_hold_callbacks cb = {on_hold_published, on_hold_decided, on_hold_ignored};
        mt_errbuf eb = {{0}};
        mt_err err = mt_hold_start(p->holds, &rq, ticket ? NULL : &cb, f, &f->hold,
                                   f->approval_id, &eb);
        free(args);
        free(just);
        if (err != MT_OK) {
            mt_logs(MT_LOG_ERROR, "approvals", "cannot hold the call", "error", eb.msg, NULL);
            hold_record(f, "error", NULL, NULL, eb.msg,
                        hold_error(f, MT_RPC_APPROVAL_UNAVAILABLE,
                                   "approval request could not be created", json_object()),
                        proxy_on_reject_recorded);
            return;
        }
    } else {
        memcpy(f->approval_id,
               mt_hold_ticket_approval_id(mt_hold_ticket_find(p->holds, f->req_hash, subject)),
               sizeof f->approval_id);
    }
    char link[1024];
    mt_hold_console_link(p->holds, f->approval_id, link, sizeof link);
    if (f->call.url) {
        mt_ticket *t = mt_hold_ticket_find(p->holds, f->req_hash, subject);
        answer_url(f, "approval_requested", t ? mt_hold_ticket_expires(t) / 1000 : 0);
        return;
    }
    if (ap->hold == MT_POLICY_HOLD_TICKET) {
        mt_ticket *t = mt_hold_ticket_find(p->holds, f->req_hash, subject);
        json_t *data = json_pack("{s:s?, s:I, s:s}", "console_url", link[0] ? link : NULL,
                                 "expires", (json_int_t)(t ? mt_hold_ticket_expires(t) : 0),
                                 "retry", "send the identical request again once approved");
        hold_record(f, "approval_requested", NULL, NULL, NULL,
                    hold_error(f, MT_RPC_APPROVAL_REQUIRED, "approval required", data),
                    proxy_on_reject_recorded);
        return;
    }
    held_link(f);
    struct bufferevent *cbev = f->cconn ? evhttp_connection_get_bufferevent(f->cconn) : NULL;
    evutil_socket_t cfd = cbev ? bufferevent_getfd(cbev) : -1;
    if (cfd >= 0 && (f->eof_ev = event_new(p->base, cfd, EV_READ | EV_PERSIST,
                                           on_held_client_readable, f)))
        event_add(f->eof_ev, NULL);
    if (f->progress_token && f->accepts_sse && p->progress_ms > 0 &&
        (f->progress_ev = event_new(p->base, -1, EV_PERSIST, on_progress_tick, f))) {
        struct timeval tv = {(time_t)(p->progress_ms / 1000),
                             (suseconds_t)(p->progress_ms % 1000) * 1000};
        event_add(f->progress_ev, &tv);
    }
    hold_record(f, "approval_requested", NULL, NULL, NULL, NULL, on_event_recorded_quiet);
}

/* The client cancelled (notifications/cancelled) or left: the approval is
 * withdrawn (cancel vote) and the end recorded. */
void proxy_hold_cancel(fwd *f, const char *reason)
{
    mt_hold_cancel(f->p->holds, f->hold, reason);
    f->hold = NULL;
    hold_conclude(f, MT_HOLD_CANCELLED, NULL);
}

static void on_claimed(void *arg, bool won, const char *why)
{
    fwd *f = arg;
    f->call.claim = NULL;
    f->call.claim_pending = false;
    if (!f->creq) { /* the client left while the claim was read back */
        f->upstream_done = true;
        proxy_fwd_maybe_free(f);
        return;
    }
    if (won) {
        if (f->hold_pending)
            proxy_hold_begin(f);
        else
            proxy_start_upstream(f, f->creq);
        return;
    }
    char msg[256];
    snprintf(msg, sizeof msg, "requestState refused: %s (each sealed state passes once)", why);
    mt_logs(MT_LOG_INFO, "approvals", "sealed requestState refused", "reason", why,
            "approval_id", f->approval_id, NULL);
    hold_record(f, "error", NULL, NULL, msg, hold_error(f, MT_MCP_INVALID_PARAMS, msg, json_object()),
                proxy_on_reject_recorded);
}

void proxy_claim_begin(fwd *f)
{
    mt_errbuf eb = {{0}};
    if (mt_hold_claim_start(f->p->holds, f->call.claim_nonce, f->call.claim_expires_ms, on_claimed, f,
                            &f->call.claim, &eb) != MT_OK)
        on_claimed(f, false, eb.msg);
}

/* notifications/cancelled for a held request of the same MCP session. */
void proxy_cancel_held(mt_proxy *p, const char *client_sid, const json_t *request_id)
{
    char *want = json_dumps(request_id, JSON_ENCODE_ANY | JSON_COMPACT);
    for (fwd *h = p->held; want && h; h = h->held_next) {
        if (h->hold && h->sess.client_sid && client_sid && strcmp(h->sess.client_sid, client_sid) == 0 &&
            h->rpc.id && strcmp(h->rpc.id, want) == 0) {
            proxy_hold_cancel(h, "client cancelled the request");
            break;
        }
    }
    free(want);
}

