"""cprofd and short-lived processes of a target by comm: processes that
live 60 ms each, one every 100 ms, are sampled whole (the kernel makes them
targets at exec), not only when a scan of /proc, once a second, happens to
find one alive. The samples in the target's windows are checked against
the processes' own CPU time (from wait4), and their stacks are named."""
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
    expected = cpu * HZ
    t.check(samples >= 0.7 * expected and samples <= 1.3 * expected,
            f"{RUNS} processes of 60 ms sampled whole: {samples} samples, "
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
