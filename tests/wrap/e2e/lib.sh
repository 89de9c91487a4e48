# lib.sh of the mcptrail-wrap tests (sourced): tests/sidecar/e2e/lib.sh (tmp dir, cleanup
# hooks, free ports, topics, skips) plus a CI identity: wrap_setup makes a dev JWKS, a token
# for SUB with CI claims (written to $tmp/token) and sets wrap=(mcptrail-wrap and its
# options, up to and including "--"), recording to $topic; wrap_base is the same without
# an identity source and without "--".
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../../sidecar/e2e" && pwd)/lib.sh"
wrap_bin=${MT_WRAP_BIN:-$root/build/wrap/mcptrail-wrap}
devtoken=${MT_DEVTOKEN_BIN:-$root/build/tools/mcptrail-devtoken}
node="$root/tests/peers/node_modules/.bin/node"
mods="$root/tests/peers/node_modules/@modelcontextprotocol"

wrap_setup() { # TOPIC_PREFIX SUB [extra wrapper options...]
  local prefix=$1; wrap_sub=$2; shift 2
  [ -x "$wrap_bin" ] || e2e_skip "no mcptrail-wrap at $wrap_bin"
  topic=$(new_topic "$prefix")
  "$devtoken" keygen --out-dir "$tmp/keys" >/dev/null
  head -c 32 /dev/urandom >"$tmp/hmac.key"
  "$devtoken" mint --key "$tmp/keys/dev-ed25519.pem" --kid dev-ed25519 \
    --iss https://ci.mcptrail.test --aud mcptrail-wrap --sub "$wrap_sub" --ttl 900 \
    --claim repository=acme/payments-api --claim workflow=deploy.yml --claim run_id=4242 \
    --claim actor=octocat >"$tmp/token"
  # wrap_base: without an identity source; wrap: with the token file, ending in "--"
  wrap_base=("$wrap_bin" --kafka.brokers="$MT_KAFKA_BROKERS" --record.topic="$topic"
             --record.hmac_key_file="$tmp/hmac.key" --auth.jwks_file="$tmp/keys/jwks.json"
             --auth.issuer=https://ci.mcptrail.test --auth.audiences=mcptrail-wrap
             --source.cluster=ci --log.format=json "$@")
  wrap=("${wrap_base[@]}" --identity.token_file="$tmp/token" --)
}
