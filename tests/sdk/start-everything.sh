#!/usr/bin/env bash
# Starts @modelcontextprotocol/server-everything (Streamable HTTP, endpoint /mcp) on
# 127.0.0.1:PORT. Its own code calls app.listen(PORT) on every interface; the preload
# loopback-only.cjs forces 127.0.0.1. Writes the PID to PIDFILE (default
# $MT_PEERS_RUN/everything-PORT.pid, MT_PEERS_RUN defaults to /tmp/mcptrail-peers), logs to
# the same directory, and waits (deadline 20 s) until the port answers.
# Usage: tests/sdk/start-everything.sh PORT [PIDFILE]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${1:?usage: start-everything.sh PORT [PIDFILE]}
run=${MT_PEERS_RUN:-/tmp/mcptrail-peers}
mkdir -p "$run"
pidfile=${2:-$run/everything-$port.pid}
log="$run/everything-$port.log"
peers="$here/../peers"
entry="$peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
[ -f "$entry" ] || { echo "start-everything: run scripts/deps-node.sh first" >&2; exit 1; }
node=${MT_NODE:-$peers/node_modules/.bin/node}
exec 3</dev/null
PORT=$port setsid "$node" --require "$here/loopback-only.cjs" "$entry" streamableHttp >"$log" 2>&1 <&3 &
pid=$!
echo "$pid" > "$pidfile"
exec "$here/wait-port.sh" "$port" 20 "$pid" "$log"
