#!/bin/sh
# bundle.sh BIN OUTDIR SCHEMAS: a self-contained copy of BIN for running it inside another
# image (the injector's stdio mode, docs/kubernetes.md "stdio servers"): OUTDIR/bin/BIN,
# every shared library it loads and the dynamic loader in OUTDIR/lib, the schemas in
# OUTDIR/schemas. Start it as OUTDIR/lib/ld-linux-x86-64.so.2 --library-path OUTDIR/lib
# OUTDIR/bin/NAME: the loader and libraries are the bundle's, whatever the image has.
set -eu
bin=$1 out=$2 schemas=$3
mkdir -p "$out/bin" "$out/lib"
cp "$bin" "$out/bin/"
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u |
  while read -r lib; do
    case "$(basename "$lib")" in
      ld-linux*) cp -L "$lib" "$out/lib/ld-linux-x86-64.so.2" ;;
      *) cp -L "$lib" "$out/lib/" ;;
    esac
  done
[ -x "$out/lib/ld-linux-x86-64.so.2" ] || { echo "bundle.sh: no dynamic loader found for $bin" >&2; exit 1; }
rm -rf "$out/schemas"
cp -r "$schemas" "$out/schemas"
