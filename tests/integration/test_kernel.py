"""Kernel frames: the syscalls workload yields `_[k]` frames including a
syscall entry, above intact user stacks; --user-only drops them all;
--kernel-only keeps nothing but the process frame and kernel frames."""
from cprof_test import Test, kill_and_wait, is_kernel


def body(t):
    w = t.start("syscalls")
    common = ["--pid", w.ready_pid, "-d", "2.5", "-F", "499"]
    runs = {}
    for name, extra in (("default", []), ("user", ["--user-only"]),
                        ("kernel", ["--kernel-only"])):
        runs[name] = t.spawn_record(common + extra +
                                    ["-o", t.path(name + ".folded")])
    for name, p in runs.items():
        _, err = p.communicate(timeout=30)
        t.require(p.returncode == 0, f"{' '.join(p.cmd[2:])} exits 0", err)
    kill_and_wait(w)

    f = t.folded(t.path("default.folded"))
    kern = f.where(lambda s: any(is_kernel(x) for x in s))
    t.check(kern.total() >= 0.3 * f.total(),
            f"default: {kern.total()} of {f.total()} samples have kernel "
            f"frames (want >= 30%)", f.top())
    kframes = {x for s, _ in kern.stacks for x in s if is_kernel(x)}
    t.check(any("syscall" in x.lower() for x in kframes),
            "default: a kernel frame names the syscall entry",
            sorted(kframes)[:40])
    # kernel frames sit on top of user frames, never below them
    mixed = [s for s, _ in f.stacks
             if any(not is_kernel(x) and any(is_kernel(y) for y in s[1:i])
                    for i, x in enumerate(s) if i > 0)]
    t.check(not mixed, "default: no user frame above a kernel frame",
            "\n".join(";".join(s) for s in mixed[:5]))
    # the user part under the kernel frames is the full user stack
    for leaf in ("spin_getppid", "spin_read"):
        st = kern.with_frame(leaf)
        good = st.where(lambda s: s[0] == "syscalls" and
                        "main;run;" + leaf + ";" in ";".join(s)).total()
        t.check(st.total() > 0 and good >= 0.97 * st.total(),
                f"default: {good} of {st.total()} kernel samples in {leaf} "
                f"have main;run;{leaf} below the kernel frames", st.top())

    f = t.folded(t.path("user.folded"))
    k = sorted({x for s, _ in f.stacks for x in s if is_kernel(x)})
    t.check(not k, "--user-only: no kernel frames", k[:20])
    t.check(f.with_frame("spin_getppid").total() > 0 and
            f.with_frame("spin_read").total() > 0,
            "--user-only: spin_getppid and spin_read sampled", f.top())

    f = t.folded(t.path("kernel.folded"))
    user = sorted({x for s, _ in f.stacks for x in s[1:] if not is_kernel(x)})
    t.check(not user, "--kernel-only: no user frames after the process frame",
            user[:20])
    t.check(set(f.procs()) == {"syscalls"}, "--kernel-only: process frame "
            "'syscalls'", f.procs())
    kframes = {x for s, _ in f.stacks for x in s if is_kernel(x)}
    t.check(any("syscall" in x.lower() for x in kframes),
            "--kernel-only: a kernel frame names the syscall entry",
            sorted(kframes)[:40])


Test("kernel").run(body)
