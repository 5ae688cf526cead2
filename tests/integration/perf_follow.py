"""Shared by test_perf_*.py: run the perf backend as root and as user
nobody (user frames only, per-task events), and compare the samples it got
with what the targets' CPU time predicts."""
import os
import re
import resource
import shutil
import subprocess
import tempfile
import time

from cprof_test import Fatal, LineReader, parse_folded

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
          "--inh-caps=-all", "--bounding-set=-all"]
RATE = 999
TOLERANCE = 0.30


class Runner:
    """Runs cprof and workloads as root (prefix []) or as nobody, in a
    directory both can use."""

    def __init__(self, t, user):
        self.t = t
        self.user = user
        self.prefix = NOBODY if user == "nobody" else []
        self.dir = tempfile.mkdtemp(prefix=f"cprof-perf-{user}-")
        os.chmod(self.dir, 0o777)
        self.cprof = self.copy(t.cprof)

    def copy(self, path):
        dst = os.path.join(self.dir, os.path.basename(path))
        shutil.copy(path, dst)
        os.chmod(dst, 0o755)
        return dst

    def workload(self, name):
        return self.copy(self.t.workload(name))

    def out(self, name):
        return os.path.join(self.dir, name)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def record(self, args, nofile=None, timeout=90):
        """Runs cprof record --backend perf ARGS; returns CompletedProcess."""
        cmd = self.prefix + [self.cprof, "record", "--backend", "perf"] + \
            [str(a) for a in args]
        try:
            return subprocess.run(cmd, cwd=self.dir, capture_output=True,
                                  text=True, timeout=timeout,
                                  preexec_fn=limit_nofile(nofile))
        except subprocess.TimeoutExpired:
            raise Fatal(f"'{' '.join(cmd)}' did not finish in {timeout} s")

    def start(self, name, *args):
        """Starts a workload (as this user) and waits for its ready line."""
        p = subprocess.Popen(self.prefix + [self.workload(name)] +
                             [str(a) for a in args], cwd=self.dir,
                             stdout=subprocess.PIPE, bufsize=0)
        self.t.procs.append(p)
        p.lines = LineReader(p.stdout.fileno())
        line = p.lines.read(20)
        self.t.require(line is not None and line.startswith(f"{name}: ready pid "),
                       f"{self.user}: workload {name} started", repr(line))
        p.ready_pid = int(line.split()[-1])
        return p

    def spawn_record(self, args, nofile=None):
        cmd = self.prefix + [self.cprof, "record", "--backend", "perf"] + \
            [str(a) for a in args]
        p = subprocess.Popen(cmd, cwd=self.dir, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             preexec_fn=limit_nofile(nofile))
        self.t.procs.append(p)
        return p

    def expected(self, cpu, user_cpu):
        """Samples the CPU time predicts: as nobody the backend samples
        user mode only, so only user time counts."""
        return (user_cpu if self.user == "nobody" else cpu) * RATE

    def check_total(self, label, got, cpu, user_cpu, detail=None,
                    tolerance=TOLERANCE):
        """The samples of a whole recording against its CPU time. As
        nobody only as a floor: the kernel splits a short-lived process's
        time into user and system by ticks, and one that saw no tick has
        all of it counted as user time."""
        if self.user == "nobody":
            want = user_cpu * RATE
            self.t.check(got >= 0.5 * want, f"{label}: {got} samples, at "
                         f"least half of the {want:.0f} user CPU time "
                         "predicts", detail)
        else:
            check_rate(self.t, label, got, cpu * RATE, detail,
                       tolerance=tolerance)


def limit_nofile(n):
    """A preexec_fn setting the soft descriptor limit to n (None: keep)."""
    if n is None:
        return None

    def f():
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))
    return f


def run_parts(t, parts):
    """Runs each (function, args...) on its own: a part that stops on a
    failed requirement (counted as a failure) does not stop the others."""
    for f, *args in parts:
        before = t.failures
        try:
            f(t, *args)
        except Fatal as e:
            if t.failures == before:  # not from a failed check
                t.failures += 1
            print(f"stopping this part: {e}")


def workload_cpu(stdout, name):
    """(cpu, user, rest) from a workload's final "NAME: cpu S user U ..."
    line, rest being the words after them."""
    m = re.search(rf"^{name}: cpu ([0-9.]+) user ([0-9.]+)(.*)$", stdout, re.M)
    if not m:
        raise Fatal(f"no '{name}: cpu' line in the output: {stdout!r}")
    return float(m.group(1)), float(m.group(2)), m.group(3).split()


def folded_total(t, path, label):
    t.require(os.path.exists(path), f"{label}: output written")
    f, errors = parse_folded(path)
    t.check(not errors, f"{label}: well-formed folded output", "\n".join(errors[:5]))
    return f


def check_rate(t, label, got, want, detail=None, what="CPU time",
               tolerance=TOLERANCE):
    """got samples within tolerance of want."""
    ratio = got / want if want else 0.0
    t.check(abs(ratio - 1) <= tolerance,
            f"{label}: {got} samples for {want:.0f} expected from {what} "
            f"({ratio * 100:.0f}%, want 100% +-{tolerance * 100:.0f})", detail)


def wait_recording(t, p, label, timeout=30):
    """Waits for cprof's "recording" line (after any notices); returns
    the other lines read."""
    reader = LineReader(p.stderr.fileno())
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = reader.read(max(0.1, deadline - time.monotonic()))
        if line is None:
            break
        if line.startswith("cprof: recording"):
            return seen
        seen.append(line)
    t.require(False, f"{label}: cprof started recording", "\n".join(seen))
