#!/usr/bin/env bash
# The main command: builds mcptrail (Release), starts a local Apache Kafka
# (KRaft, 127.0.0.1) with the mcptrail topics, and runs the demo: a recorded
# MCP session (tests/fixtures/demo) is published to mcptrail.events as Avro
# single-object records and read back and decoded from the broker.
# Kafka keeps running for you to explore; `scripts/up.sh --down` stops it.
#
# The sidecar, approvals, archiver and replay services join this stack as
# their issues land (docs/status.md says what exists).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${MT_BUILD_DIR:-$root/build}
export MT_KAFKA_STATE=${MT_KAFKA_STATE:-/tmp/mcptrail-up-$(id -u)}
export MT_KAFKA_PORT_BASE=${MT_KAFKA_PORT_BASE:-29092}

if [ "${1:-}" = "--down" ]; then
  exec bash scripts/kafka.sh stop
fi

bash scripts/deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" mcptrail-events mcptrail-avro >/dev/null
echo "up: built $build"

brokers=$(bash scripts/kafka.sh start --nodes 1 | tail -n 1)
echo "up: Kafka (KRaft, 1 node) at $brokers, state in $MT_KAFKA_STATE"
export MCPTRAIL_KAFKA_BROKERS="$brokers"
export MT_SCHEMA_DIR="$root/schemas"

events="$root/tests/fixtures/demo/session_events.jsonl"
"$build/tools/mcptrail-events" produce mcptrail.events < "$events"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$build/tools/mcptrail-events" tail mcptrail.events > "$out"
want=$(grep -c . "$events")
got=$(grep -c . "$out" || true)
echo "up: mcptrail.events holds $got decoded records (this run published $want); first one:"
head -n 1 "$out" | python3 -m json.tool | head -n 40
cat <<EOT

Kafka stays up. Try:
  MCPTRAIL_KAFKA_BROKERS=$brokers $build/tools/mcptrail-events tail mcptrail.events
  $build/tools/mcptrail-avro fingerprint schemas/*.avsc
  scripts/up.sh --down        # stop Kafka and remove its state
EOT
