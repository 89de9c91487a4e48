#!/usr/bin/env bash
# chaos broker_stop: a broker frozen with SIGSTOP for longer than the producers' request
# timeout (MT_CHAOS_STOP_S, default 35 s; librdkafka's request.timeout.ms is 30 s), then
# resumed with SIGCONT; MT_CHAOS_ROUNDS rounds (default 1 here: each takes the timeout).
set -euo pipefail
scenario=broker_stop
MT_CHAOS_ROUNDS=${MT_CHAOS_ROUNDS:-1}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SECONDS_LOAD=$((SECONDS_LOAD > ROUNDS * 45 ? SECONDS_LOAD : ROUNDS * 45))
inject() {
  local r n pid
  for ((r = 1; r <= ROUNDS; r++)); do
    pause_random 1 3
    n=$((RANDOM % 3 + 1))
    pid=$(cat "$tmp/kafka/node-$n/pid")
    chaos_log "round $r: SIGSTOP broker $n (pid $pid) for ${MT_CHAOS_STOP_S:-35} s"
    kill -STOP "$pid"
    e2e_on_exit "kill -CONT $pid"
    sleep "${MT_CHAOS_STOP_S:-35}"
    fault_lifted
    kill -CONT "$pid"
  done
}
chaos_run
