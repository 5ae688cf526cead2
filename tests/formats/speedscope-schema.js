// speedscope's own JSON schema (shipped in the npm package) validates our
// speedscope output with ajv; then samples and weights must match in
// length, indices must be in range, and the samples must rebuild the
// fixture's stacks (root first) with endValue the total.
// Usage: node speedscope-schema.js CPROF FIXTURE
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { readFolded, diffStacks } = require('./folded-fixture.js');
const modules = path.join(__dirname, '..', 'node', 'node_modules');
// The schema is draft-07: ajv's default class, not Ajv2019/Ajv2020.
const Ajv = require(path.join(modules, 'ajv')).default;
const schema = require(path.join(modules, 'speedscope', 'dist', 'release', 'file-format-schema.json'));

const [cprof, fixture] = process.argv.slice(2);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cprof-speedscope-'));
let failed = 0, n = 0;
function check(cond, what) {
  n++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${what}`);
  if (!cond) failed++;
}

try {
  const out = path.join(dir, 'app.speedscope.json');
  execFileSync(cprof, ['convert', fixture, '-o', out], { stdio: 'inherit' });
  const doc = JSON.parse(fs.readFileSync(out, 'utf8'));

  const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
  const valid = validate(doc);
  if (!valid) console.log(`# ${JSON.stringify(validate.errors).slice(0, 2000)}`);
  check(valid, 'valid against speedscope file-format-schema.json');

  const frames = doc.shared.frames;
  const prof = doc.profiles[0];
  check(doc.profiles.length === 1 && prof.type === 'sampled', 'one sampled profile');
  check(prof.samples.length === prof.weights.length, 'samples and weights have the same length');
  check(prof.samples.every((s) => s.every((i) => Number.isInteger(i) && i >= 0 && i < frames.length)),
        'frame indices in range');

  const expected = readFolded(fixture);
  const got = new Map();
  prof.samples.forEach((s, i) => {
    const key = s.map((idx) => frames[idx].name).join(';');
    got.set(key, (got.get(key) || 0) + prof.weights[i]);
  });
  const diff = diffStacks(expected.stacks, got);
  for (const d of diff) console.log(`# ${d}`);
  check(diff.length === 0, 'samples rebuild the fixture stacks, root first');
  check(prof.endValue - prof.startValue === expected.total, `endValue is the total (${expected.total})`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
