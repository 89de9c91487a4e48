#!/usr/bin/env bash
# wait-port.sh PORT DEADLINE_S PID LOG: waits until 127.0.0.1:PORT accepts connections, PID
# dies (prints LOG, fails) or the deadline passes (fails).
set -euo pipefail
port=$1 deadline=$2 pid=$3 log=$4
end=$((SECONDS + deadline))
while ((SECONDS < end)); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "wait-port: process $pid exited; log:" >&2; tail -20 "$log" >&2; exit 1
  fi
  if (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "ready on 127.0.0.1:$port (pid $pid)" >&2; exit 0
  fi
  sleep 0.1
done
echo "wait-port: 127.0.0.1:$port not ready after ${deadline}s; log:" >&2; tail -20 "$log" >&2
exit 1
