"""Full stacks: every hot_a/hot_b sample of the hot workload is
hot;...;main;run;hot_x, rooted at the process name, with nothing but
kernel frames above the leaf."""
from cprof_test import Test, kill_and_wait, is_kernel

# a frame-pointer walk sampled in a prologue/epilogue (before `push %rbp`,
# after `pop %rbp`) misses one caller; that is a handful of instructions per
# 20000-iteration chunk, so allow at most 1% such stacks
MAX_BAD = 0.01


def body(t):
    w = t.start("hot")
    _, f = t.record_ok(["--pid", w.ready_pid, "-d", "2", "-F", "999"],
                       t.path("stacks.folded"))
    kill_and_wait(w)

    for leaf in ("hot_a", "hot_b"):
        stacks = f.with_frame(leaf)
        t.require(stacks.total() > 0, f"{leaf} sampled")
        good = bad = 0
        bad_lines = []
        for s, c in stacks.stacks:
            i = s.index(leaf)
            ok = (s[0] == "hot" and i >= 3 and s[i - 2] == "main" and
                  s[i - 1] == "run" and s.count("main") == 1 and
                  all(is_kernel(x) for x in s[i + 1:]))
            if ok:
                good += c
            else:
                bad += c
                bad_lines.append(f"{';'.join(s)} {c}")
        frac = bad / (good + bad)
        t.check(frac <= MAX_BAD,
                f"{leaf}: {good} of {good + bad} samples are "
                f"hot;...;main;run;{leaf} ({frac * 100:.2f}% not, max "
                f"{MAX_BAD * 100:.0f}%)", "\n".join(bad_lines[:10]))
    # where main is, it is below run, and nothing the workload does sits
    # below main
    for s, c in f.stacks:
        if "main" in s and "run" in s:
            if not t.check(s.index("main") < s.index("run"),
                           "main below run", ";".join(s)):
                break
    t.check(f.share("main") >= 0.97,
            f"main in {f.share('main') * 100:.1f}% of samples (want >= 97%)",
            f.top())


Test("stacks").run(body)
