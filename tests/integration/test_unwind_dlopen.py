"""DWARF unwinding through a library dlopen()ed after the recording started
(nofp-dlopen, which is workloads/dlopen-host.c built without frame pointers,
loads libnofpdl.so, built without them too):
its CFI comes with the new mapping, and the stacks
_start;...;main;run_library;nofp_dl_work;nofp_dl_spin must be complete.
Launched (the host sleeps 0.5 s first) on both backends, and by --pid
with the library loaded only once cprof records; with --unwind-check
>= 99% agree with libdwfl."""
import subprocess

from cprof_test import (MAIN_PREFIX, Test, UnwindSummary, check_agreement, check_unwound,
                        unwind_record)

CHAIN = MAIN_PREFIX + ("run_library", "nofp_dl_work")


def check_lib(t, label, f, s):
    p = f.of("nofp-dlopen")
    check_unwound(t, label, p, s, CHAIN)
    spin = p.with_frame("nofp_dl_spin").total()
    t.check(spin >= 0.85 * p.total(), f"{label}: {spin} of {p.total()} samples in "
            "nofp_dl_spin (want >= 85%)", p.top())


def body(t):
    lib = t.workload("libnofpdl.so")
    w = t.workload("nofp-dlopen")
    for backend in ("bpf", "perf"):
        for mode in ([], ["--unwind", "dwarf", "--unwind-check"]):
            label = f"launched, {backend} {' '.join(mode) or 'default'}"
            _, f, s = unwind_record(t, ["--backend", backend, *mode, "-F", "499", "--", w,
                                        lib, "1.5"], t.path(f"{backend}-{len(mode)}.folded"),
                                    label)
            check_lib(t, label, f, s)
            if mode:
                check_agreement(t, label, s, f.total())

    # --pid: the library is loaded only once cprof says it records
    p = t.start("nofp-dlopen", lib, "1.5", "--wait", stdin=subprocess.PIPE)
    out = t.path("pid.folded")
    rec = t.spawn_record(["--pid", p.ready_pid, "-d", "4", "-F", "499", "-o", out])
    t.wait_recording(rec)
    p.stdin.write(b"go\n")
    p.stdin.flush()
    t.require(p.lines.read(5) == "loaded", "the host loaded the library")
    _, err = rec.communicate(timeout=30)
    t.require(rec.returncode == 0, f"{' '.join(rec.cmd[2:])} exits 0", err)
    p.wait()
    s = UnwindSummary(err)
    t.require(s.line is not None, "--pid: the summary says how many user stacks are "
              "complete", err)
    check_lib(t, "--pid, dlopen after start", t.folded(out), s)


Test("unwind-dlopen").run(body)
