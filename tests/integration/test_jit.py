"""JIT code named from /tmp/perf-PID.map: Node under --perf-basic-prof,
on a CPU-bound script (workloads/dbg-jit.js) whose time goes to two JS
functions. The map grows while the recording runs (the optimized code is
made after the recording starts), so it must be read again when an address
falls outside what was read. In a container (PID and mount namespaces, its
own /tmp) the map is the namespace's /tmp/perf-1.map.

With the map, most samples end in a `NAME_[j]` frame whose NAME is a line
of the map, verbatim, naming dbgJitHot or dbgJitOuter; few leaves stay
unnamed. Without it (no --perf-basic-prof), those samples end in an
unnamed frame (`[unknown]_[j]`: JIT code without a name): no JS name
appears.

Python 3.12+ -X perf maps are tested in test_unwind_python.py: its
trampolines are only reached by unwinding through _PyEval_EvalFrameDefault,
which pyenv builds without frame pointers, so the test is about unwinding
through the trampolines as much as about naming them."""
import os
import subprocess

from cprof_test import LineReader, Test, kill_and_wait
from debug_util import user

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workloads", "dbg-jit.js")


def start_node(t, *flags):
    # node leaves isolate-*-v8.log files in its working directory
    p = subprocess.Popen(["node", *flags, SCRIPT, "0"], stdout=subprocess.PIPE, bufsize=0,
                         cwd=t.tmp)
    t.procs.append(p)
    line = LineReader(p.stdout.fileno()).read(20)
    t.require(line is not None and line.startswith("dbg-jit: ready pid "),
              f"node {' '.join(flags)} dbg-jit.js started", f"first line: {line!r}")
    return p


def perf_maps():
    """PIDs of the /tmp/perf-PID.map files there are."""
    return [int(n[5:-4]) for n in os.listdir("/tmp")
            if n.startswith("perf-") and n.endswith(".map") and n[5:-4].isdigit()]


def map_names(pid_or_path):
    path = pid_or_path if isinstance(pid_or_path, str) else f"/tmp/perf-{pid_or_path}.map"
    names = set()
    with open(path, errors="replace") as fh:
        for line in fh:
            parts = line.rstrip("\n").split(" ", 2)
            if len(parts) == 3:
                names.add(parts[2])
    return names


def unnamed_leaf(s):
    u = user(s)
    return len(u) < 2 or u[-1].startswith("[")


def with_map(t, f, names, what):
    p = f.of("node")
    total = p.total()
    jit = p.where(lambda s: any(x.endswith("_[j]") and "dbgJit" in x for x in s))
    t.check(jit.total() >= 0.7 * total,
            f"{what}: {jit.total()} of {total} samples have a dbgJit..._[j] frame (want >= 70%)",
            p.top())
    leaf = p.where(lambda s: user(s)[-1].endswith("_[j]") and "dbgJit" in user(s)[-1])
    t.check(leaf.total() >= 0.6 * total,
            f"{what}: {leaf.total()} of {total} samples end in a dbgJit..._[j] frame "
            f"(want >= 60%)", p.top())
    # unnamed JIT frames ([unknown]_[j]) are counted below
    js = sorted({x for x in p.frames() if x.endswith("_[j]") and not x.startswith("[")})
    bad = [x for x in js if x[:-4] not in names]
    t.check(js and not bad, f"{what}: the {len(js)} named _[j] frames are names of the map, "
            "verbatim", "\n".join(bad[:10]))
    un = p.where(unnamed_leaf).total()
    t.check(un <= 0.1 * total,
            f"{what}: {un} of {total} samples end in an unnamed frame (want <= 10%)", p.top())


def body(t):
    pids = []
    try:
        # launched by cprof: the map does not exist when recording starts
        out = t.path("launched.folded")
        before = set(perf_maps())
        r = t.record(["-d", "3", "-F", "499", "-o", out, "--", "node", "--perf-basic-prof",
                      SCRIPT, "0"])
        t.require(r.rc == 0, f"record -- node --perf-basic-prof exits 0 (got {r.rc})", r.stderr)
        # other node processes on the machine may write maps too: ours
        # names this script
        new = sorted(pid for pid in set(perf_maps()) - before
                     if any(SCRIPT in n for n in map_names(pid)))
        t.require(len(new) == 1, "the launched node wrote a /tmp/perf-PID.map", new)
        pid = new[0]
        pids.append(pid)
        with_map(t, t.folded(out), map_names(pids[-1]), "launched node")

        # by --pid, right after it starts, on the perf backend
        p = start_node(t, "--perf-basic-prof")
        pids.append(p.pid)
        out = t.path("pid.folded")
        r = t.record(["--backend", "perf", "-d", "3", "-F", "499", "--pid", p.pid, "-o", out])
        t.require(r.rc == 0, f"record --pid node (perf backend) exits 0 (got {r.rc})", r.stderr)
        with_map(t, t.folded(out), map_names(p.pid), "node by --pid, perf backend")
        p.kill()
        p.wait()

        # in a container: the map is /tmp/perf-1.map on the namespace's own
        # /tmp, read through /proc/PID/root with the pid it has in there
        c = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "--mount",
                              "--mount-proc", "--propagation", "private", "sh", "-c",
                              # the script is copied into the new /tmp: the
                              # checkout may itself be under /tmp (a CI clone)
                              f"s=$(cat '{SCRIPT}') && mount -t tmpfs none /tmp && "
                              "printf '%s\\n' \"$s\" > /tmp/dbg-jit.js && "
                              "exec node --perf-basic-prof /tmp/dbg-jit.js 0"],
                             stdout=subprocess.PIPE, bufsize=0, cwd=t.tmp)
        t.procs.append(c)
        line = LineReader(c.stdout.fileno()).read(20)
        t.require(line == "dbg-jit: ready pid 1", "contained node is pid 1 inside", repr(line))
        with open(f"/proc/{c.pid}/task/{c.pid}/children") as fh:
            inner = int(fh.read().split()[0])
        t.check(not os.path.exists("/tmp/perf-1.map"), "the host has no /tmp/perf-1.map")
        out = t.path("contained.folded")
        r = t.record(["-d", "3", "-F", "499", "--pid", inner, "-o", out])
        t.require(r.rc == 0, f"record --pid of contained node exits 0 (got {r.rc})", r.stderr)
        with_map(t, t.folded(out), map_names(f"/proc/{inner}/root/tmp/perf-1.map"),
                 "contained node")
        kill_and_wait(c)

        # no map: the JIT samples are unnamed, never named by anything else
        p = start_node(t)
        pids.append(p.pid)
        t.check(not os.path.exists(f"/tmp/perf-{p.pid}.map"), "without the flag node writes no map")
        out = t.path("nomap.folded")
        r = t.record(["-d", "3", "-F", "499", "--pid", p.pid, "-o", out])
        t.require(r.rc == 0, f"record --pid node without a map exits 0 (got {r.rc})", r.stderr)
        f = t.folded(out).of("node")
        # JIT code is still JIT code (anonymous executable memory), so an
        # unnamed _[j] frame is right; a name is not
        odd = sorted(x for x in f.frames() if "dbgJit" in x or
                     (x.endswith("_[j]") and not x.startswith("[")))
        t.check(not odd, "no map: no JS name, any _[j] frame is unnamed ([...]_[j])", odd[:10])
        un = f.where(unnamed_leaf).total()
        t.check(un >= 0.6 * f.total(),
                f"no map: {un} of {f.total()} samples end in an unnamed frame (want >= 60%)",
                f.top())
        p.kill()
        p.wait()
    finally:
        for pid in pids:
            try:
                os.unlink(f"/tmp/perf-{pid}.map")
            except FileNotFoundError:
                pass


Test("jit").run(body)
