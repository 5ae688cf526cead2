"""DWARF unwinding through the PLT into libc and back out through a
callback (workloads/nofp-qsort.c): sorter calls qsort (libc, no frame
pointers) whose merge sort calls cmp_slow. On both backends, plain
(default mode) and with --unwind dwarf --unwind-check: at least 99% of the
samples are _start;...;main;sorter;..., the summary counts >= 99% complete,
most samples end in cmp_slow below libc's sort frames (msort_with_tmp)
and main;sorter, and >= 99% agree with libdwfl."""
from cprof_test import (MAIN_PREFIX, Test, check_agreement, check_unwound, has_run,
                        unwind_record, user_part)

CHAIN = MAIN_PREFIX + ("sorter",)


def through_libc(u):
    """sorter;<libc's qsort frames>;cmp_slow, with msort_with_tmp between
    (its recursion, named with its clones and inlined copies: msort_with_tmp,
    msort_with_tmp.part.0, msort_with_tmp_[i])"""
    if u[-1:] != ("cmp_slow",) or "sorter" not in u:
        return False
    between = u[u.index("sorter") + 1:-1]
    return (any(x.startswith("msort_with_tmp") for x in between) and
            "cmp_slow" not in between)


def body(t):
    w = t.workload("nofp-qsort")
    for backend in ("bpf", "perf"):
        for mode in ([], ["--unwind", "dwarf", "--unwind-check"]):
            label = f"{backend} {' '.join(mode) or 'default'}"
            _, f, s = unwind_record(t, ["--backend", backend, *mode, "-F", "499", "--", w, "2"],
                                    t.path(f"{backend}-{len(mode)}.folded"), label)
            p = f.of("nofp-qsort")
            check_unwound(t, label, p, s, CHAIN)
            cmp = p.where(lambda st: through_libc(user_part(st))).total()
            t.check(cmp >= 0.75 * p.total(),
                    f"{label}: {cmp} of {p.total()} samples are ...;main;sorter;"
                    "<libc's sort frames>;cmp_slow (want >= 75%)", p.top())
            direct = p.where(lambda st: has_run(user_part(st), ("sorter", "cmp_slow"))).total()
            t.check(direct == 0, f"{label}: no sorter;cmp_slow stack (libc's frames "
                    f"skipped): {direct}", p.top())
            if mode:
                check_agreement(t, label, s, f.total())


Test("unwind-qsort").run(body)
