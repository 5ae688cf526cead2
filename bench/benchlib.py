"""Helpers shared by the benches (bench-record.py, bench-duration.py,
bench-unwind.py): fixed-work workloads that report their own time, the
profiler's CPU time through /usr/bin/time, and what a perf.data holds."""

import argparse
import os
import re
import subprocess
import sys
import time

TIME_FMT = "%U %S %M"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def arg_parser(doc, seconds, seconds_help):
    """The options every fixed-work bench has: --build, --runs, --seconds."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"),
                    help="meson build directory (default: build)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=seconds,
                    help=seconds_help)
    return ap


def start_workload(argv, name):
    """Starts a workload that prints "NAME: ready pid N" and waits for a
    line on stdin before its work (hot --wait, unwind-work --wait)."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, bufsize=1)
    line = p.stdout.readline()
    if not line.startswith(f"{name}: ready pid "):
        sys.exit(f"{name} did not start: {line!r}")
    return p


def finish_workload(p):
    """Lets the work start; returns its wall and CPU seconds as the
    workload printed them ("elapsed S cpu S"), and when it exited."""
    p.stdin.write("go\n")
    p.stdin.flush()
    out = p.stdout.read()
    p.wait()
    t_end = time.monotonic()
    for line in out.splitlines():
        w = line.split()
        if len(w) == 4 and w[0] == "elapsed" and w[2] == "cpu":
            return float(w[1]), float(w[3]), t_end
    sys.exit(f"the workload printed no elapsed time: {out!r}")


def calibrate(measure, seconds, n=2000, enough=0.5):
    """Work units for about `seconds` of what measure(units) returns
    (seconds), growing the trial until it takes at least `enough`."""
    while True:
        r = measure(n)
        if r >= enough:
            return max(100, int(n * seconds / r))
        n *= 4


def timed(cmd, tf, **kw):
    """cmd under /usr/bin/time, which writes TIME_FMT to the file tf."""
    return subprocess.Popen(["/usr/bin/time", "-f", TIME_FMT, "-o", tf] + cmd,
                            **kw)


def read_time(path):
    """(user+sys CPU seconds, peak RSS MB) from a timed() run."""
    with open(path) as f:
        u, s, m = f.read().split()[-3:]
    return float(u) + float(s), int(m) / 1024.0


def perf_samples(data):
    """Samples in a perf.data, one `perf script -F tid` line each (a
    collapsed profile may weight stacks by period instead)."""
    r = subprocess.run(["perf", "script", "-i", data, "-F", "tid"],
                       capture_output=True, text=True)
    return sum(1 for line in r.stdout.splitlines() if line.strip())


def perf_stats(data):
    """The event counts of `perf report --stats`: its aggregated section
    ("LOST events: 3" gives {"LOST": 3}; an event type that did not occur
    is not listed), and the per-event sections summed (where perf 6.x puts
    LOST_SAMPLES: the samples the kernel dropped, counted by the kernel)."""
    r = subprocess.run(["perf", "report", "-i", data, "--stats"],
                       capture_output=True, text=True)
    agg, per_event, cur = {}, {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"\s*(\w+) events:\s+(\d+)", line)
        if m and cur is not None:
            cur[m.group(1)] = cur.get(m.group(1), 0) + int(m.group(2))
        elif line.startswith("Aggregated stats:"):
            cur = agg
        elif line.rstrip().endswith(" stats:"):
            cur = per_event
    return agg, per_event


def perf_version():
    r = subprocess.run(["perf", "--version"], capture_output=True, text=True)
    return r.stdout.strip()


def cprof_version(cprof):
    try:
        r = subprocess.run([cprof, "--version"], capture_output=True,
                           text=True)
    except OSError:
        return "?"
    return r.stdout.strip().split()[-1] if r.returncode == 0 else "?"
