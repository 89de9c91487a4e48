#!/usr/bin/env bash
# Builds every libFuzzer target in fuzz/ with clang-14 (ASan+UBSan) in a
# separate build dir and runs each for FUZZ_SECONDS (default 60) on a copy of
# its seed corpus. Exits non-zero if any target crashes, leaks, times out or
# fails to build; crash inputs are left in build-fuzz/artifacts/<target>/.
#
#   FUZZ_SECONDS=300 scripts/fuzz.sh            # all targets
#   scripts/fuzz.sh fuzz_avro_decode            # just one
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
cc=${FUZZ_CC:-clang-14}

command -v "$cc" >/dev/null || { echo "fuzz.sh: $cc not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }

mkdir -p "$build"
CC=$cc cmake -S "$root" -B "$build" -G Ninja -DMT_FUZZ=ON -DMT_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 \
  || { cat "$build/configure.log" >&2; exit 1; }
ninja -C "$build" >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$root"/fuzz/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
fi

export MT_SCHEMA_DIR=${MT_SCHEMA_DIR:-$root/schemas}
# Leaks count as failures; UBSan findings abort so libFuzzer records them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

status=0
for t in "${targets[@]}"; do
  seeds=$root/fuzz/corpus/${t#fuzz_}
  work=$build/corpus/$t
  arts=$build/artifacts/$t
  mkdir -p "$work" "$arts"
  # Work on a copy: the fuzzer adds inputs, the committed seeds stay small.
  [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  echo "== $t for ${seconds}s"
  if "$build/fuzz/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
       -print_final_stats=1 -artifact_prefix="$arts/" "$work" >"$build/$t.log" 2>&1; then
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done)" "$build/$t.log" || true
  else
    status=1
    echo "!! $t failed; last lines of $build/$t.log:" >&2
    tail -40 "$build/$t.log" >&2
  fi
done
exit $status
