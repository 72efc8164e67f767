// The console's numbers (docs/performance.md, "Web console"): page weight
// over the wire (first load and next), time to first render of the
// overview for Contoso with 50 mailbox DEPs and 10,000 mailboxes against
// the same for an empty tenant (Fabrikam, the baseline, measured in the
// same run, alternating), and the API calls each page makes. Run by
// cmd/ck/testdata/script/dev_console_bench.txt (CK_CONSOLE_BENCH=1).

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(here, 'out');
fs.mkdirSync(OUT, { recursive: true });
const SERVICE = process.env.SERVICE;
const DEPS = Number(process.env.BENCH_DEPS || 50), MAILBOXES = Number(process.env.BENCH_MAILBOXES || 10000);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 9);
const token = (who) => fs.readFileSync(who + '.token', 'utf8').trim();

async function api(who, method, p, body) {
  const r = await fetch(SERVICE + p, { method, headers: { Authorization: 'Bearer ' + token(who), 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  if (r.status >= 300) throw new Error(method + ' ' + p + ': ' + r.status + ' ' + text);
  return text ? JSON.parse(text) : null;
}

async function pool(n, width, f) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < n) await f(next++); }));
}

// ---- the data ----
const keys = [process.env.KEY1, process.env.KEY2];
let t0 = Date.now();
await pool(DEPS, 8, (i) => api('exo', 'POST', '/v1/tenants/Contoso/dataEncryptionPolicies', { name: 'Bench-DEP-' + i, azureKeyIDs: keys }));
console.log('created ' + DEPS + ' DEPs in ' + (Date.now() - t0) + ' ms');
t0 = Date.now();
await pool(MAILBOXES, 32, async (i) => {
  const id = 'user' + i + '@contoso.com';
  await api('admin', 'PUT', '/v1/tenants/Contoso/licences/' + id, { plan: 'E5' });
  await api('exo', 'POST', '/v1/tenants/Contoso/mailboxes', { id, dataEncryptionPolicy: 'Bench-DEP-' + (i % DEPS) });
});
console.log('created ' + MAILBOXES + ' mailboxes in ' + (Date.now() - t0) + ' ms');

// ---- the measurements ----
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});

// load opens the overview in page (a tab signed in: signedIn) and returns
// the bytes received, split into the console's assets and the API, and
// the time from navigation start to the overview's first render.
async function load(page, cdp, url, reload) {
  const bytes = { assets: 0, api: 0, requests: 0 };
  const urls = new Map();
  const onResp = (e) => urls.set(e.requestId, e.response.url);
  const onDone = (e) => {
    const u = urls.get(e.requestId) || '';
    if (!u.startsWith(SERVICE)) return;
    bytes.requests++;
    if (new URL(u).pathname.startsWith('/v1/')) bytes.api += e.encodedDataLength; else bytes.assets += e.encodedDataLength;
  };
  cdp.on('Network.responseReceived', onResp);
  cdp.on('Network.loadingFinished', onDone);
  if (reload) await page.reload(); else await page.goto(url);
  await page.waitForSelector('main[data-rendered]');
  await page.waitForLoadState('networkidle');
  cdp.off('Network.responseReceived', onResp);
  cdp.off('Network.loadingFinished', onDone);
  const ms = await page.evaluate(() => performance.getEntriesByName('ck-rendered')[0].startTime);
  const calls = Number(await page.locator('main').getAttribute('data-calls'));
  return { ...bytes, ms, calls };
}

// A tab signed in as who (a sign-in link asks before it signs in: the
// bench starts from the session it leaves).
const overview = SERVICE + '/console/#/overview';
const signedIn = async (ctx, who) => ctx.addInitScript((tok) => { if (!sessionStorage.getItem('ck.console.token')) sessionStorage.setItem('ck.console.token', tok); }, token(who));
const samples = { contoso: { first: [], next: [] }, fabrikam: { first: [], next: [] } };
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, who] of [['contoso', 'admin'], ['fabrikam', 'fabrikam']]) {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    await signedIn(ctx, who);
    samples[name].first.push(await load(page, cdp, overview, false));
    samples[name].next.push(await load(page, cdp, null, true));
    if (round === 0 && name === 'contoso') await page.screenshot({ path: path.join(OUT, 'bench-overview.png') });
    await ctx.close();
  }
}

// The API calls of each page's first render (Contoso, global admin).
const perPage = {};
{
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
  await signedIn(ctx, 'admin');
  const page = await ctx.newPage();
  await page.goto(overview);
  await page.waitForSelector('main[data-rendered]');
  // Overview last: the first load left the tab on it, and the same hash re-renders nothing.
  for (const id of ['policies', 'mailboxes', 'onboarding', 'jobs', 'audit', 'purge', 'access', 'tokens', 'overview']) {
    const calls = [];
    const onReq = (r) => { if (new URL(r.url()).pathname.startsWith('/v1/')) calls.push(r.method() + ' ' + new URL(r.url()).pathname.replace(/^\/v1\/tenants\/[^/]+/, '/v1/tenants/{t}')); };
    await page.evaluate(() => document.querySelector('main').removeAttribute('data-rendered'));
    page.on('request', onReq);
    await page.goto(SERVICE + '/console/#/' + id);
    await page.waitForSelector('main[data-rendered]');
    page.off('request', onReq);
    perPage[id] = { calls: Number(await page.locator('main').getAttribute('data-calls')), which: calls };
  }
  await ctx.close();
}
await browser.close();

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const sum = (s) => ({ assets: median(s.map(x => x.assets)), api: median(s.map(x => x.api)), requests: median(s.map(x => x.requests)), ms: median(s.map(x => x.ms)), calls: median(s.map(x => x.calls)) });
const result = { deps: DEPS, mailboxes: MAILBOXES, rounds: ROUNDS, contoso: { first: sum(samples.contoso.first), next: sum(samples.contoso.next) }, fabrikam: { first: sum(samples.fabrikam.first), next: sum(samples.fabrikam.next) }, perPage };
fs.writeFileSync(path.join(OUT, 'bench.json'), JSON.stringify({ ...result, samples }, null, 2));
const row = (label, r, base) => '| ' + label + ' | ' + r.assets + ' | ' + r.api + ' | ' + r.requests + ' | ' + r.ms.toFixed(0) + ' | ' + base.ms.toFixed(0) + ' | ' + (r.ms / base.ms).toFixed(2) + ' |';
console.log('| overview load | console assets (bytes) | API (bytes) | requests | first render (ms) | baseline: empty tenant (ms) | ratio |');
console.log('|---|---|---|---|---|---|---|');
console.log(row('first load, ' + DEPS + ' DEPs, ' + MAILBOXES + ' mailboxes', result.contoso.first, result.fabrikam.first));
console.log(row('next load (same tab)', result.contoso.next, result.fabrikam.next));
console.log(row('baseline first load, empty tenant', result.fabrikam.first, result.fabrikam.first));
for (const [id, p] of Object.entries(perPage)) console.log('page ' + id + ': ' + p.calls + ' API calls: ' + p.which.join(', '));
console.log('console bench: done');
