#!/usr/bin/env node
// One MCP session with the TypeScript SDK client through the sidecar: initialize, one
// tools/call, close. Prints one JSON line: {"ok":true,"text":...,"progress":N} or
// {"ok":false,"code":...,"message":...,"data":...,"progress":N}.
// Usage: node approval-client.mjs URL TOKEN TOOL ARGS_JSON [--justification TEXT]
//          [--progress] [--abort-after-ms N] [--timeout-ms N]
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = path.join(here, '..', '..', 'peers', 'node_modules', '@modelcontextprotocol', 'sdk', 'dist', 'esm');
const sdk = (p) => import(pathToFileURL(path.join(sdkDir, p)).href);
const { Client } = await sdk('client/index.js');
const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');

const [url, token, tool, argsJson, ...rest] = process.argv.slice(2);
let justification = '', progress = false, abortAfter = 0, timeoutMs = 120000;
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--justification') justification = rest[++i];
  else if (rest[i] === '--progress') progress = true;
  else if (rest[i] === '--abort-after-ms') abortAfter = Number(rest[++i]);
  else if (rest[i] === '--timeout-ms') timeoutMs = Number(rest[++i]);
  else { console.error(`approval-client: unknown argument ${rest[i]}`); process.exit(2); }
}
const headers = { Authorization: `Bearer ${token}` };
if (justification) headers['Mcp-Justification'] = justification;
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
const client = new Client({ name: 'mcptrail-approval-test-client', version: '1.0.0' });
let progressN = 0;
const out = (o) => { process.stdout.write(JSON.stringify({ ...o, progress: progressN }) + '\n'); };
try {
  await client.connect(transport);
  const ac = new AbortController();
  if (abortAfter > 0) setTimeout(() => ac.abort('test cancels the held call'), abortAfter);
  const opts = { timeout: timeoutMs, signal: ac.signal };
  if (progress) { opts.onprogress = () => { progressN++; }; opts.resetTimeoutOnProgress = true; }
  const r = await client.callTool({ name: tool, arguments: JSON.parse(argsJson) }, undefined, opts);
  out({ ok: true, isError: !!r.isError, text: (r.content || []).map((c) => c.text).join('') });
} catch (e) {
  out({ ok: false, code: e.code ?? null, message: String(e.message || e), data: e.data ?? null });
  // an abort sends notifications/cancelled asynchronously: let it go out before closing
  if (abortAfter > 0) await new Promise((r) => setTimeout(r, 500));
}
await client.close().catch(() => {});
process.exit(0);
