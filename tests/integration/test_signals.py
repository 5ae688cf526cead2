"""SIGINT or SIGTERM mid-recording ends it early, writes the complete file
and exits 0."""
import signal
import time

from cprof_test import Test, kill_and_wait


def body(t):
    w = t.start("hot")
    runs = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        runs[sig] = t.spawn_record(["--pid", w.ready_pid, "-F", "499", "-o",
                                    t.path(sig.name + ".folded")])
    for p in runs.values():
        t.wait_recording(p)
    time.sleep(1.5)
    for sig, p in runs.items():
        t.require(p.poll() is None, f"cprof still recording after 1.5 s "
                  f"(no -d)", p.stderr.read() if p.poll() is not None else "")
        p.send_signal(sig)
    sent = time.monotonic()
    for sig, p in runs.items():
        try:
            _, err = p.communicate(timeout=15)
        except Exception:
            t.require(False, f"{sig.name}: cprof exits within 15 s")
        took = time.monotonic() - sent
        t.check(p.returncode == 0, f"{sig.name}: exit status 0 "
                f"(got {p.returncode})", err)
        t.check(took <= 5, f"{sig.name}: exited {took:.1f} s after the signal "
                f"(max 5)")
        f = t.folded(t.path(sig.name + ".folded"))
        hot = f.of("hot")
        t.check(hot.with_frame("hot_a").total() > 0 and
                hot.with_frame("hot_b").total() > 0,
                f"{sig.name}: hot_a and hot_b in the file", f.top())
        # two profilers and the target share 2 CPUs: the target may get
        # well under one, so only ask for a fair part of 1.5 s x 499 Hz
        t.check(hot.total() >= 100, f"{sig.name}: {hot.total()} samples over "
                f"~1.5 s at 499 Hz (want >= 100)")
    t.check(w.poll() is None, "the target survives the profiler's exit")
    kill_and_wait(w)


Test("signals").run(body)
