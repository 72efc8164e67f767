// The audit chain, verified in the browser (docs/format.md, "Audit
// chain"): each record's hash is recomputed with WebCrypto and each link
// checked, so the answer does not rest on the service's word.

const enc = new TextEncoder();

function hexBytes(s) {
  const out = new Uint8Array((s || '').length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
  return out;
}
const hex = (b) => Array.from(new Uint8Array(b), x => x.toString(16).padStart(2, '0')).join('');

// unixNano turns an RFC 3339 time with up to nine fraction digits into
// Unix nanoseconds, exactly.
export function unixNano(s) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) throw new Error('not an RFC 3339 time: ' + s);
  const ms = Date.parse(m[1] + m[3]);
  return BigInt(ms) * 1000000n + BigInt((m[2] || '').padEnd(9, '0'));
}

export async function recordHash(r) {
  const parts = [enc.encode('customerkey audit v1\0')];
  const field = (b) => {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length);
    parts.push(len, b);
  };
  const i64 = (n) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, BigInt(n));
    parts.push(b);
  };
  field(hexBytes(r.prev || ''));
  field(enc.encode(r.tenant));
  i64(r.seq);
  i64(unixNano(r.time));
  for (const s of [r.actor, r.action, r.target, r.keyId || '', r.reason || '', r.outcome]) field(enc.encode(s || ''));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { all.set(p, off); off += p.length; }
  return hex(await crypto.subtle.digest('SHA-256', all));
}

// verifyChain checks records (the chain from its first record, in order)
// and returns null, or the first record that fails and why; with head
// (GET .../audit/head) it also checks that the chain reaches the head's
// record with the head's hash.
export async function verifyChain(records, head) {
  let last = { seq: 0, hash: '' };
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const seq = last.seq + 1;
    if (i > 0 && r.tenant !== records[i - 1].tenant) return { seq: r.seq, reason: 'belongs to another tenant\'s chain' };
    if (r.seq !== seq) return { seq, reason: 'missing: found record ' + r.seq + ' in its place (records removed or reordered)' };
    if ((r.prev || '') !== last.hash) return { seq: r.seq, reason: 'does not link to the record before it (that record was changed or removed)' };
    if (await recordHash(r) !== r.hash) return { seq: r.seq, reason: 'its content does not match its hash (the record was changed)' };
    last = r;
  }
  if (head && head.seq > 0) {
    const at = records.find(r => r.seq === head.seq);
    const want = hex(Uint8Array.from(atob(head.hash), c => c.charCodeAt(0)));
    if (!at) return { seq: head.seq, reason: 'the chain ends at record ' + last.seq + ', before the service\'s signed head (records cut off)' };
    if (at.hash !== want) return { seq: head.seq, reason: 'its hash is not the one the service\'s signed head states (the chain was rewritten)' };
  }
  return null;
}
