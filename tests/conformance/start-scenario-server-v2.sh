#!/usr/bin/env bash
# Starts scenario-server-v2.mjs (TS SDK v2, dual-stack 2026-07-28 + 2025 sessions) on
# 127.0.0.1:PORT (endpoint /mcp), PID to PIDFILE (default $MT_PEERS_RUN/scenario-v2-PORT.pid;
# MT_PEERS_RUN defaults to /tmp/mcptrail-peers), log next to it; waits (deadline 20 s) until
# the port answers. MT_V2_LEDGER (if set) is passed through: the server appends one line per
# executed v2_deploy to that file. Stop: tests/sdk/stop.sh PIDFILE.
# Usage: tests/conformance/start-scenario-server-v2.sh PORT [PIDFILE]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${1:?usage: start-scenario-server-v2.sh PORT [PIDFILE]}
run=${MT_PEERS_RUN:-/tmp/mcptrail-peers}
mkdir -p "$run"
pidfile=${2:-$run/scenario-v2-$port.pid}
log="$run/scenario-v2-$port.log"
node=${MT_NODE:-$here/../peers/node_modules/.bin/node}
[ -x "$node" ] || { echo "start-scenario-server-v2: run scripts/deps-node.sh first" >&2; exit 1; }
[ -d "$here/../peers/node_modules/@modelcontextprotocol/server" ] \
  || { echo "start-scenario-server-v2: @modelcontextprotocol/server missing; run scripts/deps-node.sh" >&2; exit 1; }
setsid "$node" "$here/scenario-server-v2.mjs" "$port" >"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" > "$pidfile"
exec "$here/../sdk/wait-port.sh" "$port" 20 "$pid" "$log"
