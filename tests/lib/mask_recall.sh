#!/usr/bin/env bash
# masking_recall: the engine's recall and precision on both labeled corpora
# (tests/fixtures/masking: gen.py, MCP traffic; gen_files.py, real file formats
# written without reading the engine), each at least 0.98, with the second
# corpus's recall per provider family printed.
#
#   mask_recall.sh MCPTRAIL_MASK
set -euo pipefail
mask=$1
fixtures=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures/masking" && pwd)
tmp=$(mktemp -d /tmp/mt-mask-recall.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rc=0
for kind in gen gen_files; do
  python3 "$fixtures/$kind.py" --out "$tmp/$kind" --count 4000 >/dev/null
  "$mask" --jsonl <"$tmp/$kind/corpus.jsonl" >"$tmp/$kind/masked.jsonl"
  by=type
  [ "$kind" = gen_files ] && by=family
  echo "== $kind.py (4000 messages)"
  python3 "$fixtures/score.py" --corpus "$tmp/$kind" --masked "$tmp/$kind/masked.jsonl" --by "$by" \
    --min-recall 0.98 --min-precision 0.98 | sed -n '/^secret /,/^$/p;/^recall /p' || rc=1
done
exit $rc
