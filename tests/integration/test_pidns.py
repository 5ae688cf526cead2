"""PID namespaces: cprof inside one (a container, `unshare --pid`), nested
ones, and cprof on the host profiling a process inside a PID and mount
namespace whose binary exists only there. On both backends the samples
must be there and named: the BPF program sees pids of the initial
namespace and must translate them to cprof's."""
import os
import signal
import subprocess
import time

from cprof_test import Test, kill_and_wait

UNSHARE = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]


def hot_shares(t, path, what, proc="hot"):
    f = t.folded(path)
    hot = f.of(proc)
    a, b = hot.with_frame("hot_a").total(), hot.with_frame("hot_b").total()
    t.check(a + b >= 0.7 * hot.total() and a > 2 * b,
            f"{what}: hot_a {a} and hot_b {b} of {hot.total()} samples")
    t.check(all(s[0] == proc and "main" in s for s, _ in hot.stacks
                if "hot_a" in s or "hot_b" in s),
            f"{what}: stacks rooted at {proc}, through main")


def body(t):
    hot = t.workload("hot")
    for backend in ("bpf", "perf"):
        for depth in (1, 2):
            out = t.path(f"ns{depth}-{backend}.folded")
            cmd = UNSHARE * depth + [t.cprof, "record", "--backend", backend, "-d", "2", "-F", "499",
                                     "-o", out, "--", "sh", "-c", f"{hot} 5; true"]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=t.tmp)
            # sh forks hot: the fork event's child pid must be translated too
            t.require(r.returncode == 0, f"{backend}: record of sh -> hot inside {depth} PID namespace(s) "
                      f"exits 0 (got {r.returncode})", r.stderr)
            hot_shares(t, out, f"{backend}, {depth} namespace(s)")

    # on the host, a process in a PID and mount namespace: its binary is
    # on a tmpfs mounted only inside, so it is found through /proc/PID
    script = t.path("container.sh")
    with open(script, "w") as fh:
        fh.write(f"mount -t tmpfs none /mnt\ncp {hot} /mnt/contained\n"
                 "exec /mnt/contained 0\n")
    c = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc",
                          "--propagation", "private", "sh", script],
                         stdout=subprocess.PIPE, text=True)
    t.procs.append(c)
    line = c.stdout.readline()
    t.require(line.startswith("hot: ready pid 1"), "contained workload is pid 1 inside",
              line)
    pid = None
    for _ in range(50):
        out = subprocess.run(["pgrep", "-f", "^/mnt/contained"], capture_output=True,
                             text=True).stdout.split()
        if out:
            pid = int(out[-1])
            break
        time.sleep(0.05)
    t.require(pid, "found the contained workload's host pid")
    try:
        for backend in ("bpf", "perf"):
            out = t.path(f"host-{backend}.folded")
            r = t.record(["--backend", backend, "-d", "2", "-F", "499", "--pid", pid, "-o", out])
            t.require(r.rc == 0, f"{backend}: host records the contained pid {pid} "
                      f"(got {r.rc})", r.stderr)
            hot_shares(t, out, f"{backend}, host -> container", proc="contained")
    finally:
        # the namespace ends with its init
        os.kill(pid, signal.SIGKILL)
        kill_and_wait(c)


Test("pidns").run(body)
