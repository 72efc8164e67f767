// Small DOM helpers: elements are built, never parsed from strings, so
// nothing the API returns can become markup.

export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const badge = (text, cls) => h('span', { class: 'badge ' + (cls || text) }, text);

export function table(headers, rows, caption) {
  return h('div', { class: 'scroll' }, h('table', {},
    caption ? h('caption', { class: 'note' }, caption) : null,
    h('thead', {}, h('tr', {}, headers.map(x => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.map(r => h('tr', {}, r.map(c => h('td', {}, c)))))));
}

export function bar(pct, label) {
  const p = Math.max(0, Math.min(100, Math.round(pct || 0)));
  return h('span', { class: 'bar' }, h('progress', { max: '100', value: String(p), 'aria-label': label }), ' ', h('span', { class: 'pct' }, p + '%'));
}

export function errorBox(e) {
  const parts = [e.message];
  if (e.rule) parts.push(' (rule ' + e.rule + ')');
  return h('div', { class: 'error', role: 'alert' }, h('strong', {}, e.title || 'Refused'), ': ', parts.join(''),
    e.fix ? h('div', {}, 'Fix: ' + e.fix) : null);
}

export const when = (s) => s ? new Date(s).toLocaleString() : '';

// keyParts splits a key URI into its vault, key name and version.
export function keyParts(uri) {
  try {
    const u = new URL(uri);
    const [, keys, name, version] = u.pathname.split('/');
    if (keys !== 'keys') throw new Error();
    return { vault: u.hostname.split('.')[0], host: u.host, name, version: version || '(current)', uri };
  } catch { return { vault: '?', host: '?', name: '?', version: '?', uri }; }
}

export function keyCell(uri) {
  const k = keyParts(uri);
  return h('div', { class: 'key' }, h('div', {}, 'vault ', h('strong', {}, k.vault), ', key ', h('strong', {}, k.name)),
    // The whole host: its first label alone reads the same for
    // contoso.vault.azure.net and contoso.vault.azure.net.example.org.
    h('div', { class: 'mono note' }, k.host + ', version ' + k.version),
    h('details', { class: 'uri' }, h('summary', { class: 'note' }, 'key URI'), h('div', { class: 'mono note' }, uri)));
}

// confirmBox guards a destructive action: it says what will happen (in
// the seeds' words) and stays disabled until the name is typed again.
export function confirmBox({ name, what, words, button, onConfirm }) {
  const input = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const go = h('button', { type: 'submit', class: 'danger', disabled: true }, button);
  input.addEventListener('input', () => { go.disabled = input.value !== name; });
  const out = h('div', { class: 'result' });
  const form = h('form', { class: 'confirm', 'aria-label': button },
    h('p', {}, h('strong', {}, what)),
    words.map(w => h('p', {}, w)),
    h('div', { class: 'row' }, h('label', {}, 'Type ' + name + ' to confirm', input), go),
    out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (input.value !== name) return;
    go.disabled = true;
    out.replaceChildren();
    try { await onConfirm(out); } catch (e) { out.replaceChildren(errorBox(e)); go.disabled = false; }
  });
  return form;
}

export function download(filename, data, type) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = h('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
