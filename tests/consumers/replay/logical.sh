#!/usr/bin/env bash
# replay_logical (issue 15, acceptance 1): two real sidecars (strict) in front of one
# stateless upstream (bench/proxy/upstream); one CI job's 20 MCP 2026-07-28 calls alternate
# between them (curl, a CI OIDC token: repository, run id, attempt, job); a second CI run
# makes 3 calls. The archive holds 20 + 3 one-exchange sessions from two streams, and
# `mcptrail-replay list` shows them as two logical sessions: the job's with 20 calls from
# both streams, in time order in `show`, and its export renders; a recorded session's id
# shows that exchange alone.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../sidecar/e2e/lib.sh"
e2e_need_kafka
e2e_need_peers
replay=${MT_REPLAY_BIN:?set MT_REPLAY_BIN}
archiver=${MT_ARCHIVER_BIN:?set MT_ARCHIVER_BIN}

start_fast_upstream
up=$fast_upstream_port

topic=$(new_topic logical)
start_sidecar "$tmp/a" "$up" --topic "$topic"
start_sidecar "$tmp/b" "$up" --topic "$topic" --port "$(free_port)"
# a GitHub Actions-shaped token for CI run RUN_ID, from the development issuer of DIR
ci_token() { # DIR RUN_ID
  "$here/token.sh" "$1" "repo:acme/payments:ref:refs/heads/main" --claims-json \
    "{\"repository\":\"acme/payments\",\"workflow\":\"deploy.yml\",\"job\":\"release\",\"run_id\":\"$2\",\"run_attempt\":\"1\",\"actor\":\"octocat\",\"ref\":\"refs/heads/main\",\"sha\":\"3f2a9c1e\"}"
}
call() { stateless_call "$(cat "$1/url")" "$2" "$3"; } # DIR TOKEN ID
ta=$(ci_token "$tmp/a" 777001); tb=$(ci_token "$tmp/b" 777001)
for i in $(seq 1 20); do
  if ((i % 2)); then call "$tmp/a" "$ta" "$i"; else call "$tmp/b" "$tb" "$i"; fi
done
t2=$(ci_token "$tmp/a" 777002)
for i in 1 2 3; do call "$tmp/a" "$t2" "$((100 + i))"; done
stop_sidecar_checked "$tmp/a" "$tmp/b"

"$archiver" keygen "$tmp/key.pem" "$tmp/pub.pem"
"$archiver" run --archive.dir="$tmp/arch" --signing.key_file="$tmp/key.pem" \
  --kafka.brokers="$MT_KAFKA_BROKERS" --group.id="g-$topic" --topics="$topic" \
  --heartbeat.interval=1s --log.level=warn --exit_idle=3s
src=(--archive "$tmp/arch" --pubkey "$tmp/pub.pem")
"$replay" list "${src[@]}"
"$replay" list "${src[@]}" --format jsonl > "$tmp/list.jsonl"
"$replay" list "${src[@]}" --run-id 777001 --format jsonl > "$tmp/run1.jsonl"
"$py" - "$tmp/list.jsonl" "$tmp/run1.jsonl" > "$tmp/ids" <<'EOF'
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1])]
assert len(ls) == 2, "expected 2 logical sessions, got %d: %s" % (len(ls), [l["session_id"] for l in ls])
run1 = [json.loads(l) for l in open(sys.argv[2])]
assert len(run1) == 1, run1
s = run1[0]
assert s["kind"] == "ci_run" and s["run_id"] == "777001", s
assert s["tool_calls"] == 20 and s["events"] == 40, s
assert len(s["recorded_sessions"]) == 20 and len(s["streams"]) == 2, s
other = [l for l in ls if l["session_id"] != s["session_id"]][0]
assert other["run_id"] == "777002" and other["tool_calls"] == 3 and len(other["streams"]) == 1, other
print(s["session_id"], s["recorded_sessions"][5])
EOF
read -r lid member < "$tmp/ids"
"$replay" show "$lid" "${src[@]}" --format jsonl > "$tmp/show.jsonl"
"$replay" show "$lid" "${src[@]}" --format text --color never > "$tmp/show.txt"
head -3 "$tmp/show.txt"
"$py" - "$tmp/show.jsonl" <<'EOF'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
assert len(evs) == 40, len(evs)
ts = [e["ts"] for e in evs]
assert ts == sorted(ts), "not in time order"
reqs = [e for e in evs if e["kind"] == "request"]
ids = [int(e["rpc"]["id"]) for e in reqs]
assert ids == list(range(1, 21)), ids
assert len({e["stream"]["instance_id"] for e in evs}) == 2
print("replay_logical: one logical session, 20 calls in time order from 2 streams")
EOF
"$replay" export "$lid" "${src[@]}" --output "$tmp/run.html"
[ "$(grep -c 'tools/call' "$tmp/run.html")" -ge 20 ] || { echo "FAIL: export lacks the calls" >&2; exit 1; }
n=$("$replay" show "$member" "${src[@]}" --format jsonl 2>"$tmp/member.err" | wc -l)
[ "$n" = 2 ] || { echo "FAIL: recorded session $member shows $n events" >&2; exit 1; }
grep -q "one recorded session of logical session $lid" "$tmp/member.err"
# the evidence report's completeness section: both streams, each stopped cleanly
"$replay" report "${src[@]}" --format md > "$tmp/report.md"
grep -A5 'Completeness per sidecar stream' "$tmp/report.md"
[ "$(grep -c '| stopped cleanly | 0 |' "$tmp/report.md")" = 2 ] ||
  { echo "FAIL: the report's streams section does not show two clean streams" >&2; exit 1; }
# totals: the two logical sessions of 23 recorded exchanges
grep -q '^| sessions | 2 |' "$tmp/report.md" && grep -q '^| recorded sessions | 23 |' "$tmp/report.md" ||
  { grep -A4 '## Totals' "$tmp/report.md" >&2; echo "FAIL: report totals" >&2; exit 1; }
echo "replay_logical: ok"
