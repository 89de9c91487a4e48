#!/usr/bin/env bash
# sidecar_conformance (issue 4, acceptance 1): the MCP conformance suite (tests/conformance,
# server mode, every spec version each suite offers) against server-everything and against
# our scenario server (tests/conformance/scenario-server.mjs), each directly and through the
# real mcptrail-sidecar (strict mode, JWT via run.sh --token, recording to a fresh topic);
# compare.sh fails when a scenario passing direct does not pass proxied.
# Direct and proxied runs use separate server instances and run in parallel. Proxied runs
# also preload undici-auth.cjs so that every request of the suite carries the token.
#   MT_E2E_SUITES   suites to run (default "stable next"; ctest registers the default)
#   MT_E2E_OUT      keep the TSV/JSON results there (default: in the temp dir, removed)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_need_kafka
e2e_need_peers
t0=$SECONDS
suites=${MT_E2E_SUITES:-stable next}
out=${MT_E2E_OUT:-$tmp/out}
mkdir -p "$out"
topic=$(new_topic conformance)

declare -A direct_url proxied_url
for srv in everything scenario; do
  for side in direct proxied; do
    p=$(free_port)
    if [ $srv = everything ]; then
      start_everything "$p"
    else
      "$root/tests/conformance/start-scenario-server.sh" "$p" "$MT_PEERS_RUN/scenario-$p.pid" 2>/dev/null
      e2e_on_exit "'$root/tests/sdk/stop.sh' '$MT_PEERS_RUN/scenario-$p.pid'"
    fi
    if [ $side = direct ]; then
      direct_url[$srv]="http://127.0.0.1:$p/mcp"
    else
      # the suite sends Origin http://<URL's host:port>; allow exactly that origin
      sp=$(free_port)
      start_sidecar "$tmp/sc-$srv" "$p" --topic "$topic" --port "$sp" -- \
        --http.allowed_origins="http://127.0.0.1:$sp,http://localhost:$sp"
      proxied_url[$srv]=$sidecar_url
    fi
  done
done

pids=()
for srv in everything scenario; do
  token=$("$here/token.sh" "$tmp/sc-$srv" "e2e-conformance")
  "$root/tests/conformance/run.sh" "${direct_url[$srv]}" --label "$srv-direct" \
    --out "$out/$srv-direct.tsv" --suites "$suites" --timeout 150 2>"$tmp/$srv-direct.log" &
  pids+=($!)
  NODE_OPTIONS="--require $here/undici-auth.cjs" MT_BEARER_TOKEN="$token" \
  MT_AUTH_ORIGIN="${proxied_url[$srv]%/mcp}" \
  "$root/tests/conformance/run.sh" "${proxied_url[$srv]}" --label "$srv-sidecar" --token "$token" \
    --out "$out/$srv-sidecar.tsv" --suites "$suites" --timeout 150 2>"$tmp/$srv-sidecar.log" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
grep -h 'scenarios pass' "$tmp"/*-direct.log "$tmp"/*-sidecar.log >&2 || true
[ $rc = 0 ] || { tail -n 20 "$tmp"/*.log >&2; echo "sidecar_conformance: a run.sh failed" >&2; exit 1; }
for srv in everything scenario; do
  echo "== $srv: direct vs sidecar" >&2
  "$root/tests/conformance/compare.sh" "$out/$srv-direct.tsv" "$out/$srv-sidecar.tsv" >&2 || rc=1
done
[ $rc = 0 ] || { echo "sidecar_conformance: regressions through the sidecar (sidecar logs: $tmp/sc-*/sidecar.log)" >&2;
  [ -n "${MT_E2E_KEEP:-}" ] || tail -n 5 "$tmp"/sc-*/sidecar.log >&2; exit 1; }
stop_sidecar_checked "$tmp/sc-everything" "$tmp/sc-scenario"
echo "sidecar_conformance: every scenario passing direct passes through the sidecar ($((SECONDS - t0)) s)"
