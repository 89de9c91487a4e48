#!/bin/sh
# Drives one cross-language test (registered by CMakeLists.txt, label crosslang).
#   run.sh python TOOL SAMPLES SCHEMA_DIR WORKDIR
#       fastavro, via $MT_PYTHON (default python3) with scripts/requirements-test.txt
#   run.sh java TOOL SAMPLES SCHEMA_DIR WORKDIR
#       org.apache.avro, built from tests/crosslang/java with `mvn -q -B package`
# For each schema, sample records go C -> other language and back, every field
# is compared, and both encoders must produce the same bytes.
set -eu

lang=$1 tool=$2 samples=$3 schemas=$4 work=$5
here=$(cd "$(dirname "$0")" && pwd)
count=${MT_CROSSLANG_COUNT:-60}
mkdir -p "$work"

case $lang in
python)
  py=${MT_PYTHON:-python3}
  if ! "$py" -c 'import fastavro' 2>/dev/null; then
    echo "crosslang: $py cannot import fastavro; create the venv with" >&2
    echo "  python3 -m venv \$HOME/.cache/mcptrail/venv && \$HOME/.cache/mcptrail/venv/bin/pip install -r scripts/requirements-test.txt" >&2
    echo "and set MT_PYTHON=\$HOME/.cache/mcptrail/venv/bin/python" >&2
    exit 1
  fi
  exec "$py" "$here/crosslang.py" --tool "$tool" --samples "$samples" --schemas "$schemas" --count "$count"
  ;;
java)
  for t in java mvn; do
    command -v $t >/dev/null || { echo "crosslang: $t not found (Java 17 and Maven are needed)" >&2; exit 1; }
  done
  # Build output goes to the build tree, never into the source tree.
  mvn -q -B -f "$here/java/pom.xml" package -Dmt.build.dir="$work/java" >"$work/mvn.log" 2>&1 \
    || { cat "$work/mvn.log" >&2; exit 1; }
  jar=$work/java/mcptrail-crosslang.jar
  status=0
  for f in "$schemas"/*.avsc; do
    name=$("$tool" fingerprint "$f" | cut -d' ' -f2)
    base=$work/$name
    "$samples" "$name" "$count" >"$base.jsonl"
    "$tool" encode "$name" <"$base.jsonl" >"$base.c.bin"
    echo "== $name: C -> Java"
    java -jar "$jar" decode "$schemas" "$base.c.bin" "$base.jsonl" || status=1
    echo "== $name: Java -> C"
    java -jar "$jar" encode "$schemas" "$name" "$base.jsonl" "$base.java.bin" || status=1
    "$tool" decode <"$base.java.bin" >"$base.java.jsonl" || status=1
    java -jar "$jar" compare "$base.jsonl" "$base.java.jsonl" || status=1
    if cmp -s "$base.c.bin" "$base.java.bin"; then
      echo "   C and Java encodings are byte-identical"
    else
      echo "FAIL $name: C and Java encodings differ" >&2
      status=1
    fi
  done
  exit $status
  ;;
*)
  echo "usage: run.sh python|java TOOL SAMPLES SCHEMA_DIR WORKDIR" >&2
  exit 2
  ;;
esac
