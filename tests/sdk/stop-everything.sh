#!/usr/bin/env bash
# stop-everything.sh PORT [PIDFILE]: stops the server started by start-everything.sh PORT.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
port=${1:?usage: stop-everything.sh PORT [PIDFILE]}
exec "$here/stop.sh" "${2:-${MT_PEERS_RUN:-/tmp/mcptrail-peers}/everything-$port.pid}"
