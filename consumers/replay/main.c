/* mcptrail-replay: list, show, play, export and report sessions from an
 * archive directory or a Kafka topic (DESIGN.md "Replay", docs/replay.md).
 *
 *   mcptrail-replay list   [filters] (--archive DIR --pubkey PUB | --topic T)
 *   mcptrail-replay show   SESSION [--format text|jsonl|html]
 *   mcptrail-replay play   SESSION [--speed X]
 *   mcptrail-replay export SESSION... | --query k=v,... -o FILE
 *   mcptrail-replay report --from T --to T [--format md|html|csv]
 *
 * Options come from the usual table (flags, MCPTRAIL_* environment, config
 * file); brokers are the common kafka.* options. Exit status: 0 ok, 1 gaps
 * or conflicts in a shown session or a failed archive verification, 2 usage
 * or read errors, 3 session not found. */
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mcptrail/config.h"
#include "mcptrail/log.h"
#include "mcptrail/archive.h"
#include "replay.h"

typedef struct replay_cfg {
    mt_common_config common;
    char *archive;
    mt_strlist topic, pubkey;
    bool no_verify;
    int format;
    char *output;
    char *from, *to, *subject, *repository, *workflow, *run_id, *tool, *policy, *decision;
    bool has_errors;
    char *query;
    char *speed;
    int64_t max_wait_ms;
    int color;
    int64_t idle_ms;
    int64_t idle_gap_ms;
} replay_cfg;

static const char *const formats[] = {"auto", "text", "table", "jsonl", "html", "md", "csv", NULL};
enum { F_AUTO, F_TEXT, F_TABLE, F_JSONL, F_HTML, F_MD, F_CSV };
static const char *const colors[] = {"auto", "always", "never", NULL};

#define O(f) offsetof(replay_cfg, f)
static const mt_cfg_option replay_options[] = {
    {"archive", MT_CFG_STRING, NULL, "Archive directory written by mcptrail-archiver.",
     O(archive), 0, 0, NULL, 0},
    {"pubkey", MT_CFG_LIST, NULL,
     "Ed25519 public key (PEM) of the archiver; the archive is verified with it first. A "
     "comma-separated list after a key rotation (each manifest must verify under the key "
     "its key_id names).",
     O(pubkey), 0, 0, NULL, 0},
    {"no-verify", MT_CFG_BOOL, "false",
     "Read the archive without verifying it (output is marked not verified).", O(no_verify),
     0, 0, NULL, 0},
    {"topic", MT_CFG_LIST, NULL,
     "Read this Kafka topic (SessionEvents) from its beginning instead of an archive; a "
     "comma-separated list adds the approval topics (votes and decisions for export).",
     O(topic), 0, 0, NULL, 0},
    {"topic.idle", MT_CFG_DURATION, "1s",
     "With --topic: stop once every partition is at its end and nothing arrived this long.",
     O(idle_ms), 10, 600000, NULL, 0},
    {"idle-gap", MT_CFG_DURATION, "30m",
     "Logical sessions of stateless traffic (one CI run, one trace, one caller) are split "
     "where their calls are silent for longer than this (docs/replay.md \"Logical "
     "sessions\").",
     O(idle_gap_ms), 1, (int64_t)30 * 24 * 3600 * 1000, NULL, 0},
    {"format", MT_CFG_ENUM, "auto",
     "Output: list table|jsonl; show text|jsonl|html; report md|html|csv (auto: table, "
     "text, md).",
     O(format), 0, 0, formats, 0},
    {"output", MT_CFG_STRING, NULL, "Write to this file instead of stdout (export needs it).",
     O(output), 0, 0, NULL, 0},
    {"color", MT_CFG_ENUM, "auto", "Colour in terminal text (auto: when stdout is a TTY).",
     O(color), 0, 0, colors, 0},
    {"from", MT_CFG_STRING, NULL,
     "Sessions with an event at or after this time (ms since epoch or YYYY-MM-DDTHH:MM:SSZ).",
     O(from), 0, 0, NULL, 0},
    {"to", MT_CFG_STRING, NULL, "Sessions with an event at or before this time.", O(to), 0, 0,
     NULL, 0},
    {"subject", MT_CFG_STRING, NULL, "Sessions of this identity subject.", O(subject), 0, 0,
     NULL, 0},
    {"repository", MT_CFG_STRING, NULL, "Sessions whose CI claims name this repository.",
     O(repository), 0, 0, NULL, 0},
    {"workflow", MT_CFG_STRING, NULL, "Sessions of this CI workflow.", O(workflow), 0, 0, NULL,
     0},
    {"run-id", MT_CFG_STRING, NULL, "Sessions of this CI run id.", O(run_id), 0, 0, NULL, 0},
    {"tool", MT_CFG_STRING, NULL, "Sessions that called this tool.", O(tool), 0, 0, NULL, 0},
    {"policy", MT_CFG_STRING, NULL,
     "Sessions with a policy result of this action (allow, deny, approve, record_only).",
     O(policy), 0, 0, NULL, 0},
    {"decision", MT_CFG_STRING, NULL,
     "Sessions with an approval of this decision (approved, denied, expired, cancelled).",
     O(decision), 0, 0, NULL, 0},
    {"has-errors", MT_CFG_BOOL, "false",
     "Sessions with an error (JSON-RPC or tool error, policy denial, auth failure).",
     O(has_errors), 0, 0, NULL, 0},
    {"query", MT_CFG_STRING, NULL,
     "export: the sessions matching these filters, as key=value[,key=value] with the filter "
     "names above (e.g. repository=acme/app,tool=deploy).",
     O(query), 0, 0, NULL, 0},
    {"speed", MT_CFG_STRING, "1", "play: speed factor (2 = twice as fast).", O(speed), 0, 0,
     NULL, 0},
    {"max-wait", MT_CFG_DURATION, "10s", "play: longest pause between two events.",
     O(max_wait_ms), 0, 0, NULL, 0},
    MT_CFG_END,
};

static const mt_cfg_spec replay_spec = {
    .program = "mcptrail-replay",
    .summary = "Rebuild, search and replay recorded MCP sessions (subcommands: list, show, "
               "play, export, report).",
    .env_prefix = "MCPTRAIL_",
    .positional = "list|show SESSION|play SESSION|export [SESSION...]|report",
    .parts = {{mt_cfg_common_options, offsetof(replay_cfg, common)},
              {replay_options, 0},
              {NULL, 0}},
};

/* The archiver's --from/--to syntax, in microseconds. */
static int parse_time_us(const char *s, int64_t *out)
{
    int64_t ms;
    if (mt_archive_parse_time_ms(s, &ms) != 0)
        return -1;
    *out = ms * 1000;
    return 0;
}

static int index_of(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static int fill_filter(const replay_cfg *c, mt_replay_filter *f)
{
    mt_replay_filter_init(f);
    if (c->from && parse_time_us(c->from, &f->from_us)) {
        fprintf(stderr, "mcptrail-replay: --from '%s' is not a time (ms since the epoch or "
                        "YYYY-MM-DDTHH:MM:SSZ)\n", c->from);
        return -1;
    }
    if (c->to && parse_time_us(c->to, &f->to_us)) {
        fprintf(stderr, "mcptrail-replay: --to '%s' is not a time (ms since the epoch or "
                        "YYYY-MM-DDTHH:MM:SSZ)\n", c->to);
        return -1;
    }
    f->subject = c->subject;
    f->repository = c->repository;
    f->workflow = c->workflow;
    f->run_id = c->run_id;
    f->tool = c->tool;
    f->has_errors = c->has_errors;
    f->idle_gap_us = c->idle_gap_ms * 1000;
    if (c->policy && (f->policy = index_of(mt_rev_policy_names, MT_REV_POLICY_ACTIONS,
                                           c->policy)) < 0) {
        fprintf(stderr, "mcptrail-replay: --policy '%s': use allow, deny, approve or "
                        "record_only\n", c->policy);
        return -1;
    }
    if (c->decision && (f->decision = index_of(mt_rev_decision_names, MT_REV_DECISIONS,
                                               c->decision)) < 0) {
        fprintf(stderr, "mcptrail-replay: --decision '%s': use approved, denied, expired or "
                        "cancelled\n", c->decision);
        return -1;
    }
    return 0;
}

/* --query k=v,k=v -> the cfg's filter fields (strings point into q). */
static int apply_query(replay_cfg *c, char *q)
{
    for (char *save = NULL, *item = strtok_r(q, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            fprintf(stderr, "mcptrail-replay: --query item '%s' is not key=value\n", item);
            return -1;
        }
        *eq = '\0';
        const char *k = item;
        char *v = eq + 1;
        char **slot = strcmp(k, "from") == 0         ? &c->from
                      : strcmp(k, "to") == 0         ? &c->to
                      : strcmp(k, "subject") == 0    ? &c->subject
                      : strcmp(k, "repository") == 0 ? &c->repository
                      : strcmp(k, "workflow") == 0   ? &c->workflow
                      : strcmp(k, "run-id") == 0     ? &c->run_id
                      : strcmp(k, "tool") == 0       ? &c->tool
                      : strcmp(k, "policy") == 0     ? &c->policy
                      : strcmp(k, "decision") == 0   ? &c->decision
                                                     : NULL;
        if (strcmp(k, "has-errors") == 0) {
            c->has_errors = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
            continue;
        }
        if (!slot) {
            fprintf(stderr, "mcptrail-replay: --query key '%s' is not a filter (from, to, "
                            "subject, repository, workflow, run-id, tool, policy, decision, "
                            "has-errors)\n", k);
            return -1;
        }
        free(*slot);
        if (!(*slot = strdup(v)))
            return -1;
    }
    return 0;
}

typedef struct app {
    replay_cfg cfg;
    mt_avro_registry *reg;
    mt_replay_source src;
    mt_ed25519_key *pubs[MT_VERIFY_MAX_KEYS];
    size_t npubs;
    mt_kafka_prop props[64];
    FILE *out;
    bool color;
} app;

static int open_source(app *a)
{
    replay_cfg *c = &a->cfg;
    mt_errbuf eb = {{0}};
    if ((c->archive != NULL) == (c->topic.n > 0)) {
        fprintf(stderr, "mcptrail-replay: give exactly one source: --archive DIR or --topic T\n");
        return 2;
    }
    a->src.dir = c->archive;
    a->src.topics = (const char *const *)c->topic.items;
    a->src.ntopics = c->topic.n;
    a->src.idle_ms = (int)c->idle_ms;
    a->src.schema_dir = c->common.schema_dir;
    if (c->topic.n) {
        size_t np = c->common.kafka_properties.n < 64 ? c->common.kafka_properties.n : 64;
        for (size_t i = 0; i < np; i++) {
            char *kv = c->common.kafka_properties.items[i];
            char *eq = strchr(kv, '=');
            if (!eq)
                continue;
            *eq = '\0';
            a->props[i] = (mt_kafka_prop){kv, eq + 1};
        }
        a->src.kafka = (mt_kafka_config){c->common.kafka_brokers, c->common.kafka_client_id,
                                         a->props, np};
    } else if (!c->no_verify) {
        if (!c->pubkey.n) {
            fprintf(stderr, "mcptrail-replay: the archive is verified before it is read: give "
                            "the archiver's public key with --pubkey PUB.pem (or --no-verify "
                            "to read it unverified)\n");
            return 2;
        }
        /* the current key and those from before a rotation */
        if (c->pubkey.n > MT_VERIFY_MAX_KEYS) {
            fprintf(stderr, "mcptrail-replay: --pubkey: at most %d keys\n", MT_VERIFY_MAX_KEYS);
            return 2;
        }
        for (size_t i = 0; i < c->pubkey.n; i++) {
            if (mt_ed25519_load_public_pem_file(c->pubkey.items[i], &a->pubs[a->npubs], &eb)) {
                fprintf(stderr, "mcptrail-replay: %s\n", eb.msg);
                return 2;
            }
            a->npubs++;
        }
    }
    if (mt_replay_source_open(&a->src, (const mt_ed25519_key *const *)a->pubs, a->npubs, &eb)) {
        fprintf(stderr, "mcptrail-replay: %s\n", eb.msg);
        return 2;
    }
    if (a->src.integrity == MT_INTEGRITY_FAILED) {
        fprintf(stderr,
                "mcptrail-replay: ARCHIVE VERIFICATION FAILED (%" PRIu64 " problem%s); "
                "nothing from it is evidence. The archiver's report:\n%s"
                "Rerun with --no-verify to read it anyway (output marked not verified).\n",
                a->src.problems, a->src.problems == 1 ? "" : "s",
                a->src.verify_report ? a->src.verify_report : "");
        return 1;
    }
    return 0;
}

static int cmd_list(app *a)
{
    mt_replay_filter f;
    if (fill_filter(&a->cfg, &f))
        return 2;
    mt_errbuf eb = {{0}};
    mt_replay_index *ix = NULL;
    const mt_avro_schema *ev = mt_avro_registry_find(a->reg, "dev.mcptrail.SessionEvent");
    if (mt_replay_index_build(&a->src, mt_avro_schema_fingerprint(ev), &f, &ix, &eb)) {
        fprintf(stderr, "mcptrail-replay: %s\n", eb.msg);
        return 2;
    }
    const mt_replay_summary **v;
    size_t n = mt_replay_index_select(ix, &f, &v);
    if (a->cfg.format == F_JSONL)
        mt_replay_print_list_jsonl(a->out, v, n);
    else
        mt_replay_print_list_table(a->out, v, n);
    if (mt_replay_index_bad_records(ix))
        fprintf(stderr, "mcptrail-replay: %" PRIu64 " record(s) could not be decoded\n",
                mt_replay_index_bad_records(ix));
    if (a->src.bad_segments)
        fprintf(stderr, "mcptrail-replay: WARNING: %" PRIu64 " segment(s) unreadable, their "
                        "records are missing from this output; last: %s\n",
                a->src.bad_segments, a->src.bad_msg);
    fprintf(stderr, "%zu session(s), %" PRIu64 " event(s) of %" PRIu64 " record(s) scanned, "
                    "source %s\n",
            n, mt_replay_index_events(ix), a->src.records_scanned,
            mt_replay_integrity_name(a->src.integrity));
    mt_replay_index_free(ix);
    return a->src.bad_segments ? 1 : 0;
}

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void sleep_us(int64_t us)
{
    while (us > 0 && !stop_flag) {
        int64_t step = us > 100000 ? 100000 : us;
        struct timespec ts = {(time_t)(step / 1000000), (long)(step % 1000000) * 1000};
        nanosleep(&ts, NULL);
        us -= step;
    }
}

/* The recorded sessions of the logical sessions named by ids (a logical
 * session's id, or a recorded session's for just that one), as collect ids
 * plus one group per id. A name the index does not know stays as it is
 * (collect reports it not found). */
static int resolve(app *a, const mt_replay_filter *f, char **ids, size_t nids, char ***rec,
                   size_t *nrec, mt_replay_group **groups)
{
    mt_errbuf eb = {{0}};
    mt_replay_index *ix = NULL;
    const mt_avro_schema *ev = mt_avro_registry_find(a->reg, "dev.mcptrail.SessionEvent");
    if (mt_replay_index_build(&a->src, mt_avro_schema_fingerprint(ev), f, &ix, &eb)) {
        fprintf(stderr, "mcptrail-replay: %s\n", eb.msg);
        return 2;
    }
    size_t total = 0;
    const mt_replay_summary **ls = calloc(nids ? nids : 1, sizeof *ls);
    bool *member = calloc(nids ? nids : 1, sizeof *member);
    for (size_t i = 0; ls && member && i < nids; i++) {
        ls[i] = mt_replay_index_find(ix, ids[i], &member[i]);
        total += ls[i] && !member[i] ? ls[i]->nmembers : 1;
    }
    *rec = calloc(total ? total : 1, sizeof **rec);
    *groups = calloc(nids ? nids : 1, sizeof **groups);
    *nrec = 0;
    int rc = ls && member && *rec && *groups ? 0 : 2;
    for (size_t i = 0; !rc && i < nids; i++) {
        mt_replay_group *g = &(*groups)[i];
        g->first = *nrec;
        g->id = ids[i];
        if (ls[i] && !member[i]) {
            g->kind = ls[i]->kind;
            for (size_t k = 0; k < ls[i]->nmembers; k++)
                (*rec)[(*nrec)++] = strdup(ls[i]->members[k]);
        } else {
            if (ls[i])
                fprintf(stderr, "mcptrail-replay: %s is one recorded session of logical session "
                                "%s (%zu recorded sessions); showing it alone\n",
                        ids[i], ls[i]->id, ls[i]->nmembers);
            g->kind = ls[i] && ls[i]->nmembers == 1 ? ls[i]->kind : NULL;
            (*rec)[(*nrec)++] = strdup(ids[i]);
        }
        g->n = *nrec - g->first;
        for (size_t k = g->first; k < *nrec; k++)
            if (!(*rec)[k])
                rc = 2;
    }
    /* kinds are static strings; ids are the caller's */
    free(ls);
    free(member);
    mt_replay_index_free(ix);
    return rc;
}

/* The kind of a collected recorded session that is a logical session on its
 * own (replay.h): "mcp" or "recorded"; NULL when it may belong to a group
 * (a one-exchange session of a sidecar stream) or was not found. */
static const char *standalone_kind(const mt_replay_session *s)
{
    bool streamed = false, mcp = false;
    for (size_t i = 0; i < s->n; i++) {
        const mt_rev *e = &s->ev[i].rev;
        mcp |= mt_replay_event_is_mcp(e);
        streamed |= e->instance_id.p != NULL;
    }
    return s->n ? mt_replay_standalone_kind(streamed, mcp) : NULL;
}

/* show/play/export of recorded sessions that are logical sessions on their
 * own need one scan; true when set now holds them, grouped. */
static bool collect_standalone(app *a, char **ids, size_t nids, mt_replay_set *set)
{
    mt_errbuf eb = {{0}};
    if (mt_replay_collect(&a->src, a->reg, (const char *const *)ids, nids, set, &eb)) {
        mt_replay_set_free(set);
        return false;
    }
    mt_replay_group *g = calloc(nids ? nids : 1, sizeof *g);
    bool ok = g != NULL;
    for (size_t i = 0; ok && i < nids; i++) {
        g[i] = (mt_replay_group){set->s[i].id, standalone_kind(&set->s[i]), i, 1};
        ok = g[i].kind != NULL;
    }
    ok = ok && mt_replay_set_group(set, g, nids) == MT_OK;
    free(g);
    if (!ok)
        mt_replay_set_free(set);
    return ok;
}

static int cmd_sessions(app *a, const char *cmd, char **ids, size_t nids)
{
    replay_cfg *c = &a->cfg;
    mt_errbuf eb = {{0}};
    char **owned = NULL;
    size_t nowned = 0;
    char **rec = NULL;
    size_t nrec = 0;
    mt_replay_group *groups = NULL;
    if (strcmp(cmd, "export") == 0 && c->query) {
        char *q = strdup(c->query);
        int bad = !q || apply_query(c, q);
        free(q);
        if (bad)
            return 2;
        mt_replay_filter f;
        if (fill_filter(c, &f))
            return 2;
        mt_replay_index *ix = NULL;
        const mt_avro_schema *ev = mt_avro_registry_find(a->reg, "dev.mcptrail.SessionEvent");
        if (mt_replay_index_build(&a->src, mt_avro_schema_fingerprint(ev), &f, &ix, &eb)) {
            fprintf(stderr, "mcptrail-replay: %s\n", eb.msg);
            return 2;
        }
        const mt_replay_summary **v;
        nowned = mt_replay_index_select(ix, &f, &v);
        owned = calloc(nowned ? nowned : 1, sizeof *owned);
        for (size_t i = 0; owned && i < nowned; i++)
            owned[i] = strdup(v[i]->id);
        mt_replay_index_free(ix);
        if (!owned)
            return 2;
        if (nowned == 0) {
            fprintf(stderr, "mcptrail-replay: no session matches --query %s\n", c->query);
            free(owned);
            return 3;
        }
        ids = owned;
        nids = nowned;
    }
    if (nids == 0 || (strcmp(cmd, "export") != 0 && nids != 1)) {
        fprintf(stderr, "mcptrail-replay %s: give %s\n", cmd,
                strcmp(cmd, "export") == 0 ? "SESSION... or --query k=v,..." : "one SESSION id");
        return 2;
    }
    mt_replay_set set = {0};
    int rc = 0;
    /* MCP sessions and sessions without streams stand alone: one scan. Others
     * (stateless exchanges, logical ids) need the index of the whole source. */
    if (owned || !collect_standalone(a, ids, nids, &set)) {
        mt_replay_filter all; /* logical sessions are grouped over the whole source */
        mt_replay_filter_init(&all);
        all.idle_gap_us = c->idle_gap_ms * 1000;
        rc = resolve(a, &all, ids, nids, &rec, &nrec, &groups);
        if (rc)
            goto done;
        if (mt_replay_collect(&a->src, a->reg, (const char *const *)rec, nrec, &set, &eb) ||
            mt_replay_set_group(&set, groups, nids)) {
            fprintf(stderr, "mcptrail-replay: %s\n", eb.msg[0] ? eb.msg : "out of memory");
            rc = 2;
            goto done;
        }
    }
    for (size_t i = 0; i < set.n; i++) {
        if (set.s[i].n == 0) {
            fprintf(stderr, "mcptrail-replay: session %s not found (%" PRIu64
                            " records scanned)\n", set.s[i].id, a->src.records_scanned);
            rc = 3;
        }
        mt_replay_print_problems(stderr, &set.s[i], a->color && isatty(2));
        if (set.s[i].ngaps || (set.s[i].ndups && set.s[i].dups[0].conflict))
            rc = rc ? rc : 1;
        for (size_t k = 0; k < set.s[i].ndups; k++)
            if (set.s[i].dups[k].conflict && !rc)
                rc = 1;
    }
    if (a->src.bad_segments) {
        fprintf(stderr, "mcptrail-replay: WARNING: %" PRIu64 " segment(s) unreadable, their "
                        "records are missing; last: %s\n", a->src.bad_segments, a->src.bad_msg);
        rc = rc ? rc : 1;
    }
    if (rc == 3)
        goto done;
    mt_render_opts ro = {a->color, a->reg, &a->src};
    mt_err err = MT_OK;
    if (strcmp(cmd, "export") == 0 || c->format == F_HTML) {
        err = mt_replay_print_html(a->out, &ro, &set, &eb);
    } else if (strcmp(cmd, "play") == 0) {
        char *end;
        double speed = strtod(c->speed, &end);
        if (*end || !(speed > 0) || !isfinite(speed)) {
            fprintf(stderr, "mcptrail-replay: --speed '%s' is not a positive number\n", c->speed);
            rc = 2;
            goto done;
        }
        const mt_replay_session *s = &set.s[0];
        signal(SIGINT, on_signal);
        for (size_t i = 0; i < s->n && !err && !stop_flag; i++) {
            if (i > 0) {
                double wait = (double)(s->ev[i].rev.ts_us - s->ev[i - 1].rev.ts_us) / speed;
                if (wait > (double)c->max_wait_ms * 1000.0)
                    wait = (double)c->max_wait_ms * 1000.0;
                sleep_us((int64_t)wait);
            }
            err = mt_replay_print_event(a->out, &ro, s, i, &eb);
            fflush(a->out);
        }
    } else if (c->format == F_JSONL) {
        err = mt_replay_print_jsonl(a->out, &ro, &set.s[0], &eb);
    } else {
        err = mt_replay_print_text(a->out, &ro, &set.s[0], &eb);
    }
    if (err) {
        fprintf(stderr, "mcptrail-replay: %s\n", eb.msg);
        rc = 2;
    }
done:
    mt_replay_set_free(&set);
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    free(owned);
    for (size_t i = 0; i < nrec; i++)
        free(rec[i]);
    free(rec);
    free(groups);
    return rc;
}

static int cmd_report(app *a)
{
    replay_cfg *c = &a->cfg;
    mt_replay_filter f;
    if (fill_filter(c, &f))
        return 2;
    mt_report_format fmt = c->format == F_HTML  ? MT_REPORT_HTML
                           : c->format == F_CSV ? MT_REPORT_CSV
                                                : MT_REPORT_MD;
    mt_errbuf eb = {{0}};
    if (mt_replay_report(a->out, &a->src, a->reg, f.from_us, f.to_us, fmt, &eb)) {
        fprintf(stderr, "mcptrail-replay: %s\n", eb.msg);
        return 2;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: mcptrail-replay list   [--from T] [--to T] [--subject S] [--repository R]\n"
               "                              [--workflow W] [--run-id ID] [--tool T] [--policy A]\n"
               "                              [--decision D] [--has-errors] [--format table|jsonl]\n"
               "       mcptrail-replay show   SESSION [--format text|jsonl|html]\n"
               "       mcptrail-replay play   SESSION [--speed X] [--max-wait 10s]\n"
               "       mcptrail-replay export SESSION... | --query k=v,...  --output FILE.html\n"
               "       mcptrail-replay report --from T --to T [--format md|html|csv]\n"
               "source: --archive DIR --pubkey PUB.pem [--no-verify]  |  --topic T (brokers from\n"
               "--kafka.brokers / MCPTRAIL_KAFKA_BROKERS). All options: mcptrail-replay --help\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || (argv[1][0] == '-' && strcmp(argv[1], "--help") && strcmp(argv[1], "-h"))) {
        usage(stderr);
        return 2;
    }
    app a;
    memset(&a, 0, sizeof a);
    mt_cfg_result res = {0};
    mt_errbuf eb = {{0}};
    if (mt_cfg_load(&replay_spec, &a.cfg, argc, argv, NULL, &res, &eb)) {
        fprintf(stderr, "mcptrail-replay: %s\n", eb.msg);
        usage(stderr);
        return 2;
    }
    if (res.action == MT_CFG_SHOW_HELP) {
        usage(stdout);
        mt_cfg_print_help(&replay_spec, stdout);
        return 0;
    }
    if (res.action == MT_CFG_SHOW_VERSION || res.action == MT_CFG_PRINT_CONFIG) {
        mt_cfg_print_effective(&replay_spec, &a.cfg, stdout);
        return 0;
    }
    if (res.nargs < 1) {
        usage(stderr);
        return 2;
    }
    const char *cmd = res.args[0];
    int rc = 2;
    bool is_list = strcmp(cmd, "list") == 0, is_report = strcmp(cmd, "report") == 0;
    bool is_sess = strcmp(cmd, "show") == 0 || strcmp(cmd, "play") == 0 ||
                   strcmp(cmd, "export") == 0;
    if (!is_list && !is_report && !is_sess) {
        fprintf(stderr, "mcptrail-replay: unknown command '%s'\n", cmd);
        usage(stderr);
        goto out;
    }
    mt_log_set_level((mt_log_level)a.cfg.common.log_level);
    mt_log_set_format((mt_log_format)a.cfg.common.log_format);
    if (mt_avro_registry_load(a.cfg.common.schema_dir, &a.reg, &eb)) {
        fprintf(stderr, "mcptrail-replay: %s\n", eb.msg);
        goto out;
    }
    if (strcmp(cmd, "export") == 0 && !a.cfg.output) {
        fprintf(stderr, "mcptrail-replay export: give the HTML file to write with --output FILE\n");
        goto out;
    }
    a.out = stdout;
    if (a.cfg.output && !(a.out = fopen(a.cfg.output, "w"))) {
        perror(a.cfg.output);
        goto out;
    }
    a.color = a.cfg.color == 1 || (a.cfg.color == 0 && !a.cfg.output && isatty(1));
    if ((rc = open_source(&a)) != 0)
        goto out;
    if (is_list)
        rc = cmd_list(&a);
    else if (is_report)
        rc = cmd_report(&a);
    else
        rc = cmd_sessions(&a, cmd, res.args + 1, res.nargs - 1);
out:
    if (a.out && a.out != stdout && fclose(a.out) != 0 && rc == 0)
        rc = 2;
    mt_replay_source_close(&a.src);
    for (size_t i = 0; i < a.npubs; i++)
        mt_ed25519_free(a.pubs[i]);
    mt_avro_registry_free(a.reg);
    mt_cfg_result_free(&res);
    mt_cfg_free(&replay_spec, &a.cfg);
    return rc;
}
