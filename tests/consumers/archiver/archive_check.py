#!/usr/bin/env python3
"""Independent checks of mcptrail-archiver output, written from the spec
(RFC 9162 / RFC 6962, Avro, Ed25519), sharing no code with the C archiver.

  archive_check.py proof PROOF.json PUBKEY.pem SCHEMA_DIR
      Checks an inclusion proof printed by `mcptrail-archiver prove`: the leaf
      hash, the audit path up to the root, that root against the manifest
      embedded in the proof, the manifest's Ed25519 signature over its
      canonical JSON (sorted keys, no whitespace, without "signature"), and
      that the leaf decodes (fastavro, single-object encoding) to a record
      whose first field is the requested id.
  archive_check.py flip FILE | resign MANIFEST OTHER_KEY.pem | count MANIFEST |
                  reencode SEGMENT
      Tampering for the acceptance tests: flip one byte in the middle; re-sign
      a manifest with another key (its own key_id); change "records" and keep
      the signature; drop one record and re-encode the segment with fastavro.
  archive_check.py read ARCHIVE_DIR IDS_OUT
      Reads every segment with fastavro, checks each value is an Avro
      single-object record, writes "topic<TAB>id" lines to IDS_OUT and prints
      the record count.
"""
import glob
import hashlib
import io
import json
import os
import sys

import fastavro
import fastavro.schema
from cryptography.hazmat.primitives.serialization import load_pem_public_key


def H(b):
    return hashlib.sha256(b).digest()


def verify_inclusion(leaf_hash, index, size, proof, root):
    # RFC 9162 section 2.1.3.2
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = H(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = H(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def load_schemas(schema_dir):
    out = {}
    for f in sorted(glob.glob(os.path.join(schema_dir, "*.avsc"))):
        with open(f) as fh:
            raw = json.load(fh)
        parsed = fastavro.parse_schema(raw, _write_hint=False)
        pcf = fastavro.schema.to_parsing_canonical_form(raw)
        fp = fastavro.schema.fingerprint(pcf, "CRC-64-AVRO")
        out[bytes.fromhex(fp)] = parsed  # fastavro spells it as the header's LE bytes
    return out


def decode_single_object(value, schemas):
    assert value[:2] == b"\xc3\x01", "not Avro single-object encoding"
    schema = schemas[bytes(value[2:10])]
    return fastavro.schemaless_reader(io.BytesIO(value[10:]), schema)


def cmd_proof(proof_path, pub_path, schema_dir):
    with open(proof_path) as f:
        p = json.load(f)
    leaf = bytes.fromhex(p["leaf"])
    lh = H(b"\x00" + leaf)
    assert lh.hex() == p["leaf_hash"], "leaf hash mismatch"
    manifest = json.loads(p["manifest"])
    root = bytes.fromhex(manifest["merkle_root"])
    assert manifest["records"] == p["tree_size"], "tree size differs from the manifest"
    assert manifest["segment"] == p["segment"]
    proof = [bytes.fromhex(h) for h in p["proof"]]
    assert verify_inclusion(lh, p["leaf_index"], p["tree_size"], proof, root), "path does not reach the signed root"
    sig = bytes.fromhex(manifest.pop("signature"))
    canon = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    with open(pub_path, "rb") as f:
        load_pem_public_key(f.read()).verify(sig, canon)  # raises InvalidSignature
    datum = decode_single_object(leaf, load_schemas(schema_dir))
    first = next(iter(datum.values()))
    first = str(first)  # uuid logical type decodes to uuid.UUID
    assert first == p["id"], f"leaf decodes to id {first}, not {p['id']}"
    print(f"proof OK: {p['id']} is leaf {p['leaf_index']} of {p['tree_size']} in "
          f"{p['topic']}/{p['partition']}/{p['segment']}, root signed by {manifest['key_id']}")


def cmd_read(archive, ids_out):
    n = 0
    with open(ids_out, "w") as out:
        for path in sorted(glob.glob(os.path.join(archive, "*", "*", "*.avro"))):
            topic = path.split(os.sep)[-3]
            with open(path, "rb") as f:
                for rec in fastavro.reader(f):
                    v = rec["value"]
                    assert v[:2] == b"\xc3\x01", f"{path}: offset {rec['offset']} is not single-object encoded"
                    ln = v[10] >> 1  # zigzag length of the first string field (< 64 chars)
                    out.write(f"{topic}\t{v[11:11 + ln].decode()}\n")
                    n += 1
    print(f"fastavro read {n} records")


def writable(path):
    os.chmod(path, 0o644)


def cmd_flip(path):
    writable(path)
    with open(path, "r+b") as f:
        data = f.read()
        pos = len(data) // 2
        f.seek(pos)
        f.write(bytes([data[pos] ^ 0x01]))


def cmd_resign(path, key_path):
    from cryptography.hazmat.primitives.serialization import (Encoding, PublicFormat,
                                                              load_pem_private_key)
    with open(key_path, "rb") as f:
        key = load_pem_private_key(f.read(), None)
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with open(path) as f:
        m = json.load(f)
    m.pop("signature")
    m["key_id"] = H(raw)[:8].hex()
    canon = json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    m["signature"] = key.sign(canon.encode()).hex()
    writable(path)
    with open(path, "w") as f:
        f.write(json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def cmd_count(path):
    with open(path) as f:
        m = json.load(f)
    m["records"] -= 1
    writable(path)
    with open(path, "w") as f:
        f.write(json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def cmd_reencode(path):
    with open(path, "rb") as f:
        r = fastavro.reader(f)
        schema = r.writer_schema
        recs = list(r)
    del recs[len(recs) // 2]
    writable(path)
    with open(path, "wb") as f:
        fastavro.writer(f, schema, recs, codec="deflate")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "proof":
        cmd_proof(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] in ("flip", "count", "reencode"):
        globals()["cmd_" + sys.argv[1]](sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "resign":
        cmd_resign(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "read":
        cmd_read(*sys.argv[2:])
    else:
        sys.exit(__doc__)
