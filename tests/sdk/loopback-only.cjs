// Preloaded (node --require) into test MCP servers whose code calls listen(port) without a
// host, which would bind every interface. Forces listening sockets onto 127.0.0.1
// (override with MT_BIND_HOST, which must itself be a loopback address).
'use strict';
const net = require('node:net');
const host = process.env.MT_BIND_HOST || '127.0.0.1';
if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) {
  throw new Error(`loopback-only: MT_BIND_HOST=${host} is not a loopback address`);
}
const orig = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const a0 = args[0];
  if (typeof a0 === 'number' || (typeof a0 === 'string' && /^\d+$/.test(a0))) {
    // listen(port[, host][, backlog][, cb])
    if (typeof args[1] === 'string') args[1] = host;
    else args.splice(1, 0, host);
  } else if (a0 && typeof a0 === 'object' && !Array.isArray(a0) && (a0.port !== undefined)) {
    args[0] = { ...a0, host };
  } else if (a0 === undefined || typeof a0 === 'function') {
    args.unshift(0, host);
  }
  return orig.apply(this, args);
};
