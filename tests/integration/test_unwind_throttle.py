"""DWARF unwinding must not make the kernel throttle sampling: when perf
handlers take too long the kernel lowers
/proc/sys/kernel/perf_event_max_sample_rate, system-wide and silently but
for a "perf: interrupt took too long" line in the kernel log, and drops
samples. nofp-chain with 2 threads at -F 999 for 5 s on the bpf backend
with --unwind dwarf: the sysctl is unchanged, the kernel log gains no such
line, the samples are >= 90% of the CPU time the process used x 999 Hz,
and >= 99% of the user stacks are complete. Likewise for the 3,000-frame
recursion of nofp-recurse at 999 Hz (default mode): deeper than the
in-kernel walk's budget, so every sample also carries a stack copy."""
import re
import subprocess

from cprof_test import MAIN_PREFIX, THREAD_PREFIX, Test, UnwindSummary, check_unwound

RATE = "/proc/sys/kernel/perf_event_max_sample_rate"
TOO_LONG = "perf: interrupt took too long"


def max_rate():
    with open(RATE) as fh:
        return int(fh.read())


def too_long_lines(t):
    cp = subprocess.run(["dmesg"], capture_output=True, text=True, errors="replace")
    t.require(cp.returncode == 0, "dmesg can be read", cp.stderr)
    return [l for l in cp.stdout.splitlines() if TOO_LONG in l]


def record_999(t, label, opts, workload, wargs, prefixes):
    """Records WORKLOAD WARGS at 999 Hz on the bpf backend with OPTS;
    checks the samples against the CPU time the workload says it used and
    the stacks against PREFIXES"""
    r, f = t.record_ok(["--backend", "bpf", *opts, "-F", "999", "--", t.workload(workload),
                        *wargs], t.path(f"{workload}.folded"))
    s = UnwindSummary(r.stderr)
    t.require(s.line is not None, f"{label}: the summary says how many user stacks are "
              "complete", r.stderr)
    m = re.search(workload + r": cpu ([0-9.]+)", r.stdout)
    t.require(m, f"{label}: the workload said how much CPU time it used", r.stdout)
    cpu = float(m.group(1))
    # the CPU time the process used is what cprof should have sampled at
    # 999 Hz (every thread)
    want = cpu * 999
    t.check(f.total() >= 0.9 * want, f"{label}: {f.total()} samples for {cpu:.2f} s of "
            f"CPU time at 999 Hz (want >= 90% of {want:.0f}: no throttling)")
    check_unwound(t, label, f.of(workload), s, prefixes)


def body(t):
    rate0 = max_rate()
    log0 = too_long_lines(t)
    record_999(t, "nofp-chain, 2 threads, --unwind dwarf", ["--unwind", "dwarf"], "nofp-chain",
               ["5", "2"], [MAIN_PREFIX + ("alpha", "beta"),
                            THREAD_PREFIX + ("chain_thread", "alpha", "beta")])
    record_999(t, "nofp-recurse, 3,000 frames", [], "nofp-recurse", ["3"],
               [MAIN_PREFIX + ("recurse",) * 3001 + ("bottom",)])
    rate1 = max_rate()
    log1 = too_long_lines(t)
    t.check(rate1 == rate0, f"perf_event_max_sample_rate unchanged ({rate0} before, "
            f"{rate1} after)")
    new = log1[len(log0):] if log1[:len(log0)] == log0 else [l for l in log1 if l not in log0]
    t.check(not new, f"the kernel log gained no '{TOO_LONG}' line", "\n".join(new))


Test("unwind-throttle").run(body)
