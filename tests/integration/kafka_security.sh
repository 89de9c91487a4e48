#!/usr/bin/env bash
# kafka_security (issue 24, acceptance 3): every mcptrail component on a Kafka cluster that
# only speaks TLS with SASL/SCRAM-SHA-512, with the KRaft StandardAuthorizer and the
# least-privilege ACLs of scripts/kafka/acls.tsv (docs/kafka-security.md), each component
# under its own principal.
#  1. scripts/kafka.sh start --secure + acls: a private 1-node cluster (fresh CA and
#     passwords), nothing allowed without an ACL.
#  2. The flow, each binary as its principal: mcptrail-approvals (approvals), the sidecar
#     (sidecar) in front of a real MCP server (TypeScript SDK), a held deploy from a
#     TypeScript SDK client; mcptrail-approval-bot (bot, voting through the API) and alice
#     approve; the deploy runs once. mcptrail-archiver (archiver) archives the four topics
#     and verifies; mcptrail-replay --topic (replay) lists the recorded session.
#  3. Refused by the broker: nobody writing votes, the bot writing votes (API-mode bots get
#     no write right), the bot writing decisions, the sidecar reading votes, the approvals
#     service writing events, the archiver reading as another consumer group, a wrong
#     password.
#  4. docs/kafka-security.md's least-privilege table says exactly what acls.tsv grants.
# The cluster runs Kafka ${MT_KAFKA_SECURE_VERSION:-3.9.1}: Debian 12's librdkafka 2.0.2
# cannot authenticate with SCRAM to Kafka 4.x brokers (docs/kafka-security.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../sidecar/e2e/lib.sh"
e2e_need_peers
for v in MT_SIDECAR_BIN MT_APPROVALS_BIN MT_BOT_BIN MT_ARCHIVER_BIN MT_REPLAY_BIN MT_EVENTS_BIN \
  MT_DEVTOKEN_BIN; do
  [ -x "${!v:-}" ] || e2e_skip "$v is not an executable (ctest sets it)"
done
command -v openssl >/dev/null || e2e_skip "openssl not found"
node="$root/tests/peers/node_modules/.bin/node"
source "$root/scripts/lib/approval-keys.sh"
fail() {
  echo "kafka_security FAIL: $*" >&2
  for f in "$tmp"/*.log "$tmp/sc/sidecar.log"; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 8 "$f" >&2; }; done
  exit 1
}

# --- 1. the secure cluster ---------------------------------------------------------------
export MT_KAFKA_STATE="$tmp/kafka" MT_KAFKA_VERSION=${MT_KAFKA_SECURE_VERSION:-3.9.1}
unset MT_KAFKA_PORT_BASE
e2e_on_exit "bash '$root/scripts/kafka.sh' stop"
brokers=$(bash "$root/scripts/kafka.sh" start --nodes 1 --secure 2>"$tmp/kafka-start.log" | tail -n 1) ||
  { cat "$tmp/kafka-start.log" >&2; fail "secure cluster did not start"; }
bash "$root/scripts/kafka.sh" acls >"$tmp/acls.out" 2>&1 || { cat "$tmp/acls.out" >&2; fail "ACLs not granted"; }
S="$MT_KAFKA_STATE/secure"
grep -q '^listeners=SASL_SSL://127.0.0.1:' "$MT_KAFKA_STATE/node-1/server.properties" ||
  fail "the client listener is not SASL_SSL"
echo "e2e: secure cluster at $brokers (Kafka $MT_KAFKA_VERSION), $(grep -c '^granted' "$tmp/acls.out") ACLs" >&2
export MT_KAFKA_BROKERS="$brokers" MCPTRAIL_KAFKA_BROKERS="$brokers"
# as PRINCIPAL CMD...: runs CMD with that principal's Kafka credentials (and no other).
as() {
  local who=$1; shift
  env "$(cat "$S/clients/$who.env")" "$@"
}
# as_bg PRINCIPAL LOG CMD...: the same in the background; bg_pid is CMD's own pid (the
# subshell execs it), so the exit hook stops the process itself.
as_bg() {
  local who=$1 log=$2; shift 2
  (exec env "$(cat "$S/clients/$who.env")" "$@" >"$log" 2>&1) &
  bg_pid=$!
}

# --- 3 (first, it is quick). refused by the broker ---------------------------------------
hash=5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592
vote_line() {
  jq -cn --arg h "$hash" '{"$schema": "dev.mcptrail.ApprovalVote", approval_id: "acl-probe",
    request_hash: $h, voter: {subject: "mallory", issuer: "x", groups: ["sre"]},
    vote: "approve", reason: null, ts: 1, source: "bot"}'
}
refused_write() { # refused_write PRINCIPAL TOPIC
  local rc=0
  vote_line | as "$1" timeout 60 "$MT_EVENTS_BIN" produce "$2" --log.level=error >"$tmp/refused.out" 2>&1 || rc=$?
  # the broker answers the produce (topic) or the producer id request (cluster: a principal
  # that may write no topic at all) with an authorization failure
  [ "$rc" = 1 ] && grep -q -E "not delivered: (Broker: Topic authorization failed|not authorized by the brokers)" \
    "$tmp/refused.out" || fail "$1 writing $2: rc $rc, want a refusal: $(cat "$tmp/refused.out")"
  echo "e2e: refused: $1 writing $2 ($(grep -o -E 'Topic authorization failed|CLUSTER_AUTHORIZATION_FAILED' "$tmp/refused.out" | head -n 1))" >&2
}
refused_write nobody mcptrail.approval.votes
refused_write bot mcptrail.approval.votes
refused_write bot mcptrail.approval.decisions
refused_write approvals mcptrail.events
refused_write replay mcptrail.approval.votes
# reading: the sidecar may not read votes
rc=0
as sidecar timeout 60 "$MT_EVENTS_BIN" tail mcptrail.approval.votes 1 --log.level=error \
  >"$tmp/read.out" 2>&1 || rc=$?
grep -qi "authorization failed" "$tmp/read.out" || fail "sidecar reading votes: rc $rc: $(cat "$tmp/read.out")"
echo "e2e: refused: sidecar reading mcptrail.approval.votes" >&2
# a wrong password: SASL authentication fails (the producer gives up when its timeout ends)
wrong="$(sed 's/sasl.password=[0-9a-f]*/sasl.password=00000000/' "$S/clients/approvals.env")"
rc=0
vote_line | env "$wrong" timeout 20 "$MT_EVENTS_BIN" produce mcptrail.approval.votes \
  >"$tmp/auth.out" 2>&1 || rc=$?
grep -q "SASL authentication error: Authentication failed" "$tmp/auth.out" ||
  fail "wrong password: rc $rc: $(head -c 600 "$tmp/auth.out")"
! grep -q "00000000" "$tmp/auth.out" || fail "the password is in the client's log"
echo "e2e: refused: a wrong password (SASL authentication failed)" >&2

# --- 2. the flow ---------------------------------------------------------------------------
start_approval_server
up=$approval_server_port

mt_keypair "$tmp/keys" service
mt_keypair "$tmp/keys" sidecar
mt_trust_file "$tmp/trust.json" "sidecar:acl-test:$tmp/keys/sidecar.pub.pem"
cat >"$tmp/policy.json" <<'JSON'
{"version": 1, "default": "allow", "rules": [
  {"id": "prod-deploy", "match": {"tool": "deploy",
     "arguments": [{"path": "/environment", "op": "eq", "value": "production"}]},
   "action": "approve", "approval": {"groups": ["sre", "bots"], "min_approvals": 2, "expiry": 300}}]}
JSON
export "$(cat "$S/clients/sidecar.env")" # for the sidecar only (start_sidecar is a function)
start_sidecar "$tmp/sc" "$up" -- --policy.file="$tmp/policy.json" \
  --approvals.decision_keys="$tmp/keys/service.pub.pem" \
  --approvals.signing_key_file="$tmp/keys/sidecar.pem" --kafka.client_id=mcptrail-sidecar
unset MCPTRAIL_KAFKA_PROPERTIES
url=$sidecar_url
api_port=$(free_port)
base="http://127.0.0.1:$api_port"
as_bg approvals "$tmp/approvals.log" "$MT_APPROVALS_BIN" --api.port="$api_port" \
  --auth.jwks_file="$tmp/sc/keys/jwks.json" --auth.issuer=https://issuer.mcptrail.test \
  --auth.audiences=mcptrail-e2e --signing.key_file="$tmp/keys/service.pem" \
  --trust.file="$tmp/trust.json" --kafka.client_id=mcptrail-approvals
appr_pid=$bg_pid
e2e_on_exit 'if [ -n "$appr_pid" ]; then kill -TERM $appr_pid; wait $appr_pid; fi'
deadline=$((SECONDS + 60))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ]; do
  kill -0 "$appr_pid" 2>/dev/null || fail "mcptrail-approvals exited"
  [ $SECONDS -lt $deadline ] || fail "mcptrail-approvals not ready within 60 s"
  sleep 0.2 # poll interval for /readyz
done
"$root/tests/sidecar/e2e/token.sh" "$tmp/sc" release-bot --group bots --ttl 3600 >"$tmp/bot.token"
echo 'approve tool=deploy reason="release window open"' >"$tmp/rules.txt"
as_bg bot "$tmp/bot.log" "$MT_BOT_BIN" --rules_file="$tmp/rules.txt" \
  --trust.file="$tmp/trust.json" --approvals.url="$base" \
  --approvals.token_file="$tmp/bot.token" --kafka.client_id=mcptrail-approval-bot
bot_pid=$bg_pid
e2e_on_exit 'if [ -n "$bot_pid" ]; then kill -TERM $bot_pid; wait $bot_pid; fi'
alice=$("$root/tests/sidecar/e2e/token.sh" "$tmp/sc" alice --group sre)
requester=$("$root/tests/sidecar/e2e/token.sh" "$tmp/sc" ci-deployer --group dev)

"$node" "$root/tests/sidecar/e2e/approval-client.mjs" "$url" "$requester" deploy \
  '{"environment":"production","version":"v9"}' --timeout-ms 120000 >"$tmp/client.json" \
  2>"$tmp/client.err" &
client=$!
deadline=$((SECONDS + 60)) id=""
until [ -n "$id" ] && [ "$id" != null ]; do
  id=$(grep '"msg":"call held for approval"' "$tmp/sc/sidecar.log" | head -n 1 | jq -r .approval_id 2>/dev/null || true)
  [ $SECONDS -lt $deadline ] || fail "no held call"
  sleep 0.2 # poll interval for the sidecar log
done
# the bot's vote (through the API) arrives first; then alice
deadline=$((SECONDS + 60))
until [ "$(curl -s -H "Authorization: Bearer $alice" "$base/api/v1/approvals/$id" | jq -r .approvals)" = 1 ]; do
  [ $SECONDS -lt $deadline ] || fail "the bot's vote was not counted"
  sleep 0.2 # poll interval for the approval
done
code=$(curl -s -o "$tmp/vote.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $alice" \
  -H 'Content-Type: application/json' --data '{"reason":"checked"}' "$base/api/v1/approvals/$id/approve")
[ "$code" = 202 ] || fail "alice's vote: $code $(cat "$tmp/vote.out")"
wait "$client" || fail "client exited with $?: $(cat "$tmp/client.err")"
jq -e '.ok and (.text | startswith("deployed v9 to production"))' "$tmp/client.json" >/dev/null ||
  fail "client got $(cat "$tmp/client.json")"
[ "$(wc -l <"$tmp/deploy.log")" = 1 ] || fail "deploys: $(wc -l <"$tmp/deploy.log"), want 1"
voters=$(curl -s -H "Authorization: Bearer $alice" "$base/api/v1/approvals/$id" |
  jq -r '[.votes[] | "\(.subject)/\(.source)"] | sort | join(",")')
[ "$voters" = "alice/api,release-bot/api" ] || fail "votes: $voters"
echo "e2e: held deploy approved by the bot (API, principal bot) and alice; ran once" >&2

# the archiver (principal archiver) reads the four topics, then verifies offline
"$MT_ARCHIVER_BIN" keygen "$tmp/arch.key" "$tmp/arch.pub" >/dev/null
as archiver timeout 120 "$MT_ARCHIVER_BIN" run --archive.dir="$tmp/archive" \
  --signing.key_file="$tmp/arch.key" \
  --topics=mcptrail.events,mcptrail.approval.requests,mcptrail.approval.votes,mcptrail.approval.decisions \
  --heartbeat.interval=1s --exit_idle=4s --kafka.client_id=mcptrail-archiver \
  >"$tmp/archiver.log" 2>&1 || fail "archiver run"
"$MT_ARCHIVER_BIN" verify "$tmp/archive" --pubkey "$tmp/arch.pub" >"$tmp/verify.out" 2>&1 ||
  fail "verify: $(tail -n 20 "$tmp/verify.out")"
n_arch=$("$MT_REPLAY_BIN" list --archive "$tmp/archive" --pubkey "$tmp/arch.pub" --format jsonl | wc -l)
[ "$n_arch" -ge 1 ] || fail "no session in the archive"
# ... under another consumer group its principal has no right
rc=0
as archiver timeout 60 "$MT_ARCHIVER_BIN" run --archive.dir="$tmp/archive2" \
  --signing.key_file="$tmp/arch.key" --topics=mcptrail.events --group.id=not-ours \
  --exit_idle=4s --kafka.client_id=mcptrail-archiver >"$tmp/archiver2.log" 2>&1 || rc=$?
grep -qi "group authorization failed" "$tmp/archiver2.log" ||
  fail "archiver under group not-ours: rc $rc: $(tail -n 5 "$tmp/archiver2.log")"
echo "e2e: archiver (principal archiver) archived and verified; refused under another group" >&2

# replay straight from the topic (principal replay)
as replay timeout 120 "$MT_REPLAY_BIN" list --topic mcptrail.events --format jsonl \
  --kafka.client_id=mcptrail-replay >"$tmp/list.jsonl" 2>"$tmp/replay.log" ||
  fail "replay list from the topic: $(tail -n 5 "$tmp/replay.log")"
n_topic=$(wc -l <"$tmp/list.jsonl")
[ "$n_topic" = "$n_arch" ] || fail "replay from the topic lists $n_topic sessions, the archive $n_arch"
echo "e2e: replay (principal replay) lists the $n_topic session(s) from the topic" >&2

# --- 4. the docs' table and the ACL file agree ------------------------------------------
"$py" - "$root/scripts/kafka/acls.tsv" "$root/docs/kafka-security.md" <<'PY' || fail "docs/kafka-security.md and acls.tsv disagree"
import re, sys
acl = set()
for line in open(sys.argv[1]):
    line = line.split("#")[0].split()
    if line:
        for op in line[3].split(","):
            acl.add((line[0].split(":")[1], line[1], line[2], op))
doc = set()
table = False
for line in open(sys.argv[2]):
    if line.startswith("| principal | resource | name | operations"):
        table = True
        continue
    if table and line.startswith("|---"):
        continue
    if table and line.startswith("|"):
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        for op in cells[3].split(","):
            doc.add((cells[0], cells[1], cells[2], op.strip()))
    elif table:
        break
if acl != doc:
    print("only in acls.tsv:", sorted(acl - doc))
    print("only in the docs:", sorted(doc - acl))
    sys.exit(1)
print(f"e2e: docs table = acls.tsv ({len(acl)} grants)", file=sys.stderr)
PY
stop_sidecar_checked "$tmp/sc" || fail "sanitizer report in the sidecar log"
! grep -q "Sanitizer" "$tmp/approvals.log" "$tmp/bot.log" "$tmp/archiver.log" ||
  fail "sanitizer report in a component's log"
for f in "$tmp"/*.log "$tmp/sc/sidecar.log"; do
  for u in sidecar approvals archiver replay bot; do
    ! grep -qF "$(cat "$S/users/$u.password")" "$f" || fail "$u's password is in $f"
  done
done
for p in $appr_pid $bot_pid; do
  kill -TERM "$p"; rc=0; wait "$p" || rc=$?
  [ "$rc" = 0 ] || fail "pid $p exited with $rc after SIGTERM"
done
appr_pid="" bot_pid=""
! grep -q "Sanitizer" "$tmp/approvals.log" "$tmp/bot.log" || fail "sanitizer report after SIGTERM"
echo "e2e: kafka_security PASS" >&2
