// npm pprof-format (Datadog's decoder, independent of Google's) reads our
// pprof output: gunzip with node's zlib, Profile.decode, then check the
// string table, the value type, that the values sum to the fixture's
// total, and that every sample rebuilds to exactly the fixture's stacks.
// Usage: node pprof-node.js CPROF FIXTURE
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { readFolded, diffStacks } = require('./folded-fixture.js');
const { Profile } = require(path.join(__dirname, '..', 'node', 'node_modules', 'pprof-format'));

const [cprof, fixture] = process.argv.slice(2);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cprof-pprof-'));
let failed = 0, n = 0;
function check(cond, what) {
  n++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${what}`);
  if (!cond) failed++;
}

try {
  const out = path.join(dir, 'app.pprof');
  execFileSync(cprof, ['convert', fixture, '-o', out], { stdio: 'inherit' });
  const gz = fs.readFileSync(out);
  check(gz[0] === 0x1f && gz[1] === 0x8b, 'file is gzip');
  const prof = Profile.decode(zlib.gunzipSync(gz));
  const strings = prof.stringTable.strings;
  check(strings[0] === '', 'string_table[0] is empty');
  check(prof.sampleType.length === 1 &&
        strings[Number(prof.sampleType[0].type)] === 'samples' &&
        strings[Number(prof.sampleType[0].unit)] === 'count', 'sample type samples/count');

  const expected = readFolded(fixture);
  const sum = prof.sample.reduce((a, s) => a + Number(s.value[0]), 0);
  check(sum === expected.total, `values sum to the total (${sum} vs ${expected.total})`);

  const fnName = new Map(prof.function.map((f) => [Number(f.id), strings[Number(f.name)]]));
  const locName = new Map(prof.location.map((l) => [Number(l.id), fnName.get(Number(l.line[0].functionId))]));
  const got = new Map();
  for (const s of prof.sample) {
    const names = s.locationId.map((id) => locName.get(Number(id))).reverse(); // leaf first in pprof
    const key = names.join(';');
    got.set(key, (got.get(key) || 0) + Number(s.value[0]));
  }
  const diff = diffStacks(expected.stacks, got);
  for (const d of diff) console.log(`# ${d}`);
  check(diff.length === 0, 'samples rebuild the fixture stacks, leaf first, suffixes kept');
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
