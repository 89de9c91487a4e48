#!/usr/bin/env bash
# sidecar_stdio (issue 17, acceptance 1 and the sidecar half of 3): real stdio MCP servers run
# by the real mcptrail-sidecar (upstream.command; strict mode, JWT, recording to a fresh topic
# on real Kafka) and real SDK clients over Streamable HTTP:
#   - scenario-server-v2.mjs --stdio (TS SDK v2): the TS v2 client (2026-07-28) and the same
#     client in 2025 mode; transcripts identical to the same server over HTTP;
#   - scenario-server-py.py --stdio (Python mcp 2.x): the Python v2 client; identical too;
#   - @modelcontextprotocol/server-everything in stdio mode: the TS SDK 1.32 and Python SDK
#     clients' full sessions (progress, sampling, elicitation, roots); steps and server requests
#     identical to server-everything over HTTP, and every notification the HTTP run got also
#     arrived (over stdio the server's list_changed notifications are not tied to a finished
#     request, so the sidecar delivers them where an HTTP server drops them);
#   - @modelcontextprotocol/server-filesystem: the TS client; identical to the same client
#     speaking stdio to the server directly.
# Then the record (identity on every event, one recorded session per 2025 MCP session) and
# the faults, with tests/sidecar/e2e/stdio-fault-server.mjs: a crash mid-call (the client
# gets a JSON-RPC error, the exit is recorded, the next request gets a fresh process), a line
# that is not JSON, a 100 MiB line, and Kafka unreachable in strict mode (refused, and the
# server's ledger shows the call never reached it).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_need_kafka
e2e_need_peers
t0=$SECONDS
node="$root/tests/peers/node_modules/.bin/node"
mods="$root/tests/peers/node_modules/@modelcontextprotocol"
[ -f "$mods/server-filesystem/dist/index.js" ] || e2e_skip "server-filesystem not installed (scripts/deps-node.sh)"
fail() {
  echo "sidecar_stdio FAIL: $*" >&2
  for d in "$tmp"/sc-*; do [ -f "$d/sidecar.log" ] && tail -n 8 "$d/sidecar.log" >&2; done
  exit 1
}
topic=$(new_topic stdio)
# stdio_sidecar NAME CMD...: a sidecar running CMD as its stdio server; sets sidecar_url
stdio_sidecar() {
  local name=$1; shift
  local argv
  argv=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "$@")
  mkdir -p "$tmp/sc-$name"
  [ -d "$tmp/keys" ] && cp -r "$tmp/keys" "$tmp/sc-$name/keys"
  start_sidecar "$tmp/sc-$name" 1 --topic "$topic" -- "--upstream.command=$argv" \
    --upstream.stop_grace=2s || fail "sidecar $name did not start"
  [ -d "$tmp/keys" ] || cp -r "$tmp/sc-$name/keys" "$tmp/keys"
}
sub="e2e-stdio-$$"

# ---- sessions ------------------------------------------------------------------------------
ts_up=$(free_port)
py_up=$(free_port)
ev_up=$(free_port)
"$root/tests/conformance/start-scenario-server-v2.sh" "$ts_up" "$MT_PEERS_RUN/v2.pid" >/dev/null
e2e_on_exit "'$root/tests/sdk/stop.sh' '$MT_PEERS_RUN/v2.pid'"
MT_PYTHON="$py" "$root/tests/conformance/start-scenario-server-py.sh" "$py_up" "$MT_PEERS_RUN/py.pid" >/dev/null
e2e_on_exit "'$root/tests/sdk/stop.sh' '$MT_PEERS_RUN/py.pid'"
start_everything "$ev_up"
stdio_sidecar ts "$node" "$root/tests/conformance/scenario-server-v2.mjs" --stdio
ts_sc=$sidecar_url
stdio_sidecar py "$py" "$root/tests/conformance/scenario-server-py.py" --stdio
py_sc=$sidecar_url
stdio_sidecar ev "$node" "$mods/server-everything/dist/index.js" stdio
ev_sc=$sidecar_url
mkdir -p "$tmp/fs-direct" "$tmp/fs-proxied"
stdio_sidecar fs "$node" "$mods/server-filesystem/dist/index.js" "$tmp/fs-proxied"
fs_sc=$sidecar_url
token=$("$here/token.sh" "$tmp/sc-ts" "$sub")

pair() { # NAME DIRECT_URL PROXIED_URL CLIENT...: identical transcripts
  local name=$1 direct=$2 proxied=$3; shift 3
  "$@" "$direct" --out "$tmp/$name.direct.json" 2>"$tmp/$name.direct.err" ||
    fail "$name direct: $(cat "$tmp/$name.direct.err")"
  "$@" "$proxied" --token "$token" --out "$tmp/$name.proxied.json" 2>"$tmp/$name.proxied.err" ||
    fail "$name proxied: $(cat "$tmp/$name.proxied.err")"
  cmp -s "$tmp/$name.direct.json" "$tmp/$name.proxied.json" ||
    fail "$name: transcripts differ: $(diff "$tmp/$name.direct.json" "$tmp/$name.proxied.json" | head -20)"
  echo "e2e: $name: $(jq '.steps | length' "$tmp/$name.direct.json") steps, identical over HTTP and through the stdio sidecar" >&2
}
pair ts-v2 "http://127.0.0.1:$ts_up/mcp" "$ts_sc" "$node" "$root/tests/sdk/ts-v2-client.mjs"
pair ts-legacy "http://127.0.0.1:$ts_up/mcp" "$ts_sc" "$node" "$root/tests/sdk/ts-v2-client.mjs" --legacy
pair py-v2 "http://127.0.0.1:$py_up/mcp" "$py_sc" "$py" "$root/tests/sdk/py-v2-client.py"

everything() { # NAME CLIENT...: steps and server requests identical, notifications a superset
  local name=$1; shift
  "$@" "http://127.0.0.1:$ev_up/mcp" --out "$tmp/$name.direct.json" 2>"$tmp/$name.direct.err" ||
    fail "$name direct: $(cat "$tmp/$name.direct.err")"
  "$@" "$ev_sc" --token "$token" --out "$tmp/$name.proxied.json" 2>"$tmp/$name.proxied.err" ||
    fail "$name proxied: $(cat "$tmp/$name.proxied.err")"
  python3 - "$tmp/$name.direct.json" "$tmp/$name.proxied.json" "$name" <<'EOF' || fail "$name: transcripts differ"
import json, sys
d, p = (json.load(open(f)) for f in sys.argv[1:3])
for k in ("steps", "server_requests"):
    if d.get(k) != p.get(k):
        sys.exit(f"{sys.argv[3]}: {k} differ")
missing = [n for n in d.get("notifications", []) if n not in p.get("notifications", [])]
if missing:
    sys.exit(f"{sys.argv[3]}: notifications of the HTTP run missing through the sidecar: {missing[:3]}")
print(f"e2e: {sys.argv[3]}: {len(d['steps'])} steps and {len(d.get('server_requests', []))} server requests "
      f"identical, {len(p.get('notifications', []))} notifications (HTTP run: {len(d.get('notifications', []))})",
      file=sys.stderr)
EOF
}
everything ts-everything "$node" "$root/tests/sdk/ts-client.mjs"
everything py-everything "$py" "$root/tests/sdk/py-client.py"

"$node" "$root/tests/sdk/ts-fs-client.mjs" --root "$tmp/fs-direct" --out "$tmp/fs.direct.json" \
  --stdio "$node" "$mods/server-filesystem/dist/index.js" "$tmp/fs-direct" 2>"$tmp/fs.direct.err" ||
  fail "filesystem direct: $(cat "$tmp/fs.direct.err")"
"$node" "$root/tests/sdk/ts-fs-client.mjs" "$fs_sc" --token "$token" --root "$tmp/fs-proxied" \
  --out "$tmp/fs.proxied.json" 2>"$tmp/fs.proxied.err" || fail "filesystem proxied: $(cat "$tmp/fs.proxied.err")"
cmp -s "$tmp/fs.direct.json" "$tmp/fs.proxied.json" ||
  fail "filesystem: transcripts differ: $(diff "$tmp/fs.direct.json" "$tmp/fs.proxied.json" | head -20)"
[ -f "$tmp/fs-proxied/reports/build-42.txt" ] || fail "filesystem: the file the session wrote is not there"
echo "e2e: filesystem: $(jq '.steps | length' "$tmp/fs.direct.json") steps, identical over stdio and through the stdio sidecar" >&2

# ---- faults --------------------------------------------------------------------------------
ledger="$tmp/fault-ledger"
: >"$ledger"
mkdir -p "$tmp/sc-fault"
cp -r "$tmp/keys" "$tmp/sc-fault/keys"
start_sidecar "$tmp/sc-fault" 1 --topic "$topic" -- \
  "--upstream.command=[\"$node\",\"$here/stdio-fault-server.mjs\"]" \
  --upstream.env="MT_FAULT_LEDGER=$ledger" --upstream.max_line_bytes=1MiB \
  --upstream.restart_backoff=10ms --upstream.stop_grace=2s || fail "fault sidecar did not start"
fault_sc=$sidecar_url
# The line's cost is what the high-water mark gains across the fault calls: the
# start-up figure includes the mask database compile, which under ASan's
# quarantine (freed memory is held back) alone passes 300 MiB.
hwm() { awk '/VmHWM/ {print $2}' "/proc/$(cat "$tmp/sc-fault/sidecar.pid")/status"; }
rss0=$(hwm)
M='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"e2e","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}'
call() { # ID TOOL -> the JSON-RPC answer (SSE data or JSON body)
  curl -sS --max-time 20 -X POST "$fault_sc" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H "Mcp-Name: $2" \
    -d "{\"jsonrpc\":\"2.0\",\"id\":$1,\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":{\"message\":\"m$1\"},$M}}" |
    sed -n 's/^data: //p; /^{/p' | tail -n 1
}
expect_exit_error() { # ID TOOL: the call's answer is the sidecar's upstream_exited error
  local out
  out=$(call "$1" "$2")
  jq -e --argjson id "$1" '.id == $id and .error.code == -32603 and .error.data.mcptrail == "upstream_exited"' \
    <<<"$out" >/dev/null || fail "$2: expected an upstream_exited error, got: $out"
}
[ "$(call 1 echo | jq -r '.result.content[0].text')" = m1 ] || fail "echo through the fault server"
expect_exit_error 2 crash
sleep 0.2
[ "$(call 3 echo | jq -r '.result.content[0].text')" = m3 ] || fail "no fresh server after the crash"
expect_exit_error 4 garbage
sleep 0.2
expect_exit_error 5 huge
sleep 0.2
[ "$(call 6 echo | jq -r '.result.content[0].text')" = m6 ] || fail "no fresh server after the huge line"
grep -q '"a line that is not JSON-RPC\|not JSON-RPC on stdout' "$tmp/sc-fault/sidecar.log" ||
  fail "the garbage line is not in the sidecar log"
grep -q 'stdout line longer than the limit' "$tmp/sc-fault/sidecar.log" || fail "the huge line is not in the log"
rss=$(hwm)
grow=$((rss - rss0))
[ "$grow" -lt 65536 ] ||
  fail "sidecar peak RSS grew ${grow} KiB (${rss0} -> ${rss}) over a 100 MiB line (bounded by max_line_bytes)"
echo "e2e: faults: crash, garbage and a 100 MiB line answered with errors, servers restarted (peak RSS ${rss0} -> ${rss} KiB)" >&2

# Kafka unreachable in strict mode: a sidecar whose brokers do not exist refuses the call,
# and the server never runs it.
mkdir -p "$tmp/sc-nokafka"
cp -r "$tmp/keys" "$tmp/sc-nokafka/keys"
dead=$(free_port)
MT_KAFKA_BROKERS="127.0.0.1:$dead" start_sidecar "$tmp/sc-nokafka" 1 --no-ready -- \
  "--upstream.command=[\"$node\",\"$here/stdio-fault-server.mjs\"]" \
  --upstream.env="MT_FAULT_LEDGER=$tmp/nokafka-ledger" --kafka.properties=message.timeout.ms=3000 ||
  fail "no-Kafka sidecar did not start"
before=$(wc -l <"$ledger")
code=$(curl -sS -o "$tmp/nokafka.out" -w '%{http_code}' --max-time 30 -X POST "$sidecar_url" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' \
  -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo' \
  -d "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{},$M}}")
[ "$code" = 503 ] || fail "Kafka down (strict): expected 503, got $code $(cat "$tmp/nokafka.out")"
[ ! -s "$tmp/nokafka-ledger" ] || fail "Kafka down (strict): the server ran the call: $(cat "$tmp/nokafka-ledger")"
echo "e2e: Kafka unreachable (strict): 503, the call never reached the server" >&2

# ---- the record ----------------------------------------------------------------------------
stop_sidecar_checked "$tmp"/sc-ts "$tmp"/sc-py "$tmp"/sc-ev "$tmp"/sc-fs "$tmp"/sc-fault "$tmp"/sc-nokafka ||
  fail "sanitizer report"
# a clean stop (SIGTERM) stops the servers too: none of the processes the sidecars started runs
for pid in $(cat "$tmp"/sc-*/sidecar.log | sed -n 's/.*"msg":"server started","pid":"\([0-9]*\)".*/\1/p'); do
  ! kill -0 "$pid" 2>/dev/null || fail "server process $pid outlived its sidecar"
done
grep -q '"msg":"stopping the server processes"' "$tmp/sc-ts/sidecar.log" ||
  fail "the sidecar did not stop its shared server on SIGTERM"
"$e2e_kafka" dump "$topic" "$tmp/raw" 3 3000 60000 > "$tmp/events.jsonl"
python3 - "$tmp/events.jsonl" "$sub" "$token" "$tmp/raw" "$ledger" <<'EOF' || fail "record check"
import collections, hashlib, json, os, sys
path, sub, token, raw, ledger = sys.argv[1:6]
ev = [json.loads(l) for l in open(path)]
assert ev, "no events"
fp = hashlib.sha256(token.encode()).hexdigest()
calls = [e for e in ev if e["kind"] == "request" and (e.get("rpc") or {}).get("method") == "tools/call"]
assert len(calls) >= 20, f"only {len(calls)} tools/call requests recorded"
for e in calls:
    idn = e["identity"]
    assert idn["subject"] == sub and idn["token_fingerprint"] == fp, f"identity of {e['event_id']}: {idn}"
# a 2025 session through a stdio server is one recorded session, initialize to session_end
by = collections.defaultdict(list)
for e in ev:
    by[e["session_id"]].append(e)
legacy = [s for s in by.values() if any((x.get("rpc") or {}).get("method") == "initialize" for x in s)]
assert legacy, "no 2025 session recorded"
ended = 0
for s in legacy:
    s.sort(key=lambda x: x["seq"])
    assert [x["seq"] for x in s] == list(range(len(s))), "a 2025 session's seq has gaps"
    sids = {(x.get("http") or {}).get("mcp_session_id") for x in s if x.get("http")} - {None}
    assert len(sids) == 1, f"a recorded session spans MCP sessions {sids}"
    methods = {(x.get("rpc") or {}).get("method") for x in s}
    assert "tools/call" in methods or "tools/list" in methods, f"a 2025 session without calls: {methods}"
    ended += s[-1]["kind"] == "session_end"
assert ended, "no 2025 session ended (DELETE) in the record"
exits = [e for e in ev if e["kind"] == "error" and "upstream_exit" in (e.get("payload_masked") or "")]
assert len(exits) >= 3, f"{len(exits)} upstream_exit events (crash, garbage, huge line)"
assert any("restart_in_ms" in e["payload_masked"] for e in exits), "no restart recorded"
# every call the fault server executed was recorded before it ran
ran = [l.split()[1] for l in open(ledger)]
rec = collections.Counter((e.get("rpc") or {}).get("tool") for e in calls)
for tool, n in collections.Counter(ran).items():
    assert rec[tool] >= n, f"{tool}: server ran it {n}x, {rec[tool]} recorded"
assert token.encode() not in open(raw, "rb").read(), "raw token in a record"
print(f"e2e: record: {len(ev)} events, {len(calls)} calls with identity, {len(legacy)} 2025 sessions, "
      f"{len(exits)} upstream exits; every executed call recorded", file=sys.stderr)
EOF
echo "sidecar_stdio: passed in $((SECONDS - t0)) s"
