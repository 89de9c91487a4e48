#!/usr/bin/env bash
# archiver_streams (issue 15, acceptance 2): every completeness case of the sidecar streams
# produced for real and reported exactly by `mcptrail-archiver verify`.
#
# Real sidecars (strict, heartbeat 1 s) in front of bench/proxy/upstream record stateless
# MCP 2026-07-28 calls (curl, one exchange = request + response) to a raw topic. Three
# instances stop cleanly: that archive verifies VALID. The raw topic is then relayed to a
# second topic with chosen events withheld (mt_e2e_kafka relay: the events never reach the
# topic the archiver reads):
#   instance 1: the request of its 2nd exchange       -> event-missing (its response links to it)
#               both events of its 3rd exchange       -> session-missing
#   instance 2: everything after its first exchange   -> instance-tail-missing
#   instance 3: everything after its instance_start   -> instance-missing
# and exactly those four problems are reported. A fourth instance killed with kill -9 and
# restarted on the same port is reported as unclean-stop (and nothing else). The sidecars
# sign their checkpoints (record.signing_key_file): with --sidecar-key every stream is signed
# to its instance_stop; under another key every checkpoint is reported, nothing is vouched.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../sidecar/e2e/lib.sh"
e2e_need_kafka
e2e_need_peers
archiver=${MT_ARCHIVER_BIN:?set MT_ARCHIVER_BIN}

start_fast_upstream
up=$fast_upstream_port

raw=$(new_topic streams-raw)
crash=$(new_topic streams-crash)
withheld=$(new_topic streams-withheld)
"$archiver" keygen "$tmp/sidecar-key.pem" "$tmp/sidecar-pub.pem"
"$archiver" keygen "$tmp/other-key.pem" "$tmp/other-pub.pem"
hb=(-- --record.heartbeat_interval=1s --record.signing_key_file="$tmp/sidecar-key.pem")

# calls DIR N: N stateless tools/call exchanges through the sidecar of DIR
calls() {
  local d=$1 n=$2 i token url
  url=$(cat "$d/url"); token=$("$here/token.sh" "$d" streams-user)
  for ((i = 1; i <= n; i++)); do stateless_call "$url" "$token" "$i"; done
}

for k in 1 2 3; do
  start_sidecar "$tmp/sc$k" "$up" --topic "$raw" --port "$(free_port)" "${hb[@]}"
  calls "$tmp/sc$k" 4
  stop_sidecar_checked "$tmp/sc$k"
done
# the crash: instance 4 killed, instance 5 started at the same place (same listen port)
p4=$(free_port)
start_sidecar "$tmp/sc4" "$up" --topic "$crash" --port "$p4" "${hb[@]}"
calls "$tmp/sc4" 2
"$here/stop-sidecar.sh" "$tmp/sc4" --kill9
start_sidecar "$tmp/sc4" "$up" --topic "$crash" --port "$p4" "${hb[@]}"
calls "$tmp/sc4" 1
stop_sidecar_checked "$tmp/sc4"

# what to withhold, chosen from the raw topic's events
"$e2e_kafka" dump "$raw" "$tmp/raw.bin" 30 3000 60000 > "$tmp/raw.jsonl"
"$py" - "$tmp/raw.jsonl" "$tmp/skip.txt" <<'EOF'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for e in evs:
    st = e["stream"]
    assert st is not None, "an event without a stream"
    by.setdefault(st["instance_id"], []).append(e)
insts = sorted(by.values(), key=lambda l: min(x["ts"] for x in l))
assert len(insts) == 3, len(insts)
for l in insts:
    l.sort(key=lambda x: x["stream"]["seq"])
    assert l[0]["kind"] == "instance_start" and l[-1]["kind"] == "instance_stop", [x["kind"] for x in l]
    # no session_end: a stateless exchange is its request and its response
    assert not any(x["kind"] == "session_end" for x in l)
def exchanges(l):
    out = {}
    for x in l:
        if x["kind"] in ("request", "response"):
            out.setdefault(x["session_id"], []).append(x)
    ex = sorted(out.values(), key=lambda v: v[0]["stream"]["seq"])
    assert len(ex) == 4 and all(len(v) == 2 for v in ex), [len(v) for v in ex]
    return ex
skip = []
ex1 = exchanges(insts[0])
skip.append(ex1[1][0])          # the 2nd exchange's request
skip += ex1[2]                  # both events of the 3rd
ex2 = exchanges(insts[1])
last = ex2[0][1]["stream"]["seq"]
skip += [x for x in insts[1] if x["stream"]["seq"] > last]
skip += [x for x in insts[2] if x["stream"]["seq"] > 0]
with open(sys.argv[2], "w") as f:
    for x in skip:
        f.write("%d:%d\n" % (x["$partition"], x["$offset"]))
print("withheld %d of %d events" % (len(skip), len(evs)))
EOF
"$e2e_kafka" relay "$raw" "$withheld" "$tmp/skip.txt" "$(wc -l < "$tmp/raw.jsonl")" 3000 60000

# one archiver for the three topics; each topic's directory becomes its own archive. It
# runs until 15 s after the last record (heartbeat manifests every second), so the archive
# covers more than 2 x heartbeat + 10 s slack past every instance's last event.
"$archiver" keygen "$tmp/key.pem" "$tmp/pub.pem"
"$archiver" run --archive.dir="$tmp/arch" --signing.key_file="$tmp/key.pem" \
  --kafka.brokers="$MT_KAFKA_BROKERS" --group.id="g-$raw" --topics="$raw,$crash,$withheld" \
  --heartbeat.interval=1s --log.level=warn --exit_idle=15s
for t in "$raw" "$crash" "$withheld"; do mkdir -p "$tmp/a-$t"; mv "$tmp/arch/$t" "$tmp/a-$t/"; done

# expect_verify TOPIC RC CLASS...: verify exits RC and reports exactly these problems
# (sidecar checkpoint keys: $skey, --sidecar-key arguments)
skey=(--sidecar-key "$tmp/sidecar-pub.pem")
expect_verify() {
  local t=$1 want_rc=$2 rc=0; shift 2
  "$archiver" verify "$tmp/a-$t" --pubkey "$tmp/pub.pem" "${skey[@]}" > "$tmp/verify-$t.txt" || rc=$?
  grep -E "^PROBLEM|stream |Result" "$tmp/verify-$t.txt"
  [ "$rc" = "$want_rc" ] || { echo "FAIL: verify of $t exited $rc, expected $want_rc" >&2; exit 1; }
  local got want=""
  got=$(grep '^PROBLEM' "$tmp/verify-$t.txt" | awk '{print $2}' | sort | tr '\n' ' ' || true)
  if [ $# -gt 0 ]; then want=$(printf '%s\n' "$@" | sort | tr '\n' ' '); fi
  [ "$got" = "$want" ] || { echo "FAIL: $t: problems [$got], expected [$want]" >&2; exit 1; }
}
echo "== untouched: three instances that stopped cleanly"
expect_verify "$raw" 0
grep -q "3 sidecar streams (3 stopped cleanly" "$tmp/verify-$raw.txt"
# every stream signed up to its last event (its instance_stop)
[ "$(sed -n 's/.*: seq 0\.\.\([0-9]*\), .*stopped cleanly, signed to seq \([0-9]*\), valid$/\1 \2/p' \
  "$tmp/verify-$raw.txt" | awk '$1 == $2' | wc -l)" = 3 ] ||
  { echo "FAIL: streams not signed to their instance_stop" >&2; exit 1; }
echo "== untouched, judged under another sidecar key: nothing is vouched for"
skey=(--sidecar-key "$tmp/other-pub.pem")
expect_verify "$raw" 1 stream-signature-bad stream-signature-bad stream-signature-bad \
  stream-unsigned stream-unsigned stream-unsigned
echo "== untouched, signatures not judged (no --sidecar-key)"
skey=()
expect_verify "$raw" 0
grep -q "checkpoint signatures not judged" "$tmp/verify-$raw.txt"
skey=(--sidecar-key "$tmp/sidecar-pub.pem")
echo "== withheld events"
expect_verify "$withheld" 1 event-missing session-missing instance-tail-missing instance-missing
echo "== kill -9 and a restart at the same place"
expect_verify "$crash" 1 unclean-stop
echo "archiver_streams: every completeness case reported exactly"
