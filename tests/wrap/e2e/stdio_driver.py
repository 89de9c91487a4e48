#!/usr/bin/env python3
"""A raw stdio MCP client for mcptrail-wrap's fault tests: starts CMD, sends JSON-RPC lines,
reads the answers. Scenarios (each prints one JSON line of what it saw):

    stdio_driver.py calls N TOOL -- CMD...     initialize, then N tools/call TOOL (message mI),
                                              one at a time; {"answers": [...]} (each answer's
                                              result text or error code/condition)
    stdio_driver.py forever PIDFILE -- CMD...  initialize, then echo calls until killed; writes
                                              the child's pid to PIDFILE first
    stdio_driver.py batch TOOL -- CMD...       initialize, then one batch line [ping, tools/call
                                              TOOL]; {"batch": the answer line as sent}
"""
import json
import subprocess
import sys
import time


def main():
    mode = sys.argv[1]
    cut = sys.argv.index("--")
    cmd = sys.argv[cut + 1:]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)

    def send(m):
        p.stdin.write(json.dumps(m).encode() + b"\n")
        p.stdin.flush()

    def answer(i, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                return {"eof": True}
            m = json.loads(line)
            if m.get("id") == i:
                return m
        return {"timeout": True}

    def summary(m):
        if "result" in m:
            c = m["result"].get("content") or [{}]
            return {"text": c[0].get("text")}
        if "error" in m:
            e = m["error"]
            return {"code": e.get("code"), "condition": (e.get("data") or {}).get("mcptrail")}
        return m

    send({"jsonrpc": "2.0", "id": 0, "method": "initialize",
          "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                     "clientInfo": {"name": "driver", "version": "1"}}})
    init = answer(0)
    if "eof" in init:  # the wrapper (or server) ended before answering
        print(json.dumps({"initialize": init, "exit": p.wait(timeout=30)}))
        return
    if "result" in init:
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    if mode == "batch":
        send([{"jsonrpc": "2.0", "id": "b1", "method": "ping"},
              {"jsonrpc": "2.0", "id": "b2", "method": "tools/call",
               "params": {"name": sys.argv[2], "arguments": {}}}])
        line = p.stdout.readline()
        p.stdin.close()
        print(json.dumps({"batch": json.loads(line) if line else None, "exit": p.wait(timeout=30)}))
        return
    if mode == "calls":
        n, tool = int(sys.argv[2]), sys.argv[3]
        out = {"initialize": summary(init), "answers": []}
        for i in range(1, n + 1):
            send({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                  "params": {"name": tool, "arguments": {"message": f"m{i}"}}})
            out["answers"].append(summary(answer(i)))
        p.stdin.close()
        out["exit"] = p.wait(timeout=30)
        print(json.dumps(out))
    else:
        with open(sys.argv[2], "w") as f:
            f.write(str(p.pid))
        i = 1
        while True:
            send({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                  "params": {"name": "echo", "arguments": {"message": f"m{i}"}}})
            if "eof" in answer(i, 10):
                print(json.dumps({"calls": i}))
                return
            i += 1


if __name__ == "__main__":
    main()
