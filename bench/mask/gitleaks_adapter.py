"""gitleaks adapter of bench/mask.sh: gitleaks' default rules over the raw message
text, the way it reads a file or a log, with each finding mapped back to the JSON
string values it covers.

All messages go into one file, one message per line (the corpus messages are
single-line JSON), scanned once by `gitleaks dir` with GOMAXPROCS=1; detection time is
the CPU time (user + sys) of that process. A finding's line is its message; its
columns drift on long lines (they are not byte, character or escape-relative offsets
there), so the finding is placed by its text: every occurrence of the reported secret
in the message (for a secret gitleaks found by decoding base64, the base64 run it came
from). Each raw byte range is then mapped onto every JSON string value it overlaps,
through the string's escapes (`\\n`, `\\uXXXX`, surrogate pairs), to code point offsets
of the decoded string, and that span is redacted. Matches on object keys
are ignored (masking a key would change the paths the scorer reads).
"""

import argparse
import base64
import binascii
import bisect
import json
import os
import re
import resource
import subprocess
import sys
import time

from common import apply_spans, dump_message, find_all, read_corpus, write_stats

TOKEN_RE = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')
PIECE_RE = re.compile(rb'\\u([0-9a-fA-F]{4})|\\.|[^\\]+')


def string_values(raw):
    """[(content start, content end, path)] of every string value (not key) in the JSON
    text raw (bytes), offsets of the text between the quotes."""
    out = []
    stack = []  # frames: [kind, key or index, expecting_key]
    for m in TOKEN_RE.finditer(raw):
        tok = m.group()
        c = tok[:1]
        if c in (b"{", b"["):
            stack.append(["o", None, True] if c == b"{" else ["a", 0, False])
        elif c in (b"}", b"]"):
            if stack:
                stack.pop()
        elif c == b":":
            if stack:
                stack[-1][2] = False
        elif c == b",":
            if stack:
                if stack[-1][0] == "o":
                    stack[-1][2] = True
                else:
                    stack[-1][1] += 1
        elif c == b'"':
            if stack and stack[-1][0] == "o" and stack[-1][2]:
                stack[-1][1] = json.loads(tok)
            else:
                out.append((m.start() + 1, m.end() - 1, tuple(f[1] for f in stack)))
    return out


class Decoded:
    """Offset map from the raw bytes of a JSON string body to decoded code points."""

    def __init__(self, body):
        self.body = body
        self.raw, self.dec, self.esc = [], [], []
        d = 0
        pieces = list(PIECE_RE.finditer(body))
        for i, m in enumerate(pieces):
            self.raw.append(m.start())
            self.dec.append(d)
            if m.group(1) is not None:
                self.esc.append(True)
                cp = int(m.group(1), 16)
                # the low half of a surrogate pair decodes into the high half's code point
                if not (0xDC00 <= cp <= 0xDFFF and i and self._high(pieces[i - 1])):
                    d += 1
            elif m.group().startswith(b"\\"):
                self.esc.append(True)
                d += 1
            else:
                self.esc.append(False)
                d += len(m.group().decode("utf-8", "replace"))
        self.raw.append(len(body))
        self.dec.append(d)
        self.esc.append(False)

    @staticmethod
    def _high(m):
        return m.group(1) is not None and 0xD800 <= int(m.group(1), 16) <= 0xDBFF

    def to_dec(self, off, up):
        i = bisect.bisect_right(self.raw, off) - 1
        if self.raw[i] == off:
            return self.dec[i]
        if self.esc[i]:
            return self.dec[i + 1] if up else self.dec[i]
        part = self.body[self.raw[i]:off].decode("utf-8", "ignore")
        return self.dec[i] + len(part)


B64_RE = re.compile(rb"[A-Za-z0-9+/_-]{16,}={0,2}")


def b64_decodes(tok):
    t = tok.rstrip(b"=")
    t += b"=" * (-len(t) % 4)
    for dec in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            yield dec(t)
        except (ValueError, binascii.Error):
            pass


def locate(line, f):
    """[start, end) byte ranges of finding f in line (bytes): every occurrence of the
    reported secret (else of the whole match); for a secret gitleaks found inside
    base64 it decoded, every base64 run of the line that decodes to text holding it."""
    for field in ("Secret", "Match"):
        needle = (f.get(field) or "").encode("utf-8")
        if needle and needle in line:
            return [(i, i + len(needle)) for i in find_all(line, needle)]
    sec = (f.get("Secret") or "").encode("utf-8")
    if not sec:
        return []
    return [(m.start(), m.end()) for m in B64_RE.finditer(line)
            if any(sec in d for d in b64_decodes(m.group()))]


def set_at(doc, path, fn):
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    cur[path[-1]] = fn(cur[path[-1]])


def main():
    ap = argparse.ArgumentParser(description="gitleaks adapter of bench/mask.sh")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--gitleaks", required=True, help="gitleaks binary")
    ap.add_argument("--version", default="?", help="version to report")
    ap.add_argument("--workdir", required=True, help="scratch directory")
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()

    msgs = read_corpus(args.corpus, args.limit)
    target = os.path.join(args.workdir, "messages.txt")
    report = os.path.join(args.workdir, "gitleaks-report.json")
    lines = []
    with open(target, "wb") as f:
        for _, msg in msgs:
            b = msg.replace("\n", " ").encode("utf-8")  # newlines only as JSON whitespace
            lines.append(b)
            f.write(b + b"\n")
    nbytes = sum(len(m.encode("utf-8")) for _, m in msgs)

    env = dict(os.environ, GOMAXPROCS="1")
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.perf_counter()
    # --max-target-megabytes 0: no size limit; --exit-code 0: findings are expected
    subprocess.run([args.gitleaks, "dir", target, "--no-banner", "--no-color", "--exit-code", "0",
                    "--report-format", "json", "--report-path", report, "--log-level", "error",
                    "--max-target-megabytes", "0"], check=True, env=env, cwd=args.workdir)
    wall = time.perf_counter() - w0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)

    with open(report, encoding="utf-8") as f:
        findings = json.load(f)
    os.unlink(report)  # it holds the secrets in clear
    by_line = {}
    unconfirmed = 0
    for fd in findings:
        n = fd["StartLine"]
        if not 1 <= n <= len(lines):
            continue
        where = locate(lines[n - 1], fd)
        unconfirmed += not where
        for a, b in where:
            by_line.setdefault(n - 1, []).append((a, b, fd.get("RuleID") or "gitleaks"))

    with open(args.out, "w", encoding="utf-8") as out:
        for i, (mid, msg) in enumerate(msgs):
            masked = msg
            if i in by_line:
                raw = lines[i]
                spans_by_path = {}
                for s, e, path in string_values(raw):
                    for a, b, rule in by_line[i]:
                        if a < e and b > s:
                            dm = Decoded(raw[s:e])
                            spans_by_path.setdefault(path, []).append(
                                (dm.to_dec(max(a, s) - s, False), dm.to_dec(min(b, e) - s, True), rule))
                if spans_by_path:
                    doc = json.loads(msg)
                    for path, spans in spans_by_path.items():
                        if path:
                            set_at(doc, path, lambda v, sp=spans: apply_spans(v, sp))
                        else:
                            doc = apply_spans(doc, spans)
                    masked = dump_message(doc)
            out.write(json.dumps({"id": mid, "message": masked}, ensure_ascii=False))
            out.write("\n")
    if unconfirmed:
        print("gitleaks: %d of %d findings not found in their message (not masked)"
              % (unconfirmed, len(findings)), file=sys.stderr)
    write_stats(args.stats, name="gitleaks", version=args.version,
                mode="default rules, raw message text, GOMAXPROCS=1", messages=len(msgs),
                bytes=nbytes, detect_cpu_s=cpu, detect_wall_s=wall, setup_s=0.0,
                findings=len(findings))


if __name__ == "__main__":
    main()
