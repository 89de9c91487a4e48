#!/usr/bin/env node
// A deliberately small stdio MCP server (newline-delimited JSON-RPC, no SDK) for the sidecar's
// stdio fault tests. It answers initialize (2025) and ping, lists one tool per fault, and on
// tools/call does what the tool is named:
//   echo     {content:[{type:text,text:<arguments.message>}]}
//   crash    exits with status 3 before answering (mid-call)
//   garbage  writes a line that is not JSON on stdout, then nothing
//   huge     writes one stdout line of MT_FAULT_HUGE_BYTES (default 100 MiB) without newline
//            until the end, then the newline
//   hang     never answers
// Every tools/call it executes is appended to $MT_FAULT_LEDGER (one line "CALL NAME pid MESSAGE",
// the message argument URI-encoded)
// before it acts, so a test can compare what the server ran with what was recorded.
import fs from 'node:fs';
import readline from 'node:readline';

const ledger = process.env.MT_FAULT_LEDGER || '';
const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
const tools = ['echo', 'crash', 'garbage', 'huge', 'hang'].map((name) => ({
  name, description: `fault: ${name}`, inputSchema: { type: 'object', properties: { message: { type: 'string' } } },
}));
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let m;
  try { m = JSON.parse(line); } catch { return; }
  if (m.id === undefined || !m.method) return; // notifications, responses
  const result = (r) => send({ jsonrpc: '2.0', id: m.id, result: r });
  switch (m.method) {
    case 'initialize':
      return result({ protocolVersion: m.params?.protocolVersion ?? '2025-06-18', capabilities: { tools: {} },
        serverInfo: { name: 'stdio-fault-server', version: '1.0.0' } });
    case 'ping': return result({});
    case 'tools/list': return result({ tools });
    case 'tools/call': {
      const name = m.params?.name;
      if (ledger) fs.appendFileSync(ledger, `CALL ${name} ${process.pid} ${encodeURIComponent(String(m.params?.arguments?.message ?? ''))}\n`);
      if (name === 'echo') return result({ content: [{ type: 'text', text: String(m.params?.arguments?.message ?? '') }] });
      if (name === 'crash') process.exit(3);
      if (name === 'garbage') { process.stdout.write('this is not JSON-RPC\n'); return; }
      if (name === 'huge') {
        const n = Number(process.env.MT_FAULT_HUGE_BYTES || 100 * 1024 * 1024);
        const chunk = 'x'.repeat(1 << 20);
        let left = n;
        const write = () => {
          while (left > 0) {
            const part = left >= chunk.length ? chunk : chunk.slice(0, left);
            left -= part.length;
            if (!process.stdout.write(part)) { process.stdout.once('drain', write); return; }
          }
          process.stdout.write('\n');
        };
        write();
        return;
      }
      if (name === 'hang') return;
      return send({ jsonrpc: '2.0', id: m.id, error: { code: -32602, message: `unknown tool ${name}` } });
    }
    default:
      return send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } });
  }
});
rl.on('close', () => process.exit(0));
