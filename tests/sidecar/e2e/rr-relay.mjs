// rr-relay.mjs: an HTTP relay on 127.0.0.1:PORT that sends each request to the next of
// the given upstream ports in turn (round robin per request, not per connection), as a
// load balancer in front of several sidecar replicas would. Bodies and responses (SSE
// included) are streamed. Prints nothing; exits on SIGTERM.
// Usage: node rr-relay.mjs PORT UPSTREAM_PORT...
import http from 'node:http';

const [port, ...ups] = process.argv.slice(2).map(Number);
if (!port || ups.length === 0) { console.error('usage: rr-relay.mjs PORT UPSTREAM_PORT...'); process.exit(2); }
let next = 0;
const server = http.createServer((req, res) => {
  const target = ups[next++ % ups.length];
  const up = http.request({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
    (ur) => { res.writeHead(ur.statusCode, ur.headers); ur.pipe(res); });
  up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
  req.pipe(up);
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
