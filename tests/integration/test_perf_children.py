"""perf backend: a command forking 1,000 children that each run 0.5 ms
(less than one sampling period) gets the samples their CPU time predicts
(within 30%), under the children's code, as root (events per CPU) and as
user nobody (events per task, user frames only); with --no-children none
of them is sampled."""
import os

from cprof_test import Test, parse_folded
from perf_follow import (RATE, Runner, check_rate, folded_total, run_parts,
                         workload_cpu)


def run(t, r):
    out = r.out("kids.folded")
    label = f"{r.user}: 1000 children of 0.5 ms"
    p = r.record(["-F", RATE, "-o", out, "--", r.workload("shortkids"),
                  1000, 500])
    t.require(p.returncode == 0, f"{label}: cprof exits 0", p.stderr)
    cpu, user, rest = workload_cpu(p.stdout, "shortkids")
    f = folded_total(t, out, label)
    r.check_total(label, f.total(), cpu, user, p.stderr + f.top())
    check_rate(t, f"{label}, kid_work", f.with_frame("kid_work").total(),
               float(rest[1]) * RATE, f.top(), what="its CPU time")

    # two at a time: children overlap on both CPUs
    label = f"{r.user}: 1000 children of 0.5 ms, 2 at a time"
    p = r.record(["-F", RATE, "-o", out, "--", r.workload("shortkids"),
                  1000, 500, 2])
    t.require(p.returncode == 0, f"{label}: cprof exits 0", p.stderr)
    cpu, user, rest = workload_cpu(p.stdout, "shortkids")
    f = folded_total(t, out, label)
    r.check_total(label, f.total(), cpu, user, p.stderr + f.top())
    check_rate(t, f"{label}, kid_work", f.with_frame("kid_work").total(),
               float(rest[1]) * RATE, f.top(), what="its CPU time")

    label = f"{r.user}: --no-children"
    p = r.record(["-F", RATE, "--no-children", "-o", out, "--",
                  r.workload("shortkids"), 300, 2000])
    t.require(p.returncode in (0, 1), f"{label}: cprof ran", p.stderr)
    if os.path.exists(out) and p.returncode == 0:
        f, _ = parse_folded(out)
        t.check(f.with_frame("kid_work").total() <= 5,
                f"{label}: kid_work {f.with_frame('kid_work').total()} "
                "times (max 5)", f.top())


def body(t):
    t.require(os.geteuid() == 0, "runs as root (to drop to nobody)")
    for user in ("root", "nobody"):
        r = Runner(t, user)
        try:
            run_parts(t, [(run, r)])
        finally:
            r.cleanup()


Test("perf-children").run(body)
