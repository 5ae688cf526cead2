#!/usr/bin/python3
"""Benchmark `cprof record` against `perf record -e cpu-clock -g`.

Profiles the CPU-bound `hot` workload (tests/integration/workloads/hot.c)
by PID at 99 Hz and 999 Hz, interleaving the profilers round by round,
and prints a Markdown table:

  slowdown   the workload's own elapsed time for a fixed amount of work,
             profiled / unprofiled (medians over the runs)
  rec CPU    the profiler's user+sys CPU time (/usr/bin/time), whole life
  post CPU   perf only: CPU of `perf script | collapse`
  peak RSS   the profiler's maximum resident set (perf: the larger of
             perf record and the post-processing)
  to folded  wall time from the workload's exit to the folded file on
             disk: cprof: until cprof exits; perf: until perf record exits,
             plus `perf script | collapse`

Usage: bench/bench-record.py [--build DIR] [--runs N] [--seconds S]
                             [--long S] [--profilers cprof,perf]
Needs root (BPF, perf), perf, and /usr/bin/time (Debian package `time`).
"""

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import (arg_parser, calibrate, cprof_version,
                      finish_workload as finish_hot, perf_samples,
                      perf_version, read_time, start_workload, timed)

HERE = os.path.dirname(os.path.abspath(__file__))


def start_hot(hot, rounds):
    return start_workload([hot, "--work", str(rounds), "--wait"], "hot")


class Bench:
    def __init__(self, args):
        self.args = args
        self.cprof = os.path.join(args.build, "src/cli/cprof")
        self.hot = os.path.join(args.build, "tests/integration/hot")
        for exe in ((self.cprof,) if "cprof" in args.profilers else ()) + \
                   (self.hot, "/usr/bin/time"):
            if not os.access(exe, os.X_OK):
                sys.exit(f"missing {exe} (build first; apt-get install time)")
        self.tmp = tempfile.mkdtemp(prefix="cprof-bench-")
        self.collapse, self.script_args, self.collapse_name = \
            self.pick_collapse()

    def pick_collapse(self):
        """`cprof collapse` reading perf script on stdin if cprof has it,
        else bench/collapse-perf.awk."""
        try:
            r = subprocess.run([self.cprof, "collapse", "--help"],
                               capture_output=True)
        except OSError:
            r = None
        if r is not None and r.returncode == 0:
            # it reads perf script's default output
            return [self.cprof, "collapse"], [], "cprof collapse"
        return (["awk", "-f", os.path.join(HERE, "collapse-perf.awk")],
                ["-F", "comm,tid,ip,sym"], "awk -f bench/collapse-perf.awk")

    def run_one(self, prof, hz, rounds):
        """One profiled (prof = 'cprof' | 'perf') or plain (None) run."""
        res = {}
        hot = start_hot(self.hot, rounds)
        pid = str(hot.pid)
        tf = os.path.join(self.tmp, "time")
        out = os.path.join(self.tmp, "out.folded")
        data = os.path.join(self.tmp, "perf.data")
        p = None
        if prof == "cprof":
            p = timed([self.cprof, "record", "--pid", pid, "-F", str(hz),
                       "-q", "-o", out], tf)
        elif prof == "perf":
            p = timed(["perf", "record", "-q", "-e", "cpu-clock", "-F",
                       str(hz), "-g", "-p", pid, "-o", data], tf,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # let the profiler attach before the work starts
        res["elapsed"], res["tcpu"], t_end = finish_hot(hot)
        if p is None:
            return res
        if p.wait() != 0:
            sys.exit(f"{prof} failed (status {p.returncode})")
        res["to_folded"] = time.monotonic() - t_end
        res["cpu"], res["rss"] = read_time(tf)
        res["post_cpu"] = 0.0
        if prof == "perf":
            t0 = time.monotonic()
            q = timed(["sh", "-c", 'd=$1; f=$2; shift 2; perf script -i "$d" '
                       '$f 2>/dev/null | "$@" > "$0" 2>/dev/null', out, data,
                       " ".join(self.script_args)] + self.collapse, tf)
            if q.wait() != 0:
                sys.exit("perf script | collapse failed")
            res["to_folded"] += time.monotonic() - t0
            res["post_cpu"], rss = read_time(tf)
            res["rss"] = max(res["rss"], rss)
        if prof == "perf":
            # untimed: the collapse may weight stacks by period
            res["samples"] = perf_samples(data)
        else:
            with open(out) as f:
                res["samples"] = sum(int(l.rsplit(" ", 1)[1]) for l in f
                                     if l.strip())
        return res

    def calibrate(self):
        return calibrate(lambda n: self.run_one(None, 0, n)["elapsed"],
                         self.args.seconds)

    def main(self):
        a = self.args
        rounds = self.calibrate()
        configs = [(p, hz) for hz in (99, 999) for p in a.profilers]
        base, results = [], {c: [] for c in configs}
        for i in range(a.runs):
            print(f"round {i + 1}/{a.runs}", file=sys.stderr)
            base.append(self.run_one(None, 0, rounds))
            for c in configs:
                results[c].append(self.run_one(c[0], c[1], rounds))
        b = statistics.median(r["elapsed"] for r in base)
        bc = statistics.median(r["tcpu"] for r in base)
        med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
        print(f"cprof {self.version()} vs {self.perf_version()}, kernel "
              f"{platform.release()}, {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f}; workload `hot --work {rounds}` "
              f"({b:.2f} s wall, {bc:.2f} s CPU unprofiled), medians of "
              f"{a.runs} interleaved runs; perf post-processing: "
              f"`{' '.join(['perf script'] + self.script_args)} | "
              f"{self.collapse_name}`\n")
        print("| profiler | Hz | slowdown wall | slowdown CPU | rec CPU s | "
              "post CPU s | peak RSS MB | to folded s | samples |")
        print("|---|---|---|---|---|---|---|---|---|")
        for (prof, hz), rs in results.items():
            print(f"| {prof} | {hz} | {med(rs, 'elapsed') / b:.3f} | "
                  f"{med(rs, 'tcpu') / bc:.3f} | "
                  f"{med(rs, 'cpu'):.3f} | {med(rs, 'post_cpu'):.3f} | "
                  f"{max(r['rss'] for r in rs):.1f} | "
                  f"{med(rs, 'to_folded'):.3f} | {med(rs, 'samples'):.0f} |")
        if a.long > 0:
            long_rounds = int(rounds * a.long / a.seconds)
            print(f"\n{a.long:.0f} s recording at 999 Hz (one run each):\n")
            print("| profiler | slowdown wall | slowdown CPU | rec CPU s | "
                  "post CPU s | peak RSS MB | to folded s | samples |")
            print("|---|---|---|---|---|---|---|---|")
            scale = long_rounds / rounds
            for prof in a.profilers:
                r = self.run_one(prof, 999, long_rounds)
                print(f"| {prof} | {r['elapsed'] / (b * scale):.3f} | "
                      f"{r['tcpu'] / (bc * scale):.3f}"
                      f" | {r['cpu']:.3f} | {r['post_cpu']:.3f} | "
                      f"{r['rss']:.1f} | {r['to_folded']:.3f} | "
                      f"{r['samples']} |")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def version(self):
        return cprof_version(self.cprof)

    def perf_version(self):
        return perf_version()


def main():
    ap = arg_parser(__doc__, 3.0, "unprofiled duration of one run's work")
    ap.add_argument("--long", type=float, default=30.0,
                    help="length of the extra 999 Hz run, 0 to skip")
    ap.add_argument("--profilers", default="cprof,perf",
                    type=lambda s: s.split(","),
                    help="comma-separated subset of cprof,perf")
    Bench(ap.parse_args()).main()


if __name__ == "__main__":
    main()
