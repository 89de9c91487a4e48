#!/usr/bin/env python3
"""check.py: the chaos harness's invariants, from what each side kept.

  check.py --scenario NAME --ledger LEDGER --results RESULTS.jsonl --events EVENTS.jsonl
           --archive-ids IDS.tsv --verify VERIFY.log [--allow CLASS=N,...] --faults N
           --fault-end EPOCH [--row FILE]

LEDGER: the MCP server's own record of every call it executed ("CALL echo PID MESSAGE").
RESULTS: what the clients saw (driver.py). EVENTS: every record of the events topic,
decoded (mt_e2e_kafka dump). IDS: the archive's records (mcptrail-archiver ids: topic,
partition, offset, event id). Checks, and prints as one Markdown table row (also to
--row):
  - executed but unrecorded: a call in the ledger without its request event in the
    archive (must be 0: strict mode forwards only what Kafka acknowledged);
  - lost: a call a client saw succeed without its response event in the archive (0);
  - missing after de-duplication: an event on the topic whose id is not in the archive (0);
  - doubled: records beyond the first of one event id, on the topic and in the archive
    (reported; de-duplication by event id removes them);
  - the archive verifies: VERIFY.log (mcptrail-archiver verify output) says VALID, or
    reports only problems of the classes --allow names, at most N of each (a sidecar
    killed with -9 leaves its stream without a clean stop: unclean-stop=KILLS);
  - recovery: seconds from the end of the last fault (the restart or resume was started)
    to the first call started after it that succeeded, on the slowest sidecar.
Exit 1 when an invariant does not hold, with the reasons on stderr."""
import argparse
import collections
import json
import re
import sys
from urllib.parse import unquote

MSG = re.compile(r'"(c\d+-\d+)"')


def main():
    ap = argparse.ArgumentParser()
    for k in ("scenario", "ledger", "results", "events", "archive-ids", "row"):
        ap.add_argument("--" + k, required=k != "row")
    ap.add_argument("--verify", required=True)
    ap.add_argument("--allow", default="")
    ap.add_argument("--faults", type=int, required=True)
    ap.add_argument("--fault-end", type=float, required=True,
                    help="epoch seconds when the last fault was lifted")
    a = ap.parse_args()

    ledger = [unquote(l.split()[3]) for l in open(a.ledger)
              if l.startswith("CALL echo ") and len(l.split()) >= 4]
    results = [json.loads(l) for l in open(a.results) if l.strip()]
    events = [json.loads(l) for l in open(a.events) if l.strip()]
    ids = [l.rstrip("\n").split("\t") for l in open(a.archive_ids) if l.count("\t") >= 3]
    archived_ids = collections.Counter(r[3] for r in ids)
    topic_ids = collections.Counter(e["event_id"] for e in events)

    seen = collections.defaultdict(set)  # message -> {(kind, direction)} of archived events
    for e in events:
        if e["event_id"] not in archived_ids:
            continue
        for m in MSG.findall(e.get("payload_masked") or ""):
            seen[m].add((e["kind"], e["direction"]))
    ok = [r["message"] for r in results if r["ok"]]
    unrecorded = [m for m in ledger if ("request", "client_to_server") not in seen[m]]
    lost = [m for m in ok if not any(d == "server_to_client" for _, d in seen[m])]
    missing = [i for i in topic_ids if i not in archived_ids]
    dup_topic = sum(c - 1 for c in topic_ids.values())
    dup_archive = sum(c - 1 for c in archived_ids.values())
    errors = len(results) - len(ok)
    vtext = open(a.verify).read()
    problems = collections.Counter(l.split()[1] for l in vtext.splitlines()
                                   if l.startswith("PROBLEM ") and len(l.split()) > 1)
    allow = {k: int(v) for k, v in (x.split("=") for x in a.allow.split(",") if x)}
    valid = "Result: VALID" in vtext
    unexpected = {k: c for k, c in problems.items() if c > allow.get(k, 0)}
    verified = "Result: " in vtext and (valid or not unexpected)
    vcell = "yes" if valid else (
        "yes (" + ", ".join(f"{c} {k}" for k, c in sorted(problems.items())) + ")"
        if verified else "**no**")
    # recovery: from the end of the last fault to the first call completed with success
    # after it, on the slowest sidecar (the one the fault hit)
    firsts = {}
    for r in results:
        end = r.get("t_end", r["t"])
        if r["ok"] and r["t"] >= a.fault_end:
            u = r.get("url", "")
            firsts[u] = min(firsts.get(u, end), end)
    recovery = f"{max(firsts.values()) - a.fault_end:.1f}" if firsts else "-"

    row = (f"| {a.scenario} | {len(results)} | {a.faults} | {len(ledger)} | {len(unrecorded)} | "
           f"{len(lost)} | {len(missing)} | {dup_topic} / {dup_archive} | {errors} | "
           f"{recovery} | {vcell} |")
    print(row)
    if a.row:
        with open(a.row, "w") as f:
            f.write(row + "\n")
    fails = []
    if not ok:
        fails.append("no call succeeded")
    if unrecorded:
        fails.append(f"{len(unrecorded)} executed but unrecorded, e.g. {unrecorded[:5]}")
    if lost:
        fails.append(f"{len(lost)} successes without their response event, e.g. {lost[:5]}")
    if missing:
        fails.append(f"{len(missing)} topic events not in the archive, e.g. {missing[:3]}")
    if not verified:
        fails.append(f"archive verify: {dict(problems) or vtext.strip().splitlines()[-1:]}")
    for f in fails:
        print(f"chaos {a.scenario}: FAIL: {f}", file=sys.stderr)
    sys.exit(1 if fails else 0)


main()
