#!/usr/bin/env bash
# sidecar_v2_sessions (issue 16, acceptance 2): MCP SDK v2 client sessions (2026-07-28:
# discover, lists, prompt, calls, a multi-round-trip elicitation, subscriptions/listen with a
# resource-updated notification, read) directly against the dual-stack v2 servers and through
# the real mcptrail-sidecar (strict, recording to a fresh topic on real Kafka); transcripts
# must be byte-identical. Pairs: TS SDK v2 client x TS SDK v2 server, Python mcp 2.x client x
# Python server, the TS client x the Python server, a 2025-era client (TS SDK 1.32) against
# the same TS v2 server, and the Go SDK (v1.7.0) client against both servers. Then the record: the deploy's two rounds under one call id (rounds 1
# and 2, the second carrying the server's requestState), resultType of each result, the
# clients' _meta clientInfo, the listen stream's notification recorded as its own event, and
# no raw token anywhere.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_need_kafka
e2e_need_peers
[ -d "$root/tests/peers/node_modules/@modelcontextprotocol/server" ] ||
  e2e_skip "@modelcontextprotocol/server not installed (scripts/deps-node.sh)"
command -v go >/dev/null || e2e_skip "go not installed (the Go SDK client is built here)"
t0=$SECONDS
go_client=$("$root/tests/sdk/go-v2-client/build.sh") # cached under ~/.cache/mcptrail
node="$root/tests/peers/node_modules/.bin/node"
fail() {
  echo "sidecar_v2_sessions FAIL: $*" >&2
  tail -n 12 "$tmp/ts/sidecar.log" "$tmp/pysc/sidecar.log" >&2 || true
  exit 1
}

ts_up=$(free_port)
py_up=$(free_port)
"$root/tests/conformance/start-scenario-server-v2.sh" "$ts_up" "$MT_PEERS_RUN/v2.pid" >/dev/null
e2e_on_exit "'$root/tests/sdk/stop.sh' '$MT_PEERS_RUN/v2.pid'"
MT_PYTHON="$py" "$root/tests/conformance/start-scenario-server-py.sh" "$py_up" "$MT_PEERS_RUN/py.pid" >/dev/null
e2e_on_exit "'$root/tests/sdk/stop.sh' '$MT_PEERS_RUN/py.pid'"
topic=$(new_topic v2sessions)
start_sidecar "$tmp/ts" "$ts_up" --topic "$topic"
ts_sc=$sidecar_url
mkdir -p "$tmp/pysc" && cp -r "$tmp/ts/keys" "$tmp/pysc/keys"
start_sidecar "$tmp/pysc" "$py_up" --topic "$topic"
py_sc=$sidecar_url
sub="e2e-v2-$$"
token=$("$here/token.sh" "$tmp/ts" "$sub")

# run NAME CLIENT... : the client direct (URL_DIRECT) and proxied (URL_PROXIED), same transcript
pair() {
  local name=$1 direct=$2 proxied=$3; shift 3
  "$@" "$direct" --out "$tmp/$name.direct.json" 2>"$tmp/$name.direct.err" ||
    fail "$name direct: $(cat "$tmp/$name.direct.err")"
  "$@" "$proxied" --token "$token" --out "$tmp/$name.proxied.json" 2>"$tmp/$name.proxied.err" ||
    fail "$name proxied: $(cat "$tmp/$name.proxied.err") $(cat "$tmp/$name.proxied.json")"
  cmp -s "$tmp/$name.direct.json" "$tmp/$name.proxied.json" ||
    fail "$name: transcripts differ: $(diff "$tmp/$name.direct.json" "$tmp/$name.proxied.json" | head -20)"
  echo "e2e: $name: $(jq '.steps | length' "$tmp/$name.direct.json") steps, identical direct and proxied" >&2
}
ts_mcp="http://127.0.0.1:$ts_up/mcp"
py_mcp="http://127.0.0.1:$py_up/mcp"
pair ts-v2 "$ts_mcp" "$ts_sc" "$node" "$root/tests/sdk/ts-v2-client.mjs"
pair py-v2 "$py_mcp" "$py_sc" "$py" "$root/tests/sdk/py-v2-client.py"
pair ts-v2-on-py "$py_mcp" "$py_sc" "$node" "$root/tests/sdk/ts-v2-client.mjs"
pair ts-legacy "$ts_mcp" "$ts_sc" "$node" "$root/tests/sdk/ts-v2-client.mjs" --legacy
pair go-v2 "$ts_mcp" "$ts_sc" "$go_client"
pair go-v2-on-py "$py_mcp" "$py_sc" "$go_client"
jq -e '[.steps[] | select(.step == "deploy")][0].rounds == 2' "$tmp/ts-v2.proxied.json" >/dev/null ||
  fail "the TS deploy was not a two-round call: $(cat "$tmp/ts-v2.proxied.json")"

# Mcp-Param-* headers: the sidecar learned test_x_mcp_header's declaration from the sessions'
# tools/list; a header that disagrees with the body is refused by the sidecar itself
# (data.mcptrail names its condition), a matching one passes
xcall() { # xcall REGION_HEADER -> response body
  curl -s -X POST "$ts_sc" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' \
    -H 'Mcp-Method: tools/call' -H 'Mcp-Name: test_x_mcp_header' -H "Mcp-Param-Region: $1" \
    -d '{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"test_x_mcp_header","arguments":{"region":"eu"},"_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"curl","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}}}' |
    sed -n 's/^data: //p;/^{/p'
}
r=$(xcall us)
jq -e '.error.code == -32020 and .error.data.mcptrail == "param-header-mismatch"' <<<"$r" >/dev/null ||
  fail "a disagreeing Mcp-Param-Region was not refused by the sidecar: $r"
r=$(xcall eu)
jq -e '.result.content[0].text == "region=eu"' <<<"$r" >/dev/null || fail "a matching Mcp-Param-Region: $r"
echo "e2e: Mcp-Param-Region checked against the body by the sidecar" >&2

"$e2e_kafka" dump "$topic" "$tmp/raw" 40 3000 60000 >"$tmp/events.jsonl"
# the deploy of the TS v2 session: two request rounds of one call, results typed
jq -se '[.[] | select(.kind == "request" and .rpc.tool == "v2_deploy" and .call != null)] |
    group_by(.call.call_id) | map(map(.call.round) | sort) | any(. == [1, 2])' \
  "$tmp/events.jsonl" >/dev/null || fail "no v2_deploy call recorded as rounds 1 and 2 of one call"
jq -se '[.[] | select(.call.result_type == "input_required")] | length >= 3' "$tmp/events.jsonl" >/dev/null ||
  fail "input_required results not recorded (one per v2 deploy)"
jq -se '[.[] | select(.call.result_type == "complete" and .rpc.tool == "v2_deploy")] | length >= 3' \
  "$tmp/events.jsonl" >/dev/null || fail "completed deploy results not recorded"
for c in mcptrail-ts-v2-client; do
  jq -se --arg c "$c" '[.[] | select(.kind == "request" and .client.name == $c)] | length >= 5' \
    "$tmp/events.jsonl" >/dev/null || fail "client info of $c not recorded"
done
jq -se '[.[] | select(.rpc.method == "notifications/resources/updated")] | length >= 2' \
  "$tmp/events.jsonl" >/dev/null || fail "the listen streams' notifications not recorded per event"
jq -se '[.[] | select(.kind == "request" and .rpc.method == "subscriptions/listen")] | length >= 2' \
  "$tmp/events.jsonl" >/dev/null || fail "subscriptions/listen requests not recorded"
jq -se '[.[] | select(.kind == "request" and .rpc.tool == "test_x_mcp_header" and .traceparent ==
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")] | length == 1' "$tmp/events.jsonl" >/dev/null ||
  fail "the _meta traceparent was not recorded"
! grep -q -- "$token" "$tmp/raw" || fail "a raw token reached the topic"
stop_sidecar_checked "$tmp/ts" "$tmp/pysc"
echo "sidecar_v2_sessions: PASS ($((SECONDS - t0)) s)"
