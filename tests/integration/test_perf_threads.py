"""perf backend: threads on a CPU for microseconds at a time, and a
thread-per-request server attached by PID, get the samples their CPU time
predicts (within 30%, 40% for the bursts), as root (events per CPU) and as
user nobody (events per task, user frames only). 800 threads attached by
PID under a soft descriptor limit of 1024 (1,600 events on 2 CPUs) are all
followed."""
import os
import signal
import time

from cprof_test import Test, kill_and_wait
from perf_follow import (RATE, TOLERANCE, Runner, check_rate, folded_total, run_parts,
                         wait_recording, workload_cpu)


# Threads waking every few ms spend much of their CPU time switching in
# and out, which cpu-clock samples see less of, with every backend: on a
# busy 2-CPU VM the whole process got 73-94% of the samples its CPU time
# predicts (BPF 94%), burst_work 77-105% (BPF 102%). Their checks allow
# 40%; the old backend failed them by not recording at all (800 threads:
# 'too many open files').
BURST_TOLERANCE = 0.40


def bursty_launched(t, r):
    out = r.out("bursty.folded")
    label = f"{r.user}: 50 threads of 20 us every 5 ms, launched"
    p = r.record(["-F", RATE, "-o", out, "--", r.workload("bursty"),
                  50, 20, 5, 3])
    t.require(p.returncode == 0, f"{label}: cprof exits 0", p.stderr)
    cpu, user, rest = workload_cpu(p.stdout, "bursty")
    f = folded_total(t, out, label)
    r.check_total(label, f.total(), cpu, user, p.stderr + f.top(),
                  tolerance=BURST_TOLERANCE)
    check_rate(t, f"{label}, burst_work", f.with_frame("burst_work").total(),
               float(rest[1]) * RATE, f.top(), what="its CPU time",
               tolerance=BURST_TOLERANCE)


def workload_now(t, w, name):
    """Asks a running workload for its "cpu S user U work W" line."""
    os.kill(w.ready_pid, signal.SIGUSR1)
    line = w.lines.read(10)
    t.require(line is not None and line.startswith(f"{name}: cpu "),
              f"{name} answers SIGUSR1", repr(line))
    return workload_cpu(line, name)


def attached(t, r, label, w, name, frame, nthreads=None, tolerance=None):
    pid = w.ready_pid
    if nthreads:
        deadline = time.monotonic() + 90
        while (len(os.listdir(f"/proc/{pid}/task")) < nthreads + 1 and
               time.monotonic() < deadline):
            time.sleep(0.1)
        t.require(len(os.listdir(f"/proc/{pid}/task")) >= nthreads + 1,
                  f"{label}: {nthreads} threads running")
    out = r.out("attached.folded")
    p = r.spawn_record(["-F", RATE, "-d", 3, "--pid", pid, "-o", out],
                       nofile=1024)
    wait_recording(t, p, label)
    c0 = workload_now(t, w, name)
    _, err = p.communicate(timeout=90)
    c1 = workload_now(t, w, name)
    kill_and_wait(w)
    t.require(p.returncode == 0, f"{label}: cprof exits 0 (got "
              f"{p.returncode})", err)
    f = folded_total(t, out, label)
    tolerance = tolerance or TOLERANCE
    r.check_total(label, f.total(), c1[0] - c0[0], c1[1] - c0[1],
                  err + f.top(), tolerance=tolerance)
    check_rate(t, f"{label}, {frame}", f.with_frame(frame).total(),
               (float(c1[2][1]) - float(c0[2][1])) * RATE, f.top(),
               what="its CPU time", tolerance=tolerance)


def body(t):
    t.require(os.geteuid() == 0, "runs as root (to drop to nobody)")
    for user in ("root", "nobody"):
        r = Runner(t, user)
        try:
            run_parts(t, [
                (bursty_launched, r),
                (lambda t: attached(
                    t, r, f"{user}: 800 threads of 20 us every 50 ms, by PID, "
                    "ulimit -Sn 1024", r.start("bursty", 800, 20, 50, 60),
                    "bursty", "burst_work", nthreads=800,
                    tolerance=BURST_TOLERANCE),),
                (lambda t: attached(
                    t, r, f"{user}: thread-per-request server by PID",
                    r.start("reqserver", 700, 2, 0), "reqserver",
                    "request_work"),),
            ])
        finally:
            r.cleanup()

Test("perf-threads").run(body)
