/* mcptrail-approvals web console. Plain script, no dependencies, no external
 * assets: everything it shows comes from this service's JSON API
 * (/api/v1/approvals, docs/approvals-openapi.yaml) with the approver's token
 * as a Bearer header. The token lives in sessionStorage (gone when the tab
 * closes) and is only decoded here to show who is signed in; the service
 * verifies it on every call. All text from the API is inserted with
 * textContent, never as HTML: masked arguments and reasons are untrusted. */
'use strict';

(function () {
  const TOKEN_KEY = 'mcptrail.approvals.token';
  const REFRESH_MS = 2000;
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let tab = 'pending';
  let selected = null; /* approval_id shown in the detail pane */
  let timer = null;
  let busy = false;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function fmtTime(us) {
    if (us === null || us === undefined) return '—';
    const d = new Date(Math.floor(us / 1000));
    return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  function relTime(us) {
    const s = Math.round((us / 1000 - Date.now()) / 1000);
    const a = Math.abs(s);
    const t = a < 90 ? a + ' s' : a < 5400 ? Math.round(a / 60) + ' min' : Math.round(a / 3600) + ' h';
    return s >= 0 ? 'in ' + t : t + ' ago';
  }

  /* The payload of a JWT, for display only (not verified here). */
  function claims(tok) {
    try {
      const p = tok.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const json = decodeURIComponent(Array.from(atob(p + '==='.slice((p.length + 3) % 4)),
        (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''));
      return JSON.parse(json);
    } catch (e) {
      return null;
    }
  }

  async function api(method, path, body) {
    const opt = { method, headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' };
    if (body !== undefined) {
      opt.headers['Content-Type'] = 'application/json';
      opt.headers['Mcptrail-Vote-Source'] = 'console'; /* recorded as the vote's source */
      opt.body = JSON.stringify(body);
    }
    const r = await fetch(path, opt);
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { status: r.status, data };
  }

  function status(text, isError) {
    const s = $('status');
    s.textContent = text;
    s.className = isError ? 'error' : 'muted';
  }

  function showLogin(message) {
    stopRefresh();
    $('app').hidden = true;
    $('who').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
  }

  function showApp() {
    const c = claims(token) || {};
    $('who-name').textContent = (c.sub || '?') + (c.iss ? ' @ ' + c.iss : '');
    const g = Array.isArray(c.groups) ? c.groups : c.groups ? [c.groups] : [];
    $('who-groups').textContent = g.length ? 'groups: ' + g.join(', ') : 'no groups';
    $('login').hidden = true;
    $('who').hidden = false;
    $('app').hidden = false;
  }

  function stopRefresh() {
    if (timer) clearInterval(timer);
    timer = null;
  }

  async function signIn() {
    const t = $('token').value.trim();
    if (!t || t.split('.').length !== 3) {
      showLogin('That does not look like a JWT (three dot-separated parts).');
      return;
    }
    token = t;
    const r = await api('GET', '/api/v1/approvals?state=pending').catch(() => null);
    if (!r) { showLogin('The service did not answer.'); return; }
    if (r.status === 401) {
      token = '';
      showLogin('Token rejected: ' + ((r.data && r.data.message) || 'unauthorized'));
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token').value = '';
    showApp();
    await refresh();
    stopRefresh();
    timer = setInterval(refresh, REFRESH_MS);
  }

  function signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    token = '';
    selected = null;
    $('detail').hidden = true;
    showLogin('');
  }

  function requester(a) {
    const r = a.requester || {};
    return r.subject || '(unknown)';
  }

  function row(cells, id) {
    const tr = document.createElement('tr');
    tr.dataset.id = id;
    tr.tabIndex = 0;
    if (id === selected) tr.className = 'selected';
    for (const c of cells) tr.appendChild(c instanceof Node ? wrapTd(c) : el('td', c));
    tr.addEventListener('click', () => select(id));
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') select(id); });
    return tr;
  }

  function wrapTd(node) {
    const td = document.createElement('td');
    td.appendChild(node);
    return td;
  }

  function approversOf(a) {
    const want = a.state === 'approved' ? 'approve' : a.state === 'denied' ? 'deny' : a.state === 'cancelled' ? 'cancel' : '';
    return a.votes.filter((v) => v.vote === want).map((v) => v.subject).join(', ') || '—';
  }

  function render(list) {
    const pending = list.filter((a) => a.state === 'pending').sort((x, y) => x.created - y.created);
    const history = list.filter((a) => a.state !== 'pending')
      .sort((x, y) => (y.decided || 0) - (x.decided || 0));
    $('pending-count').textContent = String(pending.length);
    const pr = $('pending-rows');
    pr.replaceChildren(...pending.map((a) => row([
      a.request.tool || a.request.method, a.request.rule_id, requester(a),
      a.approvals + ' / ' + Math.max(1, a.min_approvals), relTime(a.expires)], a.approval_id)));
    $('pending-empty').hidden = pending.length > 0;
    const hr = $('history-rows');
    hr.replaceChildren(...history.map((a) => row([
      el('span', a.state, 'state ' + a.state), a.request.tool || a.request.method, a.request.rule_id,
      requester(a), approversOf(a), fmtTime(a.decided),
      a.published ? 'yes (' + a.decision.key_id + ')' : 'not yet'], a.approval_id)));
    $('history-empty').hidden = history.length > 0;
  }

  function dl(target, pairs) {
    const d = $(target);
    d.replaceChildren();
    let any = false;
    for (const [k, v] of pairs) {
      if (v === null || v === undefined || v === '') continue;
      d.appendChild(el('dt', k));
      d.appendChild(el('dd', v));
      any = true;
    }
    if (!any) {
      d.appendChild(el('dt', '—'));
      d.appendChild(el('dd', 'none', 'muted'));
    }
  }

  function prettyArgs(text) {
    if (text === null || text === undefined) return '(none)';
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  function showDetail(a) {
    const q = a.request;
    $('detail').hidden = false;
    $('d-tool').textContent = q.tool || q.method;
    $('d-state').textContent = a.state;
    $('d-state').className = 'state ' + a.state;
    $('d-id').textContent = a.approval_id;
    $('d-method').textContent = q.method;
    $('d-rule').textContent = q.rule_id;
    $('d-policy').textContent = Math.max(1, a.min_approvals) + ' approval(s) from ' +
      (a.approver_groups.length ? a.approver_groups.join(' or ') : 'nobody (fail closed)') +
      (a.four_eyes ? '; four-eyes' : '') + (a.reason_required ? '; reason required' : '') +
      '; hold: ' + (q.hold_mode || 'wait');
    $('d-created').textContent = fmtTime(a.created);
    $('d-expires').textContent = fmtTime(a.expires) + ' (' + relTime(a.expires) + ')';
    $('d-session').textContent = q.session_id + ' / ' + q.event_id;
    $('d-hash').textContent = a.request_hash;
    $('d-justification').textContent = q.justification || '(none given)';
    $('d-justification').className = q.justification ? '' : 'muted';
    $('d-args').textContent = prettyArgs(q.arguments_masked);
    const id = q.identity || {};
    dl('d-identity', [['Subject', id.subject], ['Issuer', id.issuer], ['Audience', id.audience],
      ['Auth method', id.auth_method]]);
    const ci = id.ci || {};
    dl('d-ci', [['Repository', ci.repository], ['Workflow', ci.workflow], ['Job', ci.job],
      ['Run', ci.run_id === null || ci.run_id === undefined ? null :
        ci.run_id + (ci.run_attempt ? ' (attempt ' + ci.run_attempt + ')' : '')],
      ['Commit', ci.sha], ['Ref', ci.ref], ['Actor', ci.actor], ['Environment', ci.environment]]);
    const votes = $('d-votes');
    votes.replaceChildren(...a.votes.map((v) => {
      const li = el('li');
      li.appendChild(el('strong', v.vote, 'vote ' + v.vote));
      li.appendChild(document.createTextNode(' by ' + v.subject + ' (' + v.source +
        (v.signed_by ? ', signed by ' + v.signed_by : '') + ', ' + fmtTime(v.ts) + ')'));
      if (v.reason) li.appendChild(el('q', v.reason));
      return li;
    }));
    if (!a.votes.length) votes.appendChild(el('li', 'no votes yet', 'muted'));
    // Records that named this approval and were not counted: forged, foreign or refused.
    const rej = a.rejected || [];
    $('d-rejected-box').hidden = rej.length === 0;
    $('d-rejected-count').textContent = a.rejected_total > rej.length ?
      ' (' + a.rejected_total + ', the first ' + rej.length + ' listed)' : '';
    $('d-rejected').replaceChildren(...rej.map((r) => {
      const li = el('li');
      li.appendChild(el('strong', r.reason, 'rejected'));
      li.appendChild(document.createTextNode(' — ' + r.what + (r.vote ? ' ' + r.vote : '') +
        ' claiming ' + (r.subject || '(nobody)') + (r.source ? ' via ' + r.source : '') +
        (r.key_id ? ', key ' + r.key_id : ', unsigned') + ' (' + fmtTime(r.ts) + ')'));
      return li;
    }));
    const dec = a.published ? a.decision : null;
    $('d-decision-box').hidden = !dec;
    if (dec) {
      dl('d-decision', [['Decision', dec.decision], ['Decided', fmtTime(dec.decided)],
        ['Valid until', fmtTime(dec.expires)],
        ['Approvers', dec.approvers.map((p) => p.subject).join(', ') || '—'],
        ['Key id', dec.key_id], ['Ed25519 signature', dec.signature]]);
    }
    $('vote').hidden = a.state !== 'pending';
    $('reason-hint').textContent = a.reason_required ? '(required)' : '(optional)';
  }

  async function select(id) {
    if (selected !== id) $('vote-result').textContent = '';
    selected = id;
    for (const tr of document.querySelectorAll('tbody tr')) tr.classList.toggle('selected', tr.dataset.id === id);
    const r = await api('GET', '/api/v1/approvals/' + encodeURIComponent(id)).catch(() => null);
    if (!r) { status('The service did not answer.', true); return; }
    if (r.status === 401) { signOut(); showLogin('Your token expired or was rejected; sign in again.'); return; }
    if (r.status !== 200) { status('Cannot show ' + id + ': ' + ((r.data && r.data.message) || r.status), true); return; }
    showDetail(r.data);
  }

  async function refresh() {
    if (busy || !token) return;
    busy = true;
    try {
      const r = await api('GET', '/api/v1/approvals?state=all');
      if (r.status === 401) { signOut(); showLogin('Your token expired or was rejected; sign in again.'); return; }
      if (r.status !== 200) { status('List failed: ' + ((r.data && r.data.message) || r.status), true); return; }
      render(r.data.approvals);
      status(r.data.ready ? 'updated ' + new Date().toLocaleTimeString() : 'service is still replaying…', false);
      if (selected) {
        const a = r.data.approvals.find((x) => x.approval_id === selected);
        if (a) showDetail(a);
      }
    } catch (e) {
      status('The service did not answer.', true);
    } finally {
      busy = false;
    }
  }

  async function vote(kind) {
    if (!selected) return;
    const reason = $('reason').value.trim();
    const out = $('vote-result');
    out.className = 'muted';
    out.textContent = 'sending…';
    for (const b of [$('approve'), $('deny')]) b.disabled = true;
    try {
      const r = await api('POST', '/api/v1/approvals/' + encodeURIComponent(selected) + '/' + kind,
        reason ? { reason } : {});
      if (r.status === 202 || r.status === 200) {
        out.className = 'ok';
        out.textContent = (kind === 'approve' ? 'Approval' : 'Denial') +
          (r.status === 202 ? ' recorded.' : ' was already recorded.');
        $('reason').value = '';
      } else {
        out.className = 'error';
        out.textContent = 'Refused (' + r.status + (r.data ? ' ' + r.data.error : '') + '): ' +
          ((r.data && r.data.message) || 'no detail');
      }
    } catch (e) {
      out.className = 'error';
      out.textContent = 'The service did not answer; nothing was recorded.';
    } finally {
      for (const b of [$('approve'), $('deny')]) b.disabled = false;
    }
    await refresh();
  }

  function setTab(name) {
    tab = name;
    for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b.dataset.tab === name);
    $('pending-pane').hidden = name !== 'pending';
    $('history-pane').hidden = name !== 'history';
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('signin').addEventListener('click', signIn);
    $('token').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); signIn(); } });
    $('logout').addEventListener('click', signOut);
    $('approve').addEventListener('click', () => vote('approve'));
    $('deny').addEventListener('click', () => vote('deny'));
    for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => setTab(b.dataset.tab));
    setTab(tab);
    if (token) {
      $('token').value = token;
      signIn();
    } else {
      showLogin('');
    }
  });
})();
