#!/usr/bin/env bash
# Runs the MCP conformance suite's server scenarios against an MCP endpoint, for every spec
# version each installed suite offers (`list --server`), and writes one row per
# (suite, version, scenario) to a TSV file (and the same rows as JSON next to it).
#
# Usage: tests/conformance/run.sh URL [--out FILE.tsv] [--label NAME] [--token T]
#                                 [--suites "stable next"] [--timeout S]
#   URL       the MCP endpoint, e.g. http://127.0.0.1:3001/mcp (direct) or the sidecar's URL
#   --out     result file (default out/conformance/NAME.tsv under the repo); FILE.json too
#   --label   name recorded in the rows' file names/logs (default: host_port of URL)
#   --token   bearer token sent on every request to URL's origin (for the sidecar's JWT check;
#             the suite has no header option, auth-header.cjs adds it to fetch())
#   --suites  stable = @modelcontextprotocol/conformance (0.1.16), next = 0.2.0 alpha
#             (npm alias conformance-next); default both
#   --timeout bound per suite+version run in seconds (default 300)
# TSV columns: suite version scenario result passed failed warnings error
# Exit status: 0 when the runs completed (whatever the scenario results), 1 on usage or
# tooling errors. Compare two result files with compare.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
peers="$repo/tests/peers/node_modules"
url=${1:?usage: run.sh URL [--out FILE.tsv] [--label NAME] [--token T] [--suites "stable next"]}
shift
out="" label="" token="${MT_BEARER_TOKEN:-}" suites="stable next" tmo=300
while (($#)); do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --label) label=$2; shift 2 ;;
    --token) token=$2; shift 2 ;;
    --suites) suites=$2; shift 2 ;;
    --timeout) tmo=$2; shift 2 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 1 ;;
  esac
done
node="$peers/.bin/node"
[ -x "$node" ] || { echo "run.sh: run scripts/deps-node.sh first" >&2; exit 1; }
[ -n "$label" ] || label=$(printf '%s' "$url" | sed -E 's#^[a-z]+://##; s#/.*##; s#[^A-Za-z0-9]+#_#g')
[ -n "$out" ] || out="$repo/out/conformance/$label.tsv"
mkdir -p "$(dirname "$out")"
work=$(mktemp -d "${TMPDIR:-/tmp}/mt-conformance-$label.XXXXXX")
trap 'rm -rf "$work"' EXIT

pre=()
if [ -n "$token" ]; then
  export MT_BEARER_TOKEN="$token"
  MT_AUTH_ORIGIN=$(printf '%s' "$url" | sed -E 's#^([a-z]+://[^/]+).*#\1#')
  export MT_AUTH_ORIGIN
  pre=(--require "$here/auth-header.cjs")
fi

rows="$work/rows.tsv"
: > "$rows"
for s in $suites; do
  case "$s" in
    stable) cli="$peers/@modelcontextprotocol/conformance/dist/index.js" ;;
    next) cli="$peers/conformance-next/dist/index.js" ;;
    *) echo "run.sh: unknown suite $s" >&2; exit 1 ;;
  esac
  ver=$(jq -r .version "$(dirname "$cli")/../package.json" 2>/dev/null || python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["version"])' "$(dirname "$cli")/../package.json")
  list=$("$node" "$cli" list --server)
  # "  - name [v1,v2]" -> versions offered (date versions; "extension" scenarios are skipped)
  versions=$(printf '%s\n' "$list" | sed -nE 's/^ *- [^ ]+ \[(.*)\]$/\1/p' | tr ',' '\n' | grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' | sort -u)
  for v in $versions; do
    scen=$(printf '%s\n' "$list" | sed -nE "s/^ *- ([^ ]+) \[(.*)\]\$/\1 \2/p" | awk -v v="$v" '{n=split($2,a,","); for(i=1;i<=n;i++) if(a[i]==v) print $1}')
    d="$work/$s-$v"
    echo "conformance[$label]: suite $s ($ver) spec $v: $(echo $scen | wc -w) scenarios" >&2
    set +e
    # all scenarios of this version in one bounded invocation (results land in one
    # directory per scenario); any scenario without a result (the run hung or crashed) is
    # then retried alone with its own bound
    timeout "$tmo" "$node" "${pre[@]}" "$cli" server --url "$url" --suite all \
      --spec-version "$v" -o "$d" >>"$work/$s-$v.log" 2>&1 </dev/null
    for sc in $(python3 "$here/results.py" x x "$d" $scen | awk -F'\t' '$4=="missing"{print $3}'); do
      echo "conformance[$label]: retrying $sc alone" >&2
      timeout 60 "$node" "${pre[@]}" "$cli" server --url "$url" --scenario "$sc" \
        --spec-version "$v" -o "$d" >>"$work/$s-$v.log" 2>&1 </dev/null
    done
    set -e
    python3 "$here/results.py" "$s@$ver" "$v" "$d" $scen >> "$rows"
  done
done

{ printf 'suite\tversion\tscenario\tresult\tpassed\tfailed\twarnings\terror\n'; cat "$rows"; } > "$out"
python3 - "$out" "${out%.tsv}.json" "$label" "$url" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
json.dump({"label": sys.argv[3], "url": sys.argv[4], "results": rows}, open(sys.argv[2], "w"), indent=1)
PY
awk -F'\t' 'NR>1 { k=$1" "$2; t[k]++; if ($4=="pass") p[k]++ } END { for (k in t) printf "conformance[%s]: %s: %d/%d scenarios pass\n", L, k, p[k], t[k] }' L="$label" "$out" | sort >&2
echo "conformance[$label]: results in $out" >&2
