#!/usr/bin/env python3
"""What one sample costs the kernel: the BPF program's run time per sample
(kernel.bpf_stats_enabled) while cprof records a no-frame-pointer
recursion of a given depth at 999 Hz, for each way of unwinding:

- fp: the kernel's frame-pointer walk (bpf_get_stack), aggregated in maps
- kernel: DWARF CFI in the BPF program (the default), at most 256 frames,
  deeper stacks sent as a copy
- copy: every sample's stack copied to the ring (--user-unwind)

Usage: bench/bench-bpf-cost.py --build build [--seconds 4] [--depths 10,100,2500]

Needs root and bpftool. ns/sample is the program's whole run time divided
by the samples taken: runs for other tasks (the idle CPU's ticks) are
counted against them, so it is an upper bound. The kernel's throttling
limit at 999 Hz is about 250 us per sample (perf_cpu_time_max_percent 25).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

MODES = {
    "fp": ["--unwind", "fp"],
    "kernel": [],
    "copy": ["--user-unwind"],
}


def prog_stats():
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True,
                         text=True, check=True).stdout
    for p in json.loads(out):
        if p.get("name") == "on_sample" and p.get("type") == "perf_event":
            return p.get("run_time_ns", 0), p.get("run_cnt", 0)
    return None


def one(build, mode, depth, seconds):
    work = os.path.join(build, "tests", "integration", "nofp-recurse")
    cprof = os.path.join(build, "src", "cli", "cprof")
    w = subprocess.Popen([work, str(seconds + 3), str(depth)], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    ready = w.stdout.readline()
    m = re.search(r"pid (\d+)", ready)
    if not m:
        sys.exit(f"nofp-recurse did not start: {ready!r}")
    rec = subprocess.Popen([cprof, "record", "-F", "999", "-d", str(seconds), "--pid", m.group(1),
                            "-o", "/dev/null", "--format", "folded"] + MODES[mode],
                           stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # the program is loaded and running
    before = prog_stats()
    time.sleep(seconds - 1.5)
    after = prog_stats()
    _, err = rec.communicate()
    w.kill()
    w.wait()
    samples = re.search(r"cprof: (\d+) samples", err)
    complete = re.search(r"(\d+) of (\d+) user stacks complete", err)
    if not before or not after or not samples:
        sys.exit(f"{mode} depth {depth}: no figures\n{err}")
    runs = after[1] - before[1]
    ns = after[0] - before[0]
    # samples over the same window: scale the recording's count to it
    taken = int(samples.group(1)) * (seconds - 1.5) / seconds
    return {
        "runs": runs,
        "ns_run": ns / runs if runs else 0,
        "ns_sample": ns / taken if taken else 0,
        "complete": f"{complete.group(1)}/{complete.group(2)}" if complete else "-",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--depths", default="10,100,2500")
    a = ap.parse_args()
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        was = f.read().strip()
    with open("/proc/sys/kernel/perf_event_max_sample_rate") as f:
        rate0 = f.read().strip()
    subprocess.run(["sysctl", "-q", "-w", "kernel.bpf_stats_enabled=1"], check=True)
    try:
        print(f"{'depth':>6} {'mode':>7} {'runs':>7} {'ns/run':>8} {'ns/sample':>10} {'complete':>11}")
        for d in [int(x) for x in a.depths.split(",")]:
            for mode in MODES:
                r = one(a.build, mode, d, a.seconds)
                print(f"{d:>6} {mode:>7} {r['runs']:>7} {r['ns_run']:>8.0f} {r['ns_sample']:>10.0f} "
                      f"{r['complete']:>11}", flush=True)
    finally:
        subprocess.run(["sysctl", "-q", "-w", f"kernel.bpf_stats_enabled={was}"])
    with open("/proc/sys/kernel/perf_event_max_sample_rate") as f:
        rate1 = f.read().strip()
    print(f"perf_event_max_sample_rate: {rate0} before, {rate1} after")


if __name__ == "__main__":
    main()
