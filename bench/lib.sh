# Shared prologue of the Kafka-backed benchmarks (sourced, not run):
#
#   root=...; source "$root/bench/lib.sh"
#   bench_setup NAME TARGET...
#
# installs dependencies (unless MT_BENCH_SKIP_DEPS is set), builds TARGET...
# in a Release tree ($build: MT_BENCH_BUILD_DIR or build-release/), makes a
# work directory $work (removed on exit, write-once segments included) and
# starts a 1-node Kafka on 127.0.0.1 unless MT_KAFKA_BROKERS is set (then
# stopped on exit). Exports MT_KAFKA_BROKERS and MT_SCHEMA_DIR.
# shellcheck shell=bash

bench_cleanup() {
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
  if [ -n "$bench_kafka_started" ]; then
    bash "$root/scripts/kafka.sh" stop >/dev/null 2>&1 || true
  fi
}

bench_setup() {
  local name=$1; shift
  build=${MT_BENCH_BUILD_DIR:-$root/build-release}
  [ -n "${MT_BENCH_SKIP_DEPS:-}" ] || bash "$root/scripts/deps.sh"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMT_SANITIZE=OFF >/dev/null
  ninja -C "$build" "$@" >/dev/null
  export MT_SCHEMA_DIR=$root/schemas
  work=$(mktemp -d "/tmp/mt-$name-bench.XXXXXX")
  bench_kafka_started=""
  trap bench_cleanup EXIT
  if [ -z "${MT_KAFKA_BROKERS:-}" ]; then
    export MT_KAFKA_STATE="/tmp/mcptrail-bench-kafka-$$"
    MT_KAFKA_BROKERS=$(bash "$root/scripts/kafka.sh" start --nodes 1 | tail -n 1)
    bench_kafka_started=1
  fi
  export MT_KAFKA_BROKERS
}
