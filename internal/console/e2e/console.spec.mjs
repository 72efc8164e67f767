// Browser tests of the web console: playwright-core driving Debian's
// /usr/bin/chromium (never a downloaded browser) against the real ck dev
// that cmd/ck/testdata/script/dev_console.txt started and set up. Run in
// that script's work directory (tokens in *.token, the sign-in link in
// link.txt); SERVICE is the service's URL, V1B a new version of Key1.
// Each test saves a screenshot under out/ beside this file.

import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.join(here, 'out');
fs.mkdirSync(OUT, { recursive: true });
const SERVICE = process.env.SERVICE;
const EXO_APP = '00000002-0000-0ff1-ce00-000000000000';
const token = (who) => fs.readFileSync(who + '.token', 'utf8').trim();
const ck = (...args) => execFileSync('ck', args, { encoding: 'utf8', env: process.env });

function assert(cond, msg) { if (!cond) throw new Error(msg); }

// api calls the service as a client would (setup steps of a test).
async function api(who, method, p, body) {
  const r = await fetch(SERVICE + p, {
    method, headers: { Authorization: 'Bearer ' + token(who), 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});

const tests = [];
const test = (name, fn, opts = {}) => tests.push({ name, fn, opts });

async function newPage(opts = {}) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1280, height: 800 }, ...opts });
  const page = await ctx.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    // A refused API call logs "Failed to load resource"; the tests expect some.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) page.problems.push('console: ' + m.text());
  });
  return page;
}

async function signIn(page, who) {
  await page.goto(SERVICE + '/console/');
  await page.getByLabel('API token').fill(token(who));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
}

async function go(page, id, title) {
  await page.goto(SERVICE + '/console/#/' + id);
  await page.getByRole('heading', { level: 1, name: title }).waitFor();
  await page.waitForSelector('main[data-rendered]');
}

const navNames = (page) => page.locator('nav a').allInnerTexts();

// ---- the tests ----

test('sign in with a link from ck console open', async (page) => {
  const link = fs.readFileSync('link.txt', 'utf8').trim();
  assert(/#token=/.test(link), 'the link carries no token: ' + link);
  await page.goto(link);
  // A link signs in only once the user has seen whom as, and said so.
  await page.getByRole('heading', { name: 'Sign in?' }).waitFor();
  assert(!page.url().includes('token'), 'the token stays in the address bar: ' + page.url());
  assert(await page.evaluate(() => sessionStorage.getItem('ck.console.token')) === null, 'the link signed in before the user said so');
  assert((await page.locator('main').innerText()).includes('admin@contoso.com · global-admin'), 'the sign-in page does not say whom as');
  await page.getByRole('button', { name: 'Sign in as admin@contoso.com' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  const who = await page.locator('#who').innerText();
  assert(who.includes('admin@contoso.com') && who.includes('global-admin') && who.includes('Contoso'), 'signed in as: ' + who);
  const onb = await page.locator('section[aria-labelledby=ov-onb]').innerText();
  for (const s of ['EXO: Enabled', 'SPO: Enabled', 'MDEP: Enabled']) assert(onb.includes(s), 'overview onboarding lacks "' + s + '": ' + onb);
  // A bad token is refused with the API's words.
  await page.locator('#signout').click();
  await page.getByLabel('API token').fill('not-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  const err = await page.getByRole('alert').innerText();
  assert(/Authentication/.test(err), 'a bad token: ' + err);
});

test('a sign-in link does not replace a session without asking', async (page) => {
  await signIn(page, 'exo');
  const link = fs.readFileSync('link.txt', 'utf8').trim();
  await page.goto(link);
  await page.getByRole('heading', { name: 'Switch sign-in?' }).waitFor();
  assert(!page.url().includes('token'), 'the token stays in the address bar: ' + page.url());
  const text = await page.locator('main').innerText();
  assert(text.includes('admin@contoso.com · global-admin') && text.includes('exo@contoso.com · exchange-admin'), 'the switch page names both: ' + text);
  // Staying keeps the session, and the link's token is not kept.
  await page.getByRole('button', { name: 'Stay signed in as exo@contoso.com' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert((await page.locator('#who').innerText()).includes('exo@contoso.com'), 'after staying: ' + await page.locator('#who').innerText());
  assert(await page.evaluate(() => sessionStorage.getItem('ck.console.token')) === token('exo'), 'the link replaced the stored token');
  // Switching, asked for, signs in with the link's token.
  await page.goto(link);
  await page.getByRole('button', { name: 'Sign in as admin@contoso.com' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert((await page.locator('#who').innerText()).includes('admin@contoso.com'), 'after switching: ' + await page.locator('#who').innerText());
});

test('a DEP goes unhealthy when vault access is removed, and healthy again', async (page) => {
  await signIn(page, 'exo');
  await go(page, 'policies', 'Policies');
  // A key's cell names its vault's whole host, not its first label only
  // (which a look-alike host under another domain shares).
  const keys = await page.locator('.key').first().innerText();
  assert(/contosoakv0[12]\.[a-z0-9.-]*localhost(:\d+)?, version /i.test(keys), 'key cell without the vault host: ' + keys);
  const cell = page.locator('.health[data-dep="Contoso-EXO-DEP-1"]');
  const check = page.getByRole('button', { name: 'Check now: Contoso-EXO-DEP-1' });
  await check.click();
  await page.waitForFunction(() => /healthy/.test(document.querySelector('.health[data-dep="Contoso-EXO-DEP-1"]').innerText) && !/unhealthy/.test(document.querySelector('.health[data-dep="Contoso-EXO-DEP-1"]').innerText));
  ck('vault', 'access-policy', 'remove', 'ContosoAKV01', '--spn', EXO_APP);
  ck('vault', 'access-policy', 'remove', 'ContosoAKV02', '--spn', EXO_APP);
  try {
    await check.click();
    await page.waitForFunction(() => /unhealthy|revoked/.test(document.querySelector('.health[data-dep="Contoso-EXO-DEP-1"]').innerText), null, { timeout: 15000 });
    const text = await cell.innerText();
    assert(/access|refus|denied|Forbidden/i.test(text), 'the cause in plain words is missing: ' + text);
    await page.screenshot({ path: path.join(OUT, 'dep-unhealthy.png'), fullPage: true });
    // The overview lists it, with the cause.
    await go(page, 'overview', 'Overview');
    const attention = await page.locator('main table').first().innerText();
    assert(attention.includes('Contoso-EXO-DEP-1') && /unhealthy|revoked/.test(attention), 'overview: ' + attention);
    const bad = Number(await page.locator('[data-state=unhealthy]').innerText());
    assert(bad >= 1, 'overview counts no unhealthy DEP: ' + bad);
  } finally {
    ck('vault', 'access-policy', 'set', 'ContosoAKV01', '--spn', EXO_APP, '--key-permissions', 'get,wrapKey,unwrapKey');
    ck('vault', 'access-policy', 'set', 'ContosoAKV02', '--spn', EXO_APP, '--key-permissions', 'get,wrapKey,unwrapKey');
  }
  await go(page, 'policies', 'Policies');
  await page.getByRole('button', { name: 'Check now: Contoso-EXO-DEP-1' }).click();
  await page.waitForFunction(() => { const t = document.querySelector('.health[data-dep="Contoso-EXO-DEP-1"]').innerText; return /healthy/.test(t) && !/unhealthy|revoked/.test(t); }, null, { timeout: 15000 });
});

test('a geo rolls from Rolling to Registered with the % moving', async (page) => {
  // ck dev runs with --rewrap-rate 500: the roll of these sites takes
  // about 4 s on any machine, eight of the console's polls (two a second).
  const n = 2000;
  for (let i = 0; i < n; i += 32) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 32); j++) batch.push(api('spo', 'POST', '/v1/tenants/Contoso/sites', { name: 'site-' + j, geo: 'NAM' }));
    for (const r of await Promise.all(batch)) assert(r.status === 201, 'new site: ' + JSON.stringify(r));
  }
  await signIn(page, 'spo');
  await go(page, 'policies', 'Policies');
  const state = page.locator('.geo-state[data-geo=NAM]');
  assert((await state.innerText()).includes('Registered'), 'NAM before the roll: ' + await state.innerText());
  const r = await api('spo', 'PATCH', '/v1/tenants/Contoso/spoDataEncryptionPolicies/NAM', { keyType: 'Primary', vaultName: 'ContosoAKV01', keyName: 'Key1', keyVersion: process.env.V1B });
  assert(r.status === 202, 'roll: ' + JSON.stringify(r));
  const seen = [];
  let shot = false;
  for (const deadline = Date.now() + 120000; Date.now() < deadline;) {
    // State and % in one read: the console may redraw between two.
    const [s, pct] = await page.evaluate(() => [document.querySelector('.geo-state[data-geo=NAM]').innerText.trim(),
      Number(document.querySelector('.geo-progress[data-geo=NAM] .pct').innerText.replace('%', ''))]);
    if (!seen.length || seen[seen.length - 1].s !== s || seen[seen.length - 1].pct !== pct) seen.push({ s, pct });
    if (s === 'Rolling' && pct > 0 && pct < 100 && !shot) {
      await page.screenshot({ path: path.join(OUT, 'geo-rolling.png'), fullPage: true });
      shot = true;
    }
    if (s === 'Registered' && seen.some(x => x.s === 'Rolling')) break;
    await page.waitForTimeout(50);
  }
  const rolling = seen.filter(x => x.s === 'Rolling');
  const last = seen[seen.length - 1];
  console.log('  geo NAM as the console showed it:', seen.map(x => x.s + ' ' + x.pct + '%').join(' → '));
  assert(rolling.length > 0, 'never saw Rolling: ' + JSON.stringify(seen));
  assert(rolling.some(x => x.pct > 0 && x.pct < 100), 'the % did not move while Rolling: ' + JSON.stringify(seen));
  assert(last.s === 'Registered' && last.pct === 100, 'did not end Registered at 100%: ' + JSON.stringify(last));
  assert(!seen.some(x => x.s === 'Registered' && x.pct < 100), 'Registered before every site was done: ' + JSON.stringify(seen));
  const job = (await api('spo', 'GET', '/v1/tenants/Contoso/jobs')).body.value.find(j => j.kind === 'rewrap-sites' && j.state === 'succeeded' && j.total === n + 1);
  if (job) console.log('  the roll of ' + job.total + ' sites took ' + (Date.parse(job.updated) - Date.parse(job.created)) + ' ms');
  // The jobs page has the roll's job, done.
  await go(page, 'jobs', 'Jobs');
  const jobs = await page.locator('#jobs').innerText();
  assert(/rewrap-sites\s+geo:NAM\s+succeeded/.test(jobs), 'jobs page: ' + jobs.slice(0, 300));
});

test('an onboarding failure shows its rule, values and fix, failing rules first', async (page) => {
  await signIn(page, 'admin');
  await go(page, 'onboarding', 'Onboarding');
  const failed = page.locator('details.onboarding', { hasText: 'Validate' }).filter({ hasText: 'Failed' }).first();
  await failed.locator('summary').click();
  const rows = await failed.locator('tbody tr').evaluateAll(trs => trs.map(tr => Array.from(tr.cells, c => c.innerText.trim())));
  assert(rows.length > 3, 'rules: ' + JSON.stringify(rows));
  const firstPass = rows.findIndex(r => r[1] !== 'Failed');
  assert(rows[0][1] === 'Failed' && rows.slice(firstPass).every(r => r[1] !== 'Failed'), 'failing rules are not first: ' + JSON.stringify(rows.map(r => r[0] + ':' + r[1])));
  const plan = rows.find(r => r[0] === 'OrganizationHasRequiredServicePlan');
  assert(plan && plan[1] === 'Failed' && plan[2] && plan[5].length > 10, 'the plan rule with expected value and fix: ' + JSON.stringify(plan));
  await failed.scrollIntoViewIfNeeded();
});

test('the audit chain verifies, a changed record is named, filters and export work', async (page) => {
  await signIn(page, 'admin');
  await go(page, 'audit', 'Audit');
  await page.getByRole('button', { name: 'Verify the chain' }).click();
  await page.locator('#audit-verdict', { hasText: /Intact|Record/ }).waitFor();
  const verdict = await page.locator('#audit-verdict').innerText();
  assert(/Intact: \d+ records/.test(verdict), 'verdict: ' + verdict);
  await page.getByLabel('Action').selectOption('new-dataencryptionpolicy');
  const actions = await page.locator('main tbody tr td:nth-child(4)').allInnerTexts();
  assert(actions.length >= 2 && actions.every(a => a === 'new-dataencryptionpolicy'), 'filtered by action: ' + actions);
  await page.getByLabel('Actor').fill('exo@contoso.com');
  const actors = await page.locator('main tbody tr td:nth-child(3)').allInnerTexts();
  assert(actors.length >= 2 && actors.every(a => a.includes('exo@contoso.com')), 'filtered by actor: ' + actors);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export (JSON lines)' }).click()]);
  const file = path.join(OUT, 'audit.jsonl');
  await dl.saveAs(file);
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map(l => JSON.parse(l));
  assert(lines.length > 10 && lines[0].seq === 1 && lines.every((r, i) => r.seq === i + 1), 'export: ' + lines.length + ' lines');
  // The exported chain verifies with ck, independently of the browser.
  const out = ck('audit', 'verify', file);
  assert(/intact|OK|verified/i.test(out), 'ck audit verify: ' + out);

  // A record changed on its way (as if in the database): named.
  const tampered = await newPage();
  await tampered.route(/\/v1\/tenants\/[^/]+\/audit\?/, async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    for (const r of body.value || []) if (r.seq === 3) r.actor = 'mallory (global-admin)';
    await route.fulfill({ response: res, json: body });
  });
  await signIn(tampered, 'admin');
  await go(tampered, 'audit', 'Audit');
  await tampered.getByRole('button', { name: 'Verify the chain' }).click();
  await tampered.locator('#audit-verdict', { hasText: /Intact|Record/ }).waitFor();
  const bad = await tampered.locator('#audit-verdict').innerText();
  await tampered.screenshot({ path: path.join(OUT, 'audit-tampered.png'), fullPage: true });
  await tampered.context().close();
  assert(/Record 3: its content does not match its hash/.test(bad), 'a changed record: ' + bad);
});

test('a purge certificate downloads and verifies', async (page) => {
  await signIn(page, 'admin');
  await go(page, 'purge', 'Purge');
  await page.getByLabel(/Mailbox DEP/).fill('Contoso-EXO-Purge');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('#cert-verdict').waitFor();
  const state = await page.locator('[data-field=State]').innerText();
  const approvals = await page.locator('[data-field=Approvals]').innerText();
  assert(state === 'Purged' && approvals === '1 of 1', 'purge: ' + state + ', ' + approvals);
  const table = await page.locator('#purge-result table').innerText();
  assert(table.includes('cso@contoso.com') && /SHA256:/.test(table), 'approvals: ' + table);
  const verdict = await page.locator('#cert-verdict').innerText();
  assert(verdict.startsWith('verified') && verdict.includes('1 officer approval'), 'verdict: ' + verdict);
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the crypto-shred certificate' }).click()]);
  const file = path.join(OUT, 'crypto-shred-certificate.json');
  await dl.saveAs(file);
  const out = ck('dep', 'purge', 'verify', file);
  assert(out.includes('Signature OK'), 'ck dep purge verify: ' + out);
});

test('a destructive action needs the name typed again', async (page) => {
  await signIn(page, 'exo');
  await go(page, 'policies', 'Policies');
  const row = page.locator('tr', { has: page.locator('.health[data-dep="Contoso-EXO-DEP-1"]') });
  await row.getByRole('button', { name: 'Disable…' }).click();
  const confirm = row.getByRole('button', { name: 'Disable Contoso-EXO-DEP-1' });
  assert(await confirm.isDisabled(), 'the confirm button is enabled before the name is typed');
  const words = await row.locator('form.confirm').innerText();
  assert(words.includes('can no longer be assigned'), 'what it will do: ' + words);
  await row.getByLabel('Type Contoso-EXO-DEP-1 to confirm').fill('contoso-exo-dep-1');
  assert(await confirm.isDisabled(), 'enabled with the name in other case');
  await row.getByLabel('Type Contoso-EXO-DEP-1 to confirm').fill('Contoso-EXO-DEP-1');
  assert(await confirm.isEnabled(), 'still disabled with the name typed');
  await page.screenshot({ path: path.join(OUT, 'confirm-disable.png'), fullPage: true });
  await confirm.click();
  await row.getByText('Contoso-EXO-DEP-1 is disabled.').waitFor();
  const d = await api('exo', 'GET', '/v1/tenants/Contoso/dataEncryptionPolicies/Contoso-EXO-DEP-1');
  assert(d.body.enabled === false, 'the DEP is not disabled: ' + JSON.stringify(d.body));
  await page.getByRole('heading', { level: 1, name: 'Policies' }).waitFor();
  await page.locator('tr', { has: page.locator('.health[data-dep="Contoso-EXO-DEP-1"]') }).getByRole('button', { name: 'Enable' }).click();
  for (let i = 0; i < 50 && !(await api('exo', 'GET', '/v1/tenants/Contoso/dataEncryptionPolicies/Contoso-EXO-DEP-1')).body.enabled; i++) await page.waitForTimeout(100);
  // The purge request: typed name, the seeds' words, and the API's refusal
  // while the keys still unwrap.
  await go(page, 'purge', 'Purge');
  await page.getByLabel(/Mailbox DEP/).fill('Contoso-EXO-DEP-1');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByLabel('Reason').fill('leaving');
  await page.getByLabel(/Contact/).fill('cso@contoso.com');
  const req = page.getByRole('button', { name: 'Request the permanent data purge' });
  assert(await req.isDisabled(), 'purge request enabled before the name is typed');
  const pw = await page.locator('form.confirm').innerText();
  assert(pw.includes('permanently crypto-deletes') && pw.includes('PermanentDataPurgeRequested'), 'purge words: ' + pw);
  await page.getByLabel('Type Contoso-EXO-DEP-1 to confirm').fill('Contoso-EXO-DEP-1');
  await req.click();
  await page.getByRole('alert').waitFor();
  const refusal = await page.getByRole('alert').innerText();
  assert(refusal.includes('R6.KeysRevoked') && refusal.includes('Fix:'), 'refusal: ' + refusal);
});

test('a purge is requested from the console once the keys refuse', async (page) => {
  await signIn(page, 'exo');
  await go(page, 'purge', 'Purge');
  ck('vault', 'access-policy', 'remove', 'ContosoAKV01', '--spn', EXO_APP);
  ck('vault', 'access-policy', 'remove', 'ContosoAKV02', '--spn', EXO_APP);
  try {
    await page.getByLabel(/Mailbox DEP/).fill('Contoso-EXO-Leave');
    await page.getByRole('button', { name: 'Show' }).click();
    await page.getByLabel('Reason').fill('Leaving the service');
    await page.getByLabel(/Contact/).fill('cso@contoso.com');
    await page.getByLabel('Type Contoso-EXO-Leave to confirm').fill('Contoso-EXO-Leave');
    await page.getByRole('button', { name: 'Request the permanent data purge' }).click();
    await page.locator('[data-field=State]').waitFor();
    const state = await page.locator('[data-field=State]').innerText();
    const approvals = await page.locator('[data-field=Approvals]').innerText();
    assert(state === 'Requested' && approvals === '0 of 1', 'after the request: ' + state + ', ' + approvals);
    assert((await page.locator('#purge-result').innerText()).includes('ck dep purge approve Contoso-EXO-Leave --key FILE'), 'how officers approve');
    const d = await api('exo', 'GET', '/v1/tenants/Contoso/dataEncryptionPolicies/Contoso-EXO-Leave');
    assert(d.body.enabled === false, 'a DEP with a purge request stays assignable: ' + JSON.stringify(d.body));
  } finally {
    ck('vault', 'access-policy', 'set', 'ContosoAKV01', '--spn', EXO_APP, '--key-permissions', 'get,wrapKey,unwrapKey');
    ck('vault', 'access-policy', 'set', 'ContosoAKV02', '--spn', EXO_APP, '--key-permissions', 'get,wrapKey,unwrapKey');
  }
});

test('a compliance admin assigns the multi-workload DEP', async (page) => {
  await signIn(page, 'cso');
  await go(page, 'policies', 'Policies');
  await page.getByLabel('Assign to all multi-workload data').selectOption('Contoso_Global_2');
  await page.getByRole('button', { name: 'Assign', exact: true }).click();
  await page.getByText('Assigned: Contoso_Global_2').waitFor();
  const a = await api('cso', 'GET', '/v1/tenants/Contoso/m365DataAtRestEncryptionPolicyAssignment');
  assert(a.body.dataEncryptionPolicy === 'Contoso_Global_2', 'assignment: ' + JSON.stringify(a.body));
});

test('a global admin approves one access request and denies another', async (page) => {
  await signIn(page, 'admin');
  await go(page, 'access', 'Access requests');
  const global = page.locator('tr').filter({ has: page.locator('td:nth-child(3)', { hasText: /^Contoso_Global$/ }) });
  const other = page.locator('tr').filter({ has: page.locator('td:nth-child(3)', { hasText: /^Contoso_Global_2$/ }) });
  assert((await global.innerText()).includes('Pending') && (await other.innerText()).includes('Pending'), 'pending: ' + await page.locator('main').innerText());
  await global.getByRole('button', { name: 'Approve…' }).click();
  const words = await global.locator('form.confirm').innerText();
  assert(words.includes('roll the multi-workload DEP back to service-managed keys') && words.includes('incident 4713'), 'approval words: ' + words);
  const ok = global.getByRole('button', { name: 'Approve the rollback' });
  assert(await ok.isDisabled(), 'approve enabled before the DEP name is typed');
  await global.getByLabel('Type Contoso_Global to confirm').fill('Contoso_Global');
  await ok.click();
  await page.locator('tr').filter({ has: page.locator('td:nth-child(3)', { hasText: /^Contoso_Global$/ }) }).getByText('Approved by admin@contoso.com').waitFor();
  await page.locator('tr').filter({ has: page.locator('td:nth-child(3)', { hasText: /^Contoso_Global_2$/ }) }).getByRole('button', { name: 'Deny' }).click();
  await page.locator('tr').filter({ has: page.locator('td:nth-child(3)', { hasText: /^Contoso_Global_2$/ }) }).getByText('Denied by admin@contoso.com').waitFor();
  const rs = (await api('admin', 'GET', '/v1/tenants/Contoso/accessRequests')).body.value;
  const st = Object.fromEntries(rs.map(r => [r.depName, r.state]));
  assert(st.Contoso_Global === 'Approved' && st.Contoso_Global_2 === 'Denied', 'API: ' + JSON.stringify(st));
});

test('a global admin revokes a token, which stops working', async (page) => {
  const issued = await api('admin', 'POST', '/v1/tenants/Contoso/tokens', { subject: 'temp@contoso.com', role: 'exchange-admin', validFor: '1h' });
  assert(issued.status === 201, 'issue: ' + JSON.stringify(issued));
  fs.writeFileSync('temp.token', issued.body.token);
  assert((await api('temp', 'GET', '/v1/me')).status === 200, 'the new token does not work');
  await signIn(page, 'admin');
  await go(page, 'tokens', 'Tokens');
  const text = await page.locator('main').innerText();
  assert(!text.includes(issued.body.token) && !text.includes(token('admin')), 'the tokens page shows a secret');
  const row = page.locator('tr').filter({ has: page.locator('.revoke[data-token="' + issued.body.id + '"]') });
  await row.getByRole('button', { name: 'Revoke…' }).click();
  await row.getByLabel('Type temp@contoso.com to confirm').fill('temp@contoso.com');
  await row.getByRole('button', { name: 'Revoke the token of temp@contoso.com' }).click();
  await page.locator('tr').filter({ has: page.locator('.revoke[data-token="' + issued.body.id + '"]') }).getByText('revoked').waitFor();
  assert((await api('temp', 'GET', '/v1/me')).status === 401, 'the revoked token still works');
});

test('a mailbox shows its DEP, and unassigning needs its address typed', async (page) => {
  await signIn(page, 'exo');
  await go(page, 'mailboxes', 'Mailboxes');
  await page.getByLabel('Mailbox or mail user address').fill('alice@contoso.com');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('[data-field=IsEncrypted]').waitFor();
  assert(await page.locator('[data-field=IsEncrypted]').innerText() === 'true', 'IsEncrypted');
  assert((await page.locator('[data-field=DataEncryptionPolicyID]').innerText()).startsWith('Contoso-EXO-DEP-1 ('), 'DEP');
  await page.getByLabel(/Assign a DEP/).selectOption('');
  await page.getByRole('button', { name: 'Assign', exact: true }).click();
  const confirm = page.getByRole('button', { name: 'Unassign the DEP' });
  await confirm.waitFor();
  assert(await confirm.isDisabled(), 'unassign enabled before the address is typed');
  await page.getByLabel('Type alice@contoso.com to confirm').fill('alice@contoso.com');
  assert(await confirm.isEnabled(), 'unassign still disabled with the address typed');
  // Not found: the API's rule.
  await page.getByLabel('Mailbox or mail user address').fill('carol@contoso.com');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByRole('alert').waitFor();
  assert((await page.getByRole('alert').innerText()).includes('Mailbox.Exists'), 'unknown mailbox');
});

test('a role sees only its pages, and the API refuses the others', async (page) => {
  await signIn(page, 'exo');
  let nav = await navNames(page);
  assert(JSON.stringify(nav) === JSON.stringify(['Overview', 'Policies', 'Mailboxes', 'Onboarding', 'Jobs', 'Purge']), 'exchange admin nav: ' + nav);
  await go(page, 'policies', 'Policies');
  let text = await page.locator('main').innerText();
  assert(text.includes('Mailbox DEPs') && !text.includes('Site DEPs per geo') && !text.includes('Multi-workload DEPs'), 'exchange admin policies: ' + text.slice(0, 200));
  await page.goto(SERVICE + '/console/#/audit');
  await page.getByRole('heading', { name: 'Not available' }).waitFor();
  assert((await api('exo', 'GET', '/v1/tenants/Contoso/audit')).status === 403, 'the API lets an exchange admin read the audit log');
  assert((await api('exo', 'GET', '/v1/tenants/Contoso/accessRequests')).status === 403, 'the API lets an exchange admin read access requests');
  await page.goto(SERVICE + '/console/#/access');
  await page.getByRole('heading', { name: 'Not available' }).waitFor();

  const spo = await newPage();
  await signIn(spo, 'spo');
  nav = await navNames(spo);
  assert(JSON.stringify(nav) === JSON.stringify(['Overview', 'Policies', 'Onboarding', 'Jobs']), 'sharepoint admin nav: ' + nav);
  await go(spo, 'policies', 'Policies');
  text = await spo.locator('main').innerText();
  assert(text.includes('Site DEPs per geo') && !text.includes('Mailbox DEPs'), 'sharepoint admin policies: ' + text.slice(0, 200));
  await spo.goto(SERVICE + '/console/#/mailboxes');
  await spo.getByRole('heading', { name: 'Not available' }).waitFor();
  await spo.screenshot({ path: path.join(OUT, 'sharepoint-no-mailboxes.png'), fullPage: true });
  await spo.context().close();
  assert((await api('spo', 'GET', '/v1/tenants/Contoso/mailboxes/alice@contoso.com/statistics')).status === 403, 'the API lets a SharePoint admin read a mailbox');

  const cso = await newPage();
  await signIn(cso, 'cso');
  nav = await navNames(cso);
  assert(JSON.stringify(nav) === JSON.stringify(['Overview', 'Policies', 'Onboarding', 'Jobs', 'Audit']), 'compliance admin nav: ' + nav);
  await go(cso, 'policies', 'Policies');
  text = await cso.locator('main').innerText();
  assert(text.includes('Multi-workload DEPs') && text.includes('Assigned: Contoso_Global') && !text.includes('Mailbox DEPs'), 'compliance admin policies: ' + text.slice(0, 300));
  await cso.context().close();
});

test('usable at phone width', async (page) => {
  await signIn(page, 'admin');
  for (const [id, title] of [['overview', 'Overview'], ['policies', 'Policies'], ['audit', 'Audit']]) {
    await go(page, id, title);
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert(over <= 1, title + ' scrolls sideways at 390 px by ' + over + ' px');
  }
  await go(page, 'policies', 'Policies');
}, { viewport: { width: 390, height: 844 } });

test('keyboard: skip link, nav and sign-in reachable by Tab', async (page) => {
  await page.goto(SERVICE + '/console/');
  await page.getByLabel('API token').waitFor();
  assert(await page.evaluate(() => document.activeElement.id) === 'token', 'the token field has no focus');
  await page.keyboard.insertText(token('admin'));
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  // From the top of a fresh page (still signed in): the skip link first,
  // then on to the page links; the skip link moves focus to the content.
  const fresh = async () => {
    await page.reload();
    await page.locator('main[data-rendered]').waitFor();
  };
  await fresh();
  await page.keyboard.press('Tab');
  assert(await page.evaluate(() => document.activeElement.classList.contains('skip')), 'the first Tab does not reach the skip link');
  let inNav = false;
  for (let i = 0; i < 4 && !inNav; i++) {
    await page.keyboard.press('Tab');
    inNav = await page.evaluate(() => document.activeElement.closest('nav') !== null);
  }
  assert(inNav, 'Tab does not reach the page links');
  await fresh();
  await page.keyboard.press('Tab');
  await page.keyboard.press('Enter');
  assert(await page.evaluate(() => document.activeElement.id) === 'main', 'the skip link does not move focus to the content');
});

test('headers: CSP without inline script, no token in the page\'s requests but the API\'s', async (page) => {
  const res = await page.goto(SERVICE + '/console/');
  const h = res.headers();
  assert(/script-src 'self'/.test(h['content-security-policy']) && !/unsafe-inline/.test(h['content-security-policy']), 'CSP: ' + h['content-security-policy']);
  assert(h['x-content-type-options'] === 'nosniff' && h['referrer-policy'] === 'no-referrer', 'headers: ' + JSON.stringify(h));
  const inline = await page.evaluate(() => Array.from(document.scripts).filter(s => !s.src).length);
  assert(inline === 0, inline + ' inline scripts');
  const urls = [];
  page.on('request', (r) => urls.push(r.url()));
  await page.getByLabel('API token').fill(token('admin'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert(urls.every(u => !u.includes(token('admin'))), 'a request carries the token in its URL');
  assert(urls.every(u => u.startsWith(SERVICE)), 'a request leaves the service: ' + urls.filter(u => !u.startsWith(SERVICE)));
});

test('without JavaScript the console says what it needs', async (page) => {
  await page.goto(SERVICE + '/console/');
  const text = await page.locator('main').innerText();
  assert(text.includes('The console needs JavaScript'), 'noscript: ' + text);
}, { javaScriptEnabled: false });

// ---- run ----

let failed = 0;
for (const { name, fn, opts } of tests) {
  const page = await newPage(opts);
  const file = path.join(OUT, name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase() + '.png');
  const start = Date.now();
  try {
    await fn(page);
    assert(page.problems.length === 0, 'the page reported: ' + page.problems.join('; '));
    console.log('ok    ' + name + ' (' + (Date.now() - start) + ' ms)');
  } catch (e) {
    failed++;
    console.log('FAIL  ' + name + ': ' + e.message.split('\n')[0]);
    console.error(e.stack);
  }
  await page.screenshot({ path: file }).catch(() => {});
  await page.context().close();
}
await browser.close();
if (failed) {
  console.log('console e2e: ' + failed + ' of ' + tests.length + ' failed (screenshots in ' + OUT + ')');
  process.exit(1);
}
console.log('console e2e: all passed (' + tests.length + ' tests; screenshots in ' + OUT + ')');
