#!/usr/bin/env bash
# mcptrail-archiver throughput next to baselines measured in the same run:
# ingest (Kafka -> signed segments, per deflate level) against plain
# consumption with the same consumer, and `verify` against sha256sum of the
# same segment files (one core each; verify is single-threaded).
#
#   bench/archive.sh [--events N]      (default 1000000)
#
# Builds a Release tree in build-release/, starts a 1-node Kafka on 127.0.0.1
# unless MT_KAFKA_BROKERS is set (and stops it afterwards), prints a Markdown
# table and writes it into docs/benchmarks.md (section "Archive").
# Targets (issue 7): ingest >= 300k events/s, verify >= 200 MB/s per core.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=1000000
while [ $# -gt 0 ]; do
  case $1 in
    --events) n=$2; shift 2 ;;
    *) echo "usage: bench/archive.sh [--events N]" >&2; exit 2 ;;
  esac
done
source "$root/bench/lib.sh"
bench_setup archive mcptrail-archiver archiver_produce archive_consume
bin=$build/consumers/archiver/mcptrail-archiver
prefix="bench$$."
topics="${prefix}mcptrail.events,${prefix}mcptrail.approval.requests,${prefix}mcptrail.approval.votes,${prefix}mcptrail.approval.decisions"
"$bin" keygen "$work/key.pem" "$work/pub.pem"
"$build/tests/consumers/archiver/archiver_produce" "$MT_KAFKA_BROKERS" "$n" 0 - "$prefix" \
  2>"$work/produce.log"

rows=()
row() { rows+=("$(printf '| %s | %s | %s | %s | %s |' "$@")"); }
rate() { awk -v a="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? a / s : 0) }'; }
mb() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1e6 : 0) }'; }

# Baseline: consume and discard.
read -r got bytes secs < <("$build/bench/archive_consume" "$MT_KAFKA_BROKERS" "bench-consume-$$" "$n" \
  ${topics//,/ })
row "ingest" "baseline: mt_consumer, records discarded" "$(rate "$got" "$secs") events/s" \
  "$(mb "$bytes" "$secs") MB/s" "${secs} s for $got records"

for level in -1 1 6; do
  dir=$work/arch$level
  "$bin" run --archive.dir="$dir" --signing.key_file="$work/key.pem" \
    --kafka.brokers="$MT_KAFKA_BROKERS" --group.id="bench-archive-$$-$level" --topics="$topics" \
    --segment.deflate_level="$level" --exit_idle=4s --log.level=info 2>"$work/run$level.log"
  line=$(grep '"msg":"stopped"' "$work/run$level.log")
  recs=$(sed 's/.*"records":\([0-9]*\).*/\1/' <<<"$line")
  vb=$(sed 's/.*"value_bytes":\([0-9]*\).*/\1/' <<<"$line")
  ms=$(sed 's/.*"ingest_ms":\([0-9]*\).*/\1/' <<<"$line")
  secs=$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')
  segbytes=$(du -sb --apparent-size "$dir" | cut -f1)
  name="mcptrail-archiver run, deflate level $level"
  [ "$level" = -1 ] && name="mcptrail-archiver run, no compression"
  value_bytes=$vb
  row "ingest" "$name" "$(rate "$recs" "$secs") events/s" "$(mb "$vb" "$secs") MB/s" \
    "$recs records, archive $(awk -v b="$segbytes" 'BEGIN { printf "%.0f", b / 1e6 }') MB"
done

for level in 1 -1; do
  dir=$work/arch$level
  segbytes=$(find "$dir" -name '*.avro' -printf '%s\n' | awk '{ s += $1 } END { print s }')
  t0=$(date +%s.%N)
  find "$dir" -name '*.avro' -print0 | xargs -0 cat | sha256sum >/dev/null
  t1=$(date +%s.%N)
  s_sha=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  what="deflate 1, the default"
  [ "$level" = -1 ] && what="uncompressed"
  row "verify ($what)" "baseline: sha256sum of the segment files (1 core)" "-" "$(mb "$segbytes" "$s_sha") MB/s" \
    "${s_sha} s"
  for threads in 1 0; do
    t1=$(date +%s.%N)
    topt=()
    [ "$threads" = 0 ] || topt=(--threads "$threads")
    "$bin" verify "$dir" --pubkey "$work/pub.pem" --quiet "${topt[@]}" >"$work/verify$level.out" \
      || { cat "$work/verify$level.out" >&2; echo "bench: verify failed" >&2; exit 1; }
    t2=$(date +%s.%N)
    s_ver=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", b - a }')
    how="--threads 1 (1 core)"
    [ "$threads" = 0 ] && how="default: one segment reader per core ($(nproc))"
    row "verify ($what)" "mcptrail-archiver verify, $how" \
      "$(rate "$n" "$s_ver") events/s" "$(mb "$segbytes" "$s_ver") MB/s" \
      "${s_ver} s for $(awk -v b="$segbytes" 'BEGIN { printf "%.0f", b / 1e6 }') MB of segments ($(mb "$value_bytes" "$s_ver") MB/s of record bytes)"
  done
done

section=$(
  echo "## Archive (bench/archive.sh)"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($(uname -m)), Release build, $n records"
  echo "(94 % SessionEvent, ~800 B each) from a local 1-node Kafka. Ingest: first record to the"
  echo "last segment closed (fsync, rename, manifest signed); MB/s of record values. Verify: MB/s"
  echo "of segment files (and of the record bytes they hold), everything checked (SHA-256,"
  echo "inflate, Merkle root, signatures, chains, per-session seq), on one core and on all. Targets: >= 300k"
  echo "events/s ingest, >= 200 MB/s verify. Load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "(2 cores shared with other work)."
  echo
  echo "| phase | what | events/s | MB/s | notes |"
  echo "|---|---|---:|---:|---|"
  printf '%s\n' "${rows[@]}"
)
echo "$section"
python3 "$root/bench/docs_section.py" "$root/docs/benchmarks.md" "Archive" <<<"$section"
