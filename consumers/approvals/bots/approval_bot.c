/* mcptrail-approval-bot: an example approval bot. It consumes
 * mcptrail.approval.requests with a consumer group, ignores every request
 * that is not signed by a sidecar its trust file names (as mcptrail-approvals
 * does), posts one Slack-compatible webhook message per genuine request
 * ({"text", "blocks"}) and, when a line of its rules file matches, votes
 * approve or deny. mcptrail-approvals counts the vote like any other: the
 * bot's groups must be among the request's approver_groups and four-eyes
 * still applies.
 *
 * How it votes (vote.via):
 *   api    (default) through the approvals HTTP API with the bearer token of
 *          its own workload identity (approvals.token_file, re-read for every
 *          vote so a rotated token is picked up); its groups come from that
 *          verified token, and its Kafka principal needs no write access.
 *   topic  an ApprovalVote with source "bot" on the votes topic, signed with
 *          the bot's own Ed25519 key (signing.key_file); mcptrail-approvals
 *          counts it only as the subject, issuer and groups its trust file
 *          binds to that key.
 *
 * One request at a time, in the librdkafka consumer-loop shape: vote (wait
 * for the acknowledgement), post the webhook, then commit the offset, so a
 * crash repeats a request (at-least-once: the vote is then a duplicate the
 * service ignores, the webhook message is posted again) and never loses one.
 * HTTP is plain HTTP/1.1 over a socket (http:// only; put a TLS proxy such
 * as a mesh sidecar in front for https).
 *
 * Rules file: one rule per line, '#' starts a comment; the first rule whose
 * conditions all match decides; no match means notify only.
 *     approve tool=read_* method=tools/call
 *     deny    tool=drop_database
 * Conditions are key=GLOB (fnmatch(3)) on tool, method, rule (rule_id),
 * requester (identity subject), repository (CI claim); an optional
 * reason="..." replaces the default reason. See bots/README.md. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcptrail/approval.h"
#include "mcptrail/avro.h"
#include "mcptrail/config.h"
#include "mcptrail/json.h"
#include "mcptrail/kafka.h"
#include "mcptrail/log.h"
#include "mcptrail/runtime.h"
#include "bot.h"
#include "trust.h"

#define POLL_MS 500
#define VOTE_ACK_MS 30000
#define WEBHOOK_ATTEMPTS 3
#define API_ATTEMPTS 20       /* the service may not have read the request yet */
#define API_RETRY_MS 500
#define TOKEN_MAX 16384

typedef struct bot_config {
    mt_common_config common;
    char *rules_file;
    char *webhook_url;
    int64_t webhook_timeout_ms;
    char *console_url;
    char *group_id;
    char *topic_requests;
    char *topic_votes;
    char *subject;
    char *issuer;
    mt_strlist groups;
    char *trust_file;
    int vote_via; /* VIA_API, VIA_TOPIC */
    char *approvals_url;
    char *token_file;
    int64_t api_timeout_ms;
    mt_cfg_secret signing_key;
} bot_config;

enum { VIA_API = 0, VIA_TOPIC = 1 };
static const char *const via_names[] = {"api", "topic", NULL};

#define O(f) offsetof(bot_config, f)
static const mt_cfg_option bot_options[] = {
    {"rules_file", MT_CFG_STRING, NULL,
     "Rules file: one 'approve|deny key=GLOB... [reason=\"...\"]' per line (keys tool, "
     "method, rule, requester, repository); first match votes, no match only notifies.",
     O(rules_file), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"webhook.url", MT_CFG_STRING, NULL,
     "Slack-compatible incoming-webhook URL (http://host[:port]/path) that gets one "
     "message per request; unset: no messages.",
     O(webhook_url), 0, 0, NULL, 0},
    {"webhook.timeout", MT_CFG_DURATION, "5s",
     "Connect/send/receive timeout of one webhook "
     "attempt (3 attempts per message).",
     O(webhook_timeout_ms), 100, 60000, NULL, 0},
    {"console.url", MT_CFG_STRING, NULL,
     "Base URL of the approvals web console (e.g. https://approvals.example.com/console/) "
     "for the message's button when a request has no console_url.",
     O(console_url), 0, 0, NULL, 0},
    {"group_id", MT_CFG_STRING, "mcptrail-approval-bot",
     "Kafka consumer group; a new group starts at the beginning of the topic (expired "
     "requests are skipped).",
     O(group_id), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"topics.requests", MT_CFG_STRING, "mcptrail.approval.requests",
     "Topic of ApprovalRequest records.", O(topic_requests), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"trust.file", MT_CFG_STRING, NULL,
     "The trust file of mcptrail-approvals (its `sidecars` are used): a request not signed "
     "by one of those sidecar keys is ignored (no vote, no message) and counted.",
     O(trust_file), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"vote.via", MT_CFG_ENUM, "api",
     "How the bot votes: `api` (the approvals HTTP API with the bot's workload token: "
     "approvals.url, approvals.token_file) or `topic` (a signed ApprovalVote on the votes "
     "topic: signing.key_file, voter.*).",
     O(vote_via), 0, 0, via_names, 0},
    {"approvals.url", MT_CFG_STRING, NULL,
     "vote.via api: base URL of mcptrail-approvals (http://host:port); votes go to "
     "/api/v1/approvals/<id>/approve or /deny.",
     O(approvals_url), 0, 0, NULL, 0},
    {"approvals.token_file", MT_CFG_STRING, NULL,
     "vote.via api: file holding the bot's bearer token (a JWT of the approvers' issuer "
     "whose groups claim gives the bot's groups), read again for every vote.",
     O(token_file), 0, 0, NULL, 0},
    {"approvals.timeout", MT_CFG_DURATION, "10s", "vote.via api: timeout of one API call.",
     O(api_timeout_ms), 100, 120000, NULL, 0},
    {"signing.key_file", MT_CFG_SECRET_FILE, NULL,
     "vote.via topic: PKCS#8 PEM Ed25519 private key that signs the bot's votes; its public "
     "key goes into the `bots` of mcptrail-approvals' trust file with voter.subject, "
     "voter.issuer and the groups it may vote as.",
     O(signing_key), 0, 0, NULL, 0},
    {"topics.votes", MT_CFG_STRING, "mcptrail.approval.votes",
     "vote.via topic: topic the bot's signed ApprovalVote records go to.", O(topic_votes), 0,
     0, NULL, MT_CFG_F_REQUIRED},
    {"voter.subject", MT_CFG_STRING, "approval-bot",
     "vote.via topic: subject the bot votes as (must match its trust-file entry).", O(subject),
     0, 0, NULL, MT_CFG_F_REQUIRED},
    {"voter.issuer", MT_CFG_STRING, "mcptrail-approval-bot",
     "vote.via topic: issuer the bot votes as (must match its trust-file entry).", O(issuer), 0,
     0, NULL, MT_CFG_F_REQUIRED},
    {"voter.groups", MT_CFG_LIST, "bots",
     "vote.via topic: groups the vote claims; the service counts the groups of the bot's "
     "trust-file entry and refuses a vote claiming any other.",
     O(groups), 0, 0, NULL, 0},
    MT_CFG_END,
};

static const mt_cfg_spec bot_spec = {
    .program = "mcptrail-approval-bot",
    .summary = "Example approval bot: posts a Slack-compatible webhook message per genuine "
               "approval request and votes by rule through the approvals API or, signed, on "
               "the votes topic.",
    .env_prefix = "MCPTRAIL_",
    .parts = {{mt_cfg_common_options, offsetof(bot_config, common)}, {bot_options, 0}, {NULL, 0}},
};

/* ---- the loop ----------------------------------------------------------- */

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct vote_ack {
    int done;
    mt_err err;
    char errstr[256];
} vote_ack;

static void on_delivery(const mt_delivery *d, void *ctx)
{
    (void)ctx;
    vote_ack *a = d->opaque;
    a->done = 1;
    a->err = d->err;
    snprintf(a->errstr, sizeof a->errstr, "%s", d->errstr ? d->errstr : "");
}


typedef struct bot {
    const bot_config *cfg;
    mt_runtime *rt;
    mt_bot_rules rules;
    bool have_webhook;
    mt_bot_url hook, api;
    mt_producer *prod;
    mt_ed25519_key *key; /* vote.via topic */
    mt_trust trust;
    const mt_avro_schema *req_schema, *vote_schema;
    uint64_t requests, ignored, votes, refused, posts, post_failures;
} bot;

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L}; /* retry pacing, not sync */
    nanosleep(&t, NULL);
}

/* The token file's first line, or NULL (eb says why). Caller frees. */
static char *read_token(const char *path, mt_errbuf *eb)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        mt_fail(eb, MT_ERR_IO, "approvals.token_file %s: %s", path, strerror(errno));
        return NULL;
    }
    char *t = calloc(1, TOKEN_MAX + 1);
    size_t n = t ? fread(t, 1, TOKEN_MAX + 1, f) : 0;
    fclose(f);
    if (!t || n == 0 || n > TOKEN_MAX) {
        free(t);
        mt_fail(eb, MT_ERR_CONFIG, "approvals.token_file %s: %s", path,
                n == 0 ? "empty" : "larger than 16 KiB");
        return NULL;
    }
    t[strcspn(t, "\r\n")] = '\0';
    return t;
}

/* The vote through the approvals API. MT_OK when the service recorded it
 * (or had it already) or refused it for a reason of its own (decided,
 * expired, not in group: *refused set, the reason in note); an error when
 * the service cannot be reached or does not know the approval after the
 * retries (the request is then handled again after a restart). */
static mt_err vote_api(bot *b, const char *id, const char *vote, const char *reason,
                       bool *refused, char *note, size_t notelen, mt_errbuf *eb)
{
    /* The id goes into the request line: an approval id is a UUID. */
    if (!id || !*id || strspn(id, "0123456789abcdefABCDEF-") != strlen(id) || strlen(id) > 64) {
        *refused = true; /* not retried: the same record would fail again */
        snprintf(note, notelen, "The bot did not vote: approval id '%.64s' is not a UUID",
                 id ? id : "");
        return MT_OK;
    }
    mt_bot_url u = b->api;
    if ((size_t)snprintf(u.path, sizeof u.path, "%s%sapi/v1/approvals/%s/%s", b->api.path,
                         b->api.path[strlen(b->api.path) - 1] == '/' ? "" : "/", id,
                         vote) >= sizeof u.path)
        return mt_fail(eb, MT_ERR_TOO_LARGE, "approvals.url: path too long");
    json_t *body = json_pack("{s:s}", "reason", reason);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    mt_err err = MT_OK;
    int status = 0;
    char resp[1024];
    for (int i = 0; i < API_ATTEMPTS && !stop_requested; i++) {
        if (i > 0)
            sleep_ms(API_RETRY_MS);
        char *tok = read_token(b->cfg->token_file, eb);
        if (!tok) {
            err = MT_ERR_CONFIG;
            break;
        }
        err = mt_bot_http_post(&u, b->cfg->api_timeout_ms, tok, text, &status, resp, sizeof resp,
                               eb);
        free(tok);
        /* Not there yet (the service reads the request after the bot did, or
         * is replaying) or Kafka trouble: try again. */
        if (err != MT_OK || status == 404 || status == 503)
            continue;
        break;
    }
    free(text);
    if (err != MT_OK)
        return err;
    json_t *j = json_loads(resp, 0, NULL);
    const char *what = json_string_value(json_object_get(j, "error"));
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (status == 200 || status == 202) {
        *refused = false;
    } else if (status == 401) {
        err = mt_fail(eb, MT_ERR_CONFIG, "approvals API refused the bot's token: %s",
                      msg ? msg : "401");
    } else if (status == 403 || status == 409 || status == 422) {
        *refused = true;
        snprintf(note, notelen, "The bot's *%s* vote was refused: %s", vote,
                 msg ? msg : what ? what : "refused");
    } else {
        err = mt_fail(eb, MT_ERR_IO, "approvals API: HTTP %d for %s (%s)", status, id,
                      what ? what : "no error code");
    }
    json_decref(j);
    return err;
}

/* The vote as a signed ApprovalVote on the votes topic; MT_OK once Kafka
 * acknowledged it. */
static mt_err vote_topic(bot *b, const json_t *req, const char *vote, const char *reason,
                         mt_errbuf *eb)
{
    json_t *groups = json_array();
    for (size_t i = 0; groups && i < b->cfg->groups.n; i++)
        json_array_append_new(groups, json_string(b->cfg->groups.items[i]));
    const char *id = json_string_value(json_object_get(req, "approval_id"));
    json_t *v = json_pack("{s:s,s:O,s:{s:s,s:s,s:o},s:s,s:s,s:I,s:s}", "approval_id", id,
                          "request_hash", json_object_get(req, "request_hash"), "voter", "subject",
                          b->cfg->subject, "issuer", b->cfg->issuer, "groups", groups, "vote",
                          vote, "reason", reason, "ts", (json_int_t)mt_now_us(), "source", "bot");
    mt_buf buf = MT_BUF_INIT;
    mt_err err = v ? mt_approval_sign(b->vote_schema, v, b->key, eb)
                   : mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    if (err == MT_OK)
        err = mt_avro_encode(b->vote_schema, v, &buf, eb);
    json_decref(v);
    vote_ack ack = {0, MT_OK, ""};
    if (err == MT_OK) {
        mt_kafka_avro_headers ah;
        const mt_kafka_header *h =
            mt_kafka_avro_headers_init(&ah, mt_avro_schema_fingerprint(b->vote_schema));
        err = mt_producer_send(b->prod, b->cfg->topic_votes, id, strlen(id), buf.data, buf.len, h,
                               2, &ack, eb);
    }
    mt_buf_free(&buf);
    if (err != MT_OK)
        return err;
    if (mt_producer_flush(b->prod, VOTE_ACK_MS, eb) != MT_OK || !ack.done)
        return mt_fail(eb, MT_ERR_TIMEOUT, "vote for %s not acknowledged within %d ms", id,
                       VOTE_ACK_MS);
    if (ack.err != MT_OK)
        return mt_fail(eb, ack.err, "vote for %s not delivered: %s", id, ack.errstr);
    return MT_OK;
}

/* Votes as the rule says. */
static mt_err send_vote(bot *b, const json_t *req, const mt_bot_rule *r, char *note, size_t notelen,
                        mt_errbuf *eb)
{
    char reason[600];
    if (r->reason)
        snprintf(reason, sizeof reason, "%s", r->reason);
    else
        snprintf(reason, sizeof reason, "%s by rule at %s line %d", r->vote, b->cfg->rules_file,
                 r->line);
    const char *id = json_string_value(json_object_get(req, "approval_id"));
    bool refused = false;
    mt_err err = b->cfg->vote_via == VIA_API
                     ? vote_api(b, id, r->vote, reason, &refused, note, notelen, eb)
                     : vote_topic(b, req, r->vote, reason, eb);
    if (err != MT_OK)
        return err;
    if (refused) {
        b->refused++;
        mt_logs(MT_LOG_WARN, "bot", "vote refused by the service", "approval_id", id, "vote",
                r->vote, "detail", note, NULL);
        return MT_OK;
    }
    b->votes++;
    snprintf(note, notelen, "The bot voted *%s* (rule at line %d): %s", r->vote, r->line, reason);
    mt_logs(MT_LOG_INFO, "bot", "voted", "approval_id", id, "vote", r->vote, "reason", reason,
            "via", via_names[b->cfg->vote_via], NULL);
    return MT_OK;
}

static void post_message(bot *b, const json_t *req, const char *note)
{
    const char *id = json_string_value(json_object_get(req, "approval_id"));
    json_t *msg = mt_bot_message(req, b->cfg->console_url, note);
    char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    mt_errbuf eb = {{0}};
    mt_err err = body ? MT_ERR_IO : mt_fail(&eb, MT_ERR_NOMEM, "out of memory");
    for (int i = 0; body && i < WEBHOOK_ATTEMPTS && err != MT_OK && !stop_requested; i++) {
        if (i > 0) {
            struct timespec backoff = {0, 200000000L * i}; /* retry pacing, not sync */
            nanosleep(&backoff, NULL);
        }
        err = mt_bot_webhook_post(&b->hook, b->cfg->webhook_timeout_ms, body, &eb);
    }
    free(body);
    if (err == MT_OK) {
        b->posts++;
        mt_logs(MT_LOG_INFO, "bot", "webhook message posted", "approval_id", id, NULL);
    } else {
        /* A lost chat message must not hold the queue: log it and go on. */
        b->post_failures++;
        mt_logs(MT_LOG_ERROR, "bot", "webhook message not posted", "approval_id", id, "error",
                eb.msg, NULL);
    }
}

/* MT_OK: handled (commit). Anything else: Kafka trouble, stop without committing. */
static mt_err handle(bot *b, const mt_kafka_msg *m)
{
    mt_errbuf eb = {{0}};
    const mt_avro_schema *s = NULL;
    json_t *req = NULL;
    if (!m->value || m->value_len == 0)
        return MT_OK;
    if (mt_avro_decode(b->rt->schemas, m->value, m->value_len, &s, &req, &eb) != MT_OK ||
        s != b->req_schema) {
        mt_log(MT_LOG_WARN, "bot", "record skipped: not an ApprovalRequest", "partition",
               json_integer(m->partition), "offset", json_integer((json_int_t)m->offset), "error",
               json_string(eb.msg[0] ? eb.msg : mt_avro_schema_name(s)), NULL);
        json_decref(req);
        return MT_OK;
    }
    b->requests++;
    const char *id = json_string_value(json_object_get(req, "approval_id"));
    const mt_trust_key *signer = NULL;
    mt_trust_verdict tv = mt_trust_check_request(&b->trust, b->req_schema, req, &signer, &eb);
    if (tv != MT_TRUST_OK) {
        /* A forged request gets neither a vote nor a chat message. */
        b->ignored++;
        mt_logs(MT_LOG_WARN, "bot", "request ignored: not signed by a trusted sidecar",
                "approval_id", id, "reason", mt_trust_verdict_name(tv), "detail", eb.msg,
                "key_id", json_string_value(json_object_get(req, "key_id")), NULL);
        json_decref(req);
        return MT_OK;
    }
    if (json_integer_value(json_object_get(req, "expires")) <= mt_now_us()) {
        mt_logs(MT_LOG_DEBUG, "bot", "expired request skipped", "approval_id", id, NULL);
        json_decref(req);
        return MT_OK;
    }
    const mt_bot_rule *r = mt_bot_rules_match(&b->rules, req);
    char note[800] = "";
    mt_err err = MT_OK;
    if (r && (err = send_vote(b, req, r, note, sizeof note, &eb)) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "bot", "vote failed; the request will be retried", "approval_id", id,
                "error", eb.msg, NULL);
        json_decref(req);
        return err;
    }
    mt_log(MT_LOG_INFO, "bot", "request seen", "approval_id", json_string(id), "tool",
           json_incref(json_object_get(req, "tool")), "rule_line",
           r ? json_integer(r->line) : json_null(), "vote",
           json_string(r ? r->vote : "none (notify only)"), NULL);
    if (b->have_webhook)
        post_message(b, req, note[0] ? note : NULL);
    json_decref(req);
    return MT_OK;
}

int main(int argc, char **argv)
{
    bot_config cfg;
    memset(&cfg, 0, sizeof cfg);
    mt_cfg_result res = {0};
    mt_errbuf eb = {{0}};
    mt_runtime rt;
    bool rt_ok = false;
    mt_consumer *c = NULL;
    bot b;
    memset(&b, 0, sizeof b);
    int rc = 1;
    if (mt_cfg_load(&bot_spec, &cfg, argc, argv, NULL, &res, &eb) != MT_OK)
        goto fail;
    switch (res.action) {
    case MT_CFG_RUN:
        break;
    case MT_CFG_SHOW_HELP:
        rc = mt_cfg_print_help(&bot_spec, stdout) == MT_OK ? 0 : 1;
        goto out;
    case MT_CFG_SHOW_VERSION:
        mt_cfg_print_version(&bot_spec, stdout);
        rc = 0;
        goto out;
    case MT_CFG_PRINT_CONFIG:
        rc = mt_cfg_print_effective(&bot_spec, &cfg, stdout) == MT_OK ? 0 : 1;
        goto out;
    }
    b.cfg = &cfg;
    if (mt_bot_rules_load(cfg.rules_file, &b.rules, &eb) != MT_OK)
        goto fail;
    if (cfg.webhook_url && cfg.webhook_url[0]) {
        mt_errbuf inner = {{0}};
        if (mt_bot_parse_url(cfg.webhook_url, &b.hook, &inner) != MT_OK) {
            mt_fail(&eb, MT_ERR_CONFIG, "webhook.url %s", inner.msg);
            goto fail;
        }
        b.have_webhook = true;
    }
    mt_trust_init(&b.trust);
    if (mt_trust_load_file(&b.trust, cfg.trust_file, &eb) != MT_OK)
        goto fail;
    if (cfg.vote_via == VIA_API) {
        if (!cfg.approvals_url || !cfg.token_file) {
            mt_fail(&eb, MT_ERR_CONFIG,
                    "vote.via api needs approvals.url and approvals.token_file (or set "
                    "vote.via topic with signing.key_file)");
            goto fail;
        }
        mt_errbuf inner = {{0}};
        if (mt_bot_parse_url(cfg.approvals_url, &b.api, &inner) != MT_OK) {
            mt_fail(&eb, MT_ERR_CONFIG, "approvals.url %s", inner.msg);
            goto fail;
        }
        char *tok = read_token(cfg.token_file, &eb);
        if (!tok)
            goto fail;
        free(tok);
    } else if (!cfg.signing_key.value) {
        mt_fail(&eb, MT_ERR_CONFIG, "vote.via topic needs signing.key_file (the bot's own key)");
        goto fail;
    } else if (mt_ed25519_load_private_pem(cfg.signing_key.value, cfg.signing_key.len,
                                           cfg.signing_key.path, &b.key, &eb) != MT_OK) {
        goto fail;
    }
    if (mt_runtime_init(&rt, &cfg.common, 1, &eb) != MT_OK)
        goto fail;
    rt_ok = true;
    b.rt = &rt;
    b.req_schema = mt_avro_registry_find(rt.schemas, MT_APPROVAL_REQUEST_SCHEMA);
    b.vote_schema = mt_avro_registry_find(rt.schemas, MT_APPROVAL_VOTE_SCHEMA);
    if (!b.req_schema || !b.vote_schema) {
        mt_fail(&eb, MT_ERR_NOT_FOUND,
                "ApprovalRequest/ApprovalVote schemas not found in the "
                "schema directory");
        goto fail;
    }
    mt_producer_config pc = {
        .kafka = rt.kafka, .on_delivery = on_delivery, .delivery_timeout_ms = VOTE_ACK_MS};
    if (cfg.vote_via == VIA_TOPIC && mt_producer_new(&pc, &b.prod, &eb) != MT_OK)
        goto fail;
    const char *topics[] = {cfg.topic_requests};
    mt_consumer_config cc = {.kafka = rt.kafka,
                             .group_id = cfg.group_id,
                             .topics = topics,
                             .ntopics = 1,
                             .offset_reset = "earliest"};
    if (mt_consumer_new(&cc, &c, &eb) != MT_OK)
        goto fail;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    mt_log(MT_LOG_INFO, "bot", "started", "rules", json_integer((json_int_t)b.rules.n), "topic",
           json_string(cfg.topic_requests), "group", json_string(cfg.group_id), "webhook",
           json_boolean(b.have_webhook), "vote_via", json_string(via_names[cfg.vote_via]),
           "trusted_sidecars", json_integer((json_int_t)mt_trust_count(&b.trust,
                                                                       MT_TRUST_SIDECAR)),
           NULL);
    rc = 0;
    while (!stop_requested) {
        mt_kafka_msg m;
        mt_err err = mt_consumer_poll(c, POLL_MS, &m, &eb);
        if (err == MT_ERR_TIMEOUT)
            continue;
        if (err != MT_OK) {
            mt_logs(MT_LOG_ERROR, "bot", "consumer error", "error", eb.msg, NULL);
            rc = 1;
            break;
        }
        if (!m.eof) {
            if ((err = handle(&b, &m)) != MT_OK) {
                mt_kafka_msg_release(&m);
                rc = 1;
                break;
            }
            if (mt_consumer_commit(c, &m, &eb) != MT_OK)
                mt_logs(MT_LOG_WARN, "bot", "commit failed; the request may be seen again", "error",
                        eb.msg, NULL);
        }
        mt_kafka_msg_release(&m);
    }
    mt_log(MT_LOG_INFO, "bot", "stopped", "requests", json_integer((json_int_t)b.requests),
           "ignored", json_integer((json_int_t)b.ignored), "votes",
           json_integer((json_int_t)b.votes), "refused", json_integer((json_int_t)b.refused),
           "posted", json_integer((json_int_t)b.posts), "post_failures",
           json_integer((json_int_t)b.post_failures), NULL);
    goto out;
fail:
    fprintf(stderr, "mcptrail-approval-bot: %s\n", eb.msg);
    rc = 1;
out:
    if (c)
        mt_consumer_destroy(c);
    if (b.prod) {
        mt_errbuf feb = {{0}};
        mt_producer_flush(b.prod, 5000, &feb);
        mt_producer_destroy(b.prod);
    }
    mt_bot_rules_free(&b.rules);
    mt_trust_free(&b.trust);
    mt_ed25519_free(b.key);
    if (rt_ok)
        mt_runtime_free(&rt);
    mt_cfg_result_free(&res);
    mt_cfg_free(&bot_spec, &cfg);
    return rc;
}
