#!/usr/bin/env bash
# Acceptance tests of mcptrail-archiver against real Kafka (issue 7):
#
#   e2e.sh ingest     N records (MT_ARCHIVER_N, default 200000) across the four
#                     topics archived; verify passes; the archived (topic, id)
#                     multiset equals what was produced; prove + an independent
#                     Python check of the proof; every segment read by fastavro
#   e2e.sh tamper     each tampering reported with its own problem class and exit 1
#   e2e.sh kill9      kill -9 of the archiver 20 times during ingestion; after the
#                     last restart verify passes, no id missing, no offset twice
#   e2e.sh failover3  a broker of the 3-node cluster killed during ingestion
#   e2e.sh java       segments read by Java org.apache.avro (tests/crosslang/java)
#
# Each run uses its own topic prefix and consumer group, so tests may run side
# by side on one broker. Only processes started here are killed. Exit 77 (skip)
# without a broker unless MT_E2E_NO_SKIP is set.
set -euo pipefail
scenario=${1:?usage: e2e.sh ingest|tamper|kill9|failover3|java}
here=$(cd "$(dirname "$0")" && pwd)
src=${MT_SOURCE_DIR:-$(cd "$here/../../.." && pwd)}
bin=${MT_ARCHIVER_BIN:?set MT_ARCHIVER_BIN}
produce=${MT_ARCHIVER_PRODUCE_BIN:?set MT_ARCHIVER_PRODUCE_BIN}
py=${MT_PYTHON:-python3}
export MT_SCHEMA_DIR=${MT_SCHEMA_DIR:-$src/schemas}

skip() {
  if [ -n "${MT_E2E_NO_SKIP:-}" ]; then echo "FAIL (MT_E2E_NO_SKIP set): $*" >&2; exit 1; fi
  echo "SKIP: $*"; exit 77
}
fail() { echo "FAIL: $*" >&2; exit 1; }

brokers=${MT_KAFKA_BROKERS:-}
if [ "$scenario" = failover3 ]; then
  brokers=${MT_KAFKA_3NODE_BROKERS:-}
  # Like kafka_failover_3node: no 3-node cluster (scripts/test.sh with MT_SKIP_3NODE) is a skip.
  [ -n "$brokers" ] || { echo "SKIP: MT_KAFKA_3NODE_BROKERS not set"; exit 77; }
  [ -n "${MT_KAFKA_3NODE_STATE:-}" ] || skip "MT_KAFKA_3NODE_STATE not set"
fi
[ -n "$brokers" ] || skip "MT_KAFKA_BROKERS not set"

work=$(mktemp -d /tmp/mt-archiver-e2e.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  chmod -R u+w "$work" 2>/dev/null || true
  [ -n "${MT_KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

prefix="t$$x$(date +%s%N | tail -c 8)-$scenario."
group="archiver-$prefix"
topics="${prefix}mcptrail.events,${prefix}mcptrail.approval.requests,${prefix}mcptrail.approval.votes,${prefix}mcptrail.approval.decisions"
"$bin" keygen key.pem pub.pem
"$bin" keygen other.pem other.pub.pem

# archive DIR [extra options...]: one archiver run in the foreground.
archive() {
  local dir=$1; shift
  "$bin" run --archive.dir="$dir" --signing.key_file=key.pem --kafka.brokers="$brokers" \
    --group.id="$group" --topics="$topics" --heartbeat.interval=1s --log.level=warn "$@"
}

# archive_exec DIR [options...]: the same, replacing the (background) subshell so
# that $! is the archiver's own PID for kill -9 / SIGTERM.
archive_exec() {
  local dir=$1; shift
  exec "$bin" run --archive.dir="$dir" --signing.key_file=key.pem --kafka.brokers="$brokers" \
    --group.id="$group" --topics="$topics" --heartbeat.interval=1s --log.level=warn "$@"
}

# archived_ids DIR: sorted "topic<TAB>id" with the test prefix removed.
archived_ids() { "$bin" ids "$1" | awk -F'\t' '{print $1"\t"$4}' | sed "s/^$prefix//" | sort; }
produced_ids() { cat "$@" | cut -f1,2 | sed "s/^$prefix//" | sort; }

# explain_missing WANT GOT IDS_FILES...: where Kafka put each produced id the
# archive lacks, and the offsets the archive holds per partition, so that a
# failure says which side lost the record.
explain_missing() {
  local want=$1 got=$2; shift 2
  set +e # diagnostics only; the caller fails right after
  "$bin" ids arch >ids.arch
  echo "produced but not archived (topic, id, partition, offset acked), then what the archive holds at that offset:" >&2
  comm -23 "$want" "$got" | head -20 | while IFS=$'\t' read -r t id; do
    grep -h "	$id	" "$@" | while IFS=$'\t' read -r pt pid pp po; do
      printf '%s\t%s\t%s\t%s\n' "${pt#"$prefix"}" "$pid" "$pp" "$po" >&2
      awk -F'\t' -v t="$pt" -v p="$pp" -v o="$po" '$1==t && $2==p && $3==o {print "  archive: " $0}' ids.arch >&2
    done
  done
  echo "archived offsets per partition (topic, partition, first, last, count):" >&2
  awk -F'\t' '{k=$1"\t"$2; if(!(k in lo)||$3<lo[k])lo[k]=$3; if($3>hi[k])hi[k]=$3; n[k]++}
    END{for(k in n)print k"\t"lo[k]"\t"hi[k]"\t"n[k]}' ids.arch | sed "s/^$prefix//" | sort >&2
  [ ! -s archiver.log ] || { echo "archiver log (warnings and errors):" >&2; grep -v '"level":"info"' archiver.log | tail -n 30 >&2; }
}

expect_valid() {
  local rc=0
  "$bin" verify "$1" --pubkey pub.pem --quiet >verify.out || rc=$?
  tail -n 22 verify.out
  [ "$rc" -eq 0 ] || { grep PROBLEM verify.out | head -20 >&2; fail "verify exited $rc on $1"; }
  grep -q "^Result: VALID" verify.out || fail "verify printed no VALID result"
}

# Offsets must be archived once: no (topic, partition, offset) twice.
expect_no_duplicates() {
  local d
  d=$("$bin" ids "$1" | cut -f1-3 | sort | uniq -d | head -5)
  [ -z "$d" ] || fail "offsets archived twice: $d"
}

case $scenario in
ingest)
  n=${MT_ARCHIVER_N:-200000}
  t0=$(date +%s.%N)
  "$produce" "$brokers" "$n" 0 ids.txt "$prefix" 2>produce.log || { cat produce.log >&2; fail "producer"; }
  t1=$(date +%s.%N)
  archive arch --exit_idle=5s 2>archiver.log || { cat archiver.log >&2; fail "archiver"; }
  t2=$(date +%s.%N)
  echo "produced $n in $(echo "$t1 - $t0" | bc) s, archived in $(echo "$t2 - $t1" | bc) s (incl. 5 s idle exit)"
  grep -h "^archiver_produce: .* acked" produce.log || true
  expect_valid arch
  produced_ids ids.txt >want
  archived_ids arch >got_all
  sort -u got_all >got
  cmp -s want got || { diff want got | head >&2 || true; explain_missing want got ids.txt; fail "archived ids differ from produced ids"; }
  # An id twice in the archive (at two offsets: expect_no_duplicates checks
  # offsets) can only be a producer re-send after an ack without an offset.
  twice=$(uniq -d got_all | wc -l)
  resent=$(sed -n 's/.* \([0-9]*\) re-sent after an ack without an offset$/\1/p' produce.log | tail -n 1)
  [ "$twice" -le "${resent:-0}" ] || fail "$twice id(s) archived twice, but the producer re-sent ${resent:-0}"
  echo "archived (topic, id) set equals the $(wc -l <want) produced ($twice on the topic twice after a re-send)"
  expect_no_duplicates arch
  # Inclusion proofs, checked by an independent Python implementation.
  for t in mcptrail.events mcptrail.approval.requests mcptrail.approval.votes mcptrail.approval.decisions; do
    id=$(grep -m1 "^$prefix$t	" ids.txt | cut -f2)
    "$bin" prove arch "$id" >proof.json
    "$py" "$here/archive_check.py" proof proof.json pub.pem "$MT_SCHEMA_DIR"
  done
  # A tampered proof must fail the Python check.
  "$bin" prove arch "$(sed -n 2p ids.txt | cut -f2)" >proof.json
  "$py" - proof.json <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
p["leaf_index"] ^= 1
json.dump(p, open(sys.argv[1], "w"))
EOF
  if "$py" "$here/archive_check.py" proof proof.json pub.pem "$MT_SCHEMA_DIR" 2>/dev/null; then
    fail "a proof with a wrong leaf index passed the Python check"
  fi
  "$py" "$here/archive_check.py" read arch py_ids.txt
  sed "s/^$prefix//" py_ids.txt | sort | cmp -s - got_all || fail "fastavro read other ids"
  echo "fastavro read every segment: same ids"
  ;;

tamper)
  "$produce" "$brokers" 30000 0 ids.txt "$prefix" 2>produce.log || { cat produce.log >&2; fail "producer"; }
  # 12 s idle at the end: heartbeats of every partition keep coming after the last segment.
  archive arch --exit_idle=12s --segment.max_bytes=64KiB
  expect_valid arch
  ev0=arch/${prefix}mcptrail.events/0
  ev1=arch/${prefix}mcptrail.events/1
  # case NAME CLASS...: copy the archive, tamper (commands on stdin), expect exit 1 + classes.
  check_case() {
    local name=$1; shift
    local rc=0
    "$bin" verify "case-$name" --pubkey pub.pem --quiet >"case-$name.out" || rc=$?
    [ "$rc" -eq 1 ] || { cat "case-$name.out" >&2; fail "$name: verify exited $rc, want 1"; }
    for cls in "$@"; do
      grep -q "^PROBLEM $cls " "case-$name.out" || { cat "case-$name.out" >&2; fail "$name: no $cls reported"; }
    done
    # The report must not depend on how many threads read the segments.
    "$bin" verify "case-$name" --pubkey pub.pem --quiet --threads 1 >"case-$name.t1.out" || true
    cmp -s "case-$name.out" "case-$name.t1.out" \
      || { diff "case-$name.t1.out" "case-$name.out" | head >&2 || true; fail "$name: --threads 1 reports otherwise"; }
    echo "== $name: exit 1 with $*"
    grep "^PROBLEM" "case-$name.out" | head -4 | sed 's/^/   /'
  }
  fresh() { rm -rf "case-$1"; cp -a arch "case-$1"; chmod -R u+w "case-$1"; echo "case-$1"; }
  segs0=($(cd "$ev0" && ls *.avro))
  segs1=($(cd "$ev1" && ls *.avro))
  [ ${#segs0[@]} -ge 4 ] && [ ${#segs1[@]} -ge 4 ] || fail "too few segments to tamper with"
  s1=${segs0[1]} s2=${segs0[2]}
  m1=${s1%.avro}.manifest.json

  c=$(fresh flip); "$py" "$here/archive_check.py" flip "${c}/${ev0#arch/}/$s1"
  check_case flip segment-modified

  # A time window before every record reads no segment (manifests are still checked).
  rc=0
  "$bin" verify case-flip --pubkey pub.pem --quiet --to 1000 >window.out || rc=$?
  [ "$rc" -eq 0 ] && grep -q "^  0/0 segments checked are valid" window.out \
    || { cat window.out >&2; fail "verify --to: window not applied (exit $rc)"; }

  c=$(fresh delete); rm -f "${c}/${ev0#arch/}/$s2"
  check_case delete segment-missing

  c=$(fresh tail)
  d="${c}/${ev1#arch/}"
  cut_from=${segs1[${#segs1[@]}-2]%.avro}   # the last two segments and everything after
  for f in "$d"/*; do b=$(basename "$f"); [[ "$b" < "$cut_from" ]] || rm -f "$f"; done
  check_case tail tail-truncated

  # The same cut on an archive whose writer never stopped cleanly (no close manifests,
  # as after a crash or while it runs): the other partitions' later heartbeats show it.
  c=$(fresh tail-heartbeat)
  grep -l '"kind":"close"' "$c"/*/*/*.manifest.json | xargs rm -f
  d="${c}/${ev1#arch/}"
  cut_from=${segs1[${#segs1[@]}-1]%.avro}
  for f in "$d"/*; do b=$(basename "$f"); [[ "$b" < "$cut_from" ]] || rm -f "$f"; done
  check_case tail-heartbeat tail-truncated
  grep -q "older than the newest manifest of the archive" "case-tail-heartbeat.out" \
    || fail "tail-heartbeat: not detected through the heartbeats"

  c=$(fresh swap); d="${c}/${ev0#arch/}"
  mv "$d/$s1" "$d/x.tmpswap"; mv "$d/$s2" "$d/$s1"; mv "$d/x.tmpswap" "$d/$s2"
  check_case swap segment-swapped

  c=$(fresh resign); "$py" "$here/archive_check.py" resign "${c}/${ev0#arch/}/$m1" other.pem
  check_case resign bad-signature

  c=$(fresh count); "$py" "$here/archive_check.py" count "${c}/${ev0#arch/}/$m1"
  check_case count bad-signature count-mismatch

  c=$(fresh reencode); "$py" "$here/archive_check.py" reencode "${c}/${ev0#arch/}/$s1"
  check_case reencode segment-modified count-mismatch merkle-mismatch offset-gap

  # The untouched original still verifies.
  expect_valid arch
  ;;

kill9)
  n=${MT_ARCHIVER_KILL9_N:-100000}
  chunks=20
  per=$((n / chunks))
  (
    for c in $(seq 0 $((chunks - 1))); do
      "$produce" "$brokers" "$per" $((c * per)) "ids.$c" "$prefix" 2>>produce.log || exit 1
    done
  ) &
  prod=$!
  pids+=("$prod")
  opts=(--exit_idle=0 --segment.max_bytes=256KiB --segment.max_age=700ms
        --group.instance_id=archiver-0 --kafka.properties=session.timeout.ms=6000)
  kills=0
  while [ "$kills" -lt 20 ] || kill -0 "$prod" 2>/dev/null; do
    archive_exec arch "${opts[@]}" 2>>archiver.log &
    a=$!
    pids+=("$a")
    # A random moment: 0.3 .. 2.3 s after start (joining, consuming, rolling).
    ms=$((RANDOM % 2000 + 300))
    sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
    kill -9 "$a" 2>/dev/null || true
    wait "$a" 2>/dev/null || true
    kills=$((kills + 1))
    [ "$kills" -lt 200 ] || fail "producer still running after 200 restarts"
  done
  wait "$prod" || { cat produce.log >&2; fail "producer failed"; }
  echo "killed the archiver $kills times with SIGKILL during ingestion"
  ls arch/*/*/*.tmp 2>/dev/null | head -3 | sed 's/^/leftover (to be discarded): /' || true
  archive arch "${opts[@]}" --exit_idle=8s 2>>archiver.log
  grep -c "discarding an unfinished file" archiver.log | sed 's/^/unfinished files discarded on restarts: /' || true
  grep -c "recovered a segment" archiver.log | sed 's/^/segments given their manifest on restart: /' || true
  expect_valid arch
  expect_no_duplicates arch
  produced_ids ids.* | sort -u >want
  archived_ids arch | sort -u >got
  cmp -s want got || { comm -3 want got | head >&2; fail "ids missing or extra after kill -9"; }
  echo "all $(wc -l <want) produced ids archived, each offset once"
  ;;

failover3)
  script=${MT_KAFKA_SCRIPT:-$src/scripts/kafka.sh}
  export MT_KAFKA_STATE=$MT_KAFKA_3NODE_STATE
  n=${MT_ARCHIVER_FAILOVER_N:-60000}
  chunks=6
  per=$((n / chunks))
  archive_exec arch --segment.max_age=1s --segment.max_bytes=1MiB 2>archiver.log &
  arch_pid=$!
  pids+=("$arch_pid")
  for c in $(seq 0 $((chunks - 1))); do
    if [ "$c" -eq 2 ]; then
      echo "kill -9 broker node 2"
      bash "$script" kill-node 2
      killed=1
    fi
    "$produce" "$brokers" "$per" $((c * per)) "ids.$c" "$prefix" 3 2>>produce.log \
      || { grep 'archiver_produce' produce.log | tail -n 20 >&2; tail produce.log >&2
           bash "$script" restart-node 2 || true; fail "producer"; }
  done
  produced_ids ids.* >want
  deadline=$((SECONDS + 180))
  while :; do
    got_n=$("$bin" ids arch 2>/dev/null | wc -l || true)
    [ "$got_n" -ge "$(wc -l <want)" ] && break
    [ $SECONDS -lt $deadline ] || { bash "$script" restart-node 2 || true; fail "only $got_n of $(wc -l <want) archived after 180 s"; }
    sleep 1
  done
  kill -TERM "$arch_pid"
  wait "$arch_pid" || fail "archiver exited non-zero after SIGTERM"
  bash "$script" restart-node 2 >/dev/null 2>&1 || echo "warning: restart-node 2 failed" >&2
  expect_valid arch
  expect_no_duplicates arch
  archived_ids arch >got
  cmp -s <(sort -u want) <(sort -u got) || { comm -3 <(sort -u want) <(sort -u got) | head >&2; fail "ids lost across the broker failure"; }
  echo "all $(wc -l <want) ids archived across the broker kill (${killed:-0})"
  ;;

java)
  for t in java mvn; do command -v $t >/dev/null || skip "$t not found"; done
  "$produce" "$brokers" 5000 0 ids.txt "$prefix" 2>produce.log || { cat produce.log >&2; fail "producer"; }
  archive arch --exit_idle=4s --segment.max_bytes=64KiB
  expect_valid arch
  jdir=${MT_ARCHIVER_JAVA_BUILD:-$work/java}
  mvn -q -B -f "$src/tests/crosslang/java/pom.xml" package -Dmt.build.dir="$jdir" >mvn.log 2>&1 \
    || { cat mvn.log >&2; fail "mvn package"; }
  java -jar "$jdir/mcptrail-crosslang.jar" ocf "$MT_SCHEMA_DIR" arch java_ids.txt
  produced_ids ids.txt >want
  archived_ids arch >got_all
  sort -u got_all | cmp -s - want || fail "the archive holds other ids than those produced"
  sed "s/^$prefix//" java_ids.txt | sort | cmp -s - got_all || fail "Java read other ids"
  echo "Java org.apache.avro read every segment: same ids"
  ;;
*)
  fail "unknown scenario $scenario"
  ;;
esac
echo "PASS archiver $scenario"
