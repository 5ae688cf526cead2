"""Both backends agree: the same hot process recorded at the same time with
--backend bpf and --backend perf gives the same hot-function shares and the
same set of hot stacks."""
from cprof_test import Test, kill_and_wait

HOT = 0.03  # a stack with at least 3% of the samples is a hot stack
# ... and the other backend must have it too, with at least this share (a
# stack near the threshold, e.g. a syscall's kernel leaf at 3.4% on one
# and 2.9% on the other, is not a difference)
PRESENT = 0.01


def body(t):
    w = t.start("hot")
    runs = {}
    for b in ("bpf", "perf"):
        runs[b] = t.spawn_record(["--pid", w.ready_pid, "-d", "2.5", "-F",
                                  "499", "--backend", b, "-o",
                                  t.path(b + ".folded")])
    for b, p in runs.items():
        _, err = p.communicate(timeout=30)
        t.require(p.returncode == 0, f"--backend {b} exits 0", err)
        print(f"     --backend {b} stderr: {err.strip()!r}")
    kill_and_wait(w)

    f = {b: t.folded(t.path(b + ".folded")).of("hot") for b in runs}
    for b in runs:
        t.require(f[b].with_frame("hot_a").total() > 0,
                  f"--backend {b}: hot_a sampled", f[b].top())
        t.share_within(f[b].share("hot_a"), 0.75, 0.10,
                       f"--backend {b}: hot_a share", f[b].top())
    for leaf in ("hot_a", "hot_b"):
        a, b = f["bpf"].share(leaf), f["perf"].share(leaf)
        t.check(abs(a - b) <= 0.08, f"{leaf} share: bpf {a * 100:.1f}% vs "
                f"perf {b * 100:.1f}% (max 8 points apart)")
    share = {b: {s: c / f[b].total() for s, c in f[b].stacks} for b in runs}
    hot = {b: {s for s, x in share[b].items() if x >= HOT} for b in runs}
    missing = {b: sorted(s for s in hot[b] if share[o].get(s, 0) < PRESENT)
               for b, o in (("bpf", "perf"), ("perf", "bpf"))}
    t.check(hot["bpf"] and not missing["bpf"] and not missing["perf"],
            "the same hot stacks (>= 3% of samples) from both backends",
            f"bpf only: {missing['bpf']}\n"
            f"perf only: {missing['perf']}\n"
            f"bpf:\n{f['bpf'].top()}\nperf:\n{f['perf'].top()}")


Test("backends").run(body)
