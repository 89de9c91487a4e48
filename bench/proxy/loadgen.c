/* bench/proxy/loadgen: HTTP/1.1 keep-alive load generator for bench/proxy.sh.
 * Sends JSON-RPC tools/call POSTs and records every request's latency, so
 * p50/p99/p99.9 are exact (sorted samples, nearest rank), not histogram
 * estimates.
 *
 *   loadgen --url http://127.0.0.1:PORT/PATH [-c CONNS] [-t THREADS] [-d SECS]
 *           [-w WARMUP_SECS] [-r RATE] [-H 'Name: value' ...] [--init]
 *
 * Closed loop (default): CONNS connections over THREADS event loops, each
 * sends its next request as soon as the previous response is complete.
 * Fixed rate (-r RATE, requests/s over all threads): request i is due at
 * start + i/RATE and goes out on an idle connection at once; when none is
 * idle it waits, and its latency is then counted from the due time
 * (coordinated omission corrected). --init: each connection first sends
 * initialize and notifications/initialized and then carries the returned
 * Mcp-Session-Id (for stateful MCP servers). Responses may be JSON or SSE,
 * with Content-Length or chunked; a request counts as ok when the status is
 * 200 and the body has a "result" member.
 *
 * Prints one line: ok=N err=N secs=S rps=R p50_us=.. p99_us=.. p999_us=.. max_us=..
 * Exit status 1 when no request succeeded. 127.0.0.1 / IPv4 literals only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#define MAX_HDRS 16

static char g_host[64] = "127.0.0.1";
static int g_port = 80;
static char g_path[256] = "/";
static const char *g_hdrs[MAX_HDRS];
static int g_nhdrs;
static int g_conns = 16, g_threads = 1, g_init;
static double g_dur = 5, g_warm = 1, g_rate;
static uint64_t g_t_start, g_t_measure, g_t_end; /* ns, CLOCK_MONOTONIC */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct worker worker;

enum st { S_HEAD, S_BODY_CL, S_CHUNK_SIZE, S_CHUNK_DATA, S_TRAILER };
enum phase { P_INIT, P_INITED, P_LOAD };

typedef struct conn {
    worker *w;
    struct bufferevent *bev;
    enum st st;
    enum phase phase;
    int status;
    long remaining; /* body or chunk bytes still expected */
    int chunked, close_after, has_result, busy;
    uint64_t t0;
    uint64_t seq;
    char session[128];
} conn;

struct worker {
    int id;
    struct event_base *base;
    conn *conns;
    int nconns;
    uint64_t *lat; /* ns */
    size_t nlat, caplat;
    uint64_t ok, err, sent_total;
    /* fixed rate */
    double rate;
    uint64_t next_index;   /* next request index to become due */
    uint64_t backlog;      /* due but not sent */
    uint64_t backlog_head; /* index of the oldest unsent due request */
    struct event *tick;
    struct event *stop;
    char first_err[256];
};

static void conn_open(conn *c);
static void send_next(conn *c, uint64_t t0);

static void record(worker *w, conn *c, int good)
{
    uint64_t t = now_ns();
    if (c->t0 < g_t_measure || t > g_t_end)
        return;
    if (!good) {
        w->err++;
        return;
    }
    w->ok++;
    if (w->nlat == w->caplat) {
        w->caplat = w->caplat ? w->caplat * 2 : 65536;
        w->lat = realloc(w->lat, w->caplat * sizeof *w->lat);
        if (w->lat == NULL)
            abort();
    }
    w->lat[w->nlat++] = t - c->t0;
}

static void note_err(worker *w, const char *fmt, const char *s)
{
    if (w->first_err[0] == 0)
        snprintf(w->first_err, sizeof w->first_err, fmt, s);
}

/* Fixed-rate mode: picks up the oldest due request, if any, on a free conn. */
static void after_response(conn *c)
{
    worker *w = c->w;
    c->busy = 0;
    if (now_ns() >= g_t_end)
        return;
    if (w->rate <= 0) {
        send_next(c, now_ns());
        return;
    }
    if (w->backlog > 0) {
        uint64_t due = g_t_start + (uint64_t)((double)w->backlog_head * 1e9 / w->rate);
        w->backlog--;
        w->backlog_head++;
        send_next(c, due);
    }
}

static void finish_response(conn *c)
{
    worker *w = c->w;
    int good = c->status == 200 && c->has_result;
    if (c->phase == P_INIT) {
        if (!good) {
            note_err(w, "initialize failed: %s", "status or body");
            w->err++;
        }
        c->phase = P_INITED;
        /* notifications/initialized */
        c->seq++;
        send_next(c, now_ns());
        return;
    }
    if (c->phase == P_INITED) {
        c->phase = P_LOAD;
        c->busy = 0;
        if (c->close_after) {
            bufferevent_free(c->bev);
            conn_open(c);
            return;
        }
        after_response(c);
        return;
    }
    if (!good) {
        char buf[32];
        snprintf(buf, sizeof buf, "%d", c->status);
        note_err(w, c->status == 200 ? "200 without result" : "HTTP status %s", buf);
    }
    record(w, c, good);
    if (c->close_after) {
        bufferevent_free(c->bev);
        c->busy = 0;
        conn_open(c);
        return;
    }
    after_response(c);
}

static int parse_head(conn *c, const char *h, size_t len)
{
    c->status = 0;
    c->remaining = -1;
    c->chunked = 0;
    c->close_after = 0;
    c->has_result = 0;
    if (len < 12 || strncmp(h, "HTTP/1.", 7) != 0)
        return -1;
    c->status = atoi(h + 9);
    const char *p = memchr(h, '\n', len);
    const char *end = h + len;
    while (p && p + 1 < end) {
        const char *line = p + 1;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            break;
        size_t ll = (size_t)(eol - line);
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        const char *colon = memchr(line, ':', ll);
        if (colon) {
            size_t nl = (size_t)(colon - line);
            const char *v = colon + 1;
            while (v < line + ll && *v == ' ')
                v++;
            size_t vl = (size_t)(line + ll - v);
            if (nl == 14 && strncasecmp(line, "content-length", 14) == 0)
                c->remaining = atol(v);
            else if (nl == 17 && strncasecmp(line, "transfer-encoding", 17) == 0)
                c->chunked = memmem(v, vl, "chunked", 7) != NULL;
            else if (nl == 10 && strncasecmp(line, "connection", 10) == 0)
                c->close_after = vl >= 5 && strncasecmp(v, "close", 5) == 0;
            else if (nl == 14 && strncasecmp(line, "mcp-session-id", 14) == 0 &&
                     vl < sizeof c->session) {
                memcpy(c->session, v, vl);
                c->session[vl] = 0;
            }
        }
        p = eol;
    }
    return 0;
}

static void scan_body(conn *c, const char *data, size_t n)
{
    if (!c->has_result && memmem(data, n, "\"result\"", 8) != NULL)
        c->has_result = 1;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (c->st == S_HEAD) {
            struct evbuffer_ptr pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
            if (pos.pos < 0)
                return;
            size_t hl = (size_t)pos.pos + 4;
            const char *h = (const char *)evbuffer_pullup(in, (ev_ssize_t)hl);
            if (parse_head(c, h, hl) != 0) {
                note_err(c->w, "bad response head: %.40s", h);
                c->w->err++;
                bufferevent_free(c->bev);
                conn_open(c);
                return;
            }
            evbuffer_drain(in, hl);
            if (c->chunked)
                c->st = S_CHUNK_SIZE;
            else if (c->remaining >= 0)
                c->st = S_BODY_CL;
            else if (c->status == 202 || c->status == 204 || c->status == 304) {
                c->remaining = 0;
                c->st = S_BODY_CL;
            } else {
                note_err(c->w, "response without length (%s)", "read-until-close unsupported");
                c->w->err++;
                bufferevent_free(c->bev);
                conn_open(c);
                return;
            }
        } else if (c->st == S_BODY_CL) {
            if (avail < (size_t)c->remaining)
                return;
            if (c->remaining > 0) {
                const char *b = (const char *)evbuffer_pullup(in, c->remaining);
                scan_body(c, b, (size_t)c->remaining);
                evbuffer_drain(in, (size_t)c->remaining);
            }
            c->st = S_HEAD;
            finish_response(c);
            if (c->busy == 0 || c->st != S_HEAD || c->bev != bev)
                return; /* reopened or idle */
        } else if (c->st == S_CHUNK_SIZE) {
            size_t ll;
            char *line = evbuffer_readln(in, &ll, EVBUFFER_EOL_CRLF);
            if (line == NULL)
                return;
            c->remaining = strtol(line, NULL, 16);
            free(line);
            c->st = c->remaining == 0 ? S_TRAILER : S_CHUNK_DATA;
        } else if (c->st == S_CHUNK_DATA) {
            if (avail < (size_t)c->remaining + 2)
                return;
            const char *b = (const char *)evbuffer_pullup(in, c->remaining + 2);
            scan_body(c, b, (size_t)c->remaining);
            evbuffer_drain(in, (size_t)c->remaining + 2);
            c->st = S_CHUNK_SIZE;
        } else { /* S_TRAILER */
            size_t ll;
            char *line = evbuffer_readln(in, &ll, EVBUFFER_EOL_CRLF);
            if (line == NULL)
                return;
            free(line);
            if (ll == 0) {
                c->st = S_HEAD;
                finish_response(c);
                if (c->busy == 0 || c->bev != bev)
                    return;
            }
        }
    }
}

static void reopen_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_open(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (g_init && c->phase == P_INIT) {
            send_next(c, now_ns());
        } else if (c->w->rate <= 0) {
            if (now_ns() < g_t_end)
                send_next(c, now_ns());
        } else {
            after_response(c);
        }
        return;
    }
    /* error or EOF */
    worker *w = c->w;
    if (c->busy) {
        note_err(w, "connection closed or failed: %s",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        if (c->t0 >= g_t_measure && now_ns() <= g_t_end)
            w->err++;
    }
    bufferevent_free(c->bev);
    c->bev = NULL;
    c->busy = 0;
    if (now_ns() < g_t_end) {
        /* back off a little to avoid spinning against a refusing server */
        struct timeval tv = {0, 10000};
        event_base_once(w->base, -1, EV_TIMEOUT, reopen_cb,
                        c, &tv);
    }
}

static void conn_open(conn *c)
{
    c->bev = NULL;
    if (now_ns() >= g_t_end)
        return;
    c->bev = bufferevent_socket_new(c->w->base, -1, BEV_OPT_CLOSE_ON_FREE);
    c->st = S_HEAD;
    c->busy = 0;
    if (g_init && c->session[0] == 0)
        c->phase = P_INIT;
    bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    inet_pton(AF_INET, g_host, &sin.sin_addr);
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof sin) < 0) {
        bufferevent_free(c->bev);
        c->bev = NULL;
    }
}

static void send_next(conn *c, uint64_t t0)
{
    char body[512];
    int bl;
    c->seq++;
    if (c->phase == P_INIT)
        bl = snprintf(body, sizeof body,
                      "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":\"initialize\",\"params\":{"
                      "\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{"
                      "\"name\":\"mcptrail-bench\",\"version\":\"1\"}}}",
                      (unsigned long long)c->seq);
    else if (c->phase == P_INITED)
        bl = snprintf(body, sizeof body,
                      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
    else
        bl = snprintf(body, sizeof body,
                      "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":\"tools/call\",\"params\":{"
                      "\"name\":\"echo\",\"arguments\":{\"message\":\"hello from "
                      "mcptrail-bench\"}}}",
                      (unsigned long long)c->seq);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add_printf(out,
                        "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                        "Accept: application/json, text/event-stream\r\n"
                        "MCP-Protocol-Version: 2025-06-18\r\nContent-Length: %d\r\n",
                        g_path, g_host, g_port, bl);
    if (c->session[0])
        evbuffer_add_printf(out, "Mcp-Session-Id: %s\r\n", c->session);
    for (int i = 0; i < g_nhdrs; i++)
        evbuffer_add_printf(out, "%s\r\n", g_hdrs[i]);
    evbuffer_add(out, "\r\n", 2);
    evbuffer_add(out, body, (size_t)bl);
    c->busy = 1;
    c->t0 = t0;
    c->w->sent_total++;
}

static conn *idle_conn(worker *w)
{
    for (int i = 0; i < w->nconns; i++) {
        conn *c = &w->conns[i];
        if (c->bev && !c->busy && c->phase == P_LOAD &&
            (bufferevent_get_enabled(c->bev) & EV_READ) && c->st == S_HEAD)
            return c;
    }
    return NULL;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    worker *w = arg;
    uint64_t t = now_ns();
    if (t >= g_t_end)
        return;
    /* requests that became due since the last tick */
    while (g_t_start + (uint64_t)((double)w->next_index * 1e9 / w->rate) <= t) {
        w->next_index++;
        w->backlog++;
    }
    conn *c;
    while (w->backlog > 0 && (c = idle_conn(w)) != NULL) {
        uint64_t due = g_t_start + (uint64_t)((double)w->backlog_head * 1e9 / w->rate);
        w->backlog--;
        w->backlog_head++;
        /* sent on the tick that found it due: the tick's lateness is the
         * generator's, not the system's; count from now. Requests that had to
         * wait for a connection (older than one interval) count from due. */
        send_next(c, (t - due) > (uint64_t)(1e9 / w->rate) ? due : t);
    }
    uint64_t next = g_t_start + (uint64_t)((double)w->next_index * 1e9 / w->rate);
    uint64_t wait = next > t ? next - t : 0;
    struct timeval tv = {(time_t)(wait / 1000000000u), (suseconds_t)((wait % 1000000000u) / 1000)};
    evtimer_add(w->tick, &tv);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(((worker *)arg)->base);
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int parse_url(const char *url)
{
    const char *p = url;
    if (strncmp(p, "http://", 7) != 0)
        return -1;
    p += 7;
    const char *colon = strchr(p, ':');
    const char *slash = strchr(p, '/');
    if (colon == NULL || (slash && slash < colon) || (size_t)(colon - p) >= sizeof g_host)
        return -1;
    memcpy(g_host, p, (size_t)(colon - p));
    g_host[colon - p] = 0;
    g_port = atoi(colon + 1);
    snprintf(g_path, sizeof g_path, "%s", slash ? slash : "/");
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--url") == 0 && v)
            url = argv[++i];
        else if (strcmp(a, "-c") == 0 && v)
            g_conns = atoi(argv[++i]);
        else if (strcmp(a, "-t") == 0 && v)
            g_threads = atoi(argv[++i]);
        else if (strcmp(a, "-d") == 0 && v)
            g_dur = atof(argv[++i]);
        else if (strcmp(a, "-w") == 0 && v)
            g_warm = atof(argv[++i]);
        else if (strcmp(a, "-r") == 0 && v)
            g_rate = atof(argv[++i]);
        else if (strcmp(a, "-H") == 0 && v && g_nhdrs < MAX_HDRS)
            g_hdrs[g_nhdrs++] = argv[++i];
        else if (strcmp(a, "--init") == 0)
            g_init = 1;
        else {
            fprintf(stderr, "usage: loadgen --url http://127.0.0.1:PORT/PATH [-c CONNS] [-t "
                            "THREADS] [-d SECS] [-w WARMUP] [-r RATE] [-H 'K: V'] [--init]\n");
            return 2;
        }
    }
    if (url == NULL || parse_url(url) != 0) {
        fprintf(stderr, "loadgen: --url http://IPV4:PORT/PATH required\n");
        return 2;
    }
    if (g_threads < 1)
        g_threads = 1;
    if (g_conns < g_threads)
        g_conns = g_threads;
    signal(SIGPIPE, SIG_IGN);

    worker *ws = calloc((size_t)g_threads, sizeof *ws);
    g_t_start = now_ns() + 50000000u; /* 50 ms to connect (and initialize) first */
    if (g_init)
        g_t_start += 450000000u;
    g_t_measure = g_t_start + (uint64_t)(g_warm * 1e9);
    g_t_end = g_t_measure + (uint64_t)(g_dur * 1e9);
    for (int i = 0; i < g_threads; i++) {
        worker *w = &ws[i];
        w->id = i;
        struct event_config *cfg = event_config_new();
        event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
        w->base = event_base_new_with_config(cfg);
        event_config_free(cfg);
        w->nconns = g_conns / g_threads + (i < g_conns % g_threads);
        w->conns = calloc((size_t)w->nconns, sizeof *w->conns);
        w->rate = g_rate / g_threads;
        for (int k = 0; k < w->nconns; k++) {
            w->conns[k].w = w;
            w->conns[k].phase = P_LOAD;
            w->conns[k].seq = (uint64_t)i << 40 | (uint64_t)k << 28;
        }
        w->stop = evtimer_new(w->base, on_stop, w);
        uint64_t left = g_t_end - now_ns() + 20000000u;
        struct timeval tv = {(time_t)(left / 1000000000u), (suseconds_t)(left % 1000000000u / 1000)};
        evtimer_add(w->stop, &tv);
        if (w->rate > 0) {
            w->tick = evtimer_new(w->base, on_tick, w);
            uint64_t wait = g_t_start - now_ns();
            struct timeval tt = {(time_t)(wait / 1000000000u),
                                 (suseconds_t)(wait % 1000000000u / 1000)};
            evtimer_add(w->tick, &tt);
        }
    }
    /* Closed loop starts sending as soon as each connection is up; requests
     * before g_t_measure are warm-up. */
    for (int i = 0; i < g_threads; i++)
        for (int k = 0; k < ws[i].nconns; k++)
            conn_open(&ws[i].conns[k]);
    pthread_t *th = calloc((size_t)g_threads, sizeof *th);
    for (int i = 0; i < g_threads; i++)
        pthread_create(&th[i], NULL, run_worker, &ws[i]);
    uint64_t ok = 0, err = 0;
    size_t n = 0;
    for (int i = 0; i < g_threads; i++) {
        pthread_join(th[i], NULL);
        ok += ws[i].ok;
        err += ws[i].err;
        n += ws[i].nlat;
        if (ws[i].first_err[0])
            fprintf(stderr, "loadgen: first error (thread %d): %s\n", i, ws[i].first_err);
    }
    uint64_t *all = malloc((n ? n : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < g_threads; i++) {
        memcpy(all + k, ws[i].lat, ws[i].nlat * sizeof *all);
        k += ws[i].nlat;
    }
    qsort(all, n, sizeof *all, cmp_u64);
#define PCT(p) (n ? all[(size_t)((double)(n - 1) * (p) + 0.5)] / 1000.0 : 0.0)
    printf("ok=%llu err=%llu secs=%.2f rps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f "
           "max_us=%.1f\n",
           (unsigned long long)ok, (unsigned long long)err, g_dur, (double)ok / g_dur, PCT(0.5),
           PCT(0.99), PCT(0.999), n ? all[n - 1] / 1000.0 : 0.0);
    return ok > 0 ? 0 : 1;
}
