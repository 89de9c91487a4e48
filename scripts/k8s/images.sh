#!/usr/bin/env bash
# Images for the scripts/k8s.sh cluster, built without a registry or a Docker
# engine and imported into its containerd (namespace k8s.io):
#
#   images.sh pause SOCK              mcptrail.local/pause:1 (scripts/k8s/pause.c, static)
#   images.sh project SOCK BUILD_DIR  mcptrail.local/{sidecar,injector,approvals,archiver}:dev
#                                     from BUILD_DIR (a Release build), and
#                                     mcptrail.local/demo-mcp:dev (server-everything on Node)
#
# Each image is what its docker/*.Dockerfile makes, put together from this
# Debian 12 machine instead of a debian:12-slim stage: the binary at the same
# path, the shared libraries it loads (ldd) at theirs, the schemas, CA
# certificates, the user 10001 of the chart's securityContext; the entrypoint,
# user and environment are read from the Dockerfile (dockerfile_config.py). umoci packs the root filesystem as an OCI
# layout; `ctr images import` loads it. An image whose inputs did not change
# since its last import (a hash of the files) is not rebuilt.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cache=${MT_CACHE:-$HOME/.cache/mcptrail}/k8s-images
mkdir -p "$cache"
log() { echo "k8s images: $*" >&2; }

# libs BIN...: the shared libraries and loader BIN needs, one absolute path a line
libs() {
  ldd "$@" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u
}

# base ROOTFS: the files every image has (users, CA certificates, /tmp)
base() {
  local r=$1
  mkdir -p "$r/etc" "$r/tmp" "$r/etc/ssl/certs" "$r/usr/share/mcptrail"
  chmod 1777 "$r/tmp"
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nmcptrail:x:10001:10001::/nonexistent:/usr/sbin/nologin\n' > "$r/etc/passwd"
  printf 'root:x:0:\nmcptrail:x:10001:\n' > "$r/etc/group"
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/"
  return 0
}

# copy_bin ROOTFS BIN DEST: BIN at DEST inside ROOTFS, with its libraries at their paths
copy_bin() {
  local r=$1 bin=$2 dest=$3 l
  install -D -m 0755 "$bin" "$r$dest"
  for l in $(libs "$bin"); do
    mkdir -p "$r$(dirname "$l")"
    cp -L "$l" "$r$l"
  done
}

# pack NAME TAG ROOTFS SOCK CONFIG_ARGS...: OCI layout from ROOTFS, imported as
# mcptrail.local/NAME:TAG
pack() {
  local name=$1 tag=$2 r=$3 sock=$4
  shift 4
  local ref="mcptrail.local/$name:$tag" work="$cache/$name"
  local sum
  sum=$( (cd "$r" && find . -type f -print0 | sort -z | xargs -0 sha256sum; echo "$*") | sha256sum | cut -c1-16)
  if [ "$(cat "$work.sum" 2>/dev/null)" = "$sum" ] &&
    ctr --address "$sock" -n k8s.io images ls -q 2>/dev/null | grep -qx "$ref"; then
    return 0
  fi
  log "building $ref"
  rm -rf "$work" "$work.tar"
  mkdir -p "$work"
  umoci init --layout "$work/oci" >/dev/null
  umoci new --image "$work/oci:$tag" >/dev/null
  umoci unpack --image "$work/oci:$tag" "$work/bundle" >/dev/null
  cp -a "$r/." "$work/bundle/rootfs/"
  umoci repack --image "$work/oci:$tag" "$work/bundle" >/dev/null
  umoci config --image "$work/oci:$tag" --os linux --architecture amd64 "$@" >/dev/null
  umoci gc --layout "$work/oci" >/dev/null
  # the full name for containerd's importer (the OCI ref annotation holds only the tag)
  python3 - "$work/oci/index.json" "$ref" <<'EOF'
import json, sys
p, ref = sys.argv[1], sys.argv[2]
idx = json.load(open(p))
for m in idx["manifests"]:
    m.setdefault("annotations", {})["io.containerd.image.name"] = ref
json.dump(idx, open(p, "w"))
EOF
  tar -C "$work/oci" -cf "$work.tar" .
  ctr --address "$sock" -n k8s.io images import --no-unpack=false "$work.tar" >/dev/null
  ctr --address "$sock" -n k8s.io images ls -q | grep -qx "$ref" || { log "import of $ref failed"; exit 1; }
  rm -rf "$work" "$work.tar"
  echo "$sum" > "$work.sum"
}

pause_image() {
  local sock=$1 r="$cache/pause-root"
  rm -rf "$r"
  mkdir -p "$r"
  gcc -static -Os -s -o "$r/pause" "$HERE/pause.c"
  pack pause 1 "$r" "$sock" --config.entrypoint /pause --config.user 65535:65535
  rm -rf "$r"
}

project_images() {
  local sock=$1 b=$2 r n cfg
  local -A bins=([sidecar]=sidecar/mcptrail-sidecar [injector]=injector/mcptrail-injector
    [approvals]=consumers/approvals/mcptrail-approvals [archiver]=consumers/archiver/mcptrail-archiver)
  for n in sidecar injector approvals archiver; do
    [ -x "$b/${bins[$n]}" ] || { log "missing $b/${bins[$n]} (build Release first)"; exit 1; }
    r="$cache/$n-root"
    rm -rf "$r"
    base "$r"
    copy_bin "$r" "$b/${bins[$n]}" "/usr/bin/mcptrail-$n"
    cp -r "$ROOT/schemas" "$r/usr/share/mcptrail/schemas"
    # the sidecar image also carries itself as a bundle for stdio servers (docker/bundle.sh)
    [ "$n" = sidecar ] && sh "$ROOT/docker/bundle.sh" "$b/${bins[$n]}" "$r/opt/mcptrail" "$ROOT/schemas"
    # entrypoint, user and environment: what docker/$n.Dockerfile declares
    mapfile -t cfg < <(python3 "$HERE/dockerfile_config.py" "$ROOT/docker/$n.Dockerfile")
    pack "$n" dev "$r" "$sock" "${cfg[@]}"
    rm -rf "$r"
  done
  demo_image "$sock"
}

# server-everything (the reference MCP server up.sh runs) on this machine's Node,
# with the packages it loads from tests/peers (node_closure.py)
demo_image() {
  local sock=$1 r="$cache/demo-root" peers="$ROOT/tests/peers" d
  local node
  node=$(readlink -f "$(command -v node)")
  rm -rf "$r"
  base "$r"
  copy_bin "$r" "$node" /usr/bin/node
  mkdir -p "$r/app/node_modules"
  # the package and what it loads at run time, resolved as Node resolves it
  python3 "$HERE/node_closure.py" "$peers" @modelcontextprotocol/server-everything |
    while read -r rel; do
      mkdir -p "$r/app/$(dirname "$rel")"
      [ -e "$r/app/$rel" ] || cp -a "$peers/$rel" "$r/app/$rel"
    done
  [ -f "$r/app/node_modules/@modelcontextprotocol/server-everything/dist/index.js" ] ||
    { log "server-everything not found in $peers (scripts/deps-node.sh)"; exit 1; }
  pack demo-mcp dev "$r" "$sock" --config.entrypoint /usr/bin/node \
    --config.cmd /app/node_modules/@modelcontextprotocol/server-everything/dist/index.js \
    --config.cmd streamableHttp --config.user 10001:10001 --config.workingdir /app \
    --config.env PORT=3001
  rm -rf "$r"
}

case ${1:-} in
  pause) pause_image "$2" ;;
  project) project_images "$2" "$3" ;;
  *) echo "usage: images.sh pause SOCK | project SOCK BUILD_DIR" >&2; exit 2 ;;
esac
