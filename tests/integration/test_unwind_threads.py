"""DWARF unwinding in threads (workloads/nofp-threads.c): 4 pthreads, no
frame pointers, each worker -> work_a ~2/3 | work_b ~1/3. A thread's stack
ends at clone3 (its return address undefined by CFI):
clone3;start_thread;worker;work_a|work_b. On both backends, plain and with
--threads (a thread frame under the process frame), and with --unwind
dwarf --unwind-check: >= 99% complete, all 4 threads seen, >= 99% agree
with libdwfl."""
import re

from cprof_test import (MAIN_PREFIX, THREAD_PREFIX, Test, check_agreement, check_unwound,
                        has_run, is_truncated, unwind_record, user_part)

CHAIN = THREAD_PREFIX + ("worker",)


def body(t):
    w = t.workload("nofp-threads")
    for backend in ("bpf", "perf"):
        for mode in ([], ["--threads"], ["--unwind", "dwarf", "--unwind-check"]):
            label = f"{backend} {' '.join(mode) or 'default'}"
            threads = "--threads" in mode
            _, f, s = unwind_record(t, ["--backend", backend, *mode, "-F", "499", "--", w,
                                        "4", "1.5"], t.path(f"{backend}-{len(mode)}.folded"),
                                    label)
            p = f.of("nofp-threads")
            # the main thread may have a sample of its own (start, exit)
            check_unwound(t, label, p, s, [CHAIN, MAIN_PREFIX], threads=threads)
            # a stack cut short is counted above; one that is not must have
            # the whole chain
            bad = p.where(lambda st: ("work_a" in st or "work_b" in st) and
                          not is_truncated(st, threads) and not has_run(
                              user_part(st, threads), CHAIN + (("work_a", "work_b"),)))
            t.check(bad.total() == 0, f"{label}: work_a and work_b are always right "
                    f"under worker in stacks not cut short ({bad.total()} samples elsewhere)",
                    bad.top())
            t.share_within(p.share("work_a"), 2 / 3, 0.1, f"{label}: work_a share", p.top())
            if threads:
                # the workers' tids (the main thread may have a sample or
                # two of its own, at start and exit)
                tids = {re.fullmatch(r".+-([0-9]+)", st[1]).group(1) for st, _ in p.stacks
                        if re.fullmatch(r".+-[0-9]+", st[1]) and "worker" in st}
                t.check(len(tids) == 4, f"{label}: 4 worker threads in thread frames "
                        f"({len(tids)})", sorted(tids))
            if "--unwind-check" in mode:
                check_agreement(t, label, s, f.total())


Test("unwind-threads").run(body)
