#!/usr/bin/env python3
"""Collects the conformance suite's per-scenario checks.json files of one run directory
into rows: suite, version, scenario, result (pass|fail|missing), passed, failed, warnings,
first error. Usage: results.py SUITE VERSION RUN_DIR SCENARIO... >> rows.tsv"""
import json, os, re, sys

suite, version, run_dir, *scenarios = sys.argv[1:]
dirs = os.listdir(run_dir) if os.path.isdir(run_dir) else []
ts = re.compile(r"-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")
by_name = {}
for d in dirs:
    if d.startswith("server-"):
        by_name[ts.sub("", d[len("server-"):])] = os.path.join(run_dir, d, "checks.json")
for sc in scenarios:
    row = [suite, version, sc, "missing", "0", "0", "0", ""]
    f = by_name.get(sc)
    if f and os.path.isfile(f):
        try:
            checks = json.load(open(f))
        except ValueError as e:
            row[7] = f"unreadable checks.json: {e}"
        else:
            st = [c.get("status") for c in checks]
            ok, bad, warn = st.count("SUCCESS"), st.count("FAILURE"), st.count("WARNING")
            err = next((c.get("errorMessage") or c.get("id", "") for c in checks if c.get("status") == "FAILURE"), "")
            row[3:] = ["fail" if bad else "pass", str(ok), str(bad), str(warn),
                       " ".join(str(err).split())[:200]]
    print("\t".join(row))
