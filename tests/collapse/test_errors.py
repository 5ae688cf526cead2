#!/usr/bin/env python3
"""Errors of `cprof collapse`: a missing file and a binary file are refused
with one clear line and exit 1; text that is not perf script is skipped
line by line with a warning, as stackcollapse-perf.pl does. TAP output.

Usage: test_errors.py CPROF"""
import os
import subprocess
import sys
import tempfile

cprof = sys.argv[1]
n = failed = 0


def check(ok, msg):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print('%s %d - %s' % ('ok' if ok else 'not ok', n, msg))


def run(*args, stdin=None):
    return subprocess.run([cprof, 'collapse', *args], input=stdin, capture_output=True)


with tempfile.TemporaryDirectory() as tmp:
    missing = os.path.join(tmp, 'missing.perf')
    r = run(missing)
    err = r.stderr.decode()
    check(r.returncode == 1, 'missing file exits 1 (%d)' % r.returncode)
    check(err.count('\n') == 1 and "cannot read '%s'" % missing in err
          and 'No such file or directory' in err, 'missing file: one clear line (%r)' % err)
    check(r.stdout == b'', 'missing file: nothing on stdout')

    binary = os.path.join(tmp, 'data.bin')
    with open(binary, 'wb') as f:
        f.write(b'PERFILE2\0\0\x01\x02' * 64)
    r = run(binary)
    err = r.stderr.decode()
    check(r.returncode == 1, 'binary file exits 1 (%d)' % r.returncode)
    check(err.count('\n') == 1 and
          "data.bin: perf.data file: run 'perf script -i %s | cprof collapse'" % binary in err,
          'perf.data file: one clear line saying what to run (%r)' % err)

    r = run(tmp)
    check(r.returncode == 1 and r.stderr.decode().count('\n') == 1,
          'a directory is refused with one line (%r)' % r.stderr)

    garbage = b'hello world\nthis is not perf output\n\n' + \
              b'prog 42 1.0: 1 cpu-clock:\n\t1234 real_frame+0x1 (/bin/prog)\n\n'
    r = run(stdin=garbage)
    check(r.returncode == 0, 'text that is not perf script is not fatal')
    check(r.stdout == b'prog;real_frame 1\n', 'good samples among bad lines are kept (%r)' % r.stdout)
    check(r.stderr.decode().count('unrecognized line') == 2,
          'each bad line is reported (%r)' % r.stderr)

    r = run(stdin=b'')
    check(r.returncode == 1 and r.stdout == b'' and
          r.stderr.decode() == "cprof: no samples in '<stdin>': the input is empty\n",
          'empty input: no samples, exit 1 (%r)' % r.stderr)

    r = run('--no-such-option', stdin=b'')
    check(r.returncode == 2, 'an unknown option exits 2')

    r = run('--help')
    check(r.returncode == 0 and b'--event-filter' in r.stdout, '--help lists the options')

print('1..%d' % n)
sys.exit(1 if failed else 0)
