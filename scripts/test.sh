#!/usr/bin/env bash
# The one test command: installs dependencies, builds with ASan+UBSan, starts
# real Kafka (a 1-node and a 3-node KRaft cluster on 127.0.0.1), runs every
# ctest (unit, cross-language, integration), runs the fuzzers briefly, stops
# what it started and exits non-zero on any failure.
#
#   scripts/test.sh                 everything
#   MT_TEST_FILTER=avro scripts/test.sh   only ctest names matching a regex
#   MT_SKIP_FUZZ=1 / MT_SKIP_3NODE=1      leave out the fuzz run / failover cluster
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${MT_BUILD_DIR:-$root/build-test}
cache=${MT_CACHE:-$HOME/.cache/mcptrail}

bash scripts/deps.sh
bash scripts/deps-node.sh
bash scripts/deps-helm.sh >/dev/null   # helm for tests/helm (a Go module, built once)
bash scripts/k8s.sh deps >/dev/null    # Kubernetes for tests/k8s (Go modules, built once: ~7 min)

cmake -S . -B "$build" -G Ninja -DMT_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
ninja -C "$build"
# The benchmarks build Release (-O3 finds other warnings, -Werror): compile it too.
cmake -S . -B "$build-release" -G Ninja -DMT_SANITIZE=OFF -DCMAKE_BUILD_TYPE=Release \
  -DMT_TESTS=OFF >/dev/null
ninja -C "$build-release" >/dev/null

# Unique state dirs and port bases so a developer's own cluster is untouched.
# The bases sit below Linux's ephemeral range (32768-60999): a client that
# keeps reconnecting to a killed broker's port from an ephemeral port can
# connect to itself (TCP simultaneous open) and hold the port, so the broker
# cannot bind it when restarted (seen in archiver_e2e_failover3).
run_id="test-$$"
export MT_KAFKA_STATE_1="/tmp/mcptrail-kafka-$run_id-1"
export MT_KAFKA_STATE_3="/tmp/mcptrail-kafka-$run_id-3"
cleanup() {
  MT_KAFKA_STATE="$MT_KAFKA_STATE_1" bash scripts/kafka.sh stop >/dev/null 2>&1 || true
  MT_KAFKA_STATE="$MT_KAFKA_STATE_3" bash scripts/kafka.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

MT_KAFKA_BROKERS=$(MT_KAFKA_STATE="$MT_KAFKA_STATE_1" MT_KAFKA_PORT_BASE=${MT_KAFKA_PORT_BASE_1:-19092} \
  bash scripts/kafka.sh start --nodes 1 | tail -n 1)
export MT_KAFKA_BROKERS
echo "test: 1-node Kafka at $MT_KAFKA_BROKERS"
if [ -z "${MT_SKIP_3NODE:-}" ]; then
  MT_KAFKA_3NODE_BROKERS=$(MT_KAFKA_STATE="$MT_KAFKA_STATE_3" MT_KAFKA_PORT_BASE=${MT_KAFKA_PORT_BASE_3:-19192} \
    bash scripts/kafka.sh start --nodes 3 | tail -n 1)
  export MT_KAFKA_3NODE_BROKERS
  export MT_KAFKA_3NODE_STATE="$MT_KAFKA_STATE_3"
  echo "test: 3-node Kafka at $MT_KAFKA_3NODE_BROKERS"
fi

export MT_PYTHON="$cache/venv/bin/python"
export MT_KAFKA_SCRIPT="$root/scripts/kafka.sh"
# Everything the end-to-end tests need was installed above: a skip would hide a broken
# install step, so it fails instead.
export MT_E2E_NO_SKIP=1
# librdkafka keeps a few process-lifetime allocations; leaks of our own code
# are still reported because suppressions name only librdkafka frames.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

status=0
ctest_log="$build/ctest-summary.log"
ctest --test-dir "$build" --output-on-failure -j2 ${MT_TEST_FILTER:+-R "$MT_TEST_FILTER"} \
  | tee "$ctest_log" || status=$?
cleanup

fuzz_status=0
if [ -z "${MT_SKIP_FUZZ:-}" ]; then
  # 30 s per target keeps CI within its time budget with 11+ targets; run
  # FUZZ_SECONDS=300 scripts/fuzz.sh for a longer campaign.
  FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash scripts/fuzz.sh || fuzz_status=$?
  [ "$fuzz_status" -eq 0 ] || status=$fuzz_status
fi
# One closing line for humans and CI: ctest's counts, plus the fuzz run as one test.
total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$ctest_log" | tail -n 1)
failed=$(sed -n 's/.* \([0-9]*\) tests failed out of.*/\1/p' "$ctest_log" | tail -n 1)
total=${total:-0}; failed=${failed:-0}
if [ -z "${MT_SKIP_FUZZ:-}" ]; then
  total=$((total + 1)); [ "$fuzz_status" -eq 0 ] || failed=$((failed + 1))
fi
[ "$total" -gt 0 ] || status=1   # a run that executed no test is a failure
echo "tests: $((total - failed)) passed, $failed failed"
exit "$status"
