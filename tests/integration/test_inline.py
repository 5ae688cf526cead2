"""Inlined calls are frames of their own, suffixed _[i], root first: the
inline workload's always_inline chains show as
outer_a;mid_a_[i];inner_a_[i] (60%), outer_a;mid_a_[i] (15%) and
outer_b;b_mid_[i];b_inner_[i];b_core_[i] (25%, three levels of inlining
giving four frames), under main;run."""
from cprof_test import Test, is_kernel

# the chains' expected frames below run, and their shares (as hot-shares)
CHAINS = [
    (("outer_a", "mid_a_[i]", "inner_a_[i]"), 0.60),
    (("outer_a", "mid_a_[i]"), 0.15),
    (("outer_b", "b_mid_[i]", "b_inner_[i]", "b_core_[i]"), 0.25),
]
TOL = 0.10
INLINED = {"mid_a", "inner_a", "b_mid", "b_inner", "b_core"}


def user_leaf_chain(s):
    """The stack's frames below run, kernel frames dropped, or None."""
    if "run" not in s:
        return None
    return tuple(x for x in s[s.index("run") + 1:] if not is_kernel(x))


def check_chains(t, f, label):
    t.check(set(f.procs()) == {"inline"},
            f"{label}: every stack is rooted at the process name 'inline'",
            f.procs())
    total = f.total()
    # the workload's functions always sit below main;run;outer_x
    for chain, want in CHAINS:
        got = f.where(lambda s: user_leaf_chain(s) == chain).total()
        t.share_within(got / total, want, TOL,
                       f"{label}: ...;main;run;{';'.join(chain)} share",
                       f.top())
    # an inlined function never appears as a real frame, nor out of order
    plain = {x for x in f.frames() if x in INLINED}
    t.check(not plain, f"{label}: inlined functions appear only with _[i] "
            f"(plain: {sorted(plain)})", f.top())
    # each inline frame sits on the function it was inlined into, so the
    # chains are root first (outer, mid, inner)
    parent = {"mid_a_[i]": "outer_a", "inner_a_[i]": "mid_a_[i]",
              "b_mid_[i]": "outer_b", "b_inner_[i]": "b_mid_[i]",
              "b_core_[i]": "b_inner_[i]"}
    bad = [f"{';'.join(s)} {c}" for s, c in f.stacks
           if any(x in parent and s[i - 1] != parent[x]
                  for i, x in enumerate(s))]
    t.check(not bad, f"{label}: every chain frame sits on the function it "
            "was inlined into (root first)", "\n".join(bad[:10]))
    main = f.with_frame("main").total()
    t.check(main >= 0.97 * total, f"{label}: main in {main} of {total} "
            "samples (inline frames do not cut stacks)", f.top())


def body(t):
    _, f = t.record_ok(["-F", "999", "--", t.workload("inline"), "2.5"],
                       t.path("inline.folded"))
    check_chains(t, f, "launched -F 999")
    t.check(f.total() >= 500, f"launched -F 999: enough samples ({f.total()})")

    w = t.start("inline")  # until killed
    _, f = t.record_ok(["--pid", w.ready_pid, "-d", "2", "-F", "499"],
                       t.path("pid.folded"))
    w.kill()
    w.wait()
    check_chains(t, f, "--pid -F 499")


Test("inline").run(body)
