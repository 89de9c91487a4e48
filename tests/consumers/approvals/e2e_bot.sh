#!/usr/bin/env bash
# approvals_bot (issue 6, bots): mcptrail-approval-bot against a real broker, the real
# mcptrail-approvals and a local Slack-compatible webhook receiver (python http.server
# on 127.0.0.1, webhook_receiver.py).
#  1. Rules: approve tool=read_* (tools/call), deny tool=drop_*.
#  2. Three ApprovalRequests, as a sidecar would publish them: read_file and drop_table
#     (1 approval from bots or sre), deploy (2 from sre, no rule matches).
#  3. The webhook receives one {"text", "blocks"} message per request, naming the tool;
#     the read_file and drop_table messages say how the bot voted.
#  4. The bot's votes (source bot) decide: read_file approved and drop_table denied,
#     each with one signed decision that verifies offline (approvers=approval-bot);
#     deploy stays pending with no vote.
#  5. SIGTERM stops the bot cleanly (exit 0, no sanitizer report).
# Exit 77 (skipped) without MT_KAFKA_BROKERS, curl, jq, openssl or python3.
set -euo pipefail
[ -n "${MT_KAFKA_BROKERS:-}" ] || { echo "skip: MT_KAFKA_BROKERS is not set"; exit 77; }
for t in curl jq openssl python3; do
  command -v "$t" >/dev/null || { echo "skip: $t not found"; exit 77; }
done
[ -x "${MT_BOT_BIN:-}" ] || { echo "e2e: MT_BOT_BIN is not an executable" >&2; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/e2e_lib.sh"
bot_pid="" hook_pid=""
stop_extra() {
  for p in $bot_pid $hook_pid; do kill -9 "$p" 2>/dev/null || true; done
  cleanup
}
trap stop_extra EXIT

python3 "$here/webhook_receiver.py" "$tmp/hook.port" "$tmp/hook.jsonl" &
hook_pid=$!
deadline=$((SECONDS + 20))
until [ -s "$tmp/hook.port" ]; do
  kill -0 "$hook_pid" 2>/dev/null || fail "webhook receiver exited"
  [ $SECONDS -lt $deadline ] || fail "webhook receiver did not start"
  sleep 0.1 # poll interval for the port file
done
hook_url="http://127.0.0.1:$(cat "$tmp/hook.port")/services/T000/B000/approvals"

cat >"$tmp/rules.txt" <<'RULES'
# read-only tools: the bot's vote is enough for rules that accept group "bots"
approve tool=read_*  method=tools/call reason="read-only tool (bot allow-list)"
deny    tool=drop_*
RULES

start_service
"$MT_BOT_BIN" --rules_file="$tmp/rules.txt" --webhook.url="$hook_url" \
  --console.url="$base/console/" --group_id="bot-$suffix" --topics.requests="$T_REQ" \
  --topics.votes="$T_VOTE" --voter.groups=bots >>"$tmp/bot.log" 2>&1 &
bot_pid=$!

n=$$
id_read="019b7702-0000-7000-8000-$(printf '%012x' "$n")"
id_drop="019b7702-0000-7000-8001-$(printf '%012x' "$n")"
id_deploy="019b7702-0000-7000-8002-$(printf '%012x' "$n")"
now=$(($(date +%s) * 1000000))
jq -cn --arg a "$id_read" --arg b "$id_drop" --arg c "$id_deploy" --arg iss "$ISS" \
  --argjson now "$now" '
  def req($id; $tool; $groups; $min; $args): {
    "$schema": "dev.mcptrail.ApprovalRequest", approval_id: $id,
    request_hash: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
    session_id: "sess-bot-e2e", event_id: ("evt-" + $id), created: $now,
    expires: ($now + 600000000),
    identity: {issuer: $iss, subject: "ci-runner", audience: null, auth_method: "jwt",
               token_fingerprint: null,
               ci: {repository: "acme/infra", workflow: "nightly", job: "sync", run_id: "991",
                    run_attempt: 1, sha: null, ref: "refs/heads/main", actor: null,
                    environment: null}},
    tool: $tool, method: "tools/call", arguments_masked: $args,
    justification: "nightly <sync> & report", rule_id: "needs-approval",
    approver_groups: $groups, min_approvals: $min, four_eyes: true, console_url: null};
  req($a; "read_file"; ["bots", "sre"]; 1; "{\"path\":\"/etc/motd\"}"),
  req($b; "drop_table"; ["bots", "sre"]; 1; "{\"table\":\"users\"}"),
  req($c; "deploy"; ["sre"]; 2; "{\"env\":\"prod\",\"token\":\"[MASKED]\"}")' \
  >"$tmp/requests.jsonl"
"$MT_EVENTS_BIN" produce "$T_REQ" <"$tmp/requests.jsonl" >/dev/null
echo "e2e: three requests produced"

deadline=$((SECONDS + 60))
while [ "$(wc -l <"$tmp/hook.jsonl" 2>/dev/null || echo 0)" -lt 3 ]; do
  kill -0 "$bot_pid" 2>/dev/null || { tail -n 20 "$tmp/bot.log" >&2; fail "bot exited"; }
  [ $SECONDS -lt $deadline ] || { tail -n 20 "$tmp/bot.log" >&2; fail "webhook got $(wc -l <"$tmp/hook.jsonl" 2>/dev/null || echo 0) of 3 messages in 60 s"; }
  sleep 0.2 # poll interval for the receiver's file
done
! grep -q '"invalid"' "$tmp/hook.jsonl" || fail "webhook got a body that is not JSON"
msg() { jq -c --arg t "$1" 'select(.body.blocks[0].text.text == "Approval needed: " + $t)' "$tmp/hook.jsonl"; }
for t in read_file drop_table deploy; do
  m=$(msg "$t")
  [ "$(printf '%s\n' "$m" | grep -c .)" = 1 ] || fail "want one webhook message for $t, got: $m"
  jq -e '.content_type == "application/json" and (.path | endswith("/approvals"))
         and (.body.text | type == "string") and (.body.blocks | length >= 4)
         and ([.body.blocks[].type] | index("actions") != null)' <<<"$m" >/dev/null ||
    fail "message for $t is not a Slack-compatible {text, blocks}: $m"
  jq -e '.body.blocks[1].text.text | contains("nightly &lt;sync&gt; &amp; report")' <<<"$m" \
    >/dev/null || fail "justification not escaped for mrkdwn in the $t message"
done
msg read_file | jq -e '.body.text | contains("voted *approve*")' >/dev/null ||
  fail "read_file message does not say the bot approved"
msg drop_table | jq -e '.body.text | contains("voted *deny*")' >/dev/null ||
  fail "drop_table message does not say the bot denied"
msg deploy | jq -e '.body.text | contains("voted") | not' >/dev/null ||
  fail "deploy message claims a vote"
echo "e2e: webhook received one Slack-compatible message per request"

wait_state "$id_read" approved 1 true
wait_state "$id_drop" denied 0 true   # "approvals" counts approve votes
wait_state "$id_deploy" pending 0 false
src=$(curl -s -H "Authorization: Bearer $alice" "$base/api/v1/approvals/$id_read" |
  jq -r '.votes[0] | "\(.source) \(.subject) \(.vote)"')
[ "$src" = "bot approval-bot approve" ] || fail "read_file vote recorded as '$src'"
echo "e2e: bot votes decided read_file (approved) and drop_table (denied); deploy pending"

"$MT_E2E_KAFKA_BIN" dump "$T_DEC" "$tmp/dec.raw" 2 3000 30000 >"$tmp/decisions.jsonl"
"$MT_VERIFY_BIN" --public-key "$tmp/decisions.pub.pem" <"$tmp/decisions.jsonl" >"$tmp/verify.out" ||
  fail "decision signature: $(cat "$tmp/verify.out")"
grep -q "^ok $id_read approved [0-9a-f]\{16\} approvers=approval-bot$" "$tmp/verify.out" ||
  fail "read_file decision: $(cat "$tmp/verify.out")"
grep -q "^ok $id_drop denied [0-9a-f]\{16\} approvers=approval-bot$" "$tmp/verify.out" ||
  fail "drop_table decision: $(cat "$tmp/verify.out")"
! grep -q "$id_deploy" "$tmp/verify.out" || fail "a decision for the deploy request"
echo "e2e: decisions verify offline"

kill -TERM "$bot_pid"; rc=0; wait "$bot_pid" || rc=$?; bot_pid=""
[ "$rc" = 0 ] || { tail -n 20 "$tmp/bot.log" >&2; fail "bot exited with $rc after SIGTERM"; }
! grep -q "Sanitizer" "$tmp/bot.log" || { cat "$tmp/bot.log" >&2; fail "sanitizer report in the bot log"; }
grep -q '"msg":"stopped".*"requests":3,"votes":2,"posted":3,"post_failures":0' "$tmp/bot.log" ||
  fail "bot's closing counts: $(grep stopped "$tmp/bot.log")"
echo "e2e: approval bot PASS"
