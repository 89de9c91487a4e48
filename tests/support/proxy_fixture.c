/* In-process proxy fixture for tests (see proxy_fixture.h). */
#include "proxy_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "mcptrail/log.h"

enum { MAX_ARGS = 32, REQUEST_SECONDS = 10 };

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_pfx *f = arg;
    f->timed_out = true;
    f->status = -1;
    event_base_loopbreak(f->base);
}

mt_err mt_pfx_init(mt_pfx *f, void (*on_upstream)(struct evhttp_request *, void *), void *arg,
                   mt_errbuf *eb)
{
    mt_log_set_level(MT_LOG_ERROR);
    f->base = event_base_new();
    if (!f->base)
        return mt_fail(eb, MT_ERR_NOMEM, "fixture: event_base_new failed");
    f->deadline = evtimer_new(f->base, on_deadline, f);
    f->up = evhttp_new(f->base);
    if (!f->deadline || !f->up)
        return mt_fail(eb, MT_ERR_NOMEM, "fixture: no memory for the timer or the upstream");
    evhttp_set_gencb(f->up, on_upstream, arg);
    struct evhttp_bound_socket *b = evhttp_bind_socket_with_handle(f->up, "127.0.0.1", 0);
    if (!b)
        return mt_fail(eb, MT_ERR_IO, "fixture: upstream stub cannot bind 127.0.0.1:0");
    struct sockaddr_in sin;
    socklen_t sl = sizeof sin;
    if (getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&sin, &sl) != 0)
        return mt_fail(eb, MT_ERR_IO, "fixture: getsockname of the upstream stub failed");
    f->up_port = ntohs(sin.sin_port);
    return MT_OK;
}

mt_err mt_pfx_start(mt_pfx *f, const char *argv0, const char *const *extra, size_t nextra,
                    mt_errbuf *eb)
{
    char upport[32];
    snprintf(upport, sizeof upport, "--upstream.port=%u", (unsigned)f->up_port);
    const char *argv[MAX_ARGS] = {argv0, "--listen.port=0", upport};
    size_t argc = 3;
    if (nextra > MAX_ARGS - argc)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "fixture: %zu options, at most %zu", nextra,
                       MAX_ARGS - argc);
    for (size_t i = 0; i < nextra; i++)
        argv[argc++] = extra[i];
    char *envp[] = {NULL};
    mt_err err = mt_cfg_load(&mt_sidecar_spec, &f->cfg, (int)argc, (char *const *)argv, envp,
                             NULL, eb);
    if (!err)
        err = mt_sidecar_config_finish(&f->cfg, eb);
    if (!err)
        err = mt_proxy_new(f->base, &f->cfg, &f->metrics, &f->proxy, eb);
    return err;
}

mt_err mt_pfx_record(mt_pfx *f, mt_rec_mode mode, int delivery_timeout_ms, const char *spool_dir,
                     mt_errbuf *eb)
{
    static const uint8_t hmac_key[] = "proxy-fixture-hmac-key";
    static const mt_kafka_prop quiet[] = {{"log_level", "0"}};
    mt_err err = mt_mock_kafka_start(&f->kafka, 1, MT_PFX_TOPIC, 1, eb);
    if (err)
        return err;
    mt_recorder_config rc = {
        .kafka = {.bootstrap = f->kafka.bootstrap, .props = quiet, .nprops = 1},
        .topic = MT_PFX_TOPIC,
        .mode = mode,
        .delivery_timeout_ms = delivery_timeout_ms,
        .spool_dir = spool_dir,
        .hmac_key = hmac_key,
        .hmac_key_len = sizeof hmac_key - 1,
    };
    err = mt_recorder_new(&rc, f->base, &f->rec, eb);
    if (err) {
        mt_mock_kafka_stop(&f->kafka);
        return err;
    }
    mt_proxy_set_recorder(f->proxy, f->rec);
    return MT_OK;
}

void mt_pfx_unrecord(mt_pfx *f)
{
    if (!f->rec)
        return;
    mt_proxy_set_recorder(f->proxy, NULL);
    mt_recorder_free(f->rec);
    f->rec = NULL;
    mt_mock_kafka_stop(&f->kafka);
}

mt_err mt_pfx_run(mt_pfx *f, int seconds)
{
    struct timeval tv = {seconds, 0};
    f->timed_out = false;
    evtimer_add(f->deadline, &tv);
    event_base_dispatch(f->base);
    evtimer_del(f->deadline);
    return f->timed_out ? MT_ERR_TIMEOUT : MT_OK;
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
    mt_pfx *f = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *grown = realloc(f->body, f->body_len + n + 1);
    if (!grown)
        abort(); /* a test client out of memory has nothing better to do */
    f->body = grown;
    evbuffer_remove(in, f->body + f->body_len, n);
    f->body_len += n;
    f->body[f->body_len] = '\0';
    f->chunks++;
}

void mt_pfx_on_response(struct evhttp_request *req, void *arg)
{
    mt_pfx *f = arg;
    f->status = req ? evhttp_request_get_response_code(req) : 0;
    if (req) {
        struct evkeyvalq *h = evhttp_request_get_input_headers(req);
        const char *w = evhttp_find_header(h, "WWW-Authenticate");
        const char *ct = evhttp_find_header(h, "Content-Type");
        snprintf(f->www_auth, sizeof f->www_auth, "%s", w ? w : "");
        snprintf(f->content_type, sizeof f->content_type, "%s", ct ? ct : "");
        on_chunk(req, arg); /* whatever was not delivered in chunks */
    }
    event_base_loopbreak(f->base);
}

mt_err mt_pfx_request(mt_pfx *f, const mt_pfx_req *r, mt_errbuf *eb)
{
    free(f->body);
    f->body = NULL;
    f->body_len = 0;
    f->chunks = 0;
    f->status = -2;
    f->www_auth[0] = f->content_type[0] = '\0';
    uint16_t port = r->port ? r->port : mt_proxy_port(f->proxy);
    struct evhttp_connection *c = evhttp_connection_base_new(f->base, NULL, "127.0.0.1", port);
    if (!c)
        return mt_fail(eb, MT_ERR_IO, "fixture: no connection to 127.0.0.1:%u", (unsigned)port);
    struct evhttp_request *req = evhttp_request_new(mt_pfx_on_response, f);
    evhttp_request_set_chunked_cb(req, on_chunk);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", r->host ? r->host : "localhost");
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Accept", "application/json, text/event-stream");
    if (r->authz)
        evhttp_add_header(h, "Authorization", r->authz);
    for (size_t i = 0; r->hdrs && r->hdrs[i]; i += 2)
        evhttp_add_header(h, r->hdrs[i], r->hdrs[i + 1]);
    if (r->body)
        evbuffer_add(evhttp_request_get_output_buffer(req), r->body, r->body_len);
    const char *path = r->path ? r->path : "/mcp";
    if (evhttp_make_request(c, req, r->cmd ? r->cmd : EVHTTP_REQ_POST, path) != 0) {
        evhttp_connection_free(c);
        return mt_fail(eb, MT_ERR_IO, "fixture: cannot send the request for %s", path);
    }
    mt_err err = mt_pfx_run(f, REQUEST_SECONDS);
    evhttp_connection_free(c);
    if (err)
        return mt_fail(eb, err, "fixture: no response to %s within %d s", path,
                       REQUEST_SECONDS);
    return MT_OK;
}

mt_err mt_pfx_events_until(mt_pfx *f, const char *kind, int timeout_ms, json_t **events,
                           mt_errbuf *eb)
{
    if (!f->rec)
        return mt_fail(eb, MT_ERR_STATE, "fixture: no recorder (call mt_pfx_record first)");
    return mt_mock_kafka_read_events(&f->kafka, kind, timeout_ms, events, eb);
}

void mt_pfx_fini(mt_pfx *f)
{
    if (f->rec)
        mt_proxy_set_recorder(f->proxy, NULL);
    mt_proxy_free(f->proxy);
    mt_recorder_free(f->rec);
    f->rec = NULL;
    if (f->up)
        evhttp_free(f->up);
    if (f->deadline)
        event_free(f->deadline);
    /* let deferred cleanups (freed upstream connections) run */
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    event_base_free(f->base);
    mt_mock_kafka_stop(&f->kafka);
    mt_cfg_free(&mt_sidecar_spec, &f->cfg);
    free(f->body);
    f->body = NULL;
}
