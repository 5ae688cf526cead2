"""A process mixing code with CFI and frame-pointer code without it
(workloads/nofp-mixed.c): main -> caller -> jit_stub (8 bytes of
push rbp; mov rbp,rsp; call *rdi; pop rbp; ret in an anonymous RWX
mapping, named by /tmp/perf-PID.map) -> hot_c (no frame pointer).

- --unwind auto (and the default) on both backends: CFI out of hot_c,
  the stub's frame pointer out of the stub, CFI again from caller:
  _start;...;main;caller;jit_stub_[j];hot_c, complete (>= 99%); with
  --unwind-check >= 99% agree with libdwfl.
- --unwind dwarf: the stub has no CFI, so the stacks stop there:
  nofp-mixed;[truncated];...;jit_stub_[j];hot_c, main never reached, and
  the summary counts them under 'no CFI'."""
import os

from cprof_test import (MAIN_PREFIX, Test, check_agreement, check_unwound, has_run,
                        is_truncated, unwind_record, user_part)

CHAIN = MAIN_PREFIX + ("caller", "jit_stub_[j]", "hot_c")


def body(t):
    p = t.start("nofp-mixed", "0")
    pid = p.ready_pid
    try:
        for backend in ("bpf", "perf"):
            for mode in ([], ["--unwind", "auto", "--unwind-check"]):
                label = f"{backend} {' '.join(mode) or 'default'}"
                _, f, s = unwind_record(t, ["--backend", backend, *mode, "-F", "499", "-d",
                                            "2", "--pid", pid],
                                        t.path(f"{backend}-{len(mode)}.folded"), label)
                check_unwound(t, label, f, s, CHAIN)
                if mode:
                    check_agreement(t, label, s, f.total())

            label = f"{backend} --unwind dwarf"
            _, f, s = unwind_record(t, ["--backend", backend, "--unwind", "dwarf", "-F",
                                        "499", "-d", "2", "--pid", pid],
                                    t.path(f"{backend}-dwarf.folded"), label)
            hot = f.with_frame("hot_c")
            cut = hot.where(lambda st: is_truncated(st) and
                            has_run(user_part(st), ("jit_stub_[j]", "hot_c")) and
                            user_part(st)[0] == "jit_stub_[j]").total()
            t.check(hot.total() >= 0.9 * f.total() and cut >= 0.97 * hot.total(),
                    f"{label}: {cut} of {hot.total()} hot_c samples are "
                    "nofp-mixed;[truncated];jit_stub_[j];hot_c (want >= 97%)", f.top())
            past = f.where(lambda st: "hot_c" in st and ("main" in st or "caller" in st))
            t.check(past.total() == 0, f"{label}: no hot_c stack gets past the stub "
                    f"to caller or main ({past.total()})", past.top())
            t.check(s.total and s.cut("no CFI") >= 0.9 * s.total,
                    f"{label}: summary counts {s.cut('no CFI')} of {s.total} stacks "
                    "under 'no CFI' (want >= 90%)", s.line)
    finally:
        p.kill()
        p.wait()
        try:
            os.unlink(f"/tmp/perf-{pid}.map")
        except FileNotFoundError:
            pass


Test("unwind-mixed").run(body)
