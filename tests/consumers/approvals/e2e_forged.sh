#!/usr/bin/env bash
# approvals_forged (issue 24, acceptance 1 and 2): the real mcptrail-approvals on a real
# broker, fresh topics; everything forged is written straight to the topics with
# mcptrail-events, as any process holding a topic credential could.
#  1. A genuine ApprovalRequest (2 approvers from sre, four-eyes), signed by the sidecar
#     key of the trust file, is pending. Forged requests are ignored: unsigned, signed by
#     an unknown key, signed by the bot's key.
#  2. Forged votes, each ignored, none changes the state: alice and bob claimed on the
#     topic without a signature (the measured attack); the same signed by an unknown key;
#     the bot's key voting as alice, and as group sre it does not hold; alice's real API
#     vote on another approval copied onto this one, and onto another request hash; a
#     signed bot vote with its vote field changed; a cancel with no signature and a cancel
#     signed by another (trusted) sidecar, which did not request this approval.
#  3. alice and bob approve through the API: approved, one signed decision naming exactly
#     alice and bob; the approval's history lists each rejected record with its reason;
#     /metrics counts them by reason.
#  4. kill -9 of the service and a restart: the replay rejects the same records again
#     (same history, same counts), the state is the same and no second decision is written.
#  5. A new genuine request is cancelled by its own sidecar's signed cancel (the genuine
#     path still works) after a forged cancel was refused.
# Exit 77 (skipped) without MT_KAFKA_BROKERS, curl, jq, openssl or python3.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"

mt_keypair "$tmp/keys" sidecar2
mt_keypair "$tmp/keys" bot
mt_keypair "$tmp/keys" rogue
mt_trust_file "$tmp/trust.json" "sidecar:payments:$tmp/keys/sidecar.pub.pem" \
  "sidecar:ml:$tmp/keys/sidecar2.pub.pem" \
  "bot:release-bot:$tmp/keys/bot.pub.pem:release-bot:mcptrail-approval-bot:bots"
start_service

n=$$
id="019b7703-0000-7000-8000-$(printf '%012x' "$n")"
other="019b7703-0000-7000-8001-$(printf '%012x' "$n")"
produce_request "$id" dev-dan
produce_request "$other" dev-dan
wait_state "$id" pending 0 false
wait_state "$other" pending 0 false
hash=5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592

# produce_raw TOPIC [KEY]: JSON lines on stdin to TOPIC, signed with KEY if given.
produce_raw() {
  if [ -n "${2:-}" ]; then "$MT_EVENTS_BIN" produce --sign_key="$2" "$1" >/dev/null
  else "$MT_EVENTS_BIN" produce "$1" >/dev/null; fi
}
# vote ID SUBJECT ISSUER GROUPS_JSON VOTE SOURCE [HASH]: one ApprovalVote line.
vote() {
  jq -cn --arg id "$1" --arg sub "$2" --arg iss "$3" --argjson g "$4" --arg v "$5" \
    --arg src "$6" --arg h "${7:-$hash}" --argjson ts "$(($(date +%s) * 1000000))" \
    '{"$schema": "dev.mcptrail.ApprovalVote", approval_id: $id, request_hash: $h,
      voter: {subject: $sub, issuer: $iss, groups: $g}, vote: $v, reason: "forged",
      ts: $ts, source: $src}'
}

# 1. Forged requests.
forged_req=$(sed 's/"approval_id":"[^"]*"/"approval_id":"019b7703-0000-7000-8009-000000000001"/' \
  "$tmp/request.jsonl")
echo "$forged_req" | produce_raw "$T_REQ"
echo "$forged_req" | sed 's/8009-000000000001/8009-000000000002/' | produce_raw "$T_REQ" "$tmp/keys/rogue.pem"
echo "$forged_req" | sed 's/8009-000000000001/8009-000000000003/' | produce_raw "$T_REQ" "$tmp/keys/bot.pem"

# 2. Forged votes on $id.
vote "$id" alice "$ISS" '["sre"]' approve bot | produce_raw "$T_VOTE"
vote "$id" bob "$ISS" '["sre"]' approve bot | produce_raw "$T_VOTE"
vote "$id" alice "$ISS" '["sre"]' approve api | produce_raw "$T_VOTE" "$tmp/keys/rogue.pem"
vote "$id" alice "$ISS" '["sre"]' approve api | produce_raw "$T_VOTE" "$tmp/keys/bot.pem"
vote "$id" alice mcptrail-approval-bot '["bots"]' approve bot | produce_raw "$T_VOTE" "$tmp/keys/bot.pem"
vote "$id" release-bot mcptrail-approval-bot '["sre"]' approve bot |
  produce_raw "$T_VOTE" "$tmp/keys/bot.pem"
# alice's real vote, cast through the API on the other approval, copied.
expect 202 "" POST "/api/v1/approvals/$other/approve" "$alice"
wait_state "$other" pending 1 false
"$MT_EVENTS_BIN" tail "$T_VOTE" >"$tmp/votes.jsonl" 2>/dev/null
real=$(jq -c --arg o "$other" 'select(.approval_id == $o and .voter.subject == "alice")
  | del(."$partition", ."$offset")' "$tmp/votes.jsonl" | head -n 1)
[ -n "$real" ] && [ "$(jq -r .source <<<"$real")" = api ] && [ "$(jq -r .key_id <<<"$real")" != null ] ||
  fail "alice's API vote is not on the topic, signed: $real"
jq -c --arg id "$id" '.approval_id = $id' <<<"$real" | produce_raw "$T_VOTE"
jq -c --arg id "$id" '.approval_id = $id | .request_hash = ("bb" + .request_hash[2:])' <<<"$real" |
  produce_raw "$T_VOTE"
# a signed bot vote (deny) whose vote field is changed to approve after signing: signed
# on a scratch topic, read back with its signature, changed, produced as it is
scratch="mcptrail.e2e.scratch.$suffix"
"$MT_E2E_KAFKA_BIN" create "$scratch" 1
vote "$id" release-bot mcptrail-approval-bot '["bots"]' deny bot |
  produce_raw "$scratch" "$tmp/keys/bot.pem"
tampered=$("$MT_EVENTS_BIN" tail "$scratch" 1 2>/dev/null |
  jq -c 'del(."$partition", ."$offset") | .vote = "approve"')
[ "$(jq -r .key_id <<<"$tampered")" != null ] || fail "scratch vote not signed: $tampered"
echo "$tampered" | produce_raw "$T_VOTE"
# forged cancels: unsigned, and signed by the other sidecar (which did not request $id)
vote "$id" sidecar/pod-1 mcptrail-sidecar '[]' cancel sidecar | produce_raw "$T_VOTE"
vote "$id" sidecar/pod-9 mcptrail-sidecar '[]' cancel sidecar |
  produce_raw "$T_VOTE" "$tmp/keys/sidecar2.pem"

# All are read and rejected, in the order written (one approval id: one partition); the
# approval is untouched.
want='["unsigned","unsigned","unknown_key","wrong_role","identity_not_allowed","group_not_allowed","bad_signature","bad_signature","bad_signature","unsigned","cancel_foreign_sidecar"]'
want_rejected=$(jq length <<<"$want")
reasons() { api GET "/api/v1/approvals/$id" "$alice" | cut -d' ' -f2- | jq -c '[.rejected[].reason]'; }
deadline=$((SECONDS + 30))
until [ "$(reasons)" = "$want" ]; do
  [ $SECONDS -lt $deadline ] || fail "rejections on $id: $(reasons), want $want"
  sleep 0.2 # poll interval for the history
done
wait_state "$id" pending 0 false
got=$(reasons)
echo "e2e: 3 forged requests and $want_rejected forged votes ignored: $got"
for r in '"unsigned"} 1' '"unknown_key"} 1' '"wrong_role"} 1'; do
  curl -s "$base/metrics" | grep -qF "mcptrail_approvals_requests_rejected_total{reason=$r" ||
    fail "requests_rejected_total{reason=$r}: $(curl -s "$base/metrics" | grep requests_rejected)"
done
for id_f in 8009-000000000001 8009-000000000002 8009-000000000003; do
  expect 404 unknown_approval GET "/api/v1/approvals/019b7703-0000-7000-$id_f" "$alice"
done

# 3. The genuine approvers.
expect 202 "" POST "/api/v1/approvals/$id/approve" "$alice" '{"reason":"diff reviewed"}'
expect 202 "" POST "/api/v1/approvals/$id/approve" "$bob" '{"reason":"LGTM"}'
wait_state "$id" approved 2 true
hist_before=$(api GET "/api/v1/approvals/$id" "$alice" | cut -d' ' -f2- | jq -c '[.rejected[] | [.what, .subject, .reason]]')
metrics_before=$(curl -s "$base/metrics" | grep '_rejected_total{' | sort)

# 4. kill -9 and restart: the same records are rejected again, nothing else changes.
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
start_service
wait_state "$id" approved 2 true
hist_after=$(api GET "/api/v1/approvals/$id" "$alice" | cut -d' ' -f2- | jq -c '[.rejected[] | [.what, .subject, .reason]]')
[ "$hist_after" = "$hist_before" ] || fail "history after restart: $hist_after, before: $hist_before"
metrics_after=$(curl -s "$base/metrics" | grep '_rejected_total{' | sort)
[ "$metrics_after" = "$metrics_before" ] ||
  fail "rejection counts after restart differ: $(diff <(echo "$metrics_before") <(echo "$metrics_after"))"
"$MT_E2E_KAFKA_BIN" dump "$T_DEC" "$tmp/dec.raw" 1 3000 30000 >"$tmp/decisions.jsonl"
[ "$(jq -s --arg id "$id" '[.[] | select(.approval_id == $id)] | length' "$tmp/decisions.jsonl")" = 1 ] ||
  fail "want exactly one decision for $id"
"$MT_VERIFY_BIN" --public-key "$tmp/decisions.pub.pem" <"$tmp/decisions.jsonl" >"$tmp/verify.out" ||
  fail "decision signature: $(cat "$tmp/verify.out")"
grep -q "^ok $id approved [0-9a-f]\{16\} approvers=alice,bob$" "$tmp/verify.out" ||
  fail "decision: $(cat "$tmp/verify.out")"
echo "e2e: approved by alice and bob only; after kill -9 and restart the same $want_rejected rejections, one decision"
# Offline, with the public keys only: the counted votes verify, the forgeries do not.
"$MT_EVENTS_BIN" tail "$T_VOTE" >"$tmp/votes-all.jsonl" 2>/dev/null
jq -c --arg id "$id" 'select(.approval_id == $id)' "$tmp/votes-all.jsonl" >"$tmp/votes-id.jsonl"
rc=0
"$MT_VERIFY_BIN" --public-key "$tmp/decisions.pub.pem" --public-key "$tmp/keys/bot.pub.pem" \
  --public-key "$tmp/keys/sidecar.pub.pem" --public-key "$tmp/keys/sidecar2.pub.pem" \
  <"$tmp/votes-id.jsonl" >"$tmp/votes-verify.out" 2>/dev/null || rc=$?
[ "$rc" = 1 ] || fail "offline vote check exited $rc, want 1 (forgeries present)"
grep -q "^ok $id vote approve [0-9a-f]\{16\} voter=alice source=api$" "$tmp/votes-verify.out" &&
  grep -q "^ok $id vote approve [0-9a-f]\{16\} voter=bob source=api$" "$tmp/votes-verify.out" ||
  fail "alice's and bob's votes do not verify offline: $(cat "$tmp/votes-verify.out")"
[ "$(grep -c '^UNSIGNED ' "$tmp/votes-verify.out")" = 3 ] && [ "$(grep -c '^BAD ' "$tmp/votes-verify.out")" = 4 ] ||
  fail "offline check of the forgeries: $(cat "$tmp/votes-verify.out")"
echo "e2e: offline, the two counted votes verify; 3 unsigned and 4 bad-signature votes found"

# 5. The genuine cancel path: a forged cancel refused, the requesting sidecar's counted.
third="019b7703-0000-7000-8002-$(printf '%012x' "$n")"
produce_request "$third" dev-dan
wait_state "$third" pending 0 false
vote "$third" sidecar/pod-9 mcptrail-sidecar '[]' cancel sidecar |
  produce_raw "$T_VOTE" "$tmp/keys/sidecar2.pem"
vote "$third" sidecar/pod-1 mcptrail-sidecar '[]' cancel sidecar |
  produce_raw "$T_VOTE" "$tmp/keys/sidecar.pem"
wait_state "$third" cancelled 0 true
r=$(api GET "/api/v1/approvals/$third" "$alice" | cut -d' ' -f2- | jq -r '[.rejected[].reason] | join(",")')
[ "$r" = cancel_foreign_sidecar ] || fail "cancel of $third: rejections $r"
kill -TERM "$pid"; rc=0; wait "$pid" || rc=$?; pid=""
[ "$rc" = 0 ] || fail "service exited with $rc after SIGTERM"
! grep -q "Sanitizer" "$tmp/service.log" || fail "sanitizer report in the service log"
echo "e2e: forged requests, votes and cancels ignored; genuine ones work. PASS"
