#!/usr/bin/env bash
# Installs helm (the Helm chart tests' renderer and linter) as a Go module into
# the mcptrail cache, idempotently: built once with the machine's Go toolchain,
# then reused while the wanted version is the one recorded. Prints the path of
# the helm binary on its last line.
#
#   helm=$(bash scripts/deps-helm.sh | tail -n 1)
set -euo pipefail
cache=${MT_CACHE:-$HOME/.cache/mcptrail}
version=${MT_HELM_VERSION:-v3.22.0}
dir="$cache/helm-$version"
bin="$dir/bin/helm"
# go install leaves helm's version stamp (an ldflag of its Makefile) unset, so the
# version built is recorded beside the binary.
stamp="$dir/.version"
if [ ! -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$version" ]; then
  command -v go >/dev/null || { echo "deps-helm: go not found (the Go toolchain builds helm)" >&2; exit 1; }
  echo "deps-helm: building helm $version with go install (once; a few minutes)" >&2
  mkdir -p "$dir/bin"
  # -trimpath keeps the build reproducible; the module cache is Go's own.
  GOBIN="$dir/bin" CGO_ENABLED=0 go install -trimpath "helm.sh/helm/v3/cmd/helm@$version" >&2
  echo "$version" > "$stamp"
fi
echo "$bin"
