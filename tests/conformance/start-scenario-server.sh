#!/usr/bin/env bash
# Starts scenario-server.mjs on 127.0.0.1:PORT (endpoint /mcp), PID to PIDFILE (default
# $MT_PEERS_RUN/scenario-PORT.pid; MT_PEERS_RUN defaults to /tmp/mcptrail-peers), waits
# (deadline 20 s) until the port answers. Stop: tests/sdk/stop.sh PIDFILE.
# Usage: tests/conformance/start-scenario-server.sh PORT [PIDFILE]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${1:?usage: start-scenario-server.sh PORT [PIDFILE]}
run=${MT_PEERS_RUN:-/tmp/mcptrail-peers}
mkdir -p "$run"
pidfile=${2:-$run/scenario-$port.pid}
log="$run/scenario-$port.log"
node=${MT_NODE:-$here/../peers/node_modules/.bin/node}
[ -x "$node" ] || { echo "start-scenario-server: run scripts/deps-node.sh first" >&2; exit 1; }
setsid "$node" "$here/scenario-server.mjs" "$port" >"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" > "$pidfile"
exec "$here/../sdk/wait-port.sh" "$port" 20 "$pid" "$log"
