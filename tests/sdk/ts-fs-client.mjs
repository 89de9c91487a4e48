#!/usr/bin/env node
// A session with @modelcontextprotocol/server-filesystem through the TypeScript SDK (1.32)
// Client, over Streamable HTTP (URL: the stdio server behind mcptrail-sidecar) or over stdio
// (--stdio CMD...: the client starts the server itself, e.g. through mcptrail-wrap), writing a
// normalised JSON transcript (the served directory's path reads <root>) to compare runs.
//
// Usage: node tests/sdk/ts-fs-client.mjs (URL | --stdio CMD ARGS...) --root DIR [--token T]
//                                        [--out FILE]
// Steps: initialize, tools/list, list_allowed_directories, create_directory, write_file,
// read_text_file, edit_file (dry run), list_directory, get_file_info (size only),
// search_files, move_file, then close (HTTP: DELETE of the session).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = path.join(here, '..', 'peers', 'node_modules', '@modelcontextprotocol', 'sdk', 'dist', 'esm');
const sdk = (p) => import(pathToFileURL(path.join(sdkDir, p)).href);
const { Client } = await sdk('client/index.js');

const argv = process.argv.slice(2);
let url = '', token = process.env.MT_BEARER_TOKEN || '', out = '', root = '', cmd = null;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--token') token = argv[++i];
  else if (a === '--out') out = argv[++i];
  else if (a === '--root') root = argv[++i];
  else if (a === '--stdio') { cmd = argv.slice(i + 1); break; }
  else if (!url && !a.startsWith('--')) url = a;
  else { console.error(`ts-fs-client: unknown argument ${a}`); process.exit(2); }
}
if ((!url && !cmd?.length) || !root) {
  console.error('usage: ts-fs-client.mjs (URL | --stdio CMD...) --root DIR [--token T] [--out FILE]');
  process.exit(2);
}
root = fs.realpathSync(root);

const norm = (v) => {
  if (typeof v === 'string') return v.split(root).join('<root>');
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, norm(v[k])]));
  return v;
};
const transcript = { client: 'typescript-sdk', server: 'server-filesystem', steps: [] };
let failed = 0;
const client = new Client({ name: 'mcptrail-ts-fs-client', version: '1.0.0' }, { capabilities: { roots: { listChanged: false } } });
let transport;
if (cmd) {
  const { StdioClientTransport } = await sdk('client/stdio.js');
  transport = new StdioClientTransport({ command: cmd[0], args: cmd.slice(1), stderr: 'inherit' });
} else {
  const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
}
const opts = { timeout: 30000 };
async function step(name, fn) {
  const s = { step: name };
  transcript.steps.push(s);
  try { s.result = norm(await fn()); } catch (e) {
    failed++;
    s.error = norm({ message: String(e?.message ?? e), code: e?.code });
    console.error(`ts-fs-client: step ${name} failed: ${e?.message ?? e}`);
  }
}
const call = (name, args) => client.callTool({ name, arguments: args }, undefined, opts);
const deadline = setTimeout(() => { console.error('ts-fs-client: overall deadline passed'); process.exit(1); }, 120000);
deadline.unref();

await step('initialize', async () => {
  await client.connect(transport, opts);
  return { serverInfo: client.getServerVersion(), capabilities: client.getServerCapabilities() };
});
await step('tools/list', async () => {
  const r = await client.listTools(undefined, opts);
  return r.tools.map((t) => t.name).sort();
});
const p = (f) => path.join(root, f);
await step('list_allowed_directories', () => call('list_allowed_directories', {}));
await step('create_directory', () => call('create_directory', { path: p('reports') }));
await step('write_file', () => call('write_file', { path: p('reports/build.txt'), content: 'build 42: green\nartifact: app.tar\n' }));
await step('read_text_file', () => call('read_text_file', { path: p('reports/build.txt') }));
await step('edit_file (dry run)', () => call('edit_file', { path: p('reports/build.txt'), edits: [{ oldText: 'green', newText: 'red' }], dryRun: true }));
await step('list_directory', () => call('list_directory', { path: p('reports') }));
await step('get_file_info', async () => {
  const r = await call('get_file_info', { path: p('reports/build.txt') });
  const t = r.content?.[0]?.text ?? '';
  return { size: /size: (\d+)/.exec(t)?.[1] ?? null, isFile: /isFile: (\w+)/.exec(t)?.[1] ?? null };
});
await step('search_files', () => call('search_files', { path: root, pattern: '*.txt' }));
await step('move_file', () => call('move_file', { source: p('reports/build.txt'), destination: p('reports/build-42.txt') }));
await step('close', async () => {
  if (!cmd) await transport.terminateSession();
  await client.close();
  return { closed: true };
});

const text = JSON.stringify(transcript, null, 1) + '\n';
if (out) fs.writeFileSync(out, text); else process.stdout.write(text);
console.error(`ts-fs-client: ${transcript.steps.length} steps, ${failed} failed`);
process.exit(failed ? 1 : 0);
