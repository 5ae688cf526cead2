// dbg-jit: a CPU-bound Node script whose time goes to one hot JS function,
// for the JIT-map tests (node --perf-basic-prof writes /tmp/perf-PID.map).
//
// Expected frames (root first), on the main thread:
//   node;...;dbgJitOuter_[j];dbgJitHot_[j]   most samples (names as the map
//                                            gives them, e.g. "JS:*dbgJitHot ...")
// Usage: node [--perf-basic-prof] dbg-jit.js [SECONDS]  (0 or none: until
// killed). Prints "dbg-jit: ready pid N" first.
'use strict';

function dbgJitHot(seed) {
  let x = seed;
  for (let i = 0; i < 200000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0;
    x ^= x >>> 7;
  }
  return x;
}

function dbgJitOuter(seed) {
  let x = seed;
  for (let i = 0; i < 20; i++)
    x = dbgJitHot(x + i);
  return x;
}

const seconds = Number(process.argv[2] || 0);
const end = Date.now() + seconds * 1000;
let sink = 1;
console.log(`dbg-jit: ready pid ${process.pid}`);
while (seconds === 0 || Date.now() < end)
  sink = dbgJitOuter(sink);
process.exitCode = sink === 42 ? 1 : 0;
