#!/usr/bin/env python3
"""Time cprof's file commands on large generated inputs (issue 4).

For 1k, 50k and 500k input lines, generates (bench/gen-folded.py, fixed
seeds) a folded profile, an "after" variant of it, and `perf script` text,
then runs each command that this cprof has:
  cprof flamegraph IN.folded          > out.svg
  cprof diff BEFORE.folded AFTER.folded > out.svg
  cprof collapse IN.perf              > out.folded
under /usr/bin/time -v (Debian package `time`) and prints wall time, input
MB/s, peak RSS and output size. Each run is repeated (--repeat) and the
fastest kept.

Usage: bench-formats.py [--cprof PATH] [--sizes 1000,50000,500000]
                        [--repeat 3] [--workdir DIR]"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def has_command(cprof, name):
    out = subprocess.run([cprof, '--help'], capture_output=True, text=True).stdout
    return re.search(r'^\s+%s\s' % re.escape(name), out, re.M) is not None


def timed(cmd, out_path):
    """Runs cmd with stdout to out_path under /usr/bin/time -v."""
    # wall time from here: /usr/bin/time -v rounds it to 10 ms
    with open(out_path, 'wb') as out:
        t0 = time.perf_counter()
        p = subprocess.run(['/usr/bin/time', '-v'] + cmd, stdout=out, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t0
    err = p.stderr
    m = re.search(r'Maximum resident set size \(kbytes\): (\d+)', err)
    rss_kb = int(m.group(1)) if m else 0
    status = re.search(r'Exit status: (\d+)', err)
    rc = int(status.group(1)) if status else p.returncode
    if rc != 0:
        tail = [l for l in err.splitlines() if not l.startswith('\t')][-3:]
        sys.stderr.write('warning: %s exited %d: %s\n' % (' '.join(cmd[:3]), rc, ' | '.join(tail)))
    return wall, rss_kb, rc


def gen(args, path):
    with open(path, 'w') as f:
        subprocess.run([sys.executable, os.path.join(HERE, 'gen-folded.py')] + args, stdout=f, check=True)


def human(n):
    for unit in ('B', 'KB', 'MB', 'GB'):
        if n < 1024 or unit == 'GB':
            return '%.1f %s' % (n, unit) if unit != 'B' else '%d B' % n
        n /= 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cprof', default=shutil.which('cprof') or os.path.join(HERE, '..', 'build', 'src', 'cli', 'cprof'))
    ap.add_argument('--sizes', default='1000,50000,500000')
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--workdir', default=None)
    a = ap.parse_args()
    if not os.path.exists('/usr/bin/time'):
        sys.exit('bench-formats: /usr/bin/time is missing (apt-get install time)')
    if not os.access(a.cprof, os.X_OK):
        sys.exit("bench-formats: no cprof at '%s' (use --cprof)" % a.cprof)

    commands = [c for c in ('flamegraph', 'diff', 'collapse') if has_command(a.cprof, c)]
    missing = [c for c in ('flamegraph', 'diff', 'collapse') if c not in commands]
    work = a.workdir or tempfile.mkdtemp(prefix='cprof-bench-')
    os.makedirs(work, exist_ok=True)

    rows = []
    for n in [int(s) for s in a.sizes.split(',')]:
        before = os.path.join(work, 'in-%d.folded' % n)
        after = os.path.join(work, 'after-%d.folded' % n)
        perf = os.path.join(work, 'in-%d.perf' % n)
        if not os.path.exists(before):
            gen(['--lines', str(n), '--seed', '1'], before)
        if 'diff' in commands and not os.path.exists(after):
            gen(['--lines', str(n), '--seed', '1', '--perturb', '7'], after)
        if 'collapse' in commands and not os.path.exists(perf):
            gen(['--lines', str(n), '--seed', '1', '--format', 'perf-script'], perf)
        for c in commands:
            if c == 'flamegraph':
                cmd, inputs = [a.cprof, 'flamegraph', before], [before]
            elif c == 'diff':
                cmd, inputs = [a.cprof, 'diff', before, after], [before, after]
            else:
                cmd, inputs = [a.cprof, 'collapse', perf], [perf]
            out = os.path.join(work, 'out-%s-%d' % (c, n))
            best = None
            for _ in range(a.repeat):
                r = timed(cmd, out)
                if best is None or r[0] < best[0]:
                    best = r
            size_in = sum(os.path.getsize(p) for p in inputs)
            wall, rss, rc = best
            rows.append((c, n, size_in, wall, size_in / 1e6 / wall if wall > 0 else float('inf'),
                         rss, os.path.getsize(out), rc))

    # how long a browser takes to open each flame graph (issue target: the
    # 500k-line SVG under 2 s)
    open_ms = {}
    svgs = [os.path.join(work, 'out-%s-%d' % (c, n)) for c, n, *_ in rows if c in ('flamegraph', 'diff')]
    if svgs and shutil.which('node') and os.path.exists('/usr/bin/chromium'):
        p = subprocess.run(['node', os.path.join(HERE, 'svg-open-time.js')] + svgs,
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.stderr.write('warning: svg-open-time failed: %s\n' % p.stderr.strip())
        for line in p.stdout.splitlines():
            f, ms = line.rsplit('\t', 1)
            open_ms[f] = int(ms)

    hdr = ('command', 'lines', 'input', 'wall s', 'MB/s', 'peak RSS', 'output', 'browser open', 'exit')
    table = [hdr] + [(c, str(n), human(si), '%.3f' % w, '%.1f' % mbs, human(rss * 1024), human(so),
                      '%.2f s' % (open_ms[o] / 1000) if o in open_ms else '-', str(rc))
                     for (c, n, si, w, mbs, rss, so, rc), o in
                     ((r, os.path.join(work, 'out-%s-%d' % (r[0], r[1]))) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(hdr))]
    for i, r in enumerate(table):
        print('  '.join(v.rjust(widths[j]) if j else v.ljust(widths[j]) for j, v in enumerate(r)))
        if i == 0:
            print('  '.join('-' * w for w in widths))
    if missing:
        print('\nnot in this cprof (skipped): %s' % ', '.join(missing))
    print('\ninputs kept in %s' % work)


if __name__ == '__main__':
    main()
