#!/usr/bin/env bash
# approvals_console (issue 6, web console): the real mcptrail-approvals binary on a
# real broker serves its console; headless Debian Chromium driven by playwright-core
# (console_e2e.mjs) does what two approvers would:
#  1. An ApprovalRequest (2 approvals from sre, four-eyes, CI claims, justification,
#     masked arguments) is produced on fresh topics, as a sidecar would.
#  2. alice signs in with a development token, sees the call's details, approves with
#     a reason, signs out; bob signs in and approves. Both votes are recorded with
#     source console (the console's Mcptrail-Vote-Source header).
#  3. The console's history shows the approval approved with a signed decision; no
#     browser console errors, no request to a host other than 127.0.0.1.
#  4. Exactly one ApprovalDecision for the id on the decisions topic; its Ed25519
#     signature verifies with the public key alone (mcptrail-decision-verify),
#     approvers alice and bob.
# Hooks for the sidecar hold (issue 6 acceptance "the held call completes"):
#  MT_CONSOLE_E2E_HOLD    command run instead of producing the request: it must
#                         cause a held call (e.g. a tools/call through a sidecar
#                         configured with these topics, exported as T_REQ/T_VOTE/
#                         T_DEC, the decision public key as DECISION_PUBKEY, a
#                         scratch directory removed at the end as MT_E2E_TMP) and
#                         print the approval id on its last stdout line; the held
#                         call's rule must need 2 approvals from group sre and its
#                         requester must be neither alice nor bob; a client it leaves
#                         running in the background must not keep stdout open;
#  MT_CONSOLE_E2E_AFTER   command run after step 4 with APPROVAL_ID exported; it must
#                         exit 0 (e.g. wait for the held call's real result).
#  MT_CONSOLE_E2E_CLEANUP command run on exit, whatever happened (stops the hold's
#                         processes).
# ctest runs it with the hooks set to console_hold.sh: a real sidecar holds a TypeScript
# SDK client's deploy, the console's two approvals release it, the call completes once.
# MT_CONSOLE_SCREENSHOT=PATH keeps the screenshot (docs/img/approvals-console.png).
# Exit 77 (skipped) without MT_KAFKA_BROKERS, curl, jq, openssl, node, chromium or
# playwright-core, unless MT_E2E_NO_SKIP=1 (then that is a failure).
set -euo pipefail
skip() {
  if [ "${MT_E2E_NO_SKIP:-}" = 1 ]; then echo "e2e FAIL: $*" >&2; exit 1; fi
  echo "skip: $*"; exit 77
}
[ -n "${MT_KAFKA_BROKERS:-}" ] || { echo "skip: MT_KAFKA_BROKERS is not set"; exit 77; }
for t in curl jq openssl python3 node; do command -v "$t" >/dev/null || skip "$t not found"; done
chromium_bin=${MT_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium_bin" ] || skip "$chromium_bin not found (scripts/deps.sh installs Debian's chromium)"
peers="$MT_SOURCE_DIR/tests/peers"
[ -d "$peers/node_modules/playwright-core" ] || skip "playwright-core not installed (scripts/deps-node.sh)"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/e2e_lib.sh"
if [ -n "${MT_CONSOLE_E2E_CLEANUP:-}" ]; then
  # the hold's processes are stopped on every exit path, before the scratch dir goes
  eval "base_$(declare -f cleanup)"
  cleanup() { bash -c "$MT_CONSOLE_E2E_CLEANUP" >/dev/null 2>&1 || true; base_cleanup; }
fi

start_service
export T_REQ T_VOTE T_DEC DECISION_PUBKEY="$tmp/decisions.pub.pem" MT_APPROVALS_URL="$base" \
  MT_E2E_TMP="$tmp"
if [ -n "${MT_CONSOLE_E2E_HOLD:-}" ]; then
  id=$(bash -c "$MT_CONSOLE_E2E_HOLD" | tail -n 1) || fail "MT_CONSOLE_E2E_HOLD failed"
  [ -n "$id" ] || fail "MT_CONSOLE_E2E_HOLD printed no approval id"
else
  id="019b7701-0000-7000-8000-$(printf '%012x' $$)"
  now=$(($(date +%s) * 1000000))
  # One request for the test and one more that stays pending (fills the queue).
  jq -cn --arg id "$id" --arg iss "$ISS" --argjson now "$now" '
    def req($id; $tool; $args; $just; $ci): {
      "$schema": "dev.mcptrail.ApprovalRequest", approval_id: $id,
      request_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      session_id: "sess-console-e2e", event_id: ("evt-" + $id), created: $now,
      expires: ($now + 900000000),
      identity: {issuer: $iss, subject: "ci-deployer", audience: "mcp-prod", auth_method: "jwt",
                 token_fingerprint: null, ci: $ci},
      tool: $tool, method: "tools/call", arguments_masked: $args, justification: $just,
      rule_id: "prod-deploy-two-sre", approver_groups: ["sre"], min_approvals: 2,
      four_eyes: true, console_url: null, reason_required: true, hold_mode: "wait"};
    req($id; "deploy_service";
        "{\"service\":\"payments-api\",\"env\":\"production\",\"image\":\"images.acme.internal/payments-api:1.2.3\",\"db_password\":\"[MASKED]\"}";
        "release 1.2.3 to production (CHG-2231)";
        {repository: "acme/payments", workflow: "release", job: "deploy-prod",
         run_id: "run-4711", run_attempt: 1, sha: "3f2c9e1a7b", ref: "refs/tags/v1.2.3",
         actor: "carol", environment: "production"}),
    req($id + "-b"; "db_migrate"; "{\"database\":\"ledger\",\"dry_run\":false}";
        "schema migration 42"; null)' >"$tmp/requests.jsonl"
  "$MT_EVENTS_BIN" produce --sign_key="$tmp/keys/sidecar.pem" "$T_REQ" <"$tmp/requests.jsonl" >/dev/null
fi
wait_state "$id" pending 0 false
echo "e2e: request $id pending"
# A forged vote (unsigned, claiming mallory of sre) straight on the topic: not counted, and
# the console lists it under "Rejected" (console_e2e.mjs checks).
hash=$(curl -s -H "Authorization: Bearer $alice" "$base/api/v1/approvals/$id" | jq -r .request_hash)
jq -cn --arg id "$id" --arg h "$hash" --argjson ts "$(($(date +%s) * 1000000))" \
  '{"$schema": "dev.mcptrail.ApprovalVote", approval_id: $id, request_hash: $h,
    voter: {subject: "mallory", issuer: "https://idp.e2e.test", groups: ["sre"]},
    vote: "approve", reason: "trust me", ts: $ts, source: "bot"}' |
  "$MT_EVENTS_BIN" produce "$T_VOTE" >/dev/null
deadline=$((SECONDS + 30))
until [ "$(curl -s -H "Authorization: Bearer $alice" "$base/api/v1/approvals/$id" | jq -r .rejected_total)" = 1 ]; do
  [ $SECONDS -lt $deadline ] || fail "the forged vote was not rejected"
  sleep 0.2 # poll interval for the history
done
wait_state "$id" pending 0 false

MT_BASE="$base" MT_APPROVAL_ID="$id" MT_TOKEN_1="$alice" MT_SUB_1=alice MT_TOKEN_2="$bob" \
  MT_SUB_2=bob MT_SCREENSHOT="$tmp/console.png" MT_CHROMIUM="$chromium_bin" MT_PEERS_DIR="$peers" \
  HOME="$tmp" timeout 240 node "$here/console_e2e.mjs" || fail "browser steps failed"
wait_state "$id" approved 2 true
srcs=$(curl -s -H "Authorization: Bearer $alice" "$base/api/v1/approvals/$id" |
  jq -r '[.votes[] | "\(.subject):\(.source)"] | join(",")')
[ "$srcs" = "alice:console,bob:console" ] || fail "votes recorded as '$srcs', want source console"

"$MT_E2E_KAFKA_BIN" dump "$T_DEC" "$tmp/dec.raw" 1 3000 30000 >"$tmp/decisions.jsonl"
jq -c --arg id "$id" 'select(.approval_id == $id)' "$tmp/decisions.jsonl" >"$tmp/mine.jsonl"
n=$(wc -l <"$tmp/mine.jsonl")
[ "$n" = 1 ] || fail "want exactly 1 decision for $id, found $n"
"$MT_VERIFY_BIN" --public-key "$tmp/decisions.pub.pem" <"$tmp/mine.jsonl" >"$tmp/verify.out" ||
  fail "decision signature: $(cat "$tmp/verify.out")"
grep -q "^ok $id approved [0-9a-f]\{16\} approvers=alice,bob$" "$tmp/verify.out" ||
  fail "unexpected verification line: $(cat "$tmp/verify.out")"
echo "e2e: $(cat "$tmp/verify.out")"

if [ -n "${MT_CONSOLE_E2E_AFTER:-}" ]; then
  APPROVAL_ID="$id" bash -c "$MT_CONSOLE_E2E_AFTER" || fail "MT_CONSOLE_E2E_AFTER failed"
  echo "e2e: MT_CONSOLE_E2E_AFTER passed"
fi
if [ -n "${MT_CONSOLE_SCREENSHOT:-}" ]; then
  mkdir -p "$(dirname "$MT_CONSOLE_SCREENSHOT")"
  cp "$tmp/console.png" "$MT_CONSOLE_SCREENSHOT"
  echo "e2e: screenshot in $MT_CONSOLE_SCREENSHOT"
fi
kill -TERM "$pid"; rc=0; wait "$pid" || rc=$?; pid=""
[ "$rc" = 0 ] || fail "service exited with $rc after SIGTERM"
! grep -q "Sanitizer" "$tmp/service.log" || fail "sanitizer report in the service log"
echo "e2e: console approvals PASS"
