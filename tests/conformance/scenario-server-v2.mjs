#!/usr/bin/env node
// Dual-stack scenario server written against the TypeScript SDK v2 (@modelcontextprotocol/server
// 2.4.0): Streamable HTTP on 127.0.0.1:PORT, endpoint /mcp.
//   - 2026-07-28 (stateless, per-request _meta envelope, server/discover, subscriptions/listen,
//     multi-round-trip input_required results, Mcp-Method/Mcp-Name/Mcp-Param-* checks) is served
//     by the SDK's createMcpHandler (a fresh McpServer per request).
//   - 2025-era traffic (initialize, Mcp-Session-Id sessions, GET SSE streams with resumability,
//     DELETE) goes to a sessionful WebStandardStreamableHTTPServerTransport per session; the
//     SDK's isLegacyRequest() decides which leg a request belongs to.
// One factory defines the tools/resources/prompts for both eras: the conformance suite's
// fixtures (test_*, json_schema_2020_12_tool, test_input_required_result_*, ...) and the
// "v2 session" contract used by mcptrail's tests (v2_echo, v2_deploy, v2_bump, demo://counter,
// demo://readme, v2_greet). Env MT_V2_LEDGER=FILE: every executed v2_deploy appends
// "deploy SERVICE VERSION\n" to FILE. Logs go to stderr only.
// Usage: node scenario-server-v2.mjs PORT
//        node scenario-server-v2.mjs --stdio   (the same server on stdin/stdout: the SDK's
//        serveStdio, which pins the connection to the era of its first message)
import fs from 'node:fs';
import http from 'node:http';
import { randomUUID, getRandomValues } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const peers = path.join(here, '..', 'peers', 'node_modules');
const S = await import(pathToFileURL(path.join(peers, '@modelcontextprotocol/server/dist/index.mjs')).href);
const {
  McpServer, ResourceTemplate, WebStandardStreamableHTTPServerTransport, createMcpHandler, isLegacyRequest,
  isInitializeRequest, createRequestStateCodec, fromJsonSchema, inputRequired, inputResponse, acceptedContent,
  ProtocolError, ProtocolErrorCode, CLIENT_CAPABILITIES_META_KEY,
} = S;

const stdioMode = process.argv[2] === '--stdio';
const port = stdioMode ? 0 : Number(process.argv[2] || process.env.PORT || 0);
const host = process.env.MT_BIND_HOST || '127.0.0.1';
if (!/^(127\.\d+\.\d+\.\d+|::1)$/.test(host)) throw new Error(`bind host ${host} is not loopback`);
const ledger = process.env.MT_V2_LEDGER || '';
const log = (...a) => console.error('scenario-server-v2:', ...a);

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const js = (schema) => fromJsonSchema(schema);
const noArgs = () => js({ type: 'object', properties: {} });
const text = (t) => ({ content: [{ type: 'text', text: t }] });
const nameSchema = (prop) => ({ type: 'object', properties: { [prop]: { type: 'string' } }, required: [prop] });

// requestState integrity (SEP-2322): HMAC-sealed with a per-process key; the seam-level verify
// hook rejects tampered/expired state with -32602 before any handler runs.
const stateCodec = createRequestStateCodec({ key: getRandomValues(new Uint8Array(32)) });

// Process-wide state shared by both eras.
let counter = 0;
const legacySessions = new Map(); // session id -> { transport, server, subs: Set<uri> }

const stdioServers = new Set(); // --stdio: the instances serveStdio made ({ server, era })

// Change notifications: HTTP: the modern handler's listen streams; stdio: the instance itself
// (serveStdio routes a modern instance's notifications to its subscriptions/listen requests).
const notify = {
  resourceUpdated(uri) {
    if (!stdioMode) modern.notify.resourceUpdated(uri);
    for (const s of stdioServers) {
      if (s.era === 'modern' || s.server.__subs.has(uri)) s.server.server.sendResourceUpdated({ uri }).catch(() => {});
    }
  },
  toolsChanged() {
    if (!stdioMode) modern.notify.toolsChanged();
    for (const s of stdioServers) s.server.sendToolListChanged();
  },
  promptsChanged() {
    if (!stdioMode) modern.notify.promptsChanged();
    for (const s of stdioServers) s.server.sendPromptListChanged();
  },
};

function resourceUpdated(uri) {
  notify.resourceUpdated(uri); // 2026-07-28: open subscriptions/listen streams that asked for uri
  for (const s of legacySessions.values()) {
    if (s.subs.has(uri)) s.server.server.sendResourceUpdated({ uri }).catch(() => {});
  }
}

function createServer(era) {
  const server = new McpServer({ name: 'mcptrail-scenario-server-v2', version: '2.4.0' }, {
    capabilities: {
      tools: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      prompts: { listChanged: true },
      logging: {}, // 2025 era only (deprecated in 2026-07-28; ignored there)
      completions: {},
    },
    requestState: { verify: stateCodec.verify },
  });
  const sessionSubs = new Set();
  server.__subs = sessionSubs;
  const tool = (name, description, inputSchema, cb) => server.registerTool(name, { description, inputSchema }, cb);

  // ---- mcptrail "v2 session" contract ----
  tool('v2_echo', 'Echoes message back as one text block',
    js({ type: 'object', properties: { message: { type: 'string' } }, required: ['message'] }),
    async ({ message }) => text(message));

  tool('v2_deploy', 'Deploys service@version after an in-band confirmation (multi-round-trip elicitation)',
    js({ type: 'object', properties: { service: { type: 'string' }, version: { type: 'string' } }, required: ['service', 'version'] }),
    async ({ service, version }, ctx) => {
      const ask = async () => inputRequired({
        inputRequests: {
          confirm: inputRequired.elicit({
            mode: 'form',
            message: `Deploy ${service} ${version}?`,
            requestedSchema: { type: 'object', properties: { confirm: { type: 'boolean' } }, required: ['confirm'] },
          }),
        },
        requestState: await stateCodec.mint({ tool: 'v2_deploy', service, version }),
      });
      const answer = inputResponse(ctx.mcpReq.inputResponses, 'confirm');
      if (answer.kind !== 'elicit') return ask(); // first round, or a retry without the answer
      const state = ctx.mcpReq.requestState();
      // 2025-era sessions: the SDK's legacy shim sends elicitation/create itself and re-enters
      // the handler without requestState. 2026-07-28: the (verified) state must be present and
      // must name the same service and version as the retried call.
      if (era === 'modern' || state !== undefined) {
        if (state === undefined) return ask();
        if (state.tool !== 'v2_deploy' || state.service !== service || state.version !== version) {
          throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'requestState does not match the call arguments');
        }
      }
      if (answer.action === 'accept' && answer.content?.confirm === true) {
        if (ledger) fs.appendFileSync(ledger, `deploy ${service} ${version}\n`);
        log(`executed deploy ${service} ${version}`);
        return text(`deployed ${service}@${version}`);
      }
      return text('cancelled');
    });

  tool('v2_bump', 'Increments the demo counter and notifies demo://counter subscribers', noArgs(), async () => {
    counter += 1;
    resourceUpdated('demo://counter');
    return text(String(counter));
  });

  server.registerResource('counter', 'demo://counter', { description: 'The demo counter (v2_bump increments it)', mimeType: 'text/plain' },
    async () => ({ contents: [{ uri: 'demo://counter', mimeType: 'text/plain', text: String(counter) }] }));
  server.registerResource('readme', 'demo://readme', { description: 'A static text resource', mimeType: 'text/plain' },
    async () => ({ contents: [{ uri: 'demo://readme', mimeType: 'text/plain', text: 'mcptrail v2 demo' }] }));

  server.registerPrompt('v2_greet', { description: 'Greets name',
    argsSchema: js({ type: 'object', properties: { name: { type: 'string', description: 'Who to greet' } }, required: ['name'] }) },
  async ({ name }) => ({ messages: [{ role: 'user', content: { type: 'text', text: `Hello, ${name}!` } }] }));

  // ---- conformance fixtures (names the suite's scenarios call) ----
  tool('test_simple_text', 'Returns one text block', noArgs(), async () => text('This is a simple text response for testing.'));
  tool('test_image_content', 'Returns an image block', noArgs(), async () => ({ content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] }));
  tool('test_audio_content', 'Returns an audio block', noArgs(), async () => ({ content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] }));
  tool('test_embedded_resource', 'Returns an embedded resource', noArgs(), async () => ({ content: [{ type: 'resource', resource: {
    uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }] }));
  tool('test_multiple_content_types', 'Returns text, image and resource', noArgs(), async () => ({ content: [
    { type: 'text', text: 'Multiple content types test:' },
    { type: 'image', data: PNG, mimeType: 'image/png' },
    { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: JSON.stringify({ test: 'data', value: 123 }) } }] }));
  tool('test_tool_with_logging', 'Sends log notifications while running', noArgs(), async (_a, ctx) => {
    for (const [i, m] of ['Tool execution started', 'Tool processing data', 'Tool execution completed'].entries()) {
      if (i) await sleep(50);
      await ctx.mcpReq.notify({ method: 'notifications/message', params: { level: 'info', data: m } });
    }
    return text('Tool with logging executed successfully');
  });
  tool('test_tool_with_progress', 'Sends progress notifications while running', noArgs(), async (_a, ctx) => {
    const progressToken = ctx.mcpReq._meta?.progressToken;
    if (progressToken !== undefined) {
      for (const p of [0, 50, 100]) {
        await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress: p, total: 100, message: `Completed step ${p} of 100` } });
        if (p < 100) await sleep(50);
      }
    }
    return text(String(progressToken ?? 'no-progress-token'));
  });
  tool('test_error_handling', 'Always fails with isError', noArgs(), async () => {
    throw new Error('This tool intentionally returns an error for testing');
  });
  tool('test_reconnection', 'Closes its SSE stream mid-call (SEP-1699)', noArgs(), async (_a, ctx) => {
    const s = ctx.sessionId ? legacySessions.get(ctx.sessionId) : undefined;
    if (s && ctx.mcpReq.id !== undefined) s.transport.closeSSEStream(ctx.mcpReq.id);
    await sleep(100);
    return text('Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.');
  });
  // 2025-era server->client requests (on a 2026-07-28 request ctx.mcpReq.send throws; the
  // error is reported as text, as the SDK's own conformance server does).
  const sendText = async (ctx, req, fmt) => {
    try { return text(fmt(await ctx.mcpReq.send(req))); } catch (e) { return text(`Not supported or error: ${e?.message ?? e}`); }
  };
  tool('test_sampling', 'Asks the client for sampling/createMessage',
    js({ type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] }),
    async ({ prompt }, ctx) => sendText(ctx, { method: 'sampling/createMessage', params: {
      messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 } },
    (r) => `LLM response: ${r?.content?.text ?? 'No response'}`));
  tool('test_elicitation', 'Asks the client for elicitation/create',
    js({ type: 'object', properties: { message: { type: 'string' } }, required: ['message'] }),
    async ({ message }, ctx) => sendText(ctx, { method: 'elicitation/create', params: { mode: 'form', message,
      requestedSchema: { type: 'object', properties: { response: { type: 'string', description: "User's response" } }, required: ['response'] } } },
    (r) => `User response: action=${r.action}, content=${JSON.stringify(r.content || {})}`));
  const elicitSchemas = {
    test_elicitation_sep1034_defaults: {
      message: 'Please review and update the form fields with defaults',
      requestedSchema: { type: 'object', required: [], properties: {
        name: { type: 'string', description: 'User name', default: 'John Doe' },
        age: { type: 'integer', description: 'User age', default: 30 },
        score: { type: 'number', description: 'User score', default: 95.5 },
        status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
        verified: { type: 'boolean', description: 'Verification status', default: true },
      } },
    },
    test_elicitation_sep1330_enums: {
      message: 'Please select options from the enum fields',
      requestedSchema: { type: 'object', required: [], properties: {
        untitledSingle: { type: 'string', description: 'Select one option', enum: ['option1', 'option2', 'option3'] },
        titledSingle: { type: 'string', description: 'Select one option with titles',
          oneOf: [{ const: 'value1', title: 'First Option' }, { const: 'value2', title: 'Second Option' }, { const: 'value3', title: 'Third Option' }] },
        legacyEnum: { type: 'string', description: 'Select one option (legacy)', enum: ['opt1', 'opt2', 'opt3'],
          enumNames: ['Option One', 'Option Two', 'Option Three'] },
        untitledMulti: { type: 'array', description: 'Select multiple options', minItems: 1, maxItems: 3,
          items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
        titledMulti: { type: 'array', description: 'Select multiple options with titles', minItems: 1, maxItems: 3,
          items: { anyOf: [{ const: 'value1', title: 'First Choice' }, { const: 'value2', title: 'Second Choice' }, { const: 'value3', title: 'Third Choice' }] } },
      } },
    },
  };
  for (const [name, params] of Object.entries(elicitSchemas)) {
    tool(name, `Elicitation (${name.split('_')[2]})`, noArgs(), async (_a, ctx) => sendText(ctx,
      { method: 'elicitation/create', params: { mode: 'form', ...params } },
      (r) => `Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content || {})}`));
  }
  tool('json_schema_2020_12_tool', 'Input schema with JSON Schema 2020-12 features (SEP-1613, SEP-2106)', js({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    $defs: { address: { $anchor: 'addressDef', type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
    properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' }, contactMethod: { type: 'string', enum: ['phone', 'email'] },
      phone: { type: 'string' }, email: { type: 'string' } },
    allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
    if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
    then: { required: ['phone'] },
    else: { required: ['email'] },
    additionalProperties: false,
  }), async (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`));

  // SEP-2243: a tool whose argument is mirrored into an Mcp-Param-Region header.
  tool('test_x_mcp_header', 'Tests SEP-2243 Mcp-Param-* server-side validation', js({ type: 'object', properties: {
    region: { type: 'string', description: 'mirrored into Mcp-Param-Region', 'x-mcp-header': 'Region' },
    level: { type: 'integer', description: 'non-mirrored argument' } } }),
  async (args) => text(`region=${args.region ?? '<none>'}`));

  // SEP-2575 server-stateless diagnostics.
  tool('test_missing_capability', 'Requires the sampling client capability (undeclared -> -32021)', noArgs(), async (_a, ctx) => {
    if (ctx.mcpReq.inputResponses?.llm_answer === undefined) {
      return inputRequired({ inputRequests: { llm_answer: inputRequired.createMessage({
        messages: [{ role: 'user', content: { type: 'text', text: 'Reply with the single word: pong' } }], maxTokens: 16 }) } });
    }
    return text('sampling round-trip complete');
  });
  tool('test_streaming_elicitation', 'Response stream with result frames only', noArgs(),
    async () => text('stream observed: result frames only, no top-level requests'));
  tool('test_logging_tool', 'Logs through the request-scoped, logLevel-gated channel', noArgs(), async (_a, ctx) => {
    await ctx.mcpReq.log('info', 'test_logging_tool ran (delivered only when the request set _meta logLevel)');
    return text('logged through the request-scoped, logLevel-gated channel');
  });
  tool('test_trigger_tool_change', 'Publishes tools/list_changed to listen streams', noArgs(), async () => {
    notify.toolsChanged();
    return text('tools_list_changed published');
  });
  tool('test_trigger_prompt_change', 'Publishes prompts/list_changed to listen streams', noArgs(), async () => {
    notify.promptsChanged();
    return text('prompts_list_changed published');
  });

  // SEP-2322 multi-round-trip fixtures.
  tool('test_input_required_result_elicitation', 'MRTR: asks for the caller name', noArgs(), async (_a, ctx) => {
    const name = acceptedContent(ctx.mcpReq.inputResponses, 'user_name')?.name;
    if (typeof name !== 'string') {
      return inputRequired({ inputRequests: { user_name: inputRequired.elicit({ message: 'What is your name?', requestedSchema: nameSchema('name') }) } });
    }
    return text(`Hello, ${name}!`);
  });
  tool('test_input_required_result_sampling', 'MRTR: asks for an LLM completion', noArgs(), async (_a, ctx) => {
    const r = ctx.mcpReq.inputResponses?.capital_question;
    if (r === undefined) {
      return inputRequired({ inputRequests: { capital_question: inputRequired.createMessage({
        messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }], maxTokens: 100 }) } });
    }
    return text(`Sampling response: ${typeof r.content?.text === 'string' ? r.content.text : JSON.stringify(r)}`);
  });
  tool('test_input_required_result_list_roots', 'MRTR: asks for the client roots', noArgs(), async (_a, ctx) => {
    const r = ctx.mcpReq.inputResponses?.client_roots;
    if (!Array.isArray(r?.roots)) return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
    return text(`Client exposed ${r.roots.length} root(s): ${r.roots.map((x) => x.uri).join(', ')}`);
  });
  const okSchema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] };
  tool('test_input_required_result_request_state', 'MRTR: round-trips integrity-protected requestState', noArgs(), async (_a, ctx) => {
    if (acceptedContent(ctx.mcpReq.inputResponses, 'confirm') === undefined) {
      return inputRequired({ inputRequests: { confirm: inputRequired.elicit({ message: 'Please confirm', requestedSchema: okSchema }) },
        requestState: await stateCodec.mint({ tool: 'request_state', nonce: randomUUID() }) });
    }
    if (ctx.mcpReq.requestState() === undefined) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid requestState: missing or failed integrity verification');
    }
    return text('state-ok: requestState verified and confirmation received');
  });
  tool('test_input_required_result_multiple_inputs', 'MRTR: elicitation, sampling and roots in one round', noArgs(), async (_a, ctx) => {
    const r = ctx.mcpReq.inputResponses;
    const name = acceptedContent(r, 'user_name')?.name;
    const greeting = r?.greeting?.content?.text;
    const roots = r?.client_roots?.roots;
    if (typeof name !== 'string' || typeof greeting !== 'string' || !Array.isArray(roots)) {
      return inputRequired({ inputRequests: {
        user_name: inputRequired.elicit({ message: 'What is your name?', requestedSchema: nameSchema('name') }),
        greeting: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 }),
        client_roots: inputRequired.listRoots(),
      }, requestState: await stateCodec.mint({ tool: 'multiple_inputs', nonce: randomUUID() }) });
    }
    return text(`${greeting} ${name} - ${roots.length} root(s) visible`);
  });
  tool('test_input_required_result_multi_round', 'MRTR: two elicitation rounds with evolving requestState', noArgs(), async (_a, ctx) => {
    const st = ctx.mcpReq.requestState();
    const round = st?.tool === 'multi_round' && typeof st.round === 'number' ? st.round : 0;
    if (round === 0) {
      return inputRequired({ inputRequests: { step1: inputRequired.elicit({ message: 'Step 1: What is your name?', requestedSchema: nameSchema('name') }) },
        requestState: await stateCodec.mint({ tool: 'multi_round', round: 1, nonce: randomUUID() }) });
    }
    if (round === 1) {
      const name = acceptedContent(ctx.mcpReq.inputResponses, 'step1')?.name ?? 'unknown';
      return inputRequired({ inputRequests: { step2: inputRequired.elicit({ message: 'Step 2: What is your favorite color?', requestedSchema: nameSchema('color') }) },
        requestState: await stateCodec.mint({ tool: 'multi_round', round: 2, name, nonce: randomUUID() }) });
    }
    const color = acceptedContent(ctx.mcpReq.inputResponses, 'step2')?.color ?? 'unknown';
    return text(`Multi-round complete: ${String(st?.name ?? 'unknown')} likes ${color}`);
  });
  tool('test_input_required_result_tampered_state', 'MRTR: rejects tampered requestState', noArgs(), async (_a, ctx) => {
    if (ctx.mcpReq.requestState() !== undefined && acceptedContent(ctx.mcpReq.inputResponses, 'confirm') !== undefined) {
      return text('integrity-ok: requestState verified');
    }
    return inputRequired({ inputRequests: { confirm: inputRequired.elicit({ message: 'Please confirm', requestedSchema: okSchema }) },
      requestState: await stateCodec.mint({ tool: 'tampered_state', nonce: randomUUID() }) });
  });
  tool('test_input_required_result_capabilities', 'MRTR: only requests input kinds the client declared', noArgs(), async (_a, ctx) => {
    if (ctx.mcpReq.inputResponses !== undefined) return text('Capability-aware input requests fulfilled');
    const declared = ctx.mcpReq.envelope?.[CLIENT_CAPABILITIES_META_KEY];
    const inputRequests = {};
    if (declared?.elicitation !== undefined) inputRequests.user_name = inputRequired.elicit({ message: 'What is your name?', requestedSchema: nameSchema('name') });
    if (declared?.sampling !== undefined) inputRequests.greeting = inputRequired.createMessage({
      messages: [{ role: 'user', content: { type: 'text', text: 'Generate a short greeting' } }], maxTokens: 50 });
    if (declared?.roots !== undefined) inputRequests.client_roots = inputRequired.listRoots();
    if (!Object.keys(inputRequests).length) return text('No declared client capability supports an in-band input request');
    return inputRequired({ inputRequests });
  });

  // ---- conformance resources ----
  const staticRes = (name, uri, mimeType, body) => server.registerResource(name, uri, { description: name, mimeType },
    async () => ({ contents: [{ uri, mimeType, ...body }] }));
  staticRes('static-text', 'test://static-text', 'text/plain', { text: 'This is the content of the static text resource.' });
  staticRes('static-binary', 'test://static-binary', 'image/png', { blob: PNG });
  staticRes('watched-resource', 'test://watched-resource', 'text/plain', { text: 'Watched resource content' });
  server.registerResource('template', new ResourceTemplate('test://template/{id}/data', { list: undefined }),
    { description: 'A resource template with parameter substitution', mimeType: 'application/json' },
    async (uri, { id }) => ({ contents: [{ uri: uri.toString(), mimeType: 'application/json',
      text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }] }));
  // 2025 era: resources/subscribe + unsubscribe (2026-07-28 uses subscriptions/listen instead).
  const sendLog = (data) => server.server.notification({ method: 'notifications/message',
    params: { level: 'info', logger: 'scenario-server-v2', data } }).catch(() => {});
  server.server.setRequestHandler('resources/subscribe', async (req) => { sessionSubs.add(req.params.uri); sendLog(`Subscribed to resource: ${req.params.uri}`); return {}; });
  server.server.setRequestHandler('resources/unsubscribe', async (req) => { sessionSubs.delete(req.params.uri); sendLog(`Unsubscribed from resource: ${req.params.uri}`); return {}; });

  // ---- conformance prompts ----
  const user = (content) => ({ role: 'user', content });
  server.registerPrompt('test_simple_prompt', { description: 'A prompt without arguments' },
    async () => ({ messages: [user({ type: 'text', text: 'This is a simple prompt for testing.' })] }));
  server.registerPrompt('test_prompt_with_arguments', { description: 'A prompt with two required arguments',
    argsSchema: js({ type: 'object', properties: { arg1: { type: 'string', description: 'First argument' }, arg2: { type: 'string', description: 'Second argument' } }, required: ['arg1', 'arg2'] }) },
  async (a) => ({ messages: [user({ type: 'text', text: `Prompt with arguments: arg1='${a.arg1}', arg2='${a.arg2}'` })] }));
  server.registerPrompt('test_prompt_with_embedded_resource', { description: 'A prompt embedding a resource',
    argsSchema: js({ type: 'object', properties: { resourceUri: { type: 'string', description: 'URI to embed' } }, required: ['resourceUri'] }) },
  async (a) => ({ messages: [
    user({ type: 'resource', resource: { uri: a.resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } }),
    user({ type: 'text', text: 'Please process the embedded resource above.' })] }));
  server.registerPrompt('test_prompt_with_image', { description: 'A prompt with an image' },
    async () => ({ messages: [user({ type: 'image', data: PNG, mimeType: 'image/png' }), user({ type: 'text', text: 'Please analyze the image above.' })] }));
  server.registerPrompt('test_input_required_result_prompt', { description: 'MRTR: prompt that requires elicitation input' }, async (ctx) => {
    const c = acceptedContent(ctx.mcpReq.inputResponses, 'user_context')?.context;
    if (typeof c !== 'string') {
      return inputRequired({ inputRequests: { user_context: inputRequired.elicit({ message: 'What context should the prompt use?', requestedSchema: nameSchema('context') }) } });
    }
    return { messages: [user({ type: 'text', text: `Use the following context: ${c}` })] };
  });

  server.server.setRequestHandler('logging/setLevel', async (req) => { sendLog(`Log level set to: ${req.params.level}`); return {}; });
  server.server.setRequestHandler('completion/complete', async () => ({ completion: { values: [], total: 0, hasMore: false } }));
  return server;
}

// ---- 2026-07-28 leg ----
const modern = createMcpHandler(() => createServer('modern'), {
  legacy: 'reject',
  onerror: (e) => log('modern handler:', e?.message ?? e),
});

// ---- 2025 leg: one sessionful transport per Mcp-Session-Id ----
function makeEventStore() {
  const events = []; // [eventId, streamId, message]
  let n = 0;
  return {
    async storeEvent(streamId, message) {
      const id = `${streamId}::${String(++n).padStart(8, '0')}`;
      events.push([id, streamId, message]);
      return id;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const streamId = lastEventId.split('::')[0];
      const i = events.findIndex(([id]) => id === lastEventId);
      for (const [id, sid, msg] of events.slice(i + 1)) if (sid === streamId) await send(id, msg);
      return streamId;
    },
  };
}

const jsonError = (status, code, message, id = null) => new Response(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id }),
  { status, headers: { 'content-type': 'application/json' } });

async function legacy(request, body) {
  const sid = request.headers.get('mcp-session-id');
  if (sid) {
    const s = legacySessions.get(sid);
    if (!s) return jsonError(404, -32001, 'Session not found');
    return s.transport.handleRequest(request, { parsedBody: body });
  }
  if (request.method !== 'POST') return jsonError(400, -32000, 'Bad Request: Mcp-Session-Id required');
  if (body === undefined) return jsonError(400, -32700, 'Parse error');
  if (!(Array.isArray(body) ? body : [body]).some((m) => isInitializeRequest(m))) {
    return jsonError(400, -32000, 'Bad Request: no valid session ID');
  }
  const server = createServer('legacy');
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    eventStore: makeEventStore(),
    retryInterval: 1000,
    onsessioninitialized: (id) => legacySessions.set(id, { transport, server, subs: server.__subs }),
    onsessionclosed: (id) => legacySessions.delete(id),
  });
  transport.onclose = () => { if (transport.sessionId) legacySessions.delete(transport.sessionId); };
  await server.connect(transport);
  return transport.handleRequest(request, { parsedBody: body });
}

// ---- node:http <-> web Request/Response ----
const loopbackName = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i;
function hostAllowed(req) {
  if (!loopbackName.test(req.headers.host || '')) return false;
  const o = req.headers.origin;
  if (o === undefined) return true;
  try { return loopbackName.test(new URL(o).host); } catch { return false; }
}

async function readBody(req, limit = 4 << 20) {
  const chunks = []; let n = 0;
  for await (const c of req) { n += c.length; if (n > limit) throw Object.assign(new Error('body too large'), { tooLarge: true }); chunks.push(c); }
  return Buffer.concat(chunks).toString('utf8');
}

async function sendWeb(res, response) {
  const headers = {};
  response.headers.forEach((v, k) => { headers[k] = v; });
  res.writeHead(response.status, headers);
  if (!response.body) { res.end(); return; }
  const reader = response.body.getReader();
  res.on('close', () => { reader.cancel().catch(() => {}); });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      res.write(value);
    }
  } catch { /* client went away */ }
  res.end();
}

if (stdioMode) {
  const { serveStdio } = await import(pathToFileURL(path.join(peers, '@modelcontextprotocol/server/dist/stdio.mjs')).href);
  serveStdio(({ era }) => {
    const server = createServer(era);
    stdioServers.add({ server, era });
    return server;
  }, { onerror: (e) => log('stdio:', e?.message ?? e) });
  log('serving on stdio');
}

const httpServer = stdioMode ? null : http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname !== '/mcp') return sendWeb(res, jsonError(404, -32000, 'Not found'));
    if (!hostAllowed(req)) return sendWeb(res, jsonError(403, -32000, 'Forbidden: Host/Origin not allowed'));
    let bodyText;
    if (req.method === 'POST') {
      try { bodyText = await readBody(req); } catch (e) { return sendWeb(res, jsonError(413, -32600, 'Request body too large')); }
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (Array.isArray(v)) for (const x of v) headers.append(k, x); else if (v !== undefined) headers.set(k, v);
    }
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, body: bodyText, signal: ac.signal });
    let body;
    if (bodyText !== undefined) { try { body = JSON.parse(bodyText); } catch { body = undefined; } }
    const isLegacy = await isLegacyRequest(request, body);
    const response = isLegacy ? await legacy(request, body) : await modern.fetch(request, { parsedBody: body });
    await sendWeb(res, response);
  } catch (e) {
    log('request failed:', e?.stack ?? e);
    if (!res.headersSent) await sendWeb(res, jsonError(500, -32603, 'Internal error'));
    else res.end();
  }
});
httpServer?.listen(port, host, () => log(`listening on http://${host}:${httpServer.address().port}/mcp`));
const stop = () => {
  httpServer?.close();
  modern.close().catch(() => {});
  for (const s of legacySessions.values()) s.transport.close().catch(() => {});
  setTimeout(() => process.exit(0), 200).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
