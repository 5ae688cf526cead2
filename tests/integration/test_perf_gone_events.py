"""The perf backend per task (as nobody: an event per thread and CPU)
closes the events of processes that are gone, so that a long recording
holds descriptors for what lives: ten targets exit after 2 s, one runs
on, and cprof's descriptor count falls by two (CPUs) per process gone,
while the one left is still sampled."""
import os
import subprocess
import time

from cprof_test import Test, LineReader

NOBODY = 65534


def nobody(argv, **kw):
    return subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] + argv, **kw)


def perf_fds(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:[perf_event]"
        except OSError:
            pass
    return n


def body(t):
    t.require(os.geteuid() == 0, "runs as root (to drop to nobody)")
    os.chmod(t.tmp, 0o777)
    short, pids = [], []
    for i in range(10):
        p = nobody([t.workload("hot"), "3"], stdout=subprocess.PIPE, bufsize=0)
        t.procs.append(p)
        short.append(p)
    long = nobody([t.workload("hot"), "12"], stdout=subprocess.PIPE, bufsize=0)
    t.procs.append(long)
    for p in short + [long]:
        line = LineReader(p.stdout.fileno()).read(10)
        t.require(line and line.startswith("hot: ready pid"), "workload started", line)
        pids += ["--pid", line.split()[-1]]
    out = t.path("gone.folded")
    rec = nobody([t.cprof, "record", "--backend", "perf", "-d", "9", "-o", out] + pids,
                 stderr=subprocess.PIPE, text=True)
    t.procs.append(rec)
    # the events are open once it says it records
    err = LineReader(rec.stderr.fileno())
    line = err.read(15)
    while line is not None and not line.startswith("cprof: recording"):
        line = err.read(15)  # the notice that kernel frames need privileges
    t.require(line is not None, "cprof records as nobody")
    before = perf_fds(rec.pid)
    for p in short:
        p.wait(10)
    time.sleep(3)
    after = perf_fds(rec.pid)
    rec.wait(30)
    t.check(rec.returncode == 0, f"cprof exits 0 ({rec.returncode})")
    ncpu = os.cpu_count()
    t.check(before >= 11 * ncpu, f"an event per target and CPU at first ({before})")
    # one CPU's ring may be owned by a gone process's event: it stays
    t.check(after <= before - 9 * ncpu, f"the events of the 10 gone processes are closed ({before} -> {after})")
    f = t.folded(out)
    t.check(f.with_frame("hot_a").total() > 0, "the processes are sampled")


Test("perf-gone-events").run(body)
