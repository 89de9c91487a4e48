/* A stdio MCP server process: started with a controlled environment,
 * spoken to in newline-delimited JSON-RPC (the MCP stdio transport), and
 * stopped cleanly. Used by the sidecar's stdio upstream (upstream_stdio.c)
 * and by mcptrail-wrap.
 *
 * The process gets its own process group (signals reach what `npx` or a
 * shell starts under it), stdin/stdout/stderr pipes, the allowed variables
 * of our environment plus the configured ones, and PR_SET_PDEATHSIG so it
 * does not outlive a killed parent. Its exit is seen through a pidfd (no
 * SIGCHLD handler: other code may wait for its own children).
 *
 * stdout is split into lines of at most max_line bytes (a trailing CR is
 * dropped, empty lines are skipped); a longer line is a protocol error: the
 * process is stopped. stderr lines go to the log (which masks them) at
 * warn level, cut at 4 KiB. Everything runs on the event_base's thread. */
#ifndef MCPTRAIL_SIDECAR_CHILD_H
#define MCPTRAIL_SIDECAR_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mcptrail/config.h"
#include "mcptrail/err.h"

struct event_base;

typedef struct mt_child mt_child;

typedef struct mt_child_spec {
    const mt_strlist *argv;      /* argv[0] is looked up in PATH */
    const mt_strlist *env_allow; /* names copied from our environment (NULL: none) */
    const mt_strlist *env;       /* NAME=value items, winning over env_allow (NULL: none) */
    bool inherit_env;            /* our whole environment but MCPTRAIL_* instead of env_allow */
    const char *cwd;             /* NULL: ours */
    size_t max_line;             /* longest stdout line accepted */
    size_t max_buffered;         /* stdin bytes queued at most (mt_child_send) */
    int64_t stop_grace_ms;       /* stdin closed -> SIGTERM -> SIGKILL, this apart */
    const char *log_name;        /* "component" of its log lines */
} mt_child_spec;

typedef struct mt_child_exit {
    int wait_status;      /* as from waitpid */
    bool exited;          /* WIFEXITED: code is set */
    int code;
    int signal;           /* the signal that ended it, or 0 */
    const char *protocol; /* why we stopped it (line too long...), or NULL */
} mt_child_exit;

typedef struct mt_child_cbs {
    /* One stdout line (NUL-terminated, without its newline). The line is
     * the callee's to modify; it is freed after the call. */
    void (*on_line)(void *arg, char *line, size_t len);
    /* The process ended and its stdout was read to the end. The mt_child
     * stays valid until mt_child_free (which the callback may call). */
    void (*on_exit)(void *arg, const mt_child_exit *ex);
} mt_child_cbs;

mt_err mt_child_start(struct event_base *base, const mt_child_spec *spec,
                      const mt_child_cbs *cbs, void *arg, mt_child **out, mt_errbuf *eb);

/* Queues one message and its newline for stdin. MT_ERR_TOO_LARGE: more than
 * max_buffered bytes would be waiting; MT_ERR_STATE: stdin is closed (the
 * process is stopping or gone). */
mt_err mt_child_send(mt_child *c, const void *msg, size_t len);

/* Stops the process: stdin is closed once what is queued was written (the
 * MCP stdio way to ask a server to exit), SIGTERM to its group after
 * stop_grace, SIGKILL after another. why (static, may be NULL) is reported
 * as mt_child_exit.protocol. on_exit follows. */
void mt_child_stop(mt_child *c, const char *why);

/* SIGKILL to the group if it still runs, reaps it when it can, frees. No
 * callback runs afterwards. */
void mt_child_free(mt_child *c);

/* Stops (true) or resumes reading stdout (back-pressure). */
void mt_child_pause(mt_child *c, bool paused);

/* Blocking clean stop of n processes at once (process shutdown): stdin
 * closed, up to grace_ms for them to exit, SIGTERM, grace_ms, SIGKILL. The
 * mt_child objects are still to be freed (no callback runs). */
void mt_child_shutdown(mt_child **cs, size_t n, int64_t grace_ms);

pid_t mt_child_pid(const mt_child *c);

struct evbuffer;
/* Takes the next non-empty line (newline and a trailing CR removed) from in:
 * 1 with *line (malloc'd, NUL-terminated; free it) and *len; 0: no whole
 * line yet; -1: a line (or what is buffered without newline) is longer than
 * max_line; -2: out of memory (that line was dropped). *scanned (start at 0,
 * one per stream) remembers how much of a partial line was searched, so a
 * long line arriving in small reads costs linear time. */
int mt_line_take(struct evbuffer *in, size_t max_line, size_t *scanned, char **line,
                 size_t *len);

/* Whether the process runs and is not being stopped. */
bool mt_child_running(const mt_child *c);
/* Bytes queued for stdin and not yet written. */
size_t mt_child_buffered(const mt_child *c);
/* Describes ex ("exited with status 1", "killed by signal 9 (...)"). */
void mt_child_describe_exit(const mt_child_exit *ex, char *out, size_t outlen);

#endif
