#!/usr/bin/env python3
"""compare_wire.py WIRE.jsonl REPLAY.jsonl: acceptance 1 of issue 8.

WIRE: every message the TypeScript SDK client sent and received (wire-client.mjs).
REPLAY: `mcptrail-replay show SESSION --format jsonl` over the archive.
Every sent message must equal the payload of one client_to_server event, every received
one the payload of one server_to_client event (multisets, compared as parsed JSON), and
no recorded payload may be left over. Modulo masking: a string may differ only in an
event whose mask_summary is not empty, and at most as many strings as it counts.
Exit 1 with the differences."""
import json, sys

wire = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
evs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
fails = []

def canon(x):
    return json.dumps(x, sort_keys=True, ensure_ascii=False)

def diff_leaves(a, b):
    """number of differing string leaves, or None if the structures differ otherwise."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return None
        n = 0
        for k in a:
            d = diff_leaves(a[k], b[k])
            if d is None:
                return None
            n += d
        return n
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return None
        n = 0
        for x, y in zip(a, b):
            d = diff_leaves(x, y)
            if d is None:
                return None
            n += d
        return n
    if isinstance(a, str) and isinstance(b, str):
        return 0 if a == b else 1
    return 0 if a == b and type(a) == type(b) else None

side = {"sent": "client_to_server", "received": "server_to_client"}
for dirn in ("sent", "received"):
    want = [json.loads(w["body"]) for w in wire if w["dir"] == dirn]
    rec = []
    for e in evs:
        if e["direction"] != side[dirn] or e.get("payload_masked") is None:
            continue
        masked = sum(m["count"] for m in e.get("mask_summary") or [])
        rec.append((json.loads(e["payload_masked"]), masked, e["seq"], e["kind"]))
    unmatched = list(rec)
    left = []
    for w in want:
        c = canon(w)
        i = next((k for k, r in enumerate(unmatched) if canon(r[0]) == c), None)
        if i is None:
            left.append(w)
        else:
            unmatched.pop(i)
    # masked payloads: match the rest modulo masking
    for w in left:
        hit = None
        for i, r in enumerate(unmatched):
            d = diff_leaves(w, r[0])
            if d is not None and 0 < d <= r[1]:
                hit = i
                break
        if hit is None:
            fails.append(f"{dirn} message not found in the replay: {canon(w)[:300]}")
        else:
            unmatched.pop(hit)
    for r in unmatched:
        fails.append(f"replayed {side[dirn]} payload (seq {r[2]}, {r[3]}) the client never {dirn}: {canon(r[0])[:300]}")
    print(f"compare_wire: {dirn}: {len(want)} messages on the wire, {len(rec)} recorded payloads, "
          f"{len(want) - len([f for f in fails if f.startswith(dirn)])} matched")
if not wire:
    fails.append("no wire messages")
seqs = [e["seq"] for e in evs]
if seqs != list(range(len(evs))):
    fails.append(f"replayed seqs not 0..n-1: {seqs[:20]}")
for f in fails:
    print("FAIL:", f)
sys.exit(1 if fails else 0)
