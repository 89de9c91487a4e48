#!/usr/bin/env bash
# stdio benchmark (issue 17): added latency per call of mcptrail in front of a stdio MCP
# server, against calling the server directly over stdio, in the same run. The server is
# tests/sidecar/e2e/stdio-fault-server.mjs (echo; newline-delimited JSON-RPC, no SDK, so
# the server's own cost is small); the client is bench/stdio_calls.py (sequential calls,
# exact percentiles). Rows: direct stdio; mcptrail-sidecar with upstream.command, async and
# strict, 2026-07-28 (the shared process) and a 2025 session (its own process);
# mcptrail-wrap (stdio to stdio), async and strict. Prints a Markdown table and writes it into the
# "stdio" section of docs/benchmarks.md.
#
#   bench/stdio.sh [--calls N] [--no-docs]
#
# Builds Release in build-release/ (or $MT_BENCH_BUILD_DIR); starts a 1-node Kafka
# (scripts/kafka.sh, own state dir and port base) unless MT_KAFKA_BROKERS is set. Every
# process it starts is stopped by PID; everything listens on 127.0.0.1.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CALLS=2000 DOCS=1
while [ $# -gt 0 ]; do
  case $1 in
    --calls) CALLS=$2; shift 2 ;;
    --no-docs) DOCS=0; shift ;;
    *) echo "bench/stdio.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
run=$(mktemp -d "${TMPDIR:-/tmp}/mt-bench-stdio.XXXXXX")
pids=() kafka_started=""
cleanup() {
  # sidecars start inside $(...): their PIDs are in $run/*.pid, not in pids
  for f in "$run"/*.pid; do [ -f "$f" ] && pids+=("$(cat "$f")"); done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  [ -z "$kafka_started" ] || MT_KAFKA_STATE=$run/kafka bash "$root/scripts/kafka.sh" stop >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT
log() { echo "bench/stdio: $*" >&2; }

node="$root/tests/peers/node_modules/.bin/node"
[ -x "$node" ] || bash "$root/scripts/deps-node.sh"
server=("$node" "$root/tests/sidecar/e2e/stdio-fault-server.mjs")
build=${MT_BENCH_BUILD_DIR:-$root/build-release}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMT_SANITIZE=OFF -DMT_TESTS=OFF \
  >"$run/cmake.log" 2>&1 || { cat "$run/cmake.log" >&2; exit 1; }
ninja -C "$build" mcptrail-sidecar mcptrail-wrap mcptrail-devtoken >"$run/build.log" 2>&1 || { cat "$run/build.log" >&2; exit 1; }
if [ -z "${MT_KAFKA_BROKERS:-}" ]; then
  kbase=$((30000 + RANDOM % 2000))
  MT_KAFKA_STATE=$run/kafka MT_KAFKA_PORT_BASE=$kbase bash "$root/scripts/kafka.sh" start --nodes 1 \
    >"$run/kafka.out" 2>"$run/kafka.err" || { cat "$run/kafka.err" >&2; exit 1; }
  kafka_started=1
  MT_KAFKA_BROKERS=$(tail -n 1 "$run/kafka.out")
fi
"$build/tools/mcptrail-devtoken" keygen --out-dir "$run/keys" >/dev/null
head -c 32 /dev/urandom >"$run/hmac.key"
token=$("$build/tools/mcptrail-devtoken" mint --key "$run/keys/dev-ed25519.pem" --kid dev-ed25519 \
  --iss https://issuer.mcptrail.test --aud mcptrail-bench --sub bench --ttl 3600 2>/dev/null || true)
[ -n "$token" ] || { log "cannot mint a token (mcptrail-devtoken)"; exit 1; }
argv=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "${server[@]}")

# sidecar MODE: starts one on an ephemeral port, prints its URL
sidecar() {
  local mode=$1 d="$run/sc-$1"
  mkdir -p "$d"
  MT_SCHEMA_DIR=$root/schemas "$build/sidecar/mcptrail-sidecar" --kafka.brokers="$MT_KAFKA_BROKERS" \
    --listen.port=0 --admin.port=0 --upstream.command="$argv" \
    --auth.jwks_file="$run/keys/jwks.json" --auth.issuer=https://issuer.mcptrail.test \
    --auth.audiences=mcptrail-bench --record.mode="$mode" --record.spool_dir="$d/spool" \
    --record.topic=mcptrail.bench.stdio --record.hmac_key_file="$run/hmac.key" \
    --log.level=info --log.format=json >"$d/log" 2>&1 </dev/null &
  echo $! >"$run/sidecar-$mode.pid"
  local port="" i
  for i in $(seq 1 100); do
    port=$(grep -m1 '"listening"' "$d/log" 2>/dev/null | sed -n 's/.*"port":\([0-9]*\).*/\1/p' || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$d/log" >&2; exit 1; }
  echo "http://127.0.0.1:$port/mcp"
}

row() { # NAME JSON [DIRECT_P50]
  python3 - "$@" <<'EOF'
import json, sys
name, r = sys.argv[1], json.loads(sys.argv[2])
base = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
add = f"+{(r['p50_us'] - base['p50_us']) / 1000:.3f}" if base else "baseline"
add99 = f"+{(r['p99_us'] - base['p99_us']) / 1000:.3f}" if base else "baseline"
print(f"| {name} | {r['n']} | {r['p50_us'] / 1000:.3f} | {r['p99_us'] / 1000:.3f} | {r['mean_us'] / 1000:.3f} | {add} | {add99} |")
EOF
}

log "direct stdio ($CALLS calls)"
direct=$(python3 "$root/bench/stdio_calls.py" direct "$CALLS" -- "${server[@]}")
rows=("$(row "direct: client speaks stdio to the server" "$direct")")
for mode in async strict; do
  url=$(sidecar "$mode")
  log "sidecar $mode"
  r=$(python3 "$root/bench/stdio_calls.py" http "$CALLS" "$url" "$token")
  rows+=("$(row "mcptrail-sidecar $mode, 2026-07-28 (shared process)" "$r" "$direct")")
  r=$(python3 "$root/bench/stdio_calls.py" http "$CALLS" "$url" "$token" 2025)
  rows+=("$(row "mcptrail-sidecar $mode, 2025 session (own process)" "$r" "$direct")")
done
if [ -x "$build/wrap/mcptrail-wrap" ]; then
  printf '%s\n' "$token" >"$run/token"
  for mode in async strict; do
    log "mcptrail-wrap $mode"
    r=$(python3 "$root/bench/stdio_calls.py" direct "$CALLS" -- "$build/wrap/mcptrail-wrap" \
      --kafka.brokers="$MT_KAFKA_BROKERS" --record.mode="$mode" --record.spool_dir="$run/wrap-$mode" \
      --record.topic=mcptrail.bench.stdio --record.hmac_key_file="$run/hmac.key" \
      --identity.token_file="$run/token" --auth.jwks_file="$run/keys/jwks.json" \
      --auth.issuer=https://issuer.mcptrail.test --auth.audiences=mcptrail-bench --log.level=warn \
      -- "${server[@]}")
    rows+=("$(row "mcptrail-wrap $mode (stdio to stdio)" "$r" "$direct")")
  done
fi

rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
section="## stdio

\`bench/stdio.sh --calls $CALLS\` $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores, mcptrail $rev, Kafka 1-node
KRaft at $MT_KAFKA_BROKERS. Sequential \`tools/call\` of \`echo\` on
tests/sidecar/e2e/stdio-fault-server.mjs (ms per call; added = against the direct row of the
same run). Through the sidecar the client speaks HTTP (keep-alive, JSON answers), so the
added time includes the HTTP hop as well as the checks and the recording; through the
wrapper it speaks stdio, and strict mode waits for Kafka's acknowledgement of the request and
of the answer (two round trips to the broker per call).

| path | calls | p50 ms | p99 ms | mean ms | added p50 ms | added p99 ms |
|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")
"
printf '%s\n' "$section"
[ "$DOCS" = 0 ] || printf '%s\n' "$section" | python3 "$root/bench/docs_section.py" "$root/docs/benchmarks.md" stdio
