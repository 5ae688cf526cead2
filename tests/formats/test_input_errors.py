#!/usr/bin/env python3
"""Input that is not what a command reads, for every command that reads
files (issue 9, items 9, 12, 14, 15): endless input, binary data, perf.data,
perf script text, cprof's own JSON, all-zero counts, huge counts, CRLF,
huge periods. Each case asserts the exit status, the one line that says
why, and that no output file is left. Endless inputs are real endless
devices and pipes; memory is read from /proc while they run. TAP output.

Usage: test_input_errors.py CPROF"""
import os
import re
import subprocess
import sys
import tempfile
import time

cprof = os.path.abspath(sys.argv[1])
n = failed = 0


def check(ok, msg):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print('%s %d - %s' % ('ok' if ok else 'not ok', n, msg.replace('\n', '\\n')))


PERF = (b'prog 42/42 1.000000: 1 cpu-clock:\n'
        b'\t    1234 leaf+0x1 (/bin/prog)\n'
        b'\t    1200 main+0x10 (/bin/prog)\n'
        b'\n'
        b'prog 42/42 1.001000: 1 cpu-clock:\n'
        b'\t    1234 leaf+0x1 (/bin/prog)\n'
        b'\t    1200 main+0x10 (/bin/prog)\n'
        b'\n')


def expect_error(name, args, pattern, stdin=None, files=None, out=None, rc=1):
    """Runs cprof ARGS in an empty directory (files: name -> bytes made
    there first); asserts rc, exactly one stderr line matching pattern,
    nothing on stdout and no file left but the inputs."""
    with tempfile.TemporaryDirectory() as d:
        for f, data in (files or {}).items():
            with open(os.path.join(d, f), 'wb') as fh:
                fh.write(data)
        try:
            # endless input must be refused at once: 20 s is a hang
            p = subprocess.run([cprof] + args, cwd=d, input=stdin, capture_output=True, timeout=20)
        except subprocess.TimeoutExpired:
            check(False, '%s: still running after 20 s' % name)
            return
        err = p.stderr.decode(errors='replace')
        left = sorted(set(os.listdir(d)) - set(files or {}))
        ok = (p.returncode == rc and err.count('\n') == 1 and re.search(pattern, err) is not None
              and p.stdout == b'' and not left)
        check(ok, '%s: rc=%d, %r, left %r' % (name, p.returncode, err, left))


def peak_rss_kb(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---- endless and binary input: refused from the first 64 KiB ----
for dev in ('/dev/zero', '/dev/urandom'):
    for cmd in (['flamegraph', dev], ['report', dev], ['convert', dev, '-o', 'x.svg'],
                ['diff', dev, dev], ['collapse', dev]):
        what = 'perf script output' if cmd[0] == 'collapse' else 'folded stacks'
        expect_error('%s %s' % (cmd[0], dev), cmd, r'^cprof: %s: binary data, not %s$' % (dev, what))

expect_error('NUL bytes past the first 64 KiB', ['report', 'late.folded'],
             r'^cprof: late.folded: binary data \(a NUL byte\), not folded stacks$',
             files={'late.folded': b'a;b 1\n' * 20000 + b'a;\0b 1\n'})

# an endless valid pipe is read for as long as it lasts, in constant memory
for cmd in (['flamegraph'], ['report', '-'], ['convert', '-', '-o', 'out.folded']):
    yes = subprocess.Popen(['yes', 'a;b 1'], stdout=subprocess.PIPE)
    p = subprocess.Popen([cprof] + cmd, cwd=tempfile.gettempdir(), stdin=yes.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yes.stdout.close()
    time.sleep(0.5)
    first = peak_rss_kb(p.pid)
    time.sleep(2.5)
    alive = p.poll() is None
    last = peak_rss_kb(p.pid)
    p.kill()
    p.wait()
    yes.wait()
    check(alive and 0 < last < 20000 and last - first < 4000,
          "yes 'a;b 1' | cprof %s: still reading, memory flat (%d KiB, then %d KiB)" % (' '.join(cmd), first, last))

# memory follows what is drawn, not every distinct prefix: 20,000 stacks of
# 100 frames drawn from 10 names have 1.9 million distinct prefixes (the
# old tree held them all: 207 MB), of which a 1200-pixel graph draws a few
# thousand
with tempfile.TemporaryDirectory() as d:
    import random
    rng = random.Random(1)
    path = os.path.join(d, 'wide.folded')
    with open(path, 'w') as f:
        for _ in range(20000):
            f.write('app;' + ';'.join('f%d' % rng.randrange(10) for _ in range(100)) + ' 1\n')
    p = subprocess.Popen([cprof, 'flamegraph', path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    check(p.returncode == 0 and usage.ru_maxrss < 100 * 1024,
          'flamegraph of 1.9M distinct prefixes: peak RSS %d KiB (< 100 MiB)' % usage.ru_maxrss)

# ---- other formats given as folded stacks: one line saying what to run ----
perf_data = b'PERFILE2' + b'\x68\0\0\0\0\0\0\0' + b'\0' * 200
for cmd in (['report', 'perf.data'], ['flamegraph', 'perf.data'], ['convert', 'perf.data', '-o', 'x.pb.gz']):
    expect_error('%s on perf.data' % cmd[0], cmd,
                 r"^cprof: perf.data: perf.data file: run 'perf script -i perf.data \| cprof collapse'$",
                 files={'perf.data': perf_data})
expect_error('collapse on perf.data', ['collapse', 'perf.data'],
             r"^cprof: perf.data: perf.data file: run 'perf script -i perf.data \| cprof collapse'$",
             files={'perf.data': perf_data})
expect_error('perf.data on stdin', ['report', '-'],
             r"^cprof: <stdin>: perf.data file: run 'perf script -i FILE \| cprof collapse'$", stdin=perf_data)

many = PERF * 2000  # 16,000 lines: each would have been a warning
for cmd in (['report', 'x.perf'], ['flamegraph', 'x.perf'], ['convert', 'x.perf', '-o', 'x.json']):
    expect_error('%s on perf script text' % cmd[0], cmd,
                 r"^cprof: x.perf: perf script output, not folded stacks: run 'perf script \| cprof collapse' first$",
                 files={'x.perf': many})
expect_error('perf script text with a --header block', ['report', 'x.perf'],
             r"perf script output, not folded stacks",
             files={'x.perf': b'# ========\n# captured on    : now\n# ========\n#\n' + PERF})

with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, 'a.folded'), 'wb') as f:
        f.write(b'app;main;work 7\napp;main 3\n')
    js = subprocess.run([cprof, 'report', '--json', 'a.folded'], cwd=d, capture_output=True).stdout
expect_error("report on its own --json output", ['report', 'r.json'],
             r"^cprof: r.json: JSON \(such as 'cprof report --json' output\), not folded stacks$",
             files={'r.json': js})
expect_error("flamegraph on report --json output", ['flamegraph', 'r.json'], r"r.json: JSON", files={'r.json': js})

# ---- all-zero counts: one rule, no output file ----
zero = {'z.folded': b'app;main;a 0\napp;main;b 0\n'}
for cmd in (['flamegraph', 'z.folded'], ['report', 'z.folded'], ['report', '--json', 'z.folded'],
            ['diff', 'z.folded', 'z.folded'], ['diff', '--folded', 'z.folded', 'z.folded']) + \
        tuple(['convert', 'z.folded', '-o', 'out.' + ext] for ext in ('svg', 'folded', 'pb.gz', 'speedscope.json', 'json')):
    expect_error(' '.join(cmd[:1] + cmd[2:]) + ' on all-zero counts', cmd,
                 r"^cprof: no samples in 'z.folded': every count is zero$", files=zero)
expect_error('all-zero counts on stdin', ['convert', '-', '-o', '-', '--format', 'folded'],
             r"^cprof: no samples in '<stdin>'", stdin=b'a;b 0\n')

# ---- huge counts in report ----
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, 'h.folded'), 'wb') as f:
        f.write(b'app;main;huge 1' + b'0' * 100 + b'\napp;main;small 5\n')
    p = subprocess.run([cprof, 'report', 'h.folded'], cwd=d, capture_output=True)
    out = p.stdout.decode()
    check(p.returncode == 0 and '1e+100  100.00%  huge' in out and max(map(len, out.splitlines())) < 90,
          'report prints 1e100 as 1e+100 in a narrow column (%r)' % out[:300])
    check('process  app' in out and '  app\n' not in out.split('processes:')[0],
          'the process frame is listed as a process, not a function')

# ---- collapse: CRLF, huge periods, input that is not perf script ----
with tempfile.TemporaryDirectory() as d:
    lf = subprocess.run([cprof, 'collapse'], input=PERF, capture_output=True)
    crlf = subprocess.run([cprof, 'collapse'], input=PERF.replace(b'\n', b'\r\n'), capture_output=True)
    check(lf.returncode == 0 and lf.stdout == b'prog;main;leaf 2\n', 'collapse LF (%r)' % lf.stdout)
    check(crlf.returncode == 0 and crlf.stdout == lf.stdout and crlf.stderr == b'',
          'collapse CRLF gives the LF output (%r %r)' % (crlf.stdout, crlf.stderr))

huge_period = PERF.replace(b': 1 cpu-clock', b': 1' + b'0' * 400 + b' cpu-clock', 1)
p = subprocess.run([cprof, 'collapse'], input=huge_period, capture_output=True)
check(p.returncode == 0 and p.stdout == b'prog;main;leaf 1\n' and b'inf' not in p.stdout and
      b'<stdin>:1: period out of range, skipping' in p.stderr,
      'a 400-digit period drops its sample with a warning, never inf (%r %r)' % (p.stdout, p.stderr))
p = subprocess.run([cprof, 'collapse'], input=huge_period.split(b'\n\n')[0] + b'\n\n', capture_output=True)
check(p.returncode == 1 and p.stdout == b'' and
      p.stderr.decode().splitlines()[-1:] == ['cprof: <stdin>: no samples left: 1 had a period out of range'],
      'collapse: no sample left after a refused period is an error (%r)' % p.stderr)

p = subprocess.run([cprof, 'collapse'], input=b'app;main;a 3\napp;main;b 4\n', capture_output=True)
check(p.returncode == 1 and p.stdout == b'' and p.stderr.decode().splitlines()[-1:] ==
      ["cprof: <stdin>: folded stacks, not perf script output: give it to 'cprof flamegraph' as it is"],
      'collapse on folded stacks: an error with the reason (%r)' % p.stderr)
p = subprocess.run([cprof, 'collapse'], input=js, capture_output=True)
check(p.returncode == 1 and p.stdout == b'' and
      p.stderr.decode().splitlines()[-1:] == ['cprof: <stdin>: JSON, not perf script output'],
      'collapse on JSON: an error with the reason (%r)' % p.stderr[-200:])
expect_error('collapse --event-filter matching nothing', ['collapse', '--event-filter=cycles', 'x.perf'],
             r"^cprof: x.perf: no samples of event 'cycles' \(the input has 'cpu-clock'\)$", files={'x.perf': PERF})
p = subprocess.run([cprof, 'collapse'], input=b'', capture_output=True)
check(p.returncode == 1 and p.stdout == b'' and b'no samples' in p.stderr,
      'collapse: empty input is no samples, exit 1')

print('1..%d' % n)
sys.exit(1 if failed else 0)
