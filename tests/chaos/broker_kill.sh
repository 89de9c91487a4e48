#!/usr/bin/env bash
# chaos broker_kill: kill -9 of a broker (the first round the leader of the events topic's
# partition 0, then a random one) under load, restarted on its storage a few seconds later;
# MT_CHAOS_ROUNDS rounds at random moments. Invariants: lib.sh / check.py.
set -euo pipefail
scenario=broker_kill
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
leader() { # node id leading partition 0 of mcptrail.events (from the brokers' metadata)
  "$e2e_kafka" leader mcptrail.events 0 2>/dev/null || echo $((RANDOM % 3 + 1))
}
inject() {
  local r n
  for ((r = 1; r <= ROUNDS; r++)); do
    pause_random 2 5
    if [ "$r" = 1 ]; then n=$(leader); else n=$((RANDOM % 3 + 1)); fi
    chaos_log "round $r: kill -9 broker $n"
    own_kafka kill-node "$n" >/dev/null 2>&1
    pause_random 3 6
    fault_lifted
    own_kafka restart-node "$n" >/dev/null 2>&1 || chaos_fail "broker $n did not restart"
  done
}
chaos_run
