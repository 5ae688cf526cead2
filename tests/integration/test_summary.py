"""Default output file, the summary on stderr, -q, --help, --version."""
import os
import re

from cprof_test import Test, kill_and_wait


def body(t):
    w = t.start("hot")
    cwd = t.path("default")
    os.mkdir(cwd)
    r = t.record(["--pid", w.ready_pid, "-d", "1", "-F", "199"], cwd=cwd)
    t.check(r.rc == 0, f"without -o: exit 0 (got {r.rc})", r.stderr)
    t.check(os.listdir(cwd) == ["out.folded"], "without -o: writes "
            "out.folded in the current directory", os.listdir(cwd))
    f = t.folded(os.path.join(cwd, "out.folded"))
    err = r.stderr.lower()
    t.check("out.folded" in err, "summary names the output file", r.stderr)
    for word in ("sample", "lost", "stack"):
        t.check(word in err, f"summary mentions '{word}'", r.stderr)
    t.check(str(f.total()) in r.stderr, f"summary gives the sample count "
            f"{f.total()}", r.stderr)

    r = t.record(["--pid", w.ready_pid, "-d", "1", "-q", "-o",
                  t.path("quiet.folded")])
    t.check(r.rc == 0 and os.path.exists(t.path("quiet.folded")),
            "-q: exit 0 and file written", r.stderr)
    t.check(r.stderr == "" and r.stdout == "", "-q: nothing on stdout or "
            "stderr", r.stderr + r.stdout)
    kill_and_wait(w)

    r = t.record(["--help"])
    t.check(r.rc == 0 and all(o in r.stdout for o in
                              ("--pid", "--duration", "--frequency", "--output",
                               "--threads", "--backend")),
            "--help: exit 0, lists the options on stdout", r.stdout + r.stderr)
    r = t.record(["--version"])
    t.check(r.rc == 0 and re.search(r"\d+\.\d+", r.stdout),
            "--version: exit 0 and a version", r.stdout + r.stderr)


Test("summary").run(body)
