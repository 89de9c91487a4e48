#!/usr/bin/env bash
# chaos sidecar_kill: kill -9 of one of the two strict sidecars while calls are in flight
# (its stdio server goes with it), restarted on the same port; the other one keeps
# serving. MT_CHAOS_ROUNDS rounds at random moments.
set -euo pipefail
scenario=sidecar_kill
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
inject() {
  local r n
  for ((r = 1; r <= ROUNDS; r++)); do
    pause_random 2 5
    n=$((RANDOM % 2 + 1))
    chaos_log "round $r: kill -9 sidecar $n"
    "$here/stop-sidecar.sh" "$tmp/sc$n" --kill9
    pause_random 1 3
    fault_lifted
    sidecar_start "$n"
  done
  # each killed instance's stream ends without a clean stop; verify says so
  ALLOW_PROBLEMS="unclean-stop=$ROUNDS"
}
chaos_run
