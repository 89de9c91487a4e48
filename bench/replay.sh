#!/usr/bin/env bash
# mcptrail-replay speed next to baselines measured in the same run (issue 8):
#   list: every record of a 1M-record archive scanned and grouped into sessions, against
#         `mcptrail-archiver ids` (the archiver's own read of every record: inflate plus
#         the id of each record) over the same archive; with and without the verify
#         that replay runs first by default.
#   show: one 100k-event session rebuilt (ordered, deduplicated, gaps checked) and printed
#         as JSON Lines and as terminal text, alone in its archive and inside the 1M one.
#
#   bench/replay.sh [--events N] [--session-events M]   (defaults 1000000, 100000)
#
# Builds a Release tree in build-release/, starts a 1-node Kafka on 127.0.0.1 unless
# MT_KAFKA_BROKERS is set (and stops it afterwards), prints a Markdown table and writes it
# into docs/benchmarks.md (section "Replay"). Targets: list >= 1M events/s scanned; show of a
# 100k-event session < 1 s.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
n=1000000 m=100000
while [ $# -gt 0 ]; do
  case $1 in
    --events) n=$2; shift 2 ;;
    --session-events) m=$2; shift 2 ;;
    *) echo "usage: bench/replay.sh [--events N] [--session-events M]" >&2; exit 2 ;;
  esac
done
source "$root/bench/lib.sh"
bench_setup replay mcptrail-replay mcptrail-archiver archiver_produce mcptrail-events
replay=$build/consumers/replay/mcptrail-replay
archiver=$build/consumers/archiver/mcptrail-archiver
prefix="rbench$$."
topics="${prefix}mcptrail.events,${prefix}mcptrail.approval.requests,${prefix}mcptrail.approval.votes,${prefix}mcptrail.approval.decisions"
"$archiver" keygen "$work/key.pem" "$work/pub.pem"
"$build/tests/consumers/archiver/archiver_produce" "$MT_KAFKA_BROKERS" "$n" 0 - "$prefix" \
  2>"$work/produce.log"
archive() { # DIR TOPICS GROUP [archiver options]
  local d=$1 t=$2 g=$3; shift 3
  "$archiver" run --archive.dir="$d" --signing.key_file="$work/key.pem" \
    --kafka.brokers="$MT_KAFKA_BROKERS" --group.id="$g" --topics="$t" --exit_idle=4s \
    --log.level=warn "$@"
}
archive "$work/big" "$topics" "rbench-$$-big"
sid="bench-session-$$"
python3 "$root/bench/replay_session.py" "$sid" "$m" > "$work/session.jsonl"
"$build/tools/mcptrail-events" produce "${prefix}session.events" --kafka.brokers="$MT_KAFKA_BROKERS" \
  --log.level=warn < "$work/session.jsonl"
archive "$work/one" "${prefix}session.events" "rbench-$$-one"
# the 1M archive plus the session: one more topic directory in it
cp -r "$work/one/${prefix}session.events" "$work/big/"
# (the copied topic has its own signed chain, so the combined archive still verifies)
# the same records archived without compression (segment.deflate_level=-1)
archive "$work/big0" "$topics" "rbench-$$-big0" --segment.deflate_level=-1
archive "$work/one0" "${prefix}session.events" "rbench-$$-one0" --segment.deflate_level=-1
cp -r "$work/one0/${prefix}session.events" "$work/big0/"

rows=()
row() { rows+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$@")"); }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v a="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? a / s : 0) }'; }
wall="" cpu="" # wall and CPU seconds (user + sys) of the best run, set by best()
best() { # best of 3 wall times of a command; prints seconds
  local b="" s u y
  local TIMEFORMAT='%R %U %S'
  for _ in 1 2 3; do
    local rc=0
    { time "$@" >/dev/null 2>"$work/last.err"; } 2>"$work/time.txt" || rc=$?
    if [ $rc -ne 0 ]; then
      echo "bench: '$*' exited $rc: $(tail -n 5 "$work/last.err")" >&2; exit 1
    fi
    read -r s u y < <(tail -n 1 "$work/time.txt")
    if [ -z "$b" ] || awk -v x="$s" -v y="$b" 'BEGIN { exit !(x < y) }'; then
      b=$s; cpu=$(awk -v a="$u" -v c="$y" 'BEGIN { printf "%.3f", a + c }')
    fi
  done
  wall=$b
}
recs=$(find "$work/big" -name '*.avro' | wc -l)
sbytes=$(find "$work/big" -name '*.avro' -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s / 1e6 }')

best "$archiver" ids "$work/big"; s=$wall
total=$("$archiver" ids "$work/big" | wc -l)
row "list" "baseline: mcptrail-archiver ids (read every record, 1 core)" "$total" "$s s" "$cpu s" "$(rate "$total" "$s") records/s"
best "$replay" list --archive "$work/big" --no-verify; s=$wall
scanned=$(sed -n 's/.* event(s) of \([0-9]*\) record(s) scanned.*/\1/p' "$work/last.err")
events=$(sed -n 's/.* session(s), \([0-9]*\) event(s) of.*/\1/p' "$work/last.err")
row "list" "mcptrail-replay list --no-verify" "$scanned ($events events)" "$s s" "$cpu s" "**$(rate "$scanned" "$s") records/s** ($(rate "$events" "$s") events/s; $(rate "$scanned" "$cpu") records per CPU-second)"
best "$replay" list --archive "$work/big" --pubkey "$work/pub.pem"; s=$wall
row "list" "mcptrail-replay list (archive verified first)" "$scanned" "$s s" "$cpu s" "$(rate "$scanned" "$s") records/s"
best "$replay" list --archive "$work/big" --no-verify --tool deploy --format jsonl; s=$wall
row "list" "mcptrail-replay list --no-verify --tool deploy --format jsonl" "$scanned" "$s s" "$cpu s" "$(rate "$scanned" "$s") records/s"
best "$archiver" ids "$work/big0"; s=$wall
row "list, uncompressed archive" "baseline: mcptrail-archiver ids" "$total" "$s s" "$cpu s" "$(rate "$total" "$s") records/s"
best "$replay" list --archive "$work/big0" --no-verify; s=$wall
row "list, uncompressed archive" "mcptrail-replay list --no-verify" "$scanned ($events events)" "$s s" "$cpu s" "**$(rate "$scanned" "$s") records/s** ($(rate "$events" "$s") events/s)"
best "$replay" list --archive "$work/big0" --pubkey "$work/pub.pem"; s=$wall
row "list, uncompressed archive" "mcptrail-replay list (archive verified first)" "$scanned" "$s s" "$cpu s" "$(rate "$scanned" "$s") records/s"

best "$archiver" ids "$work/one"; s=$wall
row "show" "baseline: mcptrail-archiver ids (every record read, ids printed), session alone" "$m" "$s s" "$cpu s" "-"
for fmt in jsonl text; do
  best "$replay" show "$sid" --archive "$work/one" --no-verify --format "$fmt" --color never; s=$wall
  row "show" "mcptrail-replay show --format $fmt, session alone in its archive" "$m" "**$s s**" "$cpu s" "$(rate "$m" "$s") events/s"
done
best "$replay" show "$sid" --archive "$work/one" --pubkey "$work/pub.pem" --format jsonl; s=$wall
row "show" "mcptrail-replay show --format jsonl, archive verified first" "$m" "$s s" "$cpu s" "$(rate "$m" "$s") events/s"
best "$replay" show "$sid" --archive "$work/big" --no-verify --format jsonl; s=$wall
row "show" "mcptrail-replay show --format jsonl, session inside the ${n}-record archive" "$m" "$s s" "$cpu s" "scans $((total)) records"

section=$(
  echo "## Replay (bench/replay.sh)"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$root" rev-parse --short HEAD), $(nproc) cores ($(uname -m), shared), Release build."
  echo "Archives written by mcptrail-archiver (deflate level 1, its default; and uncompressed) from $n records of"
  echo "archiver_produce (94 % SessionEvent, ~600 B) plus one $m-event session; $recs segment files,"
  echo "$sbytes MB. Wall time, best of 3, output to /dev/null; CPU = user + sys of that run (replay"
  echo "reads and inflates segments on up to min(cores, 4) threads; verification on one thread per core). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "(the machine is shared). Targets (issue 8): list >= 1M events/s scanned; show of a 100k-event"
  echo "session < 1 s."
  echo
  echo "| command | what | records | wall | CPU (user+sys) | rate (wall) |"
  echo "|---|---|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
)
echo "$section"
python3 "$root/bench/docs_section.py" "$root/docs/benchmarks.md" "Replay" <<<"$section"
