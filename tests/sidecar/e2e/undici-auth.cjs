// Preloaded (NODE_OPTIONS=--require) into the conformance suite for runs through the
// sidecar: adds "Authorization: Bearer $MT_BEARER_TOKEN" to every HTTP request to the
// origin $MT_AUTH_ORIGIN that has none, by installing an undici global dispatcher with
// an interceptor. That dispatcher serves Node's fetch() and undici.request() alike (the
// suite's dns-rebinding scenario uses the latter, which tests/conformance/auth-header.cjs
// does not reach), the way any real client of the sidecar would send its token. The
// 2026-07-28 header scenarios send raw node:http requests (to control every header):
// http.request is wrapped the same way.
'use strict';
const path = require('path');
const token = process.env.MT_BEARER_TOKEN;
const origin = process.env.MT_AUTH_ORIGIN;
if (token && origin) {
  const undici = require(path.join(__dirname, '../../peers/node_modules/undici'));
  const withAuth = (dispatch) => (opts, handler) => {
    let o = opts.origin;
    try { o = new URL(String(opts.origin)).origin; } catch { /* keep as is */ }
    if (o === origin) {
      const h = opts.headers;
      let has = false;
      if (Array.isArray(h)) {
        for (let i = 0; i < h.length; i += 2) if (String(h[i]).toLowerCase() === 'authorization') has = true;
        if (!has) opts = { ...opts, headers: [...h, 'authorization', `Bearer ${token}`] };
      } else {
        const obj = { ...(h || {}) };
        has = Object.keys(obj).some((k) => k.toLowerCase() === 'authorization');
        if (!has) obj.authorization = `Bearer ${token}`;
        opts = { ...opts, headers: obj };
      }
    }
    return dispatch(opts, handler);
  };
  undici.setGlobalDispatcher(new undici.Agent().compose(withAuth));
}
if (token && origin) {
  const http = require('http');
  const want = new URL(origin);
  const plain = http.request;
  http.request = function request(opts, ...rest) {
    if (opts && typeof opts === 'object' && !(opts instanceof URL)) {
      const host = opts.hostname || opts.host;
      const port = String(opts.port || 80);
      if (host === want.hostname && port === (want.port || '80')) {
        const h = { ...(opts.headers || {}) };
        if (!Object.keys(h).some((k) => k.toLowerCase() === 'authorization')) h.authorization = `Bearer ${token}`;
        opts = { ...opts, headers: h };
      }
    }
    return plain.call(this, opts, ...rest);
  };
}
