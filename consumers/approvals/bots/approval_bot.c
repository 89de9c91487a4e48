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
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mcptrail/avro.h"
#include "mcptrail/config.h"
#include "mcptrail/json.h"
#include "mcptrail/kafka.h"
#include "mcptrail/log.h"
#include "mcptrail/runtime.h"

#define RULES_MAX 256
#define RULE_CONDS_MAX 8
#define RULE_LINE_MAX 1024
#define SLACK_TEXT_MAX 2900 /* Slack rejects section text over 3000 characters */
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
    {"webhook.timeout", MT_CFG_DURATION, "5s", "Connect/send/receive timeout of one webhook "
     "attempt (3 attempts per message).", O(webhook_timeout_ms), 100, 60000, NULL, 0},
    {"console.url", MT_CFG_STRING, NULL,
     "Base URL of the approvals web console (e.g. https://approvals.example.com/console/) "
     "for the message's button when a request has no console_url.",
     O(console_url), 0, 0, NULL, 0},
    {"group_id", MT_CFG_STRING, "mcptrail-approval-bot",
     "Kafka consumer group; a new group starts at the beginning of the topic (expired "
     "requests are skipped).", O(group_id), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"topics.requests", MT_CFG_STRING, "mcptrail.approval.requests",
     "Topic of ApprovalRequest records.", O(topic_requests), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"topics.votes", MT_CFG_STRING, "mcptrail.approval.votes",
     "Topic the bot's ApprovalVote records go to (ACL: only trusted writers).",
     O(topic_votes), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"voter.subject", MT_CFG_STRING, "approval-bot", "Subject the bot votes as.", O(subject),
     0, 0, NULL, MT_CFG_F_REQUIRED},
    {"voter.issuer", MT_CFG_STRING, "mcptrail-approval-bot", "Issuer the bot votes as.",
     O(issuer), 0, 0, NULL, MT_CFG_F_REQUIRED},
    {"voter.groups", MT_CFG_LIST, "bots",
     "Groups the bot votes with; a request counts its vote only if one is among its "
     "approver_groups.", O(groups), 0, 0, NULL, 0},
    MT_CFG_END,
};

static const mt_cfg_spec bot_spec = {
    .program = "mcptrail-approval-bot",
    .summary = "Example approval bot: posts a Slack-compatible webhook message per approval "
               "request and votes by rule on the votes topic.",
    .env_prefix = "MCPTRAIL_",
    .parts = {{mt_cfg_common_options, offsetof(bot_config, common)},
              {bot_options, 0},
              {NULL, 0}},
};

/* ---- rules -------------------------------------------------------------- */

typedef enum { C_TOOL, C_METHOD, C_RULE, C_REQUESTER, C_REPOSITORY, C_N } cond_key;
static const char *const cond_names[C_N] = {"tool", "method", "rule", "requester",
                                            "repository"};

typedef struct rule {
    int line;
    char vote[8]; /* approve | deny */
    struct {
        cond_key key;
        char *glob;
    } cond[RULE_CONDS_MAX];
    size_t ncond;
    char *reason; /* NULL: a default naming the rule */
} rule;

typedef struct rules {
    rule r[RULES_MAX];
    size_t n;
} rules;

static void rules_free(rules *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        for (size_t j = 0; j < rs->r[i].ncond; j++)
            free(rs->r[i].cond[j].glob);
        free(rs->r[i].reason);
    }
    rs->n = 0;
}

/* Next whitespace-separated word of *p; reason="..." keeps its spaces. */
static char *next_word(char **p)
{
    char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return NULL;
    char *w = s;
    bool quoted = false;
    for (; *s && (quoted || (*s != ' ' && *s != '\t')); s++)
        if (*s == '"')
            quoted = !quoted;
    if (*s)
        *s++ = '\0';
    *p = s;
    return w;
}

static mt_err rules_load(const char *path, rules *rs, mt_errbuf *eb)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return mt_fail(eb, MT_ERR_IO, "rules_file %s: %s", path, strerror(errno));
    char line[RULE_LINE_MAX + 2];
    int ln = 0;
    mt_err err = MT_OK;
    while (err == MT_OK && fgets(line, sizeof line, f)) {
        ln++;
        size_t len = strlen(line);
        if (len > RULE_LINE_MAX) {
            err = mt_fail(eb, MT_ERR_CONFIG, "%s:%d: line longer than %d bytes", path, ln,
                          RULE_LINE_MAX);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line, *w = next_word(&p);
        if (!w)
            continue;
        if (rs->n == RULES_MAX) {
            err = mt_fail(eb, MT_ERR_CONFIG, "%s:%d: more than %d rules", path, ln, RULES_MAX);
            break;
        }
        rule *r = &rs->r[rs->n];
        memset(r, 0, sizeof *r);
        r->line = ln;
        if (strcmp(w, "approve") != 0 && strcmp(w, "deny") != 0) {
            err = mt_fail(eb, MT_ERR_CONFIG, "%s:%d: '%s': a rule starts with approve or deny",
                          path, ln, w);
            break;
        }
        snprintf(r->vote, sizeof r->vote, "%s", w);
        rs->n++; /* owned from here: rules_free releases what was parsed */
        while (err == MT_OK && (w = next_word(&p))) {
            char *eq = strchr(w, '=');
            if (!eq || eq == w || !eq[1]) {
                err = mt_fail(eb, MT_ERR_CONFIG, "%s:%d: '%s': conditions are key=GLOB", path,
                              ln, w);
                break;
            }
            *eq = '\0';
            char *val = eq + 1;
            if (strcmp(w, "reason") == 0) {
                size_t vl = strlen(val);
                if (vl < 2 || val[0] != '"' || val[vl - 1] != '"') {
                    err = mt_fail(eb, MT_ERR_CONFIG, "%s:%d: reason must be in double quotes",
                                  path, ln);
                    break;
                }
                val[vl - 1] = '\0';
                free(r->reason);
                if (!(r->reason = strdup(val + 1)))
                    err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
                continue;
            }
            int k = -1;
            for (int i = 0; i < C_N; i++)
                if (strcmp(w, cond_names[i]) == 0)
                    k = i;
            if (k < 0) {
                err = mt_fail(eb, MT_ERR_CONFIG,
                              "%s:%d: unknown condition '%s' (tool, method, rule, requester, "
                              "repository, reason)", path, ln, w);
            } else if (r->ncond == RULE_CONDS_MAX) {
                err = mt_fail(eb, MT_ERR_CONFIG, "%s:%d: more than %d conditions", path, ln,
                              RULE_CONDS_MAX);
            } else {
                r->cond[r->ncond].key = (cond_key)k;
                if (!(r->cond[r->ncond].glob = strdup(val)))
                    err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
                else
                    r->ncond++;
            }
        }
        if (err == MT_OK && r->ncond == 0)
            err = mt_fail(eb, MT_ERR_CONFIG,
                          "%s:%d: a rule needs at least one condition (e.g. tool=read_*)", path,
                          ln);
    }
    if (err == MT_OK && ferror(f))
        err = mt_fail(eb, MT_ERR_IO, "rules_file %s: read error", path);
    fclose(f);
    return err;
}

static const char *request_field(const json_t *req, cond_key k)
{
    const json_t *id = json_object_get(req, "identity");
    switch (k) {
    case C_TOOL: return json_string_value(json_object_get(req, "tool"));
    case C_METHOD: return json_string_value(json_object_get(req, "method"));
    case C_RULE: return json_string_value(json_object_get(req, "rule_id"));
    case C_REQUESTER: return json_string_value(json_object_get(id, "subject"));
    case C_REPOSITORY:
        return json_string_value(json_object_get(json_object_get(id, "ci"), "repository"));
    case C_N: break;
    }
    return NULL;
}

/* First rule whose every condition matches (a missing field never matches). */
static const rule *rules_match(const rules *rs, const json_t *req)
{
    for (size_t i = 0; i < rs->n; i++) {
        const rule *r = &rs->r[i];
        bool ok = true;
        for (size_t j = 0; ok && j < r->ncond; j++) {
            const char *v = request_field(req, r->cond[j].key);
            ok = v && fnmatch(r->cond[j].glob, v, 0) == 0;
        }
        if (ok)
            return r;
    }
    return NULL;
}

/* ---- webhook ------------------------------------------------------------ */

typedef struct http_url {
    char host[256];
    char port[8];
    char path[1024];
} http_url;

static mt_err parse_http_url(const char *url, http_url *u, mt_errbuf *eb)
{
    if (strncmp(url, "http://", 7) != 0)
        return mt_fail(eb, MT_ERR_CONFIG,
                       "webhook.url '%s': only http:// is supported (put a TLS proxy in front "
                       "for https)", url);
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hl);
    size_t nl = colon ? (size_t)(colon - h) : hl;
    size_t pl = colon ? hl - nl - 1 : 0;
    if (nl == 0 || nl >= sizeof u->host || pl >= sizeof u->port || (colon && pl == 0))
        return mt_fail(eb, MT_ERR_CONFIG, "webhook.url '%s': bad host or port", url);
    memcpy(u->host, h, nl);
    u->host[nl] = '\0';
    if (colon) {
        memcpy(u->port, colon + 1, pl);
        u->port[pl] = '\0';
        if (strspn(u->port, "0123456789") != pl)
            return mt_fail(eb, MT_ERR_CONFIG, "webhook.url '%s': bad port", url);
    } else {
        snprintf(u->port, sizeof u->port, "80");
    }
    if ((size_t)snprintf(u->path, sizeof u->path, "%s", slash ? slash : "/") >= sizeof u->path)
        return mt_fail(eb, MT_ERR_CONFIG, "webhook.url '%s': path too long", url);
    if (strpbrk(u->path, " \r\n"))
        return mt_fail(eb, MT_ERR_CONFIG, "webhook.url '%s': path has whitespace", url);
    return MT_OK;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* One POST; MT_OK on a 2xx status. */
static mt_err webhook_post_once(const http_url *u, int64_t timeout_ms, const char *body,
                                mt_errbuf *eb)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(u->host, u->port, &hints, &ai);
    if (gai != 0)
        return mt_fail(eb, MT_ERR_IO, "webhook %s: %s", u->host, gai_strerror(gai));
    int fd = -1;
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return mt_fail(eb, MT_ERR_IO, "webhook %s:%s: connect: %s", u->host, u->port,
                       strerror(errno));
    char head[1600];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: mcptrail-approval-bot\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      u->path, u->host, u->port, strlen(body));
    mt_err err = MT_OK;
    char resp[512];
    size_t got = 0;
    if (hn < 0 || (size_t)hn >= sizeof head || !send_all(fd, head, (size_t)hn) ||
        !send_all(fd, body, strlen(body))) {
        err = mt_fail(eb, MT_ERR_IO, "webhook %s: send: %s", u->host, strerror(errno));
    } else {
        /* The status line is all the bot needs. */
        while (got < sizeof resp - 1 && !memchr(resp, '\n', got)) {
            ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        resp[got] = '\0';
        int status = 0;
        if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1)
            err = mt_fail(eb, MT_ERR_IO, "webhook %s: no HTTP status line in the answer",
                          u->host);
        else if (status < 200 || status > 299)
            err = mt_fail(eb, MT_ERR_IO, "webhook %s: HTTP %d", u->host, status);
    }
    close(fd);
    return err;
}

/* ---- the message -------------------------------------------------------- */

/* Slack mrkdwn: &, < and > are control characters; escape them, and cut
 * text at a character boundary below Slack's limit. */
static char *mrkdwn(const char *s, size_t max)
{
    size_t n = strlen(s), cap = n * 5 + 4;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    size_t used = 0;
    for (size_t i = 0; i < n && used < max; i++) {
        const char *rep = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;" : NULL;
        if (rep) {
            size_t rl = strlen(rep);
            memcpy(o, rep, rl);
            o += rl;
            used += rl;
        } else {
            *o++ = s[i];
            used++;
        }
    }
    /* Do not end inside a UTF-8 sequence. */
    while (o > out && ((unsigned char)o[-1] & 0xC0) == 0x80)
        o--;
    if (o > out && ((unsigned char)o[-1] & 0xC0) == 0xC0)
        o--;
    *o = '\0';
    if (used >= max && strlen(out) >= 3)
        memcpy(o - 3, "...", 3);
    return out;
}

/* printf into a JSON string; bytes that are not UTF-8 (a cut) become '?'. */
static json_t *vjstr(const char *fmt, va_list ap)
{
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t bad, len = strlen(buf);
    while ((bad = mt_utf8_check(buf, len)) < len)
        buf[bad] = '?';
    return json_string(buf);
}

static json_t *jstr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *jstr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *v = vjstr(fmt, ap);
    va_end(ap);
    return v;
}

/* A Block Kit text object ({"type": "mrkdwn"|"plain_text", "text": ...}). */
static json_t *mk_text(const char *type, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static json_t *mk_text(const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *v = vjstr(fmt, ap);
    va_end(ap);
    return json_pack("{s:s,s:o}", "type", type, "text", v);
}

static char *fmt_time(int64_t us, char *out, size_t n)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return out;
}

/* The webhook body: {"text": fallback, "blocks": [...]} (Slack Block Kit). */
static json_t *build_message(const bot_config *cfg, const json_t *req, const char *vote_note)
{
    const char *id = json_string_value(json_object_get(req, "approval_id"));
    const char *tool = json_string_value(json_object_get(req, "tool"));
    const char *method = json_string_value(json_object_get(req, "method"));
    const char *what = tool ? tool : method ? method : "?";
    const char *rule_id = json_string_value(json_object_get(req, "rule_id"));
    const json_t *ident = json_object_get(req, "identity");
    const char *sub = json_string_value(json_object_get(ident, "subject"));
    const json_t *ci = json_object_get(ident, "ci");
    const char *just = json_string_value(json_object_get(req, "justification"));
    const char *args = json_string_value(json_object_get(req, "arguments_masked"));
    const char *url = json_string_value(json_object_get(req, "console_url"));
    char exp[40], link[1200] = "";
    fmt_time(json_integer_value(json_object_get(req, "expires")), exp, sizeof exp);
    if (!url && cfg->console_url) {
        snprintf(link, sizeof link, "%s", cfg->console_url);
        url = link;
    }
    char *e_what = mrkdwn(what, 200), *e_rule = mrkdwn(rule_id ? rule_id : "?", 200),
         *e_sub = mrkdwn(sub ? sub : "(unknown)", 200),
         *e_just = mrkdwn(just ? just : "(none given)", 1000),
         *e_args = mrkdwn(args ? args : "(none)", SLACK_TEXT_MAX - 10),
         *e_repo = mrkdwn(json_string_value(json_object_get(ci, "repository"))
                              ? json_string_value(json_object_get(ci, "repository"))
                              : "-", 200),
         *e_run = mrkdwn(json_string_value(json_object_get(ci, "run_id"))
                             ? json_string_value(json_object_get(ci, "run_id"))
                             : "-", 200);
    json_t *msg = NULL;
    if (!e_what || !e_rule || !e_sub || !e_just || !e_args || !e_repo || !e_run)
        goto out;
    json_t *blocks = json_array();
    json_array_append_new(blocks, json_pack("{s:s,s:o}", "type", "header", "text",
                                            mk_text("plain_text", "Approval needed: %.120s",
                                                    what)));
    json_t *fields = json_array();
    json_array_append_new(fields, mk_text("mrkdwn", "*Tool*\n`%s`", e_what));
    json_array_append_new(fields, mk_text("mrkdwn", "*Rule*\n`%s`", e_rule));
    json_array_append_new(fields, mk_text("mrkdwn", "*Requester*\n%s", e_sub));
    json_array_append_new(fields, mk_text("mrkdwn", "*Expires*\n%s", exp));
    if (ci && !json_is_null(ci)) {
        json_array_append_new(fields, mk_text("mrkdwn", "*Repository*\n%s", e_repo));
        json_array_append_new(fields, mk_text("mrkdwn", "*CI run*\n%s", e_run));
    }
    json_array_append_new(blocks,
                          json_pack("{s:s,s:o,s:o}", "type", "section", "text",
                                    mk_text("mrkdwn", "*Justification:* %s", e_just), "fields",
                                    fields));
    json_array_append_new(blocks, json_pack("{s:s,s:o}", "type", "section", "text",
                                            mk_text("mrkdwn", "*Arguments (masked)*\n```%s```",
                                                    e_args)));
    if (vote_note)
        json_array_append_new(blocks, json_pack("{s:s,s:o}", "type", "section", "text",
                                                mk_text("mrkdwn", ":robot_face: %s", vote_note)));
    json_t *ctx = json_array();
    char groups[300] = "";
    size_t gi;
    json_t *g;
    json_array_foreach(json_object_get(req, "approver_groups"), gi, g)
    {
        size_t used = strlen(groups);
        snprintf(groups + used, sizeof groups - used, "%s%s", gi ? " or " : "",
                 json_string_value(g) ? json_string_value(g) : "?");
    }
    char *e_groups = mrkdwn(groups[0] ? groups : "nobody", 280);
    json_array_append_new(ctx, mk_text("mrkdwn", "approval `%s` · needs %d approval(s) from %s",
                                       id ? id : "?",
                                       (int)json_integer_value(json_object_get(req, "min_approvals")),
                                       e_groups ? e_groups : "?"));
    free(e_groups);
    json_array_append_new(blocks, json_pack("{s:s,s:o}", "type", "context", "elements", ctx));
    if (url && (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0))
        json_array_append_new(
            blocks, json_pack("{s:s,s:[{s:s,s:o,s:s,s:s}]}", "type", "actions", "elements",
                              "type", "button", "text",
                              mk_text("plain_text", "Open in console"), "url", url,
                              "action_id", "open_console"));
    msg = json_object();
    /* "text" is the fallback for notifications and clients without blocks. */
    json_object_set_new(msg, "text", jstr("Approval needed: %s by %s (rule %s)%s%s", e_what,
                                          e_sub, e_rule,
                                          vote_note ? " - " : "", vote_note ? vote_note : ""));
    json_object_set_new(msg, "blocks", blocks);
out:
    free(e_what), free(e_rule), free(e_sub), free(e_just), free(e_args), free(e_repo),
        free(e_run);
    return msg;
}

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

static int64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

typedef struct bot {
    const bot_config *cfg;
    mt_runtime *rt;
    rules rules;
    bool have_webhook;
    http_url hook;
    mt_producer *prod;
    const mt_avro_schema *req_schema, *vote_schema;
    uint64_t requests, votes, posts, post_failures;
} bot;

/* Votes as the rule says; MT_OK once Kafka acknowledged the vote. */
static mt_err send_vote(bot *b, const json_t *req, const rule *r, char *note, size_t notelen,
                        mt_errbuf *eb)
{
    char reason[600];
    if (r->reason)
        snprintf(reason, sizeof reason, "%s", r->reason);
    else
        snprintf(reason, sizeof reason, "%s by rule at %s line %d", r->vote,
                 b->cfg->rules_file, r->line);
    json_t *groups = json_array();
    for (size_t i = 0; groups && i < b->cfg->groups.n; i++)
        json_array_append_new(groups, json_string(b->cfg->groups.items[i]));
    const char *id = json_string_value(json_object_get(req, "approval_id"));
    json_t *v = json_pack("{s:s,s:O,s:{s:s,s:s,s:o},s:s,s:s,s:I,s:s}", "approval_id", id,
                          "request_hash", json_object_get(req, "request_hash"), "voter",
                          "subject", b->cfg->subject, "issuer", b->cfg->issuer, "groups",
                          groups, "vote", r->vote, "reason", reason, "ts",
                          (json_int_t)now_us(), "source", "bot");
    mt_buf buf = MT_BUF_INIT;
    mt_err err = v ? mt_avro_encode(b->vote_schema, v, &buf, eb)
                   : mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    json_decref(v);
    vote_ack ack = {0, MT_OK, ""};
    if (err == MT_OK) {
        mt_kafka_avro_headers ah;
        const mt_kafka_header *h =
            mt_kafka_avro_headers_init(&ah, mt_avro_schema_fingerprint(b->vote_schema));
        err = mt_producer_send(b->prod, b->cfg->topic_votes, id, strlen(id), buf.data, buf.len,
                               h, 2, &ack, eb);
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
    snprintf(note, notelen, "The bot voted *%s* (rule at line %d): %s", r->vote, r->line,
             reason);
    mt_logs(MT_LOG_INFO, "bot", "voted", "approval_id", id, "vote", r->vote, "reason", reason,
            NULL);
    return MT_OK;
}

static void post_message(bot *b, const json_t *req, const char *note)
{
    const char *id = json_string_value(json_object_get(req, "approval_id"));
    json_t *msg = build_message(b->cfg, req, note);
    char *body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    mt_errbuf eb = {{0}};
    mt_err err = body ? MT_ERR_IO : mt_fail(&eb, MT_ERR_NOMEM, "out of memory");
    for (int i = 0; body && i < WEBHOOK_ATTEMPTS && err != MT_OK && !stop_requested; i++) {
        if (i > 0) {
            struct timespec backoff = {0, 200000000L * i}; /* retry pacing, not sync */
            nanosleep(&backoff, NULL);
        }
        err = webhook_post_once(&b->hook, b->cfg->webhook_timeout_ms, body, &eb);
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
               json_integer(m->partition), "offset", json_integer((json_int_t)m->offset),
               "error", json_string(eb.msg[0] ? eb.msg : mt_avro_schema_name(s)), NULL);
        json_decref(req);
        return MT_OK;
    }
    b->requests++;
    const char *id = json_string_value(json_object_get(req, "approval_id"));
    if (json_integer_value(json_object_get(req, "expires")) <= now_us()) {
        mt_logs(MT_LOG_DEBUG, "bot", "expired request skipped", "approval_id", id, NULL);
        json_decref(req);
        return MT_OK;
    }
    const rule *r = rules_match(&b->rules, req);
    char note[800] = "";
    mt_err err = MT_OK;
    if (r && (err = send_vote(b, req, r, note, sizeof note, &eb)) != MT_OK) {
        mt_logs(MT_LOG_ERROR, "bot", "vote failed; the request will be retried", "approval_id",
                id, "error", eb.msg, NULL);
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
    case MT_CFG_RUN: break;
    case MT_CFG_SHOW_HELP: rc = mt_cfg_print_help(&bot_spec, stdout) == MT_OK ? 0 : 1; goto out;
    case MT_CFG_SHOW_VERSION: mt_cfg_print_version(&bot_spec, stdout); rc = 0; goto out;
    case MT_CFG_PRINT_CONFIG:
        rc = mt_cfg_print_effective(&bot_spec, &cfg, stdout) == MT_OK ? 0 : 1;
        goto out;
    }
    b.cfg = &cfg;
    if (rules_load(cfg.rules_file, &b.rules, &eb) != MT_OK)
        goto fail;
    if (cfg.webhook_url && cfg.webhook_url[0]) {
        if (parse_http_url(cfg.webhook_url, &b.hook, &eb) != MT_OK)
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
        mt_fail(&eb, MT_ERR_NOT_FOUND, "ApprovalRequest/ApprovalVote schemas not found in the "
                                       "schema directory");
        goto fail;
    }
    mt_producer_config pc = {.kafka = rt.kafka, .on_delivery = on_delivery,
                             .delivery_timeout_ms = VOTE_ACK_MS};
    if (mt_producer_new(&pc, &b.prod, &eb) != MT_OK)
        goto fail;
    const char *topics[] = {cfg.topic_requests};
    mt_consumer_config cc = {.kafka = rt.kafka, .group_id = cfg.group_id, .topics = topics,
                             .ntopics = 1, .offset_reset = "earliest"};
    if (mt_consumer_new(&cc, &c, &eb) != MT_OK)
        goto fail;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    mt_log(MT_LOG_INFO, "bot", "started", "rules", json_integer((json_int_t)b.rules.n),
           "topic", json_string(cfg.topic_requests), "group", json_string(cfg.group_id),
           "webhook", json_boolean(b.have_webhook), NULL);
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
                mt_logs(MT_LOG_WARN, "bot", "commit failed; the request may be seen again",
                        "error", eb.msg, NULL);
        }
        mt_kafka_msg_release(&m);
    }
    mt_log(MT_LOG_INFO, "bot", "stopped", "requests", json_integer((json_int_t)b.requests),
           "votes", json_integer((json_int_t)b.votes), "posted",
           json_integer((json_int_t)b.posts), "post_failures",
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
    rules_free(&b.rules);
    if (rt_ok)
        mt_runtime_free(&rt);
    mt_cfg_result_free(&res);
    mt_cfg_free(&bot_spec, &cfg);
    return rc;
}
