"""cprofd and short-lived processes of a target by comm: processes that
live 60 ms each, one every 100 ms, are sampled whole (the kernel makes them
targets at exec), not only when a scan of /proc, once a second, happens to
find one alive. The samples in the target's windows are checked against
the processes' own CPU time (from wait4), and their stacks are named. A
service of another target whose workers exec into that name: the
workers' samples go to the watched target, not to the service."""
import os
import shutil
import signal
import subprocess
import time

from cprof_test import Test
from cprofd_util import Daemon, window_text

HZ = 99
RUNS = 30

CONFIG = f"""\
[cprofd]
frequency = {HZ}
window = 1
output-dir = @OUT@
socket = @SOCK@
max-size = 0

[target short]
comm = blink

[target svc]
comm = svcsh
"""


def body(t):
    blink = t.path("blink")
    shutil.copy(t.workload("hot"), blink)
    d = Daemon(t, CONFIG)
    d.start()
    # one scan has run: every process below starts after it
    time.sleep(0.5)
    cpu = 0.0
    pids = []
    for _ in range(RUNS):
        p = subprocess.Popen([blink, "0.06"], stdout=subprocess.DEVNULL)
        pids.append(p.pid)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        t.require(p.returncode == 0, "blink ran", p.returncode)
        cpu += ru.ru_utime + ru.ru_stime
        time.sleep(0.04)
    # a service (target svc) starting workers per task: the workers exec
    # into blink, and their samples go to short, not to the service
    svcsh = t.path("svcsh")
    shutil.copy("/bin/sh", svcsh)
    loop = f"i=0; while [ $i -lt 10 ]; do {blink} 0.06 >/dev/null; sleep 0.04; i=$((i+1)); done"
    p = subprocess.Popen([svcsh, "-c", loop])
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    t.require(p.returncode == 0, "the service's loop ran", p.returncode)
    # the loop's own CPU time (the shell's is a few ms): its workers'
    workers_cpu = ru.ru_utime + ru.ru_stime
    # samples are drained within half a second; SIGTERM writes the rest
    time.sleep(1)
    rc = d.stop(signal.SIGTERM)
    t.require(rc == 0, "cprofd exited 0 on SIGTERM", d.stderr())

    samples = in_main = hot = unnamed = 0
    for path in d.windows("short"):
        for line in window_text(path).splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            n = int(count)
            samples += n
            # what an image learnt too late gives: nothing known under
            # the process frame, or the binary's own code unnamed
            if frames[1:2] == ["[unknown]"] or "[blink]" in frames:
                unnamed += n
            if "main" in frames:
                in_main += n
                hot += n if "hot_a" in frames or "hot_b" in frames else 0
    svc_hot = 0
    for path in d.windows("svc"):
        for line in window_text(path).splitlines():
            stack, _, count = line.rpartition(" ")
            if "hot_a" in stack.split(";") or "hot_b" in stack.split(";"):
                svc_hot += int(count)
    t.check(svc_hot == 0, f"the service's workers are not in its own windows ({svc_hot} samples)")
    cpu += workers_cpu
    expected = cpu * HZ
    t.check(samples >= 0.7 * expected and samples <= 1.3 * expected,
            f"{RUNS + 10} processes of 60 ms sampled whole: {samples} samples, "
            f"{expected:.0f} expected from their CPU time ({cpu:.2f} s)", d.stderr())
    t.check(samples and unnamed <= 0.05 * samples,
            f"their stacks are named: {unnamed} of {samples} samples with the binary unnamed")
    # (in the sanitizer build start-up and the leak check at exit take a
    # good part of a 60 ms life, so the share is of the time in main)
    t.check(in_main >= 0.4 * samples and hot >= 0.9 * in_main,
            f"{in_main} of them in main, {hot} of those in hot_a/hot_b")
    # none of them is logged (a scan may find one alive: it is not a second old)
    logged = [pid for pid in pids if f"sampling process {pid}\n" in d.stderr()]
    t.check(not logged, f"short-lived processes are not logged one by one (logged: {logged})", d.stderr())


Test("cprofd-short").run(body)
