#!/usr/bin/env python3
"""cprofd soak: the daemon profiling a churning workload for an hour.

The workload is what a staging host runs: a service of 20 busy threads
(target `busy`, by comm), a service restarted every few seconds (target
`churn`, by comm, run by a supervisor loop), and short-lived processes of
the same name started ten times a second (each lives ~50 ms). cprofd runs
with 60 s windows at the given rate. Every minute the bench samples:

  - the daemon's CPU time (utime + stime from /proc) as % of one core;
  - the CPU time of its BPF programs (kernel.bpf_stats_enabled: run_time_ns
    of the programs it loaded), charged to the targets, not the daemon;
  - its RssAnon (mapped debug files are file pages and do not count), and
    the heap in use and held free (mallinfo2, from cprof ctl status): a
    slope in the first is a leak, in the second fragmentation;
  - windows written, samples and lost samples (cprof ctl status);
  - disk use of the store against its budget (max-size).

Then prints the table and a summary: mean CPU after minute 1, the RssAnon
slope from minute 5 on (least squares, MB per hour) and those of the heap
in use and held free, peak RssAnon, lost.

Usage: bench-cprofd-soak.py [--build DIR] [--minutes 60] [--hz 19]
"""

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_anon_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def bpf_run_ns(pid):
    """run_time_ns summed over the BPF programs pid holds (by fdinfo)."""
    ids = set()
    fddir = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fddir):
        try:
            with open(os.path.join(fddir, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    total = 0
    for i in ids:
        out = subprocess.run(["bpftool", "-j", "prog", "show", "id", str(i)],
                             capture_output=True, text=True)
        if out.returncode == 0:
            total += json.loads(out.stdout).get("run_time_ns", 0)
    return total


def descendant_named(pid, comm):
    """the pid of a process called comm under pid (itself included)"""
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/comm") as f:
                if f.read().strip() == comm:
                    return p
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return None


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--hz", type=int, default=19)
    ap.add_argument("--max-size", default="20M", help="the store's budget")
    ap.add_argument("--interval", type=float, default=60, help="seconds between rows")
    ap.add_argument("--window", type=int, default=60, help="seconds per window")
    ap.add_argument("--wrap", default="", help="a command to run cprofd under, e.g. "
                    "'heaptrack -o FILE' to see which allocations the heap in use is made of")
    ap.add_argument("--tag", default="", help="suffix for the workloads' names, so two soaks "
                    "(e.g. at 19 and 99 Hz) can run at once without matching each other's processes")
    a = ap.parse_args()

    cprofd = os.path.join(a.build, "src/daemon/cprofd")
    cprof = os.path.join(a.build, "src/cli/cprof")
    wdir = os.path.join(a.build, "tests/integration")
    tmp = tempfile.mkdtemp(prefix="cprofd-soak-")
    out = os.path.join(tmp, "out")
    sock = os.path.join(tmp, "ctl.sock")
    conf = os.path.join(tmp, "cprofd.conf")
    # the workloads, copied under the names the targets match
    busy_bin, churn_bin = os.path.join(tmp, "threads" + a.tag), os.path.join(tmp, "hot" + a.tag)
    shutil.copy(os.path.join(wdir, "threads"), busy_bin)
    shutil.copy(os.path.join(wdir, "hot"), churn_bin)
    with open(conf, "w") as f:
        f.write(f"""[cprofd]
frequency = {a.hz}
window = {a.window}
output-dir = {out}
socket = {sock}
max-size = {a.max_size}
outputs = svg

[target busy]
comm = {os.path.basename(busy_bin)[:15]}

[target churn]
comm = {os.path.basename(churn_bin)[:15]}
""")
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=False)
    procs = []
    d = dpid = None
    try:
        # the workload runs at nice 19: the machine stays usable, and the
        # daemon's share is what is measured
        nice = ["nice", "-n", "19"]
        # 20 busy threads until killed
        # each in a session of its own: the loops' children go with them
        procs.append(subprocess.Popen(nice + [busy_bin, "20", "0", "0"],
                                      stdout=subprocess.DEVNULL, start_new_session=True))
        hot = churn_bin
        # a service restarted every 4 s, and 10 short-lived ones a second
        procs.append(subprocess.Popen(nice + ["sh", "-c", f"while :; do {hot} 4 >/dev/null; done"],
                                      start_new_session=True))
        procs.append(subprocess.Popen(nice + ["sh", "-c", f"while :; do {hot} 0.05 >/dev/null & sleep 0.1; done"],
                                      start_new_session=True))
        d = subprocess.Popen(shlex.split(a.wrap) + [cprofd, "--config", conf], stderr=open(os.path.join(tmp, "cprofd.log"), "w"))
        time.sleep(3)
        # under --wrap, the daemon is the wrapper's descendant
        dpid = descendant_named(d.pid, "cprofd")
        if dpid is None:
            sys.exit(f"no cprofd under {a.wrap or 'itself'}; see {tmp}/cprofd.log")
        rows = []
        t0 = time.monotonic()
        cpu0, bpf0 = proc_cpu(dpid), bpf_run_ns(dpid)
        while time.monotonic() - t0 < a.minutes * 60:
            time.sleep(a.interval)
            if d.poll() is not None:
                sys.exit(f"cprofd exited ({d.returncode}); see {tmp}/cprofd.log")
            st = json.loads(subprocess.run([cprof, "ctl", "--socket", sock, "--json", "status"],
                                           capture_output=True, text=True).stdout or "{}")
            rows.append({
                "min": (time.monotonic() - t0) / 60,
                "cpu": proc_cpu(dpid), "bpf": bpf_run_ns(dpid) / 1e9,
                "rss": rss_anon_kib(dpid), "windows": st.get("windows_written", 0),
                "samples": st.get("samples", 0), "lost": st.get("lost", 0),
                "disk": dir_bytes(out), "processes": st.get("processes", 0),
                "heap": st.get("heap_in_use_bytes", 0), "heap_free": st.get("heap_free_bytes", 0),
            })
            r = rows[-1]
            print(f"{r['min']:6.1f} min  cpu {r['cpu']:7.2f} s  bpf {r['bpf']:7.2f} s  RssAnon {r['rss'] / 1024:6.1f} MB"
                  f"  windows {r['windows']:4}  samples {r['samples']:9}  lost {r['lost']:5}"
                  f"  disk {r['disk'] / 1e6:6.2f} MB  processes {r['processes']}"
                  f"  heap {r['heap'] / 1e6:.1f} MB in use, {r['heap_free'] / 1e6:.1f} MB free", flush=True)
    finally:
        # the workloads first, whatever the daemon does next
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        if d is not None:
            try:
                os.kill(dpid or d.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            # a wrapper may take a while after the daemon is gone
            grace = 120 if a.wrap else 10
            try:
                d.wait(grace)
            except subprocess.TimeoutExpired:
                print(f"cprofd did not exit within {grace} s of SIGTERM: killed", file=sys.stderr)
                d.kill()
                d.wait()

    # summary
    print(f"\n## cprofd soak at {a.hz} Hz, {a.minutes:g} min, 20 busy threads + churn")
    print("| minute | daemon CPU (% of a core) | BPF CPU (% of a core) | RssAnon MB | windows | lost | disk MB |")
    print("|---|---|---|---|---|---|---|")
    prev = {"min": 0, "cpu": cpu0, "bpf": bpf0 / 1e9}
    for r in rows:
        dt = (r["min"] - prev["min"]) * 60
        print(f"| {r['min']:.0f} | {100 * (r['cpu'] - prev['cpu']) / dt:.2f} | {100 * (r['bpf'] - prev['bpf']) / dt:.2f}"
              f" | {r['rss'] / 1024:.1f} | {r['windows']} | {r['lost']} | {r['disk'] / 1e6:.2f} |")
        prev = r
    if len(rows) >= 2:
        span = (rows[-1]["min"] - rows[0]["min"]) * 60
        cpu = 100 * (rows[-1]["cpu"] - rows[0]["cpu"]) / span
        bpf = 100 * (rows[-1]["bpf"] - rows[0]["bpf"]) / span
        late = [r for r in rows if r["min"] >= 5] or rows

        def slope_mb_per_hour(key, scale):
            """least squares over the rows from minute 5, MB per hour"""
            n = len(late)
            mx = sum(r["min"] for r in late) / n
            my = sum(r[key] for r in late) / n
            var = sum((r["min"] - mx) ** 2 for r in late)
            return sum((r["min"] - mx) * (r[key] - my) for r in late) / var * 60 * scale if var else 0.0

        print(f"\nmean daemon CPU {cpu:.2f}% of a core, BPF programs {bpf:.2f}%;"
              f" RssAnon slope from minute 5 {slope_mb_per_hour('rss', 1 / 1024):.2f} MB/hour,"
              f" peak {max(r['rss'] for r in rows) / 1024:.1f} MB;"
              f" heap in use {slope_mb_per_hour('heap', 1e-6):+.2f} MB/hour,"
              f" held free {slope_mb_per_hour('heap_free', 1e-6):+.2f} MB/hour;"
              f" {rows[-1]['windows']} windows written, {rows[-1]['lost']} samples lost;"
              f" store {rows[-1]['disk'] / 1e6:.1f} MB of {a.max_size}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
