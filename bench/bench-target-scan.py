#!/usr/bin/env python3
"""The cost of one target scan (target_matcher_scan, src/target/match.c):
what cprofd pays about once a second to find its targets' processes.

    ninja -C build && bench/bench-target-scan.py --build build [--extra 1000] [--scans 50] [--runs 3]

For each kind of match, bench/scan-driver scans /proc --scans times and
reports its own CPU time (user + system) per scan; the figure is the median
of --runs runs. Two machines' worth of processes: this machine as it is,
and with --extra idle processes more (children of the driver, paused, so
they cost nothing while it measures). Most matches are chosen to match
(almost) nothing, as a real target would among many processes: the cost is
in looking, not in the callback. "cgroup, all in" puts the extra processes
in 200 cgroups below the matched one (a service with many workers: every
one is reported); "unit, 200 cg" spreads them over 200 cgroups that a
systemd-unit match must walk (a systemd host has a few hundred). "% core at 1 Hz" is the CPU time of one
scan a second as a share of one core, to hold against the daemon's 1%
budget.

Needs root only for the exe match over other users' processes (without
it those fail their access check quickly and are skipped)."""
import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (name, matches, cgroups the extra processes are spread over)
MATCHES = [
    ("comm", ["comm=cpm-nothing"], 0),
    ("cgroup", ["cgroup=/cpm-nothing"], 0),
    ("cgroup, all in", ["cgroup=/cprof-bench-%p"], 200),
    ("systemd-unit", ["systemd-unit=cpm-nothing.service"], 0),
    ("unit, 200 cg", ["systemd-unit=cpm-nothing.service"], 200),
    ("exe", ["exe=/bin/sleep"], 0),
    ("comm + cgroup", ["comm=cpm-nothing", "cgroup=/cpm-nothing"], 0),
    ("all", ["all=yes"], 0),
    ("pid", ["pid=1"], 0),
]


def run(driver, extra, cgroups, scans, argv):
    out = subprocess.run([driver, "--spawn", str(extra), "--cgroups", str(cgroups), "--scans", str(scans)] + argv,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bench-target-scan: scan-driver failed: {out.stderr.strip()}")
    w = out.stdout.split()
    f = dict(zip(w[0::2], w[1::2]))
    return int(f["processes"]), int(f["matched"]), float(f["cpu_us"]), float(f["wall_us"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--extra", type=int, default=1000, help="idle processes added for the second column")
    ap.add_argument("--scans", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    driver = os.path.join(args.build, "bench", "scan-driver")
    if not os.access(driver, os.X_OK):
        sys.exit(f"bench-target-scan: no '{driver}': build first (ninja -C {args.build})")

    print(f"one scan, CPU time of the scanning process (median of {args.runs} runs of {args.scans} scans)")
    head = f"{'procs':>6} {'matched':>7} {'us/scan':>9} {'us/proc':>8} {'% core 1 Hz':>12}"
    print(f"{'':<14} {'this machine':<46}   with {args.extra} idle processes more")
    print(f"{'match':<14} {head}   {head}")
    for name, argv, cgroups in MATCHES:
        cols = []
        for extra in (0, args.extra):
            res = [run(driver, extra, cgroups if extra else 0, args.scans, argv) for _ in range(args.runs)]
            procs = res[0][0]
            cpu = statistics.median(r[2] for r in res)
            cols.append(f"{procs:>6} {res[0][1]:>7} {cpu:>9.0f} {cpu / procs:>8.2f} {cpu / 1e6 * 100:>11.3f}%")
        print(f"{name:<14} " + "   ".join(cols))


if __name__ == "__main__":
    main()
