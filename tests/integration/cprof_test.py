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


# -- DWARF unwinding (issue 11) ---------------------------------------------
#
# In --unwind auto|dwarf mode cprof's summary has the line
#   cprof: ... C of N user stacks complete (P%)[; cut short: ...]
# with counts by reason among CUT_REASONS, and with --unwind-check also
#   cprof: unwind check: A of N samples agree with libdwfl (P%)
# A stack cut short has the frame TRUNCATED right after the process frame
# (after the thread frame with --threads); a complete one never has it.

TRUNCATED = "[truncated]"
CUT_REASONS = ("no CFI", "unsupported CFI", "stack not readable", "depth limit",
               "bad frame")
# where a complete user stack starts (root first): _start's and clone3's
# return addresses are undefined by CFI
ROOTS = ("_start", "clone3")
# the main thread's frames down to main, named by libc6-dbg. An item of a
# frame pattern is a name, None for any frame (an unnamed _start in a
# stripped program), or a tuple of names for the same frame: libc's
# __libc_start_main_impl has the global aliases __libc_start_main (at the
# same address), and either names it
LIBC_START = ("__libc_start_main_impl", "__libc_start_main")
MAIN_PREFIX = ("_start", LIBC_START, "__libc_start_call_main", "main")
THREAD_PREFIX = ("clone3", "start_thread")

_COMPLETE_RE = re.compile(r"(\d+) of (\d+) user stacks complete")
_CHECK_RE = re.compile(r"unwind check: (\d+) of (\d+) samples agree with "
                       r"libdwfl")


class UnwindSummary:
    """The unwinding lines of a recording's summary."""

    def __init__(self, stderr):
        self.line = None
        self.complete = self.total = None
        self.reasons = {}
        self.agree = self.checked = None
        for line in stderr.splitlines():
            m = _COMPLETE_RE.search(line)
            if m and self.line is None:
                self.line = line
                self.complete, self.total = int(m.group(1)), int(m.group(2))
                cut = line.split("cut short:", 1)
                if len(cut) == 2:
                    self.reasons = _cut_reasons(cut[1])
            m = _CHECK_RE.search(line)
            if m:
                self.agree, self.checked = int(m.group(1)), int(m.group(2))

    def share(self):
        return self.complete / self.total if self.total else 0.0

    def cut(self, reason):
        return self.reasons.get(reason, 0)


def _cut_reasons(text):
    """Counts by reason from the text after 'cut short:', written either
    'N reason' or 'reason: N' / 'reason N'."""
    out = {}
    for r in CUT_REASONS:
        m = (re.search(r"(\d+)\s+" + re.escape(r) + r"\b", text) or
             re.search(re.escape(r) + r"\s*[:=]?\s*(\d+)", text))
        if m:
            out[r] = int(m.group(1))
    return out


def user_part(stack, threads=False):
    """The user frames of a stack, root first: no process (or thread)
    frame, no [truncated] mark, no kernel frame."""
    return tuple(x for x in stack[2 if threads else 1:]
                 if not is_kernel(x) and x != TRUNCATED)


def is_truncated(stack, threads=False):
    at = 2 if threads else 1
    return len(stack) > at and stack[at] == TRUNCATED


def frames_match(frames, pattern):
    """Whether frames (a tuple) match pattern item by item (see above)."""
    return len(frames) == len(pattern) and all(
        p is None or (x == p if isinstance(p, str) else x in p)
        for x, p in zip(frames, pattern))


def starts_with(frames, pattern):
    return frames_match(tuple(frames[:len(pattern)]), pattern)


def has_run(frames, run):
    """Whether the pattern run appears in frames, contiguous, in order."""
    n = len(run)
    return any(frames_match(tuple(frames[i:i + n]), run)
               for i in range(len(frames) - n + 1))


def pattern_text(pattern):
    """The pattern as frames; a run of one item is written 'item x N'"""
    out = []
    for p in pattern:
        text = "*" if p is None else p if isinstance(p, str) else "|".join(p)
        if out and out[-1][0] == text:
            out[-1][1] += 1
        else:
            out.append([text, 1])
    return ";".join(x if n == 1 else f"{x} x {n}" for x, n in out)


def unwind_record(t, args, out, label, timeout=60, cwd=None):
    """Records with ARGS into OUT (requiring success and the summary's
    unwinding line); returns (Result, Folded, UnwindSummary)."""
    r, f = t.record_ok(args, out, timeout=timeout, cwd=cwd)
    s = UnwindSummary(r.stderr)
    t.require(s.line is not None, f"{label}: the summary says how many user "
              "stacks are complete", r.stderr)
    return r, f, s


def check_unwound(t, label, f, s, prefix, want=0.99, threads=False, extra=None):
    """The checks every unwinding case shares: at least WANT of the
    samples start with PREFIX (a tuple of root-first frames, or a list of
    such tuples for any of them) and are not [truncated], the summary
    counts at least WANT of the stacks complete, and the folded file's
    [truncated] stacks are the ones the summary says were cut. EXTRA, a
    predicate on the user frames, must hold as well for the first check."""
    prefixes = prefix if isinstance(prefix, list) else [prefix]
    total = f.total()

    def good(st):
        u = user_part(st, threads)
        return (not is_truncated(st, threads) and
                any(starts_with(u, p) for p in prefixes) and
                (extra is None or extra(u)))
    ok = f.where(good).total()
    bad = f.where(lambda st: not good(st))
    want_txt = " or ".join(pattern_text(p) for p in prefixes)
    t.check(ok >= want * total,
            f"{label}: {ok} of {total} samples ({100 * ok / total:.1f}%) are "
            f"{want_txt};... (want >= {100 * want:.0f}%)", f"{s.line}\n{bad.top()}")
    t.check(s.total and s.share() >= want,
            f"{label}: summary: {s.complete} of {s.total} user stacks complete "
            f"(want >= {100 * want:.0f}%)", s.line)
    # a stack the summary counts as cut is marked in the file, and only
    # those: the counts are samples both ways (a few samples may have no
    # user stack at all, e.g. while the process exits)
    cut = f.where(lambda st: is_truncated(st, threads)).total()
    if s.total:
        t.check(abs(cut - (s.total - s.complete)) <= max(2, 0.01 * total),
                f"{label}: {cut} [truncated] samples in the file, "
                f"{s.total - s.complete} cut short in the summary",
                f"{s.line}\n{f.where(lambda st: is_truncated(st, threads)).top()}")
    # a stack marked as cut never ends at a root: that would be a complete
    # one passed off as cut, or a bogus root
    fake = f.where(lambda st: is_truncated(st, threads) and
                   (starts_with(user_part(st, threads), ("_start", LIBC_START)) or
                    starts_with(user_part(st, threads), THREAD_PREFIX)))
    t.check(fake.total() == 0, f"{label}: no [truncated] stack starts at "
            "_start or clone3", fake.top())
    return ok


def check_agreement(t, label, s, total=None, want=0.99):
    """--unwind-check: at least WANT of the samples agree with libdwfl; the
    check covered (nearly) every sample when TOTAL is given."""
    if not t.check(s.checked is not None, f"{label}: the summary has the "
                   "unwind check line", s.line):
        return
    t.check(s.checked > 0 and s.agree >= want * s.checked,
            f"{label}: {s.agree} of {s.checked} samples agree with libdwfl "
            f"(want >= {100 * want:.0f}%)")
    if total is not None:
        t.check(s.checked >= 0.95 * total,
                f"{label}: libdwfl checked {s.checked} of the {total} samples "
                "(want >= 95%)")


def perf_dwarf_complete(t, cmd, label, freq=499, size=None, cwd=None,
                        timeout=90):
    """Runs `perf record --call-graph dwarf[,SIZE]` on CMD and returns the
    share of its samples whose stack reached a root: the outermost frame
    is _start or clone3, or the one after it is __libc_start_main_impl
    (an unnamed _start in a stripped program), plus the samples."""
    data = t.path(f"{label}.perf.data")
    cg = "dwarf" if size is None else f"dwarf,{size}"
    cp = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F",
                         str(freq), "--call-graph", cg, "-o", data, "--"] +
                        [str(c) for c in cmd], capture_output=True,
                        timeout=timeout, cwd=cwd or t.tmp)
    t.require(cp.returncode == 0, f"{label}: perf record exits 0 "
              f"(got {cp.returncode})", cp.stderr.decode(errors="replace"))
    sc = subprocess.run(["perf", "script", "-i", data, "--max-stack", "100000",
                         "-F", "ip,sym"], capture_output=True, text=True,
                        errors="replace", timeout=timeout)
    t.require(sc.returncode == 0, f"{label}: perf script exits 0", sc.stderr)
    stacks, cur = [], None
    for line in sc.stdout.splitlines():
        if not line.strip():
            if cur:
                stacks.append(cur[::-1])
            cur = None
            continue
        parts = line.split(None, 1)
        if cur is None:
            cur = []
        cur.append(parts[1].strip() if len(parts) > 1 else "[unknown]")
    if cur:
        stacks.append(cur[::-1])
    done = [s for s in stacks
            if s[0] in ROOTS or (len(s) > 1 and s[1].split()[0] in LIBC_START)]
    return (len(done) / len(stacks) if stacks else 0.0), stacks
