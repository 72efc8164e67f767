// The Customer Key console for tenant admins (SPEC A3): a hash-routed
// single page over the service's REST API. See docs/console.md.

import { session, call, get, list, first, t, ApiError } from './api.js';
import { h, badge, table, bar, errorBox, when, keyCell, confirmBox, download } from './ui.js';
import { verifyChain } from './audit.js';

const GLOBAL = 'global-admin', EXO = 'exchange-admin', SPO = 'sharepoint-admin', COMPLIANCE = 'compliance-admin';
const ALL = [GLOBAL, EXO, SPO, COMPLIANCE];

// What each role sees. The API refuses the rest anyway (internal/api/routes.go).
const can = {
  mailboxDEPs: [GLOBAL, EXO], mdep: [GLOBAL, COMPLIANCE], sites: [GLOBAL, SPO],
  audit: [GLOBAL, COMPLIANCE], purge: [GLOBAL, EXO],
  writeMailboxDEP: [GLOBAL, EXO], writeMDEP: [GLOBAL, COMPLIANCE],
};
const may = (what) => session.me && can[what].includes(session.me.role);

const pages = [
  { id: 'overview', title: 'Overview', roles: ALL, render: overview },
  { id: 'policies', title: 'Policies', roles: ALL, render: policies },
  { id: 'mailboxes', title: 'Mailboxes', roles: [GLOBAL, EXO], render: mailboxes },
  { id: 'onboarding', title: 'Onboarding', roles: ALL, render: onboarding },
  { id: 'jobs', title: 'Jobs', roles: ALL, render: jobs },
  { id: 'audit', title: 'Audit', roles: can.audit, render: audit },
  { id: 'purge', title: 'Purge', roles: can.purge, render: purge },
  { id: 'access', title: 'Access requests', roles: [GLOBAL], render: accessRequests },
  { id: 'tokens', title: 'Tokens', roles: [GLOBAL], render: tokens },
];

// The scenarios and DEP kinds a role works with.
const scenariosOf = { [GLOBAL]: ['EXO', 'SPO', 'MDEP'], [EXO]: ['EXO'], [SPO]: ['SPO'], [COMPLIANCE]: ['MDEP'] };
const kindsOf = { [GLOBAL]: ['mailbox', 'mdep', 'site'], [EXO]: ['mailbox'], [SPO]: ['site'], [COMPLIANCE]: ['mdep'] };
const jobKindsOf = {
  [GLOBAL]: null, [EXO]: ['reassign-mailboxes', 'recover', 'purge'], [SPO]: ['rewrap-sites'], [COMPLIANCE]: ['rollback-mdep', 'reassociate-mdep'],
};
const kindName = { mailbox: 'mailbox DEP', mdep: 'multi-workload DEP', site: 'site DEP' };

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const status = document.getElementById('status');
let timers = [];
let generation = 0;

// every runs f now and then every ms while the page it belongs to shows.
function every(ms, f) {
  const gen = generation;
  const tick = async () => {
    if (gen !== generation) return;
    let again = true;
    try { again = (await f()) !== false; } catch (e) { status.textContent = e.message; }
    if (again && gen === generation) timers.push(setTimeout(tick, ms));
  };
  return tick();
}

function heading(text) {
  return h('h1', { id: 'page-title', tabindex: '-1' }, text);
}

// ---- sign-in ----

async function signIn(token) {
  session.token = token;
  try {
    session.me = await get('/v1/me');
  } catch (e) {
    session.token = '';
    throw e;
  }
  if (!session.me.tenant) {
    session.token = '';
    session.me = null;
    throw new ApiError(403, { title: 'Not a tenant admin', detail: 'this is the operator\'s token; the console is for tenant admins', fix: 'sign in with a tenant admin\'s token (ck tenant token ... --out FILE), or use ck as the operator' });
  }
  session.tenant = await get(t());
}

function signInPage(err) {
  nav.replaceChildren();
  document.getElementById('who').textContent = '';
  document.getElementById('signout').hidden = true;
  const ta = h('textarea', { id: 'token', name: 'token', required: true, autocomplete: 'off', spellcheck: 'false' });
  const out = h('div', {}, err ? errorBox(err) : null);
  const form = h('form', { class: 'signin' },
    h('label', { for: 'token' }, 'API token'), ta,
    h('p', { class: 'note' }, 'A tenant admin\'s token, as ck tenant token prints it; or run ', h('code', {}, 'ck console open'), ' for a sign-in link. The token stays in this tab (session storage) and goes only to this service\'s API.'),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Sign in')), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await signIn(ta.value.trim());
      if (location.hash === '#/overview') route(); else location.hash = '#/overview';
    } catch (e) { out.replaceChildren(errorBox(e)); }
  });
  main.replaceChildren(heading('Sign in'), form);
  ta.focus();
}

// linkPage: a sign-in link. It signs in only when the user says so, after
// seeing whom it signs in as (and whom they are signed in as, if anyone,
// in this tab): a link anyone may send, taken at once, would put an admin,
// unawares, into the sender's tenant or role, where what the admin then
// types goes to the sender.
async function linkPage(tok) {
  let them;
  try {
    them = await call('GET', '/v1/me', undefined, tok);
  } catch (e) {
    return signInPage(e);
  }
  let me = session.me;
  if (!me && session.token) {
    try { me = await get('/v1/me'); } catch { me = null; }
  }
  nav.replaceChildren();
  const who = (x) => x.subject + ' · ' + x.role + ' · tenant ' + (x.tenant || 'none (the operator)');
  const go = h('button', { type: 'button' }, 'Sign in as ' + them.subject);
  const stay = h('button', { type: 'button', class: 'secondary' }, me ? 'Stay signed in as ' + me.subject : 'Cancel');
  const out = h('div', {});
  const overview = () => { if (location.hash === '#/overview') route(); else location.hash = '#/overview'; };
  stay.addEventListener('click', overview);
  go.addEventListener('click', async () => {
    try {
      await signIn(tok);
      overview();
    } catch (e) { out.replaceChildren(errorBox(e)); }
  });
  main.replaceChildren(heading(me ? 'Switch sign-in?' : 'Sign in?'),
    h('p', {}, 'This sign-in link is for ', h('strong', {}, who(them)), '.'),
    me ? h('p', {}, 'You are signed in here as ', h('strong', {}, who(me)), '.') : null,
    h('p', { class: 'note' }, 'Go on only if you asked for this link (ck console open). A link someone else sent may sign you in to their tenant.'),
    h('div', { class: 'row' }, go, stay), out);
  (me ? stay : go).focus();
}

// ---- layout and routing ----

function chrome(current) {
  const me = session.me;
  document.getElementById('who').textContent = me.subject + ' · ' + me.role + ' · ' + (session.tenant ? session.tenant.name : me.tenant);
  document.getElementById('signout').hidden = false;
  nav.replaceChildren(...pages.filter(p => p.roles.includes(me.role)).map(p =>
    h('a', { href: '#/' + p.id, 'aria-current': p.id === current ? 'page' : null }, p.title)));
}

// firstRoute: the page's first drawing keeps the browser's focus at the
// top (the first Tab reaches the skip link); later ones move it to the
// new page's title, unless the user has moved it meanwhile.
let firstRoute = true;

async function route() {
  const moveFocus = !firstRoute;
  firstRoute = false;
  const before = document.activeElement;
  generation++;
  timers.forEach(clearTimeout);
  timers = [];
  const m = /^#token=([^&]+)/.exec(location.hash);
  if (m) {
    // A sign-in link: the token came in the fragment, which no server saw.
    const tok = decodeURIComponent(m[1]);
    history.replaceState(null, '', location.pathname + '#/overview');
    if (session.token !== tok) return linkPage(tok);
  }
  if (!session.token) return signInPage();
  if (!session.me) {
    try { await signIn(session.token); } catch (e) { return signInPage(e); }
  }
  const id = (location.hash.match(/^#\/([a-z]+)/) || [])[1] || 'overview';
  const page = pages.find(p => p.id === id);
  chrome(id);
  if (!page || !page.roles.includes(session.me.role)) {
    main.replaceChildren(heading('Not available'), h('p', {}, 'The role ' + session.me.role + ' has no page "' + id + '" here.'));
    return;
  }
  document.title = page.title + ' · Customer Key console';
  const start = performance.now();
  session.calls = 0;
  delete main.dataset.rendered; // set again once this page has rendered (the tests and the bench wait for it)
  delete main.dataset.calls;
  main.replaceChildren(heading(page.title), h('p', { class: 'note' }, 'Loading…'));
  const gen = generation;
  try {
    const body = await page.render();
    if (gen !== generation) return; // the user moved on meanwhile
    main.replaceChildren(heading(page.title), ...[body].flat());
    performance.mark('ck-rendered', { detail: page.id });
    main.dataset.rendered = String(Math.round(performance.now() - start));
    main.dataset.calls = String(session.calls);
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof ApiError && e.status === 401) { session.token = ''; session.me = null; return signInPage(e); }
    main.replaceChildren(heading(page.title), errorBox(e));
  }
  const title = document.getElementById('page-title');
  if (moveFocus && title && (document.activeElement === document.body || document.activeElement === before)) title.focus();
}

document.getElementById('signout').addEventListener('click', () => {
  generation++; // stops the page's polling
  timers.forEach(clearTimeout);
  timers = [];
  session.token = ''; session.me = null; session.tenant = null;
  location.hash = '';
  signInPage();
});
window.addEventListener('hashchange', route);
// The skip link moves focus to the content and stays on the page: as a
// plain #main link it changed the route, and the page it drew again took
// the focus back to its title.
document.querySelector('a.skip').addEventListener('click', (e) => { e.preventDefault(); main.focus(); });
route();

// ---- overview ----

function onboardingState(reqs, scenario) {
  const mine = reqs.filter(r => r.request.scenario === scenario).sort((a, b) => b.createdDate.localeCompare(a.createdDate));
  if (mine.some(r => r.request.mode === 'Enable' && r.enablementResult === 'Success')) return ['Enabled', 'Enabled'];
  if (!mine.length) return ['Not onboarded', 'unknown'];
  const r = mine[0];
  return [r.request.mode + ': ' + r.validationResult.status, r.validationResult.status];
}

function plainCause(hl) {
  if (hl.revoked) return 'Revoked since ' + when(hl.revoked.since) + ': ' + hl.revoked.cause + '. Nothing is served with the availability key until a customer key unwraps again.';
  if (hl.state === 'unknown') return 'Not checked since the service started: use Check now on the Policies page.';
  return hl.cause || '';
}

async function overview() {
  const role = session.me.role;
  const kinds = kindsOf[role];
  const [reqs, healths, js] = await Promise.all([list(t('/onboardingRequests')), list(t('/health')), first(t('/jobs'), 100)]);
  const mine = healths.filter(x => kinds.includes(x.kind));
  const count = (s) => mine.filter(x => x.state === s).length;
  const running = js.filter(j => (j.state === 'running' || j.state === 'queued') && (!jobKindsOf[role] || jobKindsOf[role].includes(j.kind)));
  const cards = h('div', { class: 'cards' },
    h('section', { class: 'card', 'aria-labelledby': 'ov-onb' }, h('h2', { id: 'ov-onb' }, 'Onboarding'),
      h('ul', {}, scenariosOf[role].map(s => { const [text, cls] = onboardingState(reqs, s); return h('li', {}, s + ': ', badge(text, cls)); }))),
    h('section', { class: 'card', 'aria-labelledby': 'ov-health' }, h('h2', { id: 'ov-health' }, 'DEPs by health'),
      h('ul', { id: 'health-counts' }, ['healthy', 'degraded', 'unhealthy', 'unknown'].map(s => h('li', {}, badge(s), ' ', h('span', { 'data-state': s }, String(count(s))))))),
    h('section', { class: 'card', 'aria-labelledby': 'ov-jobs' }, h('h2', { id: 'ov-jobs' }, 'Jobs running'),
      running.length ? h('ul', {}, running.map(j => h('li', {}, j.kind + ' ' + j.target + ' ', bar(j.percentComplete, j.kind + ' ' + j.target)))) : h('p', {}, 'None.')));
  const out = [cards];
  const troubled = mine.filter(x => x.state !== 'healthy' || x.revoked);
  out.push(h('h2', {}, 'DEPs that need attention'));
  out.push(troubled.length ? table(['DEP', 'Kind', 'State', 'Since', 'Cause'], troubled.map(x =>
    [x.name, kindName[x.kind], badge(x.revoked ? 'revoked' : x.state), when(x.since || (x.revoked && x.revoked.since)), plainCause(x)]))
    : h('p', {}, mine.length ? 'All ' + mine.length + ' DEPs are healthy.' : 'No customer DEPs yet.'));
  if (may('audit')) {
    // Alerts: a cached key whose refresh keeps failing before it expires
    // (the keyring records them in the audit chain), among the last 5,000
    // records, filtered by the service.
    const head = await get(t('/audit/head'));
    const after = Math.max(0, head.seq - 5000);
    const alerts = (await list(t('/audit?after=' + after + '&action=alert'))).filter(r => r.action === 'alert').reverse();
    out.push(h('h2', {}, 'Alerts (the last 5,000 audit records)'));
    out.push(alerts.length ? table(['When', 'What'], alerts.slice(0, 20).map(r => [when(r.time), r.reason || r.target]))
      : h('p', {}, 'No alert: no cached key failed to refresh before it expires.'));
  }
  return out;
}

// ---- policies ----

async function policies() {
  const out = [];
  const healths = await list(t('/health'));
  const healthOf = Object.fromEntries(healths.map(x => [x.dep, x]));
  if (may('mailboxDEPs')) out.push(h('h2', {}, 'Mailbox DEPs'), await depTable('dataEncryptionPolicies', 'mailbox', healthOf, may('writeMailboxDEP')));
  if (may('mdep')) {
    out.push(h('h2', {}, 'Multi-workload DEPs'));
    out.push(await depTable('m365DataAtRestEncryptionPolicies', 'mdep', healthOf, may('writeMDEP')));
    out.push(await mdepAssignment());
  }
  if (may('sites')) out.push(h('h2', {}, 'Site DEPs per geo'), await geos(healthOf));
  return out;
}

function healthCell(hl) {
  if (!hl) return badge('unknown');
  return h('div', {}, badge(hl.revoked ? 'revoked' : hl.state, hl.revoked ? 'revoked' : hl.state),
    hl.since ? h('div', { class: 'note' }, 'since ' + when(hl.since)) : null,
    (hl.cause || hl.revoked) ? h('div', { class: 'note' }, plainCause(hl)) : null,
    (hl.keys || []).filter(k => k.error).map(k => h('div', { class: 'note' }, k.keyId.split('/').slice(-2, -1)[0] + ': ' + k.error)));
}

async function depTable(collection, kind, healthOf, writer) {
  const deps = await list(t('/' + collection));
  if (!deps.length) return h('p', {}, 'None.');
  const rows = deps.map(d => {
    const cell = h('div', { class: 'health', 'data-dep': d.name }, healthCell(healthOf[d.id]));
    const check = h('button', { type: 'button', class: 'secondary', 'aria-label': 'Check now: ' + d.name }, 'Check now');
    check.addEventListener('click', async () => {
      check.disabled = true;
      try {
        const hl = await get(t('/' + collection + '/' + encodeURIComponent(d.id) + '/health'));
        cell.replaceChildren(healthCell(hl));
      } catch (e) { cell.replaceChildren(errorBox(e)); }
      check.disabled = false;
    });
    const actions = h('div', {}, check);
    if (writer) actions.append(' ', enableToggle(collection, kind, d));
    return [h('div', {}, h('strong', {}, d.name), d.description ? h('div', { class: 'note' }, d.description) : null),
      h('div', {}, (d.wrappedWith && d.wrappedWith.length ? d.wrappedWith : d.azureKeyIDs).map(keyCell)),
      badge(d.enabled ? 'enabled' : 'disabled', d.enabled ? 'ok' : 'bad'), when(d.created), cell, actions];
  });
  return table(['DEP', 'Customer keys (vault, key, version)', 'Enabled', 'Created', 'Health and revocation', 'Actions'], rows);
}

function enableToggle(collection, kind, d) {
  const wrap = h('span', {});
  if (!d.enabled) {
    const b = h('button', { type: 'button', class: 'secondary' }, 'Enable');
    b.addEventListener('click', async () => {
      try { await call('PATCH', t('/' + collection + '/' + encodeURIComponent(d.id)), { enabled: true }); route(); } catch (e) { wrap.append(errorBox(e)); }
    });
    wrap.append(b);
    return wrap;
  }
  const b = h('button', { type: 'button', class: 'danger' }, 'Disable…');
  b.addEventListener('click', () => {
    b.disabled = true;
    wrap.append(confirmBox({
      name: d.name, button: 'Disable ' + d.name,
      what: 'Disable the ' + kindName[kind] + ' ' + d.name + '.',
      words: kind === 'mdep'
        ? ['Before you disable a multi-workload DEP, unassign the DEP from workloads in your tenant.', 'A disabled DEP cannot be assigned; data already under it stays readable while its keys are.']
        : ['A disabled DEP can no longer be assigned to mailboxes (Set-DataEncryptionPolicy -Enabled $false); mailboxes already on it keep their keys.'],
      onConfirm: async (out) => {
        await call('PATCH', t('/' + collection + '/' + encodeURIComponent(d.id)), { enabled: false });
        out.replaceChildren(h('p', { role: 'status' }, d.name + ' is disabled.'));
        setTimeout(route, 800);
      },
    }));
  });
  wrap.append(b);
  return wrap;
}

async function mdepAssignment() {
  const a = await get(t('/m365DataAtRestEncryptionPolicyAssignment'));
  const box = h('div', {}, h('h3', {}, 'Assignment'),
    h('p', {}, a.dataEncryptionPolicy ? ['Assigned: ', h('strong', {}, a.dataEncryptionPolicy), ' since ' + when(a.assigned)] : 'No multi-workload DEP is assigned: multi-workload data is on service-managed keys.'));
  if (may('writeMDEP')) {
    const deps = (await list(t('/m365DataAtRestEncryptionPolicies'))).filter(d => d.enabled);
    const sel = h('select', { id: 'mdep-assign' }, deps.map(d => h('option', { value: d.name }, d.name)));
    const out = h('div', {});
    const form = h('form', { class: 'row' }, h('label', { for: 'mdep-assign' }, 'Assign to all multi-workload data', sel), h('button', { type: 'submit' }, 'Assign'), out);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try { await call('PUT', t('/m365DataAtRestEncryptionPolicyAssignment'), { dataEncryptionPolicy: sel.value }); route(); } catch (e) { out.replaceChildren(errorBox(e)); }
    });
    if (deps.length) box.append(form);
    box.append(h('p', { class: 'note' }, 'To roll back to service-managed keys, ask the operator (an access request you approve).'));
  }
  return box;
}

async function geos(healthOf) {
  const box = h('div', { id: 'geos' });
  const draw = async () => {
    const gs = await list(t('/spoDataEncryptionPolicies'));
    if (!gs.length) { box.replaceChildren(h('p', {}, 'No geo is registered.')); return false; }
    box.replaceChildren(table(['Geo', 'State', 'Progress', 'Primary key', 'Secondary key', 'Health', 'Actions'], gs.map(g => {
      const cell = h('div', { class: 'health', 'data-geo': g.geo }, healthCell(healthOf[g.dataEncryptionPolicyID]));
      const check = h('button', { type: 'button', class: 'secondary', 'aria-label': 'Check now: geo ' + g.geo }, 'Check now');
      check.addEventListener('click', async () => {
        try {
          const hs = await list(t('/spoDataEncryptionPolicies/' + g.geo + '/health'));
          cell.replaceChildren(...hs.map(healthCell));
        } catch (e) { cell.replaceChildren(errorBox(e)); }
      });
      return [h('strong', {}, g.geo), h('span', { class: 'geo-state', 'data-geo': g.geo }, badge(g.state)),
        h('div', { class: 'geo-progress', 'data-geo': g.geo }, bar(g.percentComplete, 'geo ' + g.geo + ' sites done'), h('div', { class: 'note' }, g.done + ' of ' + g.sites + ' sites')),
        g.primaryKeyURI ? keyCell(g.primaryKeyURI) : '', g.secondaryKeyURI ? keyCell(g.secondaryKeyURI) : '', cell, check];
    })));
    return true;
  };
  // Live: polled twice a second, so a roll shows its % as it moves.
  await every(500, draw);
  return box;
}

// ---- mailboxes ----

async function mailboxes() {
  const deps = await list(t('/dataEncryptionPolicies'));
  const byId = Object.fromEntries(deps.map(d => [d.id, d.name]));
  const input = h('input', { id: 'mbx', type: 'email', required: true, placeholder: 'alice@contoso.com', autocomplete: 'off' });
  const out = h('div', { id: 'mailbox-result' });
  const form = h('form', { class: 'row', role: 'search' }, h('label', { for: 'mbx' }, 'Mailbox or mail user address', input), h('button', { type: 'submit' }, 'Show'));
  const show = async (id) => {
    const gen = generation;
    const s = await get(t('/mailboxes/' + encodeURIComponent(id) + '/statistics'));
    const depName = (x) => x ? (byId[x] ? byId[x] + ' (' + x + ')' : x) : '';
    const rows = [['Identity', s.identity], ['Kind', s.kind], ['IsEncrypted', String(s.isEncrypted)],
      ['DataEncryptionPolicyID', depName(s.dataEncryptionPolicyID) || '(service-managed keys)'], ['Items', String(s.itemCount)]];
    if (s.pendingDataEncryptionPolicyID) rows.push(['Pending DEP (re-wrap running)', depName(s.pendingDataEncryptionPolicyID)]);
    const stats = h('dl', { class: 'stats' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', { 'data-field': k }, v)]));
    const sel = h('select', { id: 'assign-dep' }, h('option', { value: '' }, 'None (service-managed keys)'),
      deps.filter(d => d.enabled).map(d => h('option', { value: d.name, selected: d.id === (s.pendingDataEncryptionPolicyID || s.dataEncryptionPolicyID) }, d.name)));
    const res = h('div', {});
    const assign = h('form', { class: 'row' }, h('label', { for: 'assign-dep' }, 'Assign a DEP (Set-Mailbox -DataEncryptionPolicy)', sel), h('button', { type: 'submit' }, 'Assign'));
    const setDEP = async (name) => {
      const r = await call('PATCH', t('/mailboxes/' + encodeURIComponent(s.identity)), { dataEncryptionPolicy: name });
      res.replaceChildren(h('p', { role: 'status' }, r.job ? 'Re-wrapping the mailbox key in the background (job ' + r.job.id + ').' : 'Done.'));
      setTimeout(() => { if (gen === generation) show(s.identity).catch(e => out.replaceChildren(errorBox(e))); }, 700);
    };
    assign.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      res.replaceChildren();
      if (sel.value === '') {
        if (!s.dataEncryptionPolicyID && !s.pendingDataEncryptionPolicyID) return;
        res.append(confirmBox({
          name: s.identity, button: 'Unassign the DEP',
          what: 'Unassign the DEP from ' + s.identity + ': its mailbox key is re-wrapped under service-managed keys.',
          words: ['The mailbox leaves its DEP only with the DEP key from a customer key; a revoked DEP keeps it (T2).', 'Your customer keys no longer protect this mailbox once the re-wrap is done.'],
          onConfirm: () => setDEP(''),
        }));
        return;
      }
      try { await setDEP(sel.value); } catch (e) { res.replaceChildren(errorBox(e)); }
    });
    out.replaceChildren(h('h2', {}, s.identity), stats, may('writeMailboxDEP') ? assign : null, res);
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    out.replaceChildren();
    try { await show(input.value.trim()); } catch (e) { out.replaceChildren(errorBox(e)); }
  });
  return [h('p', { class: 'note' }, 'Get-MailboxStatistics by address: IsEncrypted, the DEP, and the DEP pending while a re-wrap runs.'), form, out];
}

// ---- onboarding ----

async function onboarding() {
  const reqs = (await list(t('/onboardingRequests'))).sort((a, b) => b.createdDate.localeCompare(a.createdDate));
  if (!reqs.length) return h('p', {}, 'No onboarding request yet (New-CustomerKeyOnboardingRequest: ck onboarding new).');
  return reqs.map((r, i) => {
    const rules = [...r.validationResult.rules].sort((a, b) => (a.passed - b.passed) || ((a.advisory ? 1 : 0) - (b.advisory ? 1 : 0)));
    return h('details', { open: i === 0, class: 'onboarding' },
      h('summary', {}, r.request.scenario + ' · ' + r.request.mode + ' · ' + when(r.createdDate) + ' · ValidationResult ', badge(r.validationResult.status), ' · EnablementResult ', badge(r.enablementResult)),
      h('p', { class: 'note mono' }, 'Request ' + r.id + ' · vaults ' + r.request.vaults.join(', ') + ' · keys ' + r.request.keys.join(', ')),
      table(['Rule', 'Result', 'Expected', 'Actual', 'Scope', 'Details and fix'], rules.map(x =>
        [x.ruleName, badge(x.passed ? 'Passed' : (x.advisory ? 'advisory' : 'Failed'), x.passed ? 'Passed' : (x.advisory ? 'unknown' : 'Failed')), x.expectedValue, x.actualValue, x.scope || '', x.details])));
  });
}

// ---- jobs ----

async function jobs() {
  const box = h('div', { id: 'jobs' });
  const kinds = jobKindsOf[session.me.role];
  await every(1000, async () => {
    const js = (await first(t('/jobs'), 200)).filter(j => !kinds || kinds.includes(j.kind));
    box.replaceChildren(js.length ? table(['Kind', 'Target', 'State', 'Progress', 'Attempts', 'Created', 'Updated', 'Error'], js.map(j =>
      [j.kind, j.target, badge(j.state), h('div', {}, bar(j.percentComplete, j.kind + ' ' + j.target), h('div', { class: 'note' }, j.done + ' of ' + j.total)), String(j.attempts), when(j.created), when(j.updated), j.error || '']))
      : h('p', {}, 'No background job yet.'));
    return true; // live: running jobs move, new ones appear
  });
  return [h('p', { class: 'note' }, 'Re-wraps, rolls, recoveries and purges, newest first; updated every second.'), box];
}

// ---- audit ----

async function readChain() {
  return list(t('/audit'));
}

async function audit() {
  const [records, head] = await Promise.all([readChain(), get(t('/audit/head'))]);
  const actions = [...new Set(records.map(r => r.action))].sort();
  const from = h('input', { id: 'a-from', type: 'datetime-local' });
  const to = h('input', { id: 'a-to', type: 'datetime-local' });
  const action = h('select', { id: 'a-action' }, h('option', { value: '' }, 'Any action'), actions.map(a => h('option', { value: a }, a)));
  const actor = h('input', { id: 'a-actor', type: 'search', placeholder: 'admin@contoso.com' });
  const shown = h('div', {});
  const verdict = h('div', { id: 'audit-verdict', role: 'status' });
  const filtered = () => records.filter(r =>
    (!from.value || new Date(r.time) >= new Date(from.value)) && (!to.value || new Date(r.time) <= new Date(to.value)) &&
    (!action.value || r.action === action.value) && (!actor.value || r.actor.toLowerCase().includes(actor.value.toLowerCase())));
  const draw = () => {
    const rs = filtered().reverse();
    shown.replaceChildren(h('p', { class: 'note' }, rs.length + ' of ' + records.length + ' records' + (rs.length > 500 ? ' (the newest 500 shown)' : '')),
      table(['#', 'Time', 'Actor', 'Action', 'Target', 'Key', 'Reason', 'Outcome'], rs.slice(0, 500).map(r =>
        [String(r.seq), when(r.time), r.actor, r.action, r.target, r.keyId ? h('span', { class: 'mono' }, r.keyId) : '', r.reason || '', r.outcome])));
  };
  for (const el of [from, to, action, actor]) el.addEventListener('input', draw);
  const verify = h('button', { type: 'button' }, 'Verify the chain');
  verify.addEventListener('click', async () => {
    verdict.replaceChildren('Verifying ' + records.length + ' records…');
    const bad = await verifyChain(records, head);
    verdict.replaceChildren(bad
      ? h('p', { class: 'error' }, badge('tampered'), ' Record ' + bad.seq + ': ' + bad.reason + '.')
      : h('p', {}, badge('intact', 'ok'), ' Intact: ' + records.length + ' records, each hash and link recomputed in this browser, up to the service\'s signed head (record ' + head.seq + ').'));
  });
  const exp = h('button', { type: 'button', class: 'secondary' }, 'Export (JSON lines)');
  exp.addEventListener('click', () => download('audit-' + session.tenant.name + '.jsonl', records.map(r => JSON.stringify(r)).join('\n') + '\n', 'application/x-ndjson'));
  draw();
  return [h('form', { class: 'row', role: 'search', 'aria-label': 'Filter the audit log' },
    h('label', { for: 'a-from' }, 'From', from), h('label', { for: 'a-to' }, 'To', to), h('label', { for: 'a-action' }, 'Action', action), h('label', { for: 'a-actor' }, 'Actor', actor)),
  h('div', { class: 'row' }, verify, exp), verdict, shown];
}

// ---- purge ----

const purgeWords = [
  'A data purge permanently crypto-deletes your organization\'s data from Microsoft 365, roll back does not.',
  'Once you set the \'PermanentDataPurgeRequested\' switch using the Set-DataEncryptionPolicy cmdlet, assigning this DEP to mailboxes is no longer supported.',
  'Once the data purge process completes, the data is purged, inaccessible to Exchange Online, and isn\'t recoverable.',
  'Do not use the data purge path to delete a subset of your mailboxes. First remove the workload\'s wrap and unwrap permissions on both keys; the authorised officers then approve with their own signatures.',
];

async function purge() {
  const deps = await list(t('/dataEncryptionPolicies'));
  const input = h('input', { id: 'purge-dep', list: 'purge-deps', required: true, autocomplete: 'off' });
  const out = h('div', { id: 'purge-result' });
  const form = h('form', { class: 'row' }, h('label', { for: 'purge-dep' }, 'Mailbox DEP (name or GUID; a purged DEP is gone from the list)', input),
    h('datalist', { id: 'purge-deps' }, deps.map(d => h('option', { value: d.name }))), h('button', { type: 'submit' }, 'Show'));
  const show = async (name) => {
    let p = null;
    try { p = await get(t('/dataEncryptionPolicies/' + encodeURIComponent(name) + '/purge')); } catch (e) {
      if (!(e instanceof ApiError && e.status === 404 && e.rule === 'R6.Requested')) throw e;
    }
    if (!p) {
      const d = deps.find(x => x.name.toLowerCase() === name.toLowerCase() || x.id === name);
      out.replaceChildren(h('p', {}, 'No purge has been requested for ' + name + '.'));
      if (d && may('writeMailboxDEP')) {
        const reason = h('input', { id: 'purge-reason', required: true });
        const contact = h('input', { id: 'purge-contact', type: 'email', required: true });
        const details = h('div', { class: 'row' }, h('label', { for: 'purge-reason' }, 'Reason', reason), h('label', { for: 'purge-contact' }, 'Contact (an authorised officer)', contact));
        out.append(details, confirmBox({
          name: d.name, button: 'Request the permanent data purge',
          what: 'Request the permanent data purge of ' + d.name + ' (Set-DataEncryptionPolicy -PermanentDataPurgeRequested).',
          words: purgeWords,
          onConfirm: async () => {
            await call('PATCH', t('/dataEncryptionPolicies/' + encodeURIComponent(d.id)), { permanentDataPurgeRequested: true, permanentDataPurgeReason: reason.value, permanentDataPurgeContact: contact.value });
            await show(d.name);
          },
        }));
      }
      return;
    }
    const rows = [['DEP', p.dataEncryptionPolicy + ' (' + p.dataEncryptionPolicyID + ')'], ['State', badge(p.state)], ['Reason', p.reason], ['Contact', p.contact],
      ['Requested', p.requestedBy + ', ' + when(p.requested)], ['Containers', p.containers.length + ': ' + p.containers.join(', ')],
      ['Approvals', p.approvals.length + ' of ' + p.approvalsRequired]];
    const parts = [h('dl', { class: 'stats' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', { 'data-field': k }, v)]))];
    if (p.approvals.length) parts.push(table(['Officer', 'When', 'Key fingerprint', 'Sent by'], p.approvals.map(a => [a.officer, when(a.at), h('span', { class: 'mono' }, a.fingerprint || 'unsigned'), a.submittedBy || ''])));
    else parts.push(h('p', { class: 'note' }, 'Each authorised officer approves with their own key: ck dep purge approve ' + p.dataEncryptionPolicy + ' --key FILE.'));
    if (p.certificate) {
      const file = atob(p.certificate);
      const check = await call('POST', '/v1/service/certificates/verify', file);
      const dl = h('button', { type: 'button' }, 'Download the crypto-shred certificate');
      dl.addEventListener('click', () => download('crypto-shred-' + p.dataEncryptionPolicy + '.json', file, 'application/json'));
      parts.push(h('h2', {}, 'Crypto-shred certificate'), dl, h('p', { id: 'cert-verdict' }, check.valid
        ? [badge('verified', 'ok'), ' Signed by the service\'s key ' + check.publicKey + ', with ' + check.approvals + ' officer approval(s) whose signatures verify (serial ' + check.serial + ').']
        : [badge('does not verify', 'bad'), ' ' + check.error]),
      h('p', { class: 'note' }, 'Verify it yourself, offline: ck dep purge verify FILE.'));
    }
    out.replaceChildren(...parts);
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try { await show(input.value.trim()); } catch (e) { out.replaceChildren(errorBox(e)); }
  });
  return [h('p', { class: 'note' }, 'The data purge path of a mailbox DEP: the request, its state, the officers\' approvals and the certificate.'), form, out];
}

// ---- access requests (T5: the operator acts on data only with consent) ----

const accessWords = {
  recover: 'move every mailbox of the DEP, whose customer keys are both lost, to the target DEP through the availability key',
  'recover-geo': 'move every site of the geo, whose keys are both lost, to a new site DEP on the keys named, through the availability key',
  rollback: 'roll the multi-workload DEP back to service-managed keys: unassign it and re-wrap every workload container',
};

async function accessRequests() {
  const rs = await list(t('/accessRequests'));
  if (!rs.length) return h('p', {}, 'The operator has asked for no access to your data.');
  return [h('p', { class: 'note' }, 'Like Customer Lockbox: the service operator acts on your data (a key-loss recovery, a rollback) only with a request you approved, once, until it expires. Every step is in your audit log.'),
    table(['Requested', 'Action', 'On', 'Reason', 'Expires', 'State', 'Decide'], rs.map(r => {
      const cell = h('div', { class: 'decide', 'data-request': r.id });
      if (r.state === 'Pending' && !r.expired) {
        const approve = h('button', { type: 'button' }, 'Approve…');
        const deny = h('button', { type: 'button', class: 'secondary' }, 'Deny');
        const on = r.depName || r.dep;
        approve.addEventListener('click', () => {
          approve.disabled = true;
          cell.append(confirmBox({
            name: on, button: 'Approve the ' + r.action,
            what: 'Approve: the operator may ' + (accessWords[r.action] || r.action) + ', once, until ' + when(r.expires) + '.',
            words: ['Asked by ' + r.requestedBy + ': ' + r.reason, 'Approve only what you asked for or expect; deny anything else.'],
            onConfirm: async () => { await call('POST', t('/accessRequests/' + encodeURIComponent(r.id) + '/approve')); route(); },
          }));
        });
        deny.addEventListener('click', async () => {
          try { await call('POST', t('/accessRequests/' + encodeURIComponent(r.id) + '/deny')); route(); } catch (e) { cell.append(errorBox(e)); }
        });
        cell.append(approve, ' ', deny);
      } else if (r.decidedBy) {
        cell.append(r.state + ' by ' + r.decidedBy + (r.decided ? ', ' + when(r.decided) : ''));
      }
      return [r.requestedBy + ', ' + when(r.requested), r.action, (r.depName || r.dep) + (r.targetName || r.target ? ' → ' + (r.targetName || r.target) : ''),
        r.reason, when(r.expires) + (r.expired ? ' (expired)' : ''), badge(r.state), cell];
    }))];
}

// ---- tokens (T6: a tenant lists and revokes its tokens) ----

async function tokens() {
  const ts = await list(t('/tokens'));
  const now = Date.now();
  return [h('p', { class: 'note' }, 'Every API token of the tenant, revoked and expired ones included; never a secret. A revoked token is refused from the next request on, on every node. Issue tokens with ck tenant token.'),
    table(['Subject', 'Role', 'Created', 'Expires', 'Last used', 'State', ''], ts.map(x => {
      const live = !x.revoked && Date.parse(x.expires) > now;
      const cell = h('div', { class: 'revoke', 'data-token': x.id });
      const mine = x.subject === session.me.subject && x.role === session.me.role;
      if (live) {
        const b = h('button', { type: 'button', class: 'danger' }, 'Revoke…');
        b.addEventListener('click', () => {
          b.disabled = true;
          cell.append(confirmBox({
            name: x.subject, button: 'Revoke the token of ' + x.subject,
            what: 'Revoke the ' + x.role + ' token of ' + x.subject + ' (' + x.id + '): it stops working at once, everywhere.' + (mine ? ' It may be the token you are signed in with.' : ''),
            words: ['Whoever holds it can no longer call the service; issue a new one with ck tenant token if they still need one.'],
            onConfirm: async () => { await call('POST', t('/tokens/' + encodeURIComponent(x.id) + '/revoke')); route(); },
          }));
        });
        cell.append(b);
      }
      return [x.subject, x.role, when(x.created), when(x.expires), x.lastUsed ? when(x.lastUsed) : 'never',
        badge(x.revoked ? 'revoked' : (live ? 'live' : 'expired'), x.revoked ? 'revoked' : (live ? 'ok' : 'unknown')), cell];
    }))];
}
