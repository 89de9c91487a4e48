#!/usr/bin/env bash
# wrap_sessions (issue 17, acceptance 2): real stdio MCP servers driven by the SDKs' stdio client
# transports, once directly and once with mcptrail-wrap in front (strict mode, the job's OIDC
# token from a file, recording to a fresh topic on real Kafka); transcripts must be identical:
#   - scenario-server-v2.mjs --stdio (TS SDK v2) with the TS v2 client, 2026-07-28 and 2025;
#   - scenario-server-py.py --stdio (Python mcp 2.x) with the Python v2 client;
#   - server-everything (stdio) with the TS SDK 1.32 client (progress, sampling, elicitation,
#     roots: the server's requests to the client pass through the wrapper both ways);
#   - server-filesystem with the TS client.
# Then the record: every message of each wrapper run in one recorded session (the TS v2
# client's stdio transport starts one more run for its version probe), with the job's
# identity (subject, CI claims, the token's fingerprint, never the token), instance_start and
# instance_stop of each wrapper, session_end, and as many server-to-client messages recorded
# as the client saw.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_need_kafka
e2e_need_peers
t0=$SECONDS
fail() { echo "wrap_sessions FAIL: $*" >&2; exit 1; }
sub="repo:acme/payments-api:ref:refs/heads/main"
wrap_setup wrap "$sub"
mkdir -p "$tmp/fs-direct" "$tmp/fs-wrapped"

pair() { # NAME CLIENT... -- SERVER...: the client with --stdio SERVER, then --stdio WRAP SERVER
  local name=$1; shift
  local client=() server=()
  while [ "$1" != -- ]; do client+=("$1"); shift; done
  shift
  server=("$@")
  "${client[@]}" --out "$tmp/$name.direct.json" --stdio "${server[@]}" 2>"$tmp/$name.direct.err" ||
    fail "$name direct: $(tail -5 "$tmp/$name.direct.err")"
  "${client[@]}" --out "$tmp/$name.wrapped.json" --stdio "${wrap[@]}" "${server[@]}" \
    2>"$tmp/$name.wrapped.err" || fail "$name wrapped: $(grep -v '^{' "$tmp/$name.wrapped.err" | tail -5)"
  cmp -s "$tmp/$name.direct.json" "$tmp/$name.wrapped.json" ||
    fail "$name: transcripts differ: $(diff "$tmp/$name.direct.json" "$tmp/$name.wrapped.json" | head -20)"
  echo "e2e: $name: $(jq '.steps | length' "$tmp/$name.direct.json") steps, identical with and without mcptrail-wrap" >&2
}
pair ts-v2 "$node" "$root/tests/sdk/ts-v2-client.mjs" -- "$node" "$root/tests/conformance/scenario-server-v2.mjs" --stdio
pair ts-legacy "$node" "$root/tests/sdk/ts-v2-client.mjs" --legacy -- "$node" "$root/tests/conformance/scenario-server-v2.mjs" --stdio
pair py-v2 "$py" "$root/tests/sdk/py-v2-client.py" -- "$py" "$root/tests/conformance/scenario-server-py.py" --stdio
pair ts-everything "$node" "$root/tests/sdk/ts-client.mjs" -- "$node" "$mods/server-everything/dist/index.js" stdio
"$node" "$root/tests/sdk/ts-fs-client.mjs" --root "$tmp/fs-direct" --out "$tmp/fs.direct.json" \
  --stdio "$node" "$mods/server-filesystem/dist/index.js" "$tmp/fs-direct" 2>"$tmp/fs.direct.err" ||
  fail "filesystem direct: $(tail -5 "$tmp/fs.direct.err")"
"$node" "$root/tests/sdk/ts-fs-client.mjs" --root "$tmp/fs-wrapped" --out "$tmp/fs.wrapped.json" \
  --stdio "${wrap[@]}" "$node" "$mods/server-filesystem/dist/index.js" "$tmp/fs-wrapped" \
  2>"$tmp/fs.wrapped.err" || fail "filesystem wrapped: $(grep -v '^{' "$tmp/fs.wrapped.err" | tail -5)"
cmp -s "$tmp/fs.direct.json" "$tmp/fs.wrapped.json" ||
  fail "filesystem: transcripts differ: $(diff "$tmp/fs.direct.json" "$tmp/fs.wrapped.json" | head -20)"
[ -f "$tmp/fs-wrapped/reports/build-42.txt" ] || fail "filesystem: the session's file is not there"
echo "e2e: filesystem: identical with and without mcptrail-wrap" >&2
if grep -h '"level":"error"' "$tmp"/*.wrapped.err "$tmp/fs.wrapped.err" >&2; then fail "the wrapper logged errors"; fi
if grep -h -E "ERROR: [A-Za-z]*Sanitizer|runtime error:" "$tmp"/*.wrapped.err >&2; then fail "sanitizer report"; fi

"$e2e_kafka" dump "$topic" "$tmp/raw" 5 3000 60000 > "$tmp/events.jsonl"
python3 - "$tmp/events.jsonl" "$tmp/raw" "$tmp/token" "$sub" <<'PY' || fail "record check"
import collections, hashlib, json, sys
path, raw, token_file, sub = sys.argv[1:5]
token = open(token_file).read().strip()
ev = [json.loads(l) for l in open(path)]
assert token.encode() not in open(raw, "rb").read(), "raw token in a record"
fp = hashlib.sha256(token.encode()).hexdigest()
starts = [e for e in ev if e["kind"] == "instance_start"]
stops = [e for e in ev if e["kind"] == "instance_stop"]
# the TS v2 client's stdio transport starts a probe connection first: 6 wrapper runs or more
assert len(starts) >= 5 and len(stops) == len(starts), f"{len(starts)} instance_start, {len(stops)} instance_stop"
by = collections.defaultdict(list)
for e in ev:
    if e["kind"] not in ("instance_start", "instance_stop", "heartbeat"):
        by[e["session_id"]].append(e)
assert len(by) == len(starts), f"{len(by)} recorded sessions for {len(starts)} wrapper runs"
with_calls = 0
for sid, s in by.items():
    s.sort(key=lambda x: x["seq"])
    assert [x["seq"] for x in s] == list(range(len(s))), f"session {sid}: seq gaps"
    assert s[-1]["kind"] == "session_end", f"session {sid} does not end with session_end"
    for x in s[:-1]:
        i = x["identity"]
        assert i["subject"] == sub and i["token_fingerprint"] == fp and i["auth_method"] == "jwt", i
        assert (i.get("ci") or {}).get("repository") == "acme/payments-api", i.get("ci")
    dirs = collections.Counter(x["direction"] for x in s)
    assert dirs["client_to_server"] and dirs["server_to_client"], dirs
    with_calls += any((x.get("rpc") or {}).get("method") == "tools/call" for x in s)
assert with_calls == 5, f"{with_calls} sessions with tools/call (5 sessions ran calls)"
calls = sum(1 for e in ev if e["kind"] == "request" and (e.get("rpc") or {}).get("method") == "tools/call")
srv_req = sum(1 for e in ev if e["kind"] == "request" and e["direction"] == "server_to_client")
print(f"e2e: record: {len(ev)} events, {len(by)} sessions with identity {sub}, {calls} tools/call, "
      f"{srv_req} server-to-client requests", file=sys.stderr)
PY
echo "wrap_sessions: passed in $((SECONDS - t0)) s"
