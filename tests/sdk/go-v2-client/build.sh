#!/usr/bin/env bash
# Builds the Go SDK (go-sdk v1.7.0) 2026-07-28 MCP client of this folder, idempotently.
# GOPATH, GOMODCACHE and GOCACHE live under ${MT_CACHE:-$HOME/.cache/mcptrail}/go, so nothing
# outside that cache (and the output binary) is written. The build is skipped when the binary
# is newer than main.go, go.mod and go.sum. Prints the binary's path on stdout.
# Usage: tests/sdk/go-v2-client/build.sh [OUTPUT]
#   OUTPUT defaults to ${MT_CACHE:-$HOME/.cache/mcptrail}/bin/go-v2-client
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${MT_CACHE:-$HOME/.cache/mcptrail}
out=${1:-$cache/bin/go-v2-client}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

fresh=1
if [ -x "$out" ]; then
  for f in main.go go.mod go.sum; do
    [ "$out" -nt "$here/$f" ] || { fresh=0; break; }
  done
else
  fresh=0
fi
if [ "$fresh" = 1 ]; then
  echo "$out"
  exit 0
fi

command -v go >/dev/null || { echo "go-v2-client/build.sh: go not found on PATH" >&2; exit 1; }
export GOPATH="$cache/go"
export GOMODCACHE="$cache/go/pkg/mod"
export GOCACHE="$cache/go/build-cache"
export GOFLAGS="-mod=mod -modcacherw"  # -modcacherw: the cache can be removed with rm -rf
export CGO_ENABLED=0
mkdir -p "$(dirname "$out")" "$GOPATH" "$GOCACHE"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(cd "$here" && go build -trimpath -buildvcs=false -o "$tmp" .) >&2
mv -f "$tmp" "$out"
trap - EXIT
echo "$out"
