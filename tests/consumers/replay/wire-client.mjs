#!/usr/bin/env node
// Runs tests/sdk/ts-client.mjs (the TypeScript SDK client's full session) with the global
// fetch wrapped so that every JSON-RPC message the client sends and every one it receives
// (JSON bodies and SSE `data:` events) is appended, as the bytes went over the wire, to a
// JSON Lines file: {"dir":"sent"|"received","http":"POST","body":"<text>"}.
// replay_sdk compares these with what mcptrail-replay rebuilds from the archive.
//
// Usage: node wire-client.mjs WIRE.jsonl URL [ts-client.mjs arguments...]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [wire, ...rest] = process.argv.slice(2);
if (!wire || !rest.length) { console.error('usage: wire-client.mjs WIRE.jsonl URL [args]'); process.exit(2); }
fs.writeFileSync(wire, '');
const log = (dir, http, body) => fs.appendFileSync(wire, JSON.stringify({ dir, http, body }) + '\n');

async function readSse(stream, http) {
  const dec = new TextDecoder();
  let buf = '';
  const reader = stream.getReader();
  const flush = (block) => {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
    if (data) log('received', http, data);
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
        const m = buf.match(/\r?\n\r?\n/);
        flush(buf.slice(0, i));
        buf = buf.slice(i + m[0].length);
      }
    }
  } catch { /* stream closed by the client */ }
}

const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const method = (init.method || 'GET').toUpperCase();
  if (typeof init.body === 'string' && init.body.length) log('sent', method, init.body);
  const res = await realFetch(input, init);
  const ct = res.headers.get('content-type') || '';
  if (!res.body) return res;
  const [a, b] = res.body.tee();
  if (ct.includes('text/event-stream')) {
    readSse(b, method);
  } else if (ct.includes('application/json')) {
    new Response(b).text().then((t) => { if (t.length) log('received', method, t); }, () => {});
  } else {
    b.cancel().catch(() => {});
  }
  return new Response(a, { status: res.status, statusText: res.statusText, headers: res.headers });
};

process.argv = [process.argv[0], path.join(here, '../../sdk/ts-client.mjs'), ...rest];
await import(pathToFileURL(path.join(here, '../../sdk/ts-client.mjs')).href);
