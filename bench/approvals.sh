#!/usr/bin/env bash
# Approval-hold benchmark (issue 6, acceptance 5): time from a signed approval decision
# being published to the held call reaching the upstream, through the real
# mcptrail-sidecar (Release, strict recording, policy `approve` on every deploy) on
# loopback Kafka, next to the floor measured in the same run: a plain consumer of the
# decisions topic (what any reader needs to see the decision). Target: p99 <= 50 ms.
# Prints a Markdown table and writes it into the "Approvals" section of
# docs/benchmarks.md.
#
#   bench/approvals.sh [--n CALLS] [--no-docs]
#
# Builds Release in build-release/ (or $MT_BENCH_BUILD_DIR); starts a 1-node Kafka
# (scripts/kafka.sh, own state dir and port base) unless MT_KAFKA_BROKERS is set. Every
# process it starts is stopped by PID; everything listens on 127.0.0.1.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=300 DOCS=1
while [ $# -gt 0 ]; do
  case $1 in
    --n) N=$2; shift 2 ;;
    --no-docs) DOCS=0; shift ;;
    *) echo "usage: bench/approvals.sh [--n CALLS] [--no-docs]" >&2; exit 2 ;;
  esac
done
log() { echo "approvals.sh: $*" >&2; }
run=$(mktemp -d /tmp/mcptrail-bench-approvals.XXXXXX)
pids=() kafka_started=""
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -z "$kafka_started" ] || MT_KAFKA_STATE=$run/kafka bash "$root/scripts/kafka.sh" stop >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    ss -Htan 2>/dev/null | awk '{print $4}' | grep -q -E "[:.]$p\$" || { echo "$p"; return; }
  done
}

if [ -z "${MT_KAFKA_BROKERS:-}" ]; then
  kbase=$(free_port)
  log "starting a 1-node Kafka (port base $kbase)"
  MT_KAFKA_BROKERS=$(MT_KAFKA_STATE=$run/kafka MT_KAFKA_PORT_BASE=$kbase \
    bash "$root/scripts/kafka.sh" start --nodes 1 2>"$run/kafka.err" | tail -n 1)
  kafka_started=1
fi
export MT_KAFKA_BROKERS

build=${MT_BENCH_BUILD_DIR:-$root/build-release}
log "building Release in $build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMT_SANITIZE=OFF >"$run/cmake.log" 2>&1 ||
  { cat "$run/cmake.log" >&2; exit 1; }
ninja -C "$build" mcptrail-sidecar mcptrail-devtoken approval_latency mt_e2e_kafka >"$run/ninja.log" 2>&1 ||
  { tail -30 "$run/ninja.log" >&2; exit 1; }

suffix="bench-$$"
T_EV="mcptrail.events.$suffix" T_REQ="mcptrail.approval.requests.$suffix"
T_VOTE="mcptrail.approval.votes.$suffix" T_DEC="mcptrail.approval.decisions.$suffix"
for t in "$T_EV" "$T_REQ" "$T_VOTE" "$T_DEC"; do "$build/tests/sidecar/mt_e2e_kafka" create "$t" 3 >&2; done
"$build/tools/mcptrail-devtoken" keygen --out-dir "$run/signer" >/dev/null
openssl pkey -in "$run/signer/dev-ed25519.pem" -pubout -out "$run/decisions.pub.pem"
source "$root/scripts/lib/approval-keys.sh"
mt_keypair "$run/keys" sidecar
head -c 32 /dev/urandom >"$run/hmac.key"
cat >"$run/policy.json" <<'JSON'
{"version": 1, "default": "allow", "rules": [
  {"id": "hold-deploys", "match": {"tool": "deploy"}, "action": "approve",
   "approval": {"groups": ["sre"], "expiry": 600}}]}
JSON
up=$(free_port) sp=$(free_port) ap=$(free_port)
MCPTRAIL_KAFKA_BROKERS=$MT_KAFKA_BROKERS MT_SCHEMA_DIR=$root/schemas "$build/sidecar/mcptrail-sidecar" \
  --listen.port="$sp" --admin.port="$ap" --upstream.port="$up" --auth.anonymous=true \
  --record.topic="$T_EV" --record.hmac_key_file="$run/hmac.key" --policy.file="$run/policy.json" \
  --approvals.decision_keys="$run/decisions.pub.pem" --approvals.topic_requests="$T_REQ" \
  --approvals.signing_key_file="$run/keys/sidecar.pem" \
  --approvals.topic_votes="$T_VOTE" --approvals.topic_decisions="$T_DEC" \
  --log.level=warn >"$run/sidecar.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ap/readyz")" = 200 ] && break
  sleep 0.1
done
log "$N held calls, one at a time"
MT_SCHEMA_DIR=$root/schemas "$build/bench/approval_latency" --sidecar "http://127.0.0.1:$sp/mcp" \
  --upstream-port "$up" --key "$run/signer/dev-ed25519.pem" --requests "$T_REQ" \
  --decisions "$T_DEC" --n "$N" >"$run/rows.tsv" 2>"$run/bench.err" ||
  { cat "$run/bench.err" >&2; tail -n 20 "$run/sidecar.log" >&2; exit 1; }

when=$(date -u +%Y-%m-%dT%H:%MZ)
rev=$(git -C "$root" rev-parse --short HEAD)
table=$(awk -F'\t' 'BEGIN {
    print "| Path | calls | p50 ms | p95 ms | p99 ms | max ms |"
    print "|---|---:|---:|---:|---:|---:|" }
  { name = $1 == "decision_to_forwarded" ? "decision published -> held call at the upstream (mcptrail-sidecar)" \
                                         : "decision published -> seen by a plain consumer (Kafka floor)"
    printf "| %s | %s | %s | %s | %s | %s |\n", name, $2, $3, $4, $5, $6 }' "$run/rows.tsv")
p99=$(awk -F'\t' '$1 == "decision_to_forwarded" {print $5}' "$run/rows.tsv")
verdict=$(awk -v p="$p99" 'BEGIN { print (p + 0 <= 50) ? "met" : "NOT met" }')
section="## Approvals

\`bench/approvals.sh\` ($when, commit $rev, Release, $(nproc) cores, loopback 1-node Kafka):
a held \`tools/call\` (policy \`approve\`, strict recording) per iteration; the bench signs
an \`approved\` decision as soon as it reads the ApprovalRequest and measures, on one
monotonic clock, from the decision's produce call to the call's arrival at the upstream.

$table

Target p99 <= 50 ms: **$verdict** (p99 $p99 ms). The floor row is what any consumer of
the decisions topic needs; the difference is the sidecar's verification (Ed25519),
recording of \`approval_decided\` (acked by Kafka in strict mode) and forwarding."
printf '%s\n' "$section"
if [ "$DOCS" = 1 ]; then
  printf '%s\n' "$section" | python3 "$root/bench/docs_section.py" "$root/docs/benchmarks.md" Approvals
  log "docs/benchmarks.md: Approvals section updated"
fi
