#!/usr/bin/env python3
"""driver.py: sustained MCP load on the chaos harness's sidecars, and what the clients saw.

  driver.py --url URL[,URL...] --token T --out RESULTS.jsonl --stop FILE [--threads N]
            [--seconds S]

Each thread calls the echo tool in a loop with a message no other call has
("c<thread>-<n>"): even threads speak MCP 2026-07-28 (stateless POSTs), odd ones 2025-11-25
(initialize, then calls in the session; a new session after a failure); each sidecar gets
threads of both. It stops when FILE
exists or after S seconds. One line per call in RESULTS: message, protocol, ok (the answer
carried the echo), the error otherwise. Standard library only."""
import argparse
import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request

V2_META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
           "io.modelcontextprotocol/clientInfo": {"name": "chaos", "version": "1"},
           "io.modelcontextprotocol/clientCapabilities": {}}


def post(url, token, body, headers, timeout=15):
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
         "Accept": "application/json, text/event-stream"}
    h.update(headers)
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=h, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.headers, r.read().decode("utf-8", "replace")


def answer(text):
    """The JSON-RPC message of a JSON body or of the SSE data lines carrying a result."""
    text = text.strip()
    if text.startswith("{"):
        return json.loads(text)
    for line in text.splitlines():
        if line.startswith("data:"):
            m = json.loads(line[5:].strip())
            if "result" in m or "error" in m:
                return m
    raise ValueError(f"no JSON-RPC answer in {text[:120]!r}")


class Worker(threading.Thread):
    def __init__(self, k, a, urls, lock, out):
        super().__init__(daemon=True)
        # both protocols on every sidecar: threads 0,1 on the first, 2,3 on the next, ...
        self.k, self.a, self.url, self.lock, self.out = k, a, urls[(k // 2) % len(urls)], lock, out
        self.v2 = k % 2 == 0
        self.sid = None

    def session(self):
        h, _ = post(self.url, self.a.token, {
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "chaos", "version": "1"}}},
            {"MCP-Protocol-Version": "2025-11-25"})
        sid = h.get("Mcp-Session-Id")
        if not sid:
            raise ValueError("no Mcp-Session-Id")
        post(self.url, self.a.token, {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": sid})
        return sid

    def call(self, n, msg):
        body = {"jsonrpc": "2.0", "id": n, "method": "tools/call",
                "params": {"name": "echo", "arguments": {"message": msg}}}
        if self.v2:
            body["params"]["_meta"] = V2_META
            hdr = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call",
                   "Mcp-Name": "echo"}
        else:
            if self.sid is None:
                self.sid = self.session()
            hdr = {"MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": self.sid}
        _, text = post(self.url, self.a.token, body, hdr)
        m = answer(text)
        got = json.dumps(m.get("result", {}))
        if msg not in got:
            raise ValueError(f"answer without the echo: {json.dumps(m)[:160]}")

    def run(self):
        n, end = 0, time.monotonic() + self.a.seconds
        while time.monotonic() < end and not os.path.exists(self.a.stop):
            n += 1
            msg = f"c{self.k}-{n}"
            rec = {"message": msg, "protocol": "2026-07-28" if self.v2 else "2025-11-25",
                   "url": self.url, "ok": False, "t": time.time()}
            try:
                self.call(n, msg)
                rec["ok"] = True
            except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
                # a sidecar killed mid-answer: IncompleteRead, RemoteDisconnected, ...
                rec["error"] = f"{type(e).__name__}: {e}"[:200]
                self.sid = None
                time.sleep(0.2)  # back off a little while something is down
            rec["t_end"] = time.time()
            with self.lock:
                self.out.write(json.dumps(rec) + "\n")
                self.out.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=600)
    a = ap.parse_args()
    lock = threading.Lock()
    with open(a.out, "a") as out:
        ws = [Worker(k, a, a.url.split(","), lock, out) for k in range(a.threads)]
        for w in ws:
            w.start()
        for w in ws:
            w.join()


main()
