/* `export` and `show --format html`: one self-contained HTML document.
 *
 * No script at all, no external asset: the page is static markup plus one
 * inline <style> whose SHA-256 is the only style source the CSP allows
 * (default-src 'none'), so the file can be mailed to an auditor and opened
 * anywhere without fetching anything. Payloads are the masked JSON,
 * pretty-printed inside <details>; every recorded string is HTML-escaped. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/crypto.h"
#include "replay.h"

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1b1f24;background:#fff}"
    "h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccd}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccd;padding:3px 8px;"
    "text-align:left;vertical-align:top}th{background:#eef1f5}"
    "pre{background:#f6f8fa;padding:8px;overflow:auto;max-width:100em;margin:4px 0}"
    ".ok{color:#fff;background:#1a7f37;padding:2px 8px;border-radius:3px}"
    ".bad{color:#fff;background:#cf222e;padding:2px 8px;border-radius:3px}"
    ".warn{color:#000;background:#f4c542;padding:2px 8px;border-radius:3px}"
    ".gap{color:#cf222e;font-weight:bold}.k-request{color:#0969da}.k-response{color:#1a7f37}"
    ".k-error,.k-policy_denied,.k-auth_failed{color:#cf222e}"
    ".k-approval_requested,.k-approval_decided{color:#9a6700}"
    "dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:bold}"
    "dd{margin:0}small{color:#57606a}";

static void b64(const uint8_t *in, size_t n, char *out)
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[k++] = T[(v >> 18) & 63];
        out[k++] = T[(v >> 12) & 63];
        out[k++] = i + 1 < n ? T[(v >> 6) & 63] : '=';
        out[k++] = i + 2 < n ? T[v & 63] : '=';
    }
    out[k] = '\0';
}

void mt_html_escape(FILE *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '&':
            fputs("&amp;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        case '\0':
            fputs("&#65533;", out);
            break;
        default:
            fputc(s[i], out);
        }
    }
}

static void esc(FILE *out, const char *s)
{
    if (s)
        mt_html_escape(out, s, strlen(s));
    else
        fputs("<small>none</small>", out);
}

void mt_html_head(FILE *out, const char *title)
{
    uint8_t h[MT_SHA256_LEN];
    char hb[64];
    mt_sha256(STYLE, strlen(STYLE), h);
    b64(h, sizeof h, hb);
    fprintf(out,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'sha256-%s'; img-src 'none'; script-src 'none'; base-uri 'none'; "
            "form-action 'none'\">\n"
            "<meta name=\"referrer\" content=\"no-referrer\">\n<title>",
            hb);
    esc(out, title);
    fprintf(out, "</title>\n<style>%s</style></head><body>\n", STYLE);
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void dl_row(FILE *out, const char *k, const char *v)
{
    fprintf(out, "<dt>%s</dt><dd>", k);
    esc(out, v);
    fputs("</dd>", out);
}

static void pretty(FILE *out, const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    char *t = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
    fputs("<pre>", out);
    esc(out, t ? t : text);
    fputs("</pre>", out);
    free(t);
    json_decref(j);
}

static void identity_panel(FILE *out, json_t *ev)
{
    json_t *id = json_object_get(ev, "identity"), *ci = json_object_get(id, "ci");
    json_t *src = json_object_get(ev, "source");
    fputs("<h2>Identity and CI</h2><dl>", out);
    dl_row(out, "subject", jstr(id, "subject"));
    dl_row(out, "issuer", jstr(id, "issuer"));
    dl_row(out, "audience", jstr(id, "audience"));
    dl_row(out, "auth method", jstr(id, "auth_method"));
    dl_row(out, "token fingerprint", jstr(id, "token_fingerprint"));
    if (json_is_object(ci)) {
        static const char *const k[] = {"repository", "workflow", "job", "run_id", "sha",
                                        "ref",        "actor",    "environment"};
        for (size_t i = 0; i < sizeof k / sizeof *k; i++)
            dl_row(out, k[i], jstr(ci, k[i]));
        json_t *ra = json_object_get(ci, "run_attempt");
        if (json_is_integer(ra))
            fprintf(out, "<dt>run_attempt</dt><dd>%" JSON_INTEGER_FORMAT "</dd>",
                    json_integer_value(ra));
    } else {
        dl_row(out, "CI claims", NULL);
    }
    dl_row(out, "cluster", jstr(src, "cluster"));
    dl_row(out, "namespace", jstr(src, "namespace"));
    dl_row(out, "pod", jstr(src, "pod"));
    dl_row(out, "upstream", jstr(src, "upstream"));
    dl_row(out, "sidecar version", jstr(ev, "sidecar_version"));
    fputs("</dl>\n", out);
}

/* Votes and decisions (from the approval topics) of approval_id. */
static void approval_details(FILE *out, const mt_render_opts *o, const mt_replay_set *set,
                             const char *approval_id)
{
    bool any = false;
    for (size_t i = 0; i < set->napprovals; i++) {
        const mt_avro_schema *sch = NULL;
        json_t *d = NULL;
        if (mt_avro_decode(o->reg, set->approvals[i], set->approval_len[i], &sch, &d, NULL))
            continue;
        const char *aid = jstr(d, "approval_id");
        if (aid && strcmp(aid, approval_id) == 0) {
            if (!any)
                fputs("<ul>", out);
            any = true;
            const char *name = mt_avro_schema_name(sch);
            char *txt = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (strstr(name, "Vote")) {
                json_t *voter = json_object_get(d, "voter");
                fputs("<li>vote <b>", out);
                esc(out, jstr(d, "vote"));
                fputs("</b> by ", out);
                esc(out, json_is_object(voter) ? jstr(voter, "subject") : json_string_value(voter));
                fputs(": reason <q>", out);
                esc(out, jstr(d, "reason"));
                fputs("</q> <small>", out);
                esc(out, txt);
                fputs("</small></li>", out);
            } else {
                fputs("<li>signed decision record <small>", out);
                esc(out, txt);
                fputs("</small></li>", out);
            }
            free(txt);
        }
        json_decref(d);
    }
    if (any)
        fputs("</ul>", out);
}

static void approvals_panel(FILE *out, const mt_render_opts *o, const mt_replay_set *set,
                            json_t *const *evs, size_t n)
{
    fputs("<h2>Approvals</h2>", out);
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        json_t *ap = json_object_get(evs[i], "approval");
        if (!json_is_object(ap))
            continue;
        if (!any)
            fputs("<table><tr><th>seq</th><th>event</th><th>approval id</th><th>decision</th>"
                  "<th>approvers</th><th>justification</th><th>votes and reasons</th></tr>\n",
                  out);
        any = true;
        fprintf(out, "<tr><td>%" JSON_INTEGER_FORMAT "</td><td>",
                json_integer_value(json_object_get(evs[i], "seq")));
        esc(out, jstr(evs[i], "kind"));
        fputs("</td><td>", out);
        esc(out, jstr(ap, "approval_id"));
        fputs("</td><td>", out);
        esc(out, jstr(ap, "decision") ? jstr(ap, "decision") : "pending");
        fputs("</td><td>", out);
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(ap, "approvers"), k, v)
        {
            if (k)
                fputs(", ", out);
            esc(out, json_string_value(v));
        }
        fputs("</td><td>", out);
        esc(out, jstr(evs[i], "justification"));
        fputs("</td><td>", out);
        if (jstr(ap, "approval_id"))
            approval_details(out, o, set, jstr(ap, "approval_id"));
        fputs("</td></tr>\n", out);
    }
    fputs(any ? "</table>\n" : "<p>No approval in this session.</p>\n", out);
}

static void integrity_panel(FILE *out, const mt_render_opts *o, const mt_replay_session *s)
{
    const mt_replay_source *src = o->src;
    fputs("<h2>Integrity</h2><p>Source: ", out);
    if (!src || !src->dir) {
        char label[512] = "";
        if (src)
            mt_replay_source_label(src, label, sizeof label);
        fputs("Kafka topic ", out);
        esc(out, src ? label : NULL);
        fputs(" <span class=\"warn\">not verified</span> (topics carry no signed manifests; "
              "replay from the archive for verified evidence)</p>",
              out);
    } else {
        fputs("archive ", out);
        esc(out, src->dir);
        if (src->integrity == MT_INTEGRITY_OK)
            fputs(" <span class=\"ok\">verified</span> (signatures, manifest chains, segment "
                  "hashes and Merkle roots checked by the archiver's verify)</p>",
                  out);
        else if (src->integrity == MT_INTEGRITY_FAILED)
            fprintf(out, " <span class=\"bad\">verification FAILED: %" PRIu64 " problem%s</span></p>",
                    src->problems, src->problems == 1 ? "" : "s");
        else
            fputs(" <span class=\"warn\">not verified</span> (--no-verify)</p>", out);
        if (src->seq_gap_problems)
            fprintf(out, "<p class=\"gap\">The archive's verify also found %" PRIu64
                         " completeness problem%s of recorded sessions or sidecar streams (not "
                         "a defect of the archive files; this session's own gaps are listed "
                         "below, the streams' in mcptrail-replay report).</p>",
                    src->seq_gap_problems, src->seq_gap_problems == 1 ? "" : "s");
        if (src->bad_segments) {
            fprintf(out, "<p class=\"bad\">%" PRIu64 " segment(s) unreadable: ", src->bad_segments);
            esc(out, src->bad_msg);
            fputs("</p>", out);
        }
        if (src->integrity == MT_INTEGRITY_FAILED && src->verify_report) {
            fputs("<pre>", out);
            esc(out, src->verify_report);
            fputs("</pre>", out);
        }
        /* segments this session's events came from */
        fputs("<table><tr><th>segment</th><th>records</th><th>sha256 (manifest)</th>"
              "<th>events of this session</th></tr>\n",
              out);
        for (size_t g = 0; g < src->nsegs; g++) {
            size_t cnt = 0;
            for (size_t i = 0; i < s->n; i++)
                cnt += s->ev[i].seg == g;
            if (!cnt)
                continue;
            fputs("<tr><td>", out);
            esc(out, src->segs[g].path + strlen(src->dir));
            fprintf(out, "</td><td>%" PRIu64 "</td><td><code>", src->segs[g].records);
            esc(out, src->segs[g].has_manifest ? src->segs[g].sha256 : "no manifest");
            fprintf(out, "</code></td><td>%zu</td></tr>\n", cnt);
        }
        fputs("</table>\n", out);
    }
    if (s->ngaps || s->ndups) {
        fputs("<p class=\"gap\">Sequence problems in this session:</p><ul>", out);
        for (size_t i = 0; i < s->ngaps; i++)
            fprintf(out, "<li class=\"gap\">GAP: seq %" PRId64 "..%" PRId64 " missing</li>",
                    s->gaps[i].from_seq, s->gaps[i].to_seq);
        for (size_t i = 0; i < s->ndups; i++) {
            fprintf(out, "<li>%s event_id ", s->dups[i].conflict ? "CONFLICT:" : "duplicate:");
            esc(out, s->dups[i].event_id);
            fprintf(out, " (seq %" PRId64 ")%s</li>", s->dups[i].seq,
                    s->dups[i].conflict ? " second event on this seq" : ": extra copies dropped");
        }
        fputs("</ul>\n", out);
    } else {
        fprintf(out, "<p>Sequence: %zu events, seq 0..%zu without gaps; %" PRIu64
                " duplicate record%s dropped.</p>\n",
                s->n, s->n ? s->n - 1 : 0, s->dropped, s->dropped == 1 ? "" : "s");
    }
}

static void timeline(FILE *out, const mt_replay_session *s, json_t *const *evs)
{
    fputs("<h2>Timeline</h2><table><tr><th>time (UTC)</th><th>+s</th><th>seq</th><th>kind</th>"
          "<th>direction</th><th>HTTP</th><th>JSON-RPC</th><th>policy</th><th>masked</th>"
          "<th>payload (masked)</th></tr>\n",
          out);
    for (size_t i = 0; i < s->n; i++) {
        const mt_rev *e = &s->ev[i].rev;
        json_t *ev = evs[i];
        if (i > 0 && s->ev[i - 1].rev.seq + 1 < e->seq)
            fprintf(out, "<tr><td colspan=\"10\" class=\"gap\">GAP: seq %" PRId64 "..%" PRId64
                    " missing</td></tr>\n",
                    s->ev[i - 1].rev.seq + 1, e->seq - 1);
        char t[40];
        mt_fmt_time_us(e->ts_us, t, sizeof t);
        fprintf(out, "<tr><td>%s</td><td>%.3f</td><td>%" PRId64 "</td><td class=\"k-%s\">%s</td><td>%s</td><td>",
                t, (double)(e->ts_us - s->ev[0].rev.ts_us) / 1e6, e->seq,
                mt_rev_kind_names[e->kind], mt_rev_kind_names[e->kind],
                mt_rev_direction_names[e->direction]);
        json_t *http = json_object_get(ev, "http"), *rpc = json_object_get(ev, "rpc");
        if (json_is_object(http)) {
            esc(out, jstr(http, "method"));
            fputs(" ", out);
            esc(out, jstr(http, "path"));
            if (json_is_integer(json_object_get(http, "status")))
                fprintf(out, " &rarr; %" JSON_INTEGER_FORMAT,
                        json_integer_value(json_object_get(http, "status")));
        }
        fputs("</td><td>", out);
        if (json_is_object(rpc)) {
            esc(out, jstr(rpc, "method") ? jstr(rpc, "method") : "response");
            if (jstr(rpc, "tool")) {
                fputs(" tool=<b>", out);
                esc(out, jstr(rpc, "tool"));
                fputs("</b>", out);
            }
            if (jstr(rpc, "id")) {
                fputs(" id=", out);
                esc(out, jstr(rpc, "id"));
            }
            if (json_is_true(json_object_get(rpc, "is_error")))
                fputs(" <span class=\"bad\">error</span>", out);
        }
        fputs("</td><td>", out);
        json_t *pol = json_object_get(ev, "policy");
        if (json_is_object(pol)) {
            esc(out, jstr(pol, "action"));
            fputs(" <small>", out);
            esc(out, jstr(pol, "rule_id"));
            fputs("</small>", out);
        }
        fputs("</td><td>", out);
        size_t k;
        json_t *m;
        json_array_foreach(json_object_get(ev, "mask_summary"), k, m)
        {
            fputs(k ? "<br>" : "", out);
            esc(out, jstr(m, "detector"));
            fprintf(out, " %s &times;%" JSON_INTEGER_FORMAT, jstr(m, "action") ? jstr(m, "action") : "",
                    json_integer_value(json_object_get(m, "count")));
        }
        fputs("</td><td>", out);
        const char *p = jstr(ev, "payload_masked");
        if (p) {
            fputs("<details><summary>payload</summary>", out);
            pretty(out, p);
            fputs("</details>", out);
        }
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

mt_err mt_replay_print_html(FILE *out, const mt_render_opts *o, const mt_replay_set *set,
                            mt_errbuf *eb)
{
    char title[160];
    if (set->n == 1)
        snprintf(title, sizeof title, "mcptrail session %s", set->s[0].id);
    else
        snprintf(title, sizeof title, "mcptrail sessions (%zu)", set->n);
    mt_html_head(out, title);
    fputs("<h1>", out);
    esc(out, title);
    fputs("</h1>\n<p><small>Exported by mcptrail-replay. Payloads are shown as recorded: "
          "masked by the sidecar before they were written.</small></p>\n",
          out);
    mt_err err = MT_OK;
    for (size_t si = 0; si < set->n && !err; si++) {
        const mt_replay_session *s = &set->s[si];
        if (set->n > 1) {
            fputs("<hr><h1>Session ", out);
            esc(out, s->id);
            fputs("</h1>", out);
        }
        json_t **evs = calloc(s->n ? s->n : 1, sizeof *evs);
        if (!evs)
            return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < s->n && !err; i++)
            err = mt_avro_decode(o->reg, s->ev[i].value, s->ev[i].len, NULL, &evs[i], eb);
        if (!err) {
            char a[40] = "-", b[40] = "-";
            if (s->n) {
                mt_fmt_time_us(s->ev[0].rev.ts_us, a, sizeof a);
                mt_fmt_time_us(s->ev[s->n - 1].rev.ts_us, b, sizeof b);
            }
            fprintf(out, "<p>Session <code>");
            esc(out, s->id);
            fprintf(out, "</code>: %zu events from %s to %s. %s</p>\n", s->n, a, b,
                    s->ngaps ? "<span class=\"bad\">HAS GAPS</span>" : "");
            size_t idx = 0;
            for (size_t i = 0; i < s->n; i++)
                if (s->ev[i].rev.subject.p) {
                    idx = i;
                    break;
                }
            if (s->n)
                identity_panel(out, evs[idx]);
            integrity_panel(out, o, s);
            approvals_panel(out, o, set, evs, s->n);
            timeline(out, s, evs);
        }
        for (size_t i = 0; i < s->n; i++)
            json_decref(evs[i]);
        free(evs);
    }
    fputs("</body></html>\n", out);
    return err;
}
