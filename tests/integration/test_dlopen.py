"""A library dlopen()ed after the recording started is named: the
dlopen-host workload loads libdlhot.so (dlopen-lib.c) once cprof runs and
spins in it, and its frames are dl_work (exported) and dl_spin (static:
only the library's .symtab or DWARF names it), never [unknown] or
[libdlhot.so...]. The host dlclose()s the library and exits before the
recording ends, so the names cannot come from the maps as they are then."""
import re
import subprocess

from cprof_test import Test, is_kernel

UNNAMED = re.compile(r"\[unknown\]|\[libdlhot\.so(\+0x[0-9a-f]+)?\]")
CHAIN = ("main", "run_library", "dl_work", "dl_spin")


def check_lib(t, f, label):
    t.check(set(f.procs()) == {"dlopen-host"},
            f"{label}: process frame 'dlopen-host'", f.procs())
    # the library's code runs below run_library; elsewhere a frame-pointer
    # walk out of libc (which keeps none) may end in [unknown], which is
    # not the library's business
    unnamed = [f"{';'.join(s)} {c}" for s, c in f.stacks
               if any(UNNAMED.fullmatch(x) and ("libdlhot" in x or
                                                "run_library" in s[:i])
                      for i, x in enumerate(s))]
    t.check(not unnamed, f"{label}: no [libdlhot.so] frame, and no [unknown] "
            "below run_library", "\n".join(unnamed[:10]))
    spin = f.where(lambda s: [x for x in s if not is_kernel(x)][-1] ==
                   "dl_spin")
    t.check(spin.total() >= 0.85 * f.total(),
            f"{label}: dl_spin is the leaf of {spin.total()} of {f.total()} "
            "samples (want >= 85%)", f.top())
    # a sample in dl_spin's prologue, before its frame is set up, skips
    # its caller in a frame-pointer walk (CFI unwinding is issue 11): a
    # few such stacks are allowed
    bad = [(s, c) for s, c in spin.stacks
           if tuple(x for x in s if not is_kernel(x))[-4:] != CHAIN]
    nbad = sum(c for _, c in bad)
    t.check(nbad <= max(2, 0.03 * spin.total()),
            f"{label}: ...;{';'.join(CHAIN)} (the library's frames below the "
            f"host's) in all but {nbad} of {spin.total()} samples (want <= 3%)",
            "\n".join(f"{';'.join(s)} {c}" for s, c in bad[:10]))


def body(t):
    lib = t.workload("libdlhot.so")
    # launched: the host sleeps 0.5 s before dlopen, while cprof records
    _, f = t.record_ok(["-F", "499", "--", t.workload("dlopen-host"), lib,
                        "1.5"], t.path("launched.folded"))
    check_lib(t, f, "launched")

    # --pid: the library is loaded only once cprof says it records
    w = t.start("dlopen-host", lib, "1.5", "--wait",
                stdin=subprocess.PIPE)
    rec = t.spawn_record(["--pid", w.ready_pid, "-d", "3", "-F", "499",
                          "-o", t.path("pid.folded")])
    t.wait_recording(rec)
    w.stdin.write(b"go\n")
    w.stdin.flush()
    t.require(w.lines.read(5) == "loaded", "the host loaded the library")
    t.require(w.lines.read(10) == "unloaded", "the host unloaded the library")
    _, err = rec.communicate(timeout=30)
    t.require(rec.returncode == 0, f"{' '.join(rec.cmd[2:])} exits 0", err)
    w.wait()
    check_lib(t, t.folded(t.path("pid.folded")), "--pid, dlopen after start")


Test("dlopen").run(body)
