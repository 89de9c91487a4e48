#!/usr/bin/env python3
"""netclean.py snapshot FILE | clean FILE: the host state scripts/k8s.sh leaves.

snapshot (at `up`): records the iptables/ip6tables chains and the `cni-*` network
namespaces that exist before the cluster starts. clean (at `down`): removes only what came
after: chains named KUBE-* or CNI-* that were not in the snapshot (kube-proxy's and the
CNI plugins'), every rule jumping to them, rules carrying the CNI comment of this cluster's
network (name: "mcptrail") in chains that stay, and the new `cni-*` namespaces without
processes, and the directories containerd and libcni make at fixed places
(/opt/containerd, /run/containerd, /var/lib/cni) when they did not exist before.
Rules are removed through iptables-restore --noflush, never through a shell.
A chain or namespace another runtime made before `up` is left alone."""
import json
import os
import re
import shutil
import subprocess
import sys

TABLES = ("filter", "nat", "mangle", "raw")
TOOLS = ("iptables", "ip6tables")
PATHS = ("/opt/containerd", "/run/containerd", "/var/lib/cni")


def save(tool, table):
    try:
        r = subprocess.run([tool + "-save", "-t", table], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return r.stdout if r.returncode == 0 else ""


def chains(text):
    return [l[1:].split()[0] for l in text.splitlines() if l.startswith(":")]


def netns():
    try:
        r = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [l.split()[0] for l in r.stdout.splitlines() if l.startswith("cni-")]


def snapshot(path):
    snap = {"chains": {f"{t}/{tb}": chains(save(t, tb)) for t in TOOLS if shutil.which(t + "-save")
                       for tb in TABLES},
            "netns": netns(),
            "paths": [p for p in PATHS if os.path.exists(p)]}
    with open(path, "w") as f:
        json.dump(snap, f)


def clean(path):
    try:
        snap = json.load(open(path))
    except (OSError, ValueError):
        snap = {"chains": {}, "netns": [], "paths": list(PATHS)}
    for tool in TOOLS:
        if not shutil.which(tool + "-restore"):
            continue
        for tb in TABLES:
            text = save(tool, tb)
            if not text:
                continue
            before = set(snap["chains"].get(f"{tool}/{tb}", []))
            new = [c for c in chains(text) if re.match(r"(KUBE|CNI)-", c) and c not in before]
            newset = set(new)
            dels = []
            for l in text.splitlines():
                if not l.startswith("-A "):
                    continue
                parts = l.split()
                chain = parts[1]
                target = parts[parts.index("-j") + 1] if "-j" in parts else ""
                if chain in newset:
                    continue  # flushed with its chain
                if target in newset or 'name: \\"mcptrail\\"' in l:
                    dels.append("-D" + l[2:])
            if not dels and not new:
                continue
            script = [f"*{tb}"] + dels + [f"-F {c}" for c in new] + [f"-X {c}" for c in new] + ["COMMIT", ""]
            r = subprocess.run([tool + "-restore", "--noflush"], input="\n".join(script), text=True,
                               capture_output=True, timeout=30)
            if r.returncode != 0:
                print(f"netclean: {tool}-restore -t {tb}: {r.stderr.strip()}", file=sys.stderr)
    before_ns = set(snap.get("netns", []))
    for ns in netns():
        if ns in before_ns:
            continue
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
        if not pids.strip():
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
    for p in PATHS:
        if p not in snap.get("paths", PATHS) and os.path.isdir(p):
            shutil.rmtree(p, ignore_errors=True)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] in ("snapshot", "clean"):
    (snapshot if sys.argv[1] == "snapshot" else clean)(sys.argv[2])
else:
    sys.exit("usage: netclean.py snapshot FILE | clean FILE")
