"""hot_a ~75% and hot_b ~25% of the hot workload's samples, attached by PID
and as a launched command (default frequency)."""
from cprof_test import Test, kill_and_wait


def check_shares(t, f, label):
    t.check(set(f.procs()) == {"hot"},
            f"{label}: every stack is rooted at the process name 'hot'",
            f"process frames: {f.procs()}")
    hot = f.of("hot")
    t.share_within(hot.share("hot_a"), 0.75, 0.10, f"{label}: hot_a share",
                   hot.top())
    t.share_within(hot.share("hot_b"), 0.25, 0.10, f"{label}: hot_b share",
                   hot.top())


def body(t):
    w = t.start("hot")  # until killed
    _, f = t.record_ok(["--pid", w.ready_pid, "-d", "2.5", "-F", "499"],
                       t.path("pid.folded"))
    kill_and_wait(w)
    check_shares(t, f, "--pid -F 499")
    t.check(f.total() >= 400, f"--pid -F 499: enough samples ({f.total()})")

    _, f = t.record_ok(["--", t.workload("hot"), "2.5"],
                       t.path("launched.folded"))
    check_shares(t, f, "launched, default -F")
    # 2.5 s of wall time: on a loaded 2-core machine the workload may get
    # well under a CPU, so only the upper bound is tight
    t.check(40 <= f.total() <= 300,
            f"launched, default -F 99 over 2.5 s: {f.total()} samples "
            f"(want 40..300)")


Test("hot-shares").run(body)
