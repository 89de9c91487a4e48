#!/usr/bin/env bash
# approvals_schemathesis: schemathesis (property-based API testing) runs
# docs/approvals-openapi.yaml against the real mcptrail-approvals binary on a
# real broker, with an approver token and one pending approval to act on.
# Every check must pass: no 5xx, status codes, content types, headers and
# bodies as documented, bad input rejected, good input accepted.
# schemathesis comes from scripts/requirements-test.txt (the test venv:
# $MT_VENV, default ~/.cache/mcptrail/venv). Exit 77 (skipped) without
# MT_KAFKA_BROKERS, schemathesis, curl, jq or openssl.
set -euo pipefail
st="${MT_VENV:-$HOME/.cache/mcptrail/venv}/bin/st"
[ -x "$st" ] || { echo "skip: schemathesis not installed ($st); run scripts/deps.sh"; exit 77; }
source "$(dirname "${BASH_SOURCE[0]}")/e2e_lib.sh"

start_service
id="019b7701-0000-7000-8000-$(printf '%012x' $$)"
produce_request "$id" dev-dan
wait_state "$id" pending 0 false
# Every {id} is the pending approval, so votes reach the rules (202, 200, 409...)
# rather than stopping at 404.
printf '[parameters]\n"path.id" = "%s"\n' "$id" >"$tmp/schemathesis.toml"
"$st" --config-file "$tmp/schemathesis.toml" run "$MT_SOURCE_DIR/docs/approvals-openapi.yaml" \
  --url "$base" \
  -H "Authorization: Bearer $alice" --checks all --workers 1 \
  --phases examples,coverage,fuzzing --max-time "${MT_SCHEMATHESIS_SECONDS:-60}" \
  --suppress-health-check all --seed 1 --no-color ${MT_ST_EXTRA:-} >"$tmp/st.log" 2>&1 ||
  { tail -n 80 "$tmp/st.log" >&2; fail "schemathesis found problems (log above)"; }
tail -n 15 "$tmp/st.log"
kill -0 "$pid" || fail "service died under schemathesis"
echo "e2e: schemathesis PASS"
