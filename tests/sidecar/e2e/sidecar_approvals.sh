#!/usr/bin/env bash
# sidecar_approvals (issue 6, acceptance 1-3 and the sidecar's hold): the real
# mcptrail-sidecar in front of a real MCP server (approval-server.mjs, TypeScript SDK), a
# TypeScript SDK client (approval-client.mjs), the real mcptrail-approvals service, real
# Kafka (fresh topics). Policy: deploy to production needs two approvers from sre (wait
# hold, reason and justification required), canary has a 5 s expiry, staging is a ticket.
#  1. A held deploy gets progress notifications; alice approves through the API;
#     mcptrail-approvals is killed with -9 and restarted (its state comes back from the
#     topics: alice's vote is still counted); bob approves; the deploy runs exactly once
#     and the client gets the real result.
#  2. The identical request is held again (single use). While it waits, a forged decision
#     (unknown key), a decision for another request hash (signed with a trusted key)
#     and the replayed decision of
#     step 1 are each ignored and recorded; the call stays held. The requester's own
#     approval is refused (four-eyes). alice denies: the client gets -32004 with her reason.
#  3. Canary: nobody decides; expiry -> -32005.
#  4. Canary again, the client aborts: notifications/cancelled -> cancel vote -> cancelled;
#     a client killed while held: its closed connection cancels the same way.
#  5. Staging (ticket): -32002 with the approval id at once; approved; the identical retry
#     passes once; the next retry gets a new ticket.
#  6. The events topic holds approval_requested / approval_decided (approvers alice, bob)
#     and the three ignored decisions; the deploy log has exactly the two approved runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_need_kafka
e2e_need_peers
for v in MT_APPROVALS_BIN MT_EVENTS_BIN MT_E2E_KAFKA_BIN MT_DEVTOKEN_BIN; do
  [ -x "${!v:-}" ] || e2e_skip "$v is not an executable (ctest sets it)"
done
t0=$SECONDS
node="$root/tests/peers/node_modules/.bin/node"
fail() {
  echo "sidecar_approvals FAIL: $*" >&2
  tail -n 15 "$tmp/sc/sidecar.log" "$tmp/approvals.log" >&2 || true
  exit 1
}

topic=$(new_topic approvals)
suffix="e2e-$$-$(date +%s)"
T_REQ="mcptrail.approval.requests.$suffix" T_VOTE="mcptrail.approval.votes.$suffix"
T_DEC="mcptrail.approval.decisions.$suffix"
for t in "$T_REQ" "$T_VOTE" "$T_DEC"; do "$e2e_kafka" create "$t" 3 >&2; done

# upstream MCP server with a counted side effect
start_approval_server
up=$approval_server_port

"$MT_DEVTOKEN_BIN" keygen --out-dir "$tmp/signer" >/dev/null
"$MT_DEVTOKEN_BIN" keygen --out-dir "$tmp/signer2" >/dev/null
"$MT_DEVTOKEN_BIN" keygen --out-dir "$tmp/forger" >/dev/null
openssl pkey -in "$tmp/signer/dev-ed25519.pem" -pubout -out "$tmp/decisions.pub.pem"
# a second trusted key (as during a key rotation) that mcptrail-approvals does not hold:
# decisions signed with it verify in the sidecar but do not touch the service's state
openssl pkey -in "$tmp/signer2/dev-ed25519.pem" -pubout -out "$tmp/decisions2.pub.pem"
# the sidecar's own key (signs its ApprovalRequests and cancel votes), trusted by the service
source "$root/scripts/lib/approval-keys.sh"
mt_keypair "$tmp/keys" sidecar
mt_trust_file "$tmp/trust.json" "sidecar:e2e:$tmp/keys/sidecar.pub.pem"
cat >"$tmp/policy.json" <<'JSON'
{"version": 1, "default": "allow", "rules": [
  {"id": "prod-deploy-two-sre", "match": {"tool": "deploy",
     "arguments": [{"path": "/environment", "op": "eq", "value": "production"}]},
   "action": "approve", "approval": {"groups": ["sre"], "min_approvals": 2,
     "reason_required": true, "expiry": 120, "justification": {"required": true}}},
  {"id": "canary-short", "match": {"tool": "deploy",
     "arguments": [{"path": "/environment", "op": "eq", "value": "canary"}]},
   "action": "approve", "approval": {"groups": ["sre"], "expiry": 5}},
  {"id": "staging-ticket", "match": {"tool": "deploy",
     "arguments": [{"path": "/environment", "op": "eq", "value": "staging"}]},
   "action": "approve", "approval": {"groups": ["sre"], "hold": "ticket", "expiry": 120}}
]}
JSON
api_port=$(free_port)
base="http://127.0.0.1:$api_port"
start_sidecar "$tmp/sc" "$up" --topic "$topic" -- --policy.file="$tmp/policy.json" \
  --approvals.decision_keys="$tmp/decisions.pub.pem,$tmp/decisions2.pub.pem" \
  --approvals.signing_key_file="$tmp/keys/sidecar.pem" --approvals.topic_requests="$T_REQ" \
  --approvals.topic_votes="$T_VOTE" --approvals.topic_decisions="$T_DEC" \
  --approvals.progress_interval=500ms --approvals.expiry_grace=2s \
  --approvals.console_url="$base/console/"
url=$sidecar_url

# mcptrail-approvals trusts the same development IdP as the sidecar, so the requester's
# own token can be tried against the API (four-eyes compares issuer and subject).
appr_pid=""
e2e_on_exit 'if [ -n "$appr_pid" ]; then kill -TERM $appr_pid; wait $appr_pid; fi'
start_approvals() {
  MCPTRAIL_KAFKA_BROKERS="$MT_KAFKA_BROKERS" "$MT_APPROVALS_BIN" --api.port="$api_port" \
    --auth.jwks_file="$tmp/sc/keys/jwks.json" --auth.issuer=https://issuer.mcptrail.test \
    --auth.audiences=mcptrail-e2e --signing.key_file="$tmp/signer/dev-ed25519.pem" \
    --topics.requests="$T_REQ" --topics.votes="$T_VOTE" --topics.decisions="$T_DEC" \
    --trust.file="$tmp/trust.json" >>"$tmp/approvals.log" 2>&1 &
  appr_pid=$!
  local deadline=$((SECONDS + 60))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ]; do
    kill -0 "$appr_pid" 2>/dev/null || fail "mcptrail-approvals exited during start"
    [ $SECONDS -lt $deadline ] || fail "mcptrail-approvals not ready within 60 s"
    sleep 0.2 # poll interval for /readyz
  done
}
start_approvals
# the sidecar reads decisions once the topic is assigned (/readyz of the sidecar is Kafka)
sleep 1

requester=$("$here/token.sh" "$tmp/sc" ci-deployer --group sre)
alice=$("$here/token.sh" "$tmp/sc" alice --group sre)
bob=$("$here/token.sh" "$tmp/sc" bob --group sre)

# call OUT ARGS_JSON [client flags]: the SDK client in the background; its pid in $last
call() {
  local out=$1 args=$2; shift 2
  "$node" "$here/approval-client.mjs" "$url" "$requester" deploy "$args" "$@" >"$out" 2>"$out.err" &
  last=$!
}
# held_id N: the approval id of the N-th held call (sidecar log), waiting up to 30 s
held_id() {
  local deadline=$((SECONDS + 30)) id
  while :; do
    id=$(grep '"msg":"call held for approval"' "$tmp/sc/sidecar.log" | sed -n "${1}p" |
      jq -r .approval_id 2>/dev/null || true)
    [ -n "$id" ] && [ "$id" != null ] && { echo "$id"; return 0; }
    [ $SECONDS -lt $deadline ] || fail "held call #$1 not seen in the sidecar log"
    sleep 0.2 # poll interval
  done
}
api() { # api METHOD PATH TOKEN [BODY] -> "STATUS BODY"
  local args=(-s -o "$tmp/body" -w '%{http_code}' -X "$1" "$base$2" -H "Authorization: Bearer $3")
  [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' --data "$4")
  echo "$(curl "${args[@]}") $(cat "$tmp/body")"
}
vote() { # vote ID approve|deny TOKEN REASON WANT_STATUS
  local out; out=$(api POST "/api/v1/approvals/$1/$2" "$3" "{\"reason\":\"$4\"}")
  [ "${out%% *}" = "$5" ] || fail "$2 $1: got '$out', want $5"
}
wait_state() { # wait_state ID STATE
  local deadline=$((SECONDS + 30)) got=""
  while :; do
    got=$(api GET "/api/v1/approvals/$1" "$alice" | cut -d' ' -f2- | jq -r '"\(.state) \(.published)"' 2>/dev/null || true)
    [ "$got" = "$2 true" ] && return 0
    [ $SECONDS -lt $deadline ] || fail "approval $1: '$got' after 30 s, want '$2 true'"
    sleep 0.2 # poll interval
  done
}
finish() { # finish PID: waits for a client (bounded by its own timeout)
  wait "$1" || fail "client exited with $?"
}
deploys() { [ -f "$tmp/deploy.log" ] && wc -l <"$tmp/deploy.log" || echo 0; }
ignored() { grep -c '"msg":"approval decision ignored"' "$tmp/sc/sidecar.log" || true; }

PROD='{"environment":"production","version":"v1"}'
# --- 1. two approvers, executes once ------------------------------------------------
call "$tmp/c1.json" "$PROD" --justification "release 1.0 (CHG-1)" --progress; c1=$last
id1=$(held_id 1)
sleep 1.5 # let the waiting client get progress notifications
[ "$(deploys)" = 0 ] || fail "the held deploy ran before approval"
vote "$id1" approve "$alice" "diff reviewed" 202
# acceptance 4 end to end: mcptrail-approvals killed mid-hold and restarted
kill -9 "$appr_pid"; wait "$appr_pid" 2>/dev/null || true; appr_pid=""
start_approvals
vote "$id1" approve "$alice" "again" 200
vote "$id1" approve "$bob" "LGTM" 202
finish "$c1"
jq -e '.ok and (.text | startswith("deployed v1 to production")) and .progress >= 1' "$tmp/c1.json" >/dev/null ||
  fail "step 1: $(cat "$tmp/c1.json")"
[ "$(deploys)" = 1 ] || fail "step 1: $(deploys) deploys, want 1"
echo "e2e: 1. held, progress $(jq .progress "$tmp/c1.json"), alice, kill -9 + restart, bob: ran once" >&2

# --- 2. single use; forged, wrong-hash and replayed decisions; four-eyes; deny -----------
"$e2e_kafka" dump "$T_DEC" "$tmp/dec.raw" 1 2000 20000 >"$tmp/dec1.jsonl" 2>/dev/null
jq -c --arg id "$id1" 'select(.approval_id == $id) | with_entries(select(.key | startswith("$") | not))' \
  "$tmp/dec1.jsonl" >"$tmp/old-decision.json"
[ -s "$tmp/old-decision.json" ] || fail "no decision for $id1 on $T_DEC"
call "$tmp/c2.json" "$PROD" --justification "release 1.0 (CHG-1)" --progress; c2=$last
id2=$(held_id 2)
[ "$id2" != "$id1" ] || fail "step 2: the identical request reused approval $id1"
hash2=$(api GET "/api/v1/approvals/$id2" "$alice" | cut -d' ' -f2- | jq -r .request_hash)
[ "$(jq -r .request_hash "$tmp/old-decision.json")" = "$hash2" ] ||
  fail "identical request bytes must give the same request hash"
forge() { # forge KEY HASH -> a decision for id2 signed with KEY
  jq -c --arg id "$id2" --arg h "$1" '. + {approval_id: $id, request_hash: $h,
      expires: ((now * 1000000 | floor) + 600000000)}' "$tmp/old-decision.json" |
    "$e2e_kafka" sign-decision "$2"
}
{
  forge "$hash2" "$tmp/forger/dev-ed25519.pem"
  forge "$(printf '0%.0s' $(seq 64))" "$tmp/signer2/dev-ed25519.pem"
  cat "$tmp/old-decision.json"
} | jq -c '. + {"$schema": "dev.mcptrail.ApprovalDecision"}' >"$tmp/bad-decisions.jsonl"
MCPTRAIL_KAFKA_BROKERS="$MT_KAFKA_BROKERS" "$MT_EVENTS_BIN" produce "$T_DEC" <"$tmp/bad-decisions.jsonl" >/dev/null
deadline=$((SECONDS + 30))
until [ "$(ignored)" -ge 3 ]; do
  [ $SECONDS -lt $deadline ] || fail "step 2: $(ignored) ignored decisions logged, want 3"
  sleep 0.2 # poll interval
done
for r in unknown_key request_hash_mismatch already_used; do
  grep '"msg":"approval decision ignored"' "$tmp/sc/sidecar.log" | grep -q "\"reason\":\"$r\"" ||
    fail "step 2: no ignored decision with reason $r"
done
sleep 0.5
kill -0 "$c2" 2>/dev/null || fail "step 2: the call was released by a bad decision: $(cat "$tmp/c2.json")"
[ "$(deploys)" = 1 ] || fail "step 2: a bad decision ran the deploy"
out=$(api POST "/api/v1/approvals/$id2/approve" "$requester" '{"reason":"mine"}')
[ "${out%% *}" = 403 ] && [ "$(echo "${out#* }" | jq -r .error)" = self_approval ] ||
  fail "step 2: requester's own approval: $out"
vote "$id2" deny "$alice" "change freeze" 202
finish "$c2"
jq -e '.ok == false and .code == -32004 and .data.reason == "change freeze"' "$tmp/c2.json" >/dev/null ||
  fail "step 2: $(cat "$tmp/c2.json")"
echo "e2e: 2. held again; forged/wrong-hash/replayed decisions ignored; self-approval 403; denied" >&2

# --- 3. expiry ---------------------------------------------------------------------------
call "$tmp/c3.json" '{"environment":"canary","version":"v2"}'; c3=$last
finish "$c3"
jq -e '.ok == false and .code == -32005' "$tmp/c3.json" >/dev/null || fail "step 3: $(cat "$tmp/c3.json")"
echo "e2e: 3. expired -> $(jq -c '{code, message}' "$tmp/c3.json")" >&2

# --- 4. client cancels ---------------------------------------------------------------------
call "$tmp/c4.json" '{"environment":"canary","version":"v3"}' --abort-after-ms 1500; c4=$last
id4=$(held_id 4)
finish "$c4"
wait_state "$id4" cancelled
grep '"msg":"held call cancelled"' "$tmp/sc/sidecar.log" | grep "$id4" | grep -q "client cancelled the request" ||
  fail "step 4: the cancel did not come from notifications/cancelled"
echo "e2e: 4. aborted by the client (notifications/cancelled) -> approval $id4 cancelled" >&2

# --- 4b. client disappears ----------------------------------------------------------------
call "$tmp/c4b.json" '{"environment":"canary","version":"v3b"}'; c4b=$last
id4b=$(held_id 5)
kill -9 "$c4b"; wait "$c4b" 2>/dev/null || true
wait_state "$id4b" cancelled
grep '"msg":"held call cancelled"' "$tmp/sc/sidecar.log" | grep "$id4b" | grep -q "client disconnected" ||
  fail "step 4b: the cancel did not come from the closed connection"
echo "e2e: 4b. client killed while held -> approval $id4b cancelled" >&2

# --- 5. ticket ------------------------------------------------------------------------------
STG='{"environment":"staging","version":"v4"}'
call "$tmp/c5.json" "$STG"; c5=$last
finish "$c5"
jq -e '.ok == false and .code == -32002 and (.data.approval_id | length) == 36 and (.data.console_url | contains("#/approvals/"))' \
  "$tmp/c5.json" >/dev/null || fail "step 5: $(cat "$tmp/c5.json")"
id5=$(jq -r .data.approval_id "$tmp/c5.json")
call "$tmp/c5b.json" "$STG"; c5b=$last; finish "$c5b"
[ "$(jq -r .data.approval_id "$tmp/c5b.json")" = "$id5" ] || fail "step 5: pending retry: $(cat "$tmp/c5b.json")"
vote "$id5" approve "$bob" "staging ok" 202
wait_state "$id5" approved
sleep 1 # the sidecar reads the decision
call "$tmp/c6.json" "$STG"; c6=$last; finish "$c6"
jq -e '.ok and (.text | startswith("deployed v4 to staging"))' "$tmp/c6.json" >/dev/null ||
  fail "step 5: approved retry: $(cat "$tmp/c6.json")"
call "$tmp/c7.json" "$STG"; c7=$last; finish "$c7"
jq -e --arg id "$id5" '.code == -32002 and .data.approval_id != $id' "$tmp/c7.json" >/dev/null ||
  fail "step 5: a used ticket: $(cat "$tmp/c7.json")"
[ "$(deploys)" = 2 ] || fail "step 5: $(deploys) deploys, want 2"
echo "e2e: 5. ticket $id5: -32002, approved, passed once, then a new ticket" >&2

# --- 6. the record ----------------------------------------------------------------------------
"$e2e_kafka" dump "$topic" "$tmp/events.raw" 20 3000 30000 >"$tmp/events.jsonl" 2>/dev/null
jq -se --arg id "$id1" '[.[] | select(.kind == "approval_decided" and .approval.approval_id == $id
    and .approval.decision == "approved" and (.approval.approvers | sort) == ["alice", "bob"])] | length == 1' \
  "$tmp/events.jsonl" >/dev/null || fail "step 6: no approval_decided for $id1 with approvers alice, bob"
for k in approval_requested approval_decided; do
  n=$(jq -s --arg k "$k" '[.[] | select(.kind == $k)] | length' "$tmp/events.jsonl")
  [ "$n" -ge 4 ] || fail "step 6: $n $k events"
done
n=$(jq -s '[.[] | select(.kind == "error" and (.payload_masked // "" | contains("decision_ignored")))] | length' \
  "$tmp/events.jsonl")
[ "$n" -ge 3 ] || fail "step 6: $n recorded ignored decisions, want 3"
jq -se '[.[] | select(.kind == "request" and .policy.action == "approve")] | length >= 6' "$tmp/events.jsonl" >/dev/null ||
  fail "step 6: held requests not recorded with policy action approve"
! grep -q -- "$requester" "$tmp/events.raw" || fail "step 6: a raw token reached the topic"
curl -s "http://127.0.0.1:$(cat "$tmp/sc/admin_port")/metrics" >"$tmp/metrics.txt"
for m in 'mcptrail_approvals_decided_total{decision="approved"} 2' \
         'mcptrail_approvals_decided_total{decision="denied"} 1' \
         'mcptrail_approvals_decided_total{decision="cancelled"} 2'; do
  grep -qF "$m" "$tmp/metrics.txt" || fail "step 6: metrics lack '$m': $(grep approvals "$tmp/metrics.txt")"
done
stop_sidecar_checked "$tmp/sc"
echo "sidecar_approvals: PASS ($((SECONDS - t0)) s)"
