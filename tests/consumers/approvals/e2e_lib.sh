# Shared set-up of the mcptrail-approvals end-to-end tests (sourced): fresh topics,
# development IdP and signing keys, tokens, a free API port, start_service, and the
# api/expect/wait_state helpers. Exits 77 (skipped) without MT_KAFKA_BROKERS, curl, jq,
# openssl or python3.
[ -n "${MT_KAFKA_BROKERS:-}" ] || { echo "skip: MT_KAFKA_BROKERS is not set"; exit 77; }
for t in curl jq openssl python3; do
  command -v "$t" >/dev/null || { echo "skip: $t not found"; exit 77; }
done
for v in MT_APPROVALS_BIN MT_DEVTOKEN_BIN MT_EVENTS_BIN MT_VERIFY_BIN MT_E2E_KAFKA_BIN; do
  [ -x "${!v:-}" ] || { echo "e2e: $v is not an executable" >&2; exit 1; }
done
export MCPTRAIL_KAFKA_BROKERS="$MT_KAFKA_BROKERS" MCPTRAIL_LOG_LEVEL=info
tmp=$(mktemp -d /tmp/mt-appr-e2e.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  if [ "${keep:-0}" = 1 ]; then echo "e2e: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
fail() { echo "e2e FAIL: $*" >&2; keep=1; tail -n 30 "$tmp/service.log" >&2 || true; exit 1; }

suffix="e2e-$$-$(date +%s)"
T_REQ="mcptrail.approval.requests.$suffix"
T_VOTE="mcptrail.approval.votes.$suffix"
T_DEC="mcptrail.approval.decisions.$suffix"
for t in "$T_REQ" "$T_VOTE" "$T_DEC"; do "$MT_E2E_KAFKA_BIN" create "$t" 3; done

"$MT_DEVTOKEN_BIN" keygen --out-dir "$tmp/idp" >/dev/null
"$MT_DEVTOKEN_BIN" keygen --out-dir "$tmp/signer" >/dev/null
openssl pkey -in "$tmp/signer/dev-ed25519.pem" -pubout -out "$tmp/decisions.pub.pem"
# The sidecar key that signs the test's ApprovalRequests (as a sidecar would), and the
# trust file naming it; a test that adds bots rewrites the file before start_service.
source "$MT_SOURCE_DIR/scripts/lib/approval-keys.sh"
mt_keypair "$tmp/keys" sidecar
mt_trust_file "$tmp/trust.json" "sidecar:e2e-sidecar:$tmp/keys/sidecar.pub.pem"
ISS=https://idp.e2e.test AUD=mcptrail-approvals
# tok SUBJECT GROUP...: an approver token with a "groups" claim.
tok() {
  local sub=$1 args=(); shift
  for g in "$@"; do args+=(--group "$g"); done
  "$MT_DEVTOKEN_BIN" mint --key "$tmp/idp/dev-ed25519.pem" --kid dev-ed25519 --iss "$ISS" \
    --aud "$AUD" --sub "$sub" "${args[@]}"
}
alice=$(tok alice sre) bob=$(tok bob sre payments)
dan=$(tok dev-dan sre) mallory=$(tok mallory dev)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
start_service() {
  "$MT_APPROVALS_BIN" --api.port="$port" --auth.jwks_file="$tmp/idp/jwks.json" \
    --auth.issuer="$ISS" --auth.audiences="$AUD" --signing.key_file="$tmp/signer/dev-ed25519.pem" \
    --topics.requests="$T_REQ" --topics.votes="$T_VOTE" --topics.decisions="$T_DEC" \
    --trust.file="$tmp/trust.json" >>"$tmp/service.log" 2>&1 &
  pid=$!
  local deadline=$((SECONDS + 60))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" = 200 ]; do
    kill -0 "$pid" 2>/dev/null || fail "service exited during start"
    [ $SECONDS -lt $deadline ] || fail "service not ready within 60 s"
    sleep 0.2 # poll interval for /readyz
  done
}
# api METHOD PATH TOKEN [BODY] -> prints "STATUS BODY"
api() {
  local args=(-s -o "$tmp/body" -w '%{http_code}' -X "$1" "$base$2")
  [ -n "$3" ] && args+=(-H "Authorization: Bearer $3")
  [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' --data "$4")
  local code; code=$(curl "${args[@]}")
  echo "$code $(cat "$tmp/body")"
}
expect() { # expect STATUS ERROR METHOD PATH TOKEN [BODY]
  local out; out=$(api "$3" "$4" "$5" "${6:-}")
  [ "${out%% *}" = "$1" ] || fail "$3 $4: got '$out', want $1"
  [ -z "$2" ] || [ "$(echo "${out#* }" | jq -r .error)" = "$2" ] ||
    fail "$3 $4: got '$out', want error $2"
}
wait_state() { # wait_state ID STATE APPROVALS PUBLISHED
  local deadline=$((SECONDS + 30)) got=""
  while :; do
    got=$(curl -s -H "Authorization: Bearer $alice" "$base/api/v1/approvals/$1" |
      jq -r '"\(.state) \(.approvals) \(.published)"' 2>/dev/null || true)
    [ "$got" = "$2 $3 $4" ] && return 0
    [ $SECONDS -lt $deadline ] || fail "approval $1: '$got' after 30 s, want '$2 $3 $4'"
    sleep 0.2 # poll interval for the state
  done
}

# produce_request ID REQUESTER_SUBJECT: an ApprovalRequest (2 approvals from group sre,
# four-eyes, 10 minutes) on $T_REQ, signed with the sidecar key, acknowledged.
produce_request() {
  local now
  now=$(($(date +%s) * 1000000))
  jq -cn --arg id "$1" --arg sub "$2" --arg iss "$ISS" --argjson now "$now" '{
    "$schema": "dev.mcptrail.ApprovalRequest", approval_id: $id,
    request_hash: "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592",
    session_id: "sess-e2e", event_id: "evt-e2e", created: $now, expires: ($now + 600000000),
    identity: {issuer: $iss, subject: $sub, audience: null, auth_method: "jwt",
               token_fingerprint: null, ci: null},
    tool: "deploy", method: "tools/call", arguments_masked: "{\"env\":\"prod\"}",
    justification: "release 1.2", rule_id: "prod-deploy-two-sre", approver_groups: ["sre"],
    min_approvals: 2, four_eyes: true, console_url: null}' >"$tmp/request.jsonl"
  "$MT_EVENTS_BIN" produce --sign_key="$tmp/keys/sidecar.pem" "$T_REQ" <"$tmp/request.jsonl" \
    >/dev/null
}
