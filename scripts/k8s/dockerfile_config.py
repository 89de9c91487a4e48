#!/usr/bin/env python3
"""dockerfile_config.py DOCKERFILE: the umoci config arguments (one per line) of the
image DOCKERFILE's last stage makes: its ENTRYPOINT (exec form), CMD, ENV, USER and
WORKDIR, so that scripts/k8s/images.sh gives each image the configuration its
docker/*.Dockerfile declares instead of a copy of it."""
import json
import shlex
import sys


def main():
    lines, cur = [], ""
    for raw in open(sys.argv[1]):
        line = raw.rstrip("\n")
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        if cur.strip():
            lines.append(cur.strip())
        cur = ""
    last = max(i for i, l in enumerate(lines) if l.upper().startswith("FROM "))
    out = []
    for l in lines[last + 1:]:
        word, _, rest = l.partition(" ")
        word, rest = word.upper(), rest.strip()
        if word in ("ENTRYPOINT", "CMD"):
            args = json.loads(rest)  # exec form only: the shell form needs a shell in the image
            for a in args:
                out += [f"--config.{word.lower()}", a]
        elif word == "ENV":
            for kv in shlex.split(rest):
                if "=" not in kv:
                    sys.exit(f"dockerfile_config: ENV without '=' in {sys.argv[1]}: {l}")
                out += ["--config.env", kv]
        elif word == "USER":
            out += ["--config.user", rest]
        elif word == "WORKDIR":
            out += ["--config.workingdir", rest]
    print("\n".join(out))


main()
