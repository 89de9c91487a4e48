#!/usr/bin/env bash
# report.sh [SCENARIO...]: runs the chaos scenarios one after the other (default: all)
# and writes their table into docs/reliability.md ("## Results"). Load and rounds come
# from MT_CHAOS_SECONDS / MT_CHAOS_ROUNDS (soak.sh sets long ones); binaries as for
# the scenarios (MT_SIDECAR_BIN, MT_DEVTOKEN_BIN, MT_E2E_KAFKA_BIN, MT_ARCHIVER_BIN;
# default: the build-test/ tree). Exit 1 when a scenario fails (its row still shows).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
b=${MT_BUILD_DIR:-$root/build-test}
export MT_SIDECAR_BIN=${MT_SIDECAR_BIN:-$b/sidecar/mcptrail-sidecar}
export MT_DEVTOKEN_BIN=${MT_DEVTOKEN_BIN:-$b/tools/mcptrail-devtoken}
export MT_E2E_KAFKA_BIN=${MT_E2E_KAFKA_BIN:-$b/tests/sidecar/mt_e2e_kafka}
export MT_ARCHIVER_BIN=${MT_ARCHIVER_BIN:-$b/consumers/archiver/mcptrail-archiver}
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(broker_kill broker_stop sidecar_kill archiver_kill)
rows=$(mktemp -d /tmp/mt-chaos-rows.XXXXXX)
trap 'rm -rf "$rows"' EXIT
rc=0
base=19700 # each scenario its own broker ports (a stopped broker's may linger in TIME_WAIT)
for s in "${scenarios[@]}"; do
  base=$((base + 10))
  MT_CHAOS_ROWS=$rows MT_CHAOS_KAFKA_BASE=$base bash "$here/$s.sh" || { rc=1; [ -f "$rows/$s.md" ] || echo "| $s | failed before its check: see its output | | | | | | | | | |" >"$rows/$s.md"; }
done
rev=$(git -C "$root" rev-parse --short HEAD)
{
  echo "## Results"
  echo
  echo "\`tests/chaos/report.sh\`, $(date -u +%Y-%m-%dT%H:%MZ), mcptrail $rev, $(nproc) cores; load ${MT_CHAOS_SECONDS:-40} s and ${MT_CHAOS_ROUNDS:-3} rounds per scenario (broker_stop: ${MT_CHAOS_ROUNDS:-1} round of ${MT_CHAOS_STOP_S:-35} s), ${MT_CHAOS_THREADS:-4} client threads."
  echo
  echo "| scenario | calls driven | faults | calls executed | executed, unrecorded | successes without response event | events missing after de-dup | doubled (topic / archive) | client-visible errors | recovery s | archive verifies |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  for s in "${scenarios[@]}"; do cat "$rows/$s.md"; done
} | python3 "$root/bench/docs_section.py" "$root/docs/reliability.md" Results
echo "report.sh: wrote the Results section of docs/reliability.md" >&2
exit $rc
