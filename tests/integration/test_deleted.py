"""A binary deleted while it runs, as an upgrade does: dbg-hot copied to a
scratch directory, started, then its file unlinked, and in a second process
also replaced by another file of the same name (the decoy build: same
layout, other names, other build-id). Recorded by --pid on both backends,
the names are the original binary's (its static functions, from the file
the process maps), never the decoy's, never unnamed. By cprof without the
capabilities /proc/PID/map_files needs, never the decoy's either: the file
at the path is not the one mapped (another inode)."""
import os
import shutil
import signal
import subprocess

import debug_util as du
from cprof_test import LineReader, Test, kill_and_wait


def start(t, binary):
    p = subprocess.Popen([binary, "0"], stdout=subprocess.PIPE, bufsize=0)
    t.procs.append(p)
    line = LineReader(p.stdout.fileno()).read(10)
    t.require(line is not None and line.startswith("dbg-hot: ready pid "),
              f"{binary} started", f"first line: {line!r}")
    return p


def body(t):
    os.environ.pop("DEBUGINFOD_URLS", None)
    src, decoy = t.workload("dbg-hot"), t.workload("dbg-hot-decoy")
    for what, replace in (("deleted", False), ("deleted and replaced", True)):
        d = t.path(what.replace(" ", "-"))
        os.makedirs(d)
        binary = os.path.join(d, "dbg-hot")
        shutil.copy(src, binary)
        p = start(t, binary)
        try:
            os.unlink(binary)
            if replace:
                # a new file (another inode) under the old name
                shutil.copy(decoy, binary)
            with open(f"/proc/{p.pid}/maps") as fh:
                maps = fh.read()
            t.check(f"{binary} (deleted)" in maps, f"{what}: the maps say the file is deleted")
            for backend in ("bpf", "perf"):
                f, r = du.record(t, ["--backend", backend, "-d", "2", "-F", "499", "--pid", p.pid],
                                 t.path(f"{os.path.basename(d)}-{backend}.folded"),
                                 f"{what}, {backend}")
                du.named(t, f, f"{what}, {backend}", r)
            # without map_files the original file may be out of reach, but
            # what /proc/PID/root shows under its name (the decoy, another
            # inode) must not name it
            f, r = du.record(t, ["-d", "2", "-F", "499", "--pid", p.pid],
                             t.path(f"{os.path.basename(d)}-nomapfiles.folded"),
                             f"{what}, no CAP_SYS_ADMIN", wrap=du.NO_MAP_FILES)
            du.not_misnamed(t, f, f"{what}, no CAP_SYS_ADMIN")
        finally:
            kill_and_wait(p, signal.SIGKILL)


Test("deleted").run(body)
