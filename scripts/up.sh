#!/usr/bin/env bash
# The main command: builds mcptrail (Release), starts a local Apache Kafka (KRaft,
# 127.0.0.1) with the mcptrail topics, the reference MCP server
# (@modelcontextprotocol/server-everything, Streamable HTTP) behind mcptrail-sidecar with a
# local development JWKS, mints a development token, runs a TypeScript SDK client session
# through the sidecar and shows the recorded SessionEvents read back from mcptrail.events.
# mcptrail-approvals (API and web console) runs beside it: a policy holds `echo` calls
# whose message is "deploy to production" for two approvers from sre; the demo holds one,
# approves it as alice and bob through the API, and the call completes.
# mcptrail-archiver archives every topic as it goes (signed segments); after the demo the
# auditor's half runs: `mcptrail-archiver verify` of the archive, `mcptrail-replay show` of
# the client's session and the evidence report (paths printed; they stay after the stack
# stops, in MT_UP_EVIDENCE, default /tmp/mcptrail-up-evidence-$UID).
# Then it keeps the stack running until Ctrl-C and prints how to connect your own client.
#
#   scripts/up.sh           demo, then keep running until Ctrl-C (which stops everything)
#   scripts/up.sh --once    demo, then stop everything and exit (non-interactive, for CI)
#   scripts/up.sh --down    stop a stack left running (sidecar, server, Kafka)
#
# Environment: MT_BUILD_DIR (default build/), MT_KAFKA_STATE (/tmp/mcptrail-up-$UID),
# MT_KAFKA_PORT_BASE (29092), MT_UP_RUN (run dir: keys, logs, pid files;
# /tmp/mcptrail-up-run-$UID), MT_UP_PORT (sidecar, 8080), MT_UP_ADMIN_PORT (9090),
# MT_UP_SERVER_PORT (server-everything, 3001), MT_UP_APPROVALS_PORT (approvals API and
# console, 8088). Everything listens on 127.0.0.1 and only
# the processes this script started are ever signalled (by the PIDs in its pid files).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${MT_BUILD_DIR:-$root/build}
export MT_KAFKA_STATE=${MT_KAFKA_STATE:-/tmp/mcptrail-up-$(id -u)}
export MT_KAFKA_PORT_BASE=${MT_KAFKA_PORT_BASE:-29092}
run=${MT_UP_RUN:-/tmp/mcptrail-up-run-$(id -u)}
port=${MT_UP_PORT:-8080}
admin_port=${MT_UP_ADMIN_PORT:-9090}
server_port=${MT_UP_SERVER_PORT:-3001}
approvals_port=${MT_UP_APPROVALS_PORT:-8088}
e2e="$root/tests/sidecar/e2e"
sub=dev-user

stop_pid() { # PIDFILE: TERM the process this script started, wait until it is gone
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null || return 0
  kill -TERM "$(cat "$1")"
  for _ in $(seq 50); do kill -0 "$(cat "$1")" 2>/dev/null || break; sleep 0.1; done
}
stop_all() {
  [ -d "$run" ] && bash "$e2e/stop-sidecar.sh" "$run/sidecar" || true
  [ -f "$run/everything.pid" ] && bash "$root/tests/sdk/stop.sh" "$run/everything.pid" || true
  stop_pid "$run/approvals.pid"
  stop_pid "$run/archiver.pid"
  bash scripts/kafka.sh stop || true
  rm -rf "$run"
}

mode=run
case "${1:-}" in
  --down) stop_all; echo "up: stopped"; exit 0 ;;
  --once) mode=once ;;
  "") ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac

bash scripts/deps.sh
bash scripts/deps-node.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" mcptrail-sidecar mcptrail-devtoken mcptrail-events mcptrail-approvals \
  mcptrail-archiver mcptrail-replay >/dev/null
echo "up: built $build"

if [ -f "$run/sidecar/sidecar.pid" ] && kill -0 "$(cat "$run/sidecar/sidecar.pid")" 2>/dev/null; then
  echo "up: a stack is already running (run dir $run); stop it first: scripts/up.sh --down" >&2
  exit 1
fi
rm -rf "$run"
mkdir -p "$run"
trap 'echo; echo "up: stopping"; stop_all' EXIT
trap 'exit 130' INT TERM

brokers=$(bash scripts/kafka.sh start --nodes 1 | tail -n 1)
echo "up: Kafka (KRaft, 1 node) at $brokers, state in $MT_KAFKA_STATE"
export MT_KAFKA_BROKERS="$brokers" MCPTRAIL_KAFKA_BROKERS="$brokers"
export MT_SCHEMA_DIR="$root/schemas"

# the archiver: every mcptrail topic into a signed archive (demo settings: segments close
# after 2 s, heartbeat manifests every 2 s, so the auditor's half below sees the demo at once)
evidence=${MT_UP_EVIDENCE:-/tmp/mcptrail-up-evidence-$(id -u)}
rm -rf "$evidence"; mkdir -p "$evidence"
archiver=$build/consumers/archiver/mcptrail-archiver
"$archiver" keygen "$run/archive-key.pem" "$evidence/archive-pub.pem"
"$archiver" run --archive.dir="$evidence/archive" --signing.key_file="$run/archive-key.pem" \
  --kafka.brokers="$brokers" --group.id="mcptrail-up-archiver-$$" --segment.max_age=2s \
  --heartbeat.interval=2s --log.level=warn >"$run/archiver.log" 2>&1 &
echo $! >"$run/archiver.pid"
echo "up: mcptrail-archiver -> $evidence/archive (public key $evidence/archive-pub.pem), pid $(cat "$run/archiver.pid")"

MT_PEERS_RUN="$run" bash tests/sdk/start-everything.sh "$server_port" "$run/everything.pid" 2>/dev/null
echo "up: server-everything (Streamable HTTP) on 127.0.0.1:$server_port, pid $(cat "$run/everything.pid")"

export MT_SIDECAR_BIN="$build/sidecar/mcptrail-sidecar" MT_DEVTOKEN_BIN="$build/tools/mcptrail-devtoken"
# approvals: a signing key for mcptrail-approvals (its public half for the sidecar), and
# the sidecar's own key (its public half in the service's trust file: only requests it
# signs are acted on)
"$MT_DEVTOKEN_BIN" keygen --out-dir "$run/approvals-key" >/dev/null
openssl pkey -in "$run/approvals-key/dev-ed25519.pem" -pubout -out "$run/decisions.pub.pem"
source "$root/scripts/lib/approval-keys.sh"
mt_keypair "$run/keys" sidecar
mt_trust_file "$run/trust.json" "sidecar:demo:$run/keys/sidecar.pub.pem"
cat >"$run/policy.json" <<'JSON'
{"version": 1, "default": "allow", "rules": [
  {"id": "prod-deploy-two-sre", "match": {"method": "tools/call", "tool": "echo",
     "arguments": [{"path": "/message", "op": "eq", "value": "deploy to production"}]},
   "action": "approve", "approval": {"groups": ["sre"], "min_approvals": 2,
     "reason_required": true, "expiry": 900}}]}
JSON
approvals_url="http://127.0.0.1:$approvals_port"
url=$(bash "$e2e/run-sidecar.sh" --upstream-port "$server_port" --dir "$run/sidecar" \
  --port "$port" --admin-port "$admin_port" --topic mcptrail.events --mode strict -- \
  --policy.file="$run/policy.json" --approvals.decision_keys="$run/decisions.pub.pem" \
  --approvals.signing_key_file="$run/keys/sidecar.pem" \
  --approvals.console_url="$approvals_url/console/")
echo "up: mcptrail-sidecar at $url (strict mode, admin http://127.0.0.1:$admin_port), pid $(cat "$run/sidecar/sidecar.pid")"
token=$(bash "$e2e/token.sh" "$run/sidecar" "$sub" --ttl 86400)
echo "up: minted a development token for sub=$sub (EdDSA, JWKS $run/sidecar/keys/jwks.json)"
# mcptrail-approvals trusts the same development issuer for approvers
"$build/consumers/approvals/mcptrail-approvals" --api.port="$approvals_port" \
  --auth.jwks_file="$run/sidecar/keys/jwks.json" --auth.issuer=https://issuer.mcptrail.test \
  --auth.audiences=mcptrail-e2e --signing.key_file="$run/approvals-key/dev-ed25519.pem" \
  --trust.file="$run/trust.json" >"$run/approvals.log" 2>&1 &
echo $! >"$run/approvals.pid"
for _ in $(seq 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$approvals_url/readyz")" = 200 ] && break
  kill -0 "$(cat "$run/approvals.pid")" 2>/dev/null || { tail "$run/approvals.log" >&2; exit 1; }
  sleep 0.2 # until the approvals service has replayed its topics
done
echo "up: mcptrail-approvals at $approvals_url (console $approvals_url/console/), pid $(cat "$run/approvals.pid")"
alice=$(bash "$e2e/token.sh" "$run/sidecar" alice --group sre --ttl 86400)
bob=$(bash "$e2e/token.sh" "$run/sidecar" bob --group sre --ttl 86400)

echo "up: TypeScript SDK client session through the sidecar:"
node tests/sdk/ts-client.mjs "$url" --token "$token" --out "$run/ts-transcript.json"

echo "up: events of this session in mcptrail.events (read back from Kafka and decoded):"
"$build/tools/mcptrail-events" tail mcptrail.events > "$run/events.jsonl" 2>"$run/tail.log"
python3 - "$run/events.jsonl" "$token" <<'PY'
import collections, hashlib, json, sys
fp = hashlib.sha256(sys.argv[2].encode()).hexdigest()
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ours = {e["session_id"] for e in evs if (e.get("identity") or {}).get("token_fingerprint") == fp}
evs = sorted((e for e in evs if e["session_id"] in ours), key=lambda e: (e["session_id"], e["seq"]))
print(f"  {'seq':>3}  {'kind':<12} {'direction':<17} {'http':<7} {'method / tool':<44} subject")
for e in evs:
    rpc, http, idn = e.get("rpc") or {}, e.get("http") or {}, e.get("identity") or {}
    what = " / ".join(x for x in (rpc.get("method"), rpc.get("tool")) if x) or ("id " + rpc["id"] if rpc.get("id") else "")
    print(f"  {e['seq']:>3}  {e['kind']:<12} {e['direction']:<17} {(http.get('method') or ''):<7} "
          f"{what[:44]:<44} {idn.get('subject') or ''}")
kinds = collections.Counter(e["kind"] for e in evs)
print(f"up: {len(evs)} events in {len(ours)} session(s): " + ", ".join(f"{v} {k}" for k, v in kinds.items())
      + f"; identity.token_fingerprint = SHA-256(token) = {fp[:16]}..")
if not evs:
    sys.exit("up: no events of this session found on mcptrail.events")
PY

echo "up: a held call: echo 'deploy to production' needs two approvers from sre"
node tests/sidecar/e2e/approval-client.mjs "$url" "$token" echo '{"message":"deploy to production"}' \
  --justification "demo release" >"$run/held.json" 2>"$run/held.err" &
held_pid=$!
approval=""
for _ in $(seq 150); do
  approval=$(grep '"msg":"call held for approval"' "$run/sidecar/sidecar.log" | tail -n 1 | jq -r .approval_id 2>/dev/null || true)
  [ -n "$approval" ] && [ "$approval" != null ] && break
  sleep 0.2 # until the sidecar logs the hold
done
[ -n "$approval" ] && [ "$approval" != null ] || { echo "up: the call was not held" >&2; exit 1; }
echo "up: held as approval $approval ($approvals_url/console/#/approvals/$approval)"
for _ in $(seq 150); do # until mcptrail-approvals has read the ApprovalRequest
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $alice" \
    "$approvals_url/api/v1/approvals/$approval")" = 200 ] && break
  sleep 0.2
done
for who in alice bob; do
  tok=$alice; [ $who = bob ] && tok=$bob
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $tok" \
    -H 'Content-Type: application/json' --data "{\"reason\":\"reviewed by $who\"}" \
    "$approvals_url/api/v1/approvals/$approval/approve")
  echo "up: $who approves through the API -> HTTP $code"
done
wait "$held_pid" || true
echo "up: the held call completed: $(cat "$run/held.json")"
jq -e .ok "$run/held.json" >/dev/null || { echo "up: the held call did not complete" >&2; exit 1; }

echo "up: the auditor's half: verify the archive, replay the session, write the evidence report"
replay=$build/consumers/replay/mcptrail-replay
asrc=(--archive "$evidence/archive" --pubkey "$evidence/archive-pub.pem")
# until the demo's events are in closed segments (segments close after 2 s)
sid=""
for _ in $(seq 100); do
  sid=$("$replay" list "${asrc[@]}" --subject "$sub" --format jsonl 2>/dev/null |
    jq -r 'select(.kind == "mcp" and .tool_calls >= 5) | .session_id' | head -n 1 || true)
  [ -n "$sid" ] && [ "$("$replay" list "${asrc[@]}" --decision approved --format jsonl 2>/dev/null | wc -l)" -ge 1 ] && break
  sid=""; sleep 0.3 # the archiver closes a segment every 2 s
done
[ -n "$sid" ] || { echo "up: the session did not reach the archive" >&2; tail "$run/archiver.log" >&2; exit 1; }
"$archiver" verify "$evidence/archive" --pubkey "$evidence/archive-pub.pem" >"$evidence/verify.txt" || true
sed -n '/^PROBLEM/p;/^  stream /p;/^Result: /p' "$evidence/verify.txt" | sed 's/^/  /'
grep -q '^Result: VALID' "$evidence/verify.txt" || { echo "up: the archive does not verify" >&2; exit 1; }
"$replay" show "$sid" "${asrc[@]}" --color never >"$evidence/session.txt"
echo "up: mcptrail-replay show $sid (first 40 of $(wc -l <"$evidence/session.txt") lines; all in $evidence/session.txt):"
head -n 40 "$evidence/session.txt" | sed 's/^/  /'
"$replay" report "${asrc[@]}" --format html --output "$evidence/evidence.html"
"$replay" report "${asrc[@]}" --format md --output "$evidence/evidence.md"
echo "up: evidence report: $evidence/evidence.html (and .md); archive verified: $(grep '^Result: ' "$evidence/verify.txt")"

cat <<EOT

The stack is up: Kafka $brokers -> mcptrail-sidecar $url -> server-everything 127.0.0.1:$server_port
Connect your own MCP client (Streamable HTTP) to $url with the token:
  export TOKEN=$token
  node tests/sdk/ts-client.mjs $url --token "\$TOKEN"
  curl -s http://127.0.0.1:$admin_port/metrics            # sidecar metrics
  $build/tools/mcptrail-events --kafka.brokers=$brokers tail mcptrail.events   # the recorded events
Approvals console: $approvals_url/console/  (sign in with an approver token:)
  alice (sre): $alice
  bob (sre):   $bob
  hold a call: node tests/sidecar/e2e/approval-client.mjs $url "\$TOKEN" echo '{"message":"deploy to production"}'
Auditor: $replay list ${asrc[*]}
         $archiver verify $evidence/archive --pubkey $evidence/archive-pub.pem
Logs: $run/sidecar/sidecar.log, $run/everything-$server_port.log, $run/approvals.log, $run/archiver.log
EOT

if [ "$mode" = once ]; then
  exit 0 # the EXIT trap stops the stack
fi
echo "Ctrl-C stops everything (or, from another terminal: scripts/up.sh --down)."
sidecar_pid=$(cat "$run/sidecar/sidecar.pid")
while kill -0 "$sidecar_pid" 2>/dev/null; do
  sleep 1 # wait for Ctrl-C; leave when the sidecar was stopped from elsewhere (--down)
done
echo "up: the sidecar is gone"
