#!/usr/bin/env python3
"""node_closure.py DIR PACKAGE: the directories (relative to DIR) of PACKAGE and of every
package it needs at run time (dependencies, optional and peer dependencies), each resolved
as Node resolves it: from the node_modules directories above the package that requires it,
up to DIR. One per line; a dependency that is not installed is left out (optional ones)."""
import json
import os
import sys


def resolve(top, name, frm):
    d = frm
    while True:
        c = os.path.join(d, "node_modules", name)
        if os.path.isfile(os.path.join(c, "package.json")):
            return c
        if os.path.realpath(d) == os.path.realpath(top) or d == "/":
            return None
        d = os.path.dirname(d)


def main():
    top, start = os.path.abspath(sys.argv[1]), sys.argv[2]
    seen, pending = set(), [resolve(top, start, top)]
    if pending[0] is None:
        sys.exit(f"node_closure: {start} is not installed under {top}")
    while pending:
        p = pending.pop()
        if p is None or p in seen:
            continue
        seen.add(p)
        with open(os.path.join(p, "package.json")) as f:
            pj = json.load(f)
        for k in ("dependencies", "optionalDependencies", "peerDependencies"):
            for dep in pj.get(k) or {}:
                pending.append(resolve(top, dep, p))
    for p in sorted(seen):
        print(os.path.relpath(p, top))


main()
