"""Named stack roots: with libc6-dbg installed, libc's local functions are
named from its debug file (found by build-id under /usr/lib/debug), so a
main thread's stacks, unwound with CFI, start
hot;_start;__libc_start_main;__libc_start_call_main;main and a worker
thread's start at start_thread (or clone3 when the walk reaches it), and
no frame anywhere is an unnamed libc address."""
import re
import subprocess

from cprof_test import Test, kill_and_wait

UNNAMED_LIBC = re.compile(r"\[libc\.so\.6(\+0x[0-9a-f]+)?\]")


def no_unnamed_libc(t, f, r, label):
    bad = [f"{';'.join(s)} {c}" for s, c in f.stacks
           if any(UNNAMED_LIBC.fullmatch(x) for x in s)]
    t.check(not bad, f"{label}: no [libc.so.6...] frame", "\n".join(bad[:10]))
    missing = [l for l in r.stderr_lines() if "without symbols" in l]
    t.check(not any("libc.so.6" in l for l in missing),
            f"{label}: the summary does not list libc.so.6 as lacking "
            "symbols", r.stderr)


def body(t):
    t.require(subprocess.run(["dpkg", "-s", "libc6-dbg"],
                             capture_output=True).returncode == 0,
              "libc6-dbg is installed")

    r, f = t.record_ok(["-F", "499", "--", t.workload("hot"), "2"],
                       t.path("hot.folded"))
    no_unnamed_libc(t, f, r, "hot")
    through_main = f.with_frame("main")
    t.check(through_main.total() >= 0.97 * f.total(),
            f"hot: {through_main.total()} of {f.total()} samples through main",
            f.top())
    root = ("_start", "__libc_start_main", "__libc_start_call_main", "main")
    bad = [f"{';'.join(s)} {c}" for s, c in through_main.stacks
           if s[1:5] != root]
    t.check(not bad, "hot: every stack through main starts "
            f"hot;{';'.join(root)}", "\n".join(bad[:10]))

    w = t.start("threads", 2, 0, 0)
    r, f = t.record_ok(["--pid", w.ready_pid, "-d", "2", "-F", "499"],
                       t.path("threads.folded"))
    kill_and_wait(w)
    no_unnamed_libc(t, f, r, "threads")
    workers = f.with_frame("worker_main")
    t.check(workers.total() >= 0.9 * f.total(),
            f"threads: {workers.total()} of {f.total()} samples in workers",
            f.top())
    bad = [f"{';'.join(s)} {c}" for s, c in workers.stacks
           if not (s[1] == "start_thread" or
                   (s[1] == "clone3" and s[2] == "start_thread"))]
    t.check(not bad, "threads: every worker stack starts "
            "threads;start_thread or threads;clone3;start_thread",
            "\n".join(bad[:10]))
    bad = [f"{';'.join(s)} {c}" for s, c in workers.stacks
           if s[s.index("worker_main") - 1] != "start_thread"]
    t.check(not bad, "threads: worker_main sits on start_thread",
            "\n".join(bad[:10]))

    # --addrs changes only frames without a name: libc has none of those
    r, f = t.record_ok(["-F", "499", "--addrs", "--", t.workload("hot"), "1"],
                       t.path("addrs.folded"))
    no_unnamed_libc(t, f, r, "hot --addrs")


Test("names").run(body)
