// jit: a CPU-bound Node.js workload whose hot functions are JIT-compiled,
// for perf maps (`node --perf-basic-prof jit.js [SECONDS]`).
//
// Expected JIT frames (the names V8 writes to /tmp/perf-PID.map, such as
// "JS:*hotAdd /path/jit.js:14:16"):
//   ...;run;hotAdd    75% of the process's CPU time
//   ...;run;warmMul   25%
// The split is by the process's own CPU clock (process.cpuUsage), in
// phases of about 3 ms and 1 ms, so it holds on a busy machine.
// Usage: node --perf-basic-prof jit.js [SECONDS]   (default 3; 0: forever)
// Prints "jit: ready pid N" first.
'use strict';

function hotAdd(x) {
  for (let i = 0; i < 20000; i++)
    x = (x * 31 + i) % 1000003;
  return x;
}

function warmMul(x) {
  for (let i = 0; i < 20000; i++)
    x = (x * 17 + (i ^ x)) % 999983;
  return x;
}

function cpuMicros() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function run(seconds) {
  const start = Date.now();
  let x = 1;
  for (;;) {
    let t0 = cpuMicros();
    do
      x = hotAdd(x);
    while (cpuMicros() - t0 < 3000);
    t0 = cpuMicros();
    do
      x = warmMul(x);
    while (cpuMicros() - t0 < 1000);
    if (seconds > 0 && Date.now() - start >= seconds * 1000)
      return x;
  }
}

const seconds = process.argv.length > 2 ? Number(process.argv[2]) : 3;
if (!(seconds >= 0)) {
  process.stderr.write(`bad number of seconds '${process.argv[2]}'\n`);
  process.exit(2);
}
process.stdout.write(`jit: ready pid ${process.pid}\n`);
run(seconds);
