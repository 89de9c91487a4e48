#!/usr/bin/env bash
# compare.sh DIRECT.tsv PROXIED.tsv: fails (exit 1) when a (suite, version, scenario) that
# passes in DIRECT does not pass in PROXIED (missing counts as not passing). Scenarios that
# fail direct but pass proxied (e.g. dns-rebinding-protection, answered by the sidecar's
# Host/Origin allow-list) are listed as information only.
set -euo pipefail
d=${1:?usage: compare.sh DIRECT.tsv PROXIED.tsv}
p=${2:?usage: compare.sh DIRECT.tsv PROXIED.tsv}
awk -F'\t' '
  FNR == 1 { next }
  NR == FNR { direct[$1"\t"$2"\t"$3] = $4; next }
  { proxied[$1"\t"$2"\t"$3] = $4; perr[$1"\t"$2"\t"$3] = $8 }
  END {
    bad = 0; n = 0
    for (k in direct) {
      if (direct[k] != "pass") { if (proxied[k] == "pass") printf "info: passes only proxied: %s\n", k; continue }
      n++
      if (proxied[k] != "pass") { bad++; printf "REGRESSION: %s: direct pass, proxied %s%s\n", k, (k in proxied) ? proxied[k] : "missing", perr[k] != "" ? " (" perr[k] ")" : "" }
    }
    printf "compare: %d scenario runs pass direct, %d of them fail proxied\n", n, bad
    exit bad ? 1 : 0
  }' "$d" "$p"
