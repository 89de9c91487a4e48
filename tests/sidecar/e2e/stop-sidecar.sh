#!/usr/bin/env bash
# stop-sidecar.sh DIR [--kill9]: stops the sidecar started by run-sidecar.sh --dir DIR, and
# only that PID (checked against its command line): TERM, KILL after 10 s; --kill9 sends
# KILL at once (crash test). Waits until the process is gone.
set -euo pipefail
dir=${1:?usage: stop-sidecar.sh DIR [--kill9]}
sig=TERM; [ "${2:-}" = --kill9 ] && sig=KILL
f="$dir/sidecar.pid"
[ -f "$f" ] || exit 0
pid=$(cat "$f")
if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "mcptrail-sidecar"; then
  kill -"$sig" "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -KILL "$pid" 2>/dev/null || true; deadline=$((SECONDS + 10)); fi
    sleep 0.05 # poll interval while waiting for the exit
  done
fi
rm -f "$f"
