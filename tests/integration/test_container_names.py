"""Names of a process in its own mount (and PID) namespace, as in a
container: its binary lives on a tmpfs only that namespace has, so it is
read through /proc/PID (map_files, or root with a device/inode check),
never by the path the host would resolve. dbg-hot's functions are static:
they are named only from the file's .symtab (or its debug file).

Three containers, each recorded from the host on both backends:
- the binary's directory does not exist outside the namespace
- the path exists outside too, holding the decoy build (same layout,
  other names, other build-id): a profiler that opens the host's path
  prints decoy_... names
- a stripped binary with its debug file beside it, both inside only
and once more by cprof without the capabilities /proc/PID/map_files needs
(CAP_SYS_ADMIN, CAP_CHECKPOINT_RESTORE), through /proc/PID/root."""
import os
import re
import signal
import subprocess
import time

import debug_util as du
from cprof_test import Test, kill_and_wait

UNSHARE = ["unshare", "--pid", "--fork", "--kill-child", "--mount", "--mount-proc",
           "--propagation", "private"]


def contain(t, mnt, setup):
    """Starts dbg-hot in new PID and mount namespaces after mounting a tmpfs
    on mnt there and running the shell lines setup (which put dbg-hot in
    mnt). Returns (unshare's Popen, the workload's host pid)."""
    script = t.path(os.path.basename(mnt) + ".sh")
    with open(script, "w") as fh:
        fh.write(f"set -e\nmount -t tmpfs none {mnt}\n{setup}\nexec {mnt}/dbg-hot 0\n")
    c = subprocess.Popen(UNSHARE + ["sh", script], stdout=subprocess.PIPE, text=True)
    t.procs.append(c)
    line = c.stdout.readline()
    t.require(line.startswith("dbg-hot: ready pid 1"), f"{mnt}: contained dbg-hot is pid 1 "
              "inside", line)
    for _ in range(100):
        pids = subprocess.run(["pgrep", "-f", f"^{mnt}/dbg-hot"], capture_output=True,
                              text=True).stdout.split()
        if pids:
            return c, int(pids[-1])
        time.sleep(0.05)
    raise AssertionError(f"no host pid for {mnt}/dbg-hot")


def record_both(t, pid, what):
    slug = re.sub(r"\W+", "-", what)
    for backend in ("bpf", "perf"):
        f, r = du.record(t, ["--backend", backend, "-d", "2", "-F", "499", "--pid", pid],
                         t.path(f"{slug}-{backend}.folded"), f"{what}, {backend}")
        du.named(t, f, f"{what}, {backend}", r)
    # without map_files: through /proc/PID/root, where the file is the
    # mapped one (same device and inode)
    f, r = du.record(t, ["-d", "2", "-F", "499", "--pid", pid], t.path(f"{slug}-nomapfiles.folded"),
                     f"{what}, no CAP_SYS_ADMIN", wrap=du.NO_MAP_FILES)
    du.named(t, f, f"{what}, no CAP_SYS_ADMIN", r)


def body(t):
    os.environ.pop("DEBUGINFOD_URLS", None)
    src, decoy = t.workload("dbg-hot"), t.workload("dbg-hot-decoy")
    stripped, debug = du.split(src, t.path("split"))
    cases = [
        ("inside only", t.path("inside"), f"cp {src} $M/dbg-hot", None),
        ("shadowing the decoy", t.path("shadow"), f"cp {src} $M/dbg-hot", decoy),
        ("stripped, debug file beside", t.path("split-inside"),
         f"cp {stripped} $M/dbg-hot\ncp {debug} $M/dbg-hot.debug", None),
    ]
    for what, mnt, setup, outside in cases:
        os.makedirs(mnt)
        if outside:
            du.place(outside, os.path.join(mnt, "dbg-hot"))
            os.chmod(os.path.join(mnt, "dbg-hot"), 0o755)
        c, pid = contain(t, mnt, f"M={mnt}\n{setup}")
        try:
            if outside:
                t.check(du.build_id(os.path.join(mnt, "dbg-hot")) !=
                        du.build_id(f"/proc/{pid}/root{mnt}/dbg-hot"),
                        f"{what}: the host's path is another file than the process runs")
            else:
                t.check(not os.path.exists(os.path.join(mnt, "dbg-hot")),
                        f"{what}: the binary's path does not exist outside")
            record_both(t, pid, what)
        finally:
            os.kill(pid, signal.SIGKILL)
            kill_and_wait(c)


Test("container-names").run(body)
