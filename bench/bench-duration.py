#!/usr/bin/python3
"""Does a recording end on time under load? `cprof record -d D` against
`perf record ... -- sleep D`, both attached by PID, on loads that used to
push cprof's end (and its output) seconds past the duration:

  hot-100k      one CPU-bound thread sampled at 100,000 Hz (the kernel
                throttles it; the profiler must still stop at D)
  threads-2000  2,000 threads doing 20 us of work every 5 ms
                (bench/workloads/many-threads.c), with --threads

Columns: wall s (start of the profiler to its exit, output written),
over s (wall - D; the target is at most 0.5), samples, lost, peak RSS.
For perf, "wall" ends when `perf record` exits; its post-processing
(`perf script | cprof collapse`) is timed separately as post s.

Two rows per case are not profilers but the floor under them: "start
true" runs /bin/true and "start cprof" runs `cprof --version` on the same
load, from the same /usr/bin/time; their wall is what starting a process
costs there before it can do anything (a normal task on 2,000 busy
threads waits for the CPU at each step; cprof's libraries add to it
before main() can move it to real-time priority).

Usage: bench/bench-duration.py [--build DIR] [--runs N] [--profilers LIST] [--cases LIST]
(perf record -p on the 2,000-thread case opens an event per thread and CPU
and, starved like any normal task there, did not finish within minutes
here: leave it out with --profilers 'cprof bpf,cprof perf'.)
Needs root, perf (linux-perf), gcc and /usr/bin/time.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import perf_samples, perf_stats

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def build_workloads(build, tmp):
    mt = os.path.join(tmp, "many-threads")
    subprocess.run(["gcc", "-O2", "-g", "-fno-omit-frame-pointer", "-pthread", "-o", mt,
                    os.path.join(HERE, "workloads", "many-threads.c")], check=True)
    return {"hot": os.path.join(build, "tests", "integration", "hot"), "many-threads": mt}


def start(cmd, name):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line.startswith(f"{name}: ready pid "):
        sys.exit(f"{name} did not start: {line!r}")
    return p


def timed(cmd, cwd):
    t0 = time.monotonic()
    r = subprocess.run(["/usr/bin/time", "-f", "RSS %M"] + cmd, capture_output=True, text=True,
                       cwd=cwd)
    wall = time.monotonic() - t0
    rss = int(re.findall(r"RSS (\d+)", r.stderr)[-1]) / 1024
    return wall, rss, r


def run_cprof(cprof, backend, pid, hz, dur, threads, tmp):
    out = os.path.join(tmp, "c.folded")
    cmd = [cprof, "record", "--backend", backend, "-F", str(hz), "-d", str(dur), "-p", str(pid),
           "-o", out] + (["--threads"] if threads else [])
    wall, rss, r = timed(cmd, tmp)
    m = re.search(r"(\d+) samples, (\d+) lost", r.stderr)
    if r.returncode != 0 or not m:
        sys.exit(f"cprof failed: {r.stderr}")
    return {"wall": wall, "rss": rss, "samples": int(m.group(1)), "lost": int(m.group(2)),
            "post": 0.0}


def run_start(cmd, tmp):
    wall, rss, r = timed(cmd, tmp)
    if r.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {r.stderr}")
    return {"wall": wall, "rss": rss, "samples": 0, "lost": 0, "post": 0.0}


def run_perf(cprof, pid, hz, dur, threads, tmp):
    data = os.path.join(tmp, "perf.data")
    cmd = ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(hz), "-g", "-p", str(pid),
           "-o", data, "--", "sleep", str(dur)]
    wall, rss, r = timed(cmd, tmp)
    t0 = time.monotonic()
    script = subprocess.run(f"perf script -i {data} 2>/dev/null | {cprof} collapse"
                            f"{' --tid' if threads else ''} > {tmp}/p.folded",
                            shell=True, cwd=tmp)
    post = time.monotonic() - t0
    # one line per sample (collapse's counts are sums of periods)
    samples = perf_samples(data)
    lost = perf_stats(data)[0].get("LOST", 0)
    return {"wall": wall, "rss": rss, "samples": samples, "lost": lost, "post": post}


CASES = [
    # name, workload argv, Hz, duration, --threads
    ("hot-100k", ["hot", "0"], 100000, 2, False),
    ("threads-2000", ["many-threads", "2000", "0"], 99, 5, True),
    ("threads-2000", ["many-threads", "2000", "0"], 999, 5, True),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--profilers", default="start true,start cprof,cprof bpf,cprof perf,perf",
                    help="comma-separated subset of: start true, start cprof, cprof bpf, cprof perf, perf")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    args = ap.parse_args()
    cprof = os.path.join(args.build, "src", "cli", "cprof")
    tmp = tempfile.mkdtemp(prefix="cprof-bench-duration-")
    wl = build_workloads(args.build, tmp)

    print("| case | Hz | D s | profiler | wall s | over s | post s | samples | lost | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, argv, hz, dur, threads in CASES:
        if args.cases and name not in args.cases.split(","):
            continue
        runs = {p: [] for p in args.profilers.split(",")}
        for _ in range(args.runs):
            for prof in runs:
                w = start([wl[argv[0]]] + argv[1:], argv[0])
                try:
                    if prof == "perf":
                        res = run_perf(cprof, w.pid, hz, dur, threads, tmp)
                    elif prof == "start true":
                        res = run_start(["/bin/true"], tmp)
                    elif prof == "start cprof":
                        res = run_start([cprof, "--version"], tmp)
                    else:
                        res = run_cprof(cprof, prof.split()[1], w.pid, hz, dur, threads, tmp)
                finally:
                    w.kill()
                    w.wait()
                runs[prof].append(res)
        for prof, rs in runs.items():
            med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            over = "" if prof.startswith("start") else f"{med['wall'] - dur:+.2f}"
            print(f"| {name} | {hz} | {dur} | {prof} | {med['wall']:.2f} | "
                  f"{over} | {med['post']:.2f} | {med['samples']:.0f} | "
                  f"{med['lost']:.0f} | {med['rss']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
