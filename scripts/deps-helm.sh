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
# helm's Makefile stamps its version and the Kubernetes version of its client modules
# (the default of --kube-version) with -X ldflags; go install gets the same ones here.
# The version built is also recorded beside the binary.
k8s_minor=${MT_HELM_K8S_MINOR:-37}   # helm v3.22.0 builds on the k8s.io v0.37 modules
stamp="$dir/.version"
if [ ! -x "$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$version k8s-1.$k8s_minor" ]; then
  command -v go >/dev/null || { echo "deps-helm: go not found (the Go toolchain builds helm)" >&2; exit 1; }
  echo "deps-helm: building helm $version with go install (once; a few minutes)" >&2
  mkdir -p "$dir/bin"
  # -trimpath keeps the build reproducible; the module cache is Go's own.
  ldflags="-X helm.sh/helm/v3/internal/version.version=$version"
  for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$k8s_minor"
  done
  GOBIN="$dir/bin" CGO_ENABLED=0 go install -trimpath -ldflags "$ldflags" \
    "helm.sh/helm/v3/cmd/helm@$version" >&2
  echo "$version k8s-1.$k8s_minor" > "$stamp"
fi
echo "$bin"
