"""Shared helpers for the cprof record integration tests.

Each test_*.py is run by meson as `python3 test_x.py CPROF WORKLOAD_DIR`:
it starts workloads (tests/integration/workloads), runs `cprof record`
against them, parses the folded output and checks it. A test prints one
line per check and exits 0 when all passed, 1 otherwise.

Folded format expected from cprof: one line per unique stack,
`proc;[comm-tid;]root;...;leaf COUNT`, lines sorted, kernel frames
suffixed `_[k]`.
"""

import gzip
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time


class Fatal(Exception):
    """A failed check after which the rest of the test makes no sense."""


class Test:
    def __init__(self, name):
        self.name = name
        if len(sys.argv) < 3:
            sys.exit(f"usage: {sys.argv[0]} CPROF WORKLOAD_DIR")
        self.cprof = os.path.abspath(sys.argv[1])
        self.wdir = os.path.abspath(sys.argv[2])
        self.tmp = tempfile.mkdtemp(prefix=f"cprof-{name}-")
        self.failures = 0
        self.checks = 0
        self.procs = []

    # -- checks --------------------------------------------------------

    def check(self, cond, msg, detail=None):
        self.checks += 1
        if cond:
            print(f"ok   {msg}")
        else:
            self.failures += 1
            print(f"FAIL {msg}")
            if detail:
                for line in str(detail).rstrip().splitlines():
                    print(f"     | {line}")
        sys.stdout.flush()
        return bool(cond)

    def require(self, cond, msg, detail=None):
        if not self.check(cond, msg, detail):
            raise Fatal(msg)

    def share_within(self, got, want, tol, msg, detail=None):
        """got and want are fractions; tol in fractions too."""
        return self.check(abs(got - want) <= tol,
                          f"{msg}: {got * 100:.1f}% (want {want * 100:.0f}% "
                          f"+-{tol * 100:.0f})", detail)

    def run(self, body):
        """Runs body(self), cleans up, and exits with the result."""
        try:
            body(self)
        except Fatal as e:
            print(f"stopping: {e}")
        except Exception:  # a bug in the test or an unexpected state
            import traceback
            traceback.print_exc()
            self.failures += 1
        finally:
            for p in self.procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        if self.failures:
            print(f"{self.name}: {self.failures} of {self.checks} checks "
                  f"failed (files kept in {self.tmp})")
            sys.exit(1)
        print(f"{self.name}: all {self.checks} checks passed")
        shutil.rmtree(self.tmp, ignore_errors=True)
        sys.exit(0)

    # -- processes -----------------------------------------------------

    def path(self, name):
        return os.path.join(self.tmp, name)

    def workload(self, name):
        return os.path.join(self.wdir, name)

    def start(self, name, *args, stdin=None):
        """Starts a workload and waits for its "NAME: ready pid N" line.
        Returns the Popen (binary, unbuffered pipes); .ready_pid is the pid
        it printed, .lines reads its further output."""
        p = subprocess.Popen([self.workload(name)] + [str(a) for a in args],
                             stdout=subprocess.PIPE, stdin=stdin,
                             bufsize=0)
        self.procs.append(p)
        p.lines = LineReader(p.stdout.fileno())
        line = p.lines.read(10)
        self.require(line is not None and line.startswith(f"{name}: ready pid "),
                     f"workload {name} started", f"first line: {line!r}")
        p.ready_pid = int(line.split()[-1])
        return p

    def record(self, args, timeout=60, cwd=None):
        """Runs `cprof record ARGS` to completion. Returns a Result."""
        cmd = [self.cprof, "record"] + [str(a) for a in args]
        t0 = time.monotonic()
        try:
            cp = subprocess.run(cmd, capture_output=True, text=True,
                                timeout=timeout, cwd=cwd or self.tmp)
        except subprocess.TimeoutExpired as e:
            raise Fatal(f"'{' '.join(cmd)}' did not finish within "
                        f"{timeout} s (stderr so far: {e.stderr!r})")
        return Result(cmd, cp.returncode, cp.stdout, cp.stderr,
                      time.monotonic() - t0)

    def spawn_record(self, args, cwd=None):
        """Starts `cprof record ARGS` in the background (Popen)."""
        cmd = [self.cprof, "record"] + [str(a) for a in args]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             cwd=cwd or self.tmp)
        p.cmd = cmd
        p.t0 = time.monotonic()
        self.procs.append(p)
        return p

    def wait_recording(self, p, timeout=15):
        """Waits for a spawned cprof's "recording ..." line: sampling runs."""
        line = LineReader(p.stderr.fileno()).read(timeout)
        self.require(line is not None and line.startswith("cprof: recording"),
                     "cprof started recording", f"first stderr line: {line!r}")

    def record_ok(self, args, out, timeout=60, cwd=None):
        """Records into out and requires success and a parsable file."""
        args = list(args)
        # -o goes before a launched command's "--"
        at = args.index("--") if "--" in args else len(args)
        args[at:at] = ["-o", out]
        r = self.record(args, timeout=timeout, cwd=cwd)
        self.require(r.rc == 0, f"cprof record {' '.join(map(str, args))} "
                     f"exits 0 (got {r.rc})", r.stderr)
        return r, self.folded(out)

    def folded(self, path):
        self.require(os.path.exists(path), f"{os.path.basename(path)} written")
        f, errors = parse_folded(path)
        self.check(not errors, f"{os.path.basename(path)} is well-formed "
                   f"folded output", "\n".join(errors[:10]))
        self.require(f.total() > 0, f"{os.path.basename(path)} has samples")
        return f


class Result:
    def __init__(self, cmd, rc, stdout, stderr, elapsed):
        self.cmd, self.rc, self.stdout, self.stderr = cmd, rc, stdout, stderr
        self.elapsed = elapsed

    def stderr_lines(self):
        return [l for l in self.stderr.splitlines() if l.strip()]


class LineReader:
    """Lines from a pipe with a timeout. Python's buffered readline() would
    hold lines that select() cannot see, so this reads the fd itself."""

    def __init__(self, fd):
        self.fd = fd
        self.buf = b""
        self.eof = False

    def read(self, timeout):
        """One line without its newline, or None on timeout or EOF."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                chunk = os.read(self.fd, 4096)
                self.buf += chunk
                self.eof = not chunk
        if b"\n" not in self.buf:
            return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")


def proc_cpu_seconds(pid):
    """utime + stime of a whole process (all threads) from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_pid():
    """A PID that no process has: one just used by a reaped child."""
    p = subprocess.Popen(["true"])
    p.wait()
    pid = p.pid
    while os.path.exists(f"/proc/{pid}"):
        pid += 7
    return pid


def is_kernel(frame):
    return frame.endswith("_[k]")


class Folded:
    def __init__(self, stacks):
        self.stacks = stacks  # list of (tuple of frames, count)

    def total(self, pred=None):
        return sum(c for s, c in self.stacks if pred is None or pred(s))

    def procs(self):
        """Sample counts per process frame."""
        out = {}
        for s, c in self.stacks:
            out[s[0]] = out.get(s[0], 0) + c
        return out

    def of(self, proc):
        return Folded([(s, c) for s, c in self.stacks if s[0] == proc])

    def where(self, pred):
        return Folded([(s, c) for s, c in self.stacks if pred(s)])

    def with_frame(self, name):
        return self.where(lambda s: name in s[1:])

    def share(self, name):
        t = self.total()
        return self.with_frame(name).total() / t if t else 0.0

    def frames(self):
        return {f for s, _ in self.stacks for f in s[1:]}

    def top(self, n=12):
        lines = sorted(self.stacks, key=lambda sc: -sc[1])[:n]
        return "\n".join(f"{';'.join(s)} {c}" for s, c in lines)


def parse_folded(path):
    """Parses a folded file strictly. Returns (Folded, [error, ...])."""
    errors = []
    stacks = []
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return Folded([]), [f"not UTF-8: {e}"]
    if text and not text.endswith("\n"):
        errors.append("last line has no newline (truncated file?)")
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        m = re.fullmatch(r"(.+) ([0-9]+)", line)
        if not m:
            errors.append(f"{path}:{n}: not 'stack COUNT': {line!r}")
            continue
        frames = tuple(m.group(1).split(";"))
        count = int(m.group(2))
        if count <= 0:
            errors.append(f"{path}:{n}: count {count}")
        if any(not fr for fr in frames):
            errors.append(f"{path}:{n}: empty frame: {line!r}")
        stacks.append((frames, count))
    keys = [";".join(s) for s, _ in stacks]
    if len(set(keys)) != len(keys):
        errors.append("the same stack appears on more than one line")
    if lines != sorted(lines) and keys != sorted(keys):
        errors.append("lines are not sorted")
    return Folded(stacks), errors


def is_gzip(path):
    with open(path, "rb") as f:
        head = f.read(2)
    if head != b"\x1f\x8b":
        return False
    with gzip.open(path) as g:
        return len(g.read()) > 0


def kill_and_wait(p, sig=signal.SIGKILL):
    if p.poll() is None:
        p.send_signal(sig)
    return p.wait()
