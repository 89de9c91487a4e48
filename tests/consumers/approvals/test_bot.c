/* Tests of the example bot's rules, webhook URL and POST, and its
 * Slack-compatible message (consumers/approvals/bots/bot.c). The webhook POST
 * goes to a one-shot HTTP listener on 127.0.0.1 served by a thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "bot.h"
#include "mcptrail/json.h"

static char *write_rules(const char *text)
{
    char *path = strdup("/tmp/mt-bot-rules-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static json_t *request(const char *tool, const char *repo)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:{s:s,s:o},s:s,s:s,s:[s],s:i,s:n}", "approval_id",
                     "ap-1", "method", "tools/call", "tool", tool, "rule_id", "prod",
                     "expires", (json_int_t)1795600000000000, "identity", "subject", "ci-bot",
                     "ci", repo ? json_pack("{s:s,s:s}", "repository", repo, "run_id", "42")
                                : json_null(),
                     "justification", "fix <b> & ship", "arguments_masked",
                     "{\"path\":\"/etc/motd\"}", "approver_groups", "bots", "min_approvals", 1,
                     "console_url");
}

static void first_matching_rule_votes_and_unmatched_requests_only_notify(void **state)
{
    (void)state;
    char *path = write_rules("# comment\n"
                             "\n"
                             "approve tool=read_*  method=tools/call reason=\"read only, ok\"\n"
                             "deny    tool=*       repository=sandbox/*   # trailing comment\n"
                             "approve tool=read_file\n");
    mt_bot_rules rs;
    memset(&rs, 0, sizeof rs);
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_bot_rules_load(path, &rs, &eb), MT_OK);
    assert_int_equal(rs.n, 3);

    json_t *rd = request("read_file", NULL), *sb = request("write_file", "sandbox/x"),
           *sb_read = request("read_file", "sandbox/x"), *other = request("deploy", "acme/app");
    const mt_bot_rule *r = mt_bot_rules_match(&rs, rd);
    assert_non_null(r);
    assert_int_equal(r->line, 3);
    assert_string_equal(r->vote, "approve");
    assert_string_equal(r->reason, "read only, ok");
    r = mt_bot_rules_match(&rs, sb);
    assert_non_null(r);
    assert_string_equal(r->vote, "deny");
    assert_null(r->reason);
    /* Order decides: the read rule comes before the sandbox deny. */
    assert_int_equal(mt_bot_rules_match(&rs, sb_read)->line, 3);
    /* No CI claims: a repository condition never matches; nothing else does. */
    assert_null(mt_bot_rules_match(&rs, other));
    json_decref(rd), json_decref(sb), json_decref(sb_read), json_decref(other);
    mt_bot_rules_free(&rs);
    unlink(path);
    free(path);
}

static void malformed_rules_are_refused_with_file_and_line(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"allow tool=x\n", ":1: 'allow': a rule starts with approve or deny"},
        {"# ok\napprove\n", ":2: a rule needs at least one condition"},
        {"approve color=red\n", ":1: unknown condition 'color'"},
        {"approve tool\n", ":1: 'tool': conditions are key=GLOB"},
        {"approve tool=x reason=unquoted\n", ":1: reason must be in double quotes"},
        {"deny tool=a tool=b tool=c tool=d tool=e tool=f tool=g tool=h tool=i\n",
         ":1: more than 8 conditions"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *path = write_rules(bad[i].text);
        mt_bot_rules rs;
        memset(&rs, 0, sizeof rs);
        mt_errbuf eb = {{0}};
        assert_int_equal(mt_bot_rules_load(path, &rs, &eb), MT_ERR_CONFIG);
        if (!strstr(eb.msg, path) || !strstr(eb.msg, bad[i].want))
            fail_msg("rules %zu: '%s' lacks '%s'", i, eb.msg, bad[i].want);
        mt_bot_rules_free(&rs);
        unlink(path);
        free(path);
    }
    mt_bot_rules rs;
    memset(&rs, 0, sizeof rs);
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_bot_rules_load("/nonexistent/rules", &rs, &eb), MT_ERR_IO);
}

static void webhook_url_is_http_only(void **state)
{
    (void)state;
    mt_bot_url u;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_bot_parse_url("http://127.0.0.1:8080/services/T/B/X", &u, &eb), MT_OK);
    assert_string_equal(u.host, "127.0.0.1");
    assert_string_equal(u.port, "8080");
    assert_string_equal(u.path, "/services/T/B/X");
    assert_int_equal(mt_bot_parse_url("http://hooks.internal", &u, &eb), MT_OK);
    assert_string_equal(u.port, "80");
    assert_string_equal(u.path, "/");
    static const char *const bad[] = {"https://x/y", "ftp://x", "http://:80/", "http://x:/",
                                      "http://x:8a/", "http://x/a b", "http://x/a\r\nX: y"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (mt_bot_parse_url(bad[i], &u, &eb) != MT_ERR_CONFIG)
            fail_msg("'%s' accepted", bad[i]);
}

static void message_is_slack_blocks_with_escaped_text(void **state)
{
    (void)state;
    json_t *req = request("read_file", "acme/app");
    json_t *m = mt_bot_message(req, "https://approvals.example.com/console/",
                               "The bot voted *approve*");
    assert_non_null(m);
    assert_true(json_is_string(json_object_get(m, "text")));
    assert_non_null(strstr(json_string_value(json_object_get(m, "text")), "voted *approve*"));
    json_t *blocks = json_object_get(m, "blocks");
    assert_string_equal(json_string_value(json_object_get(json_array_get(blocks, 0), "type")),
                        "header");
    char *dump = json_dumps(m, JSON_COMPACT);
    assert_non_null(strstr(dump, "fix &lt;b&gt; &amp; ship"));
    assert_null(strstr(dump, "fix <b>"));
    assert_non_null(strstr(dump, "*Repository*\\nacme/app"));
    assert_non_null(strstr(dump, "\"url\":\"https://approvals.example.com/console/\""));
    free(dump);
    json_decref(m);
    /* No CI claims, no console: no repository field, no button. */
    json_object_set_new(json_object_get(req, "identity"), "ci", json_null());
    m = mt_bot_message(req, NULL, NULL);
    dump = json_dumps(m, JSON_COMPACT);
    assert_null(strstr(dump, "Repository"));
    assert_null(strstr(dump, "\"actions\""));
    assert_null(strstr(dump, "voted"));
    free(dump);
    json_decref(m);
    json_decref(req);
}

static void mrkdwn_cuts_on_a_character_boundary(void **state)
{
    (void)state;
    char *s = mt_bot_mrkdwn("a<b", 100);
    assert_string_equal(s, "a&lt;b");
    free(s);
    /* "é" is two bytes: a cut after 5 bytes must not split it. */
    s = mt_bot_mrkdwn("abcdéfghij", 5);
    assert_int_equal(mt_utf8_check(s, strlen(s)), strlen(s));
    assert_non_null(strstr(s, "..."));
    free(s);
}

typedef struct listener {
    int fd;
    int status; /* what to answer */
    char got[4096];
} listener;

static void *serve_one(void *arg)
{
    listener *l = arg;
    int c = accept(l->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    size_t n = 0;
    while (n < sizeof l->got - 1) {
        ssize_t r = recv(c, l->got + n, sizeof l->got - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        l->got[n] = '\0';
        const char *body = strstr(l->got, "\r\n\r\n");
        const char *cl = strstr(l->got, "Content-Length: ");
        if (body && cl && strlen(body + 4) >= strtoul(cl + 16, NULL, 10))
            break;
    }
    char resp[128];
    int k = snprintf(resp, sizeof resp, "HTTP/1.1 %d X\r\nContent-Length: 2\r\n\r\nok",
                     l->status);
    send(c, resp, (size_t)k, MSG_NOSIGNAL);
    close(c);
    return NULL;
}

static mt_err post_to_with(int status, listener *l, const char *token, int *got_status,
                           char *resp, size_t resp_cap, mt_errbuf *eb)
{
    memset(l, 0, sizeof *l);
    l->status = status;
    l->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(l->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l->fd, 1), 0);
    assert_int_equal(getsockname(l->fd, (struct sockaddr *)&a, &al), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, serve_one, l), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", ntohs(a.sin_port));
    mt_bot_url u;
    assert_int_equal(mt_bot_parse_url(url, &u, eb), MT_OK);
    mt_err err = got_status ? mt_bot_http_post(&u, 5000, token, "{\"text\":\"hi\"}",
                                               got_status, resp, resp_cap, eb)
                            : mt_bot_webhook_post(&u, 5000, "{\"text\":\"hi\"}", eb);
    pthread_join(t, NULL);
    close(l->fd);
    return err;
}

static mt_err post_to(int status, listener *l, mt_errbuf *eb)
{
    return post_to_with(status, l, NULL, NULL, NULL, 0, eb);
}

/* The API client: bearer token on the wire, any status and the body
 * returned; a token with a line break is refused before anything is sent. */
static void api_post_sends_the_token_and_returns_status_and_body(void **state)
{
    (void)state;
    listener l;
    mt_errbuf eb = {{0}};
    int status = 0;
    char resp[64];
    assert_int_equal(post_to_with(409, &l, "eyJ.tok.en", &status, resp, sizeof resp, &eb), MT_OK);
    assert_int_equal(status, 409);
    assert_string_equal(resp, "ok");
    assert_non_null(strstr(l.got, "\r\nAuthorization: Bearer eyJ.tok.en\r\n"));
    assert_non_null(strstr(l.got, "\r\nConnection: close\r\n\r\n{\"text\""));
    assert_null(strstr(eb.msg, "eyJ"));
    mt_bot_url u;
    assert_int_equal(mt_bot_parse_url("http://127.0.0.1:1/x", &u, &eb), MT_OK);
    assert_int_equal(mt_bot_http_post(&u, 1000, "a\r\nX-Evil: 1", "{}", &status, NULL, 0, &eb),
                     MT_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "line break"));
    assert_null(strstr(eb.msg, "X-Evil"));
}

static void webhook_post_sends_json_and_needs_a_2xx(void **state)
{
    (void)state;
    listener l;
    mt_errbuf eb = {{0}};
    assert_int_equal(post_to(200, &l, &eb), MT_OK);
    assert_non_null(strstr(l.got, "POST /hook HTTP/1.1\r\n"));
    assert_non_null(strstr(l.got, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(l.got, "\r\n\r\n{\"text\":\"hi\"}"));
    assert_int_equal(post_to(500, &l, &eb), MT_ERR_IO);
    assert_non_null(strstr(eb.msg, "HTTP 500"));
    /* Nobody listening: a clear connect error. */
    mt_bot_url u;
    assert_int_equal(mt_bot_parse_url("http://127.0.0.1:1/x", &u, &eb), MT_OK);
    assert_int_equal(mt_bot_webhook_post(&u, 1000, "{}", &eb), MT_ERR_IO);
    assert_non_null(strstr(eb.msg, "connect"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_matching_rule_votes_and_unmatched_requests_only_notify),
        cmocka_unit_test(malformed_rules_are_refused_with_file_and_line),
        cmocka_unit_test(webhook_url_is_http_only),
        cmocka_unit_test(message_is_slack_blocks_with_escaped_text),
        cmocka_unit_test(mrkdwn_cuts_on_a_character_boundary),
        cmocka_unit_test(webhook_post_sends_json_and_needs_a_2xx),
        cmocka_unit_test(api_post_sends_the_token_and_returns_status_and_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
