#!/usr/bin/env bash
# replay_sdk (issue 8, acceptance 1 and 3): the TypeScript SDK client (tests/sdk/ts-client.mjs,
# wrapped by wire-client.mjs to log every message it sends and receives) runs its full session
# against server-everything through the real mcptrail-sidecar (strict recording to a fresh
# topic); mcptrail-archiver archives the topic; mcptrail-replay finds the session by the
# token's subject, and compare_wire.py checks that every request and response the client sent
# and received equals a replayed payload (modulo masking) and nothing else was replayed.
# The session is then exported to HTML, opened in headless Debian Chromium (export_e2e.mjs):
# no console error, no network request; screenshot to MT_REPLAY_SCREENSHOT if set.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../sidecar/e2e/lib.sh"
rdir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
e2e_need_kafka
e2e_need_peers
replay=${MT_REPLAY_BIN:?set MT_REPLAY_BIN}
archiver=${MT_ARCHIVER_BIN:?set MT_ARCHIVER_BIN}
node=$root/tests/peers/node_modules/.bin/node
t0=$SECONDS

up=$(free_port)
start_everything "$up"
topic=$(new_topic replay)
start_sidecar "$tmp/sc" "$up" --topic "$topic"
sub="replay-sdk-$$-$RANDOM"
token=$("$here/token.sh" "$tmp/sc" "$sub")
echo "replay_sdk: server-everything :$up, sidecar $sidecar_url, topic $topic"
"$node" "$rdir/wire-client.mjs" "$tmp/wire.jsonl" "$sidecar_url" --token "$token" --out "$tmp/transcript.json"
stop_sidecar_checked "$tmp/sc"

"$archiver" keygen "$tmp/key.pem" "$tmp/pub.pem"
"$archiver" run --archive.dir="$tmp/arch" --signing.key_file="$tmp/key.pem" \
  --kafka.brokers="$MT_KAFKA_BROKERS" --group.id="g-$topic" --topics="$topic" \
  --heartbeat.interval=1s --log.level=warn --exit_idle=3s
src=(--archive "$tmp/arch" --pubkey "$tmp/pub.pem")
"$replay" list "${src[@]}" --subject "$sub" --format jsonl > "$tmp/list.jsonl"
cat "$tmp/list.jsonl" | cut -c1-300
n=$(wc -l < "$tmp/list.jsonl")
[ "$n" -ge 1 ] || { echo "FAIL: no session of $sub in the archive" >&2; exit 1; }
# the client's MCP session: the one with tool calls (the others, if any, carry no payload
# the client saw)
: > "$tmp/replayed.jsonl"
for sid in $("$py" -c 'import json,sys; [print(json.loads(l)["session_id"]) for l in open(sys.argv[1])]' "$tmp/list.jsonl"); do
  "$replay" show "$sid" "${src[@]}" --format jsonl >> "$tmp/replayed.jsonl"
  "$replay" show "$sid" "${src[@]}" --format text --color never > "$tmp/show-$sid.txt"
done
"$py" "$rdir/compare_wire.py" "$tmp/wire.jsonl" "$tmp/replayed.jsonl"

# acceptance 3: the export in headless Chromium
chromium_bin=${MT_CHROMIUM:-/usr/bin/chromium}
peers=$root/tests/peers
if [ ! -x "$chromium_bin" ] || [ ! -d "$peers/node_modules/playwright-core" ]; then
  e2e_skip "chromium or playwright-core missing (scripts/deps.sh, scripts/deps-node.sh)"
fi
sid=$("$py" -c 'import json,sys; l=[json.loads(x) for x in open(sys.argv[1])]; print(max(l, key=lambda s: s["events"])["session_id"])' "$tmp/list.jsonl")
"$replay" export "$sid" "${src[@]}" --output "$tmp/session.html"
grep -q "Content-Security-Policy" "$tmp/session.html"
if grep -Eio '(src|href)="[a-z]+:' "$tmp/session.html"; then echo "FAIL: external reference in the export" >&2; exit 1; fi
MT_HTML="$tmp/session.html" MT_SCREENSHOT="${MT_REPLAY_SCREENSHOT:-$tmp/export.png}" \
  MT_CHROMIUM="$chromium_bin" MT_PEERS_DIR="$peers" HOME="$tmp" \
  timeout 120 "$node" "$rdir/export_e2e.mjs"
echo "replay_sdk: passed in $((SECONDS - t0)) s"
