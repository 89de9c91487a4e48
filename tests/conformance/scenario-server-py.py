#!/usr/bin/env python3
"""Scenario server written against the Python MCP SDK (mcp 2.3.0, `MCPServer`): Streamable HTTP
on 127.0.0.1:PORT, endpoint /mcp.

  - 2026-07-28 (stateless: per-request `_meta` envelope, server/discover, subscriptions/listen,
    multi-round-trip `input_required` results, Mcp-Method/Mcp-Name/Mcp-Param-* checks) is served by
    the SDK's single-exchange entry, which the SDK's session manager picks for every request whose
    MCP-Protocol-Version header names a non-handshake version, whatever `stateless_http` says.
  - 2025-era traffic (initialize, Mcp-Session-Id, GET streams, DELETE) goes to the SDK's sessionful
    transport with an in-memory event store (resumable SSE, `close_sse_stream`), so server-to-client
    sampling/elicitation/roots work there. `--stateless` (or MT_PY_STATELESS=1) runs that leg as
    `stateless_http=True` instead: no sessions, no server-to-client requests.

Tools, resources and prompts: the conformance suite's fixtures (the names of
tests/conformance/scenario-server.mjs and scenario-server-v2.mjs) and the "v2 session" contract used
by mcptrail's tests (v2_echo, v2_deploy, v2_bump, demo://counter, demo://readme, v2_greet; see
tests/conformance/README.md). Env MT_V2_LEDGER=FILE: every executed v2_deploy appends
"deploy SERVICE VERSION\\n" to FILE. Env MT_WIRE_LOG=FILE: every HTTP exchange on /mcp (request
headers and body, response status, headers and body chunks as sent, SSE frames included) is
appended to FILE as one JSON object per line (Authorization is redacted). Logs go to stderr.

Usage: python scenario-server-py.py PORT [--stateless] | --stdio   (the venv's python, scripts/deps.sh)
"""
from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import re
import sys
import time
import uuid
import warnings
from typing import Annotated, Any

import anyio
import uvicorn
from mcp_types import (
    INVALID_PARAMS,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    CallToolResult,
    ClientCapabilities,
    Completion,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    EmbeddedResource,
    EmptyResult,
    ImageContent,
    AudioContent,
    InputRequiredResult,
    ListRootsRequest,
    ListRootsResult,
    MissingRequiredClientCapabilityErrorData,
    SamplingCapability,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)
from mcp_types.version import is_version_at_least
from pydantic import Field

from mcp.server.caching import CACHEABLE_METHODS, CacheHint
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.server.streamable_http import EventStore
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError

warnings.simplefilter("ignore", MCPDeprecationWarning)  # logging/sampling/roots are deprecated at 2026-07-28
log = logging.getLogger("scenario-server-py")

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
MODERN = "2026-07-28"
LEDGER = os.environ.get("MT_V2_LEDGER", "")
LOOPBACK = re.compile(r"^(127\.\d+\.\d+\.\d+|::1)$")


def text(t: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=t)])


def name_schema(prop: str) -> dict[str, Any]:
    return {"type": "object", "properties": {prop: {"type": "string"}}, "required": [prop]}


def elicit(message: str, schema: dict[str, Any]) -> ElicitRequest:
    return ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=schema))


def sample(prompt: str, max_tokens: int) -> CreateMessageRequest:
    return CreateMessageRequest(params=CreateMessageRequestParams(
        messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))], max_tokens=max_tokens))


def modern(ctx: Context) -> bool:
    """True on a 2026-07-28 (input_required) request, False on a 2025-era session."""
    v = ctx.protocol_version
    return v is not None and is_version_at_least(v, MODERN)


def answer(ctx: Context, key: str) -> Any:
    """The client's inputResponses[key], or None."""
    return (ctx.input_responses or {}).get(key)


def accepted(ctx: Context, key: str) -> dict[str, Any] | None:
    """The content of an accepted elicitation answer under key, or None."""
    r = answer(ctx, key)
    if isinstance(r, ElicitResult) and r.action == "accept" and isinstance(r.content, dict):
        return r.content
    return None


def state(ctx: Context) -> dict[str, Any] | None:
    """The plaintext requestState (the SDK's RequestStateBoundary verified and unsealed it)."""
    s = ctx.request_state
    if not s:
        return None
    try:
        v = json.loads(s)
    except ValueError:
        return None
    return v if isinstance(v, dict) else None


def minted(payload: dict[str, Any]) -> str:
    """requestState plaintext; the boundary seals it (AES-256-GCM, per-process key, 600 s TTL, bound to
    the method, tool name and argument digest) on the way out."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


class MemoryEventStore(EventStore):
    """Resumability for 2025-era SSE streams (server-sse-polling): events kept in memory, per stream."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []
        self.n = 0

    async def store_event(self, stream_id, message):
        self.n += 1
        event_id = f"{stream_id}::{self.n:08d}"
        self.events.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(self, last_event_id, send_callback):
        from mcp.server.streamable_http import EventMessage
        ids = [e[0] for e in self.events]
        if last_event_id not in ids:
            return None
        stream_id = self.events[ids.index(last_event_id)][1]
        for event_id, sid, message in self.events[ids.index(last_event_id) + 1:]:
            if sid == stream_id and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream_id


# ---- process-wide state ----
counter = 0
legacy_subs: dict[str, list[Any]] = {}  # uri -> 2025-era sessions that sent resources/subscribe

server = MCPServer(
    "mcptrail-scenario-server-py",
    version="2.3.0",
    # SEP-2549: every cacheable result carries ttlMs/cacheScope; 0 ms keeps clients from serving
    # demo://counter (or a listing) from a cache.
    cache_hints={m: CacheHint(ttl_ms=0, scope="private") for m in CACHEABLE_METHODS},
    log_level="WARNING",
)
tool = server.tool


# ---- mcptrail "v2 session" contract ----
@tool(name="v2_echo", description="Echoes message back as one text block")
def v2_echo(message: str) -> CallToolResult:
    return text(message)


DEPLOY_SCHEMA = {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}


@tool(name="v2_deploy", description="Deploys service@version after an in-band confirmation (multi-round-trip elicitation)")
async def v2_deploy(service: str, version: str, ctx: Context) -> CallToolResult | InputRequiredResult:
    message = f"Deploy {service} {version}?"
    if modern(ctx):
        r = answer(ctx, "confirm")
        st = state(ctx)
        if not isinstance(r, ElicitResult) or st is None:
            # First round, or a retry without the answer or without the (verified) requestState.
            return InputRequiredResult(input_requests={"confirm": elicit(message, DEPLOY_SCHEMA)},
                                       request_state=minted({"tool": "v2_deploy", "service": service, "version": version}))
        if st.get("tool") != "v2_deploy" or st.get("service") != service or st.get("version") != version:
            raise MCPError(code=INVALID_PARAMS, message="requestState does not match the call arguments")
    else:
        # 2025-era session: elicitation/create goes to the client on this POST's SSE stream.
        try:
            r = await ctx.session.elicit_form(message, DEPLOY_SCHEMA, related_request_id=ctx.request_id)
        except Exception as e:  # noqa: BLE001 - no back-channel (stateless 2025 leg)
            raise ToolError(f"elicitation not possible on this connection: {type(e).__name__}") from e
    if r.action == "accept" and isinstance(r.content, dict) and r.content.get("confirm") is True:
        if LEDGER:
            with open(LEDGER, "a") as f:
                f.write(f"deploy {service} {version}\n")
        log.warning("executed deploy %s %s", service, version)
        return text(f"deployed {service}@{version}")
    return text("cancelled")


@tool(name="v2_bump", description="Increments the demo counter and notifies demo://counter subscribers")
async def v2_bump(ctx: Context) -> CallToolResult:
    global counter
    counter += 1
    await resource_updated(ctx, "demo://counter")
    return text(str(counter))


async def resource_updated(ctx: Context, uri: str) -> None:
    await ctx.notify_resource_updated(uri)  # 2026-07-28: subscriptions/listen streams that asked for uri
    for session in list(legacy_subs.get(uri, [])):  # 2025 sessions that sent resources/subscribe
        try:
            await session.send_resource_updated(uri)
        except Exception:  # noqa: BLE001 - the session went away
            legacy_subs[uri].remove(session)


@server.resource("demo://counter", name="counter", description="The demo counter (v2_bump increments it)",
                 mime_type="text/plain")
def demo_counter() -> str:
    return str(counter)


@server.resource("demo://readme", name="readme", description="A static text resource", mime_type="text/plain")
def demo_readme() -> str:
    return "mcptrail v2 demo"


@server.prompt(name="v2_greet", description="Greets name")
def v2_greet(name: Annotated[str, Field(description="Who to greet")]) -> list[UserMessage]:
    return [UserMessage(f"Hello, {name}!")]


# ---- conformance fixtures: tools ----
def no_args(name: str, description: str):
    return tool(name=name, description=description)


@no_args("test_simple_text", "Returns one text block")
def test_simple_text() -> CallToolResult:
    return text("This is a simple text response for testing.")


@no_args("test_image_content", "Returns an image block")
def test_image_content() -> CallToolResult:
    return CallToolResult(content=[ImageContent(type="image", data=PNG, mime_type="image/png")])


@no_args("test_audio_content", "Returns an audio block")
def test_audio_content() -> CallToolResult:
    return CallToolResult(content=[AudioContent(type="audio", data=WAV, mime_type="audio/wav")])


def embedded(uri: str, mime: str, body: str) -> EmbeddedResource:
    return EmbeddedResource(type="resource", resource=TextResourceContents(uri=uri, mime_type=mime, text=body))


@no_args("test_embedded_resource", "Returns an embedded resource")
def test_embedded_resource() -> CallToolResult:
    return CallToolResult(content=[embedded("test://embedded-resource", "text/plain", "This is an embedded resource content.")])


@no_args("test_multiple_content_types", "Returns text, image and resource")
def test_multiple_content_types() -> CallToolResult:
    return CallToolResult(content=[
        TextContent(type="text", text="Multiple content types test:"),
        ImageContent(type="image", data=PNG, mime_type="image/png"),
        embedded("test://mixed-content-resource", "application/json", json.dumps({"test": "data", "value": 123})),
    ])


@no_args("test_tool_with_logging", "Sends log notifications while running")
async def test_tool_with_logging(ctx: Context) -> CallToolResult:
    for i, m in enumerate(["Tool execution started", "Tool processing data", "Tool execution completed"]):
        if i:
            await anyio.sleep(0.05)
        await ctx.info(m)
    return text("Tool with logging executed successfully")


@no_args("test_tool_with_progress", "Sends progress notifications while running")
async def test_tool_with_progress(ctx: Context) -> CallToolResult:
    meta = ctx.request_context.meta
    token = getattr(meta, "progress_token", None) if meta is not None else None
    if token is None and isinstance(meta, dict):
        token = meta.get("progressToken")
    for p in (0, 50, 100):
        await ctx.report_progress(p, 100, f"Completed step {p} of 100")
        if p < 100:
            await anyio.sleep(0.05)
    return text(str(token) if token is not None else "no-progress-token")


@no_args("test_error_handling", "Always fails with isError")
def test_error_handling() -> CallToolResult:
    raise ToolError("This tool intentionally returns an error for testing")


@no_args("test_reconnection", "Closes its SSE stream mid-call (SEP-1699)")
async def test_reconnection(ctx: Context) -> CallToolResult:
    await ctx.close_sse_stream()
    await anyio.sleep(0.1)
    return text("Reconnection test completed successfully. If you received this, the client properly "
                "reconnected after stream closure.")


@tool(name="test_sampling", description="Asks the client for sampling/createMessage")
async def test_sampling(prompt: str, ctx: Context) -> CallToolResult:
    try:
        r = await ctx.session.create_message(
            [SamplingMessage(role="user", content=TextContent(type="text", text=prompt))], max_tokens=100,
            related_request_id=ctx.request_id)
        return text(f"LLM response: {getattr(r.content, 'text', None) or 'No response'}")
    except Exception as e:  # noqa: BLE001 - 2026-07-28 has no back-channel; reported as text
        return text(f"Not supported or error: {type(e).__name__}: {e}")


async def legacy_elicit(ctx: Context, message: str, schema: dict[str, Any], fmt: str) -> CallToolResult:
    try:
        r = await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_id)
        return text(fmt.format(action=r.action, content=json.dumps(r.content or {}, separators=(",", ":"))))
    except Exception as e:  # noqa: BLE001
        return text(f"Not supported or error: {type(e).__name__}: {e}")


@tool(name="test_elicitation", description="Asks the client for elicitation/create")
async def test_elicitation(message: str, ctx: Context) -> CallToolResult:
    schema = {"type": "object", "properties": {"response": {"type": "string", "description": "User's response"}},
              "required": ["response"]}
    return await legacy_elicit(ctx, message, schema, "User response: action={action}, content={content}")


@no_args("test_elicitation_sep1034_defaults", "Elicitation (sep1034)")
async def test_elicitation_sep1034_defaults(ctx: Context) -> CallToolResult:
    schema = {"type": "object", "required": [], "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"],
                   "default": "active"},
        "verified": {"type": "boolean", "description": "Verification status", "default": True},
    }}
    return await legacy_elicit(ctx, "Please review and update the form fields with defaults", schema,
                               "Elicitation completed: action={action}, content={content}")


@no_args("test_elicitation_sep1330_enums", "Elicitation (sep1330)")
async def test_elicitation_sep1330_enums(ctx: Context) -> CallToolResult:
    schema = {"type": "object", "required": [], "properties": {
        "untitledSingle": {"type": "string", "description": "Select one option", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {"type": "string", "description": "Select one option with titles", "oneOf": [
            {"const": "value1", "title": "First Option"}, {"const": "value2", "title": "Second Option"},
            {"const": "value3", "title": "Third Option"}]},
        "legacyEnum": {"type": "string", "description": "Select one option (legacy)", "enum": ["opt1", "opt2", "opt3"],
                       "enumNames": ["Option One", "Option Two", "Option Three"]},
        "untitledMulti": {"type": "array", "description": "Select multiple options", "minItems": 1, "maxItems": 3,
                          "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
        "titledMulti": {"type": "array", "description": "Select multiple options with titles", "minItems": 1,
                        "maxItems": 3, "items": {"anyOf": [
                            {"const": "value1", "title": "First Choice"}, {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"}]}},
    }}
    return await legacy_elicit(ctx, "Please select options from the enum fields", schema,
                               "Elicitation completed: action={action}, content={content}")


@tool(name="json_schema_2020_12_tool", description="Input schema with JSON Schema 2020-12 features (SEP-1613, SEP-2106)")
def json_schema_2020_12_tool(name: str | None = None, address: dict[str, Any] | None = None,
                             contactMethod: str | None = None, phone: str | None = None,  # noqa: N803
                             email: str | None = None) -> CallToolResult:
    args = {k: v for k, v in (("name", name), ("address", address), ("contactMethod", contactMethod),
                              ("phone", phone), ("email", email)) if v is not None}
    return text(f"JSON Schema 2020-12 tool called with: {json.dumps(args, separators=(',', ':'))}")


@tool(name="test_x_mcp_header", description="Tests SEP-2243 Mcp-Param-* server-side validation")
def test_x_mcp_header(region: str | None = None, level: int | None = None) -> CallToolResult:
    return text(f"region={region if region is not None else '<none>'}")


# Schemas the function signatures cannot express: published as-is (tools/list, and the SDK's
# Mcp-Param-* check reads the same `parameters`); arguments are still validated by the signature.
RAW_SCHEMAS: dict[str, dict[str, Any]] = {
    "json_schema_2020_12_tool": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {"address": {"$anchor": "addressDef", "type": "object",
                              "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
        "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"},
                       "contactMethod": {"type": "string", "enum": ["phone", "email"]},
                       "phone": {"type": "string"}, "email": {"type": "string"}},
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": False,
    },
    "test_x_mcp_header": {
        "type": "object",
        "properties": {
            "region": {"type": "string", "description": "mirrored into Mcp-Param-Region", "x-mcp-header": "Region"},
            "level": {"type": "integer", "description": "non-mirrored argument"},
        },
    },
}


# SEP-2575 server-stateless diagnostics.
@no_args("test_missing_capability", "Requires the sampling client capability (undeclared -> -32021)")
def test_missing_capability(ctx: Context) -> CallToolResult | InputRequiredResult:
    caps = ctx.client_capabilities
    if caps is None or caps.sampling is None:
        data = MissingRequiredClientCapabilityErrorData(required_capabilities=ClientCapabilities(sampling=SamplingCapability()))
        raise MCPError(code=MISSING_REQUIRED_CLIENT_CAPABILITY,
                       message="Client did not declare the sampling capability required by test_missing_capability",
                       data=data.model_dump(by_alias=True, mode="json", exclude_none=True))
    if answer(ctx, "llm_answer") is None:
        return InputRequiredResult(input_requests={"llm_answer": sample("Reply with the single word: pong", 16)})
    return text("sampling round-trip complete")


@no_args("test_streaming_elicitation", "Response stream with result frames only")
def test_streaming_elicitation() -> CallToolResult:
    return text("stream observed: result frames only, no top-level requests")


@no_args("test_logging_tool", "Logs through the request-scoped, logLevel-gated channel")
async def test_logging_tool(ctx: Context) -> CallToolResult:
    await ctx.info("test_logging_tool ran (delivered only when the request set _meta logLevel)")
    return text("logged through the request-scoped, logLevel-gated channel")


@no_args("test_trigger_tool_change", "Publishes tools/list_changed to listen streams")
async def test_trigger_tool_change(ctx: Context) -> CallToolResult:
    await ctx.notify_tools_changed()
    return text("tools_list_changed published")


@no_args("test_trigger_prompt_change", "Publishes prompts/list_changed to listen streams")
async def test_trigger_prompt_change(ctx: Context) -> CallToolResult:
    await ctx.notify_prompts_changed()
    return text("prompts_list_changed published")


# SEP-2322 multi-round-trip fixtures.
@no_args("test_input_required_result_elicitation", "MRTR: asks for the caller name")
def test_input_required_result_elicitation(ctx: Context) -> CallToolResult | InputRequiredResult:
    name = (accepted(ctx, "user_name") or {}).get("name")
    if not isinstance(name, str):
        return InputRequiredResult(input_requests={"user_name": elicit("What is your name?", name_schema("name"))})
    return text(f"Hello, {name}!")


@no_args("test_input_required_result_sampling", "MRTR: asks for an LLM completion")
def test_input_required_result_sampling(ctx: Context) -> CallToolResult | InputRequiredResult:
    r = answer(ctx, "capital_question")
    if not isinstance(r, CreateMessageResult):
        return InputRequiredResult(input_requests={"capital_question": sample("What is the capital of France?", 100)})
    t = getattr(r.content, "text", None)
    return text(f"Sampling response: {t if isinstance(t, str) else r.model_dump_json(by_alias=True)}")


@no_args("test_input_required_result_list_roots", "MRTR: asks for the client roots")
def test_input_required_result_list_roots(ctx: Context) -> CallToolResult | InputRequiredResult:
    r = answer(ctx, "client_roots")
    if not isinstance(r, ListRootsResult):
        return InputRequiredResult(input_requests={"client_roots": ListRootsRequest()})
    return text(f"Client exposed {len(r.roots)} root(s): {', '.join(str(x.uri) for x in r.roots)}")


OK_SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


@no_args("test_input_required_result_request_state", "MRTR: round-trips integrity-protected requestState")
def test_input_required_result_request_state(ctx: Context) -> CallToolResult | InputRequiredResult:
    if accepted(ctx, "confirm") is None:
        return InputRequiredResult(input_requests={"confirm": elicit("Please confirm", OK_SCHEMA)},
                                   request_state=minted({"tool": "request_state", "nonce": str(uuid.uuid4())}))
    if (state(ctx) or {}).get("tool") != "request_state":
        raise MCPError(code=INVALID_PARAMS, message="Invalid requestState: missing or failed integrity verification")
    return text("state-ok: requestState verified and confirmation received")


@no_args("test_input_required_result_multiple_inputs", "MRTR: elicitation, sampling and roots in one round")
def test_input_required_result_multiple_inputs(ctx: Context) -> CallToolResult | InputRequiredResult:
    name = (accepted(ctx, "user_name") or {}).get("name")
    g = answer(ctx, "greeting")
    greeting = getattr(g.content, "text", None) if isinstance(g, CreateMessageResult) else None
    roots = answer(ctx, "client_roots")
    if not isinstance(name, str) or not isinstance(greeting, str) or not isinstance(roots, ListRootsResult):
        return InputRequiredResult(input_requests={
            "user_name": elicit("What is your name?", name_schema("name")),
            "greeting": sample("Generate a greeting", 50),
            "client_roots": ListRootsRequest(),
        }, request_state=minted({"tool": "multiple_inputs", "nonce": str(uuid.uuid4())}))
    return text(f"{greeting} {name} - {len(roots.roots)} root(s) visible")


@no_args("test_input_required_result_multi_round", "MRTR: two elicitation rounds with evolving requestState")
def test_input_required_result_multi_round(ctx: Context) -> CallToolResult | InputRequiredResult:
    st = state(ctx) or {}
    rnd = st.get("round") if st.get("tool") == "multi_round" and isinstance(st.get("round"), int) else 0
    if rnd == 0:
        return InputRequiredResult(input_requests={"step1": elicit("Step 1: What is your name?", name_schema("name"))},
                                   request_state=minted({"tool": "multi_round", "round": 1, "nonce": str(uuid.uuid4())}))
    if rnd == 1:
        name = (accepted(ctx, "step1") or {}).get("name", "unknown")
        return InputRequiredResult(
            input_requests={"step2": elicit("Step 2: What is your favorite color?", name_schema("color"))},
            request_state=minted({"tool": "multi_round", "round": 2, "name": name, "nonce": str(uuid.uuid4())}))
    color = (accepted(ctx, "step2") or {}).get("color", "unknown")
    return text(f"Multi-round complete: {st.get('name', 'unknown')} likes {color}")


@no_args("test_input_required_result_tampered_state", "MRTR: rejects tampered requestState")
def test_input_required_result_tampered_state(ctx: Context) -> CallToolResult | InputRequiredResult:
    # A tampered token never gets here: the SDK's RequestStateBoundary answers -32602 first.
    if state(ctx) is not None and accepted(ctx, "confirm") is not None:
        return text("integrity-ok: requestState verified")
    return InputRequiredResult(input_requests={"confirm": elicit("Please confirm", OK_SCHEMA)},
                               request_state=minted({"tool": "tampered_state", "nonce": str(uuid.uuid4())}))


@no_args("test_input_required_result_capabilities", "MRTR: only requests input kinds the client declared")
def test_input_required_result_capabilities(ctx: Context) -> CallToolResult | InputRequiredResult:
    if ctx.input_responses is not None:
        return text("Capability-aware input requests fulfilled")
    caps = ctx.client_capabilities
    reqs: dict[str, Any] = {}
    if caps is not None and caps.elicitation is not None:
        reqs["user_name"] = elicit("What is your name?", name_schema("name"))
    if caps is not None and caps.sampling is not None:
        reqs["greeting"] = sample("Generate a short greeting", 50)
    if caps is not None and caps.roots is not None:
        reqs["client_roots"] = ListRootsRequest()
    if not reqs:
        return text("No declared client capability supports an in-band input request")
    return InputRequiredResult(input_requests=reqs)


# ---- conformance resources ----
@server.resource("test://static-text", name="static-text", description="static-text", mime_type="text/plain")
def static_text() -> str:
    return "This is the content of the static text resource."


@server.resource("test://static-binary", name="static-binary", description="static-binary", mime_type="image/png")
def static_binary() -> bytes:
    return base64.b64decode(PNG)


@server.resource("test://watched-resource", name="watched-resource", description="watched-resource",
                 mime_type="text/plain")
def watched_resource() -> str:
    return "Watched resource content"


@server.resource("test://template/{id}/data", name="template", mime_type="application/json",
                 description="A resource template with parameter substitution")
def template(id: str) -> str:  # noqa: A002
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"}, separators=(",", ":"))


# ---- conformance prompts ----
@server.prompt(name="test_simple_prompt", description="A prompt without arguments")
def test_simple_prompt() -> list[UserMessage]:
    return [UserMessage("This is a simple prompt for testing.")]


@server.prompt(name="test_prompt_with_arguments", description="A prompt with two required arguments")
def test_prompt_with_arguments(arg1: Annotated[str, Field(description="First argument")],
                               arg2: Annotated[str, Field(description="Second argument")]) -> list[UserMessage]:
    return [UserMessage(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]


@server.prompt(name="test_prompt_with_embedded_resource", description="A prompt embedding a resource")
def test_prompt_with_embedded_resource(resourceUri: Annotated[str, Field(description="URI to embed")]  # noqa: N803
                                       ) -> list[UserMessage]:
    return [UserMessage(embedded(resourceUri, "text/plain", "Embedded resource content for testing.")),
            UserMessage("Please process the embedded resource above.")]


@server.prompt(name="test_prompt_with_image", description="A prompt with an image")
def test_prompt_with_image() -> list[UserMessage]:
    return [UserMessage(ImageContent(type="image", data=PNG, mime_type="image/png")),
            UserMessage("Please analyze the image above.")]


@server.prompt(name="test_input_required_result_prompt", description="MRTR: prompt that requires elicitation input")
def test_input_required_result_prompt(ctx: Context) -> list[UserMessage] | InputRequiredResult:
    c = (accepted(ctx, "user_context") or {}).get("context")
    if not isinstance(c, str):
        return InputRequiredResult(input_requests={
            "user_context": elicit("What context should the prompt use?", name_schema("context"))})
    return [UserMessage(f"Use the following context: {c}")]


@server.completion()
async def complete(ref, argument, context):  # noqa: ANN001
    return Completion(values=[], total=0, has_more=False)


# ---- 2025-era methods MCPServer does not register (the SDK serves them only at handshake versions) ----
low = server._lowlevel_server  # noqa: SLF001 - the documented lowlevel registration seam


async def _send_log(ctx, data: str) -> None:
    try:
        await ctx.session.send_log_message("info", data, logger="scenario-server-py")
    except Exception:  # noqa: BLE001
        pass


async def on_set_level(ctx, params: SetLevelRequestParams) -> EmptyResult:
    await _send_log(ctx, f"Log level set to: {params.level}")
    return EmptyResult()


async def on_subscribe(ctx, params: SubscribeRequestParams) -> EmptyResult:
    subs = legacy_subs.setdefault(str(params.uri), [])
    if ctx.session not in subs:
        subs.append(ctx.session)
    await _send_log(ctx, f"Subscribed to resource: {params.uri}")
    return EmptyResult()


async def on_unsubscribe(ctx, params: UnsubscribeRequestParams) -> EmptyResult:
    subs = legacy_subs.get(str(params.uri), [])
    if ctx.session in subs:
        subs.remove(ctx.session)
    await _send_log(ctx, f"Unsubscribed from resource: {params.uri}")
    return EmptyResult()


low.add_request_handler("logging/setLevel", SetLevelRequestParams, on_set_level)
low.add_request_handler("resources/subscribe", SubscribeRequestParams, on_subscribe)
low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, on_unsubscribe)

for _name, _schema in RAW_SCHEMAS.items():
    server._tool_manager.get_tool(_name).parameters = _schema  # noqa: SLF001


# ---- HTTP ----
class WireLog:
    """ASGI wrapper: one JSON line per exchange on /mcp (MT_WIRE_LOG=FILE), written when it ends."""

    def __init__(self, app, path: str) -> None:
        self.app, self.path = app, path

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.time()
        rec: dict[str, Any] = {
            "t": round(t0, 3), "method": scope["method"], "path": scope["path"],
            "request_headers": [[k.decode("latin-1"), "<redacted>" if k.lower() == b"authorization" else v.decode("latin-1")]
                                for k, v in scope["headers"]],
            "request_body": "", "status": None, "response_headers": [], "response_chunks": [],
        }

        async def recv():
            m = await receive()
            if m["type"] == "http.request":
                rec["request_body"] += m.get("body", b"").decode("utf-8", "replace")
            return m

        async def snd(m):
            if m["type"] == "http.response.start":
                rec["status"] = m["status"]
                rec["response_headers"] = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in m.get("headers", [])]
            elif m["type"] == "http.response.body" and m.get("body"):
                rec["response_chunks"].append([round(time.time() - t0, 3), m["body"].decode("utf-8", "replace")])
            await send(m)

        try:
            await self.app(scope, recv, snd)
        finally:
            rec["duration"] = round(time.time() - t0, 3)
            with open(self.path, "a") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("port", type=int, nargs="?", default=0)
    ap.add_argument("--stdio", action="store_true",
                    help="serve on stdin/stdout (the SDK's stdio transport) instead of HTTP")
    ap.add_argument("--stateless", action="store_true", default=os.environ.get("MT_PY_STATELESS") == "1",
                    help="2025-era leg without sessions (stateless_http=True)")
    a = ap.parse_args()
    host = os.environ.get("MT_BIND_HOST", "127.0.0.1")
    if not LOOPBACK.match(host):
        raise SystemExit(f"bind host {host} is not loopback")
    # Plain one-line records on stderr (MCPServer installed a rich console handler).
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, force=True,
                        format="scenario-server-py: %(levelname)s %(name)s: %(message)s")
    if a.stdio:
        log.warning("serving on stdio")
        server.run("stdio")
        return
    app = server.streamable_http_app(
        stateless_http=a.stateless,
        event_store=None if a.stateless else MemoryEventStore(),
        retry_interval=None if a.stateless else 1000,
        host=host,  # the SDK's DNS-rebinding protection: Host/Origin must be loopback
    )
    wire = os.environ.get("MT_WIRE_LOG", "")
    if wire:
        app = WireLog(app, wire)
    log.warning("listening on http://%s:%d/mcp (2025 leg %s)", host, a.port, "stateless" if a.stateless else "sessionful")
    uvicorn.run(app, host=host, port=a.port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
