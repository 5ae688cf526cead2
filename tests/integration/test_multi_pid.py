"""Several --pid (repeated and as a list): every process is sampled under
its own name, and the recording ends when the last of them exits."""
from cprof_test import Test


def body(t):
    for label, form in (("repeated --pid", "repeat"), ("--pid A,B", "list")):
        hot = t.start("hot", 2)
        sys_ = t.start("syscalls", 4)
        if form == "repeat":
            args = ["--pid", hot.ready_pid, "--pid", sys_.ready_pid]
        else:
            args = ["--pid", f"{hot.ready_pid},{sys_.ready_pid}"]
        r, f = t.record_ok(args + ["-d", "30", "-F", "499"],
                           t.path(f"{form}.folded"), timeout=40)
        t.check(f.of("hot").with_frame("hot_a").total() > 0,
                f"{label}: hot_a under process 'hot'", f.top())
        t.check(f.of("syscalls").with_frame("spin_getppid").total() > 0,
                f"{label}: spin_getppid under process 'syscalls'", f.top())
        t.check(set(f.procs()) <= {"hot", "syscalls"},
                f"{label}: no other process", f.procs())
        # the later target runs twice as long: cprof must outlive the first
        t.check(f.of("syscalls").total() > f.of("hot").total() * 1.2,
                f"{label}: sampling went on after the first target exited",
                {p: f.of(p).total() for p in f.procs()})
        t.check(r.elapsed < 20, f"{label}: ended when the last target "
                f"exited ({r.elapsed:.1f} s, -d 30)")


Test("multi-pid").run(body)
