"""Deep stacks (workloads/nofp-recurse.c): recursion 3,000 frames deep
without frame pointers, 48 bytes a frame (the workload measures it: ~141
KiB for the whole stack), hot at the bottom.

- bpf backend, defaults (256K copy, --max-depth 4096): the samples have
  all 3,001 recurse frames between main and bottom, are complete (>= 99%,
  summary too), never [truncated]; likewise with --unwind-check, and >= 99%
  agree with libdwfl.
- perf backend (at most 64K copied): the stack does not fit, so the
  samples are [truncated] and the summary counts them under 'stack not
  copied' or 'depth limit': never passed off as complete.
- bpf --max-depth 100: [truncated], 'depth limit' counted, and 100
  frames kept (the 100 nearest the leaf)."""
from cprof_test import (MAIN_PREFIX, TRUNCATED, Test, check_agreement, check_unwound,
                        is_truncated, unwind_record, user_part)

DEPTH = 3000


def rec_count(u):
    return sum(1 for x in u if x == "recurse")


def whole(u):
    """_start;...;main;recurse x DEPTH+1;bottom[;...]"""
    n = len(MAIN_PREFIX)
    return (rec_count(u) == DEPTH + 1 and all(x == "recurse" for x in u[n:n + DEPTH + 1])
            and u[n + DEPTH + 1:n + DEPTH + 2] == ("bottom",))


def body(t):
    w = t.workload("nofp-recurse")
    p = t.start("nofp-recurse", "0", DEPTH)
    line = p.lines.read(5)
    t.require(line is not None and line.startswith("frame "), "the workload measured "
              "its frame size", repr(line))
    frame = int(line.split()[1])
    need = frame * (DEPTH + 1)
    t.check(64 * 1024 < need <= 200 * 1024,
            f"{DEPTH + 1} frames of {frame} bytes take {need} bytes: more than the "
            "perf backend's 64K, well inside the bpf backend's 256K")
    pid = p.ready_pid

    for mode in ([], ["--unwind", "dwarf", "--unwind-check"]):
        label = f"bpf {' '.join(mode) or 'default'}"
        _, f, s = unwind_record(t, ["--backend", "bpf", *mode, "-F", "199", "-d", "2",
                                    "--pid", pid], t.path(f"bpf-{len(mode)}.folded"), label)
        check_unwound(t, label, f, s, MAIN_PREFIX, extra=whole)
        deepest = max((rec_count(user_part(st)) for st, _ in f.stacks), default=0)
        t.check(deepest == DEPTH + 1, f"{label}: the deepest stack has {deepest} recurse "
                f"frames (want {DEPTH + 1})")
        if mode:
            check_agreement(t, label, s, f.total())

    label = "perf backend (64K copy at most)"
    _, f, s = unwind_record(t, ["--backend", "perf", "-F", "199", "-d", "2", "--pid", pid],
                            t.path("perf.folded"), label)
    cut = f.where(is_truncated).total()
    t.check(cut >= 0.95 * f.total(), f"{label}: {cut} of {f.total()} samples are "
            f"[truncated] (want >= 95%)", f.top())
    passed = f.where(lambda st: not is_truncated(st) and "bottom" in st).total()
    t.check(passed == 0, f"{label}: no sample in bottom passed off as complete ({passed})",
            f.top())
    t.check(s.total and s.complete <= 0.05 * s.total,
            f"{label}: summary: {s.complete} of {s.total} complete (want <= 5%)", s.line)
    why = s.cut("stack not readable") + s.cut("depth limit")
    t.check(why >= 0.95 * (s.total or 1) - 2,
            f"{label}: summary counts the cut stacks as 'stack not readable' or "
            f"'depth limit' ({why} of {s.total})", s.line)
    # what is there is the leaf end of the stack, marked right after the
    # process frame
    leafy = f.where(lambda st: st[1:2] == (TRUNCATED,) and user_part(st)[-1:] == ("bottom",)
                    and rec_count(user_part(st)) >= 100).total()
    t.check(leafy >= 0.9 * f.total(), f"{label}: {leafy} of {f.total()} samples are "
            "nofp-recurse;[truncated];recurse...;bottom with >= 100 recurse frames",
            f.top(3))

    label = "bpf --max-depth 100"
    _, f, s = unwind_record(t, ["--backend", "bpf", "--max-depth", "100", "-F", "199", "-d",
                                "2", "--pid", pid], t.path("depth.folded"), label)
    cut = f.where(is_truncated).total()
    t.check(cut >= 0.95 * f.total(), f"{label}: {cut} of {f.total()} samples are "
            f"[truncated] (want >= 95%)", f.top(3))
    t.check(s.cut("depth limit") >= 0.95 * (s.total or 1) - 2,
            f"{label}: summary counts {s.cut('depth limit')} of {s.total} stacks under "
            "'depth limit' (want >= 95%)", s.line)
    sizes = {}
    for st, c in f.where(lambda st: is_truncated(st) and user_part(st)[-1:] == ("bottom",)
                         ).stacks:
        n = len(user_part(st))
        sizes[n] = sizes.get(n, 0) + c
    hundred = sizes.get(100, 0)
    t.check(hundred >= 0.9 * f.total(), f"{label}: {hundred} of {f.total()} samples "
            "have exactly 100 user frames ending in bottom (want >= 90%)", sizes)


Test("unwind-recurse").run(body)
