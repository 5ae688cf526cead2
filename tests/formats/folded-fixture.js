// Reads a folded fixture independently of cprof: stack text -> summed
// count, with names decoded as UTF-8 the way a JSON or protobuf reader
// sees them (invalid bytes become U+FFFD). Shared by the format tests.
'use strict';
const fs = require('fs');

function readFolded(path) {
  const text = new TextDecoder('utf-8').decode(fs.readFileSync(path));
  const stacks = new Map();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^(.*) (\d+)$/.exec(line);
    if (!m) throw new Error(`${path}: unexpected line: ${line}`);
    const n = Number(m[2]);
    stacks.set(m[1], (stacks.get(m[1]) || 0) + n);
    total += n;
  }
  return { stacks, total };
}

// Compares two Maps of stack -> count; returns a list of differences.
function diffStacks(expected, got) {
  const out = [];
  for (const [s, n] of expected) if (got.get(s) !== n) out.push(`${s}: expected ${n}, got ${got.get(s)}`);
  for (const [s, n] of got) if (!expected.has(s)) out.push(`${s}: unexpected (${n})`);
  return out;
}

module.exports = { readFolded, diffStacks };
