/* mcptrail-replay core: the session index behind `list` and `report`, and
 * the reconstruction of sessions behind `show`, `play` and `export`
 * (DESIGN.md "Replay").
 *
 * A session is rebuilt from every SessionEvent with its session_id wherever
 * it was found (any partition, any segment): events are ordered by seq,
 * records with an event_id already seen are dropped (the sidecar's producer
 * is at-least-once, so a re-sent record may be archived twice), and every
 * missing seq range is reported as a gap, as is a seq carried by two
 * different event_ids (a conflict: something other than a retry wrote it). */
#ifndef MT_REPLAY_H
#define MT_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "mcptrail/event.h"
#include "mcptrail/avro.h"
#include "source.h"

typedef struct mt_replay_filter {
    int64_t from_us, to_us; /* session overlaps [from, to]; INT64_MIN/MAX: open */
    const char *subject, *repository, *workflow, *run_id, *tool;
    int policy;   /* index into mt_rev_policy_names; -1: any */
    int decision; /* index into mt_rev_decision_names; -1: any */
    bool has_errors;
    int64_t idle_gap_us; /* logical sessions split after this much silence; 0: default */
} mt_replay_filter;

#define MT_REPLAY_DEFAULT_IDLE_GAP_US ((int64_t)30 * 60 * 1000000)
#define MT_REPLAY_MAX_STREAMS 16 /* instance ids kept per session */

void mt_replay_filter_init(mt_replay_filter *f);

/* ---- index (list) ------------------------------------------------------
 * Logical sessions (docs/replay.md "Logical sessions"): what list, show,
 * play, export and report call a session is derived from the recorded
 * sessions (session_id) deterministically, across sidecar instances:
 *   - a session without streams (version 1 records, or records not written
 *     by a sidecar), and an MCP session (2025-era protocols: its initialize
 *     or an Mcp-Session-Id on its events) is one logical session on its own,
 *     named by its session_id;
 *   - the one-exchange sessions of stateless traffic (MCP 2026-07-28) are
 *     grouped by the CI run of the caller's token (issuer, repository, run
 *     id, attempt, job), else the W3C trace id of traceparent, else the
 *     caller (issuer, subject); a group is split where its exchanges are
 *     silent for longer than the idle gap; each part is named by the
 *     session_id of its first exchange (time, then id order). The rounds of
 *     one multi-round-trip call share the call's CI run or trace and so
 *     its logical session;
 *   - an exchange with none of these (an unauthenticated refusal) stays alone;
 *   - the instance's own events (instance_start, heartbeat, instance_stop)
 *     are no session: verify and report judge them. */

typedef struct mt_replay_summary {
    char *id;
    int64_t first_us, last_us;
    uint64_t events;
    int64_t max_seq;
    char *subject, *repository, *workflow, *run_id, *actor, *first_tool;
    uint32_t tool_calls;
    unsigned policy_mask, decision_mask, kind_mask;
    uint64_t errors;
    unsigned matched; /* filter bits seen on some event */
    bool seq_mismatch;   /* session seqs are not 0..events-1 (some recorded session) */
    /* recorded sessions: what decides their grouping */
    bool mcp;
    char *group_key;     /* "ci\x1f...", "trace\x1f...", "id\x1f..."; NULL: alone */
    /* logical sessions */
    const char *kind;    /* "mcp", "recorded" (no stream), "ci_run", "trace", "identity",
                            "exchange" */
    char **members;      /* recorded session ids in time order (borrowed from the index) */
    size_t nmembers;
    char **streams;      /* instance ids the events came from (MT_REPLAY_MAX_STREAMS
                            slots, allocated at the first; NULL: none) */
    uint32_t nstreams;
    bool more_streams;   /* more than MT_REPLAY_MAX_STREAMS */
    bool own_streams;    /* logical: streams is its own array (else borrowed) */
} mt_replay_summary;

typedef struct mt_replay_index mt_replay_index;

/* f's string filters are compared per event during the scan (a session
 * matches when any of its events does); pass the same f to select. */
mt_err mt_replay_index_build(mt_replay_source *src, uint64_t event_fp,
                             const mt_replay_filter *f, mt_replay_index **out, mt_errbuf *eb);
void mt_replay_index_free(mt_replay_index *ix);
/* The same index fed by a caller's own scan (report): new, add every
 * SessionEvent, finish (groups the logical sessions), then select/find. */
mt_err mt_replay_index_new(const mt_replay_filter *f, mt_replay_index **out);
mt_err mt_replay_index_add(mt_replay_index *ix, const mt_rev *ev);
mt_err mt_replay_index_finish(mt_replay_index *ix);
size_t mt_replay_index_logical_count(const mt_replay_index *ix);
/* The rule both the index and `show` apply to one recorded session: true when
 * the event marks an MCP session (its initialize, or an Mcp-Session-Id); the
 * kind of a recorded session that stands alone as a logical session,
 * "recorded" (no stream) or "mcp", else NULL (it joins a group, or stays a
 * lone "exchange" when it has no group key). */
bool mt_replay_event_is_mcp(const mt_rev *ev);
const char *mt_replay_standalone_kind(bool has_stream, bool mcp);

/* Logical sessions passing f, sorted by first event time then id. */
size_t mt_replay_index_select(mt_replay_index *ix, const mt_replay_filter *f,
                              const mt_replay_summary ***out);
/* The logical session named id; else the one holding the recorded session
 * id (*member = true); NULL when neither. */
const mt_replay_summary *mt_replay_index_find(const mt_replay_index *ix, const char *id,
                                              bool *member);
uint64_t mt_replay_index_events(const mt_replay_index *ix);
uint64_t mt_replay_index_bad_records(const mt_replay_index *ix);

void mt_replay_print_list_table(FILE *out, const mt_replay_summary *const *v, size_t n);
void mt_replay_print_list_jsonl(FILE *out, const mt_replay_summary *const *v, size_t n);

/* ---- sessions (show, play, export) -------------------------------------- */

typedef struct mt_replay_event {
    uint8_t *value; /* owned copy of the record */
    size_t len;
    mt_rev rev;     /* views into value */
    size_t seg;     /* source segment; SIZE_MAX for a topic */
    int32_t partition;
    int64_t offset;
} mt_replay_event;

typedef struct mt_replay_gap {
    int64_t from_seq, to_seq; /* inclusive missing range */
    char *session;            /* recorded session of a logical session's member; NULL: s->id */
} mt_replay_gap;

/* The one judgement of missing seqs, shared by `show` (session.c) and
 * `report` (report.c): feed a session's seqs in ascending order (repeats
 * allowed); every seq from 0 up to the highest fed that none carries is
 * missing. Returns true with the inclusive range missing before seq. */
typedef struct mt_seq_walk {
    int64_t expect; /* start at 0 */
} mt_seq_walk;

static inline bool mt_seq_walk_next(mt_seq_walk *w, int64_t seq, mt_replay_gap *gap)
{
    bool missing = seq > w->expect;
    if (missing)
        *gap = (mt_replay_gap){w->expect, seq - 1, NULL};
    if (seq >= w->expect) /* INT64_MAX from a corrupt record must not overflow */
        w->expect = seq == INT64_MAX ? INT64_MAX : seq + 1;
    return missing;
}

typedef struct mt_replay_dup {
    char *event_id;
    int64_t seq;
    uint32_t dropped;  /* copies dropped */
    bool conflict;     /* same seq, different event_id */
} mt_replay_dup;

typedef struct mt_replay_session {
    char *id;
    mt_replay_event *ev; /* unique events sorted by seq */
    size_t n, cap;
    mt_replay_gap *gaps;
    size_t ngaps;
    mt_replay_dup *dups;
    size_t ndups;
    uint64_t dropped; /* duplicate records dropped in total */
    bool has_end;     /* a session_end event was seen */
    /* a logical session (mt_replay_set_group); kind NULL: a recorded session */
    const char *kind;
    size_t nmembers;
} mt_replay_session;

/* Approval votes/decisions found next to the sessions (archive or topic). */
typedef struct mt_replay_set {
    mt_replay_session *s;
    size_t n;
    uint8_t **approvals; /* raw ApprovalVote / ApprovalDecision records */
    size_t *approval_len;
    size_t napprovals;
    uint64_t bad_records;
} mt_replay_set;

/* Collects the sessions named by ids (n of them) in one scan, then orders,
 * deduplicates and finds gaps. A session not found has n == 0. */
mt_err mt_replay_collect(mt_replay_source *src, const mt_avro_registry *reg,
                         const char *const *ids, size_t nids, mt_replay_set *set,
                         mt_errbuf *eb);
void mt_replay_set_free(mt_replay_set *set);

/* A logical session of a collected set: the n recorded sessions from
 * set->s[first] on. */
typedef struct mt_replay_group {
    const char *id, *kind;
    size_t first, n;
} mt_replay_group;

/* Replaces set's recorded sessions by the ng logical sessions they form:
 * events of several recorded sessions are ordered by time (then stream
 * position); each member's gaps and duplicates are kept, named by member. */
mt_err mt_replay_set_group(mt_replay_set *set, const mt_replay_group *g, size_t ng);

/* Writes the gaps/duplicates of s as loud lines ("GAP: ...") to out. */
void mt_replay_print_problems(FILE *out, const mt_replay_session *s, bool color);

typedef struct mt_render_opts {
    bool color;
    const mt_avro_registry *reg;
    const mt_replay_source *src;
} mt_render_opts;

/* Terminal text of one event (play uses it per event). */
mt_err mt_replay_print_event(FILE *out, const mt_render_opts *o, const mt_replay_session *s,
                             size_t i, mt_errbuf *eb);
mt_err mt_replay_print_text(FILE *out, const mt_render_opts *o, const mt_replay_session *s,
                            mt_errbuf *eb);
/* One decoded SessionEvent (the avro JSON mapping) per line. */
mt_err mt_replay_print_jsonl(FILE *out, const mt_render_opts *o, const mt_replay_session *s,
                             mt_errbuf *eb);
/* One self-contained HTML document for every session of set. */
mt_err mt_replay_print_html(FILE *out, const mt_render_opts *o, const mt_replay_set *set,
                            mt_errbuf *eb);

/* ---- report -------------------------------------------------------------- */

typedef enum mt_report_format { MT_REPORT_MD, MT_REPORT_HTML, MT_REPORT_CSV } mt_report_format;

mt_err mt_replay_report(FILE *out, mt_replay_source *src, const mt_avro_registry *reg,
                        int64_t from_us, int64_t to_us, mt_report_format fmt, mt_errbuf *eb);

/* ---- helpers shared by the renderers -------------------------------------- */
void mt_html_escape(FILE *out, const char *s, size_t n);
void mt_fmt_time_us(int64_t us, char *out, size_t n); /* 2026-11-25T10:00:00.123456Z */
/* Fixed HTML head with the strict CSP (no script, style by hash). */
void mt_html_head(FILE *out, const char *title);

#endif
