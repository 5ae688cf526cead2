"""Process life events, with both backends: samples taken before an exec
are named after the image that ran them (not symbolized against the new
one), and a process whose main thread exited is recorded until its last
thread ends."""
from cprof_test import Test


def body(t):
    for b in ("bpf", "perf"):
        _, f = t.record_ok(["--backend", b, "-F", "999", "--",
                            t.workload("lifecycle"), "forkexec",
                            t.workload("hot"), "0.2"],
                           t.path(f"forkexec-{b}.folded"), timeout=60)
        pre = f.with_frame("pre_exec_spin")
        t.check(pre.total() >= 300, f"{b}: pre_exec_spin sampled "
                f"({pre.total()}, 6 x 0.15 s at 999 Hz)", f.top())
        t.check(set(pre.procs()) == {"lifecycle"},
                f"{b}: pre_exec_spin only under 'lifecycle'", pre.procs())
        unknown = f.of("hot").with_frame("[unknown]").total()
        t.check(unknown <= 0.05 * pre.total(),
                f"{b}: no pre-exec samples symbolized as the new image "
                f"({unknown} [unknown] under 'hot')", f.top())
        t.check(f.of("hot").with_frame("hot_a").total() > 0,
                f"{b}: the exec'd image is sampled too", f.top())

        r, f = t.record_ok(["--backend", b, "-F", "499", "-d", "30", "--",
                            t.workload("lifecycle"), "mainexit", "1.5"],
                           t.path(f"mainexit-{b}.folded"), timeout=60)
        spin = f.with_frame("orphan_spin").total()
        t.check(spin >= 0.5 * 1.5 * 499, f"{b}: orphan_spin sampled after "
                f"main exited ({spin}, want ~{int(1.5 * 499)})", f.top())
        t.check("exited with status 0" in r.stderr,
                f"{b}: the command ran to its end, not killed", r.stderr)


Test("lifecycle").run(body)
