#!/usr/bin/env bash
# console_hold.sh start|after|stop: the sidecar hold behind the console test
# (approvals_console, hooks MT_CONSOLE_E2E_HOLD / _AFTER / _CLEANUP of e2e_console.sh).
#  start  a real MCP server (tests/sidecar/e2e/approval-server.mjs), the real
#         mcptrail-sidecar in front of it on the test's approval topics (policy: deploy to
#         production needs 2 approvals from sre), and a TypeScript SDK client whose deploy
#         is held; prints the approval id (from the sidecar log) on its last line.
#  after  waits for that client: it must get the real result, and the deploy must have run
#         exactly once; then stops everything.
#  stop   stops whatever is still running (the test's exit path).
# Uses e2e_console.sh's exports: T_REQ T_VOTE T_DEC DECISION_PUBKEY MT_E2E_TMP (whose
# keys/sidecar.pem the service's trust file names: e2e_lib.sh), and
# MT_SIDECAR_BIN, MT_DEVTOKEN_BIN, MT_E2E_KAFKA_BIN, MT_KAFKA_BROKERS from ctest.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
e2e="$root/tests/sidecar/e2e"
d="$MT_E2E_TMP/hold"
node="$root/tests/peers/node_modules/.bin/node"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

stop_all() {
  [ -f "$d/client.pid" ] && kill "$(cat "$d/client.pid")" 2>/dev/null || true
  [ -d "$d/sc" ] && "$e2e/stop-sidecar.sh" "$d/sc" >/dev/null 2>&1 || true
  [ -f "$d/server.pid" ] && "$root/tests/sdk/stop.sh" "$d/server.pid" >/dev/null 2>&1 || true
  return 0
}

case "${1:-}" in
start)
  mkdir -p "$d"
  up=$(port)
  MT_DEPLOY_LOG="$d/deploy.log" setsid "$node" "$e2e/approval-server.mjs" "$up" \
    >"$d/server.log" 2>&1 </dev/null &
  echo $! >"$d/server.pid"
  "$root/tests/sdk/wait-port.sh" "$up" 20 "$(cat "$d/server.pid")" "$d/server.log" >&2
  cat >"$d/policy.json" <<'JSON'
{"version": 1, "default": "allow", "rules": [
  {"id": "prod-deploy-two-sre", "match": {"tool": "deploy",
     "arguments": [{"path": "/environment", "op": "eq", "value": "production"}]},
   "action": "approve", "approval": {"groups": ["sre"], "min_approvals": 2, "expiry": 600}}]}
JSON
  topic="e2e.console-hold.$$.$(date +%s)"
  "$MT_E2E_KAFKA_BIN" create "$topic" 3 >&2
  "$e2e/run-sidecar.sh" --upstream-port "$up" --dir "$d/sc" --topic "$topic" -- \
    --policy.file="$d/policy.json" --approvals.decision_keys="$DECISION_PUBKEY" \
    --approvals.signing_key_file="$MT_E2E_TMP/keys/sidecar.pem" \
    --approvals.topic_requests="$T_REQ" --approvals.topic_votes="$T_VOTE" \
    --approvals.topic_decisions="$T_DEC" >"$d/url"
  token=$("$e2e/token.sh" "$d/sc" ci-deployer)
  setsid "$node" "$e2e/approval-client.mjs" "$(cat "$d/url")" "$token" deploy \
    '{"environment":"production","version":"v7"}' --justification "release v7 (CHG-7)" \
    --timeout-ms 240000 >"$d/client.json" 2>"$d/client.err" </dev/null &
  echo $! >"$d/client.pid"
  for _ in $(seq 150); do
    id=$(grep '"msg":"call held for approval"' "$d/sc/sidecar.log" | tail -n 1 | jq -r .approval_id 2>/dev/null || true)
    if [ -n "$id" ] && [ "$id" != null ]; then echo "$id"; exit 0; fi
    sleep 0.2 # poll interval for the sidecar log
  done
  echo "console_hold: no held call within 30 s" >&2; stop_all; exit 1 ;;
after)
  pid=$(cat "$d/client.pid")
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && { echo "console_hold: the held call did not complete" >&2; stop_all; exit 1; }
  ok=0
  jq -e '.ok and (.text | startswith("deployed v7 to production"))' "$d/client.json" >/dev/null && ok=1
  n=$(wc -l <"$d/deploy.log" 2>/dev/null || echo 0)
  echo "console_hold: client got $(cat "$d/client.json"); deploys: $n" >&2
  stop_all
  [ "$ok" = 1 ] && [ "$n" = 1 ] ;;
stop) stop_all ;;
*) echo "usage: console_hold.sh start|after|stop" >&2; exit 2 ;;
esac
