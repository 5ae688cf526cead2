#!/usr/bin/env python3
"""Golden files: for every line of tests/data/perf-script/cases.txt, run
`cprof collapse OPTIONS FIXTURE` and compare its output byte for byte with
the committed golden file. Each golden file is also re-derived by the
independent oracle (oracle.py), so a golden file edited by hand to match a
bug would be caught. TAP output.

Usage: test_golden.py CPROF DATADIR"""
import os
import subprocess
import sys

cprof, datadir = sys.argv[1], sys.argv[2]
oracle = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'oracle.py')
n = failed = 0


def check(ok, msg):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print('%s %d - %s' % ('ok' if ok else 'not ok', n, msg))


with open(os.path.join(datadir, 'cases.txt')) as f:
    cases = [l.split() for l in f if l.strip() and not l.startswith('#')]
for fixture, golden, *opts in cases:
    path = os.path.join(datadir, fixture)
    with open(os.path.join(datadir, golden), 'rb') as g:
        expected = g.read()
    check(len(expected) > 0, '%s is not empty' % golden)
    got = subprocess.run([cprof, 'collapse', *opts, path], capture_output=True)
    check(got.returncode == 0, 'cprof collapse %s %s exits 0 (%d: %s)'
          % (' '.join(opts), fixture, got.returncode, got.stderr[:200]))
    ok = got.stdout == expected
    check(ok, 'cprof collapse %s %s == %s' % (' '.join(opts), fixture, golden))
    if not ok:
        for a, b in zip(got.stdout.splitlines(), expected.splitlines()):
            if a != b:
                print('# got      %r\n# expected %r' % (a[:300], b[:300]))
                break
    ref = subprocess.run([sys.executable, oracle, *opts, path], capture_output=True)
    check(ref.returncode == 0 and ref.stdout == expected,
          'oracle agrees with %s' % golden)

# The same input on standard input gives the same output.
fixture, golden = cases[0][0], cases[0][1]
with open(os.path.join(datadir, fixture), 'rb') as f:
    got = subprocess.run([cprof, 'collapse'], stdin=f, capture_output=True)
with open(os.path.join(datadir, golden), 'rb') as g:
    check(got.stdout == g.read(), 'standard input gives %s' % golden)

# Two files are one stream, as with Perl's <>: two copies double the counts.
got = subprocess.run([cprof, 'collapse', os.path.join(datadir, fixture),
                      os.path.join(datadir, fixture)], capture_output=True)
with open(os.path.join(datadir, golden), 'rb') as g:
    doubled = b''.join(l.rsplit(b' ', 1)[0] + b' ' + str(2 * int(l.rsplit(b' ', 1)[1])).encode() + b'\n'
                       for l in g.read().splitlines())
check(got.stdout == doubled, 'two copies of %s double every count' % fixture)

print('1..%d' % n)
sys.exit(1 if failed else 0)
