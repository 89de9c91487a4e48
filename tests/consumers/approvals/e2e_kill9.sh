#!/usr/bin/env bash
# approvals_e2e_kill9 (issue 6, acceptance 4, service side): the real
# mcptrail-approvals binary on a real broker (MT_KAFKA_BROKERS), fresh topics.
#  1. An ApprovalRequest (min_approvals 2, four-eyes, group sre) is produced.
#  2. Through the HTTP API with development tokens: no token -> 401, the
#     requester's own approval -> 403, a voter outside sre -> 403, alice -> 202.
#  3. kill -9 of the service mid-hold; restart: the replay recovers the
#     pending approval with alice's vote.
#  4. bob approves -> approved; exactly one decision on the decisions topic,
#     and its Ed25519 signature verifies with the public key alone
#     (mcptrail-decision-verify); approvers alice and bob.
#  5. A clean restart replays to the same state and writes no second decision.
# Exit 77 (skipped) without MT_KAFKA_BROKERS, curl, jq or openssl.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"

start_service
id="019b7700-0000-7000-8000-$(printf '%012x' $$)"
produce_request "$id" dev-dan
wait_state "$id" pending 0 false
echo "e2e: request $id pending"

expect 401 unauthenticated POST "/api/v1/approvals/$id/approve" ""
expect 403 self_approval POST "/api/v1/approvals/$id/approve" "$dan"
expect 403 not_in_group POST "/api/v1/approvals/$id/approve" "$mallory"
expect 202 "" POST "/api/v1/approvals/$id/approve" "$alice" '{"reason":"diff reviewed"}'
wait_state "$id" pending 1 false
echo "e2e: alice approved; kill -9 of the service mid-hold"

kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
start_service
wait_state "$id" pending 1 false
echo "e2e: restarted; pending approval with alice's vote recovered"
expect 200 "" POST "/api/v1/approvals/$id/approve" "$alice"   # idempotent: already recorded
expect 202 "" POST "/api/v1/approvals/$id/approve" "$bob" '{"reason":"LGTM"}'
wait_state "$id" approved 2 true
expect 409 already_decided POST "/api/v1/approvals/$id/deny" "$bob"

"$MT_E2E_KAFKA_BIN" dump "$T_DEC" "$tmp/dec.raw" 1 3000 30000 >"$tmp/decisions.jsonl"
n=$(jq -s --arg id "$id" '[.[] | select(.approval_id == $id)] | length' "$tmp/decisions.jsonl")
[ "$n" = 1 ] || fail "want exactly 1 decision for $id, found $n"
"$MT_VERIFY_BIN" --public-key "$tmp/decisions.pub.pem" <"$tmp/decisions.jsonl" >"$tmp/verify.out" ||
  fail "decision signature: $(cat "$tmp/verify.out")"
grep -q "^ok $id approved [0-9a-f]\{16\} approvers=alice,bob$" "$tmp/verify.out" ||
  fail "unexpected verification line: $(cat "$tmp/verify.out")"
echo "e2e: $(cat "$tmp/verify.out")"

kill -TERM "$pid"; rc=0; wait "$pid" || rc=$?; pid=""
[ "$rc" = 0 ] || fail "service exited with $rc after SIGTERM"
! grep -q "Sanitizer" "$tmp/service.log" || fail "sanitizer report in the service log"
start_service
wait_state "$id" approved 2 true
"$MT_E2E_KAFKA_BIN" dump "$T_DEC" "$tmp/dec.raw" 1 3000 30000 >"$tmp/decisions2.jsonl"
n=$(jq -s --arg id "$id" '[.[] | select(.approval_id == $id)] | length' "$tmp/decisions2.jsonl")
[ "$n" = 1 ] || fail "after a clean restart: want 1 decision for $id, found $n"
echo "e2e: restart replayed the same state; still one decision. PASS"
