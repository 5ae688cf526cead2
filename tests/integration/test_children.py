"""Children: a launched command's forked and exec'd children are sampled
under their own process names (a short-lived one too); --no-children
samples the parent only; --pid with --children follows them as well."""
import subprocess

from cprof_test import Test

# process name -> a frame that must appear under it
CHILDREN = {"fk-noexec": "child_spin", "hot": "hot_a",
            "syscalls": "spin_getppid"}
MIN_SAMPLES = 30  # each child runs >= 0.25 s of CPU; at 999 Hz that is ~250


def check_children(t, f, label):
    procs = f.procs()
    par = f.of("forker")
    t.check(par.with_frame("parent_spin").total() >= MIN_SAMPLES,
            f"{label}: parent_spin under 'forker' "
            f"({par.with_frame('parent_spin').total()} samples)", f.top())
    for name, frame in CHILDREN.items():
        n = f.of(name).with_frame(frame).total()
        t.check(n >= MIN_SAMPLES, f"{label}: {frame} under process '{name}' "
                f"({n} samples, want >= {MIN_SAMPLES})",
                f"process frames: {procs}\n{f.top()}")
    # a child's code never shows up under the parent's name once it has
    # its own (a few samples between fork and prctl/exec are fine)
    for frame in ("child_spin", "hot_a", "spin_getppid"):
        n = par.with_frame(frame).total()
        t.check(n <= 5, f"{label}: {frame} under 'forker' {n} times (max 5)")


def body(t):
    r, f = t.record_ok(["-F", "999", "--", t.workload("forker")],
                       t.path("children.folded"))
    check_children(t, f, "launched")

    r, f = t.record_ok(["-F", "999", "--no-children", "--",
                        t.workload("forker")], t.path("nochildren.folded"))
    t.check(set(f.procs()) == {"forker"},
            "--no-children: only the process 'forker'", f.procs())
    t.check(f.with_frame("parent_spin").total() >= MIN_SAMPLES,
            "--no-children: parent_spin sampled", f.top())
    for frame in ("child_spin", "hot_a", "hot_b", "spin_getppid", "spin_read"):
        t.check(f.with_frame(frame).total() == 0,
                f"--no-children: no {frame}", f.top())

    w = t.start("forker", "--wait", stdin=subprocess.PIPE)
    p = t.spawn_record(["--pid", w.ready_pid, "--children", "-F", "999",
                        "-d", "30", "-o", t.path("pid.folded")])
    t.wait_recording(p)  # attached before the forks start
    w.stdin.write(b"go\n")
    t.require(w.wait(timeout=20) == 0, "forker --wait exits 0")
    _, err = p.communicate(timeout=20)
    t.require(p.returncode == 0, "--pid --children: cprof exits 0 when the "
              "target and its children are gone", err)
    check_children(t, t.folded(t.path("pid.folded")), "--pid --children")


Test("children").run(body)
