#!/usr/bin/env python3
"""Cross-language check of mcptrail's Avro wire format against fastavro.

For every schema in the schema dir, sample records (JSON lines from
crosslang_samples) go both ways:
  C -> Python: mcptrail-avro encodes; fastavro must find the same Parsing
      Canonical Form and CRC-64-AVRO fingerprint as the header, decode the
      datum to its last byte, and give back every field unchanged.
  Python -> C: fastavro encodes (schemaless_writer + single-object header);
      mcptrail-avro decodes and must give back every field unchanged.
Both encoders must also produce identical bytes (Avro binary is deterministic
for one schema). Exit status 0 when everything matches, 1 otherwise.
"""
import argparse
import io
import json
import os
import struct
import subprocess
import sys

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

MAGIC = b"\xc3\x01"


def strip_logical(node):
    """Drops logicalType so fastavro keeps timestamps as ints and uuids as
    strings, matching mcptrail's JSON mapping (PCF ignores it anyway)."""
    if isinstance(node, dict):
        return {k: strip_logical(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [strip_logical(v) for v in node]
    return node


class Mapper:
    """Converts between mcptrail's JSON mapping and fastavro's Python values."""

    def __init__(self, schema):
        self.named = {}
        self._collect(schema, "")

    def _collect(self, s, ns):
        if isinstance(s, list):
            for b in s:
                self._collect(b, ns)
        elif isinstance(s, dict):
            t = s.get("type")
            if t in ("record", "enum", "fixed"):
                name = s["name"]
                space = s.get("namespace", ns)
                full = name if "." in name or not space else space + "." + name
                self.named[full] = s
                self.named[name] = s
                ns = full.rpartition(".")[0]
            if t == "record":
                for f in s["fields"]:
                    self._collect(f["type"], ns)
            elif t == "array":
                self._collect(s["items"], ns)
            elif t == "map":
                self._collect(s["values"], ns)
            elif isinstance(t, (dict, list)):
                self._collect(t, ns)

    def _resolve(self, s):
        if isinstance(s, str) and s in self.named:
            return self.named[s]
        if isinstance(s, dict) and s.get("type") not in ("record", "enum", "fixed", "array", "map"):
            return self._resolve(s["type"])
        return s

    def _type(self, s):
        s = self._resolve(s)
        if isinstance(s, list):
            return "union"
        if isinstance(s, dict):
            return s["type"]
        return s

    def to_avro(self, s, v, path):
        s = self._resolve(s)
        t = self._type(s)
        if t == "union":
            branches = [b for b in s if self._type(b) != "null"]
            if v is None:
                return None
            if len(branches) != 1:
                raise ValueError(f"{path}: general unions not used by mcptrail schemas")
            return self.to_avro(branches[0], v, path)
        if t == "record":
            return {f["name"]: self.to_avro(f["type"], v[f["name"]], f"{path}.{f['name']}")
                    for f in s["fields"]}
        if t == "array":
            return [self.to_avro(s["items"], x, f"{path}[{i}]") for i, x in enumerate(v)]
        if t == "map":
            return {k: self.to_avro(s["values"], x, f"{path}.{k}") for k, x in v.items()}
        if t in ("bytes", "fixed"):
            return bytes.fromhex(v)
        return v

    def from_avro(self, s, v):
        s = self._resolve(s)
        t = self._type(s)
        if t == "union":
            if v is None:
                return None
            branches = [b for b in s if self._type(b) != "null"]
            return self.from_avro(branches[0], v)
        if t == "record":
            return {f["name"]: self.from_avro(f["type"], v[f["name"]]) for f in s["fields"]}
        if t == "array":
            return [self.from_avro(s["items"], x) for x in v]
        if t == "map":
            return {k: self.from_avro(s["values"], x) for k, x in v.items()}
        if t in ("bytes", "fixed"):
            return v.hex()
        return v


def compare(want, got, path, errors):
    """Field-by-field comparison that names the first differing paths."""
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            if k not in got:
                errors.append(f"{path}.{k}: missing")
            elif k not in want:
                errors.append(f"{path}.{k}: unexpected")
            else:
                compare(want[k], got[k], f"{path}.{k}", errors)
    elif isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            errors.append(f"{path}: {len(want)} items expected, got {len(got)}")
        for i, (a, b) in enumerate(zip(want, got)):
            compare(a, b, f"{path}[{i}]", errors)
    elif type(want) is not type(got) or want != got:
        errors.append(f"{path}: expected {want!r}, got {got!r}")


def frames(data):
    i = 0
    while i < len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        yield data[i + 4:i + 4 + n]
        i += 4 + n


def run(cmd, stdin):
    p = subprocess.run(cmd, input=stdin, capture_output=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    return p.stdout


def check_schema(args, path):
    failures = []
    raw = json.load(open(path, encoding="utf-8"))
    full = raw["namespace"] + "." + raw["name"]
    schema = strip_logical(raw)
    parsed = fastavro.parse_schema(schema)
    pcf = to_parsing_canonical_form(parsed)
    # fastavro spells the fingerprint as its little-endian bytes (header order);
    # mcptrail-avro prints the 64-bit value.
    fp_bytes = bytes.fromhex(fingerprint(pcf, "CRC-64-AVRO"))
    (fp,) = struct.unpack("<Q", fp_bytes)
    header = MAGIC + fp_bytes

    c_fp_line = run([args.tool, "fingerprint", path], b"").decode().split(" ", 2)
    if int(c_fp_line[0], 16) != fp or c_fp_line[2].rstrip("\n") != pcf:
        failures.append(f"{full}: PCF/fingerprint differ\n  C:      {c_fp_line[0]} {c_fp_line[2]}"
                        f"  fastavro: {fp:016x} {pcf}")

    lines = run([args.samples, full, str(args.count)], b"")
    samples = [json.loads(l) for l in lines.decode("utf-8").splitlines()]
    mapper = Mapper(schema)

    # C -> Python
    c_records = list(frames(run([args.tool, "encode", full], lines)))
    if len(c_records) != len(samples):
        failures.append(f"{full}: C encoded {len(c_records)} records for {len(samples)} lines")
    for i, (rec, want) in enumerate(zip(c_records, samples)):
        if rec[:10] != header:
            failures.append(f"{full} #{i}: header {rec[:10].hex()} != {header.hex()}")
            continue
        fo = io.BytesIO(rec[10:])
        value = fastavro.schemaless_reader(fo, parsed, None)
        if fo.tell() != len(rec) - 10:
            failures.append(f"{full} #{i}: fastavro left {len(rec) - 10 - fo.tell()} bytes unread")
        errs = []
        compare(want, mapper.from_avro(schema, value), full, errs)
        failures += [f"C->Python #{i}: {e}" for e in errs[:5]]

    # Python -> C
    framed = bytearray()
    py_records = []
    for want in samples:
        fo = io.BytesIO()
        fastavro.schemaless_writer(fo, parsed, mapper.to_avro(schema, want, full))
        rec = header + fo.getvalue()
        py_records.append(rec)
        framed += struct.pack(">I", len(rec)) + rec
    got_lines = run([args.tool, "decode"], bytes(framed)).decode("utf-8").splitlines()
    if len(got_lines) != len(samples):
        failures.append(f"{full}: C decoded {len(got_lines)} records of {len(samples)}")
    for i, (line, want) in enumerate(zip(got_lines, samples)):
        errs = []
        compare(want, json.loads(line), full, errs)
        failures += [f"Python->C #{i}: {e}" for e in errs[:5]]

    for i, (a, b) in enumerate(zip(c_records, py_records)):
        if a != b:
            failures.append(f"{full} #{i}: C and fastavro encodings differ")
    print(f"{full}: {len(samples)} records both ways, fingerprint {fp:016x}, "
          f"{'OK' if not failures else f'{len(failures)} problems'}")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", required=True, help="path to mcptrail-avro")
    ap.add_argument("--samples", required=True, help="path to crosslang_samples")
    ap.add_argument("--schemas", default=os.environ.get("MT_SCHEMA_DIR"))
    ap.add_argument("--count", type=int, default=60)
    args = ap.parse_args()
    print(f"fastavro {fastavro.__version__}", flush=True)
    failures = []
    for name in sorted(os.listdir(args.schemas)):
        if name.endswith(".avsc"):
            failures += check_schema(args, os.path.join(args.schemas, name))
    for f in failures[:40]:
        print("FAIL", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
