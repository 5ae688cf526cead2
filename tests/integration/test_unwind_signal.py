"""DWARF unwinding out of a signal handler (workloads/nofp-signal.c):
main -> d1 -> d2 -> d3 -> spin, interrupted every 5 ms of CPU time by
SIGPROF whose handler spins ~1 ms in handler_work. The handler's stacks
are ...;main;d1;d2;d3;spin;__restore_rt;handler;handler_work: through the
kernel's signal frame (its CFI in __restore_rt) back into spin, which was
interrupted at any instruction. On both backends, plain (default mode) and
with --unwind dwarf --unwind-check: >= 99% of the samples complete, the
handler's share is there (~1/6), and >= 99% agree with libdwfl."""
from cprof_test import (MAIN_PREFIX, Test, check_agreement, check_unwound, has_run,
                        starts_with, unwind_record, user_part)

CHAIN = MAIN_PREFIX + ("d1", "d2", "d3", "spin")
HANDLER = ("spin", "__restore_rt", "handler", "handler_work")


def handler_stack(u):
    return starts_with(u, CHAIN) and has_run(u, HANDLER)


def body(t):
    w = t.workload("nofp-signal")
    for backend in ("bpf", "perf"):
        for mode in ([], ["--unwind", "dwarf", "--unwind-check"]):
            label = f"{backend} {' '.join(mode) or 'default'}"
            _, f, s = unwind_record(t, ["--backend", backend, *mode, "-F", "499", "--", w, "2"],
                                    t.path(f"{backend}-{len(mode)}.folded"), label)
            p = f.of("nofp-signal")
            check_unwound(t, label, p, s, CHAIN)
            h = p.with_frame("handler_work").total()
            full = p.where(lambda st: handler_stack(user_part(st))).total()
            t.check(0.08 * p.total() <= h <= 0.35 * p.total(),
                    f"{label}: {h} of {p.total()} samples in handler_work "
                    "(want 8..35%, the handler runs ~1 ms of every 6)", p.top())
            t.check(h > 0 and full >= 0.97 * h,
                    f"{label}: {full} of the {h} handler samples are "
                    f"_start;...;main;d1;d2;d3;{';'.join(HANDLER)} (want >= 97%)",
                    p.with_frame("handler_work").top())
            if mode:
                check_agreement(t, label, s, f.total())


Test("unwind-signal").run(body)
