/* The testable parts of mcptrail-approval-bot (approval_bot.c): the rules
 * file, the webhook URL and POST, and the Slack-compatible message. Linked
 * into mt_approvals_core so tests/consumers/approvals/test_bot.c can reach
 * them. */
#ifndef MT_APPROVAL_BOT_H
#define MT_APPROVAL_BOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mcptrail/err.h"

#define MT_BOT_RULES_MAX 256
#define MT_BOT_RULE_CONDS_MAX 8
#define MT_BOT_RULE_LINE_MAX 1024
#define MT_BOT_SLACK_TEXT_MAX 2900 /* Slack rejects section text over 3000 characters */

typedef enum {
    MT_BOT_C_TOOL,
    MT_BOT_C_METHOD,
    MT_BOT_C_RULE,
    MT_BOT_C_REQUESTER,
    MT_BOT_C_REPOSITORY,
    MT_BOT_C_N
} mt_bot_cond;

typedef struct mt_bot_rule {
    int line;
    char vote[8]; /* approve | deny */
    struct {
        mt_bot_cond key;
        char *glob;
    } cond[MT_BOT_RULE_CONDS_MAX];
    size_t ncond;
    char *reason; /* NULL: a default naming the rule */
} mt_bot_rule;

typedef struct mt_bot_rules {
    mt_bot_rule r[MT_BOT_RULES_MAX];
    size_t n;
} mt_bot_rules;

/* Parses the rules file into rs (zero-initialised). On error eb names the
 * file, the line and what is wrong; rs holds what was parsed (free it). */
mt_err mt_bot_rules_load(const char *path, mt_bot_rules *rs, mt_errbuf *eb);
void mt_bot_rules_free(mt_bot_rules *rs);

/* The first rule whose every condition matches the ApprovalRequest datum (a
 * field the request lacks never matches), or NULL. */
const mt_bot_rule *mt_bot_rules_match(const mt_bot_rules *rs, const json_t *req);

typedef struct mt_bot_url {
    char host[256];
    char port[8];
    char path[1024];
} mt_bot_url;

/* http://host[:port][/path] only (MT_ERR_CONFIG otherwise, e.g. https). */
mt_err mt_bot_parse_url(const char *url, mt_bot_url *u, mt_errbuf *eb);

/* One HTTP/1.1 POST of a JSON body (Connection: close), with
 * "Authorization: Bearer <authorization>" when that is not NULL (the token
 * is written to the socket only, never into a message). MT_OK once a status
 * line was read: *status is the HTTP status and resp (may be NULL) the
 * start of the body, cut at resp_cap. MT_ERR_IO when no answer came. */
mt_err mt_bot_http_post(const mt_bot_url *u, int64_t timeout_ms, const char *authorization,
                        const char *body, int *status, char *resp, size_t resp_cap,
                        mt_errbuf *eb);

/* One webhook POST; MT_OK on a 2xx answer. */
mt_err mt_bot_webhook_post(const mt_bot_url *u, int64_t timeout_ms, const char *body,
                           mt_errbuf *eb);

/* s with Slack mrkdwn's control characters (&, <, >) escaped, cut at about
 * max bytes on a UTF-8 boundary ("..." marks a cut). Caller frees; NULL on
 * allocation failure. */
char *mt_bot_mrkdwn(const char *s, size_t max);

/* The webhook body {"text": fallback, "blocks": [...]} (Slack Block Kit) for
 * an ApprovalRequest datum; console_url is the button's link when the
 * request has none (may be NULL); vote_note says how the bot voted (NULL:
 * it did not). NULL on allocation failure. */
json_t *mt_bot_message(const json_t *req, const char *console_url, const char *vote_note);

#endif
