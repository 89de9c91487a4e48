#!/usr/bin/env bash
# chaos archiver_kill: kill -9 of mcptrail-archiver under load, restarted on its archive
# (its committed offsets and the segment it was writing); MT_CHAOS_ROUNDS rounds.
set -euo pipefail
scenario=archiver_kill
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
inject() {
  local r
  for ((r = 1; r <= ROUNDS; r++)); do
    pause_random 2 5
    chaos_log "round $r: kill -9 archiver"
    archiver_stop KILL
    pause_random 1 3
    fault_lifted
    archiver_start
  done
}
chaos_run
