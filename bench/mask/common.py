"""Shared plumbing of the masking benchmark adapters (bench/mask.sh).

Each adapter reads the corpus (tests/fixtures/masking/gen.py output), runs one peer
masker over every message, replaces each finding with `[REDACTED:<peer's type>]` and
writes the JSON lines score.py reads: `{"id": .., "message": <masked message text>}`,
one per corpus line, same order.

Only the peer's own detection is timed (process CPU seconds, one thread): JSON
parsing, span bookkeeping and re-serialization are Python costs of the adapter, not of
the peer, and are left out of the MB/s figure (total wall time covers everything). The
timings go to a small JSON stats file that bench/mask.sh turns into a table row.
"""

import argparse
import json
import re
import sys
import time

_TYPE_RE = re.compile(r"[^A-Za-z0-9_.-]+")


def marker(kind):
    """The scorer's redact marker; the type is squeezed to what the marker grammar allows."""
    t = _TYPE_RE.sub("_", kind).strip("_")[:64] or "secret"
    return "[REDACTED:%s]" % t


def apply_spans(s, spans):
    """s with each (start, end, type) span (code point offsets) replaced by a marker.

    Overlapping or touching spans merge into one marker (the first span's type), so a
    secret found by two rules is not half-masked twice.
    """
    if not spans:
        return s
    spans = sorted((a, b, t) for a, b, t in spans if 0 <= a < b <= len(s))
    if not spans:
        return s
    merged = [list(spans[0])]
    for a, b, t in spans[1:]:
        cur = merged[-1]
        if a <= cur[1]:
            cur[1] = max(cur[1], b)
        else:
            merged.append([a, b, t])
    out, pos = [], 0
    for a, b, t in merged:
        out.append(s[pos:a])
        out.append(marker(t))
        pos = b
    out.append(s[pos:])
    return "".join(out)


def find_all(s, needle):
    """Start offsets of every non-overlapping occurrence of needle in s."""
    res, i = [], s.find(needle) if needle else -1
    while i >= 0:
        res.append(i)
        i = s.find(needle, i + len(needle))
    return res


def read_corpus(path, limit=0):
    """(id, message text) pairs of corpus.jsonl, the first `limit` ones when limit > 0."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if limit and len(out) >= limit:
                break
            rec = json.loads(line)
            out.append((rec["id"], rec["message"]))
    return out


def dump_message(doc):
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def map_strings(doc, fn, key=None):
    """doc with every string value v (not object keys) replaced by fn(v, key), where key
    is the name of the enclosing object member (None inside arrays and at the top)."""
    if isinstance(doc, str):
        return fn(doc, key)
    if isinstance(doc, dict):
        return {k: map_strings(v, fn, k) for k, v in doc.items()}
    if isinstance(doc, list):
        return [map_strings(v, fn, None) for v in doc]
    return doc


class Clock:
    """Accumulates process CPU seconds of the timed sections."""

    def __init__(self):
        self.seconds = 0.0

    def __enter__(self):
        self._t0 = time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds += time.process_time() - self._t0
        return False


def per_string_main(name, version, mode, make_detector, argv=None):
    """Runs a detector that works on one decoded JSON string at a time.

    make_detector(args) returns detect(text, key) -> [(start, end, type), ...] in code
    point offsets of text. Messages that are not JSON are masked as one text.
    """
    ap = argparse.ArgumentParser(description="%s adapter of bench/mask.sh" % name)
    ap.add_argument("--corpus", required=True, help="corpus.jsonl")
    ap.add_argument("--out", required=True, help="masked JSON lines for score.py")
    ap.add_argument("--stats", required=True, help="JSON stats file to write")
    ap.add_argument("--limit", type=int, default=0, help="first N messages only")
    args = ap.parse_args(argv)

    setup = time.perf_counter()
    detect = make_detector(args)
    setup = time.perf_counter() - setup
    msgs = read_corpus(args.corpus, args.limit)
    clock = Clock()
    nbytes = 0
    findings = 0

    def one(text, key):
        nonlocal findings
        with clock:
            spans = detect(text, key)
        findings += len(spans)
        return apply_spans(text, spans)

    with open(args.out, "w", encoding="utf-8") as out:
        for mid, msg in msgs:
            nbytes += len(msg.encode("utf-8"))
            try:
                doc = json.loads(msg)
            except ValueError:
                masked = one(msg, None)
            else:
                masked = dump_message(map_strings(doc, one))
            out.write(json.dumps({"id": mid, "message": masked}, ensure_ascii=False))
            out.write("\n")
    write_stats(args.stats, name=name, version=version, mode=mode, messages=len(msgs),
                bytes=nbytes, detect_cpu_s=clock.seconds, setup_s=setup, findings=findings)


def write_stats(path, **kw):
    with open(path, "w") as f:
        json.dump(kw, f)
        f.write("\n")
    print("%s: %d messages, %.1f MB, detection %.2f s CPU, %d findings"
          % (kw["name"], kw["messages"], kw["bytes"] / 1e6, kw["detect_cpu_s"], kw["findings"]),
          file=sys.stderr)
