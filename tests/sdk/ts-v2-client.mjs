#!/usr/bin/env node
// A 2026-07-28 (stateless) MCP session with the TypeScript SDK v2 client
// (@modelcontextprotocol/client 2.4.0: Client pinned to 2026-07-28 + StreamableHTTPClientTransport)
// against the "v2 session" contract of tests/conformance/scenario-server-v2.mjs (directly or
// through the sidecar), writing a normalised JSON transcript so two runs can be compared with diff.
//
// Usage: node tests/sdk/ts-v2-client.mjs (URL | --stdio CMD ARGS...) [--token T] [--out FILE]
//                                        [--steps a,b,...] [--timeout-ms N] [--legacy]
//                                        [--url-elicitation CMD]
//   URL       MCP endpoint, e.g. http://127.0.0.1:3001/mcp
//   --stdio   the SDK's stdio client transport instead: it starts CMD ARGS... (the rest of the
//             arguments; e.g. the server --stdio, or mcptrail-wrap ... -- the server)
//   --token   sent as "Authorization: Bearer T" on every request (requestInit headers)
//   --out     transcript file (default: stdout)
//   --steps   run only these steps, in the order given (default: all, in the order below)
//   --url-elicitation CMD  also declare URL elicitation; a URL-mode elicitation/create runs
//             CMD URL (no shell) and, once it exits 0, accepts (a human "opened
//             the link and approved"); the transcript keeps the request's mode and message
//   --legacy  2025-era session with the 1.32 SDK (@modelcontextprotocol/sdk) instead: initialize,
//             tools_list, echo, deploy (the server elicits over the session's SSE stream),
//             read, close (DELETE of the session); --steps picks among those
// Steps (2026-07-28): discover (server/discover), tools_list, resources_list, prompts_list,
// prompt_get (v2_greet name=mcptrail), echo (v2_echo "hello v2"), deploy (v2_deploy
// payments 1.2.3: the server answers input_required with one elicitation; the handler accepts
// with {confirm:true}; the SDK retries with inputResponses + requestState), listen
// (subscriptions/listen for demo://counter), bump (v2_bump), notified (waits up to 10 s for
// notifications/resources/updated demo://counter on the listen stream), read (resources/read
// demo://counter), close (closes the listen stream).
// Before the first step the client connects pinned to 2026-07-28 (that probe is a
// server/discover too; it is not a step). The counter is process-wide on the server, so its
// value is normalised: bump and read record "<counter>" plus whether read equals the value
// the bump returned. Exit 1 if any step fails.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const nm = path.join(here, '..', 'peers', 'node_modules');

const argv = process.argv.slice(2);
let urlCmd = null, stdioCmd = null;
let url, token = process.env.MT_BEARER_TOKEN || '', out = '', timeoutMs = 30000, stepsArg = '', legacyMode = false;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--token') token = argv[++i];
  else if (a === '--out') out = argv[++i];
  else if (a === '--steps') stepsArg = argv[++i];
  else if (a === '--timeout-ms') timeoutMs = Number(argv[++i]);
  else if (a === '--legacy') legacyMode = true;
  else if (a === '--url-elicitation') urlCmd = argv[++i];
  else if (a === '--stdio') { stdioCmd = argv.slice(i + 1); break; }
  else if (!url && !a.startsWith('--')) url = a;
  else { console.error(`ts-v2-client: unknown argument ${a}`); process.exit(2); }
}
if (!url && !stdioCmd?.length) { console.error('usage: ts-v2-client.mjs (URL | --stdio CMD...) [--token T] [--out FILE] [--steps a,b,...] [--legacy]'); process.exit(2); }

// stdio: the transport's outgoing messages are counted as HTTP POSTs are (deploy rounds).
async function stdioTransport(mod) {
  const { StdioClientTransport } = await import(pathToFileURL(path.join(pkgDir, 'dist', mod)).href);
  const t = new StdioClientTransport({ command: stdioCmd[0], args: stdioCmd.slice(1), stderr: 'inherit' });
  const send = t.send.bind(t);
  t.send = (m, o) => { posts.push(m); return send(m, o); };
  return t;
}

const MODERN_STEPS = ['discover', 'tools_list', 'resources_list', 'prompts_list', 'prompt_get', 'echo', 'deploy',
  'listen', 'bump', 'notified', 'read', 'close'];
const LEGACY_STEPS = ['initialize', 'tools_list', 'echo', 'deploy', 'read', 'close'];
const known = legacyMode ? LEGACY_STEPS : MODERN_STEPS;
const steps = stepsArg ? stepsArg.split(',').map((s) => s.trim()).filter(Boolean) : known;
for (const s of steps) {
  if (!known.includes(s)) { console.error(`ts-v2-client: unknown step ${s} (known: ${known.join(',')})`); process.exit(2); }
}
if (legacyMode && steps[0] !== 'initialize') steps.unshift('initialize');

// Normalisation: values that differ run to run (UUIDs, timestamps, ids, requestState).
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ISO = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?/g;
const ID_KEYS = new Set(['progressToken', 'sessionId', 'requestId', 'requestState', 'io.modelcontextprotocol/subscriptionId']);
function norm(v) {
  if (typeof v === 'string') return v.replace(UUID, '<uuid>').replace(ISO, '<timestamp>');
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = ID_KEYS.has(k) ? '<id>' : norm(v[k]);
    return o;
  }
  return v;
}

const pkgDir = legacyMode ? path.join(nm, '@modelcontextprotocol', 'sdk') : path.join(nm, '@modelcontextprotocol', 'client');
const transcript = { client: legacyMode ? 'typescript-sdk-v1-legacy' : 'typescript-sdk-v2', sdk_version: '', protocol: '', steps: [] };
try { transcript.sdk_version = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version; } catch { /* informative */ }
let failed = 0;

// Every POST the transport makes, for the per-step round count (deploy) and the listen check.
const posts = [];
const headers = token ? { Authorization: `Bearer ${token}` } : {};
const countingFetch = async (input, init) => {
  if ((init?.method ?? 'GET') === 'POST' && typeof init?.body === 'string') {
    try { posts.push(JSON.parse(init.body)); } catch { /* not JSON */ }
  }
  return fetch(input, init);
};
const opts = { timeout: timeoutMs };

async function step(name, fn) {
  const s = { step: name };
  transcript.steps.push(s);
  try {
    s.result = norm(await fn(s));
  } catch (e) {
    failed++;
    s.error = norm({ message: String(e?.message ?? e), code: e?.code });
    console.error(`ts-v2-client: step ${name} failed: ${e?.message ?? e}`);
  }
}
const deadline = setTimeout(() => { console.error('ts-v2-client: overall deadline passed'); process.exit(1); }, 4 * timeoutMs);
deadline.unref();

const textOf = (r) => (r?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');
const elicitAnswer = { action: 'accept', content: { confirm: true } };
const elicitSeen = []; // { message, requestedSchema } per elicitation the handler answered

async function modernSession() {
  const C = await import(pathToFileURL(path.join(pkgDir, 'dist', 'index.mjs')).href);
  const client = new C.Client({ name: 'mcptrail-ts-v2-client', version: '1.0.0' }, {
    capabilities: { elicitation: urlCmd ? { form: {}, url: {} } : { form: {} } },
    versionNegotiation: { mode: { pin: '2026-07-28' } },
  });
  client.setRequestHandler('elicitation/create', async (req) => {
    elicitSeen.push({ message: req.params.message, mode: req.params.mode, requestedSchema: req.params.requestedSchema });
    if (req.params.mode === 'url') {
      if (!urlCmd) return { action: 'decline' };
      const { execFile } = await import('node:child_process');
      await new Promise((resolve, reject) => execFile(urlCmd, [req.params.url],
        { timeout: 4 * timeoutMs }, (e) => (e ? reject(e) : resolve())));
      return { action: 'accept' };
    }
    return elicitAnswer;
  });
  const updates = []; // uris of notifications/resources/updated
  let waiters = [];
  client.setNotificationHandler('notifications/resources/updated', async (n) => {
    updates.push(n.params.uri);
    waiters = waiters.filter((w) => !w());
  });
  const transport = stdioCmd ? await stdioTransport('stdio.mjs')
    : new C.StreamableHTTPClientTransport(new URL(url), { requestInit: { headers }, fetch: countingFetch });
  try {
    await client.connect(transport, opts);
    transcript.protocol = client.getNegotiatedProtocolVersion() ?? '';
  } catch (e) {
    failed++;
    transcript.steps.push({ step: 'connect', error: norm({ message: String(e?.message ?? e), code: e?.code }) });
    console.error(`ts-v2-client: connect failed: ${e?.message ?? e}`);
    return;
  }
  let sub, bumped;
  const impl = {
    discover: async () => client.discover(opts),
    tools_list: async () => client.listTools(undefined, { ...opts, cacheMode: 'refresh' }),
    resources_list: async () => client.listResources(undefined, { ...opts, cacheMode: 'refresh' }),
    prompts_list: async () => client.listPrompts(undefined, { ...opts, cacheMode: 'refresh' }),
    prompt_get: async () => client.getPrompt({ name: 'v2_greet', arguments: { name: 'mcptrail' } }, opts),
    echo: async () => {
      const r = await client.callTool({ name: 'v2_echo', arguments: { message: 'hello v2' } }, opts);
      if (textOf(r) !== 'hello v2') throw new Error(`unexpected echo ${JSON.stringify(r)}`);
      return r;
    },
    deploy: async (s) => {
      const first = posts.length, seen = elicitSeen.length;
      const r = await client.callTool({ name: 'v2_deploy', arguments: { service: 'payments', version: '1.2.3' } }, opts);
      const calls = posts.slice(first).filter((m) => m.method === 'tools/call' && m.params?.name === 'v2_deploy');
      s.rounds = calls.length;
      s.round_params = calls.map((m) => ({ inputResponses: m.params.inputResponses ?? null, requestStateSent: m.params.requestState !== undefined }));
      s.elicitations = elicitSeen.slice(seen);
      if (textOf(r) !== 'deployed payments@1.2.3') throw new Error(`unexpected deploy result ${JSON.stringify(r)}`);
      return r;
    },
    listen: async () => {
      sub = await client.listen({ resourceSubscriptions: ['demo://counter'] }, opts);
      return { honoredFilter: sub.honoredFilter };
    },
    bump: async () => {
      const r = await client.callTool({ name: 'v2_bump', arguments: {} }, opts);
      bumped = textOf(r);
      if (!/^\d+$/.test(bumped)) throw new Error(`unexpected bump result ${JSON.stringify(r)}`);
      return { ...r, content: r.content.map((c) => (c.type === 'text' ? { ...c, text: '<counter>' } : c)) };
    },
    notified: async () => {
      const ok = () => updates.includes('demo://counter');
      if (!ok()) {
        await new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('no notifications/resources/updated for demo://counter within 10 s')), 10000);
          waiters.push(() => { if (!ok()) return false; clearTimeout(t); resolve(); return true; });
        });
      }
      return { uris: [...new Set(updates)].sort() };
    },
    read: async () => {
      const r = await client.readResource({ uri: 'demo://counter' }, { ...opts, cacheMode: 'bypass' });
      const v = r.contents?.[0]?.text;
      if (!/^\d+$/.test(v ?? '')) throw new Error(`unexpected counter ${JSON.stringify(r)}`);
      return { ...r, contents: r.contents.map((c) => ({ ...c, text: '<counter>' })),
        equals_bump: bumped === undefined ? 'no-bump-step' : v === bumped };
    },
    close: async () => {
      if (!sub) throw new Error('no listen stream open');
      await sub.close();
      return { closed: await sub.closed };
    },
  };
  for (const name of steps) await step(name, impl[name]);
  await client.close().catch(() => {});
}

async function legacySession() {
  const sdk = (p) => import(pathToFileURL(path.join(pkgDir, 'dist', 'esm', p)).href);
  const { Client } = await sdk('client/index.js');
  const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
  const T = await sdk('types.js');
  const client = new Client({ name: 'mcptrail-ts-v2-client-legacy', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } } });
  client.setRequestHandler(T.ElicitRequestSchema, async (req) => {
    elicitSeen.push({ message: req.params.message, mode: req.params.mode, requestedSchema: req.params.requestedSchema });
    return elicitAnswer;
  });
  const transport = stdioCmd ? await stdioTransport('esm/client/stdio.js')
    : new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers }, fetch: countingFetch });
  let connected = false;
  const impl = {
    initialize: async () => {
      await client.connect(transport, opts);
      connected = true;
      transcript.protocol = transport.protocolVersion ?? '';
      return { protocolVersion: transport.protocolVersion, serverInfo: client.getServerVersion(),
        capabilities: client.getServerCapabilities(), session: transport.sessionId ? 'present' : 'absent' };
    },
    tools_list: async () => client.listTools(undefined, opts),
    echo: async () => {
      const r = await client.callTool({ name: 'v2_echo', arguments: { message: 'hello v2' } }, undefined, opts);
      if (textOf(r) !== 'hello v2') throw new Error(`unexpected echo ${JSON.stringify(r)}`);
      return r;
    },
    deploy: async (s) => {
      const first = posts.length, seen = elicitSeen.length;
      const r = await client.callTool({ name: 'v2_deploy', arguments: { service: 'payments', version: '1.2.3' } }, undefined, opts);
      s.rounds = posts.slice(first).filter((m) => m.method === 'tools/call' && m.params?.name === 'v2_deploy').length;
      s.elicitations = elicitSeen.slice(seen);
      if (textOf(r) !== 'deployed payments@1.2.3') throw new Error(`unexpected deploy result ${JSON.stringify(r)}`);
      return r;
    },
    read: async () => {
      const r = await client.readResource({ uri: 'demo://readme' }, opts);
      if (r.contents?.[0]?.text !== 'mcptrail v2 demo') throw new Error(`unexpected readme ${JSON.stringify(r)}`);
      return r;
    },
    close: async () => {
      if (stdioCmd) { await client.close(); return { terminated: true }; }
      await transport.terminateSession();
      return { terminated: transport.sessionId === undefined };
    },
  };
  for (const name of steps) {
    if (name !== 'initialize' && !connected) break;
    await step(name, impl[name]);
  }
  await client.close().catch(() => {});
}

if (legacyMode) await legacySession(); else await modernSession();

const text = JSON.stringify(norm(transcript), null, 1) + '\n';
if (out) fs.writeFileSync(out, text); else process.stdout.write(text);
console.error(`ts-v2-client: ${transcript.steps.length} steps, ${failed} failed`);
process.exit(failed ? 1 : 0);
