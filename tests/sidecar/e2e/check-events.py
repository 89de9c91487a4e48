#!/usr/bin/env python3
"""check-events.py EVENTS.jsonl RAWFILE --token T --sub S [--sdk-sessions N]

Checks SessionEvents dumped by mt_e2e_kafka (decoded JSON lines with $sha256 = SHA-256 of
each record value, and the raw record bytes in RAWFILE):
 - per session_id: seq 0..n-1 without gaps or duplicates, one partition, offsets in seq
   order, prev_hash null at seq 0 and the previous record's SHA-256 after it;
 - no event_id twice;
 - identity: auth_method jwt, subject S, token_fingerprint = hex SHA-256(T);
 - the raw token (and each of its three parts) appears nowhere in RAWFILE;
 - --sdk-sessions N: N client sessions of tests/sdk (ts-client.mjs / py-client.py), each
   with every client request and its result, the server-to-client requests and the
   client's answers, the GET stream and the DELETE; N initialize exchanges.
Prints a summary; exit 1 with the list of failures."""
import argparse, collections, hashlib, json, sys

ap = argparse.ArgumentParser()
ap.add_argument("events"); ap.add_argument("raw")
ap.add_argument("--token", required=True); ap.add_argument("--sub", required=True)
ap.add_argument("--sdk-sessions", type=int, default=0)
a = ap.parse_args()

evs = [json.loads(l) for l in open(a.events) if l.strip()]
fails = []
def fail(msg):
    fails.append(msg)

if not evs:
    fail("no events")
ids = collections.Counter(e["event_id"] for e in evs)
dups = [k for k, v in ids.items() if v > 1]
if dups:
    fail(f"{len(dups)} event_id(s) recorded more than once, e.g. {dups[:3]}")

fp = hashlib.sha256(a.token.encode()).hexdigest()
# Internal events (session_end...) carry no client identity.
for field, want in (("auth_method", "jwt"), ("subject", a.sub), ("token_fingerprint", fp)):
    bad = [e for e in evs if e["direction"] != "internal"
           and (e.get("identity") or {}).get(field) != want]
    if bad:
        e = bad[0]
        fail(f"{len(bad)} event(s) with identity.{field} != {want!r}, e.g. "
             f"{e['session_id']}#{e['seq']} ({e['kind']}): {(e.get('identity') or {}).get(field)!r}")

sessions = collections.defaultdict(list)
for e in evs:
    sessions[e["session_id"]].append(e)
for sid, es in sessions.items():
    es.sort(key=lambda e: e["seq"])
    seqs = [e["seq"] for e in es]
    if seqs != list(range(len(es))):
        fail(f"session {sid}: seq {seqs[:10]}... not gapless from 0 ({len(es)} events)")
    parts = {e["$partition"] for e in es}
    if len(parts) != 1:
        fail(f"session {sid}: spread over partitions {parts}")
    offs = [e["$offset"] for e in es]
    if offs != sorted(offs):
        fail(f"session {sid}: offsets not in seq order")
    for i, e in enumerate(es):
        want = None if i == 0 else es[i - 1]["$sha256"]
        if e["seq"] == i and e.get("prev_hash") != want:
            fail(f"session {sid}#{e['seq']}: prev_hash {e.get('prev_hash')} want {want}")
            break

raw = open(a.raw, "rb").read()
parts = a.token.split(".")
for name, needle in [("token", a.token)] + [(f"token part {i}", p) for i, p in enumerate(parts) if len(p) >= 16]:
    if needle.encode() in raw:
        fail(f"raw {name} found in the topic's record bytes")

def payload(e):
    return e.get("payload_masked") or ""

def messages(e):
    """JSON-RPC messages in an event's payload: a JSON body (or batch), or an SSE event's
    data (recorded as the data itself, or as the raw event text with data: lines)."""
    p = payload(e)
    try:
        docs = [json.loads(p)]
    except ValueError:
        docs = []
        for line in p.splitlines():
            if line.startswith("data:"):
                try:
                    docs.append(json.loads(line[5:]))
                except ValueError:
                    pass
    out = []
    for d in docs:
        out += [m for m in (d if isinstance(d, list) else [d]) if isinstance(m, dict)]
    return out

def has_result_for(es, rid):
    """A server_to_client event answering JSON-RPC id rid with a result."""
    return any(str(m.get("id")) == str(rid) and "result" in m
               for e in es if e["direction"] == "server_to_client" for m in messages(e))

if a.sdk_sessions:
    inits = [e for e in evs if e["kind"] == "request" and (e.get("rpc") or {}).get("method") == "initialize"]
    if len(inits) != a.sdk_sessions:
        fail(f"{len(inits)} initialize requests recorded, want {a.sdk_sessions}")
    for e in inits:
        if not has_result_for(sessions[e["session_id"]], e["rpc"]["id"]):
            fail(f"initialize {e['session_id']}: no recorded result")
    client = [sid for sid, es in sessions.items()
              if any((x.get("rpc") or {}).get("method") == "notifications/initialized" for x in es)]
    if len(client) != a.sdk_sessions:
        fail(f"{len(client)} client sessions (with notifications/initialized), want {a.sdk_sessions}")
    want = collections.Counter({"tools/list": 1, "tools/call": 5, "resources/list": 1,
                                "resources/read": 1, "prompts/list": 1, "prompts/get": 1})
    for sid in client:
        es = sessions[sid]
        reqs = [e for e in es if e["direction"] == "client_to_server" and e["kind"] == "request"
                and (e.get("rpc") or {}).get("method")]
        got = collections.Counter(e["rpc"]["method"] for e in reqs if e["rpc"]["method"] != "initialize")
        if got != want:
            fail(f"session {sid}: client requests {dict(got)}, want {dict(want)}")
        for e in reqs:
            body = (messages(e) or [{}])[0]
            if e["rpc"]["method"] == "tools/call" and e["rpc"].get("tool") != (body.get("params") or {}).get("name"):
                fail(f"session {sid}#{e['seq']}: rpc.tool {e['rpc'].get('tool')!r}, body names {(body.get('params') or {}).get('name')!r}")
            if not has_result_for(es, e["rpc"]["id"]):
                fail(f"session {sid}#{e['seq']}: no recorded result for {e['rpc']['method']} id {e['rpc']['id']}")
        # server-to-client requests (sampling, elicitation, roots) and the client's answers
        s2c = {(m["method"], str(m["id"])) for e in es
               if e["direction"] == "server_to_client" and e["kind"] == "sse_event"
               for m in messages(e) if "method" in m and "id" in m}
        methods = {m for m, _ in s2c}
        for m in ("sampling/createMessage", "elicitation/create", "roots/list"):
            if m not in methods:
                fail(f"session {sid}: server-to-client {m} not recorded")
        answered = {str(m.get("id")) for e in es if e["direction"] == "client_to_server"
                    for m in messages(e) if "result" in m}
        for m, rid in s2c:
            if rid not in answered:
                fail(f"session {sid}: client's answer to {m} (id {rid}) not recorded")
        http = [(e["http"] or {}).get("method") for e in es]
        if "GET" not in http:
            fail(f"session {sid}: GET stream not recorded")
        dels = [e for e in es if (e["http"] or {}).get("method") == "DELETE"]
        if not any(e["kind"] == "request" for e in dels) or not any(e["kind"] == "response" for e in dels):
            fail(f"session {sid}: DELETE request/response not recorded")

kinds = collections.Counter(e["kind"] for e in evs)
print(f"check-events: {len(evs)} events, {len(sessions)} sessions, kinds {dict(kinds)}, "
      f"subject {a.sub}, fingerprint {fp[:12]}..")
if fails:
    print(f"check-events: {len(fails)} failure(s):", file=sys.stderr)
    for f in fails[:40]:
        print("  " + f, file=sys.stderr)
    sys.exit(1)
print("check-events: all checks passed")
