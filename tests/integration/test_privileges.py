"""Without privileges (run as user nobody, no capabilities): a command of
one's own is still profiled in user mode, with a notice naming the missing
privilege, as perf does under kernel.perf_event_paranoid=2; what cannot be
done (kernel frames only, another user's process) gets one line naming the
privilege, a non-zero exit and no file left behind."""
import os
import shutil
import subprocess
import tempfile

from cprof_test import Test

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
          "--inh-caps=-all", "--bounding-set=-all"]


def body(t):
    t.require(os.geteuid() == 0, "runs as root (to drop to nobody)")
    t.require(shutil.which("setpriv") is not None, "setpriv (util-linux) present")
    # nobody cannot enter the test's private directories: work in an open one
    d = tempfile.mkdtemp(prefix="cprof-nobody-")
    try:
        os.chmod(d, 0o777)
        cprof = os.path.join(d, "cprof")
        shutil.copy(t.cprof, cprof)
        os.chmod(cprof, 0o755)
        hot = os.path.join(d, "hot")
        shutil.copy(t.workload("hot"), hot)
        os.chmod(hot, 0o755)
        out = os.path.join(d, "user.folded")
        p = subprocess.run(NOBODY + [cprof, "record", "-F", "499", "-o", out,
                                     "--", hot, "1"],
                           cwd=d, capture_output=True, text=True, timeout=30)
        t.check(p.returncode == 0, "own command as nobody: recorded "
                f"(exit {p.returncode})", p.stderr)
        t.check("perf_event_paranoid" in p.stderr and "user frames only" in p.stderr,
                "own command as nobody: a notice names the sysctl", p.stderr)
        if os.path.exists(out):
            f = t.folded(out)
            t.check(f.of("hot").with_frame("hot_a").total() > 0,
                    "own command as nobody: hot_a sampled", f.top())
            t.check(not any(fr.endswith("_[k]") for fr in f.frames()),
                    "own command as nobody: no kernel frames", f.top())
            os.unlink(out)

        w = t.start("hot", 3)
        cases = [
            ("kernel frames only", ["-o", os.path.join(d, "a.folded"), "-d", "1",
                                    "--kernel-only", "--", hot, "1"],
             ["perf_event_paranoid", "CAP_PERFMON"]),
            ("root's process", ["-o", os.path.join(d, "b.folded"), "-d", "1",
                                "--pid", str(w.ready_pid)],
             [str(w.ready_pid), "CAP_SYS_PTRACE"]),
        ]
        for label, args, words in cases:
            p = subprocess.run(NOBODY + [cprof, "record"] + args, cwd=d,
                               capture_output=True, text=True, timeout=30)
            lines = [l for l in p.stderr.splitlines() if l.strip()]
            t.check(p.returncode != 0, f"{label}: non-zero exit "
                    f"(got {p.returncode})", p.stderr)
            t.check(len(lines) == 1, f"{label}: exactly one line on stderr "
                    f"(got {len(lines)})", p.stderr)
            t.check(lines and all(x in lines[0] for x in words),
                    f"{label}: the line names {words}", p.stderr)
            t.check(sorted(os.listdir(d)) == ["cprof", "hot"],
                    f"{label}: no file left behind", os.listdir(d))
    finally:
        shutil.rmtree(d, ignore_errors=True)


Test("privileges").run(body)
