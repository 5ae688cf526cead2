"""Bad PID, bad arguments, unwritable output, a command that cannot be run:
non-zero exit, exactly one line on stderr naming the offending value, and
no output file left behind."""
import os

from cprof_test import Test, free_pid


def body(t):
    hot = t.workload("hot")
    pid = free_pid()
    run_hot = ["--", hot, "0.5"]  # would succeed if the bad option passed
    cases = [
        # (label, args, values the line must contain)
        ("non-existent pid", ["--pid", pid], [str(pid)]),
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
    for i, (label, args, values) in enumerate(cases):
        cwd = t.path(f"case{i}")
        os.mkdir(cwd)
        # -o first, so a missing value stays at the end of the line
        r = t.record(["-o", os.path.join(cwd, "x.folded")] + args, cwd=cwd,
                     timeout=30)
        lines = r.stderr_lines()
        t.check(r.rc != 0, f"{label}: non-zero exit (got {r.rc})", r.stderr)
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


Test("errors").run(body)
