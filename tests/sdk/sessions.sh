#!/usr/bin/env bash
# sessions.sh URL_A URL_B OUTDIR [--token-a T] [--token-b T]: runs the TS and the Python SDK
# client session (ts-client.mjs, py-client.py) against URL_A and URL_B and fails unless each
# client's transcripts are identical (diff printed). Use URL_A = URL_B for a repeatability
# check, URL_A = direct server and URL_B = the sidecar (with --token-b) for acceptance 2.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
a=${1:?usage: sessions.sh URL_A URL_B OUTDIR [--token-a T] [--token-b T]}
b=${2:?}; out=${3:?}; shift 3
ta="" tb=""
while (($#)); do
  case "$1" in
    --token-a) ta=$2; shift 2 ;;
    --token-b) tb=$2; shift 2 ;;
    *) echo "sessions.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
mkdir -p "$out"
py=${MT_PYTHON:-${MT_CACHE:-$HOME/.cache/mcptrail}/venv/bin/python}
rc=0
run() { # name url token file
  local tok=() ; [ -z "$3" ] || tok=(--token "$3")
  case "$1" in
    ts) timeout 200 node "$here/ts-client.mjs" "$2" "${tok[@]}" --out "$4" ;;
    py) timeout 200 "$py" "$here/py-client.py" "$2" "${tok[@]}" --out "$4" ;;
  esac
}
for c in ts py; do
  if ! run $c "$a" "$ta" "$out/$c-a.json"; then echo "sessions: $c client failed against $a" >&2; rc=1; continue; fi
  if ! run $c "$b" "$tb" "$out/$c-b.json"; then echo "sessions: $c client failed against $b" >&2; rc=1; continue; fi
  if diff -u "$out/$c-a.json" "$out/$c-b.json" >"$out/$c.diff"; then
    echo "sessions: $c transcripts identical ($(grep -c '"step"' "$out/$c-a.json") steps)" >&2
  else
    echo "sessions: $c transcripts differ:" >&2; head -60 "$out/$c.diff" >&2; rc=1
  fi
done
exit $rc
