#!/usr/bin/env bash
# token.sh DIR [SUB] [extra mint flags]: prints a development JWT (EdDSA, 10 min) that the
# sidecar started by run-sidecar.sh --dir DIR accepts (its issuer and audience).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
devtoken=${MT_DEVTOKEN_BIN:-$root/build/tools/mcptrail-devtoken}
dir=${1:?usage: token.sh DIR [SUB]}; sub=${2:-e2e-user}; shift $(($# >= 2 ? 2 : 1))
exec "$devtoken" mint --key "$dir/keys/dev-ed25519.pem" --kid dev-ed25519 \
  --iss https://issuer.mcptrail.test --aud mcptrail-e2e --sub "$sub" --ttl 600 "$@"
