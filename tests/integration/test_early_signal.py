"""SIGINT or SIGTERM while cprof is still loading its sampler: it must not
die silently. Either the stop came before sampling started (one line
saying so, exit 1, no file), or the recording ran and was stopped as usual
(exit 0, a complete file). Never killed by the signal, never silent."""
import os
import signal
import subprocess
import time

from cprof_test import Test, kill_and_wait

EARLY = "interrupted before sampling started"


def wait_for_fd(pid, kinds, timeout=5):
    """Waits until process pid holds a descriptor whose link names one of
    kinds (a sampler being loaded); False if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if any(k in link for k in kinds):
                    return True
        except OSError:
            return False
    return False


def trial(t, label, args, out, sig, kinds):
    cmd = [t.cprof, "record", "-o", out] + args
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=t.tmp)
    t.procs.append(p)
    # not a fixed delay: on a loaded machine the dynamic loader alone may
    # take that long, and before main() nothing can catch a signal
    wait_for_fd(p.pid, kinds)
    p.send_signal(sig)
    try:
        _, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        kill_and_wait(p)
        t.check(False, f"{label}: cprof ends within 30 s of the signal")
        return None
    if p.returncode == 1 and EARLY in err:
        t.check(not os.path.exists(out), f"{label}: stopped before sampling: "
                "no file", err)
        t.check(len([l for l in err.splitlines() if l.strip()]) == 1,
                f"{label}: stopped before sampling: one line", err)
        return "early"
    t.check(p.returncode == 0, f"{label}: not killed by the signal, and either "
            f"'{EARLY}' (exit 1) or a normal stop (exit 0); got "
            f"{p.returncode}", err)
    if p.returncode == 0:
        t.check(os.path.exists(out) and os.path.getsize(out) >= 0,
                f"{label}: stopped while sampling: the file is written", err)
        return "late"
    return None


def body(t):
    w = t.start("hot")
    outcomes = {}
    n = 0
    for backend, kinds in (("bpf", ("bpf-map", "bpf-prog")),
                           ("perf", ("perf_event",))):
        for sig in (signal.SIGINT, signal.SIGTERM):
            for target in (["--pid", str(w.ready_pid)],
                           ["--", t.workload("hot"), "5"]):
                for _ in range(2):
                    n += 1
                    what = "pid" if target[0] == "--pid" else "command"
                    label = f"{backend} {sig.name} while loading ({what}, #{n})"
                    o = trial(t, label, ["--backend", backend] + target,
                              t.path(f"early{n}.folded"), sig, kinds)
                    outcomes.setdefault(backend, []).append(o)
    t.check("early" in outcomes["bpf"], "some signals came while the bpf "
            f"sampler loaded and were told so ({outcomes['bpf']})")
    t.check(w.poll() is None, "a --pid target survives")
    kill_and_wait(w)


Test("early-signal").run(body)
