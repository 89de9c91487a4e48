#!/usr/bin/env python3
"""gen_gaps.py OUT.jsonl EXPECTED.txt VOTES.jsonl: SessionEvents with injected gaps, duplicate
records and seq conflicts for replay_gaps (acceptance 2), and the exact problem lines
mcptrail-replay must print for them (sorted).

  clean      seq 0..11, nothing wrong; seq 9 a tools/call held by an `approve` rule,
             seq 10 its approval_decided (approved by alice and bob), and VOTES.jsonl
             holds their two ApprovalVotes with reasons (for the votes topic)
  dups       seq 0..19; the record of seq 3 sent twice more, seq 7 once more
             (same event_id: a producer retry) -> 2 DUPLICATE lines, no gap
  gaps       seq 0..29 without 0, 5, 10..12 -> GAP 0..0, 5..5, 10..12
  conflict   seq 0..9 and a second, different event at seq 4 -> CONFLICT, and
             a gap 8..8 plus a duplicate of seq 9 in the same session
Session ids are random per run so runs never mix."""
import json, sys, uuid

out, expected, votes_out = sys.argv[1], sys.argv[2], sys.argv[3]
run = uuid.uuid4().hex[:8]
ts0 = 1764000000000000
lines, exp = [], []

def ev(sid, seq, kind="request", eid=None):
    return {
        "event_id": eid or str(uuid.uuid4()),
        "session_id": sid, "seq": seq, "ts": ts0 + seq * 1000,
        "kind": kind, "direction": "client_to_server" if kind == "request" else "internal",
        "source": {"cluster": "c", "namespace": "ns", "pod": "p", "upstream": "127.0.0.1:1"},
        "identity": {"issuer": "https://issuer.test", "subject": "gap-tester", "audience": "a",
                     "auth_method": "jwt"},
        "rpc": {"id": str(seq), "method": "tools/call", "tool": "echo"},
        "payload_masked": json.dumps({"jsonrpc": "2.0", "id": seq, "method": "tools/call",
                                      "params": {"name": "echo", "arguments": {"n": seq}}}),
        "sidecar_version": "test",
    }

def emit(e):
    lines.append(json.dumps(e))

sids = {k: f"{k}-{run}" for k in ("clean", "dups", "gaps", "conflict")}
apid = f"ap-{run}"
for s in range(12):
    e = ev(sids["clean"], s)
    if s == 9:
        e["policy"] = {"rule_id": "prod-deploy", "action": "approve"}
        e["approval"] = {"approval_id": apid, "decision": None, "approvers": []}
        e["justification"] = "CHG-1234 deploy"
    if s == 10:
        e["kind"], e["direction"] = "approval_decided", "internal"
        e["approval"] = {"approval_id": apid, "decision": "approved", "approvers": ["alice", "bob"]}
    emit(e)
with open(votes_out, "w") as f:
    for who, why in (("alice", "diff reviewed, change window open"), ("bob", "second pair of eyes")):
        f.write(json.dumps({"$schema": "dev.mcptrail.ApprovalVote", "approval_id": apid,
                            "request_hash": "ab" * 32,
                            "voter": {"subject": who, "issuer": "https://issuer.test", "groups": ["sre"]},
                            "vote": "approve", "reason": why, "ts": ts0 + 9500, "source": "console"}) + "\n")
recs = {}
for s in range(20):
    recs[s] = ev(sids["dups"], s)
    emit(recs[s])
emit(recs[3]); emit(recs[3]); emit(recs[7])
exp.append(f"DUPLICATE: session {sids['dups']}: event_id {recs[3]['event_id']} (seq 3) 2 extra copies dropped")
exp.append(f"DUPLICATE: session {sids['dups']}: event_id {recs[7]['event_id']} (seq 7) 1 extra copy dropped")
for s in range(30):
    if s in (0, 5, 10, 11, 12):
        continue
    emit(ev(sids["gaps"], s))
exp.append(f"GAP: session {sids['gaps']}: seq 0..0 missing (1 event)")
exp.append(f"GAP: session {sids['gaps']}: seq 5..5 missing (1 event)")
exp.append(f"GAP: session {sids['gaps']}: seq 10..12 missing (3 events)")
c4 = None
for s in range(10):
    if s == 8:
        continue
    e = ev(sids["conflict"], s)
    emit(e)
    if s == 9:
        emit(e)
        exp.append(f"DUPLICATE: session {sids['conflict']}: event_id {e['event_id']} (seq 9) 1 extra copy dropped")
    if s == 4:
        c4 = e
other = ev(sids["conflict"], 4)
emit(other)
# the conflict names whichever event_id sorts second on seq 4
second = max(c4["event_id"], other["event_id"])
exp.append(f"CONFLICT: session {sids['conflict']}: seq 4 carried by a second event_id {second}")
exp.append(f"GAP: session {sids['conflict']}: seq 8..8 missing (1 event)")

open(out, "w").write("\n".join(lines) + "\n")
with open(expected, "w") as f:
    for k in ("clean", "dups", "gaps", "conflict"):
        f.write(f"SESSION {k} {sids[k]}\n")
    for l in sorted(exp):
        f.write(l + "\n")
