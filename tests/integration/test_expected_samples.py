"""The summary checks the samples taken against the CPU time the targets
used (CPU seconds x frequency): a shortfall of more than 10% is one
warning line, and no sample at all from targets that used CPU is an error
(exit 1, no file). On both backends, for a launched command (its CPU time
from wait4) and for --pid targets (from /proc, also after they exit)."""
import os
import re

from cprof_test import Test, kill_and_wait, parse_folded, proc_cpu_seconds

FREQ = 99
DEBUG = re.compile(r"the targets used ([0-9.]+) s of CPU while recording: "
                   r"about ([0-9]+) samples expected at ([0-9]+) Hz, ([0-9]+) taken")
SHORT = re.compile(r"warning: ([0-9]+) samples, but the targets used ([0-9.]+) s "
                   r"of CPU: about ([0-9]+) expected at [0-9]+ Hz \(([0-9]+)% missing\)")
NONE = "no samples were taken although the targets used"


def samples_in(path):
    if not os.path.exists(path):
        return 0
    f, _ = parse_folded(path)
    return f.total()


def check_verdict(t, label, r, out, own_cpu):
    """The verdict cprof gives must agree with the CPU time the workload
    measured itself (own_cpu seconds); between 85% and 95% of the expected
    samples, where the two clocks may round either way, both are right."""
    m = DEBUG.search(r.stderr)
    if not t.check(m, f"{label}: -v states the targets' CPU time and the "
                   f"samples expected", r.stderr):
        return
    cpu = float(m.group(1))
    t.check(abs(cpu - own_cpu) <= 0.1 * own_cpu + 0.03,
            f"{label}: CPU time {cpu:.2f} s, the workload measured "
            f"{own_cpu:.2f} s", r.stderr)
    expected = own_cpu * FREQ
    got = samples_in(out)
    short = SHORT.search(r.stderr)
    if r.rc != 0:
        t.check(r.rc == 1 and NONE in r.stderr and expected >= 5,
                f"{label}: a failed recording is 'no samples were taken although "
                f"the targets used ... CPU', exit 1 (got {r.rc})", r.stderr)
        t.check(not os.path.exists(out), f"{label}: no file after the error")
        return
    t.check(got > 0 or expected < 5, f"{label}: {got} samples in a written "
            f"file, {expected:.0f} expected", r.stderr)
    if expected >= 20 and got < 0.85 * expected:
        t.check(short, f"{label}: {got} samples of about {expected:.0f} "
                "expected: the summary warns", r.stderr)
    elif got > 0.95 * expected:
        t.check(not short, f"{label}: {got} samples of about {expected:.0f} "
                "expected: no warning", r.stderr)
    if short:
        t.check(int(short.group(1)) == got, f"{label}: the warning gives the "
                f"samples written ({got})", r.stderr)


def launched(t, backend, args, label):
    out = t.path(f"{label}.folded")
    r = t.record(["-v", "--backend", backend, "-F", FREQ, "-o", out, "--",
                  t.workload(args[0])] + args[1:], timeout=90)
    m = re.search(r"\bcpu ([0-9.]+)$", r.stdout, re.M)
    t.require(m, f"{label}: the workload printed its CPU time", r.stdout)
    check_verdict(t, label, r, out, float(m.group(1)))
    return r


def by_pid(t, backend):
    label = f"{backend}: hot by --pid"
    w = t.start("hot")
    out = t.path(f"{backend}-pid.folded")
    c0 = proc_cpu_seconds(w.ready_pid)
    r = t.record(["-v", "--backend", backend, "-F", FREQ, "-d", "1.5", "-o",
                  out, "--pid", w.ready_pid])
    c1 = proc_cpu_seconds(w.ready_pid)
    kill_and_wait(w)
    t.check(r.rc == 0, f"{label}: exit 0 (got {r.rc})", r.stderr)
    m = DEBUG.search(r.stderr)
    if t.check(m, f"{label}: -v states the target's CPU time", r.stderr):
        cpu = float(m.group(1))
        # cprof measures from its start of sampling: within what the test saw
        t.check(0.5 * (c1 - c0) <= cpu <= (c1 - c0) + 0.03,
                f"{label}: CPU time {cpu:.2f} s while the target used "
                f"{c1 - c0:.2f} s around the recording", r.stderr)
    t.check(not SHORT.search(r.stderr), f"{label}: a busy thread sampled "
            "in full gets no shortfall warning", r.stderr)

    # a target that exits during the recording keeps its last reading
    label = f"{backend}: --pid target exiting"
    w = t.start("hot", "1.2")
    out = t.path(f"{backend}-pid-exit.folded")
    r = t.record(["-v", "--backend", backend, "-F", FREQ, "-o", out,
                  "--pid", w.ready_pid])
    own = proc_cpu_seconds(w.ready_pid)  # a zombie until we wait
    w.wait()
    t.check(r.rc == 0, f"{label}: exit 0 (got {r.rc})", r.stderr)
    m = DEBUG.search(r.stderr)
    if t.check(m, f"{label}: -v states the target's CPU time", r.stderr):
        cpu = float(m.group(1))
        t.check(0.4 * own <= cpu <= own + 0.03, f"{label}: CPU time "
                f"{cpu:.2f} s of the {own:.2f} s it used in all", r.stderr)


def body(t):
    for backend in ("bpf", "perf"):
        r = launched(t, backend, ["hot", "--work", "10000"], f"{backend}: hot")
        t.check(not SHORT.search(r.stderr), f"{backend}: hot: a busy thread "
                "sampled in full gets no shortfall warning", r.stderr)
        launched(t, backend, ["cpu-bursts", "threads", "50", "2"],
                 f"{backend}: 50 bursty threads")
        launched(t, backend, ["cpu-bursts", "forks", "300", "3"],
                 f"{backend}: 300 short children")
        by_pid(t, backend)


Test("expected-samples").run(body)
