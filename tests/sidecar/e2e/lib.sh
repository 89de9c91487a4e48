# lib.sh: shared helpers of the sidecar end-to-end tests (sourced, not run).
# Sets: here, root, tmp (removed on exit), e2e_kafka, py; cleanup hooks run on exit in reverse
# order of registration. Exits 77 (ctest skip) when Kafka or the MCP peers are missing.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
e2e_kafka=${MT_E2E_KAFKA_BIN:-$root/build/tests/sidecar/mt_e2e_kafka}
py=${MT_PYTHON:-${MT_CACHE:-$HOME/.cache/mcptrail}/venv/bin/python}
export MT_SCHEMA_DIR=${MT_SCHEMA_DIR:-$root/schemas}

e2e_skip() {
  # scripts/test.sh installs every peer, so there a missing one is a failure, not a skip.
  if [ -n "${MT_E2E_NO_SKIP:-}" ]; then echo "FAIL (would skip): $*" >&2; exit 1; fi
  echo "SKIP: $*" >&2; exit 77
}
e2e_need_peers() {
  [ -x "$root/tests/peers/node_modules/.bin/node" ] || e2e_skip "MCP peers not installed (scripts/deps-node.sh)"
  [ -x "$py" ] || e2e_skip "Python venv not found at $py (scripts/deps.sh)"
}
e2e_need_kafka() { [ -n "${MT_KAFKA_BROKERS:-}" ] || e2e_skip "MT_KAFKA_BROKERS is not set (scripts/test.sh sets it)"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mt-e2e.XXXXXX")
export MT_PEERS_RUN="$tmp/peers"
mkdir -p "$MT_PEERS_RUN"
_e2e_hooks=()
e2e_on_exit() { _e2e_hooks+=("$1"); }
_e2e_exit() {
  local rc=$? i
  for ((i = ${#_e2e_hooks[@]} - 1; i >= 0; i--)); do eval "${_e2e_hooks[$i]}" >/dev/null 2>&1 || true; done
  if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -n "${MT_E2E_KEEP:-}" ]; then
    echo "e2e: kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit $rc
}
trap _e2e_exit EXIT
trap 'exit 130' INT TERM

# free_port: a port nobody listens on, below the ephemeral range (like scripts/kafka.sh).
free_port() {
  local p tries=0
  while :; do
    tries=$((tries + 1)); [ $tries -lt 1000 ] || { echo "e2e: no free port" >&2; return 1; }
    p=$((20000 + RANDOM % 12000))
    ss -Htan 2>/dev/null | awk '{print $4}' | grep -q -E "[:.]$p\$" && continue
    echo "$p"; return 0
  done
}

# own_kafka ARGS...: scripts/kafka.sh on a cluster of the test's own (state in $tmp/kafka);
# register e2e_on_exit "own_kafka stop" before starting it.
own_kafka() { MT_KAFKA_STATE="$tmp/kafka" MT_KAFKA_STOP_TIMEOUT=5 bash "$root/scripts/kafka.sh" "$@"; }

# start_everything PORT: server-everything on 127.0.0.1:PORT, stopped on exit.
start_everything() {
  "$root/tests/sdk/start-everything.sh" "$1" "$MT_PEERS_RUN/everything-$1.pid" 2>/dev/null
  e2e_on_exit "'$root/tests/sdk/stop.sh' '$MT_PEERS_RUN/everything-$1.pid'"
}

# start_approval_server: approval-server.mjs (TypeScript SDK; its deploy tool appends each
# run to $tmp/deploy.log) on a free port, stopped on exit; sets approval_server_port.
start_approval_server() {
  approval_server_port=$(free_port)
  MT_DEPLOY_LOG="$tmp/deploy.log" setsid "$root/tests/peers/node_modules/.bin/node" \
    "$here/approval-server.mjs" "$approval_server_port" >"$tmp/server.log" 2>&1 </dev/null &
  echo $! >"$MT_PEERS_RUN/approval-server.pid"
  e2e_on_exit "'$root/tests/sdk/stop.sh' '$MT_PEERS_RUN/approval-server.pid'"
  "$root/tests/sdk/wait-port.sh" "$approval_server_port" 20 \
    "$(cat "$MT_PEERS_RUN/approval-server.pid")" "$tmp/server.log"
}

# start_sidecar DIR UPSTREAM_PORT [run-sidecar.sh args]: sets sidecar_url; stopped on exit.
# (Not for $(...): the exit hook must be registered in the test's own shell.)
start_sidecar() {
  local d=$1 up=$2; shift 2
  e2e_on_exit "'$here/stop-sidecar.sh' '$d'"
  "$here/run-sidecar.sh" --upstream-port "$up" --dir "$d" "$@" >/dev/null || return 1
  sidecar_url=$(cat "$d/url")
}

# start_fast_upstream: bench/proxy/upstream (a stateless MCP-ish server, built here) on a free
# port, stopped on exit; sets fast_upstream_port.
start_fast_upstream() {
  cc -O2 -std=c11 -o "$tmp/upstream" "$root/bench/proxy/upstream.c" -levent -levent_pthreads -lpthread
  fast_upstream_port=$(free_port)
  "$tmp/upstream" --port "$fast_upstream_port" >"$tmp/upstream.log" 2>&1 &
  echo $! >"$tmp/upstream.pid"
  e2e_on_exit "kill \$(cat '$tmp/upstream.pid')"
  "$root/tests/sdk/wait-port.sh" "$fast_upstream_port" 20 "$(cat "$tmp/upstream.pid")" "$tmp/upstream.log"
}

# stateless_call URL TOKEN ID: one MCP 2026-07-28 tools/call of echo, without a session;
# exits the test when it is refused.
stateless_call() {
  curl -sf -o /dev/null -X POST "$1" -H "Authorization: Bearer $2" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H 'MCP-Protocol-Version: 2026-07-28' -H 'Mcp-Method: tools/call' -H 'Mcp-Name: echo' \
    -d "{\"jsonrpc\":\"2.0\",\"id\":$3,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"n\":$3}}}" \
    || { echo "FAIL: call $3 through $1" >&2; exit 1; }
}

# new_topic PREFIX: creates a unique topic (3 partitions) and prints its name.
new_topic() {
  local t="e2e.$1.$(date +%s).$$.$RANDOM"
  "$e2e_kafka" create "$t" 3 >&2
  echo "$t"
}

# stop_sidecar_checked DIR...: stops the sidecars (TERM: clean shutdown) and fails when a
# sanitizer (ASan/LSan/UBSan builds) reported anything in their logs. MT_E2E_LEAKS_WARN=1
# downgrades LeakSanitizer reports to a warning.
stop_sidecar_checked() {
  local d bad=0 pat="ERROR: [A-Za-z]*Sanitizer|runtime error:"
  [ -z "${MT_E2E_LEAKS_WARN:-}" ] || pat="ERROR: (Address|Thread|Memory)Sanitizer|runtime error:"
  for d in "$@"; do
    "$here/stop-sidecar.sh" "$d"
    if grep -q -E "$pat" "$d/sidecar.log"; then
      echo "e2e: sanitizer report in $d/sidecar.log:" >&2
      grep -v '^[{%]' "$d/sidecar.log" | grep -E -A40 "$pat" | head -80 >&2
      bad=1
    elif grep -q "ERROR: LeakSanitizer" "$d/sidecar.log"; then
      echo "e2e: WARNING: sidecar leaks at exit: $(grep -m1 '^SUMMARY: AddressSanitizer' "$d/sidecar.log")" >&2
    fi
  done
  return $bad
}
