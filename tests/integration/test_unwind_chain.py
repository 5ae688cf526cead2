"""DWARF unwinding of a known call chain built without frame pointers
(workloads/nofp-chain.c): main -> alpha -> beta -> gamma 60% | delta 40%,
most of the time in the tiny leaves leaf_a/leaf_b whose prologues and
epilogues push and pop callee-saved registers.

On both backends, with --unwind dwarf and with the default (auto), and on
the bpf backend with --user-unwind (stack copies unwound by cprof):
at least 99% of the samples are _start;__libc_start_main;
__libc_start_call_main;main;alpha;beta;... and the summary counts at least
99% of the user stacks complete; gamma and delta have their shares; with
--unwind-check at least 99% of the samples agree with libdwfl. A sample in
a leaf's prologue or epilogue still has its caller (gamma or delta) right
above it, never a skipped or repeated frame."""
from cprof_test import (MAIN_PREFIX, Test, check_agreement, check_unwound,
                        unwind_record, user_part)

CHAIN = MAIN_PREFIX + ("alpha", "beta")
LEAF_OF = {"leaf_a": "gamma", "leaf_b": "delta"}


def leaf_parent_ok(u):
    """A leaf's caller is its own phase function, right above it"""
    for i, x in enumerate(u):
        if x in LEAF_OF and (i == 0 or u[i - 1] != LEAF_OF[x]):
            return False
    return True


def check_chain(t, label, f, s):
    p = f.of("nofp-chain")
    t.check(set(f.procs()) == {"nofp-chain"}, f"{label}: process frame "
            "'nofp-chain'", f.procs())
    check_unwound(t, label, p, s, CHAIN,
                  extra=lambda u: len(u) > len(CHAIN) and
                  u[len(CHAIN)] in ("gamma", "delta") and leaf_parent_ok(u))
    t.share_within(p.share("gamma"), 0.60, 0.08, f"{label}: gamma share", p.top())
    t.share_within(p.share("delta"), 0.40, 0.08, f"{label}: delta share", p.top())
    # samples in the leaves are most of the time; many of them are in a
    # push or pop (the leaves are mostly prologue and epilogue)
    leaves = p.where(lambda st: user_part(st)[-1:] in (("leaf_a",), ("leaf_b",)))
    t.check(leaves.total() >= 0.5 * p.total(),
            f"{label}: {leaves.total()} of {p.total()} samples end in leaf_a or "
            "leaf_b (want >= 50%)", p.top())


def body(t):
    w = t.workload("nofp-chain")
    for backend in ("bpf", "perf"):
        # bpf: in the kernel by default, from stack copies with --user-unwind
        extra = [["--user-unwind"]] if backend == "bpf" else []
        for mode in [["--unwind", "dwarf"], []] + extra:
            label = f"{backend} {' '.join(mode) or 'default (auto)'}"
            _, f, s = unwind_record(
                t, ["--backend", backend, *mode, "-F", "499", "--", w, "2"],
                t.path(f"{backend}-{'-'.join(mode)}.folded"), label)
            check_chain(t, label, f, s)
        label = f"{backend} --unwind-check"
        _, f, s = unwind_record(
            t, ["--backend", backend, "--unwind", "dwarf", "--unwind-check", "-F", "499",
                "--", w, "2"], t.path(f"{backend}-check.folded"), label)
        check_chain(t, label, f, s)
        check_agreement(t, label, s, f.total())


Test("unwind-chain").run(body)
