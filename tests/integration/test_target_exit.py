"""A target exiting mid-recording ends the recording (duration 30 s,
target gone after 1 s), and the file is complete."""
from cprof_test import Test

LIMIT = 8.0  # seconds: 2 s of target plus start-up and write-out


def body(t):
    w = t.start("hot", 2)
    r, f = t.record_ok(["--pid", w.ready_pid, "-d", "30", "-F", "499"],
                       t.path("pid.folded"), timeout=40)
    t.check(r.elapsed <= LIMIT, f"--pid: cprof ended {r.elapsed:.1f} s after "
            f"start (max {LIMIT}) though -d 30")
    t.check(f.of("hot").with_frame("hot_a").total() > 0 and
            f.of("hot").with_frame("hot_b").total() > 0,
            "--pid: hot_a and hot_b in the file", f.top())

    r, f = t.record_ok(["-d", "30", "-F", "499", "--", t.workload("hot"), "2"],
                       t.path("launched.folded"), timeout=40)
    t.check(r.elapsed <= LIMIT, f"launched: cprof ended {r.elapsed:.1f} s "
            f"after start (max {LIMIT}) though -d 30")
    t.check(f.of("hot").with_frame("hot_a").total() > 0,
            "launched: hot_a in the file", f.top())


Test("target-exit").run(body)
