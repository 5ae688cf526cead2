#!/usr/bin/env python3
"""The files cprof writes, end to end (util/atomic-file.c), as TAP:

- a signal (SIGINT, SIGTERM, SIGKILL) during `cprof convert` of a big input
  leaves no hidden temporary file, also where the filesystem has no
  O_TMPFILE (played by the no-tmpfile seccomp wrapper) for the catchable
  ones;
- a full disk (a 64 KiB tmpfs, filled) is "No space left on device" for
  every command that writes, and `-o` leaves no file behind;
- as root, a symlink planted by another uid in a sticky world-writable
  directory is not followed by record -o, convert -o or the --cp palette.

Usage: test_files.py CPROF NO_TMPFILE GEN_FOLDED FIXTURE PERF_SCRIPT"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

cprof, no_tmpfile, gen_folded, fixture, perf_script = sys.argv[1:6]
NOBODY = 65534
n = failed = 0


def check(cond, what, detail=''):
    global n, failed
    n += 1
    if cond:
        print(f'ok {n} - {what}')
    else:
        failed += 1
        print(f'not ok {n} - {what}')
        for line in str(detail).splitlines():
            print(f'# {line}')
    sys.stdout.flush()


def entries(d):
    return sorted(os.listdir(d))


def run(args, stdout=subprocess.DEVNULL, **kw):
    return subprocess.run(args, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120, **kw)


def temporary_seen(pid, d):
    """A hidden file in d, or an open unnamed O_TMPFILE of d (the kernel
    shows it as 'd/#INODE (deleted)')."""
    if any(e.startswith('.') for e in os.listdir(d)):
        return True
    try:
        for fd in os.listdir(f'/proc/{pid}/fd'):
            try:
                if os.readlink(f'/proc/{pid}/fd/{fd}').startswith(d + '/'):
                    return True
            except OSError:
                pass
    except OSError:
        pass
    return False


def kill_during_convert(work, big, out_name, sig, wrap):
    out = os.path.join(work, 'out')
    os.mkdir(out)
    target = os.path.join(out, out_name)
    p = subprocess.Popen(wrap + [cprof, 'convert', big, '-o', target],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    seen_named = False
    while p.poll() is None and time.monotonic() < deadline:
        if temporary_seen(p.pid, out):
            seen_named = any(e.startswith('.') for e in os.listdir(out))
            break
        time.sleep(0.001)
    running = p.poll() is None
    p.send_signal(sig)
    p.wait()
    p.stderr.close()
    left = entries(out)
    how = 'named fallback' if wrap else 'O_TMPFILE'
    name = signal.Signals(sig).name
    check(running, f'{how}: {name} reached convert -o {out_name} while it wrote',
          'convert finished before the signal: make the input bigger')
    check(p.returncode == -sig, f'{how}: convert ended by {name} (status {p.returncode})')
    check(left == [], f'{how}: {name} during convert -o {out_name} leaves nothing', f'left: {left}')
    if wrap:
        check(seen_named, f'{how}: the temporary had a name (the fallback was taken)')
    shutil.rmtree(out)


def test_signals(work):
    big = os.path.join(work, 'big.folded')
    with open(big, 'w') as f:
        subprocess.run([sys.executable, gen_folded, '--lines', '120000', '--seed', '3'], stdout=f, check=True)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        kill_during_convert(work, big, 'x.svg', sig, [])
        kill_during_convert(work, big, 'x.folded', sig, [])
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        kill_during_convert(work, big, 'x.svg', sig, [no_tmpfile])
    os.unlink(big)


def fill(d):
    """Fills the filesystem of d to the last block."""
    fd = os.open(os.path.join(d, 'filler'), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b'\0' * 4096)
    except OSError:
        pass
    os.close(fd)


ENOSPC = 'No space left on device'


def expect_enospc(what, args, line_re, full, stdout_file=None, wrap=None):
    wrap = wrap or []
    out = open(stdout_file, 'w') if stdout_file else subprocess.DEVNULL
    try:
        r = run(wrap + args, stdout=out)
    except OSError as e:
        check(False, what, e)
        return
    finally:
        if stdout_file:
            out.close()
    lines = r.stderr.splitlines()
    msg = [l for l in lines if re.search(line_re, l)]
    check(r.returncode == 1 and msg and ENOSPC in msg[0] and 'Input/output error' not in r.stderr,
          f'full disk: {what}: {msg[0] if msg else "?"}', f'status {r.returncode}, stderr: {r.stderr}')
    if stdout_file:
        os.unlink(stdout_file)  # the shell's redirection made it, not cprof
    left = [e for e in entries(full) if e != 'filler']
    check(left == [], f'full disk: {what} leaves no file', f'left: {left}')


def test_full_disk(work):
    full = os.path.join(work, 'full')
    os.mkdir(full)
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k', 'none', full], check=True)
    try:
        fill(full)
        for ext in ('svg', 'folded', 'pb.gz', 'speedscope.json', 'json'):
            o = os.path.join(full, 'x.' + ext)
            expect_enospc(f'convert -o x.{ext}', [cprof, 'convert', fixture, '-o', o],
                          rf"^cprof: cannot write '{re.escape(o)}': ", full)
        o = os.path.join(full, 'x.svg')
        expect_enospc('convert -o x.svg without O_TMPFILE', [cprof, 'convert', fixture, '-o', o],
                      rf"^cprof: cannot write '{re.escape(o)}': ", full, wrap=[no_tmpfile])
        o = os.path.join(full, 'rec.folded')
        expect_enospc('record -o rec.folded', [cprof, 'record', '-q', '-o', o, '--', 'sh', '-c',
                                               'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'],
                      rf"^cprof: cannot write '{re.escape(o)}': ", full)
        o = os.path.join(full, 'palette.map')
        expect_enospc('flamegraph --cp --palette FULL', [cprof, 'flamegraph', '--cp', '--palette', o, fixture],
                      rf"^cprof: cannot use palette file '{re.escape(o)}': ", full)
        s = os.path.join(full, 'stdout')
        expect_enospc('flamegraph > FULL', [cprof, 'flamegraph', fixture],
                      r'^cprof: cannot write the flame graph: ', full, stdout_file=s)
        expect_enospc('report > FULL', [cprof, 'report', fixture], r'^cprof: cannot write the report: ', full,
                      stdout_file=s)
        expect_enospc('report --json > FULL', [cprof, 'report', '--json', fixture],
                      r'^cprof: cannot write the report: ', full, stdout_file=s)
        expect_enospc('collapse > FULL', [cprof, 'collapse', perf_script],
                      r'^cprof: cannot write the folded stacks: ', full, stdout_file=s)
        expect_enospc('diff > FULL', [cprof, 'diff', fixture, fixture], r'^cprof: cannot write', full,
                      stdout_file=s)
        expect_enospc('diff --folded > FULL', [cprof, 'diff', '--folded', fixture, fixture],
                      r'^cprof: cannot write', full, stdout_file=s)
    finally:
        subprocess.run(['umount', full])
        os.rmdir(full)


def test_symlinks(work):
    check(os.geteuid() == 0, 'running as root (links owned by uid 65534 are planted)')
    sticky = os.path.join(work, 'sticky')
    os.mkdir(sticky)
    os.chmod(sticky, 0o1777)
    secret = os.path.join(work, 'secret')
    refusal = (rf"refusing to follow symlink owned by uid {NOBODY} in sticky directory "
               rf"'{re.escape(sticky)}'$")

    def plant(name):
        link = os.path.join(sticky, name)
        os.symlink(secret, link)
        os.lchown(link, NOBODY, NOBODY)
        return link

    def expect_refused(what, args, prefix):
        with open(secret, 'w') as f:
            f.write('root only\n')
        os.chmod(secret, 0o600)
        r = run(args)
        lines = r.stderr.splitlines()
        with open(secret, 'rb') as f:
            content = f.read()
        st = os.stat(secret)
        check(r.returncode != 0 and len(lines) == 1 and re.search(prefix + refusal, lines[0]),
              f'planted link: {what}: {lines[0] if lines else "?"}', f'status {r.returncode}, stderr: {r.stderr}')
        check(content == b'root only\n' and st.st_mode & 0o7777 == 0o600 and st.st_uid == 0,
              f'planted link: {what} leaves the root 0600 file alone', repr(content[:200]))

    link = plant('out.svg')
    expect_refused('convert -o', [cprof, 'convert', fixture, '-o', link],
                   rf"^cprof: cannot create '{re.escape(link)}': ")
    link = plant('rec.folded')
    expect_refused('record -o', [cprof, 'record', '-q', '-o', link, '--', 'true'],
                   rf"^cprof: cannot write '{re.escape(link)}': ")
    link = plant('palette.map')
    expect_refused('flamegraph --cp --palette', [cprof, 'flamegraph', '--cp', '--palette', link, fixture],
                   rf"^cprof: cannot use palette file '{re.escape(link)}': ")

    # the caller's own link in the same directory is followed
    mine = os.path.join(work, 'mine.folded')
    with open(mine, 'w') as f:
        f.write('old 1\n')
    own = os.path.join(sticky, 'own.folded')
    os.symlink(mine, own)
    r = run([cprof, 'convert', fixture, '-o', own])
    with open(mine, 'rb') as f:
        replaced = f.read() != b'old 1\n'
    check(r.returncode == 0 and replaced and os.path.islink(own),
          "the caller's own link in a sticky directory is followed", r.stderr)
    check(sorted(os.listdir(sticky)) == ['out.svg', 'own.folded', 'palette.map', 'rec.folded'],
          'nothing else was created in the sticky directory', os.listdir(sticky))


def test_no_proc(work):
    """Without /proc the unnamed file could not be linked: the named
    fallback is taken, and the output appears."""
    out = os.path.join(work, 'noproc')
    os.mkdir(out)
    target = os.path.join(out, 'x.svg')
    r = run(['unshare', '--mount', '--propagation', 'private', 'sh', '-c',
             'umount -l /proc && exec "$0" convert "$1" -o "$2"', cprof, fixture, target])
    check(r.returncode == 0 and entries(out) == ['x.svg'] and os.path.getsize(target) > 0,
          'without /proc, convert -o still writes its file and nothing else', r.stderr)
    shutil.rmtree(out)


def main():
    work = tempfile.mkdtemp(prefix='cprof-files-')
    try:
        test_symlinks(work)
        test_no_proc(work)
        test_full_disk(work)
        test_signals(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f'1..{n}')
    return 1 if failed else 0


sys.exit(main())
