#!/usr/bin/env bash
# sidecar_async_kill9 (issue 4, acceptance 4): the real sidecar in async mode (spool in a
# temp dir) in front of server-everything, recording to its own 1-node Kafka (started,
# killed and restarted by this test with scripts/kafka.sh, state in the temp dir).
#  1. Kafka up: initialize + N echo calls (recorded directly).
#  2. Kafka node killed (kill -9): M more echo calls; the sidecar keeps answering (async).
#  3. kill -9 of the sidecar. The spool files are decoded (mt_e2e_kafka spool).
#  4. Kafka restarted on its storage; the sidecar restarted on the same spool.
#  5. Once the spool drained: every event_id that was in the spool is on the topic, no
#     event_id twice, and every one of the N+M calls has its request event recorded.
# Exit 77 without MT_KAFKA_BROKERS (integration runs only), java or the MCP peers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_need_kafka
e2e_need_peers
command -v java >/dev/null || e2e_skip "java not found"
t0=$SECONDS
N=${MT_E2E_N:-5} M=${MT_E2E_M:-10}
e2e_on_exit "own_kafka stop"
MT_KAFKA_BROKERS=$(own_kafka start --nodes 1 2>"$tmp/kafka-start.log" | tail -n 1)
export MT_KAFKA_BROKERS
echo "kill9: own Kafka at $MT_KAFKA_BROKERS ($((SECONDS - t0)) s)"

up=$(free_port)
start_everything "$up"
topic=$(new_topic kill9)
sp=$(free_port)
start_sidecar "$tmp/sc" "$up" --topic "$topic" --mode async --spool "$tmp/spool" --port "$sp"
url=$sidecar_url
token=$("$here/token.sh" "$tmp/sc" e2e-kill9)
sid=$("$here/mcp-call.sh" init "$url" "$token")
for ((i = 1; i <= N; i++)); do "$here/mcp-call.sh" echo "$url" "$token" "$sid" "$i" "before-$i"; done
# wait until the events of step 1 are acknowledged (produced counter non-zero and steady)
metric() { curl -s --max-time 2 "http://127.0.0.1:$(cat "$tmp/sc/admin_port")/metrics" |
  sed -n "s/^$1 //p"; }
deadline=$((SECONDS + 20)) last=-1
while :; do
  cur=$(metric mcptrail_events_produced_total); cur=${cur:-0}
  [ "$cur" -gt 0 ] && [ "$cur" = "$last" ] && break
  [ $SECONDS -lt $deadline ] || { echo "kill9: events of step 1 not acknowledged" >&2; exit 1; }
  last=$cur; sleep 0.5 # poll interval for the acknowledgements
done
echo "kill9: session $sid, $N calls with Kafka up, $cur events acknowledged"

own_kafka kill-node 1 2>/dev/null
for ((i = N + 1; i <= N + M; i++)); do "$here/mcp-call.sh" echo "$url" "$token" "$sid" "$i" "during-$i"; done
echo "kill9: $M calls answered with Kafka down"
sleep 1 # let the sidecar's loop turn (spool append + fsync) finish before the crash
"$here/stop-sidecar.sh" "$tmp/sc" --kill9
"$e2e_kafka" spool "$tmp/spool" > "$tmp/spooled.jsonl" 2>"$tmp/spool.log"
cat "$tmp/spool.log"

own_kafka restart-node 1 2>/dev/null
start_sidecar "$tmp/sc" "$up" --topic "$topic" --mode async --spool "$tmp/spool" --port "$sp"
echo "kill9: Kafka and sidecar restarted ($((SECONDS - t0)) s)"

# Drained: no spool record left (files may stay, empty) -- then read the topic back.
deadline=$((SECONDS + 40))
while "$e2e_kafka" spool "$tmp/spool" 2>/dev/null | grep -q .; do
  [ $SECONDS -lt $deadline ] || { echo "kill9: spool not drained within 40 s" >&2; exit 1; }
  sleep 0.5 # poll interval for the spool drain
done
"$e2e_kafka" dump "$topic" "$tmp/raw" 1 3000 60000 > "$tmp/events.jsonl"
"$py" - "$tmp/events.jsonl" "$tmp/spooled.jsonl" "$N" "$M" <<'PY'
import collections, json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
spooled = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
n, m = int(sys.argv[3]), int(sys.argv[4])
fails = []
ids = collections.Counter(e["event_id"] for e in evs)
dup = [k for k, v in ids.items() if v > 1]
if dup:
    fails.append(f"{len(dup)} event_id(s) on the topic more than once, e.g. {dup[:3]}")
missing = [s["event_id"] for s in spooled if s["event_id"] not in ids]
if missing:
    fails.append(f"{len(missing)} of {len(spooled)} spooled event(s) never reached the topic, e.g. {missing[:3]}")
calls = {str(e["rpc"]["id"]) for e in evs if e["kind"] == "request"
         and (e.get("rpc") or {}).get("method") == "tools/call"}
lost = [str(i) for i in range(1, n + m + 1) if str(i) not in calls]
if lost:
    fails.append(f"request events of calls {lost} missing (calls 1..{n} with Kafka up, "
                 f"{n + 1}..{n + m} with Kafka down)")
sess = collections.defaultdict(list)
for e in evs:
    sess[e["session_id"]].append(e["seq"])
for s, seqs in sess.items():
    if sorted(seqs) != list(range(len(seqs))):
        fails.append(f"session {s}: seq not gapless: {sorted(seqs)[:20]}")
print(f"kill9: topic holds {len(evs)} events ({len(ids)} distinct), {len(spooled)} were spooled at the crash")
if fails:
    print("kill9: FAILED:\n  " + "\n  ".join(fails), file=sys.stderr)
    sys.exit(1)
PY
echo "kill9: passed in $((SECONDS - t0)) s"
