#!/usr/bin/env python3
"""A second, independent reading of FlameGraph's stackcollapse-perf.pl
(master, with period weights), used to produce and re-check the golden
files in tests/data/perf-script/.

cprof's C reader matches the script's three regexes by hand; this oracle
hands the same regexes to Python's backtracking engine instead, on bytes
(so \\s, \\d and \\w are ASCII, as in Perl on byte strings). Where the two
agree on every fixture, the hand-written matchers reproduce the regexes.
Perl-specific behaviour is spelled out where Python differs: string truth
("" and "0" are false), split dropping trailing empty fields, numeric sums.

Usage: oracle.py [--pid] [--tid] [--kernel] [--jit] [--all] [--addrs]
                 [--srcline] [--event-filter=EVENT] FILE
"""
import argparse
import re
import sys

HEADER = re.compile(rb'^(\S.+?)\s+(\d+)/*(\d+)*\s+')
EVENT = re.compile(rb':\s*(\d+)*\s+(\S+):\s*$')
STACK = re.compile(rb'^\s*(\w+)\s*(.+) \((.*)\)')
OFFSET = re.compile(rb'\+0x[\da-f]+$')
GO_METHOD = re.compile(rb'\.\(.*\)\.')
ARGS = re.compile(rb'\((?!anonymous namespace\)).*')
PERF_MAP = re.compile(rb'/tmp/perf-\d+\.map')
KERNEL_MOD = re.compile(rb'(^\[|vmlinux$)')


def perl_true(v):
    return v is not None and v != b'' and v != b'0'


def perl_split_arrow(s):
    fields = s.split(b'->')
    while fields and fields[-1] == b'':
        fields.pop()
    return fields


def collapse(lines, opt):
    counts = {}
    stack = []
    pname = None
    period = None
    event_filter = opt.event_filter or b''
    it = iter(lines)
    for raw in it:
        if raw.startswith(b'#'):
            continue
        line = raw[:-1] if raw.endswith(b'\n') else raw
        if line == b'':
            if not perl_true(pname):
                continue
            stack.insert(0, pname)
            key = b';'.join(stack)
            counts[key] = counts.get(key, 0) + period
            stack = []
            pname = None
            continue
        m = HEADER.search(line)
        if m:
            comm, pid, tid = m.group(1), m.group(2), m.group(3)
            per = b''
            if not perl_true(tid):
                tid, pid = pid, b'?'
            e = EVENT.search(line)
            if e:
                per = e.group(1) if e.group(1) is not None else b''
                event = e.group(2)
                if event_filter == b'':
                    event_filter = event
                elif event != event_filter:
                    continue
            period = int(per) if perl_true(per) else 1
            if opt.tid:
                name = comm + b'-' + pid + b'/' + tid
            elif opt.pid:
                name = comm + b'-' + pid
            else:
                name = comm
            pname = name.replace(b' ', b'_')
            continue
        m = STACK.search(line)
        if m:
            if not perl_true(pname):
                continue
            pc, rawfunc, mod = m.group(1), m.group(2), m.group(3)
            rawfunc = OFFSET.sub(b'', rawfunc, count=1)
            if rawfunc.startswith(b'('):
                continue
            unknown = False
            group = []
            for func in perl_split_arrow(rawfunc):
                if func == b'[unknown]':
                    if mod != b'[unknown]':
                        func = mod.rsplit(b'/', 1)[-1]
                    else:
                        func = b'unknown'
                        unknown = True
                    func = b'[' + func + (b' <' + pc + b'>' if opt.addrs else b'') + b']'
                func = func.replace(b';', b':')
                if not GO_METHOD.search(func):
                    func = ARGS.sub(b'', func, count=1)
                func = func.replace(b'"', b'').replace(b"'", b'')
                if pname.startswith(b'java') and b'/' in func and func.startswith(b'L'):
                    func = func[1:]
                if group:
                    if b'_[i]' not in func:
                        func += b'_[i]'
                elif opt.kernel and KERNEL_MOD.search(mod) and b'unknown' not in mod:
                    func += b'_[k]'
                elif opt.jit and PERF_MAP.search(mod):
                    if b'_[j]' not in func:
                        func += b'_[j]'
                if opt.srcline and not unknown:
                    src = next(it, b'')
                    if src.endswith(b'\n'):
                        src = src[:-1]
                    src = re.sub(rb'\[.*?\]', b'', src)
                    src = re.sub(rb'^\s*', b'', src)
                    src = re.sub(rb'\s*$', b'', src)
                    if src != b'':
                        func += b':' + src
                group.append(func)
            stack[0:0] = group
            continue
        sys.stderr.write('Unrecognized line: %r\n' % line)
    return counts


def main():
    ap = argparse.ArgumentParser()
    for flag in ('pid', 'tid', 'kernel', 'jit', 'all', 'addrs', 'srcline'):
        ap.add_argument('--' + flag, action='store_true')
    ap.add_argument('--event-filter', default='')
    ap.add_argument('file')
    # Getopt::Long takes -pid as well as --pid
    argv = ['-' + a if a.startswith('-') and not a.startswith('--') and len(a) > 2 else a
            for a in sys.argv[1:]]
    opt = ap.parse_args(argv)
    if opt.all:
        opt.kernel = opt.jit = True
    opt.event_filter = opt.event_filter.encode()
    with open(opt.file, 'rb') as f:
        data = f.read()
    # Perl's <> splits on "\n" only (bytes.splitlines would also split on \r)
    lines = [l + b'\n' for l in data.split(b'\n')]
    if lines[-1] == b'\n':
        lines.pop()
    else:
        lines[-1] = lines[-1][:-1]
    out = sys.stdout.buffer
    for key, value in sorted(collapse(lines, opt).items()):
        out.write(key + b' ' + str(value).encode() + b'\n')


if __name__ == '__main__':
    main()
