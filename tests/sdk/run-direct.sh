#!/usr/bin/env bash
# The whole direct check of the MCP test peers (no sidecar involved), exit 0 only if all pass:
#  1. installs the peers if needed (scripts/deps-node.sh, scripts/deps.sh; idempotent)
#  2. starts server-everything and tests/conformance/scenario-server.mjs on free loopback
#     ports (PIDs in a private run directory; only those PIDs are stopped at exit)
#  3. runs the conformance suite against both (tests/conformance/run.sh) and checks with
#     compare.sh that everything passing in the committed baselines
#     (tests/conformance/baseline/*.tsv) still passes
#  4. runs the TS and Python SDK client sessions twice against server-everything and checks
#     the transcripts are identical (tests/sdk/sessions.sh)
# Results go to OUT (default out/peers-direct under the repo).
# Usage: tests/sdk/run-direct.sh [OUT]    Env: MT_SKIP_DEPS=1 skips step 1.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/out/peers-direct}
mkdir -p "$out"
if [ "${MT_SKIP_DEPS:-0}" != 1 ]; then
  "$repo/scripts/deps-node.sh"
  "$repo/scripts/deps.sh"
fi
run=$(mktemp -d "${TMPDIR:-/tmp}/mt-peers-direct.XXXXXX")
export MT_PEERS_RUN="$run"
cleanup() {
  "$here/stop.sh" "$run/everything.pid"
  "$here/stop.sh" "$run/scenario.pid"
  cp "$run"/*.log "$out/" 2>/dev/null || true
  rm -rf "$run"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
pe=$(free_port); ps=$(free_port)
"$here/start-everything.sh" "$pe" "$run/everything.pid"
"$repo/tests/conformance/start-scenario-server.sh" "$ps" "$run/scenario.pid"
rc=0
conf="$repo/tests/conformance"
"$conf/run.sh" "http://127.0.0.1:$pe/mcp" --label everything-direct --out "$out/everything-direct.tsv" || rc=1
"$conf/run.sh" "http://127.0.0.1:$ps/mcp" --label scenario-direct --out "$out/scenario-direct.tsv" || rc=1
"$conf/compare.sh" "$conf/baseline/everything-direct.tsv" "$out/everything-direct.tsv" || rc=1
"$conf/compare.sh" "$conf/baseline/scenario-direct.tsv" "$out/scenario-direct.tsv" || rc=1
"$here/sessions.sh" "http://127.0.0.1:$pe/mcp" "http://127.0.0.1:$pe/mcp" "$out/sessions" || rc=1
if ((rc)); then echo "run-direct: FAILED (details in $out)" >&2; else echo "run-direct: ok (results in $out)" >&2; fi
exit $rc
