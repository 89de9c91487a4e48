#!/usr/bin/env node
// Scenario server for the MCP conformance suite's server scenarios, written against the
// low-level Server of @modelcontextprotocol/sdk. Streamable HTTP (stateful sessions,
// resumable SSE through an in-memory event store) on 127.0.0.1:PORT, endpoint /mcp.
// Implements the tools, resources and prompts the suite's scenarios call by name.
// Usage: node scenario-server.mjs PORT
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const peers = path.join(here, '..', 'peers', 'node_modules');
const sdk = (p) => import(pathToFileURL(path.join(peers, '@modelcontextprotocol/sdk/dist/esm', p)).href);
const { Server } = await sdk('server/index.js');
const { StreamableHTTPServerTransport } = await sdk('server/streamableHttp.js');
const T = await sdk('types.js');

const port = Number(process.argv[2] || process.env.PORT || 0);
const host = process.env.MT_BIND_HOST || '127.0.0.1';
if (!/^(127\.\d+\.\d+\.\d+|::1)$/.test(host)) throw new Error(`bind host ${host} is not loopback`);

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const empty = { type: 'object', properties: {} };

const tools = [
  { name: 'test_simple_text', description: 'Returns one text block', inputSchema: empty },
  { name: 'test_image_content', description: 'Returns an image block', inputSchema: empty },
  { name: 'test_audio_content', description: 'Returns an audio block', inputSchema: empty },
  { name: 'test_embedded_resource', description: 'Returns an embedded resource', inputSchema: empty },
  { name: 'test_multiple_content_types', description: 'Returns text, image and resource', inputSchema: empty },
  { name: 'test_tool_with_logging', description: 'Sends log notifications while running', inputSchema: empty },
  { name: 'test_tool_with_progress', description: 'Sends progress notifications while running', inputSchema: empty },
  { name: 'test_error_handling', description: 'Always fails with isError', inputSchema: empty },
  { name: 'test_reconnection', description: 'Closes its SSE stream mid-call (SEP-1699)', inputSchema: empty },
  { name: 'test_sampling', description: 'Asks the client for sampling/createMessage',
    inputSchema: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] } },
  { name: 'test_elicitation', description: 'Asks the client for elicitation/create',
    inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } },
  { name: 'test_elicitation_sep1034_defaults', description: 'Elicitation with defaults (SEP-1034)', inputSchema: empty },
  { name: 'test_elicitation_sep1330_enums', description: 'Elicitation with enum variants (SEP-1330)', inputSchema: empty },
  { name: 'json_schema_2020_12_tool', description: 'Input schema with JSON Schema 2020-12 features (SEP-1613)',
    inputSchema: {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
      properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
      additionalProperties: false,
    } },
];

const staticResources = {
  'test://static-text': { name: 'static-text', mimeType: 'text/plain', text: 'This is the content of the static text resource.' },
  'test://static-binary': { name: 'static-binary', mimeType: 'image/png', blob: PNG },
  'test://watched-resource': { name: 'watched-resource', mimeType: 'text/plain', text: 'Watched resource content' },
};

const prompts = [
  { name: 'test_simple_prompt', description: 'A prompt without arguments' },
  { name: 'test_prompt_with_arguments', description: 'A prompt with two required arguments',
    arguments: [{ name: 'arg1', description: 'First argument', required: true },
                { name: 'arg2', description: 'Second argument', required: true }] },
  { name: 'test_prompt_with_embedded_resource', description: 'A prompt embedding a resource',
    arguments: [{ name: 'resourceUri', description: 'URI to embed', required: true }] },
  { name: 'test_prompt_with_image', description: 'A prompt with an image' },
];

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

const transports = new Map(); // session id -> transport

function makeEventStore() {
  const events = []; // [eventId, streamId, message] in order
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
      for (const [id, sid, msg] of events.slice(i + 1)) {
        if (sid === streamId) await send(id, msg);
      }
      return streamId;
    },
  };
}

function createServer(getTransport) {
  const server = new Server({ name: 'mcptrail-conformance-scenarios', version: '1.0.0' }, {
    capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true },
      prompts: { listChanged: true }, logging: {}, completions: {} },
  });
  const log = (data) => server.notification({ method: 'notifications/message',
    params: { level: 'info', logger: 'scenario-server', data } }).catch(() => {});

  server.setRequestHandler(T.ListToolsRequestSchema, async () => ({ tools }));
  server.setRequestHandler(T.CallToolRequestSchema, async (req, extra) => {
    const { name, arguments: args = {} } = req.params;
    const text = (t) => ({ content: [{ type: 'text', text: t }] });
    const notify = (method, params) => extra.sendNotification({ method, params });
    switch (name) {
      case 'test_simple_text': return text('This is a simple text response for testing.');
      case 'test_image_content': return { content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] };
      case 'test_audio_content': return { content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] };
      case 'test_embedded_resource': return { content: [{ type: 'resource', resource: {
        uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }] };
      case 'test_multiple_content_types': return { content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: PNG, mimeType: 'image/png' },
        { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json',
          text: JSON.stringify({ test: 'data', value: 123 }) } }] };
      case 'test_tool_with_logging':
        for (const [i, m] of ['Tool execution started', 'Tool processing data', 'Tool execution completed'].entries()) {
          if (i) await sleep(50);
          await notify('notifications/message', { level: 'info', data: m });
        }
        return text('Tool with logging executed successfully');
      case 'test_tool_with_progress': {
        const progressToken = extra._meta?.progressToken ?? 0;
        for (const p of [0, 50, 100]) {
          if (p) await sleep(50);
          await notify('notifications/progress', { progressToken, progress: p, total: 100, message: `Completed step ${p} of 100` });
        }
        return text(String(progressToken));
      }
      case 'test_error_handling':
        return { isError: true, content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }] };
      case 'test_reconnection': {
        const t = getTransport();
        if (t && extra.requestId !== undefined) t.closeSSEStream(extra.requestId);
        await sleep(100);
        return text('Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.');
      }
      case 'test_sampling': {
        const r = await server.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: String(args.prompt ?? '') } }], maxTokens: 100 });
        return text(`LLM response: ${r.content?.text ?? 'No response'}`);
      }
      case 'test_elicitation': {
        // server.request, not elicitInput: the result is reported as received, not validated.
        const r = await server.request({ method: 'elicitation/create', params: { mode: 'form', message: String(args.message ?? ''),
          requestedSchema: { type: 'object', properties: { response: { type: 'string', description: "User's response" } },
            required: ['response'] } } }, T.ElicitResultSchema);
        return text(`User response: action=${r.action}, content=${JSON.stringify(r.content || {})}`);
      }
      case 'test_elicitation_sep1034_defaults':
      case 'test_elicitation_sep1330_enums': {
        const r = await server.request({ method: 'elicitation/create', params: { mode: 'form', ...elicitSchemas[name] } }, T.ElicitResultSchema);
        return text(`Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content || {})}`);
      }
      case 'json_schema_2020_12_tool': return text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`);
      default:
        throw new T.McpError(T.ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    }
  });

  server.setRequestHandler(T.ListResourcesRequestSchema, async () => ({
    resources: Object.entries(staticResources).map(([uri, r]) => ({ uri, name: r.name, mimeType: r.mimeType })),
  }));
  server.setRequestHandler(T.ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [{ uriTemplate: 'test://template/{id}/data', name: 'template', mimeType: 'application/json',
      description: 'A resource template with parameter substitution' }],
  }));
  server.setRequestHandler(T.ReadResourceRequestSchema, async (req) => {
    const uri = req.params.uri;
    const r = staticResources[uri];
    if (r) {
      const c = { uri, mimeType: r.mimeType };
      if (r.text !== undefined) c.text = r.text; else c.blob = r.blob;
      return { contents: [c] };
    }
    const m = /^test:\/\/template\/([^/]+)\/data$/.exec(uri);
    if (m) return { contents: [{ uri, mimeType: 'application/json',
      text: JSON.stringify({ id: m[1], templateTest: true, data: `Data for ID: ${m[1]}` }) }] };
    throw new T.McpError(-32002, `Resource not found: ${uri}`, { uri });
  });
  server.setRequestHandler(T.SubscribeRequestSchema, async (req) => { log(`Subscribed to resource: ${req.params.uri}`); return {}; });
  server.setRequestHandler(T.UnsubscribeRequestSchema, async (req) => { log(`Unsubscribed from resource: ${req.params.uri}`); return {}; });

  server.setRequestHandler(T.ListPromptsRequestSchema, async () => ({ prompts }));
  server.setRequestHandler(T.GetPromptRequestSchema, async (req) => {
    const { name, arguments: a = {} } = req.params;
    const user = (content) => ({ role: 'user', content });
    switch (name) {
      case 'test_simple_prompt':
        return { messages: [user({ type: 'text', text: 'This is a simple prompt for testing.' })] };
      case 'test_prompt_with_arguments':
        return { messages: [user({ type: 'text', text: `Prompt with arguments: arg1='${a.arg1}', arg2='${a.arg2}'` })] };
      case 'test_prompt_with_embedded_resource':
        return { messages: [
          user({ type: 'resource', resource: { uri: a.resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } }),
          user({ type: 'text', text: 'Please process the embedded resource above.' })] };
      case 'test_prompt_with_image':
        return { messages: [user({ type: 'image', data: PNG, mimeType: 'image/png' }),
          user({ type: 'text', text: 'Please analyze the image above.' })] };
      default:
        throw new T.McpError(T.ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
    }
  });

  server.setRequestHandler(T.SetLevelRequestSchema, async (req) => { log(`Log level set to: ${req.params.level}`); return {}; });
  server.setRequestHandler(T.CompleteRequestSchema, async () => ({ completion: { values: [], total: 0, hasMore: false } }));
  return server;
}

// DNS-rebinding protection: only loopback Host names, and Origin (when present) loopback too.
const loopbackName = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/i;
function hostAllowed(req) {
  if (!loopbackName.test(req.headers.host || '')) return false;
  const o = req.headers.origin;
  if (o === undefined) return true;
  try { return loopbackName.test(new URL(o).host); } catch { return false; }
}

function jsonError(res, status, code, message) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

async function readBody(req, limit = 4 << 20) {
  const chunks = []; let n = 0;
  for await (const c of req) { n += c.length; if (n > limit) throw new Error('body too large'); chunks.push(c); }
  return Buffer.concat(chunks).toString('utf8');
}

const httpServer = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://x');
    if (url.pathname !== '/mcp') return jsonError(res, 404, -32000, 'Not found');
    if (!hostAllowed(req)) return jsonError(res, 403, -32000, 'Forbidden: Host/Origin not allowed');
    const sid = req.headers['mcp-session-id'];
    if (req.method === 'POST') {
      let body;
      try { body = JSON.parse(await readBody(req)); } catch { return jsonError(res, 400, -32700, 'Parse error'); }
      if (sid && transports.has(sid)) return await transports.get(sid).handleRequest(req, res, body);
      if (sid) return jsonError(res, 404, -32001, 'Session not found');
      const isInit = (Array.isArray(body) ? body : [body]).some((m) => m && m.method === 'initialize');
      if (!isInit) return jsonError(res, 400, -32000, 'Bad Request: no valid session ID');
      let transport;
      const server = createServer(() => transport);
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: makeEventStore(),
        retryInterval: 1000,
        onsessioninitialized: (id) => transports.set(id, transport),
        onsessionclosed: (id) => transports.delete(id),
      });
      transport.onclose = () => { if (transport.sessionId) transports.delete(transport.sessionId); };
      await server.connect(transport);
      return await transport.handleRequest(req, res, body);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      if (!sid) return jsonError(res, 400, -32000, 'Bad Request: Mcp-Session-Id required');
      if (!transports.has(sid)) return jsonError(res, 404, -32001, 'Session not found');
      return await transports.get(sid).handleRequest(req, res);
    }
    res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
  } catch (e) {
    console.error('scenario-server:', e);
    if (!res.headersSent) jsonError(res, 500, -32603, 'Internal error');
  }
});
httpServer.listen(port, host, () => {
  console.error(`scenario-server listening on http://${host}:${httpServer.address().port}/mcp`);
});
const stop = () => { httpServer.close(); for (const t of transports.values()) t.close().catch(() => {}); setTimeout(() => process.exit(0), 200).unref(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
