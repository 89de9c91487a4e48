// Preloaded (node --require) into the conformance suite when run.sh gets --token: adds
// "Authorization: Bearer $MT_BEARER_TOKEN" to every fetch() to the origin of $MT_AUTH_ORIGIN
// that does not already carry an Authorization header. The suite has no header option.
'use strict';
const token = process.env.MT_BEARER_TOKEN;
const origin = process.env.MT_AUTH_ORIGIN;
if (token && origin && typeof globalThis.fetch === 'function') {
  const orig = globalThis.fetch;
  globalThis.fetch = function (input, init) {
    let url;
    try { url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url); } catch { url = null; }
    if (url && url.origin === origin) {
      const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
      init = { ...init, headers };
    }
    return orig.call(this, input, init);
  };
}
