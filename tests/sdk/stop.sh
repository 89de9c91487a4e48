#!/usr/bin/env bash
# stop.sh PIDFILE: stops the process whose PID is in PIDFILE (TERM, then KILL after 5 s)
# and removes the file. Only that PID is signalled.
set -uo pipefail
pidfile=${1:?usage: stop.sh PIDFILE}
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
fi
rm -f "$pidfile"
