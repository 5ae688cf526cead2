"""Exit status of `cprof record`, as its --help tables it: a launched
command that ends by itself passes its status on (128+N for signal N);
a command cprof ended (duration, SIGINT/SIGTERM to cprof) gives 0 once the
profile is written; cprof's own failure gives 1 whatever the command did."""
import os
import re
import signal
import time

from cprof_test import Test


def body(t):
    hot = t.workload("hot")

    r, f = t.record_ok(["-F", "499", "--", hot, "0.5"],
                       t.path("status0.folded"))
    t.check(not re.search(r"exited with status [1-9]", r.stderr),
            "a command exiting 0 is not reported as failing", r.stderr)

    out = t.path("status3.folded")
    r = t.record(["-F", "499", "-o", out, "--", hot, "1", "3"])
    t.check(r.rc == 3, f"hot exiting 3: cprof exits 3 (got {r.rc})", r.stderr)
    t.check(re.search(r"exited with status 3\b", r.stderr),
            "stderr says the command 'exited with status 3'", r.stderr)
    f = t.folded(out)
    t.check(f.of("hot").with_frame("hot_a").total() > 0,
            "the profile of a command exiting 3 has hot_a", f.top())

    out = t.path("sh3.folded")
    r = t.record(["-o", out, "--", "sh", "-c", "exit 3"])
    t.check(r.rc == 3, f"sh -c 'exit 3': cprof exits 3 (got {r.rc})", r.stderr)
    t.check(os.path.exists(out), "sh -c 'exit 3': the (empty) profile is "
            "written", r.stderr)

    out = t.path("usr1.folded")
    r = t.record(["-o", out, "--", "sh", "-c", "kill -USR1 $$"])
    t.check(r.rc == 128 + signal.SIGUSR1, f"a command killed by SIGUSR1: "
            f"cprof exits {128 + signal.SIGUSR1} (got {r.rc})", r.stderr)

    out = t.path("duration.folded")
    r = t.record(["-d", "0.7", "-o", out, "--", hot, "0", "5"])
    t.check(r.rc == 0, f"a command ended by --duration: exit 0 (got {r.rc})",
            r.stderr)
    t.folded(out)

    for sig in (signal.SIGINT, signal.SIGTERM):
        out = t.path(f"{sig.name}.folded")
        p = t.spawn_record(["-o", out, "--", hot, "0", "5"])
        t.wait_recording(p)
        time.sleep(0.7)
        p.send_signal(sig)
        _, err = p.communicate(timeout=20)
        t.check(p.returncode == 0, f"a command ended by {sig.name} to cprof: "
                f"exit 0 (got {p.returncode})", err)
        t.folded(out)

    # cprof's own failure wins over the command's status: the command runs
    # and exits 3, but the profile cannot be written
    r = t.record(["--format", "folded", "-o", "/dev/full", "--", hot, "0.5",
                  "3"])
    t.check(r.rc == 1, f"profile not written (/dev/full), command exited 3: "
            f"exit 1 (got {r.rc})", r.stderr)
    t.check("No space left" in r.stderr or "/dev/full" in r.stderr,
            "the error names the failed write", r.stderr)

    r = t.record(["--help"])
    t.check(r.rc == 0 and "Exit status" in r.stdout and "128+" in r.stdout,
            "--help tables the exit status", r.stdout)


Test("exit-status").run(body)
