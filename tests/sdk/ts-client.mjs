#!/usr/bin/env node
// A full MCP session with the TypeScript SDK's Client + StreamableHTTPClientTransport against
// an MCP endpoint (server-everything, directly or through the sidecar), writing a normalised
// JSON transcript so two runs can be compared with diff.
//
// Usage: node tests/sdk/ts-client.mjs (URL | --stdio CMD ARGS...) [--token T] [--out FILE]
//                                     [--timeout-ms N]
//   URL      MCP endpoint, e.g. http://127.0.0.1:3001/mcp
//   --stdio  the SDK's stdio client transport instead: it starts CMD ARGS... (the rest of the
//            arguments: server-everything stdio, or mcptrail-wrap ... -- it); no DELETE step
//   --token  sent as "Authorization: Bearer T" on every request (requestInit headers)
//   --out    transcript file (default: stdout)
// Steps: initialize, tools/list, tools/call echo, tools/call trigger-long-running-operation
// with progress notifications (SSE), resources/list + resources/read, prompts/list +
// prompts/get, tools/call trigger-sampling-request and trigger-elicitation-request (the
// server sends sampling/createMessage and elicitation/create to this client on the SSE
// stream; handlers answer them), tools/call get-roots-list (roots/list), then DELETE of the
// session (terminateSession). Exit 1 if any step fails.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = path.join(here, '..', 'peers', 'node_modules', '@modelcontextprotocol', 'sdk', 'dist', 'esm');
const sdk = (p) => import(pathToFileURL(path.join(sdkDir, p)).href);
const { Client } = await sdk('client/index.js');
const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
const T = await sdk('types.js');

const argv = process.argv.slice(2);
let url, token = process.env.MT_BEARER_TOKEN || '', out = '', timeoutMs = 30000, stdioCmd = null;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--token') token = argv[++i];
  else if (a === '--out') out = argv[++i];
  else if (a === '--timeout-ms') timeoutMs = Number(argv[++i]);
  else if (a === '--stdio') { stdioCmd = argv.slice(i + 1); break; }
  else if (!url && !a.startsWith('--')) url = a;
  else { console.error(`ts-client: unknown argument ${a}`); process.exit(2); }
}
if (!url && !stdioCmd?.length) { console.error('usage: ts-client.mjs (URL | --stdio CMD...) [--token T] [--out FILE]'); process.exit(2); }

// Normalisation: values that differ run to run (session ids, UUIDs, timestamps).
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?/g;
function norm(v) {
  if (typeof v === 'string') return v.replace(UUID, '<uuid>').replace(ISO, '<timestamp>');
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) {
      if (k === 'progressToken' || k === 'sessionId' || k === 'requestId') o[k] = '<id>';
      else o[k] = norm(v[k]);
    }
    return o;
  }
  return v;
}

const transcript = { client: 'typescript-sdk', sdk_version: '', steps: [] };
try {
  transcript.sdk_version = JSON.parse(fs.readFileSync(path.join(sdkDir, '..', '..', 'package.json'), 'utf8')).version;
} catch { /* informative only */ }
let current = null; // step in progress
// Server-to-client requests and notifications can arrive at any time (e.g. roots/list after
// notifications/initialized), so their timing relative to steps differs run to run: they are
// kept per session and sorted, not per step.
const serverRequests = [];
const notifications = [];
const sortedJson = (a) => a.map((x) => JSON.stringify(x)).sort().map((x) => JSON.parse(x));
const record = (s) => { transcript.steps.push(s); return s; };
let failed = 0;

const client = new Client({ name: 'mcptrail-ts-client', version: '1.0.0' }, {
  capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: false } },
});
client.setRequestHandler(T.CreateMessageRequestSchema, async (req) => {
  const res = { role: 'assistant', model: 'mcptrail-test-model', stopReason: 'endTurn',
    content: { type: 'text', text: `sampled: ${req.params.messages.map((m) => m.content?.text ?? '').join(' ')}` } };
  serverRequests.push({ method: req.method, params: norm(req.params), result: res });
  return res;
});
client.setRequestHandler(T.ElicitRequestSchema, async (req) => {
  const res = { action: 'accept', content: { name: 'mcptrail', check: true, email: 'ci@example.org', integer: 7 } };
  serverRequests.push({ method: req.method, params: norm(req.params), result: res });
  return res;
});
client.setRequestHandler(T.ListRootsRequestSchema, async (req) => {
  const res = { roots: [{ uri: 'file:///workspace/mcptrail', name: 'mcptrail' }] };
  serverRequests.push({ method: req.method, result: res });
  return res;
});
client.fallbackNotificationHandler = async (n) => {
  notifications.push({ method: n.method, params: norm(n.params) });
};

const headers = token ? { Authorization: `Bearer ${token}` } : {};
const transport = stdioCmd
  ? new (await sdk('client/stdio.js')).StdioClientTransport({ command: stdioCmd[0], args: stdioCmd.slice(1), stderr: 'inherit' })
  : new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
const opts = { timeout: timeoutMs, maxTotalTimeout: timeoutMs };

async function step(name, fn) {
  current = record({ step: name });
  try {
    current.result = norm(await fn(current));
    return true;
  } catch (e) {
    failed++;
    current.error = norm({ message: String(e?.message ?? e), code: e?.code });
    console.error(`ts-client: step ${name} failed: ${e?.message ?? e}`);
    return false;
  } finally {
    current = null;
  }
}

const deadline = setTimeout(() => { console.error('ts-client: overall deadline passed'); process.exit(1); }, 6 * timeoutMs);
deadline.unref();

const initOk = await step('initialize', async () => {
  await client.connect(transport, opts);
  return { protocolVersion: transport.protocolVersion, serverInfo: client.getServerVersion(),
    capabilities: client.getServerCapabilities(), instructions: client.getInstructions(),
    session: transport.sessionId ? 'present' : 'absent' };
});
if (initOk) {
  let toolNames = [];
  await step('tools/list', async () => {
    const r = await client.listTools(undefined, opts);
    toolNames = r.tools.map((t) => t.name);
    return r;
  });
  const need = (n) => { if (!toolNames.includes(n)) throw new Error(`server has no tool ${n}`); };
  await step('tools/call echo', async () => { need('echo'); return client.callTool({ name: 'echo', arguments: { message: 'hello from mcptrail' } }, undefined, opts); });
  await step('tools/call trigger-long-running-operation (progress over SSE)', async (s) => {
    need('trigger-long-running-operation');
    const progress = [];
    const r = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 } },
      undefined, { ...opts, onprogress: (p) => progress.push(norm(p)) });
    // Over stdio the SDK 1.32 client now and then drops the last progress notification (it
    // handles the result written right after it first, directly as much as through a wrapper):
    // there the first three are compared and at least three are required.
    s.progress = stdioCmd ? progress.slice(0, 3) : progress;
    if (progress.length !== 4 && !(stdioCmd && progress.length >= 3))
      throw new Error(`expected 4 progress notifications, got ${progress.length}`);
    return r;
  });
  let resources = [];
  await step('resources/list', async () => { const r = await client.listResources(undefined, opts); resources = r.resources; return r; });
  await step('resources/read', async () => {
    if (!resources.length) throw new Error('no resources listed');
    return client.readResource({ uri: resources[0].uri }, opts);
  });
  let promptList = [];
  await step('prompts/list', async () => { const r = await client.listPrompts(undefined, opts); promptList = r.prompts; return r; });
  await step('prompts/get', async () => {
    const p = promptList.find((x) => !(x.arguments ?? []).some((a) => a.required)) ?? promptList[0];
    if (!p) throw new Error('no prompts listed');
    const args = Object.fromEntries((p.arguments ?? []).map((a) => [a.name, 'mcptrail']));
    return client.getPrompt({ name: p.name, arguments: args }, opts);
  });
  await step('tools/call trigger-sampling-request (server->client sampling/createMessage)', async (s) => {
    need('trigger-sampling-request');
    const r = await client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 16 } }, undefined, opts);
    if (!serverRequests.some((x) => x.method === 'sampling/createMessage')) throw new Error('no sampling request reached the client');
    return r;
  });
  await step('tools/call trigger-elicitation-request (server->client elicitation/create)', async (s) => {
    need('trigger-elicitation-request');
    const r = await client.callTool({ name: 'trigger-elicitation-request', arguments: {} }, undefined, opts);
    if (!serverRequests.some((x) => x.method === 'elicitation/create')) throw new Error('no elicitation request reached the client');
    return r;
  });
  if (toolNames.includes('get-roots-list')) {
    await step('tools/call get-roots-list (server->client roots/list)', async () =>
      client.callTool({ name: 'get-roots-list', arguments: {} }, undefined, opts));
  }
  if (!stdioCmd)
    await step('DELETE session', async () => { await transport.terminateSession(); return { terminated: transport.sessionId === undefined } });
}
await client.close().catch(() => {});
transcript.server_requests = sortedJson(serverRequests);
transcript.notifications = sortedJson(notifications);

const text = JSON.stringify(transcript, null, 1) + '\n';
if (out) fs.writeFileSync(out, text); else process.stdout.write(text);
console.error(`ts-client: ${transcript.steps.length} steps, ${failed} failed`);
process.exit(failed ? 1 : 0);
