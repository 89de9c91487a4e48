#!/usr/bin/env bash
# Installs everything mcptrail needs to build and test, idempotently:
# Debian packages (only when one is missing), and a Python virtualenv with
# the test peers of scripts/requirements-test.txt (only when that file
# changed). chromium is for the approvals console test (tests/consumers/approvals).
# Kafka jars are fetched by scripts/kafka.sh; Java test peers by
# Maven when their tests build.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${MT_CACHE:-$HOME/.cache/mcptrail}
mkdir -p "$cache"

apt_pkgs=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev libavro-dev libjansson-dev libssl-dev libevent-dev
  libcmocka-dev libvectorscan-dev libpcre2-dev clang-14 libclang-rt-14-dev
  zlib1g-dev libdeflate-dev
  openjdk-17-jdk-headless maven python3-venv jq openssl curl
  chromium fonts-dejavu-core
)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

req="$here/requirements-test.txt"
venv="$cache/venv"
if [ -f "$req" ]; then
  stamp="$venv/.requirements.sha256"
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "deps: preparing Python test environment in $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
    echo "$want" > "$stamp"
  fi
fi
echo "deps: ok" >&2
