#!/usr/bin/env bash
# Encode / decode / produce throughput of mcptrail next to baselines measured
# in the same run (Avro C generic values; raw librdkafka), as a Markdown table.
#
#   bench/codec_kafka.sh [--events N] [--produce-events N]
#
# Builds a Release tree in build-release/, starts a 1-node Kafka on
# 127.0.0.1 unless MT_KAFKA_BROKERS is set (and stops it afterwards).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${MT_BENCH_BUILD_DIR:-$root/build-release}
bash "$root/scripts/deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMT_SANITIZE=OFF >/dev/null
ninja -C "$build" codec_kafka >/dev/null

started=""
if [ -z "${MT_KAFKA_BROKERS:-}" ]; then
  export MT_KAFKA_STATE="/tmp/mcptrail-bench-kafka-$$"
  trap 'bash "$root/scripts/kafka.sh" stop >/dev/null 2>&1 || true' EXIT
  MT_KAFKA_BROKERS=$(bash "$root/scripts/kafka.sh" start --nodes 1 | tail -n 1)
  export MT_KAFKA_BROKERS
  started=1
fi

echo "# bench/codec_kafka  $(date -u +%Y-%m-%dT%H:%MZ)  $(nproc) cores  $(uname -m)"
echo "# Kafka ${started:+(local 1-node KRaft) }at $MT_KAFKA_BROKERS; SessionEvent samples from tests/support"
echo
"$build/bench/codec_kafka" "$@" | awk -F'\t' '
  NR == 1 { printf "| %s | %s | %s | %s | %s | %s |\n|---|---|---:|---:|---:|---|\n", $1, $2, $3, $4, $5, $6; next }
  { printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
