#!/usr/bin/env python3
"""Replaces (or appends) one "## <Heading>..." section of docs/benchmarks.md.

    docs_section.py FILE HEADING < section.md

The section runs from the line starting with "## HEADING" to the next "## "
line (or the end); the new text comes from stdin and starts with its own
"## " heading. Used by the bench/*.sh scripts so each keeps its table current.
"""
import os
import re
import sys

path, heading = sys.argv[1], sys.argv[2]
sec = sys.stdin.read().rstrip("\n") + "\n"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
m = re.search(r"^## " + re.escape(heading) + r"(?: \(.*)?$", text, re.M)
if m:
    nxt = re.search(r"^## ", text[m.end():], re.M)
    end = m.end() + nxt.start() if nxt else len(text)
    text = text[:m.start()] + sec + ("\n" + text[end:] if nxt else "")
else:
    text = text.rstrip("\n") + "\n\n" + sec
open(path, "w").write(text)
