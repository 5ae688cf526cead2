"""A launched command runs in a process group of its own, and the whole
group is stopped when the recording ends: children of a stopped command do
not run on (SIGTERM first, SIGKILL 2 s later for a command that ignores
SIGTERM). Without a terminal (CI): nothing to hand over."""
import os
import shutil
import signal
import time

from cprof_test import Test


def running(path):
    """PIDs of live processes whose executable is path."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{d}/exe") != path:
                continue
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in "ZX":
            pids.append(int(d))
    return pids


def kill_all(path):
    for pid in running(path):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def body(t):
    # a copy of hot under a name of this test's own, to find its processes
    spin = t.path("pgspin")
    shutil.copy(t.workload("hot"), spin)
    try:
        cases(t, spin)
    finally:
        kill_all(spin)


def cases(t, spin):
    out = t.path("own-group.txt")
    r = t.record(["-o", t.path("own.folded"), "--", "sh", "-c",
                  f"cat /proc/$$/stat > {out}"])
    with open(out) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    t.check(int(fields[2]) != os.getpgrp() and int(fields[2]) == int(
        open(out).read().split()[0]), "the command leads a process group of "
        f"its own (pgrp {fields[2]})")

    r = t.record(["-d", "1", "-o", t.path("sh.folded"), "--", "sh", "-c",
                  f"{spin} 300 >/dev/null 2>&1; echo done"])
    t.check(r.rc == 0, f"-d 1 -- sh -c 'spin 300; echo done': exit 0 (got {r.rc})",
            r.stderr)
    time.sleep(0.2)
    left = running(spin)
    t.check(not left, f"no spin left running after the recording (found {left})")
    t.check("done" not in r.stdout, "sh was stopped too (no 'done')", r.stdout)
    kill_all(spin)

    # everything ignores SIGTERM: the group is killed 2 s after it
    r = t.record(["-d", "1", "-o", t.path("ignore.folded"), "--", "sh", "-c",
                  f"trap '' TERM; {spin} 300 >/dev/null 2>&1 & {spin} 300 >/dev/null 2>&1 & wait"])
    t.check(r.rc == 0, f"a SIGTERM-ignoring command with children: exit 0 "
            f"(got {r.rc})", r.stderr)
    t.check(r.elapsed <= 1 + 2.5 + 1.0, f"...ended {r.elapsed:.1f} s after the "
            "start (-d 1, then at most 2 s of grace; max 4.5 with slack)")
    left = running(spin)
    t.check(not left, f"...its children were killed too (found {left})")
    f = t.folded(t.path("ignore.folded"))
    t.check(f.total() > 0, "...and the profile was written")
    kill_all(spin)

    # SIGINT to cprof (no terminal: it does not reach the command)
    p = t.spawn_record(["-o", t.path("int.folded"), "--", "sh", "-c",
                        f"{spin} 300 >/dev/null 2>&1; echo done"])
    t.wait_recording(p)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    so, err = p.communicate(timeout=20)
    t.check(p.returncode == 0, f"SIGINT to cprof: exit 0 (got {p.returncode})",
            err)
    time.sleep(0.2)
    left = running(spin)
    t.check(not left, f"SIGINT to cprof: no spin left running (found {left})")
    kill_all(spin)

    # the command exits by itself and leaves a child behind in its group
    r = t.record(["-o", t.path("bg.folded"), "--", "sh", "-c",
                  f"{spin} 300 >/dev/null 2>&1 & sleep 0.5; exit 4"])
    t.check(r.rc == 4, f"a command exiting 4 with a child left: exit 4 "
            f"(got {r.rc})", r.stderr)
    time.sleep(0.2)
    left = running(spin)
    t.check(not left, f"the child it left in its group was stopped (found {left})")


Test("process-group").run(body)
