#!/usr/bin/env bash
# approvals_bot (issue 6 bots; issue 24 forged requests): mcptrail-approval-bot against a
# real broker, the real mcptrail-approvals and a local Slack-compatible webhook receiver
# (python http.server on 127.0.0.1, webhook_receiver.py).
#  1. Bot A votes through the approvals API with its own workload token (the documented
#     default): approve tool=read_* (tools/call), deny tool=drop_*. Bot B votes on the
#     votes topic, signed with its own key, which the service's trust file binds to
#     subject topic-bot, group bots: approve tool=list_*.
#  2. Four ApprovalRequests signed by the sidecar key the trust file names: read_file and
#     drop_table (1 approval from bots or sre), deploy (2 from sre, no rule matches),
#     list_pods (1 from bots or sre); and a forged one (unsigned, tool read_secrets, which
#     bot A's approve rule would match).
#  3. The webhook receives one {"text", "blocks"} message per genuine request, naming the
#     tool; read_file and drop_table messages say how the bot voted; none for the forgery.
#  4. The votes decide: read_file approved (source api, approval-bot) and drop_table denied,
#     list_pods approved (source bot, topic-bot), each with one signed decision that
#     verifies offline; deploy stays pending with no vote; the forged request is unknown
#     to the service and got no vote from either bot.
#  5. SIGTERM stops the bots cleanly (exit 0, no sanitizer report), with their counts.
# Exit 77 (skipped) without MT_KAFKA_BROKERS, curl, jq, openssl or python3.
set -euo pipefail
[ -x "${MT_BOT_BIN:-}" ] || { echo "e2e: MT_BOT_BIN is not an executable" >&2; exit 1; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/e2e_lib.sh"
bot_pid="" bot2_pid="" hook_pid=""
stop_extra() {
  for p in $bot_pid $bot2_pid $hook_pid; do kill -9 "$p" 2>/dev/null || true; done
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

cat >"$tmp/rules2.txt" <<'RULES'
approve tool=list_* reason="listing is harmless"
RULES
# Bot B's key, bound by the trust file to subject topic-bot of group bots.
mt_keypair "$tmp/keys" topic-bot
mt_trust_file "$tmp/trust.json" "sidecar:e2e-sidecar:$tmp/keys/sidecar.pub.pem" \
  "bot:topic-bot:$tmp/keys/topic-bot.pub.pem:topic-bot:mcptrail-approval-bot:bots"
# Bot A's workload token (issuer of the approvers' IdP, group bots).
tok approval-bot bots >"$tmp/bot-a.token"

start_service
"$MT_BOT_BIN" --rules_file="$tmp/rules.txt" --webhook.url="$hook_url" \
  --console.url="$base/console/" --group_id="bot-$suffix" --topics.requests="$T_REQ" \
  --trust.file="$tmp/trust.json" --approvals.url="$base" \
  --approvals.token_file="$tmp/bot-a.token" >>"$tmp/bot.log" 2>&1 &
bot_pid=$!
"$MT_BOT_BIN" --rules_file="$tmp/rules2.txt" --group_id="bot2-$suffix" \
  --topics.requests="$T_REQ" --topics.votes="$T_VOTE" --trust.file="$tmp/trust.json" \
  --vote.via=topic --signing.key_file="$tmp/keys/topic-bot.pem" --voter.subject=topic-bot \
  --voter.groups=bots >>"$tmp/bot2.log" 2>&1 &
bot2_pid=$!

n=$$
id_read="019b7702-0000-7000-8000-$(printf '%012x' "$n")"
id_drop="019b7702-0000-7000-8001-$(printf '%012x' "$n")"
id_deploy="019b7702-0000-7000-8002-$(printf '%012x' "$n")"
id_list="019b7702-0000-7000-8003-$(printf '%012x' "$n")"
id_forged="019b7702-0000-7000-8004-$(printf '%012x' "$n")"
now=$(($(date +%s) * 1000000))
jq -cn --arg a "$id_read" --arg b "$id_drop" --arg c "$id_deploy" --arg d "$id_list" \
  --arg e "$id_forged" --arg iss "$ISS" \
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
  req($c; "deploy"; ["sre"]; 2; "{\"env\":\"prod\",\"token\":\"[MASKED]\"}"),
  req($d; "list_pods"; ["bots", "sre"]; 1; "{\"namespace\":\"prod\"}"),
  req($e; "read_secrets"; ["bots", "sre"]; 1; "{\"path\":\"/vault\"}")' \
  >"$tmp/requests.jsonl"
# The forgery first, unsigned (as any writer of the topic could), then the genuine four.
grep -F "$id_forged" "$tmp/requests.jsonl" | "$MT_EVENTS_BIN" produce "$T_REQ" >/dev/null
grep -vF "$id_forged" "$tmp/requests.jsonl" |
  "$MT_EVENTS_BIN" produce --sign_key="$tmp/keys/sidecar.pem" "$T_REQ" >/dev/null
echo "e2e: four signed requests and one forged request produced"

deadline=$((SECONDS + 60))
while [ "$(wc -l <"$tmp/hook.jsonl" 2>/dev/null || echo 0)" -lt 4 ]; do
  kill -0 "$bot_pid" 2>/dev/null || { tail -n 20 "$tmp/bot.log" >&2; fail "bot exited"; }
  [ $SECONDS -lt $deadline ] || { tail -n 20 "$tmp/bot.log" >&2; fail "webhook got $(wc -l <"$tmp/hook.jsonl" 2>/dev/null || echo 0) of 4 messages in 60 s"; }
  sleep 0.2 # poll interval for the receiver's file
done
! grep -q '"invalid"' "$tmp/hook.jsonl" || fail "webhook got a body that is not JSON"
msg() { jq -c --arg t "$1" 'select(.body.blocks[0].text.text == "Approval needed: " + $t)' "$tmp/hook.jsonl"; }
for t in read_file drop_table deploy list_pods; do
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
[ -z "$(msg read_secrets)" ] || fail "the forged request was posted to the webhook"
echo "e2e: webhook received one Slack-compatible message per genuine request, none for the forgery"

wait_state "$id_read" approved 1 true
wait_state "$id_drop" denied 0 true   # "approvals" counts approve votes
wait_state "$id_deploy" pending 0 false
wait_state "$id_list" approved 1 true
src=$(curl -s -H "Authorization: Bearer $alice" "$base/api/v1/approvals/$id_read" |
  jq -r '.votes[0] | "\(.source) \(.subject) \(.vote) \(.signed_by)"')
[ "$src" = "api approval-bot approve service" ] || fail "read_file vote recorded as '$src'"
src=$(curl -s -H "Authorization: Bearer $alice" "$base/api/v1/approvals/$id_list" |
  jq -r '.votes[0] | "\(.source) \(.subject) \(.vote) \(.signed_by)"')
[ "$src" = "bot topic-bot approve topic-bot" ] || fail "list_pods vote recorded as '$src'"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $alice" \
  "$base/api/v1/approvals/$id_forged")
[ "$code" = 404 ] || fail "the forged request is known to the service (HTTP $code)"
curl -s "$base/metrics" | grep -q '^mcptrail_approvals_requests_rejected_total{reason="unsigned"} 1$' ||
  fail "the forged request is not counted: $(curl -s "$base/metrics" | grep requests_rejected)"
echo "e2e: votes decided read_file (approved, API), drop_table (denied), list_pods (approved, signed topic vote); deploy pending; forgery ignored"

"$MT_E2E_KAFKA_BIN" dump "$T_DEC" "$tmp/dec.raw" 3 3000 30000 >"$tmp/decisions.jsonl"
"$MT_VERIFY_BIN" --public-key "$tmp/decisions.pub.pem" <"$tmp/decisions.jsonl" >"$tmp/verify.out" ||
  fail "decision signature: $(cat "$tmp/verify.out")"
grep -q "^ok $id_read approved [0-9a-f]\{16\} approvers=approval-bot$" "$tmp/verify.out" ||
  fail "read_file decision: $(cat "$tmp/verify.out")"
grep -q "^ok $id_drop denied [0-9a-f]\{16\} approvers=approval-bot$" "$tmp/verify.out" ||
  fail "drop_table decision: $(cat "$tmp/verify.out")"
grep -q "^ok $id_list approved [0-9a-f]\{16\} approvers=topic-bot$" "$tmp/verify.out" ||
  fail "list_pods decision: $(cat "$tmp/verify.out")"
! grep -q "$id_deploy" "$tmp/verify.out" || fail "a decision for the deploy request"
! grep -q "$id_forged" "$tmp/verify.out" || fail "a decision for the forged request"
echo "e2e: decisions verify offline"

kill -TERM "$bot_pid"; rc=0; wait "$bot_pid" || rc=$?; bot_pid=""
[ "$rc" = 0 ] || { tail -n 20 "$tmp/bot.log" >&2; fail "bot exited with $rc after SIGTERM"; }
kill -TERM "$bot2_pid"; rc=0; wait "$bot2_pid" || rc=$?; bot2_pid=""
[ "$rc" = 0 ] || { tail -n 20 "$tmp/bot2.log" >&2; fail "bot B exited with $rc after SIGTERM"; }
! grep -q "Sanitizer" "$tmp/bot.log" "$tmp/bot2.log" || { cat "$tmp/bot.log" "$tmp/bot2.log" >&2; fail "sanitizer report in a bot log"; }
! grep -qF "$(sed 's/.*\.//' "$tmp/bot-a.token")" "$tmp/bot.log" || fail "bot A logged its token"
grep -q '"msg":"stopped".*"requests":5,"ignored":1,"votes":2,"refused":0,"posted":4,"post_failures":0' "$tmp/bot.log" ||
  fail "bot A's closing counts: $(grep stopped "$tmp/bot.log")"
grep -q '"msg":"stopped".*"requests":5,"ignored":1,"votes":1,"refused":0,"posted":0' "$tmp/bot2.log" ||
  fail "bot B's closing counts: $(grep stopped "$tmp/bot2.log")"
echo "e2e: approval bot PASS"
