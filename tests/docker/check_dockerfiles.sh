#!/usr/bin/env bash
# No Docker engine runs here, so the images are not built; this checks what can be
# checked without one. For each docker/<name>.Dockerfile whose binary is given
# (MT_<NAME>_BIN): every shared library the binary loads comes from a Debian package that
# the runtime stage installs, directly or as a dependency (apt-cache depends); the build
# stage installs every -dev package scripts/deps.sh needs for the libraries; the image
# runs as the non-root user 10001 and starts from debian:12-slim in both stages. The
# sidecar's bundle (docker/bundle.sh, the injector's stdio mode) is made from the binary
# and started through its own loader with an empty environment.
set -euo pipefail
root=${MT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
fail=0
# Sanitizer runtimes come from the test build's -fsanitize, not from the image.
skip_re='^(linux-vdso|libasan|libubsan|liblsan|libtsan)'
for name in sidecar approvals injector archiver; do
  df="$root/docker/$name.Dockerfile"
  var="MT_$(echo "$name" | tr a-z A-Z)_BIN"
  bin=${!var:-}
  [ -f "$df" ] || { echo "FAIL $df missing"; fail=1; continue; }
  [ "$(grep -c '^FROM debian:12-slim' "$df")" -eq 2 ] || { echo "FAIL $name: both stages must be debian:12-slim"; fail=1; }
  grep -q '^USER 10001:10001$' "$df" || { echo "FAIL $name: not USER 10001:10001"; fail=1; }
  for dev in librdkafka-dev libavro-dev libjansson-dev libssl-dev libevent-dev libvectorscan-dev libpcre2-dev; do
    grep -q "$dev" "$df" || { echo "FAIL $name: build stage lacks $dev"; fail=1; }
  done
  if [ -z "$bin" ]; then echo "skip $name: no binary to check the runtime libraries against"; continue; fi
  # Runtime packages: the install line of the last stage.
  pkgs=$(awk '/^FROM /{n++} n==2' "$df" | sed -n '/apt-get install/,/rm -rf/p' |
         tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' |
         grep -vE '^(apt-get|install|rm|update|groupadd|useradd|y|no-install-recommends)$' | sort -u)
  # The dependency closure is the same for every image with the same package list.
  key=$(echo $pkgs | tr ' ' '_')
  if [ "$key" = "${last_key:-}" ]; then closure=$last_closure; else
  closure=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
              --no-breaks --no-replaces --no-enhances $pkgs 2>/dev/null |
            sed -n 's/^\([a-z0-9][^ <]*\)$/\1/p; s/^ *Depends: \([^ <]*\)$/\1/p; s/^ *PreDepends: \([^ <]*\)$/\1/p' |
            sed 's/:any$//' | sort -u)
  last_key=$key; last_closure=$closure; fi
  missing=0
  # One dpkg -S for all libraries of the binary (it reads the whole file database per call).
  declare -A owner=()
  libs=(); paths=()
  while read -r lib path; do
    [[ "$lib" =~ $skip_re ]] && continue
    [ -n "$path" ] || continue
    libs+=("$lib"); paths+=("$(readlink -f "$path")")
  done < <(ldd "$bin" | awk '/=>/ {print $1, $3} !/=>/ && /^\t\// {print $1, $1}')
  while IFS= read -r line; do   # "pkg:arch: /path" (usr-merge: /lib and /usr/lib differ)
    pkg=${line%%:*}; file=${line##*: }
    owner["$file"]=$pkg; owner["/usr${file}"]=$pkg; owner["${file#/usr}"]=$pkg
  done < <(dpkg -S "${paths[@]}" "${paths[@]#/usr}" 2>/dev/null || true)
  for i in "${!libs[@]}"; do
    pkg=${owner[${paths[$i]}]:-}
    if [ -z "$pkg" ]; then echo "FAIL $name: no package owns ${paths[$i]}"; missing=1; continue; fi
    # libc6 and the loader are in every Debian image.
    if [ "$pkg" != libc6 ] && ! grep -qx "$pkg" <<<"$closure"; then
      echo "FAIL $name: ${libs[$i]} comes from $pkg, which the runtime stage does not install"; missing=1
    fi
  done
  unset owner
  if [ "$missing" -eq 0 ]; then echo "ok   $name: every library of $(basename "$bin") is installed by the runtime stage"; else fail=1; fi
done
# The stdio mode's bundle: made as the sidecar image makes it, it starts through its own
# loader and libraries with nothing from the environment.
if [ -n "${MT_SIDECAR_BIN:-}" ]; then
  b=$(mktemp -d)
  if sh "$root/docker/bundle.sh" "$MT_SIDECAR_BIN" "$b/opt" "$root/schemas" &&
     v=$(env -i "$b/opt/lib/ld-linux-x86-64.so.2" --library-path "$b/opt/lib" "$b/opt/bin/mcptrail-sidecar" --version) &&
     [ -f "$b/opt/schemas/session_event.avsc" ]; then
    echo "ok   sidecar bundle: $v through the bundled loader ($(ls "$b/opt/lib" | wc -l) libraries)"
  else
    echo "FAIL sidecar bundle (docker/bundle.sh) does not start"; fail=1
  fi
  grep -q 'docker/bundle.sh /out/usr/bin/mcptrail-sidecar /out/opt/mcptrail' "$root/docker/sidecar.Dockerfile" ||
    { echo "FAIL docker/sidecar.Dockerfile does not make the bundle"; fail=1; }
  rm -rf "$b"
fi
[ "$fail" -eq 0 ] && echo "check_dockerfiles: all checks passed" || echo "check_dockerfiles: FAILED"
exit "$fail"
