#!/usr/bin/env bash
# Acceptance tests of mcptrail-replay against real Kafka (issue 8):
#
#   e2e.sh gaps   SessionEvents with injected gaps, duplicate records and seq
#                 conflicts (gen_gaps.py) go to a fresh topic, are archived by the
#                 real mcptrail-archiver, and `show` reports exactly the expected
#                 problems, from the verified archive and from the topic; list sees
#                 the four sessions; a tampered segment makes replay refuse the
#                 archive (exit 1) unless --no-verify.
#
# Exit 77 (skip) without a broker unless MT_E2E_NO_SKIP is set. Only processes
# started here are killed.
set -euo pipefail
scenario=${1:?usage: e2e.sh gaps}
here=$(cd "$(dirname "$0")" && pwd)
src=${MT_SOURCE_DIR:-$(cd "$here/../../.." && pwd)}
replay=${MT_REPLAY_BIN:?set MT_REPLAY_BIN}
archiver=${MT_ARCHIVER_BIN:?set MT_ARCHIVER_BIN}
events=${MT_EVENTS_BIN:?set MT_EVENTS_BIN}
export MT_SCHEMA_DIR=${MT_SCHEMA_DIR:-$src/schemas}
skip() {
  if [ -n "${MT_E2E_NO_SKIP:-}" ]; then echo "FAIL (MT_E2E_NO_SKIP set): $*" >&2; exit 1; fi
  echo "SKIP: $*"; exit 77
}
fail() { echo "FAIL: $*" >&2; exit 1; }
brokers=${MT_KAFKA_BROKERS:-}
[ -n "$brokers" ] || skip "MT_KAFKA_BROKERS not set"

work=$(mktemp -d /tmp/mt-replay-e2e.XXXXXX)
cleanup() {
  chmod -R u+w "$work" 2>/dev/null || true
  [ -n "${MT_KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
prefix="r$$x$(date +%s%N | tail -c 8)-$scenario."
topic="${prefix}mcptrail.events"

case "$scenario" in
gaps)
  vtopic="${prefix}mcptrail.approval.votes"
  python3 "$here/gen_gaps.py" events.jsonl expected.txt votes.jsonl
  "$events" produce "$topic" --kafka.brokers="$brokers" --log.level=warn < events.jsonl
  "$events" produce "$vtopic" --kafka.brokers="$brokers" --log.level=warn < votes.jsonl
  "$archiver" keygen key.pem pub.pem
  "$archiver" run --archive.dir=arch --signing.key_file=key.pem --kafka.brokers="$brokers" \
    --group.id="g-$prefix" --topics="$topic,$vtopic" --heartbeat.interval=1s --log.level=warn \
    --exit_idle=3s
  grep '^SESSION' expected.txt > sessions.txt
  grep -v '^SESSION' expected.txt > want.txt
  for source in archive topic; do
    if [ $source = archive ]; then srcargs=(--archive arch --pubkey pub.pem)
    else srcargs=(--topic "$topic" --kafka.brokers="$brokers" --log.level=warn); fi
    : > got.txt
    while read -r _ name sid; do
      rc=0
      "$replay" show "$sid" "${srcargs[@]}" --format jsonl > "show-$name.jsonl" 2> "err-$name.txt" || rc=$?
      grep -E '^(GAP|DUPLICATE|CONFLICT):' "err-$name.txt" >> got.txt || true
      case $name in
        clean|dups) [ $rc -eq 0 ] || fail "$source: show $name exited $rc, want 0: $(cat "err-$name.txt")" ;;
        *) [ $rc -eq 1 ] || fail "$source: show $name exited $rc, want 1 (gaps/conflicts)" ;;
      esac
      # the JSON Lines hold each event_id once, ordered by seq
      python3 - "show-$name.jsonl" "$name" <<'PY' || fail "$source: show $name output"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
ids = [e["event_id"] for e in evs]
seqs = [e["seq"] for e in evs]
assert len(ids) == len(set(ids)), "an event_id twice"
assert seqs == sorted(seqs), f"not ordered by seq: {seqs}"
want = {"clean": list(range(12)), "dups": list(range(20)),
        "gaps": [s for s in range(30) if s not in (0, 5, 10, 11, 12)],
        "conflict": [0, 1, 2, 3, 4, 4, 5, 6, 7, 9]}[sys.argv[2]]
assert seqs == want, f"seqs {seqs} != {want}"
PY
    done < sessions.txt
    sort got.txt > got.sorted
    diff -u want.txt got.sorted || fail "$source: reported problems differ from the injected ones"
    n=$("$replay" list "${srcargs[@]}" --subject gap-tester --format jsonl | wc -l)
    [ "$n" -eq 4 ] || fail "$source: list --subject gap-tester found $n sessions, want 4"
    for f in "--policy approve:1" "--decision approved:1" "--tool echo:4" "--tool deploy:0" \
             "--has-errors:0" "--from 2099-01-01T00:00:00Z:0" "--to 2000-01-01T00:00:00Z:0" \
             "--from 2025-11-24T00:00:00Z --to 2025-11-26T00:00:00Z:4"; do
      n=$("$replay" list "${srcargs[@]}" ${f%:*} --format jsonl 2>/dev/null | wc -l)
      [ "$n" -eq "${f##*:}" ] || fail "$source: list ${f%:*} found $n sessions, want ${f##*:}"
    done
    echo "replay_gaps: $source: $(wc -l < want.txt) problems reported exactly; list filters agree"
  done
  # play keeps the original timing: 12 events 1 ms apart, at speed 0.01 -> ~110 ms apart
  sid=$(awk '$2=="clean"{print $3}' sessions.txt)
  t0=$(date +%s%N)
  "$replay" play "$sid" --archive arch --pubkey pub.pem --speed 0.01 --color never > play.txt
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$(grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T.* #[0-9]+ ' play.txt)" -eq 12 ] || fail "play printed $(grep -cE '^[0-9]{4}-.* #[0-9]+ ' play.txt) events, want 12"
  [ "$ms" -ge 1000 ] && [ "$ms" -lt 8000 ] || fail "play at speed 0.01 took $ms ms, want ~1100"
  echo "replay_gaps: play --speed 0.01 took $ms ms for 11 ms of session"
  # report: the four sessions, their subject, verified source, in all three formats
  "$replay" report --archive arch --pubkey pub.pem --from 2025-11-24T00:00:00Z --to 2025-11-26T00:00:00Z > report.md
  grep -q '^| verification | verified |' report.md || fail "report: source not verified: $(head -20 report.md)"
  grep -q '^| sessions | 4 |' report.md || fail "report: sessions != 4"
  grep -q '^| duplicate records dropped | 4 |' report.md || fail "report: duplicates != 4"
  grep -q '^| gap-tester | 4 | 67 |' report.md || fail "report: identity row: $(grep gap-tester report.md)"
  "$replay" report --archive arch --pubkey pub.pem --format csv > report.csv
  grep -q '^by_identity,gap-tester,4,67$' report.csv || fail "report csv: $(grep gap-tester report.csv)"
  "$replay" report --archive arch --pubkey pub.pem --format html > report.html
  grep -q "Content-Security-Policy" report.html || fail "report html without CSP"
  n=$("$replay" report --archive arch --pubkey pub.pem --to 2000-01-01T00:00:00Z | grep -c '^| sessions | 0 |')
  [ "$n" -eq 1 ] || fail "report: --to before every event still counts sessions"
  # report lists each session's gaps and conflicts as show judges them
  gsid=$(awk '$2=="gaps"{print $3}' sessions.txt)
  csid=$(awk '$2=="conflict"{print $3}' sessions.txt)
  grep -qF "| $gsid | 0, 5, 10-12 | 5 | 0 | 25 |" report.md || fail "report: gaps row: $(grep -F "$gsid" report.md)"
  grep -qF "| $csid | 8 | 1 | 1 | 11 |" report.md || fail "report: conflict row: $(grep -F "$csid" report.md)"
  grep -q '^| sessions with gaps or conflicts | 2 |' report.md || fail "report: sessions with gaps != 2"
  grep -qF "gaps,$gsid,\"0, 5, 10-12\",5,0,25" report.csv || fail "report csv gaps: $(grep -F "$gsid" report.csv)"
  echo "replay_gaps: report md/csv/html agree (4 sessions, 67 events, 4 duplicates dropped, gaps of 2 sessions listed)"
  # export: approvals with approvers and the votes' reasons (from the votes topic)
  "$replay" export "$sid" --archive arch --pubkey pub.pem --output clean.html
  for want in "alice, bob" "diff reviewed, change window open" "second pair of eyes" "CHG-1234 deploy" \
              'class="ok">verified'; do
    grep -qF "$want" clean.html || fail "export: '$want' missing from the approvals/integrity panels"
  done
  grep -q '| prod-deploy | ap-.* | CHG-1234 deploy | approved | alice; bob |' report.md \
    || fail "report: privileged call row: $(grep prod-deploy report.md)"
  # the same from the topics: --topic takes the events topic with the votes topic
  "$replay" export "$sid" --topic "$topic,$vtopic" --kafka.brokers="$brokers" --log.level=warn \
    --output topic.html
  grep -qF "diff reviewed, change window open" topic.html || fail "export --topic $topic,$vtopic: vote reasons missing"
  echo "replay_gaps: export shows approvers and vote reasons (archive and topics); report joins the decision"
  # a key list (after a signing-key rotation): the archive's key anywhere in it verifies;
  # another key alone does not
  "$archiver" keygen other.pem other.pub.pem
  "$replay" list --archive arch --pubkey other.pub.pem,pub.pem --format jsonl > /dev/null 2> keys.txt \
    || fail "list --pubkey other,archive: $(cat keys.txt)"
  rc=0; "$replay" list --archive arch --pubkey other.pub.pem > /dev/null 2> keys.txt || rc=$?
  { [ $rc -eq 1 ] && grep -q "ARCHIVE VERIFICATION FAILED" keys.txt; } \
    || fail "list --pubkey with a foreign key: exit $rc $(head -3 keys.txt)"
  echo "replay_gaps: --pubkey takes a key list; a foreign key alone fails verification"
  # tampering: flip one byte in the middle of a segment
  seg=$(find arch -name '*.avro' -size +1k | head -1)
  chmod u+w "$seg" "$(dirname "$seg")"
  python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=1; open(p,'wb').write(b)" "$seg"
  sid=$(awk '$2=="clean"{print $3}' sessions.txt)
  rc=0; "$replay" show "$sid" --archive arch --pubkey pub.pem > /dev/null 2> tamper.txt || rc=$?
  [ $rc -eq 1 ] || fail "tampered archive: exit $rc, want 1"
  grep -q "ARCHIVE VERIFICATION FAILED" tamper.txt || fail "tampered archive not reported: $(cat tamper.txt)"
  rc=0; "$replay" list --archive arch --no-verify > /dev/null 2> nv.txt || rc=$?
  [ $rc -le 1 ] || fail "--no-verify on a tampered archive: exit $rc $(cat nv.txt)"
  grep -q "source not verified" nv.txt || fail "--no-verify output not marked: $(cat nv.txt)"
  echo "replay_gaps: tampered segment refused; --no-verify reads it marked not verified"
  ;;
*) fail "unknown scenario $scenario" ;;
esac
echo "replay_e2e_$scenario: passed"
