"""--unwind auto|fp|dwarf on a program built without frame pointers
(workloads/nofp-chain.c).

- No --unwind at all is auto: the program gets complete stacks
  (_start;...;main;alpha;beta;...) without any option, the same stacks as
  with --unwind auto.
- --unwind fp is the kernel's frame-pointer walk, as before: most samples
  do NOT reach main: the other unwinding tests can tell the difference.
- Usage errors (exit 2): an unknown mode, a --stack-copy the perf backend
  cannot take (over 64K, the kernel's limit, named in the message); 64K
  itself is the largest it takes (the kernel copies at most 65528 bytes:
  64K means that much), and a smaller copy still gives complete stacks
  for this shallow program."""
from cprof_test import (MAIN_PREFIX, Test, check_unwound, starts_with,
                        unwind_record, user_part)

CHAIN = MAIN_PREFIX + ("alpha", "beta")


def reaches_main(st):
    return "main" in user_part(st)


def body(t):
    w = t.workload("nofp-chain")
    _, dflt, sd = unwind_record(t, ["-F", "499", "--", w, "2"], t.path("default.folded"),
                                "no --unwind")
    check_unwound(t, "no --unwind", dflt.of("nofp-chain"), sd, CHAIN)
    _, auto, sa = unwind_record(t, ["--unwind", "auto", "-F", "499", "--", w, "2"],
                                t.path("auto.folded"), "--unwind auto")
    check_unwound(t, "--unwind auto", auto.of("nofp-chain"), sa, CHAIN)
    # the same stacks: every user stack (kernel frames dropped: which
    # kernel function a system call was in varies) holding at least 2% of
    # the samples in one recording is there in the other
    def user_stacks(f):
        out = {}
        for st, c in f.of("nofp-chain").stacks:
            out[user_part(st)] = out.get(user_part(st), 0) + c
        return out
    ud, ua = user_stacks(dflt), user_stacks(auto)
    for a, b, la, lb in ((ud, ua, "default", "auto"), (ua, ud, "auto", "default")):
        big = [st for st, c in a.items() if c >= 0.02 * sum(a.values())]
        missing = [";".join(st) for st in big if st not in b]
        t.check(big and not missing, f"the {len(big)} user stacks with >= 2% of the {la} "
                f"recording's samples are in the {lb} recording", "\n".join(missing))

    r, fp = t.record_ok(["--unwind", "fp", "-F", "499", "--", w, "2"], t.path("fp.folded"))
    p = fp.of("nofp-chain")
    n = p.where(reaches_main).total()
    t.check(n <= 0.5 * p.total(), f"--unwind fp: only {n} of {p.total()} samples reach "
            "main (want <= 50%: no frame pointers to walk)", p.top())
    full = p.where(lambda st: starts_with(user_part(st), CHAIN)).total()
    t.check(full <= 0.5 * p.total(), f"--unwind fp: {full} of {p.total()} samples "
            "have the whole chain _start;...;main;alpha;beta (want <= 50%)", p.top())

    r = t.record(["--unwind", "sideways", "-d", "1", "-o", t.path("bad.folded"), "--", w, "1"])
    t.check(r.rc == 2, f"--unwind sideways: usage error, exit 2 (got {r.rc})", r.stderr)
    t.check("sideways" in r.stderr, "--unwind sideways: the message names the value",
            r.stderr)
    r = t.record(["--backend", "perf", "--stack-copy", "128K", "-d", "1", "-o",
                  t.path("big.folded"), "--", w, "1"])
    t.check(r.rc == 2, f"--backend perf --stack-copy 128K: usage error, exit 2 "
            f"(got {r.rc})", r.stderr)
    t.check(any(x in r.stderr for x in ("64K", "65536", "64 KiB", "65528")),
            "--backend perf --stack-copy 128K: the message names the limit", r.stderr)
    r = t.record(["--backend", "perf", "--stack-copy", "64K", "-d", "1", "-o",
                  t.path("perf64.folded"), "--", w, "1"])
    t.check(r.rc == 0, f"--backend perf --stack-copy 64K (the documented maximum) is "
            f"taken (exit {r.rc})", r.stderr)
    _, f, s = unwind_record(t, ["--backend", "perf", "--stack-copy", "32K", "-F", "499",
                                "--", w, "1.5"], t.path("perf32.folded"),
                            "--backend perf --stack-copy 32K")
    check_unwound(t, "--backend perf --stack-copy 32K", f.of("nofp-chain"), s, CHAIN)


Test("unwind-modes").run(body)
