"""JIT code that appears after sampling started, in a process that lives
a few hundred milliseconds (the late-jit workload): perf records say
"//anon" for its memory, which must be JIT code looked up in the perf map
(never a module "[anon]"), and the map must be read even though the
process is gone by the time its addresses are named. Both backends."""
import glob
import os

from cprof_test import Test, is_kernel


def body(t):
    before = set(glob.glob("/tmp/perf-*.map"))
    try:
        for backend in ("bpf", "perf"):
            r, f = t.record_ok(["--backend", backend, "-F", "999", "--",
                                t.workload("late-jit"), "0.3", "0.3"],
                               t.path(f"{backend}.folded"))
            f = f.of("late-jit")
            anon = [x for x in f.frames() if not is_kernel(x) and
                    ("anon" in x or "memfd" in x)]
            t.check(not anon, f"{backend}: no [anon] module frame", anon[:5])
            hot = f.where(lambda s: [x for x in s if not is_kernel(x)][-1] ==
                          "jit_hot_loop_[j]")
            t.check(hot.total() >= 0.7 * f.total(),
                    f"{backend}: {hot.total()} of {f.total()} samples end in "
                    "jit_hot_loop_[j] (want >= 70%)", f.top())
            nosym = [l for l in r.stderr.splitlines() if "without symbols" in l]
            t.check(not any("anon" in l for l in nosym),
                    f"{backend}: the summary does not list anon as a module "
                    "without symbols", nosym)
    finally:
        for m in set(glob.glob("/tmp/perf-*.map")) - before:
            os.unlink(m)


Test("late-jit").run(body)
