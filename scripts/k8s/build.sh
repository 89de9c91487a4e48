#!/usr/bin/env bash
# Builds the Kubernetes binaries scripts/k8s.sh runs, from pinned Go modules,
# once, into ${MT_CACHE:-~/.cache/mcptrail}/k8s-<version>/bin (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl) and
# etcd-<version>/bin (etcd, etcdctl). Idempotent: a binary is rebuilt only when
# the version recorded beside it differs. Prints the two bin directories.
#
# Kubernetes is not `go install`-able (its go.mod replaces the staging modules
# with ./staging paths), so a wrapper module requires k8s.io/kubernetes and
# replaces each staging module with its published k8s.io/<name> v0.<minor>.<patch>;
# tools.go blank-imports the commands. The version stamps are what the
# project's Makefile sets with -X (else the binaries report v0.0.0). etcd's
# server module has replace directives too: the same wrapper trick.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache=${MT_CACHE:-$HOME/.cache/mcptrail}
K8S_VERSION=${MT_K8S_VERSION:-v1.37.2}
ETCD_VERSION=${MT_ETCD_VERSION:-v3.7.3}
kbin="$cache/k8s-$K8S_VERSION/bin"
ebin="$cache/etcd-$ETCD_VERSION/bin"
log() { echo "k8s build: $*" >&2; }
need_go() { command -v go >/dev/null || { log "go not found (the Go toolchain builds Kubernetes)"; exit 1; }; }

# The staging modules of k8s.io/kubernetes (its go.mod's replace block) that are
# published at v0.<minor>.<patch>; sample-cli-plugin and sample-controller are not.
staging="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
cri-client cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice
externaljwt kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl
kubelet metrics mount-utils pod-security-admission sample-apiserver streaming"
cmds="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"

stamp_ok() { [ -x "$1/$2" ] && [ "$(cat "$1/.$2.version" 2>/dev/null)" = "$3" ]; }

need=""
for c in $cmds; do stamp_ok "$kbin" "$c" "$K8S_VERSION" || need+=" $c"; done
if [ -n "$need" ]; then
  need_go
  mod="$cache/k8s-$K8S_VERSION/mod"
  mkdir -p "$mod" "$kbin"
  minor=${K8S_VERSION#v1.}; staging_v="v0.$minor"
  {
    echo "module mcptrail.local/k8sbuild"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    for s in $staging; do echo "	k8s.io/$s => k8s.io/$s $staging_v"; done
    echo ")"
  } > "$mod/go.mod"
  {
    echo "//go:build tools"
    echo
    echo "package tools"
    echo
    echo "import ("
    for c in $cmds; do echo "	_ \"k8s.io/kubernetes/cmd/$c\""; done
    echo ")"
  } > "$mod/tools.go"
  major=1; kminor=${minor%%.*}
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$kminor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$mod" && GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true)
  for c in $need; do
    log "building $c $K8S_VERSION (once)"
    t0=$(date +%s)
    (cd "$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -tags tools -trimpath -ldflags "$ld" \
      -o "$kbin/$c" "k8s.io/kubernetes/cmd/$c")
    echo "$K8S_VERSION" > "$kbin/.$c.version"
    log "$c built in $(( $(date +%s) - t0 )) s"
  done
fi

if ! stamp_ok "$ebin" etcd "$ETCD_VERSION" || ! stamp_ok "$ebin" etcdctl "$ETCD_VERSION"; then
  need_go
  mod="$cache/etcd-$ETCD_VERSION/mod"
  mkdir -p "$mod" "$ebin"
  cat > "$mod/go.mod" <<EOM
module mcptrail.local/etcdbuild

go 1.26.0

require (
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
	go.etcd.io/etcd/etcdctl/v3 $ETCD_VERSION
)
EOM
  printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "go.etcd.io/etcd/server/v3"\n\t_ "go.etcd.io/etcd/etcdctl/v3"\n)\n' > "$mod/tools.go"
  (cd "$mod" && GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true)
  for p in server etcdctl; do
    b=etcd; [ $p = etcdctl ] && b=etcdctl
    log "building $b $ETCD_VERSION (once)"
    (cd "$mod" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -tags tools -trimpath -ldflags "-s -w" \
      -o "$ebin/$b" "go.etcd.io/etcd/$p/v3")
    echo "$ETCD_VERSION" > "$ebin/.$b.version"
  done
fi
echo "$kbin"
echo "$ebin"
