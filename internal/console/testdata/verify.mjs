// Runs the console's audit verifier (static/audit.js) on the cases that
// verify_test.go writes, in Node (WebCrypto is the same API), and prints
// each case's verdict as JSON: the first failing record's number, or 0.
import fs from 'node:fs';
import { verifyChain, recordHash } from '../static/audit.js';

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = {};
for (const c of cases) {
  if (c.record) { out[c.name] = await recordHash(c.record); continue; }
  const bad = await verifyChain(c.records || [], c.head || null);
  out[c.name] = bad ? { seq: bad.seq, reason: bad.reason } : { seq: 0 };
}
console.log(JSON.stringify(out));
