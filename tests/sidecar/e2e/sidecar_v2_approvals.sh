#!/usr/bin/env bash
# sidecar_v2_approvals (issue 16, acceptance 3): approvals of MCP 2026-07-28 multi-round-trip
# calls, with the TypeScript SDK v2 server (tests/conformance/scenario-server-v2.mjs: v2_deploy
# asks one form elicitation, then writes one ledger line per executed deploy) and client
# (tests/sdk/ts-v2-client.mjs), two real mcptrail-sidecar replicas sharing one
# approvals.state_key_files key, the real mcptrail-approvals service and real Kafka.
#  1. Wait hold: the deploy is held once, alice approves, the server's elicitation round
#     passes without a second hold (its requestState comes back sealed by the sidecar); one
#     approval, one ledger line.
#  2. URL elicitation through a round-robin relay in front of both sidecars (each round lands
#     on the other replica): the first round is answered at once with an input-required
#     result asking to open the console URL; the client's handler approves through the API;
#     the retry passes on the other sidecar, the server's round on the first again; one
#     approval, one ledger line; the rounds are recorded under one call id, numbered 1..3.
#  3. With curl, refusals recorded as errors: a forged sealed state; the approval released
#     on one replica presented again to the other (by an old state, and by the plain call):
#     refused (its release is claimed on approvals.topic_claims); the released state
#     replayed to the other replica (claims) and to the same one (its nonce set) after the
#     deploy ran: refused, the deploy runs once; an expired state. Polling a pending
#     approval with its state again is no replay (it is re-asked).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_need_kafka
e2e_need_peers
for v in MT_APPROVALS_BIN MT_E2E_KAFKA_BIN MT_DEVTOKEN_BIN; do
  [ -x "${!v:-}" ] || e2e_skip "$v is not an executable (ctest sets it)"
done
[ -d "$root/tests/peers/node_modules/@modelcontextprotocol/server" ] ||
  e2e_skip "@modelcontextprotocol/server not installed (scripts/deps-node.sh)"
t0=$SECONDS
node="$root/tests/peers/node_modules/.bin/node"
fail() {
  echo "sidecar_v2_approvals FAIL: $*" >&2
  tail -n 12 "$tmp/sc1/sidecar.log" "$tmp/sc2/sidecar.log" "$tmp/approvals.log" >&2 || true
  exit 1
}

suffix="e2e-v2-$$-$(date +%s)"
T_REQ="mcptrail.approval.requests.$suffix" T_VOTE="mcptrail.approval.votes.$suffix"
T_DEC="mcptrail.approval.decisions.$suffix" T_CLAIM="mcptrail.approval.claims.$suffix"
for t in "$T_REQ" "$T_VOTE" "$T_DEC" "$T_CLAIM"; do "$e2e_kafka" create "$t" 3 >&2; done
topic1=$(new_topic v2appr1)
topic2=$(new_topic v2appr2)

up=$(free_port)
export MT_V2_LEDGER="$tmp/ledger"
"$root/tests/conformance/start-scenario-server-v2.sh" "$up" "$MT_PEERS_RUN/v2.pid" >/dev/null
e2e_on_exit "'$root/tests/sdk/stop.sh' '$MT_PEERS_RUN/v2.pid'"
deploys() { [ -f "$tmp/ledger" ] && wc -l <"$tmp/ledger" || echo 0; }

"$MT_DEVTOKEN_BIN" keygen --out-dir "$tmp/signer" >/dev/null
openssl pkey -in "$tmp/signer/dev-ed25519.pem" -pubout -out "$tmp/decisions.pub.pem"
source "$root/scripts/lib/approval-keys.sh"
mt_keypair "$tmp/keys" sidecar
mt_trust_file "$tmp/trust.json" "sidecar:e2e:$tmp/keys/sidecar.pub.pem"
(umask 077 && openssl rand -hex 32 >"$tmp/state.key") # whitespace around a key is ignored: text
cat >"$tmp/policy.json" <<'JSON'
{"version": 1, "default": "allow", "rules": [
  {"id": "v2-canary-short", "match": {"tool": "v2_deploy",
     "arguments": [{"path": "/service", "op": "eq", "value": "canary"}]},
   "action": "approve", "approval": {"groups": ["sre"], "expiry": 5}},
  {"id": "v2-deploy-sre", "match": {"tool": "v2_deploy"},
   "action": "approve", "approval": {"groups": ["sre"], "expiry": 120}}
]}
JSON
api_port=$(free_port)
base="http://127.0.0.1:$api_port"
sc_flags=(--policy.file="$tmp/policy.json" --approvals.decision_keys="$tmp/decisions.pub.pem"
  --approvals.signing_key_file="$tmp/keys/sidecar.pem" --approvals.topic_requests="$T_REQ"
  --approvals.topic_votes="$T_VOTE" --approvals.topic_decisions="$T_DEC"
  --approvals.expiry_grace=1s --approvals.console_url="$base/console/"
  --approvals.state_key_files="$tmp/state.key" --approvals.topic_claims="$T_CLAIM")
start_sidecar "$tmp/sc1" "$up" --topic "$topic1" -- "${sc_flags[@]}"
url1=$sidecar_url
mkdir -p "$tmp/sc2" && cp -r "$tmp/sc1/keys" "$tmp/sc2/keys" # one IdP for both replicas
start_sidecar "$tmp/sc2" "$up" --topic "$topic2" -- "${sc_flags[@]}"

appr_pid=""
e2e_on_exit 'if [ -n "$appr_pid" ]; then kill -TERM $appr_pid; wait $appr_pid; fi'
MCPTRAIL_KAFKA_BROKERS="$MT_KAFKA_BROKERS" "$MT_APPROVALS_BIN" --api.port="$api_port" \
  --auth.jwks_file="$tmp/sc1/keys/jwks.json" --auth.issuer=https://issuer.mcptrail.test \
  --auth.audiences=mcptrail-e2e --signing.key_file="$tmp/signer/dev-ed25519.pem" \
  --topics.requests="$T_REQ" --topics.votes="$T_VOTE" --topics.decisions="$T_DEC" \
  --trust.file="$tmp/trust.json" >>"$tmp/approvals.log" 2>&1 &
appr_pid=$!
deadline=$((SECONDS + 60))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ]; do
  kill -0 "$appr_pid" 2>/dev/null || fail "mcptrail-approvals exited during start"
  [ $SECONDS -lt $deadline ] || fail "mcptrail-approvals not ready within 60 s"
  sleep 0.2 # poll interval for /readyz
done
sleep 1 # the sidecars read decisions once the topic is assigned

requester=$("$here/token.sh" "$tmp/sc1" ci-deployer --group sre)
alice=$("$here/token.sh" "$tmp/sc1" alice --group sre)
# approve.sh ID|CONSOLE_URL: alice approves; returns once the decision is published and read
cat >"$tmp/approve.sh" <<EOF
#!/usr/bin/env bash
set -eu
set -- "\${1##*#/approvals/}"
for _ in \$(seq 100); do # 404 until the service has read the ApprovalRequest
  code=\$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/approvals/\$1/approve" \
    -H "Authorization: Bearer $alice" -H 'Content-Type: application/json' --data '{"reason":"ok"}')
  [ "\$code" != 404 ] && break
  sleep 0.2
done
case "\$code" in 202|200|409) ;; *) echo "approve \$1: HTTP \$code" >&2; exit 1 ;; esac
for _ in \$(seq 150); do
  s=\$(curl -s "$base/api/v1/approvals/\$1" -H "Authorization: Bearer $alice" | jq -r '"\(.state) \(.published)"')
  [ "\$s" = "approved true" ] && { sleep 1; exit 0; } # 1 s: the sidecars read the decision
  sleep 0.2
done
echo "approval \$1 not approved" >&2; exit 1
EOF
chmod +x "$tmp/approve.sh"
held() { grep '"msg":"call held for approval"' "$1/sidecar.log" | grep -c '"mode":"wait"' || true; }

# --- 1. wait hold, one approval for both rounds -------------------------------------------
"$node" "$root/tests/sdk/ts-v2-client.mjs" "$url1" --token "$requester" --steps deploy \
  --out "$tmp/c1.json" 2>"$tmp/c1.err" &
c1=$!
deadline=$((SECONDS + 30))
until [ "$(held "$tmp/sc1")" -ge 1 ]; do
  [ $SECONDS -lt $deadline ] || fail "step 1: the deploy was not held"
  sleep 0.2 # poll interval
done
id1=$(grep '"msg":"call held for approval"' "$tmp/sc1/sidecar.log" | head -1 | jq -r .approval_id)
[ "$(deploys)" = 0 ] || fail "step 1: the held deploy ran before approval"
"$tmp/approve.sh" "$id1" || fail "step 1: approving $id1"
wait "$c1" || fail "step 1: client failed: $(cat "$tmp/c1.err")"
jq -e '.steps[0].rounds == 2 and .steps[0].result != null' "$tmp/c1.json" >/dev/null ||
  fail "step 1: $(cat "$tmp/c1.json")"
[ "$(held "$tmp/sc1")" = 1 ] || fail "step 1: $(held "$tmp/sc1") holds for one call, want 1"
[ "$(deploys)" = 1 ] || fail "step 1: $(deploys) deploys, want 1"
echo "e2e: 1. wait hold: held once, approved, 2 rounds, ran once" >&2

# --- 2. URL elicitation across two replicas -------------------------------------------------
rr=$(free_port)
"$node" "$here/rr-relay.mjs" "$rr" "$(cat "$tmp/sc1/port")" "$(cat "$tmp/sc2/port")" \
  >"$tmp/rr.log" 2>&1 &
echo $! >"$tmp/rr.pid"
e2e_on_exit "kill \$(cat '$tmp/rr.pid')"
"$root/tests/sdk/wait-port.sh" "$rr" 20 "$(cat "$tmp/rr.pid")" "$tmp/rr.log"
"$node" "$root/tests/sdk/ts-v2-client.mjs" "http://127.0.0.1:$rr/mcp" --token "$requester" \
  --steps deploy --url-elicitation "$tmp/approve.sh" --out "$tmp/c2.json" 2>"$tmp/c2.err" ||
  fail "step 2: client failed: $(cat "$tmp/c2.err") $(cat "$tmp/c2.json")"
jq -e '.steps[0].rounds == 3 and ([.steps[0].elicitations[].mode] == ["url", "form"])' \
  "$tmp/c2.json" >/dev/null || fail "step 2: $(cat "$tmp/c2.json")"
[ "$(deploys)" = 2 ] || fail "step 2: $(deploys) deploys, want 2"
[ "$(( $(held "$tmp/sc1") + $(held "$tmp/sc2") ))" = 1 ] || fail "step 2: a wait hold was opened"
"$e2e_kafka" dump "$topic1" "$tmp/e1.raw" 6 3000 30000 >"$tmp/e1.jsonl" 2>/dev/null
"$e2e_kafka" dump "$topic2" "$tmp/e2.raw" 3 3000 30000 >"$tmp/e2.jsonl" 2>/dev/null
# the URL call: its requests on both topics, one call id, rounds 1..3, one approval
jq -c 'select(.kind == "request" and .rpc.tool == "v2_deploy" and .call != null) |
  {call: .call.call_id, round: .call.round, sealed: .call.sealed, pod: input_filename}' \
  "$tmp/e1.jsonl" "$tmp/e2.jsonl" >"$tmp/rounds.jsonl"
call2=$(jq -rs '[.[] | select(.round == 3)] | last | .call' "$tmp/rounds.jsonl")
jq -se --arg c "$call2" '[.[] | select(.call == $c)] | (map(.round) | sort) == [1, 2, 3]
    and (map(.pod) | unique | length) == 2 and ([.[] | select(.round > 1) | .sealed] | all)' \
  "$tmp/rounds.jsonl" >/dev/null || fail "step 2: rounds of $call2: $(cat "$tmp/rounds.jsonl")"
n=$(jq -s '[.[] | select(.kind == "approval_requested")] | length' "$tmp/e1.jsonl" "$tmp/e2.jsonl")
[ "$n" = 2 ] || fail "step 2: $n approval_requested events for two calls, want 2"
echo "e2e: 2. URL elicitation: answered at once, approved via the API, retry on the other replica, 3 rounds, ran once" >&2

# --- 3. forged, replayed, expired -----------------------------------------------------------
meta='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"curl","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{},"url":{}}}}'
post() { # post URL ID SERVICE [EXTRA_PARAMS_JSON] -> response JSON (SSE data lines joined)
  local extra=${4:-}
  curl -s -X POST "$1" -H "Authorization: Bearer $requester" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' \
    -H 'Mcp-Method: tools/call' -H 'Mcp-Name: v2_deploy' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":$2,\"method\":\"tools/call\",\"params\":{\"name\":\"v2_deploy\",\"arguments\":{\"service\":\"$3\",\"version\":\"9\"},$meta$extra}}" |
    sed -n 's/^data: //p;/^{/p'
}
url2=$(cat "$tmp/sc2/url")
r=$(post "$url1" 31 billing)
s1=$(jq -r .result.requestState <<<"$r")
aid=$(jq -r '.result.inputRequests["io.mcptrail/approval"].params.url' <<<"$r")
[ "$(jq -r .result.resultType <<<"$r")" = input_required ] && [[ $s1 == mtrs1.* ]] || fail "step 3: $r"
# change the MAC's first character (its 6 bits all count: still well-formed base64url)
mac=${s1##*.}
forged="${s1%.*}.$([ "${mac:0:1}" = A ] && echo B || echo A)${mac:1}"
r=$(post "$url2" 32 billing ",\"requestState\":\"$forged\"")
jq -e '.error.code == -32602 and (.error.message | contains("not sealed by this deployment"))' <<<"$r" >/dev/null ||
  fail "step 3: forged state: $r"
r=$(post "$url2" 33 billing ",\"requestState\":\"$s1\"")
s2=$(jq -r .result.requestState <<<"$r")
[[ $s2 == mtrs1.* ]] && [ "$s2" != "$s1" ] || fail "step 3: pending retry: $r"
# an AWAITING state only asks whether the approval is decided: polling again is no replay
r=$(post "$url1" 34 billing ",\"requestState\":\"$s1\"")
[ "$(jq -r .result.resultType <<<"$r")" = input_required ] || fail "step 3: second poll: $r"
echo "e2e: 3a. forged state refused; pending retries re-asked" >&2
"$tmp/approve.sh" "$aid" || fail "step 3: approving $aid"
# released on sc2 (it reads the decision sc1's approval got; the release is claimed)
r=$(post "$url2" 35 billing ",\"requestState\":\"$s2\",\"inputResponses\":{\"io.mcptrail/approval\":{\"action\":\"accept\"}}")
s3=$(jq -r .result.requestState <<<"$r")
[ "$(jq -r '.result.inputRequests.confirm.method' <<<"$r")" = elicitation/create ] && [[ $s3 == mtrs1.* ]] ||
  fail "step 3: approved retry: $r"
# the same approval again on sc1, which holds its ticket: by an old state, and by the
# plain first request; both refused, the release was claimed by sc2
r=$(post "$url1" 40 billing ",\"requestState\":\"$s1\"")
jq -e '.error.code == -32005 and (.error.message | contains("already used"))' <<<"$r" >/dev/null ||
  fail "step 3: the approval released twice (old state on the other replica): $r"
r=$(post "$url1" 41 billing)
jq -e '.error.code == -32005 and (.error.message | contains("already used"))' <<<"$r" >/dev/null ||
  fail "step 3: the approval released twice (plain call on the other replica): $r"
ans=',"inputResponses":{"confirm":{"action":"accept","content":{"confirm":true}}}'
r=$(post "$url1" 36 billing ",\"requestState\":\"$s3\"$ans")
jq -e '.result.content[0].text == "deployed billing@9"' <<<"$r" >/dev/null || fail "step 3: released round: $r"
[ "$(deploys)" = 3 ] || fail "step 3: $(deploys) deploys, want 3"
for id in 37:"$url2" 42:"$url1"; do # the other replica (claims), the same one (its nonce set)
  r=$(post "${id#*:}" "${id%%:*}" billing ",\"requestState\":\"$s3\"$ans")
  jq -e '.error.code == -32602 and (.error.message | contains("already used"))' <<<"$r" >/dev/null ||
    fail "step 3: replayed released state: $r"
done
[ "$(deploys)" = 3 ] || fail "step 3: a replayed state ran the deploy again"
echo "e2e: 3b. one approval released once across replicas; released state replays refused; the deploy ran once" >&2
r=$(post "$url1" 38 canary)
sc=$(jq -r .result.requestState <<<"$r")
[[ $sc == mtrs1.* ]] || fail "step 3: canary: $r"
sleep 6 # the canary approval (5 s) expires
r=$(post "$url2" 39 canary ",\"requestState\":\"$sc\"")
jq -e '.error.code == -32005 and (.error.message | contains("expired"))' <<<"$r" >/dev/null ||
  fail "step 3: expired state: $r"
echo "e2e: 3c. expired state refused" >&2
"$e2e_kafka" dump "$topic1" "$tmp/e1.raw" 10 3000 30000 >"$tmp/e1.jsonl" 2>/dev/null
"$e2e_kafka" dump "$topic2" "$tmp/e2.raw" 6 3000 30000 >"$tmp/e2.jsonl" 2>/dev/null
# each refusal is recorded as an error event of the refused request
for want in 32:1 37:1 39:1 40:1 41:1 42:1; do
  jq -se --arg id "${want%%:*}" --argjson n "${want#*:}" \
    '[.[] | select(.kind == "error" and .rpc.id == $id)] | length == $n' \
    "$tmp/e1.jsonl" "$tmp/e2.jsonl" >/dev/null || fail "step 3: refusals of request ${want%%:*} not recorded"
done
! grep -q -- "$requester" "$tmp/e1.raw" "$tmp/e2.raw" || fail "a raw token reached the topic"
stop_sidecar_checked "$tmp/sc1" "$tmp/sc2"
echo "sidecar_v2_approvals: PASS ($((SECONDS - t0)) s)"
