#!/usr/bin/env python3
"""Per-call latency of a stdio MCP server, called directly and through mcptrail-sidecar.

    stdio_calls.py direct N -- CMD...        the client speaks stdio to CMD itself
    stdio_calls.py http N URL TOKEN [2025]    tools/call over HTTP (2026-07-28 stateless, or
                                              one 2025 session), keep-alive, JSON answers

N sequential tools/call of `echo` (after 50 warm-up calls); prints one JSON object:
{"n", "p50_us", "p99_us", "mean_us"}. Exact percentiles over all samples.
"""
import http.client
import json
import subprocess
import sys
import time
import urllib.parse

META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}}


def stats(samples):
    s = sorted(samples)
    return {"n": len(s), "p50_us": round(s[len(s) // 2] * 1e6),
            "p99_us": round(s[min(len(s) - 1, int(len(s) * 0.99))] * 1e6),
            "mean_us": round(sum(s) / len(s) * 1e6)}


def direct(n, cmd):
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    out = p.stdout
    buf = b""

    def call(i):
        nonlocal buf
        msg = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
               "params": {"name": "echo", "arguments": {"message": f"m{i}"}, "_meta": META}}
        p.stdin.write(json.dumps(msg).encode() + b"\n")
        while b"\n" not in buf:
            chunk = out.read1(65536) if hasattr(out, "read1") else out.read(65536)
            if not chunk:
                raise SystemExit("server ended")
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        assert json.loads(line)["id"] == i

    samples = []
    for i in range(n + 50):
        t = time.perf_counter()
        call(i)
        if i >= 50:
            samples.append(time.perf_counter() - t)
    p.stdin.close()
    p.wait(timeout=10)
    return stats(samples)


def over_http(n, url, token, legacy):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    base = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
            "Accept": "application/json"}
    sid = None

    def post(body, headers):
        c.request("POST", u.path, json.dumps(body), {**base, **headers})
        r = c.getresponse()
        data = r.read()
        if r.status not in (200, 202):
            raise SystemExit(f"HTTP {r.status}: {data[:200]!r}")
        return r, data

    if legacy:
        r, _ = post({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                     "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                                "clientInfo": {"name": "bench", "version": "1"}}},
                    {"MCP-Protocol-Version": "2025-11-25"})
        sid = r.getheader("Mcp-Session-Id")
        post({"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": sid})
    samples = []
    for i in range(1, n + 51):
        if legacy:
            body = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"message": f"m{i}"}}}
            hdr = {"MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": sid}
        else:
            body = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                    "params": {"name": "echo", "arguments": {"message": f"m{i}"}, "_meta": META}}
            hdr = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call",
                   "Mcp-Name": "echo"}
        t = time.perf_counter()
        _, data = post(body, hdr)
        dt = time.perf_counter() - t
        assert json.loads(data)["id"] == i, data[:200]
        if i > 50:
            samples.append(dt)
    return stats(samples)


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    if mode == "direct":
        res = direct(n, sys.argv[sys.argv.index("--") + 1:])
    else:
        res = over_http(n, sys.argv[3], sys.argv[4], len(sys.argv) > 5 and sys.argv[5] == "2025")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
