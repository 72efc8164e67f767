// The service's REST API, called with the signed-in token. The console
// has no other way to the service: every permission is the API's.

const KEY = 'ck.console.token';

export const session = {
  get token() { return sessionStorage.getItem(KEY) || ''; },
  set token(v) { v ? sessionStorage.setItem(KEY, v) : sessionStorage.removeItem(KEY); },
  me: null,      // GET /v1/me
  tenant: null,  // GET /v1/tenants/{id}
  calls: 0,      // API calls since the page loaded (docs/console.md counts them per page)
};

// ApiError is a problem+json answer: the rule broken and how to fix it.
export class ApiError extends Error {
  constructor(status, p) {
    super(p.detail || p.title || ('HTTP ' + status));
    this.status = status;
    this.rule = p.rule || '';
    this.fix = p.fix || '';
    this.title = p.title || '';
  }
}

export async function call(method, path, body, token = session.token) {
  const headers = { 'Accept': 'application/json' };
  if (token) headers['Authorization'] = 'Bearer ' + token;
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  session.calls++;
  const r = await fetch(path, init);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!r.ok) throw new ApiError(r.status, data || {});
  return data;
}

export const get = (p) => call('GET', p);

// t is a path under the signed-in tenant.
export const t = (p = '') => '/v1/tenants/' + encodeURIComponent(session.me.tenant) + p;

// list reads a whole listing: pages of {value: [...], nextCursor}, the
// next asked with the cursor of the one before, until there is none.
export async function list(p) {
  const all = [];
  const sep = p.includes('?') ? '&' : '?';
  let cursor = '';
  for (;;) {
    const d = await get(p + sep + 'pageSize=1000' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    if (Array.isArray(d)) return d;
    all.push(...((d && (d.value || d.items)) || []));
    if (!d || !d.nextCursor) return all;
    cursor = d.nextCursor;
  }
}

// first reads the first n rows of a listing (newest first where the
// listing is, as jobs are).
export async function first(p, n) {
  const d = await get(p + (p.includes('?') ? '&' : '?') + 'pageSize=' + n);
  return Array.isArray(d) ? d : ((d && d.value) || []);
}
