#!/usr/bin/env bash
# Starts scenario-server-py.py (Python SDK mcp 2.3.0: 2026-07-28 stateless + 2025 sessions) on
# 127.0.0.1:PORT (endpoint /mcp), PID to PIDFILE (default $MT_PEERS_RUN/scenario-py-PORT.pid;
# MT_PEERS_RUN defaults to /tmp/mcptrail-peers), log next to it; waits (deadline 20 s) until the
# port answers. Runs with the test venv's python (scripts/deps.sh); MT_PYTHON overrides the
# interpreter. Passed through: MT_V2_LEDGER (one line per executed v2_deploy), MT_WIRE_LOG (JSON
# line per HTTP exchange), MT_PY_STATELESS=1 (2025 leg without sessions), MT_BIND_HOST (loopback).
# Stop: tests/sdk/stop.sh PIDFILE.
# Usage: tests/conformance/start-scenario-server-py.sh PORT [PIDFILE]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${1:?usage: start-scenario-server-py.sh PORT [PIDFILE]}
run=${MT_PEERS_RUN:-/tmp/mcptrail-peers}
mkdir -p "$run"
pidfile=${2:-$run/scenario-py-$port.pid}
log="$run/scenario-py-$port.log"
py=${MT_PYTHON:-$HOME/.cache/mcptrail/venv/bin/python}
[ -x "$py" ] || { echo "start-scenario-server-py: $py missing; run scripts/deps.sh" >&2; exit 1; }
"$py" -c 'import mcp.server.mcpserver, uvicorn' 2>/dev/null \
  || { echo "start-scenario-server-py: $py has no mcp/uvicorn; run scripts/deps.sh" >&2; exit 1; }
setsid "$py" "$here/scenario-server-py.py" "$port" >"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" > "$pidfile"
exec "$here/../sdk/wait-port.sh" "$port" 20 "$pid" "$log"
