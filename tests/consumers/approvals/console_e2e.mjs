// Drives the approvals web console in headless Debian Chromium (playwright-core,
// no downloaded browser) for e2e_console.sh. Environment: MT_BASE (service URL),
// MT_APPROVAL_ID, MT_TOKEN_1 / MT_TOKEN_2 (two approvers' dev tokens), MT_SUB_1 /
// MT_SUB_2 (their subjects), MT_SCREENSHOT (PNG path), MT_CHROMIUM (executable).
// Fails on any browser console error, uncaught page error, failed request, or
// request to a host other than 127.0.0.1. playwright-core is resolved from
// MT_PEERS_DIR (tests/peers, installed by scripts/deps-node.sh).
import { createRequire } from 'node:module';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`console_e2e: ${k} is not set`);
  return v;
};
const { chromium } = createRequire(`${env('MT_PEERS_DIR')}/package.json`)('playwright-core');
const base = env('MT_BASE');
const id = env('MT_APPROVAL_ID');
const approvers = [
  { token: env('MT_TOKEN_1'), sub: env('MT_SUB_1'), reason: 'diff reviewed, change window open' },
  { token: env('MT_TOKEN_2'), sub: env('MT_SUB_2'), reason: 'LGTM, second pair of eyes' },
];
const problems = [];

async function requestRecord(token) {
  const r = await fetch(`${base}/api/v1/approvals/${encodeURIComponent(id)}`,
    { headers: { Authorization: `Bearer ${token}` } });
  if (r.status !== 200) throw new Error(`GET approval ${id}: ${r.status}`);
  return (await r.json()).request;
}

function prettyArgs(text) {
  if (text === null || text === undefined) return null;
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
}
const log = (m) => console.log(`console_e2e: ${m}`);

const browser = await chromium.launch({
  executablePath: process.env.MT_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-domain-reliability', '--no-pings'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol === 'data:') return;
    if (u.hostname !== '127.0.0.1') problems.push(`request to another host: ${r.url()}`);
  });

  const resp = await page.goto(`${base}/console/`);
  const csp = resp.headers()['content-security-policy'] || '';
  if (!csp.includes("default-src 'none'") || !csp.includes("script-src 'self'"))
    problems.push(`weak or missing Content-Security-Policy: '${csp}'`);

  for (const [i, a] of approvers.entries()) {
    await page.getByTestId('login').waitFor({ state: 'visible' });
    await page.getByTestId('token').fill(a.token);
    await page.getByTestId('signin').click();
    await page.getByTestId('who').filter({ hasText: a.sub }).waitFor();
    log(`signed in as ${a.sub}`);
    const row = page.locator(`#pending-rows tr[data-id="${id}"]`);
    await row.waitFor();
    await row.click();
    await page.locator('#d-id', { hasText: id }).waitFor();
    // What the approver must see before deciding: the request as the API has it
    // (so the check holds for a request a real sidecar held, too).
    const q = await requestRecord(a.token);
    const ci = (q.identity && q.identity.ci) || {};
    const want = [['justification', q.justification], ['identity', q.identity && q.identity.subject],
      ['ci', ci.repository], ['ci', ci.run_id], ['arguments', prettyArgs(q.arguments_masked)]];
    for (const [tid, w] of want) {
      if (w === null || w === undefined) continue;
      const text = await page.getByTestId(tid).textContent();
      if (!text.includes(w)) problems.push(`detail ${tid}: '${text}' lacks '${w}'`);
    }
    // The forged vote written straight to the topic (e2e_console.sh) is listed as rejected.
    await page.getByTestId('rejected').filter({ hasText: 'unsigned' })
      .filter({ hasText: 'claiming mallory via bot' }).waitFor();
    await page.getByTestId('reason').fill(a.reason);
    await page.getByTestId('approve').click();
    await page.getByTestId('vote-result').filter({ hasText: 'Approval recorded.' }).waitFor();
    // The vote is recorded with the console as its source.
    await page.getByTestId('votes').filter({ hasText: `by ${a.sub} (console,` }).waitFor();
    log(`${a.sub} approved (${i + 1}/${approvers.length})`);
    if (i + 1 < approvers.length) {
      await page.getByTestId('logout').click();
    }
  }

  // The decision is signed and published by the service; the console shows it in history.
  await page.getByTestId('tab-history').click();
  const hist = page.locator(`#history-rows tr[data-id="${id}"]`);
  await hist.filter({ hasText: 'approved' }).filter({ hasText: 'yes (' }).waitFor();
  const htext = await hist.textContent();
  for (const a of approvers)
    if (!htext.includes(a.sub)) problems.push(`history row lacks approver ${a.sub}: '${htext}'`);
  await hist.click();
  await page.getByTestId('decision').filter({ hasText: 'approved' }).waitFor();
  log(`history shows ${id} approved and signed`);
  await page.screenshot({ path: env('MT_SCREENSHOT'), fullPage: true });
  log(`screenshot ${process.env.MT_SCREENSHOT}`);
  await context.close();
} catch (e) {
  problems.push(`step failed: ${e.message.split('\n')[0]}`);
} finally {
  await browser.close();
}
if (problems.length) {
  for (const p of problems) console.error(`console_e2e FAIL: ${p}`);
  process.exit(1);
}
log('PASS');
