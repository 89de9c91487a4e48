#!/usr/bin/env python3
"""A 2026-07-28 (stateless) MCP session with the Python SDK client (mcp 2.3.0: `mcp.Client` pinned
to 2026-07-28 over `mcp.client.streamable_http.streamable_http_client`) against the "v2 session"
contract of tests/conformance/scenario-server-py.py / scenario-server-v2.mjs (directly or through
the sidecar), writing a normalised JSON transcript so that two runs can be compared with diff.

Usage: python py-v2-client.py (URL | --stdio CMD ARGS...) [--token T] [--out FILE] [--steps a,b,...]
                              [--timeout S]
  (run with the test venv: ~/.cache/mcptrail/venv/bin/python, see scripts/deps.sh)
  --stdio  the SDK's stdio client instead: it starts CMD ARGS... (the rest of the arguments; the
           server, or mcptrail-wrap ... -- the server); options go before it
  --token  sent as "Authorization: Bearer T" on every request (the httpx2 client's headers)
  --out    transcript file (default: stdout)
  --steps  run only these steps, in the order given (default: all, in the order below)
Steps: discover (server/discover, adopted), tools_list, resources_list, prompts_list (the three
with cache_mode="refresh", so each is a real request), prompt_get (v2_greet name=mcptrail), echo
(v2_echo "hello v2"), deploy (v2_deploy payments 1.2.3: the server answers input_required with one
elicitation; the client's elicitation callback accepts with {confirm: true}; the SDK's driver
retries with inputResponses + requestState; records the elicitations seen, the number of
tools/call POSTs and what each round sent), listen (Client.listen(resource_subscriptions=
["demo://counter"]): subscriptions/listen, records the acknowledged filter), bump (v2_bump),
notified (waits up to 10 s for notifications/resources/updated demo://counter on the listen
stream), read (resources/read demo://counter, cache bypassed), close (leaves the listen context:
the SDK cancels the request, the transport aborts that POST).
The client connects pinned to 2026-07-28 (mode="2026-07-28": no probe; the discover step is the
first request). The counter is process-wide on the server, so bump and read record "<counter>"
and read records equals_bump (the value read equals the value the bump returned). Exit 1 if any
step fails.
"""
import argparse
import json
import os
import re
import sys
from contextlib import AsyncExitStack
from importlib.metadata import version

import anyio
from mcp import Client, types
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ResourceUpdated
from mcp.shared._httpx_utils import create_mcp_http_client

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
VOLATILE_KEYS = {"progressToken", "sessionId", "requestId", "requestState", "io.modelcontextprotocol/subscriptionId"}
STEPS = ["discover", "tools_list", "resources_list", "prompts_list", "prompt_get", "echo", "deploy",
         "listen", "bump", "notified", "read", "close"]
ELICIT_ANSWER = types.ElicitResult(action="accept", content={"confirm": True})


class _CountingWrite:
    """The stdio write stream, noting each message sent (as the HTTP hook notes POSTs)."""

    def __init__(self, inner, posts):
        self._inner, self._posts = inner, posts

    async def send(self, item):
        msg = getattr(item, "message", None)
        if msg is not None:
            self._posts.append(msg.model_dump(mode="json", by_alias=True, exclude_none=True))
        await self._inner.send(item)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def __aenter__(self):
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc):
        return await self._inner.__aexit__(*exc)


class CountingStdio:
    """A stdio transport (stdio_client) whose outgoing messages are counted."""

    def __init__(self, params, posts):
        self._cm, self._posts = stdio_client(params), posts

    async def __aenter__(self):
        read, write = await self._cm.__aenter__()
        return read, _CountingWrite(write, self._posts)

    async def __aexit__(self, *exc):
        return await self._cm.__aexit__(*exc)


def norm(v):
    """Wire-form JSON with run-to-run differences (UUIDs, timestamps, ids, requestState) replaced."""
    if hasattr(v, "model_dump"):
        v = v.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(v, str):
        return ISO.sub("<timestamp>", UUID.sub("<uuid>", v))
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        return {k: ("<id>" if k in VOLATILE_KEYS else norm(v[k])) for k in sorted(v)}
    return v


def text_of(r) -> str:
    return "".join(c.text for c in (r.content or []) if getattr(c, "type", None) == "text")


async def main(a) -> int:
    steps = [s.strip() for s in a.steps.split(",") if s.strip()] if a.steps else STEPS
    bad = [s for s in steps if s not in STEPS]
    if bad:
        print(f"py-v2-client: unknown step(s) {','.join(bad)} (known: {','.join(STEPS)})", file=sys.stderr)
        return 2
    transcript = {"client": "python-sdk-v2", "sdk_version": version("mcp"), "protocol": "", "steps": []}
    failed = 0
    posts: list[dict] = []        # every JSON-RPC message POSTed (deploy rounds)
    elicitations: list[dict] = []  # elicitation requests the callback answered
    notifications: list[dict] = []

    async def on_request(request):
        if request.method == "POST":
            try:
                posts.append(json.loads(request.content))
            except ValueError:
                pass

    async def on_elicit(ctx, params: types.ElicitRequestParams):
        p = params.model_dump(mode="json", by_alias=True, exclude_none=True)
        elicitations.append({k: p.get(k) for k in ("message", "mode", "requestedSchema")})
        return ELICIT_ANSWER

    async def on_message(msg):
        if isinstance(msg, Exception):
            notifications.append({"exception": type(msg).__name__})
            return
        root = getattr(msg, "root", msg)
        notifications.append({"method": getattr(root, "method", type(root).__name__),
                              "params": norm(getattr(root, "params", None))})

    async def step(name, fn):
        nonlocal failed
        s = {"step": name}
        transcript["steps"].append(s)
        try:
            with anyio.fail_after(a.timeout):
                s["result"] = norm(await fn(s))
        except Exception as e:  # noqa: BLE001 - every failure is recorded and counted
            failed += 1
            err = {"message": str(e) or type(e).__name__, "type": type(e).__name__}
            if (code := getattr(getattr(e, "error", None), "code", None)) is not None:
                err["code"] = code
            s["error"] = norm(err)
            print(f"py-v2-client: step {name} failed: {e!r}", file=sys.stderr)

    headers = {"Authorization": f"Bearer {a.token}"} if a.token else None
    http = create_mcp_http_client(headers=headers)
    http.event_hooks["request"].append(on_request)
    if a.stdio:  # the SDK's stdio client starts the server (or mcptrail-wrap in front of it)
        target = StdioServerParameters(command=a.stdio[0], args=a.stdio[1:], env=dict(os.environ))
        target = CountingStdio(target, posts)
    else:
        target = streamable_http_client(a.url, http_client=http)
    client = Client(target, mode="2026-07-28",
                    client_info=types.Implementation(name="mcptrail-py-v2-client", version="1.0.0"),
                    elicitation_callback=on_elicit, message_handler=on_message, read_timeout_seconds=a.timeout)
    listen_stack = AsyncExitStack()
    sub = None
    bumped: str | None = None

    async def discover(s):
        raw = await client.session.send_discover("2026-07-28")
        r = types.DiscoverResult.model_validate(raw)
        client.session.adopt(r)  # the server's capabilities and serverInfo from now on
        transcript["protocol"] = client.protocol_version
        return r

    async def echo(s):
        r = await client.call_tool("v2_echo", {"message": "hello v2"})
        if text_of(r) != "hello v2":
            raise RuntimeError(f"unexpected echo {norm(r)}")
        return r

    async def deploy(s):
        first, seen = len(posts), len(elicitations)
        r = await client.call_tool("v2_deploy", {"service": "payments", "version": "1.2.3"})
        calls = [m for m in posts[first:] if m.get("method") == "tools/call" and m["params"].get("name") == "v2_deploy"]
        s["rounds"] = len(calls)
        s["round_params"] = [norm({"inputResponses": m["params"].get("inputResponses"),
                                   "requestStateSent": "requestState" in m["params"]}) for m in calls]
        s["elicitations"] = norm(elicitations[seen:])
        if text_of(r) != "deployed payments@1.2.3":
            raise RuntimeError(f"unexpected deploy result {norm(r)}")
        return r

    async def listen(s):
        nonlocal sub
        sub = await listen_stack.enter_async_context(client.listen(resource_subscriptions=["demo://counter"]))
        return {"honoredFilter": sub.honored}

    async def bump(s):
        nonlocal bumped
        r = await client.call_tool("v2_bump", {})
        bumped = text_of(r)
        if not bumped.isdigit():
            raise RuntimeError(f"unexpected bump result {norm(r)}")
        out = norm(r)
        out["content"] = [dict(c, text="<counter>") if c.get("type") == "text" else c for c in out["content"]]
        return out

    async def notified(s):
        if sub is None:
            raise RuntimeError("no listen stream open")
        uris = set()
        with anyio.fail_after(10):
            async for ev in sub:
                if isinstance(ev, ResourceUpdated):
                    uris.add(ev.uri)
                    if ev.uri == "demo://counter":
                        break
        return {"uris": sorted(uris)}

    async def read(s):
        r = await client.read_resource("demo://counter", cache_mode="bypass")
        v = getattr(r.contents[0], "text", None) if r.contents else None
        if not (isinstance(v, str) and v.isdigit()):
            raise RuntimeError(f"unexpected counter {norm(r)}")
        out = norm(r)
        out["contents"] = [dict(c, text="<counter>") for c in out["contents"]]
        out["equals_bump"] = "no-bump-step" if bumped is None else v == bumped
        return out

    async def close(s):
        if sub is None:
            raise RuntimeError("no listen stream open")
        route = sub._route  # noqa: SLF001 - how the stream ended ("local": closed by this client)
        await listen_stack.aclose()
        return {"closed": route.end}

    impl = {
        "discover": discover,
        "tools_list": lambda s: client.list_tools(cache_mode="refresh"),
        "resources_list": lambda s: client.list_resources(cache_mode="refresh"),
        "prompts_list": lambda s: client.list_prompts(cache_mode="refresh"),
        "prompt_get": lambda s: client.get_prompt("v2_greet", {"name": "mcptrail"}),
        "echo": echo, "deploy": deploy, "listen": listen, "bump": bump, "notified": notified, "read": read,
        "close": close,
    }
    try:
        async with http, client:
            transcript["protocol"] = client.protocol_version
            for name in steps:
                await step(name, impl[name])
            await listen_stack.aclose()
    except Exception as e:  # noqa: BLE001 - transport failures surface as exception groups on exit
        failed += 1
        msgs = [str(x) or type(x).__name__ for x in getattr(e, "exceptions", [e])]
        for s in transcript["steps"]:  # a step the transport's failure cancelled
            if "result" not in s and "error" not in s:
                s["error"] = {"message": "not completed: the session failed"}
        transcript["steps"].append({"step": "session", "error": norm({"message": "; ".join(msgs)})})
        print(f"py-v2-client: session failed: {msgs}", file=sys.stderr)
    # Notifications seen by the message handler (outside the listen stream's own demux), sorted and
    # deduplicated: their timing relative to the steps varies.
    transcript["notifications"] = [json.loads(x) for x in sorted({json.dumps(n, sort_keys=True) for n in notifications})]
    text = json.dumps(transcript, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    print(f"py-v2-client: {len(transcript['steps'])} steps, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", nargs="?", default="")
    ap.add_argument("--token", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--steps", default="")
    ap.add_argument("--stdio", nargs="+", default=None,
                    help="CMD ARGS...: the SDK's stdio client starts it (the rest of the arguments)")
    ap.add_argument("--timeout", type=float, default=30.0)
    argv = sys.argv[1:]  # everything after --stdio is the command, flags included
    cut = argv.index("--stdio") if "--stdio" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    args.stdio = argv[cut + 1:] if cut < len(argv) else None
    if not args.url and not args.stdio:
        ap.error("a URL or --stdio CMD is required")

    async def bounded():
        with anyio.fail_after(4 * args.timeout):
            return await main(args)
    try:
        sys.exit(anyio.run(bounded))
    except TimeoutError:
        print("py-v2-client: overall deadline passed", file=sys.stderr)
        sys.exit(1)
