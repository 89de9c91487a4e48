/* mcptrail-approval-bot: an example approval bot. It consumes
 * mcptrail.approval.requests with a consumer group, posts one
 * Slack-compatible webhook message per request ({"text", "blocks"}) and, when
 * a line of its rules file matches the request, votes approve or deny on
 * mcptrail.approval.votes with source "bot". mcptrail-approvals counts the
 * vote like any other: the bot's groups must be among the request's
 * approver_groups and four-eyes still applies.
 *
 * One request at a time, in the librdkafka consumer-loop shape: vote (wait
 * for the acknowledgement), post the webhook, then commit the offset, so a
 * crash repeats a request (at-least-once: the vote is then a duplicate the
 * service ignores, the webhook message is posted again) and never loses one.
 * The webhook is plain HTTP/1.1 over a socket (http:// only; put a TLS proxy
 * such as a mesh sidecar in front for https).
 *
 * Rules file: one rule per line, '#' starts a comment; the first rule whose
 * conditions all match decides; no match means notify only.
 *     approve tool=read_* method=tools/call
 *     deny    tool=drop_database
 * Conditions are key=GLOB (fnmatch(3)) on tool, method, rule (rule_id),
 * requester (identity subject), repository (CI claim); an optional
 * reason="..." replaces the default reason. See bots/README.md. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcptrail/avro.h"
#include "mcptrail/config.h"
#include "mcptrail/json.h"
#include "mcptrail/kafka.h"
#include "mcptrail/log.h"
#include "mcptrail/runtime.h"
#include "bot.h"

#define POLL_MS 500
#define VOTE_ACK_MS 30000
#define WEBHOOK_ATTEMPTS 3

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
} bot_config;

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
    {"topics.votes", MT_CFG_STRING, "mcptrail.approval.votes",
     "Topic the bot's ApprovalVote records go to (ACL: only trusted writers).", O(topic_votes), 0,
     0, NULL, MT_CFG_F_REQUIRED},
    {"voter.subject", MT_CFG_STRING, "approval-bot", "Subject the bot votes as.", O(subject), 0, 0,
     NULL, MT_CFG_F_REQUIRED},
    {"voter.issuer", MT_CFG_STRING, "mcptrail-approval-bot", "Issuer the bot votes as.", O(issuer),
     0, 0, NULL, MT_CFG_F_REQUIRED},
    {"voter.groups", MT_CFG_LIST, "bots",
     "Groups the bot votes with; a request counts its vote only if one is among its "
     "approver_groups.",
     O(groups), 0, 0, NULL, 0},
    MT_CFG_END,
};

static const mt_cfg_spec bot_spec = {
    .program = "mcptrail-approval-bot",
    .summary = "Example approval bot: posts a Slack-compatible webhook message per approval "
               "request and votes by rule on the votes topic.",
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
    mt_bot_url hook;
    mt_producer *prod;
    const mt_avro_schema *req_schema, *vote_schema;
    uint64_t requests, votes, posts, post_failures;
} bot;

/* Votes as the rule says; MT_OK once Kafka acknowledged the vote. */
static mt_err send_vote(bot *b, const json_t *req, const mt_bot_rule *r, char *note, size_t notelen,
                        mt_errbuf *eb)
{
    char reason[600];
    if (r->reason)
        snprintf(reason, sizeof reason, "%s", r->reason);
    else
        snprintf(reason, sizeof reason, "%s by rule at %s line %d", r->vote, b->cfg->rules_file,
                 r->line);
    json_t *groups = json_array();
    for (size_t i = 0; groups && i < b->cfg->groups.n; i++)
        json_array_append_new(groups, json_string(b->cfg->groups.items[i]));
    const char *id = json_string_value(json_object_get(req, "approval_id"));
    json_t *v = json_pack("{s:s,s:O,s:{s:s,s:s,s:o},s:s,s:s,s:I,s:s}", "approval_id", id,
                          "request_hash", json_object_get(req, "request_hash"), "voter", "subject",
                          b->cfg->subject, "issuer", b->cfg->issuer, "groups", groups, "vote",
                          r->vote, "reason", reason, "ts", (json_int_t)mt_now_us(), "source", "bot");
    mt_buf buf = MT_BUF_INIT;
    mt_err err = v ? mt_avro_encode(b->vote_schema, v, &buf, eb)
                   : mt_fail(eb, MT_ERR_NOMEM, "out of memory");
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
    b->votes++;
    snprintf(note, notelen, "The bot voted *%s* (rule at line %d): %s", r->vote, r->line, reason);
    mt_logs(MT_LOG_INFO, "bot", "voted", "approval_id", id, "vote", r->vote, "reason", reason,
            NULL);
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
        if (mt_bot_parse_url(cfg.webhook_url, &b.hook, &eb) != MT_OK)
            goto fail;
        b.have_webhook = true;
    }
    if (mt_runtime_init(&rt, &cfg.common, 1, &eb) != MT_OK)
        goto fail;
    rt_ok = true;
    b.rt = &rt;
    b.req_schema = mt_avro_registry_find(rt.schemas, "dev.mcptrail.ApprovalRequest");
    b.vote_schema = mt_avro_registry_find(rt.schemas, "dev.mcptrail.ApprovalVote");
    if (!b.req_schema || !b.vote_schema) {
        mt_fail(&eb, MT_ERR_NOT_FOUND,
                "ApprovalRequest/ApprovalVote schemas not found in the "
                "schema directory");
        goto fail;
    }
    mt_producer_config pc = {
        .kafka = rt.kafka, .on_delivery = on_delivery, .delivery_timeout_ms = VOTE_ACK_MS};
    if (mt_producer_new(&pc, &b.prod, &eb) != MT_OK)
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
           json_boolean(b.have_webhook), NULL);
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
    mt_log(MT_LOG_INFO, "bot", "stopped", "requests", json_integer((json_int_t)b.requests), "votes",
           json_integer((json_int_t)b.votes), "posted", json_integer((json_int_t)b.posts),
           "post_failures", json_integer((json_int_t)b.post_failures), NULL);
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
    if (rt_ok)
        mt_runtime_free(&rt);
    mt_cfg_result_free(&res);
    mt_cfg_free(&bot_spec, &cfg);
    return rc;
}
