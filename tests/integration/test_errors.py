"""Bad PID, bad arguments, unwritable output, a command that cannot be run:
non-zero exit, exactly one line on stderr naming the offending value, and
no output file left behind."""
import os
import time

from cprof_test import Test, free_pid


def zombie():
    """A child of ours that exited and is not reaped: PID taken, nothing
    running."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    for _ in range(500):
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return pid
        time.sleep(0.01)
    raise RuntimeError(f"child {pid} did not become a zombie")


def body(t):
    hot = t.workload("hot")
    pid = free_pid()
    run_hot = ["--", hot, "0.5"]  # would succeed if the bad option passed
    zpid = zombie()
    cases = [
        # (label, args, values the line must contain[, exit status])
        ("non-existent pid", ["--pid", pid], [str(pid)]),
        ("zombie pid", ["--pid", zpid], [f"process {zpid} has exited"], 1),
        ("-d above the limit", ["-d", "1e9"] + run_hot, ["1e9", "10000000"], 2),
        ("-d too large for a double", ["-d", "1e999"] + run_hot,
         ["1e999", "10000000"], 2),
        ("-d not a number", ["-d", "soon"] + run_hot, ["soon"], 2),
        ("--format bogus", ["--format", "bogus"] + run_hot, ["bogus"], 2),
        ("unknown extension", ["-o", "x.bogus"] + run_hot, ["x.bogus"], 2),
        ("non-existent pid in a list", ["--pid", f"{os.getpid()},{pid}"],
         [str(pid)]),
        ("pid not a number", ["--pid", "12ab"], ["12ab"]),
        ("unknown option", ["--bogus"] + run_hot, ["--bogus"]),
        ("-F 0", ["-F", "0"] + run_hot, ["0"]),
        ("-F not a number", ["-F", "fast"] + run_hot, ["fast"]),
        ("-d -1", ["-d", "-1"] + run_hot, ["-1"]),
        ("--backend foo", ["--backend", "foo"] + run_hot, ["foo"]),
        ("--format foo", ["--format", "foo"] + run_hot, ["foo"]),
        ("missing value", ["--duration"], ["duration"]),
        ("missing pid value", ["--pid"], ["pid"]),
        ("command not found", ["--", "/nonexistent/cmd"], ["/nonexistent/cmd"]),
    ]
    for i, (label, args, values, *status) in enumerate(cases):
        cwd = t.path(f"case{i}")
        os.mkdir(cwd)
        # -o first, so a missing value stays at the end of the line
        r = t.record(["-o", os.path.join(cwd, "x.folded")] + args, cwd=cwd,
                     timeout=30)
        lines = r.stderr_lines()
        t.check(r.rc != 0, f"{label}: non-zero exit (got {r.rc})", r.stderr)
        if status:
            t.check(r.rc == status[0], f"{label}: exit {status[0]} "
                    f"(got {r.rc})", r.stderr)
        t.check(len(lines) == 1, f"{label}: exactly one line on stderr "
                f"(got {len(lines)})", r.stderr)
        t.check(lines and all(v in lines[0] for v in values),
                f"{label}: the line names {values}", r.stderr)
        t.check(os.listdir(cwd) == [], f"{label}: no file left behind",
                os.listdir(cwd))

    r = t.record(["-o", "/nonexistent/dir/out.folded"] + run_hot, timeout=30)
    lines = r.stderr_lines()
    t.check(r.rc != 0, f"unwritable output: non-zero exit (got {r.rc})",
            r.stderr)
    t.check(len(lines) == 1, f"unwritable output: exactly one line on stderr "
            f"(got {len(lines)})", r.stderr)
    t.check(lines and "/nonexistent/dir" in lines[0],
            "unwritable output: the line names the path", r.stderr)
    t.check(not os.path.exists("/nonexistent"), "unwritable output: nothing "
            "created")
    os.waitpid(zpid, 0)


Test("errors").run(body)
