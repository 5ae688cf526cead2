"""-F sets samples per second per CPU-busy thread: the sample count matches
the target's CPU time times the frequency, at 99 and 999 Hz, and -F 10000
is accepted."""
import time

from cprof_test import Test, kill_and_wait, proc_cpu_seconds


def body(t):
    w = t.start("hot")
    freqs = (99, 999, 10000)
    cpu0 = proc_cpu_seconds(w.ready_pid)
    t0 = time.monotonic()
    runs = {hz: t.spawn_record(["--pid", w.ready_pid, "-d", "2.5", "-F", hz,
                                "-o", t.path(f"{hz}.folded")])
            for hz in freqs}
    for hz, p in runs.items():
        _, err = p.communicate(timeout=30)
        t.require(p.returncode == 0, f"-F {hz} exits 0", err)
    cpu = proc_cpu_seconds(w.ready_pid) - cpu0
    wall = time.monotonic() - t0
    kill_and_wait(w)
    # the CPU time is measured around all three runs, so it is an upper
    # bound: a run sees at least 2.5 s x the target's CPU share
    print(f"     target: {cpu:.2f} s CPU in {wall:.2f} s")
    lo_cpu = cpu * 2.5 / wall
    n = {}
    for hz in freqs:
        n[hz] = t.folded(t.path(f"{hz}.folded")).total()
        lo = 0.5 if hz == 10000 else 0.75
        t.check(lo * lo_cpu * hz <= n[hz] <= 1.1 * cpu * hz,
                f"-F {hz}: {n[hz]} samples for {lo_cpu:.2f}..{cpu:.2f} s of "
                f"target CPU (want {lo * lo_cpu * hz:.0f}.."
                f"{1.1 * cpu * hz:.0f})")
    ratio = n[999] / max(n[99], 1)
    t.check(7.5 <= ratio <= 12.5, f"999 Hz / 99 Hz sample ratio {ratio:.1f} "
            f"(want ~10)")


Test("frequency").run(body)
