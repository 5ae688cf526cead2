#!/usr/bin/env python3
"""The live path: record a freshly built workload with perf, fold the
`perf script` text with `cprof collapse`, and check the workload's known
split (collapse_hot ~80%, collapse_cold ~20% of its CPU time). TAP output.

Usage: test_live.py CPROF WORKLOAD"""
import os
import subprocess
import sys
import tempfile

cprof, workload = sys.argv[1], sys.argv[2]
n = failed = 0


def check(ok, msg):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print('%s %d - %s' % ('ok' if ok else 'not ok', n, msg))


with tempfile.TemporaryDirectory() as tmp:
    data = os.path.join(tmp, 'perf.data')
    rec = subprocess.run(['perf', 'record', '-e', 'cpu-clock', '-F', '999', '-g', '-o', data,
                          '--', workload, '600'], capture_output=True)
    check(rec.returncode == 0, 'perf record ran (%r)' % rec.stderr[-300:])
    script = subprocess.run(['perf', 'script', '-i', data], capture_output=True)
    check(script.returncode == 0 and script.stdout, 'perf script ran')
    col = subprocess.run([cprof, 'collapse'], input=script.stdout, capture_output=True)
    check(col.returncode == 0, 'cprof collapse exits 0 (%r)' % col.stderr[-300:])

    comm = os.path.basename(workload)[:15]  # the kernel keeps 15 bytes of comm
    leaf_totals = {}
    total = 0
    for line in col.stdout.decode().splitlines():
        stack, count = line.rsplit(' ', 1)
        frames = stack.split(';')
        if frames[0] != comm:
            continue
        count = int(count)
        total += count
        # the workload's own frame nearest the leaf (libc or kernel may be below)
        mine = [f for f in frames if f.startswith('collapse_')]
        if mine:
            leaf_totals[mine[-1]] = leaf_totals.get(mine[-1], 0) + count
    check(total > 0, 'the workload has samples (total %d)' % total)
    hot = leaf_totals.get('collapse_hot', 0)
    cold = leaf_totals.get('collapse_cold', 0)
    check(hot > 0 and hot == max(leaf_totals.values()),
          'collapse_hot has the largest share (%r)' % leaf_totals)
    share = hot / total if total else 0
    check(0.6 <= share <= 0.95, 'collapse_hot share %.2f is about 0.8' % share)
    check(cold > 0 and cold < hot, 'collapse_cold is there and smaller (%d < %d)' % (cold, hot))
    check(any(';main;collapse_hot' in l for l in col.stdout.decode().splitlines()),
          'collapse_hot sits under main, root first')

print('1..%d' % n)
sys.exit(1 if failed else 0)
