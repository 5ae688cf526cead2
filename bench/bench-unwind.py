#!/usr/bin/python3
"""Benchmark DWARF unwinding of copied user stacks: `cprof record --unwind
dwarf` (BPF backend with --user-unwind, perf backend; and the BPF backend's
in-kernel unwinder beside them) against `perf record --call-graph dwarf`
(8 KiB and 16 KiB copies) on a build without frame pointers, and
frame-pointer sampling (cprof --unwind fp, perf -g) on a build with them.

The workload is bench/workloads/unwind-work.c (built by meson as
bench/unwind-work-nofp and bench/unwind-work-fp): a fixed amount of work per
thread, 1 or 4 threads, under a call chain of 20-35 frames through qsort and
its callback, strcmp, memcpy and strlen. Each run starts it, attaches the
profiler by PID, waits 1 s and lets the work start. Rounds interleave every
profiler with unprofiled runs of both builds; the table gives medians.

Columns:
  slowdown CPU/wall  the workload's CPU (wall) time for its work, profiled /
                     unprofiled on the same build (CPU: sampling work done in
                     the target's context is charged to it)
  BPF %              cprof BPF backend: its programs' run time (fdinfo
                     run_time_ns, kernel.bpf_stats_enabled set for the
                     run) over the workload's CPU time, during the work:
                     the part of the target's CPU the sampling handler
                     took. The slowdown target is checked on it when both
                     rows have it (the slowdown ratio is noisier than the
                     cost it measures)
  rec CPU            the profiler's user+sys CPU over its whole life
                     (/usr/bin/time); cprof unwinds and names inside it
  post CPU           perf only: `perf script` plus `cprof collapse` of its
                     output (perf unwinds here)
  written            perf: perf.data; cprof: the folded file
  copied             bytes the kernel handed to the profiler: perf, the data
                     section of perf.data (its ring records, written as they
                     came); cprof perf backend, samples x the fixed record
                     size (16 KiB stack copy + 88 B, kernel frames extra);
                     cprof BPF backend: not reported by cprof, left empty
  (the BPF rows: "cprof dwarf bpf" copies stacks and unwinds them in cprof,
  --user-unwind; "cprof dwarf bpf-kernel" is the default, the kernel
  unwinds and copies only what it cannot walk)
  lost               cprof: its summary; perf: the kernel's count of dropped
                     samples (LOST_SAMPLES in `perf report --stats`) or the
                     sum of its LOST records, whichever is larger
  complete           cprof --unwind dwarf: its summary line (stacks that
                     ended where CFI leaves the return address undefined);
                     cprof fp and perf: the share of samples whose stack's
                     root frame is _start or start_thread, or clone3 with
                     start_thread above it (clone3 alone is the parent
                     in the syscall, its callers lost)

Usage: bench/bench-unwind.py [--build DIR] [--runs N] [--seconds S]
                             [--rates 99,999] [--threads 1,4]
                             [--profilers NAME,...]
Needs root (BPF, perf), perf (linux-perf) and /usr/bin/time.
"""

import os
import platform
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import (arg_parser, calibrate, cprof_version, finish_workload, perf_stats,
                      perf_version, read_time, start_workload, timed)

# name: (build, profiler, its unwinding arguments)
PROFILERS = {
    # stack copies unwound in cprof, and (the default) in the kernel
    "cprof dwarf bpf": ("nofp", "cprof", ["--unwind", "dwarf", "--backend", "bpf",
                                          "--user-unwind"]),
    "cprof dwarf bpf-kernel": ("nofp", "cprof", ["--unwind", "dwarf", "--backend",
                                                 "bpf"]),
    "cprof dwarf perf": ("nofp", "cprof", ["--unwind", "dwarf", "--backend", "perf"]),
    "perf dwarf 8K": ("nofp", "perf", ["--call-graph", "dwarf,8192"]),
    "perf dwarf 16K": ("nofp", "perf", ["--call-graph", "dwarf,16384"]),
    "cprof fp": ("fp", "cprof", ["--unwind", "fp"]),
    "perf -g": ("fp", "perf", ["-g"]),
}
PERF_DWARF = ("perf dwarf 8K", "perf dwarf 16K")
# where a whole stack starts: the main thread, other threads. clone3
# counts only below start_thread: a stack whose last frame is clone3
# without it is the parent inside the syscall (glibc ends clone3's CFI
# before the syscall instruction), cut short above pthread_create.
ROOTS = {"_start", "clone3", "__clone3", "start_thread"}
CLONE = {"clone3", "__clone3"}


def is_root(root, above):
    """A stack is complete when its root frame (root) is a root; above
    is the frame called from it."""
    if root in CLONE:
        return above == "start_thread"
    return root in ROOTS
# a cprof perf-backend sample: header, ip, tid, time, callchain nr, regs
# abi + bp/sp/ip, copy size, the 16 KiB copy, its dyn_size
CPROF_PERF_RECORD = 8 * 5 + 8 + 24 + 8 + 16384 + 8
MAX_RATE = "/proc/sys/kernel/perf_event_max_sample_rate"


def max_rate():
    with open(MAX_RATE) as f:
        return int(f.read())


def perf_data_size(path):
    """The data section's size in a perf.data header (after magic, size,
    attr_size and the attrs section: data.offset, data.size)."""
    with open(path, "rb") as f:
        head = f.read(56)
    return struct.unpack_from("<Q", head, 48)[0]


def script_stacks(path):
    """(samples, complete) in `perf script` output: a sample is complete
    when the last frame of its call chain is a root."""
    samples = complete = 0
    root = above = None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("\t"):
                w = line.split()
                above = root
                root = w[1].split("+0x")[0] if len(w) > 1 else None
            elif line.strip():
                if samples:
                    complete += is_root(root, above)
                samples += 1
                root = above = None
    if samples:
        complete += is_root(root, above)
    return samples, complete


def folded_stacks(path):
    """(samples, complete) in a folded profile: its first frame is the
    process, the next one the stack's root."""
    samples = complete = 0
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            frames = stack.split(";")
            samples += int(n)
            if len(frames) > 1 and is_root(frames[1], frames[2] if len(frames) > 2 else None):
                complete += int(n)
    return samples, complete


def size_str(n):
    if n is None:
        return "-"
    for unit, k in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n:.0f} B"


def bpf_prog_fds(pid):
    """fdinfo paths of the BPF programs pid holds."""
    out = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:bpf-prog":
                out.append(f"/proc/{pid}/fdinfo/{fd}")
        except OSError:
            pass
    return out


class BpfTime(threading.Thread):
    """Samples the run time of cprof's BPF programs (run_time_ns in their
    fdinfo, counted while kernel.bpf_stats_enabled is 1) every 0.1 s,
    from the profiler's own files: no process is started beside the
    workload. share() is the programs' time per second of the work over
    the workload's CPU per second, the part of its CPU time that the
    sampling handler took: it runs on the sampled CPU, in the task's
    time. A steadier figure than the slowdown ratio, which at 99 Hz
    moves by more than the whole cost."""

    def __init__(self, timed_pid):
        super().__init__(daemon=True)
        self.timed_pid = timed_pid
        self.points = []  # (monotonic s, run_time_ns)
        self.stop = threading.Event()

    def cprof_pid(self):
        try:
            with open(f"/proc/{self.timed_pid}/task/{self.timed_pid}/children") as f:
                kids = f.read().split()
        except OSError:
            return None
        return kids[0] if kids else None

    def run(self):
        pid, infos = None, []
        while not self.stop.wait(0.1):
            if not infos:
                pid = pid or self.cprof_pid()
                infos = bpf_prog_fds(pid) if pid else []
            ns = 0
            try:
                for path in infos:
                    with open(path) as f:
                        for line in f:
                            if line.startswith("run_time_ns:"):
                                ns += int(line.split()[1])
            except OSError:
                return  # cprof is gone
            if infos:
                self.points.append((time.monotonic(), ns))

    def share(self, t_start, t_end, tcpu, elapsed):
        """BPF time over the target's CPU time between t_start and t_end
        (the work's wall clock, its ends trimmed by 0.2 s)."""
        pts = [p for p in self.points if t_start + 0.2 <= p[0] <= t_end - 0.2]
        if len(pts) < 2 or tcpu <= 0 or elapsed <= 0:
            return None
        (t0, n0), (t1, n1) = pts[0], pts[-1]
        return (n1 - n0) / 1e9 / (t1 - t0) / (tcpu / elapsed)


class Bench:
    def __init__(self, args):
        self.args = args
        self.cprof = os.path.join(args.build, "src/cli/cprof")
        self.work = {b: os.path.join(args.build, "bench", "unwind-work-" + b)
                     for b in ("nofp", "fp")}
        for exe in [self.cprof, "/usr/bin/time"] + list(self.work.values()):
            if not os.access(exe, os.X_OK):
                sys.exit(f"missing {exe} (build first; apt-get install time)")
        for p in args.profilers:
            if p not in PROFILERS:
                sys.exit(f"unknown profiler {p!r}: {', '.join(PROFILERS)}")
        self.tmp = tempfile.mkdtemp(prefix="cprof-bench-unwind-")
        self.rate_before = max_rate()
        self.rate_min = self.rate_before

    def run_one(self, prof, build, hz, threads, rounds):
        """One run of the build's workload, profiled by prof (a PROFILERS
        name) or not (None)."""
        res = {}
        w = start_workload([self.work[build], "--work", str(rounds),
                            "--threads", str(threads), "--wait"],
                           "unwind-work")
        pid = str(w.pid)
        f = {k: os.path.join(self.tmp, k) for k in
             ("time", "err", "out.folded", "perf.data", "script", "p.folded")}
        p = None
        if prof:
            _, kind, extra = PROFILERS[prof]
            with open(f["err"], "w") as err:
                if kind == "cprof":
                    p = timed([self.cprof, "record", "--pid", pid, "-F", str(hz)]
                              + extra + ["-o", f["out.folded"]], f["time"],
                              stdout=subprocess.DEVNULL, stderr=err)
                else:
                    p = timed(["perf", "record", "-q", "-e", "cpu-clock", "-F",
                               str(hz)] + extra + ["-p", pid, "-o",
                                                   f["perf.data"]],
                              f["time"], stdout=subprocess.DEVNULL, stderr=err)
            time.sleep(1.0)  # let the profiler attach before the work starts
        bpf = None
        if p is not None and kind == "cprof" and "perf" not in extra:
            bpf = BpfTime(p.pid)
            bpf.start()
        res["elapsed"], res["tcpu"], t_end = finish_workload(w)
        if p is None:
            return res
        if bpf:
            bpf.stop.set()
            bpf.join()
            # the work's own clock ends when it printed, just before exit
            res["bpf_share"] = bpf.share(t_end - res["elapsed"], t_end, res["tcpu"],
                                         res["elapsed"])
        if p.wait() != 0:
            with open(f["err"]) as err:
                sys.exit(f"{prof} failed (status {p.returncode}): {err.read()}")
        self.rate_min = min(self.rate_min, max_rate())
        res["cpu"], _ = read_time(f["time"])
        if kind == "cprof":
            self.cprof_result(res, prof, f)
        else:
            self.perf_result(res, f)
        return res

    def cprof_result(self, res, prof, f):
        with open(f["err"]) as err:
            text = err.read()
        m = re.search(r"cprof: (\d+) samples, (\d+) lost", text)
        if not m:
            sys.exit(f"{prof}: no summary line: {text}")
        res["samples"], res["lost"] = int(m.group(1)), int(m.group(2))
        m = re.search(r"cprof: (\d+) of (\d+) user stacks complete", text)
        if m:
            res["complete"] = 100.0 * int(m.group(1)) / max(int(m.group(2)), 1)
            # why the others ended ("3 no CFI, 1 stack not copied")
            m = re.search(r"user stacks complete \([^)]*\); cut short: (.*)",
                          text)
            for n, why in re.findall(r"(\d+) ([^,]+)", m.group(1) if m else ""):
                res.setdefault("cut", {})[why] = int(n)
        else:
            n, c = folded_stacks(f["out.folded"])
            res["complete"] = 100.0 * c / max(n, 1)
        res["post_cpu"] = 0.0
        res["written"] = os.path.getsize(f["out.folded"])
        perf_backend = PROFILERS[prof][2][-2:] == ["--backend", "perf"]
        res["copied"] = res["samples"] * CPROF_PERF_RECORD if perf_backend else None

    def perf_result(self, res, f):
        data = f["perf.data"]
        # post-processing as a user would: perf script (which unwinds the
        # copies), then collapse what it printed
        q = timed(["sh", "-c", 'perf script -i "$0" > "$1" 2>/dev/null', data,
                   f["script"]], f["time"])
        if q.wait() != 0:
            sys.exit("perf script failed")
        res["post_cpu"], _ = read_time(f["time"])
        with open(f["script"]) as inp, open(f["p.folded"], "w") as out:
            q = timed([self.cprof, "collapse"], f["time"], stdin=inp,
                      stdout=out, stderr=subprocess.DEVNULL)
            if q.wait() != 0:
                sys.exit("cprof collapse failed")
        res["post_cpu"] += read_time(f["time"])[0]
        res["samples"], c = script_stacks(f["script"])
        res["complete"] = 100.0 * c / max(res["samples"], 1)
        # untimed: the samples LOST records say were dropped, and the
        # kernel's own count of them (perf_stats), whichever is larger
        r = subprocess.run(["perf", "script", "-i", data, "-F", "tid",
                            "--show-lost-events"], capture_output=True,
                           text=True)
        agg, per_event = perf_stats(data)
        res["lost"] = max(per_event.get("LOST_SAMPLES", 0), sum(
            int(n) for n in re.findall(r"PERF_RECORD_LOST lost (\d+)",
                                       r.stdout)))
        res["throttle"] = agg.get("THROTTLE", 0)
        res["written"] = os.path.getsize(data)
        res["copied"] = perf_data_size(data)

    def calibrate(self):
        """Rounds for about --seconds of CPU per thread, unprofiled."""
        return calibrate(lambda n: self.run_one(None, "nofp", 0, 1, n)["tcpu"],
                         self.args.seconds, n=500, enough=0.3)

    def main(self):
        a = self.args
        rounds = self.calibrate()
        groups = [(hz, t) for t in a.threads for hz in a.rates]
        base = {(b, t): [] for t in a.threads for b in ("nofp", "fp")}
        results = {(g, p): [] for g in groups for p in a.profilers}
        for i in range(a.runs):
            print(f"round {i + 1}/{a.runs}, load {os.getloadavg()[0]:.1f}",
                  file=sys.stderr)
            for (b, t), rs in base.items():
                rs.append(self.run_one(None, b, 0, t, rounds))
            for (hz, t), prof in results:
                results[(hz, t), prof].append(
                    self.run_one(prof, PROFILERS[prof][0], hz, t, rounds))
        self.report(rounds, groups, base, results)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def report(self, rounds, groups, base, results):
        a = self.args
        med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
        t1 = a.threads[0]
        cpu1 = med(base["nofp", t1], "tcpu") / t1
        print(f"cprof {cprof_version(self.cprof)} vs {perf_version()}, kernel "
              f"{platform.release()}, {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f}; workload `unwind-work --work "
              f"{rounds}` per thread ({cpu1:.2f} s CPU per thread "
              f"unprofiled, no-FP build), medians of {a.runs} interleaved "
              f"runs; perf_event_max_sample_rate {self.rate_before} before, "
              f"{max_rate()} after, lowest seen {self.rate_min}\n")
        print("| Hz | threads | profiler | build | slowdown CPU | slowdown "
              "wall | BPF % | rec CPU s | post CPU s | total CPU s | written | "
              "copied | samples | lost | complete % | targets |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        throttles, cut = 0, {}
        for g in groups:
            hz, t = g
            rows = {}
            for prof in a.profilers:
                rs = results[g, prof]
                bs = base[PROFILERS[prof][0], t]
                rows[prof] = {
                    "sd_cpu": med(rs, "tcpu") / med(bs, "tcpu"),
                    "sd_wall": med(rs, "elapsed") / med(bs, "elapsed"),
                    "cpu": med(rs, "cpu"), "post": med(rs, "post_cpu"),
                    "total": statistics.median(r["cpu"] + r["post_cpu"]
                                               for r in rs),
                    "written": med(rs, "written"),
                    "copied": None if rs[0]["copied"] is None else
                    med(rs, "copied"),
                    "samples": med(rs, "samples"), "lost": med(rs, "lost"),
                    "lost_max": max(r["lost"] for r in rs),
                    "complete": med(rs, "complete"),
                    "bpf": statistics.median(r["bpf_share"] for r in rs)
                    if all(r.get("bpf_share") is not None for r in rs) else None,
                }
                throttles += sum(r.get("throttle", 0) for r in rs)
                for r in rs:
                    for why, n in r.get("cut", {}).items():
                        cut.setdefault((hz, t, prof), {}).setdefault(why, 0)
                        cut[hz, t, prof][why] += n
            for prof, r in rows.items():
                print(f"| {hz} | {t} | {prof} | {PROFILERS[prof][0]} | "
                      f"{r['sd_cpu']:.3f} | {r['sd_wall']:.3f} | "
                      f"{'-' if r['bpf'] is None else format(100 * r['bpf'], '.2f')} | "
                      f"{r['cpu']:.2f} | {r['post']:.2f} | {r['total']:.2f} | "
                      f"{size_str(r['written'])} | {size_str(r['copied'])} | "
                      f"{r['samples']:.0f} | {r['lost']:.0f} | "
                      f"{r['complete']:.2f} | {self.marks(prof, g, rows)} |")
        print(f"\nperf THROTTLE records over all perf runs: {throttles}")
        if cut:
            print("\ncprof stacks cut short, over all runs:\n")
            for (hz, t, prof), whys in cut.items():
                print(f"- {hz} Hz, {t} threads, {prof}: " + ", ".join(
                    f"{n} {why}" for why, n in whys.items()))

    def marks(self, prof, g, rows):
        """The issue's targets, for the cprof --unwind dwarf rows: complete
        >= the better perf dwarf's; CPU slowdown within 1 point of cprof fp;
        total CPU <= 1/3 of the cheaper perf dwarf's; (BPF, 999 Hz x 4
        threads) no sample lost in any run."""
        if not prof.startswith("cprof dwarf"):
            return ""
        r, out = rows[prof], []
        pd = [rows[p] for p in PERF_DWARF if p in rows]
        ok = lambda c: "yes" if c else "NO"  # noqa: E731
        if pd:
            best = max(p["complete"] for p in pd)
            out.append(f"complete {ok(r['complete'] >= best)}")
            cheap = min(p["total"] for p in pd)
            out.append(f"CPU {ok(r['total'] <= cheap / 3)} "
                       f"({r['total'] / cheap:.2f}x)")
        if "cprof fp" in rows:
            fp = rows["cprof fp"]
            if r["bpf"] is not None and fp["bpf"] is not None:
                # what sampling takes from the target, measured directly
                d = 100 * (r["bpf"] - fp["bpf"])
                out.append(f"slowdown {ok(d <= 1.0)} ({d:+.2f} pt of BPF time)")
            else:
                d = 100 * (r["sd_cpu"] - fp["sd_cpu"])
                out.append(f"slowdown {ok(d <= 1.0)} ({d:+.1f} pt)")
        if prof.startswith("cprof dwarf bpf") and g == (999, 4):
            out.append(f"lost {ok(r['lost_max'] == 0)}")
        return ", ".join(out)


def int_list(s):
    return [int(x) for x in s.split(",")]


def main():
    ap = arg_parser(__doc__, 2.0, "unprofiled CPU seconds of one thread's work")
    ap.add_argument("--rates", type=int_list, default=[99, 999])
    ap.add_argument("--threads", type=int_list, default=[1, 4])
    ap.add_argument("--profilers", default=list(PROFILERS),
                    type=lambda s: s.split(","),
                    help="comma-separated subset of: " + ", ".join(PROFILERS))
    with open(BPF_STATS) as f:
        was = f.read().strip()
    set_bpf_stats("1")
    try:
        Bench(ap.parse_args()).main()
    finally:
        set_bpf_stats(was)


BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled"


def set_bpf_stats(value):
    with open(BPF_STATS, "w") as f:
        f.write(value + "\n")


if __name__ == "__main__":
    main()
