#!/usr/bin/env python3
"""replay_session.py SESSION_ID N: N SessionEvents of one session (request/response
pairs of tools/call with ~400-byte masked payloads) as JSON Lines for
`mcptrail-events produce`, for bench/replay.sh ("show of a 100k-event session")."""
import json, sys, uuid

sid, n = sys.argv[1], int(sys.argv[2])
ts0 = 1764000000000000
src = {"cluster": "bench", "namespace": "ns", "pod": "pod-0", "upstream": "127.0.0.1:8080"}
ident = {"issuer": "https://token.actions.githubusercontent.com", "subject": "repo:acme/app:ref:refs/heads/main",
         "audience": "mcptrail", "auth_method": "jwt",
         "ci": {"repository": "acme/app", "workflow": "deploy.yml", "run_id": "42", "actor": "octocat"}}
out = sys.stdout
for s in range(n):
    req = s % 2 == 0
    body = {"jsonrpc": "2.0", "id": s // 2}
    if req:
        body.update(method="tools/call", params={"name": "search_code", "arguments": {
            "query": f"select * from invoices where customer_id = {s} and status = 'open'",
            "api_key": "[REDACTED:generic_api_key]", "note": "bench " + "x" * 200}})
    else:
        body["result"] = {"content": [{"type": "text", "text": "row " * 60}], "isError": False}
    e = {"event_id": str(uuid.UUID(int=(s << 64) | 0x7000_8000_0000_0000 | (hash(sid) & 0xffffffff))),
         "session_id": sid, "seq": s, "ts": ts0 + s * 500,
         "kind": "request" if req else "response",
         "direction": "client_to_server" if req else "server_to_client",
         "source": src, "identity": ident,
         "http": {"method": "POST", "path": "/mcp", "status": None if req else 200},
         "rpc": {"id": str(s // 2), "method": "tools/call" if req else None, "tool": "search_code"},
         "payload_masked": json.dumps(body),
         "mask_summary": [{"detector": "generic_api_key", "action": "redact", "count": 1}] if req else [],
         "latency_us": None if req else 800, "sidecar_version": "bench"}
    out.write(json.dumps(e) + "\n")
