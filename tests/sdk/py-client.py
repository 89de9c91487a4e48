#!/usr/bin/env python3
"""A full MCP session with the Python SDK (mcp on PyPI, mcp.client.streamable_http) against an
MCP endpoint (server-everything, directly or through the sidecar), writing a normalised JSON
transcript so that two runs can be compared with diff.

Usage: python py-client.py URL [--token T] [--out FILE] [--timeout S]
  (run with the test venv: ~/.cache/mcptrail/venv/bin/python, see scripts/deps.sh)
Steps: initialize, tools/list, tools/call echo, tools/call trigger-long-running-operation
with progress notifications over SSE, resources/list + resources/read, prompts/list +
prompts/get, tools/call trigger-sampling-request / trigger-elicitation-request /
get-roots-list (server-to-client requests answered by callbacks), then DELETE of the session
(on leaving streamable_http_client; its HTTP status is recorded). Exit 1 if a step fails.
"""
import argparse
import json
import re
import sys
from importlib.metadata import version

import anyio
import httpx2
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
VOLATILE_KEYS = {"progressToken", "sessionId", "requestId"}


def norm(v):
    """Wire-form JSON with run-to-run differences (UUIDs, timestamps, ids) replaced."""
    if hasattr(v, "model_dump"):
        v = v.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(v, str):
        return ISO.sub("<timestamp>", UUID.sub("<uuid>", v))
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {k: ("<id>" if k in VOLATILE_KEYS else norm(v[k])) for k in sorted(v)}
    return v


def sorted_json(items):
    return [json.loads(s) for s in sorted(json.dumps(x, sort_keys=True) for x in items)]


async def session_steps(a, http, step, on_sampling, on_elicit, on_roots, on_log, on_message, server_requests):
    """The session's steps; a failed initialize ends the session early."""
    async with http:
        async with streamable_http_client(a.url, http_client=http) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=a.timeout,
                                     sampling_callback=on_sampling, elicitation_callback=on_elicit,
                                     list_roots_callback=on_roots, logging_callback=on_log,
                                     message_handler=on_message,
                                     client_info=types.Implementation(name="mcptrail-py-client", version="1.0.0")) as session:
                async def init(s):
                    r = await session.initialize()
                    return r
                if not await step("initialize", init):
                    return
                tools = []

                async def list_tools(s):
                    r = await session.list_tools()
                    tools.extend(t.name for t in r.tools)
                    return r
                await step("tools/list", list_tools)

                def need(n):
                    if n not in tools:
                        raise RuntimeError(f"server has no tool {n}")

                async def echo(s):
                    need("echo")
                    return await session.call_tool("echo", {"message": "hello from mcptrail"})
                await step("tools/call echo", echo)

                async def long_running(s):
                    need("trigger-long-running-operation")
                    progress = []

                    async def on_progress(p, total, message):
                        progress.append(norm({"progress": p, "total": total, "message": message}))
                    r = await session.call_tool("trigger-long-running-operation", {"duration": 2, "steps": 4},
                                                progress_callback=on_progress)
                    s["progress"] = progress
                    if len(progress) != 4:
                        raise RuntimeError(f"expected 4 progress notifications, got {len(progress)}")
                    return r
                await step("tools/call trigger-long-running-operation (progress over SSE)", long_running)
                resources = []

                async def list_resources(s):
                    r = await session.list_resources()
                    resources.extend(r.resources)
                    return r
                await step("resources/list", list_resources)

                async def read_resource(s):
                    if not resources:
                        raise RuntimeError("no resources listed")
                    return await session.read_resource(str(resources[0].uri))
                await step("resources/read", read_resource)
                prompts = []

                async def list_prompts(s):
                    r = await session.list_prompts()
                    prompts.extend(r.prompts)
                    return r
                await step("prompts/list", list_prompts)

                async def get_prompt(s):
                    if not prompts:
                        raise RuntimeError("no prompts listed")
                    p = next((x for x in prompts if not any(arg.required for arg in (x.arguments or []))), prompts[0])
                    return await session.get_prompt(p.name, {arg.name: "mcptrail" for arg in (p.arguments or [])})
                await step("prompts/get", get_prompt)

                async def sampling(s):
                    need("trigger-sampling-request")
                    r = await session.call_tool("trigger-sampling-request", {"prompt": "say hi", "maxTokens": 16})
                    if not any(x["method"] == "sampling/createMessage" for x in server_requests):
                        raise RuntimeError("no sampling request reached the client")
                    return r
                await step("tools/call trigger-sampling-request (server->client sampling/createMessage)", sampling)

                async def elicitation(s):
                    need("trigger-elicitation-request")
                    r = await session.call_tool("trigger-elicitation-request", {})
                    if not any(x["method"] == "elicitation/create" for x in server_requests):
                        raise RuntimeError("no elicitation request reached the client")
                    return r
                await step("tools/call trigger-elicitation-request (server->client elicitation/create)", elicitation)
                if "get-roots-list" in tools:
                    await step("tools/call get-roots-list (server->client roots/list)",
                               lambda s: session.call_tool("get-roots-list", {}))


async def main(a) -> int:
    transcript = {"client": "python-sdk", "sdk_version": version("mcp"), "steps": []}
    server_requests, notifications, http_log = [], [], []
    failed = 0

    async def on_sampling(ctx, params: types.CreateMessageRequestParams):
        text = " ".join(getattr(m.content, "text", "") or "" for m in params.messages)
        res = types.CreateMessageResult(role="assistant", model="mcptrail-test-model", stop_reason="endTurn",
                                        content=types.TextContent(type="text", text=f"sampled: {text}"))
        server_requests.append({"method": "sampling/createMessage", "params": norm(params), "result": norm(res)})
        return res

    async def on_elicit(ctx, params: types.ElicitRequestParams):
        res = types.ElicitResult(action="accept",
                                 content={"name": "mcptrail", "check": True, "email": "ci@example.org", "integer": 7})
        server_requests.append({"method": "elicitation/create", "params": norm(params), "result": norm(res)})
        return res

    async def on_roots(ctx):
        res = types.ListRootsResult(roots=[types.Root(uri="file:///workspace/mcptrail", name="mcptrail")])
        server_requests.append({"method": "roots/list", "result": norm(res)})
        return res

    async def on_message(msg):
        if isinstance(msg, Exception):
            notifications.append({"exception": type(msg).__name__})
            return
        root = getattr(msg, "root", msg)
        notifications.append({"method": getattr(root, "method", type(root).__name__),
                              "params": norm(getattr(root, "params", None))})

    async def on_log(params):
        notifications.append({"method": "notifications/message", "params": norm(params)})

    async def on_response(resp):
        if resp.request.method == "DELETE":
            http_log.append({"method": "DELETE", "status": resp.status_code})

    async def step(name, fn):
        nonlocal failed
        s = {"step": name}
        transcript["steps"].append(s)
        try:
            with anyio.fail_after(a.timeout):
                s["result"] = norm(await fn(s))
            return True
        except Exception as e:  # noqa: BLE001 - every failure is recorded and counted
            failed += 1
            s["error"] = norm({"message": str(e) or type(e).__name__, "type": type(e).__name__})
            print(f"py-client: step {name} failed: {e!r}", file=sys.stderr)
            return False

    headers = {"Authorization": f"Bearer {a.token}"} if a.token else None
    http = create_mcp_http_client(headers=headers)
    http.event_hooks["response"].append(on_response)
    try:
        await session_steps(a, http, step, on_sampling, on_elicit, on_roots, on_log, on_message, server_requests)
    except Exception as e:  # noqa: BLE001 - transport failures surface as exception groups on exit
        failed += 1
        msgs = [str(x) or type(x).__name__ for x in getattr(e, "exceptions", [e])]
        transcript["steps"].append({"step": "session", "error": norm({"message": "; ".join(msgs)})})
        print(f"py-client: session failed: {msgs}", file=sys.stderr)
    # leaving streamable_http_client sent the DELETE (terminate_on_close)
    s = {"step": "DELETE session", "result": http_log}
    transcript["steps"].append(s)
    if not http_log or http_log[-1]["status"] not in (200, 204):
        failed += 1
        s["error"] = {"message": "no successful DELETE of the session"}
    transcript["server_requests"] = sorted_json(server_requests)
    transcript["notifications"] = sorted_json(notifications)
    text = json.dumps(transcript, indent=1, ensure_ascii=False) + "\n"
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    print(f"py-client: {len(transcript['steps'])} steps, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("--token", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()

    async def bounded():
        with anyio.fail_after(6 * args.timeout):
            return await main(args)
    try:
        sys.exit(anyio.run(bounded))
    except TimeoutError:
        print("py-client: overall deadline passed", file=sys.stderr)
        sys.exit(1)
