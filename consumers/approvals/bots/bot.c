/* Rules, webhook and message of mcptrail-approval-bot; see bot.h and the
 * comment at the top of approval_bot.c. */
#include "bot.h"

#include <errno.h>
#include <fnmatch.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mcptrail/json.h"

static const char *const cond_names[MT_BOT_C_N] = {"tool", "method", "rule", "requester",
                                                   "repository"};

/* ---- rules -------------------------------------------------------------- */

void mt_bot_rules_free(mt_bot_rules *rs)
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

mt_err mt_bot_rules_load(const char *path, mt_bot_rules *rs, mt_errbuf *eb)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return mt_fail(eb, MT_ERR_IO, "rules_file %s: %s", path, strerror(errno));
    char line[MT_BOT_RULE_LINE_MAX + 2];
    int ln = 0;
    mt_err err = MT_OK;
    while (err == MT_OK && fgets(line, sizeof line, f)) {
        ln++;
        size_t len = strlen(line);
        if (len > MT_BOT_RULE_LINE_MAX) {
            err = mt_fail(eb, MT_ERR_CONFIG, "%s:%d: line longer than %d bytes", path, ln,
                          MT_BOT_RULE_LINE_MAX);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line, *w = next_word(&p);
        if (!w)
            continue;
        if (rs->n == MT_BOT_RULES_MAX) {
            err =
                mt_fail(eb, MT_ERR_CONFIG, "%s:%d: more than %d rules", path, ln, MT_BOT_RULES_MAX);
            break;
        }
        mt_bot_rule *r = &rs->r[rs->n];
        memset(r, 0, sizeof *r);
        r->line = ln;
        if (strcmp(w, "approve") != 0 && strcmp(w, "deny") != 0) {
            err = mt_fail(eb, MT_ERR_CONFIG, "%s:%d: '%s': a rule starts with approve or deny",
                          path, ln, w);
            break;
        }
        snprintf(r->vote, sizeof r->vote, "%s", w);
        rs->n++; /* owned from here: mt_bot_rules_free releases what was parsed */
        while (err == MT_OK && (w = next_word(&p))) {
            char *eq = strchr(w, '=');
            if (!eq || eq == w || !eq[1]) {
                err =
                    mt_fail(eb, MT_ERR_CONFIG, "%s:%d: '%s': conditions are key=GLOB", path, ln, w);
                break;
            }
            *eq = '\0';
            char *val = eq + 1;
            if (strcmp(w, "reason") == 0) {
                size_t vl = strlen(val);
                if (vl < 2 || val[0] != '"' || val[vl - 1] != '"') {
                    err = mt_fail(eb, MT_ERR_CONFIG, "%s:%d: reason must be in double quotes", path,
                                  ln);
                    break;
                }
                val[vl - 1] = '\0';
                free(r->reason);
                if (!(r->reason = strdup(val + 1)))
                    err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
                continue;
            }
            int k = -1;
            for (int i = 0; i < MT_BOT_C_N; i++)
                if (strcmp(w, cond_names[i]) == 0)
                    k = i;
            if (k < 0) {
                err = mt_fail(eb, MT_ERR_CONFIG,
                              "%s:%d: unknown condition '%s' (tool, method, rule, requester, "
                              "repository, reason)",
                              path, ln, w);
            } else if (r->ncond == MT_BOT_RULE_CONDS_MAX) {
                err = mt_fail(eb, MT_ERR_CONFIG, "%s:%d: more than %d conditions", path, ln,
                              MT_BOT_RULE_CONDS_MAX);
            } else {
                r->cond[r->ncond].key = (mt_bot_cond)k;
                if (!(r->cond[r->ncond].glob = strdup(val)))
                    err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
                else
                    r->ncond++;
            }
        }
        if (err == MT_OK && r->ncond == 0)
            err =
                mt_fail(eb, MT_ERR_CONFIG,
                        "%s:%d: a rule needs at least one condition (e.g. tool=read_*)", path, ln);
    }
    if (err == MT_OK && ferror(f))
        err = mt_fail(eb, MT_ERR_IO, "rules_file %s: read error", path);
    fclose(f);
    return err;
}

static const char *request_field(const json_t *req, mt_bot_cond k)
{
    const json_t *id = json_object_get(req, "identity");
    switch (k) {
    case MT_BOT_C_TOOL:
        return json_string_value(json_object_get(req, "tool"));
    case MT_BOT_C_METHOD:
        return json_string_value(json_object_get(req, "method"));
    case MT_BOT_C_RULE:
        return json_string_value(json_object_get(req, "rule_id"));
    case MT_BOT_C_REQUESTER:
        return json_string_value(json_object_get(id, "subject"));
    case MT_BOT_C_REPOSITORY:
        return json_string_value(json_object_get(json_object_get(id, "ci"), "repository"));
    case MT_BOT_C_N:
        break;
    }
    return NULL;
}

/* First rule whose every condition matches (a missing field never matches). */
const mt_bot_rule *mt_bot_rules_match(const mt_bot_rules *rs, const json_t *req)
{
    for (size_t i = 0; i < rs->n; i++) {
        const mt_bot_rule *r = &rs->r[i];
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

mt_err mt_bot_parse_url(const char *url, mt_bot_url *u, mt_errbuf *eb)
{
    if (strncmp(url, "http://", 7) != 0)
        return mt_fail(eb, MT_ERR_CONFIG,
                       "'%s': only http:// is supported (put a TLS proxy in front "
                       "for https)",
                       url);
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hl);
    size_t nl = colon ? (size_t)(colon - h) : hl;
    size_t pl = colon ? hl - nl - 1 : 0;
    if (nl == 0 || nl >= sizeof u->host || pl >= sizeof u->port || (colon && pl == 0))
        return mt_fail(eb, MT_ERR_CONFIG, "'%s': bad host or port", url);
    memcpy(u->host, h, nl);
    u->host[nl] = '\0';
    if (colon) {
        memcpy(u->port, colon + 1, pl);
        u->port[pl] = '\0';
        if (strspn(u->port, "0123456789") != pl)
            return mt_fail(eb, MT_ERR_CONFIG, "'%s': bad port", url);
    } else {
        snprintf(u->port, sizeof u->port, "80");
    }
    if ((size_t)snprintf(u->path, sizeof u->path, "%s", slash ? slash : "/") >= sizeof u->path)
        return mt_fail(eb, MT_ERR_CONFIG, "'%s': path too long", url);
    if (strpbrk(u->path, " \r\n"))
        return mt_fail(eb, MT_ERR_CONFIG, "'%s': path has whitespace", url);
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

mt_err mt_bot_http_post(const mt_bot_url *u, int64_t timeout_ms, const char *authorization,
                        const char *body, int *status, char *resp, size_t resp_cap,
                        mt_errbuf *eb)
{
    *status = 0;
    if (resp && resp_cap)
        resp[0] = '\0';
    /* The token goes on the wire only: never into a message or a log. */
    if (authorization && strpbrk(authorization, "\r\n"))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "%s: the bearer token contains a line break",
                       u->host);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(u->host, u->port, &hints, &ai);
    if (gai != 0)
        return mt_fail(eb, MT_ERR_IO, "%s: %s", u->host, gai_strerror(gai));
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
        return mt_fail(eb, MT_ERR_IO, "%s:%s: connect: %s", u->host, u->port, strerror(errno));
    char head[1600];
    int hn = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: mcptrail-approval-bot\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n",
                      u->path, u->host, u->port, strlen(body));
    mt_err err = MT_OK;
    if (hn < 0 || (size_t)hn >= sizeof head) {
        close(fd);
        return mt_fail(eb, MT_ERR_TOO_LARGE, "%s: request head too long", u->host);
    }
    static const char auth_name[] = "Authorization: Bearer ", tail[] = "Connection: close\r\n\r\n";
    bool sent = send_all(fd, head, (size_t)hn) &&
                (!authorization ||
                 (send_all(fd, auth_name, sizeof auth_name - 1) &&
                  send_all(fd, authorization, strlen(authorization)) && send_all(fd, "\r\n", 2))) &&
                send_all(fd, tail, sizeof tail - 1);
    char buf[8192];
    size_t got = 0;
    if (!sent || !send_all(fd, body, strlen(body))) {
        err = mt_fail(eb, MT_ERR_IO, "%s: send: %s", u->host, strerror(errno));
    } else {
        /* Connection: close: read to the end (bounded). */
        for (;;) {
            ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
            if (r <= 0)
                break;
            got += (size_t)r;
            if (got == sizeof buf - 1)
                break;
        }
        buf[got] = '\0';
        if (sscanf(buf, "HTTP/1.%*d %d", status) != 1) {
            err = mt_fail(eb, MT_ERR_IO, "%s: no HTTP status line in the answer", u->host);
        } else if (resp && resp_cap) {
            const char *b = strstr(buf, "\r\n\r\n");
            snprintf(resp, resp_cap, "%s", b ? b + 4 : "");
        }
    }
    close(fd);
    return err;
}

/* One POST; MT_OK on a 2xx status. */
mt_err mt_bot_webhook_post(const mt_bot_url *u, int64_t timeout_ms, const char *body, mt_errbuf *eb)
{
    int status = 0;
    mt_errbuf inner = {{0}};
    if (mt_bot_http_post(u, timeout_ms, NULL, body, &status, NULL, 0, &inner) != MT_OK)
        return mt_fail(eb, MT_ERR_IO, "webhook %s", inner.msg);
    if (status < 200 || status > 299)
        return mt_fail(eb, MT_ERR_IO, "webhook %s: HTTP %d", u->host, status);
    return MT_OK;
}

/* ---- the message -------------------------------------------------------- */

/* Slack mrkdwn: &, < and > are control characters; escape them, and cut
 * text at a character boundary below Slack's limit. */
char *mt_bot_mrkdwn(const char *s, size_t max)
{
    size_t n = strlen(s), cap = n * 5 + 4;
    char *out = malloc(cap), *o = out;
    if (!out)
        return NULL;
    size_t used = 0;
    for (size_t i = 0; i < n && used < max; i++) {
        const char *rep = s[i] == '&'   ? "&amp;"
                          : s[i] == '<' ? "&lt;"
                          : s[i] == '>' ? "&gt;"
                                        : NULL;
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
json_t *mt_bot_message(const json_t *req, const char *console_url, const char *vote_note)
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
    if (!url && console_url) {
        snprintf(link, sizeof link, "%s", console_url);
        url = link;
    }
    char *e_what = mt_bot_mrkdwn(what, 200), *e_rule = mt_bot_mrkdwn(rule_id ? rule_id : "?", 200),
         *e_sub = mt_bot_mrkdwn(sub ? sub : "(unknown)", 200),
         *e_just = mt_bot_mrkdwn(just ? just : "(none given)", 1000),
         *e_args = mt_bot_mrkdwn(args ? args : "(none)", MT_BOT_SLACK_TEXT_MAX - 10),
         *e_repo = mt_bot_mrkdwn(json_string_value(json_object_get(ci, "repository"))
                                     ? json_string_value(json_object_get(ci, "repository"))
                                     : "-",
                                 200),
         *e_run = mt_bot_mrkdwn(json_string_value(json_object_get(ci, "run_id"))
                                    ? json_string_value(json_object_get(ci, "run_id"))
                                    : "-",
                                200);
    json_t *msg = NULL;
    if (!e_what || !e_rule || !e_sub || !e_just || !e_args || !e_repo || !e_run)
        goto out;
    json_t *blocks = json_array();
    json_array_append_new(blocks,
                          json_pack("{s:s,s:o}", "type", "header", "text",
                                    mk_text("plain_text", "Approval needed: %.120s", what)));
    json_t *fields = json_array();
    json_array_append_new(fields, mk_text("mrkdwn", "*Tool*\n`%s`", e_what));
    json_array_append_new(fields, mk_text("mrkdwn", "*Rule*\n`%s`", e_rule));
    json_array_append_new(fields, mk_text("mrkdwn", "*Requester*\n%s", e_sub));
    json_array_append_new(fields, mk_text("mrkdwn", "*Expires*\n%s", exp));
    if (ci && !json_is_null(ci)) {
        json_array_append_new(fields, mk_text("mrkdwn", "*Repository*\n%s", e_repo));
        json_array_append_new(fields, mk_text("mrkdwn", "*CI run*\n%s", e_run));
    }
    json_array_append_new(blocks, json_pack("{s:s,s:o,s:o}", "type", "section", "text",
                                            mk_text("mrkdwn", "*Justification:* %s", e_just),
                                            "fields", fields));
    json_array_append_new(blocks,
                          json_pack("{s:s,s:o}", "type", "section", "text",
                                    mk_text("mrkdwn", "*Arguments (masked)*\n```%s```", e_args)));
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
    char *e_groups = mt_bot_mrkdwn(groups[0] ? groups : "nobody", 280);
    json_array_append_new(
        ctx, mk_text("mrkdwn", "approval `%s` · needs %d approval(s) from %s", id ? id : "?",
                     (int)json_integer_value(json_object_get(req, "min_approvals")),
                     e_groups ? e_groups : "?"));
    free(e_groups);
    json_array_append_new(blocks, json_pack("{s:s,s:o}", "type", "context", "elements", ctx));
    if (url && (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0))
        json_array_append_new(blocks, json_pack("{s:s,s:[{s:s,s:o,s:s,s:s}]}", "type", "actions",
                                                "elements", "type", "button", "text",
                                                mk_text("plain_text", "Open in console"), "url",
                                                url, "action_id", "open_console"));
    msg = json_object();
    /* "text" is the fallback for notifications and clients without blocks. */
    json_object_set_new(msg, "text",
                        jstr("Approval needed: %s by %s (rule %s)%s%s", e_what, e_sub, e_rule,
                             vote_note ? " - " : "", vote_note ? vote_note : ""));
    json_object_set_new(msg, "blocks", blocks);
out:
    free(e_what), free(e_rule), free(e_sub), free(e_just), free(e_args), free(e_repo), free(e_run);
    return msg;
}
