/* A stdio MCP server process; see child.h. */
#define _GNU_SOURCE
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "mcptrail/log.h"

#define STDERR_LINE_MAX 4096
#define DRAIN_AFTER_EXIT_MS 2000 /* stdout held open by an orphan after the exit */

struct mt_child {
    struct event_base *base;
    mt_child_cbs cbs;
    void *arg;
    const char *log_name;
    size_t max_line, max_buffered;
    size_t out_scanned;    /* stdout bytes already searched for a newline */
    int64_t grace_ms;
    pid_t pid;
    int pidfd;
    struct event *pid_ev;
    struct bufferevent *in, *out, *err;
    struct event *timer;   /* stop: SIGTERM, then SIGKILL; after exit: stdout drain bound */
    int stop_stage;        /* 0 running, 1 stdin closing/closed, 2 TERM sent, 3 KILL sent */
    bool reaped, out_eof, exit_reported, discard_out, err_skip;
    int wait_status;
    const char *protocol;
};

static void child_log(mt_child *c, mt_log_level lvl, const char *msg, const char *k,
                      const char *v)
{
    char pid[24];
    snprintf(pid, sizeof pid, "%d", (int)c->pid);
    mt_logs(lvl, c->log_name, msg, "pid", pid, k, v, NULL);
}

void mt_child_describe_exit(const mt_child_exit *ex, char *out, size_t outlen)
{
    if (ex->exited)
        snprintf(out, outlen, "exited with status %d%s%s", ex->code,
                 ex->protocol ? " after " : "", ex->protocol ? ex->protocol : "");
    else
        snprintf(out, outlen, "killed by signal %d (%s)%s%s", ex->signal, strsignal(ex->signal),
                 ex->protocol ? " after " : "", ex->protocol ? ex->protocol : "");
}

static void maybe_report_exit(mt_child *c)
{
    if (c->exit_reported || !c->reaped || !c->out_eof)
        return;
    c->exit_reported = true;
    if (c->timer)
        event_del(c->timer);
    mt_child_exit ex = {.wait_status = c->wait_status, .protocol = c->protocol};
    ex.exited = WIFEXITED(c->wait_status);
    ex.code = ex.exited ? WEXITSTATUS(c->wait_status) : 0;
    ex.signal = WIFSIGNALED(c->wait_status) ? WTERMSIG(c->wait_status) : 0;
    if (c->cbs.on_exit)
        c->cbs.on_exit(c->arg, &ex);
}

static void close_stdin(mt_child *c)
{
    if (c->in) {
        bufferevent_free(c->in); /* BEV_OPT_CLOSE_ON_FREE: the pipe closes */
        c->in = NULL;
    }
}

static void arm_timer(mt_child *c, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    event_add(c->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_child *c = arg;
    if (c->reaped) {
        /* exited, but something of its group still holds stdout open */
        c->out_eof = true;
        if (c->out)
            bufferevent_disable(c->out, EV_READ);
        maybe_report_exit(c);
        return;
    }
    if (c->stop_stage <= 1) {
        c->stop_stage = 2;
        child_log(c, MT_LOG_WARN, "server did not exit after stdin closed; SIGTERM", NULL, NULL);
        kill(-c->pid, SIGTERM);
        arm_timer(c, c->grace_ms);
    } else if (c->stop_stage == 2) {
        c->stop_stage = 3;
        child_log(c, MT_LOG_WARN, "server did not exit after SIGTERM; SIGKILL", NULL, NULL);
        kill(-c->pid, SIGKILL);
    }
}

/* Reaps the process if it exited; what is left of its group (an orphaned
 * grandchild) is killed then. true: reaped. */
static bool try_reap(mt_child *c)
{
    if (c->reaped || c->pid <= 0)
        return true;
    int st = 0;
    pid_t r = waitpid(c->pid, &st, WNOHANG);
    if (r == c->pid || (r < 0 && errno == ECHILD)) {
        c->reaped = true;
        c->wait_status = st;
        kill(-c->pid, SIGKILL);
    }
    return c->reaped;
}

static void on_pidfd(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mt_child *c = arg;
    if (!try_reap(c))
        return; /* not yet (spurious wake-up) */
    event_del(c->pid_ev);
    close_stdin(c);
    /* what it wrote before exiting is read to the end, back-pressure or not */
    if (c->out && !c->out_eof)
        bufferevent_enable(c->out, EV_READ);
    if (!c->out_eof) {
        event_del(c->timer);
        arm_timer(c, DRAIN_AFTER_EXIT_MS);
    }
    maybe_report_exit(c);
}

int mt_line_take(struct evbuffer *in, size_t max_line, size_t *scanned, char **line,
                 size_t *len)
{
    for (;;) {
        /* the bytes before *scanned hold no LF: only new ones are searched */
        struct evbuffer_ptr from;
        size_t have = evbuffer_get_length(in);
        if (*scanned > have)
            *scanned = 0;
        if (evbuffer_ptr_set(in, &from, *scanned, EVBUFFER_PTR_SET) != 0)
            return -2;
        struct evbuffer_ptr eol = evbuffer_search_eol(in, &from, NULL, EVBUFFER_EOL_LF);
        if (eol.pos < 0) {
            *scanned = have;
            return have > max_line ? -1 : 0;
        }
        *scanned = 0;
        size_t n = (size_t)eol.pos;
        if (n > max_line)
            return -1;
        char *l = malloc(n + 1);
        if (!l) {
            evbuffer_drain(in, n + 1);
            return -2;
        }
        evbuffer_remove(in, l, n);
        evbuffer_drain(in, 1);
        if (n && l[n - 1] == '\r')
            n--;
        l[n] = '\0';
        if (n == 0) { /* empty lines carry no message */
            free(l);
            continue;
        }
        *line = l;
        *len = n;
        return 1;
    }
}

static void on_out_read(struct bufferevent *bev, void *arg)
{
    mt_child *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    int r = 0;
    while (!c->discard_out) {
        char *line;
        size_t n;
        if ((r = mt_line_take(in, c->max_line, &c->out_scanned, &line, &n)) <= 0) {
            if (r == -2) {
                child_log(c, MT_LOG_ERROR, "out of memory reading the server's stdout", NULL,
                          NULL);
                continue;
            }
            break;
        }
        if (c->cbs.on_line)
            c->cbs.on_line(c->arg, line, n);
        free(line);
    }
    if (!c->discard_out && r == -1) {
        char lim[32];
        snprintf(lim, sizeof lim, "%zu", c->max_line);
        child_log(c, MT_LOG_ERROR, "server wrote a stdout line longer than the limit; stopping it",
                  "max_line_bytes", lim);
        c->discard_out = true;
        mt_child_stop(c, "a stdout line longer than upstream.max_line_bytes");
    }
    if (c->discard_out) /* keep reading so the server is not blocked writing */
        evbuffer_drain(in, evbuffer_get_length(in));
}

static void on_out_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    mt_child *c = arg;
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
        return;
    on_out_read(c->out, c); /* a last line without newline is not a message */
    c->out_eof = true;
    if (!c->reaped && c->stop_stage == 0) {
        child_log(c, MT_LOG_WARN, "server closed its stdout; stopping it", NULL, NULL);
        mt_child_stop(c, "closing its stdout");
    }
    maybe_report_exit(c);
}

static void log_stderr_line(mt_child *c, const char *s, size_t n)
{
    char *line = strndup(s, n);
    if (line) {
        child_log(c, MT_LOG_WARN, "server stderr", "line", line);
        free(line);
    }
}

static void on_err_read(struct bufferevent *bev, void *arg)
{
    mt_child *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
        size_t len = evbuffer_get_length(in);
        if (eol.pos < 0) {
            if (len < STDERR_LINE_MAX)
                return;
            /* an endless line: its first 4 KiB are logged, the rest skipped */
            if (!c->err_skip)
                log_stderr_line(c, (const char *)evbuffer_pullup(in, STDERR_LINE_MAX),
                                STDERR_LINE_MAX);
            c->err_skip = true;
            evbuffer_drain(in, len);
            return;
        }
        size_t n = (size_t)eol.pos;
        if (!c->err_skip) {
            size_t keep = n > STDERR_LINE_MAX ? STDERR_LINE_MAX : n;
            const char *d = (const char *)evbuffer_pullup(in, (ev_ssize_t)keep);
            if (keep && d[keep - 1] == '\r')
                keep--;
            if (keep)
                log_stderr_line(c, d, keep);
        }
        c->err_skip = false;
        evbuffer_drain(in, n + 1);
    }
}

static void on_err_event(struct bufferevent *bev, short what, void *arg)
{
    mt_child *c = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_disable(bev, EV_READ);
    (void)c;
}

static void on_in_drained(struct bufferevent *bev, void *arg)
{
    (void)bev;
    mt_child *c = arg;
    if (c->stop_stage >= 1)
        close_stdin(c);
}

static void on_in_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    mt_child *c = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        /* EPIPE: the server closed its stdin (or exited) */
        close_stdin(c);
        if (!c->reaped && c->stop_stage == 0) {
            child_log(c, MT_LOG_WARN, "server closed its stdin; stopping it", NULL, NULL);
            mt_child_stop(c, "closing its stdin");
        }
    }
}

/* NAME=value items of the child's environment (see child.h). */
extern char **environ;

/* Whether env (NAME=value items) sets name. */
static bool env_sets(const mt_strlist *env, const char *name, size_t nl)
{
    for (size_t j = 0; env && j < env->n; j++)
        if (strncmp(env->items[j], name, nl) == 0 && env->items[j][nl] == '=')
            return true;
    return false;
}

static char **build_env(const mt_child_spec *spec)
{
    size_t na = spec->env_allow ? spec->env_allow->n : 0, ne = spec->env ? spec->env->n : 0;
    size_t ni = 0;
    for (char **e = environ; spec->inherit_env && e && *e; e++)
        ni++;
    char **envp = calloc(na + ne + ni + 1, sizeof *envp);
    if (!envp)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (!(envp[k++] = strdup(spec->env->items[i])))
            goto fail;
    /* everything but mcptrail's own settings (and what env sets) */
    for (char **e = environ; spec->inherit_env && e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || strncmp(*e, "MCPTRAIL_", 9) == 0 || env_sets(spec->env, *e, (size_t)(eq - *e)))
            continue;
        if (!(envp[k++] = strdup(*e)))
            goto fail;
    }
    if (spec->inherit_env)
        return envp;
    for (size_t i = 0; i < na; i++) {
        const char *name = spec->env_allow->items[i];
        const char *v = getenv(name);
        if (!v || env_sets(spec->env, name, strlen(name)))
            continue;
        if (asprintf(&envp[k], "%s=%s", name, v) < 0) {
            envp[k] = NULL;
            goto fail;
        }
        k++;
    }
    return envp;
fail:
    for (size_t i = 0; envp[i]; i++)
        free(envp[i]);
    free(envp);
    return NULL;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* In the child between fork and exec: async-signal-safe calls only. */
static void exec_child(int in_r, int out_w, int err_w, int report_w, pid_t parent,
                       const char *cwd, char **argv, char **envp)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &dfl, NULL);
    int e = 0;
    if (dup2(in_r, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0)
        e = errno;
    if (!e && cwd && chdir(cwd) != 0)
        e = errno;
    for (int fd = 0; !e && fd < 3; fd++) /* dup2 onto itself keeps FD_CLOEXEC */
        if (fcntl(fd, F_SETFD, 0) != 0)
            e = errno;
    if (!e) {
        /* every other fd closes on exec (report_w is CLOEXEC already); before
         * Linux 5.11 close_range cannot do that: mark them one by one */
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
            long max = sysconf(_SC_OPEN_MAX);
            for (long fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
                (void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
        }
        execvpe(argv[0], argv, envp);
        e = errno;
    }
    (void)!write(report_w, &e, sizeof e);
    _exit(127);
}

static mt_err set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 ? MT_OK : MT_ERR_IO;
}

mt_err mt_child_start(struct event_base *base, const mt_child_spec *spec,
                      const mt_child_cbs *cbs, void *arg, mt_child **out, mt_errbuf *eb)
{
    if (!spec->argv || spec->argv->n == 0)
        return mt_fail(eb, MT_ERR_CONFIG, "no command to start");
    int p_in[2] = {-1, -1}, p_out[2] = {-1, -1}, p_err[2] = {-1, -1}, p_rep[2] = {-1, -1};
    char **argv = calloc(spec->argv->n + 1, sizeof *argv);
    char **envp = build_env(spec);
    mt_child *c = calloc(1, sizeof *c);
    mt_err err = MT_OK;
    if (!argv || !envp || !c) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < spec->argv->n; i++)
        argv[i] = spec->argv->items[i];
    c->base = base;
    c->cbs = *cbs;
    c->arg = arg;
    c->log_name = spec->log_name ? spec->log_name : "stdio";
    c->max_line = spec->max_line ? spec->max_line : (size_t)16 << 20;
    c->max_buffered = spec->max_buffered ? spec->max_buffered : (size_t)32 << 20;
    c->grace_ms = spec->stop_grace_ms;
    c->pidfd = -1;
    if (pipe2(p_in, O_CLOEXEC) || pipe2(p_out, O_CLOEXEC) || pipe2(p_err, O_CLOEXEC) ||
        pipe2(p_rep, O_CLOEXEC)) {
        err = mt_fail(eb, MT_ERR_IO, "pipe: %s", strerror(errno));
        goto fail;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        err = mt_fail(eb, MT_ERR_IO, "fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0)
        exec_child(p_in[0], p_out[1], p_err[1], p_rep[1], parent, spec->cwd, argv, envp);
    setpgid(pid, pid); /* also done by the child: whichever runs first */
    c->pid = pid;
    close(p_in[0]);
    close(p_out[1]);
    close(p_err[1]);
    close(p_rep[1]);
    p_in[0] = p_out[1] = p_err[1] = p_rep[1] = -1;
    int child_errno = 0;
    ssize_t r;
    do
        r = read(p_rep[0], &child_errno, sizeof child_errno);
    while (r < 0 && errno == EINTR);
    close(p_rep[0]);
    p_rep[0] = -1;
    if (r == (ssize_t)sizeof child_errno) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        err = mt_fail(eb, MT_ERR_CONFIG, "cannot start '%s': %s", argv[0], strerror(child_errno));
        c->pid = 0;
        goto fail;
    }
    c->pidfd = pidfd_open(pid, 0);
    if (c->pidfd < 0 || set_nonblock(p_in[1]) || set_nonblock(p_out[0]) ||
        set_nonblock(p_err[0])) {
        err = mt_fail(eb, MT_ERR_IO, "pidfd_open/fcntl: %s", strerror(errno));
        goto fail;
    }
    c->in = bufferevent_socket_new(base, p_in[1], BEV_OPT_CLOSE_ON_FREE);
    if (c->in)
        p_in[1] = -1;
    c->out = bufferevent_socket_new(base, p_out[0], BEV_OPT_CLOSE_ON_FREE);
    if (c->out)
        p_out[0] = -1;
    c->err = bufferevent_socket_new(base, p_err[0], BEV_OPT_CLOSE_ON_FREE);
    if (c->err)
        p_err[0] = -1;
    c->pid_ev = event_new(base, c->pidfd, EV_READ | EV_PERSIST, on_pidfd, c);
    c->timer = evtimer_new(base, on_timer, c);
    if (!c->in || !c->out || !c->err || !c->pid_ev || !c->timer) {
        err = mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    bufferevent_setcb(c->in, NULL, on_in_drained, on_in_event, c);
    bufferevent_setcb(c->out, on_out_read, NULL, on_out_event, c);
    bufferevent_setcb(c->err, on_err_read, NULL, on_err_event, c);
    bufferevent_enable(c->in, EV_WRITE);
    bufferevent_enable(c->out, EV_READ);
    bufferevent_enable(c->err, EV_READ);
    event_add(c->pid_ev, NULL);
    free(argv);
    free_strv(envp);
    child_log(c, MT_LOG_INFO, "server started", "command", spec->argv->items[0]);
    *out = c;
    return MT_OK;

fail:
    for (int i = 0; i < 2; i++) {
        if (p_in[i] >= 0)
            close(p_in[i]);
        if (p_out[i] >= 0)
            close(p_out[i]);
        if (p_err[i] >= 0)
            close(p_err[i]);
        if (p_rep[i] >= 0)
            close(p_rep[i]);
    }
    free(argv);
    free_strv(envp);
    mt_child_free(c);
    return err;
}

mt_err mt_child_send(mt_child *c, const void *msg, size_t len)
{
    if (!c->in || c->stop_stage > 0 || c->reaped)
        return MT_ERR_STATE;
    struct evbuffer *o = bufferevent_get_output(c->in);
    if (evbuffer_get_length(o) + len + 1 > c->max_buffered)
        return MT_ERR_TOO_LARGE;
    if (evbuffer_add(o, msg, len) != 0 || evbuffer_add(o, "\n", 1) != 0)
        return MT_ERR_NOMEM;
    return MT_OK;
}

void mt_child_stop(mt_child *c, const char *why)
{
    if (!c || c->reaped || c->stop_stage > 0)
        return;
    if (why && !c->protocol)
        c->protocol = why;
    c->stop_stage = 1;
    if (c->in && evbuffer_get_length(bufferevent_get_output(c->in)) == 0)
        close_stdin(c);
    arm_timer(c, c->grace_ms);
}

void mt_child_free(mt_child *c)
{
    if (!c)
        return;
    if (c->pid > 0 && !c->reaped) {
        kill(-c->pid, SIGKILL);
        kill(c->pid, SIGKILL);
        /* SIGKILL is not delayed by the process: reap it (bounded wait) */
        for (int i = 0; i < 200; i++) {
            int st;
            pid_t r = waitpid(c->pid, &st, WNOHANG);
            if (r == c->pid || (r < 0 && errno != EINTR))
                break;
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    close_stdin(c);
    if (c->out)
        bufferevent_free(c->out);
    if (c->err)
        bufferevent_free(c->err);
    if (c->pid_ev)
        event_free(c->pid_ev);
    if (c->timer)
        event_free(c->timer);
    if (c->pidfd >= 0)
        close(c->pidfd);
    free(c);
}

void mt_child_pause(mt_child *c, bool paused)
{
    if (!c->out || c->out_eof || (paused && c->reaped)) /* after the exit: read to the end */
        return;
    if (paused)
        bufferevent_disable(c->out, EV_READ);
    else
        bufferevent_enable(c->out, EV_READ);
}

/* Waits up to ms for all of cs to be reaped; true when they are. */
static bool reap_all(mt_child **cs, size_t n, int64_t ms)
{
    for (int64_t waited = 0;; waited += 10) {
        bool all = true;
        for (size_t i = 0; i < n; i++)
            all = try_reap(cs[i]) && all;
        if (all || waited >= ms)
            return all;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void mt_child_shutdown(mt_child **cs, size_t n, int64_t grace_ms)
{
    for (size_t i = 0; i < n; i++) {
        if (cs[i]->in) /* what is queued gets one write: the pipe takes up to 64 KiB */
            (void)evbuffer_write(bufferevent_get_output(cs[i]->in),
                                 bufferevent_getfd(cs[i]->in));
        close_stdin(cs[i]);
    }
    if (reap_all(cs, n, grace_ms))
        return;
    for (size_t i = 0; i < n; i++)
        if (!cs[i]->reaped)
            kill(-cs[i]->pid, SIGTERM);
    if (reap_all(cs, n, grace_ms))
        return;
    for (size_t i = 0; i < n; i++)
        if (!cs[i]->reaped)
            kill(-cs[i]->pid, SIGKILL);
    (void)reap_all(cs, n, 1000);
}

bool mt_child_running(const mt_child *c)
{
    return c && !c->reaped && c->stop_stage == 0;
}

pid_t mt_child_pid(const mt_child *c)
{
    return c->pid;
}

size_t mt_child_buffered(const mt_child *c)
{
    return c->in ? evbuffer_get_length(bufferevent_get_output(c->in)) : 0;
}
