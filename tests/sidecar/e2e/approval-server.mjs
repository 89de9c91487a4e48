#!/usr/bin/env node
// A small real MCP server (TypeScript SDK, Streamable HTTP, stateful sessions) for the
// approval-hold tests: `deploy` has a side effect the test counts (one line appended to
// MT_DEPLOY_LOG per execution), `executions` reads the count (read-only).
// Usage: node approval-server.mjs PORT   (127.0.0.1, endpoint /mcp)
import fs from 'node:fs';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkDir = path.join(here, '..', '..', 'peers', 'node_modules', '@modelcontextprotocol', 'sdk', 'dist', 'esm');
const sdk = (p) => import(pathToFileURL(path.join(sdkDir, p)).href);
const { Server } = await sdk('server/index.js');
const { StreamableHTTPServerTransport } = await sdk('server/streamableHttp.js');
const T = await sdk('types.js');

const port = Number(process.argv[2] || 0);
const log = process.env.MT_DEPLOY_LOG || path.join(process.cwd(), 'deploy.log');
const tools = [
  { name: 'deploy', description: 'Deploys a version to an environment (side effect)',
    inputSchema: { type: 'object', properties: { environment: { type: 'string' }, version: { type: 'string' } },
                   required: ['environment', 'version'] } },
  { name: 'executions', description: 'How many deploys ran', inputSchema: { type: 'object', properties: {} } },
];
function count() {
  try { return fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length; } catch { return 0; }
}
function makeServer() {
  const server = new Server({ name: 'mcptrail-approval-test-server', version: '1.0.0' },
                             { capabilities: { tools: {} } });
  server.setRequestHandler(T.ListToolsRequestSchema, async () => ({ tools }));
  server.setRequestHandler(T.CallToolRequestSchema, async (req) => {
    const { name, arguments: a = {} } = req.params;
    if (name === 'deploy') {
      fs.appendFileSync(log, JSON.stringify({ environment: a.environment, version: a.version }) + '\n');
      return { content: [{ type: 'text', text: `deployed ${a.version} to ${a.environment} (#${count()})` }] };
    }
    if (name === 'executions') return { content: [{ type: 'text', text: String(count()) }] };
    throw new Error(`unknown tool ${name}`);
  });
  return server;
}
const transports = new Map();
const readBody = (req) => new Promise((ok, bad) => {
  const chunks = []; req.on('data', (c) => chunks.push(c)); req.on('end', () => ok(Buffer.concat(chunks).toString('utf8'))); req.on('error', bad);
});
const httpServer = http.createServer(async (req, res) => {
  try {
    const sid = req.headers['mcp-session-id'];
    if (req.method === 'POST') {
      const body = JSON.parse(await readBody(req));
      if (sid && transports.has(sid)) return await transports.get(sid).handleRequest(req, res, body);
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => transports.set(id, transport),
        onsessionclosed: (id) => transports.delete(id),
      });
      await makeServer().connect(transport);
      return await transport.handleRequest(req, res, body);
    }
    if (sid && transports.has(sid)) return await transports.get(sid).handleRequest(req, res);
    res.writeHead(sid ? 404 : 400).end();
  } catch (e) {
    console.error('approval-server:', e);
    if (!res.headersSent) res.writeHead(500).end();
  }
});
httpServer.listen(port, '127.0.0.1', () => console.error(`approval-server on ${httpServer.address().port}`));
const stop = () => { httpServer.close(); setTimeout(() => process.exit(0), 100).unref(); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
