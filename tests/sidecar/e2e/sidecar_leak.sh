#!/usr/bin/env bash
# sidecar_leak (issue 5, "an end-to-end leak test"): the labeled masking corpus
# (tests/fixtures/masking/gen.py) through the real sidecar (async mode, spool, log level
# debug, JWT auth, mask.client_responses on) into Kafka, then every byte the sidecar wrote
# -- the records of its topic (raw values and keys), every spool file ever written, its
# log, and every response the client received -- searched for
# every planted secret, raw and JSON-escaped (once and twice, \uXXXX and \/ variants).
#  1. gen.py --count $MT_LEAK_COUNT (default 600) into the temp dir.
#  2. leak_peer.py upstream answers each request with the next corpus result / error;
#     leak_peer.py client POSTs every corpus request, then the remaining results / errors
#     (the sidecar forwards client JSON-RPC responses too): each message passes once.
#     Spool files are hard-linked as they appear (acked ones are unlinked on rotation).
#  3. Zero hits required; the topic must hold one client_to_server and one response event
#     per POST (so the test cannot pass by recording nothing), besides session_start /
#     session_end events only, and mask_summary must count masked spans. Control: the
#     same search over the corpus as sent finds every secret. A hit prints the secret's
#     type, first 4 characters and length only.
# Secrets shorter than 6 characters are not searched: such strings occur by chance in
# innocent bytes (ids, base64, hex digests), so a hit would say nothing. The generator
# plants none today; the checker reports how many it skipped.
# Exit 77 without MT_KAFKA_BROKERS (integration runs only) or python3.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_need_kafka
command -v python3 >/dev/null || e2e_skip "python3 not found"
t0=$SECONDS
count=${MT_LEAK_COUNT:-600}

python3 "$root/tests/fixtures/masking/gen.py" --count "$count" --out "$tmp/corpus" >/dev/null

python3 "$here/leak_peer.py" upstream "$tmp/corpus/corpus.jsonl" "$tmp/upstream.port" \
  2>"$tmp/upstream.log" &
up_pid=$!
e2e_on_exit "kill $up_pid"
deadline=$((SECONDS + 20))
until [ -s "$tmp/upstream.port" ]; do
  kill -0 "$up_pid" 2>/dev/null || { cat "$tmp/upstream.log" >&2; echo "leak: upstream exited" >&2
    exit 1; }
  [ $SECONDS -lt $deadline ] || { echo "leak: upstream not listening within 20 s" >&2; exit 1; }
  sleep 0.1 # poll interval for the upstream's port file
done
up=$(cat "$tmp/upstream.port")

topic=$(new_topic leak)
start_sidecar "$tmp/sc" "$up" --topic "$topic" --mode async --spool "$tmp/spool" \
  -- --log.level=debug --mask.client_responses=true
token=$("$here/token.sh" "$tmp/sc" e2e-leak)
echo "leak: corpus of $count messages, sidecar up ($((SECONDS - t0)) s)"

posts=$(python3 "$here/leak_peer.py" client "$tmp/corpus/corpus.jsonl" "$sidecar_url" "$token" \
  "$tmp/spool" "$tmp/spool-capture")
echo "leak: $posts POSTs answered ($((SECONDS - t0)) s)"

# Every spooled event acknowledged by Kafka (each POST spools at least its request and its
# response; a POST without Mcp-Session-Id is a session of its own: session_end too).
metric() { curl -s --max-time 2 "http://127.0.0.1:$(cat "$tmp/sc/admin_port")/metrics" |
  sed -n "s/^$1 //p"; }
deadline=$((SECONDS + 60))
while :; do
  produced=$(metric mcptrail_events_produced_total) spooled=$(metric mcptrail_events_spooled_total)
  [ "${produced:-0}" -ge $((2 * posts)) ] && [ "$produced" = "$spooled" ] && break
  [ $SECONDS -lt $deadline ] || {
    echo "leak: $produced of $spooled spooled events produced after 60 s" \
      "(>= $((2 * posts)) expected)" >&2
    exit 1
  }
  sleep 0.2 # poll interval for the produced counter
done
[ "$(metric mcptrail_events_failed_total)" = 0 ] || { echo "leak: events failed" >&2; exit 1; }
# The spool as it stands before shutdown too (whatever a clean stop may remove).
# File by file: the syncer renames spool.ack.tmp and unlinks acknowledged files
# while this runs, so a name listed a moment ago may be gone.
mkdir -p "$tmp/spool-final"
for f in "$tmp/spool"/*; do
  [ -f "$f" ] && { cp -a "$f" "$tmp/spool-final/" 2>/dev/null || true; }
done
stop_sidecar_checked "$tmp/sc"

"$e2e_kafka" dump "$topic" "$tmp/topic.raw" "$produced" 3000 60000 >"$tmp/events.jsonl" \
  2>"$tmp/dump.log" || { cat "$tmp/dump.log" >&2; exit 1; }
files=("$tmp/topic.raw" "$tmp/sc/sidecar.log")
while IFS= read -r -d '' f; do files+=("$f"); done \
  < <(find "$tmp/spool-capture" "$tmp/spool-final" "$tmp/spool" -type f -print0)
python3 "$here/leak_peer.py" check "$tmp/corpus/corpus.jsonl" "$tmp/corpus/labels.jsonl" \
  "$tmp/events.jsonl" "$posts" "$produced" "$token" "${files[@]}"
echo "leak: passed in $((SECONDS - t0)) s"
