"""Helpers for the tests of where names come from: split debug files,
MiniDebugInfo, debuginfod servers, and the checks on dbg-hot recordings.

The workload is dbg-hot (workloads/dbg-hot.c): its named functions are
static, so a binary stripped of .symtab is named only through a debug file
that the profiler found and accepted. dbg-hot-decoy is the same code under
other names (decoy_...) and another build-id: a debug file made from it
names the very same addresses wrongly, so accepting it shows in the output.
"""

import os
import re
import shutil
import socket
import subprocess
import threading
import time

from cprof_test import Folded, Result

PROC = "dbg-hot"
NAMES = ("dbg_spin_a", "dbg_spin_b", "dbg_run")


def run(cmd, **kw):
    """Runs a tool that must succeed; returns its stdout."""
    cp = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if cp.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {cp.returncode}: {cp.stderr}")
    return cp.stdout


def no_debuginfod_env():
    """The environment without any debuginfod server: Debian's profile.d
    sets DEBUGINFOD_URLS for login shells, and a test that does not ask for
    debuginfod must not depend on one."""
    env = dict(os.environ)
    env.pop("DEBUGINFOD_URLS", None)
    return env


def build_id(path):
    """The GNU build-id note of an ELF file, as lowercase hex."""
    m = re.search(r"Build ID: ([0-9a-f]+)", run(["readelf", "-n", path]))
    if not m:
        raise RuntimeError(f"{path} has no build-id note")
    return m.group(1)


def sections(path):
    """Section names of an ELF file."""
    out = run(["readelf", "-W", "-S", path])
    return set(re.findall(r"\]\s+(\S+)", out))


def local_funcs(path):
    """Names of the local (static) functions in an ELF file's .symtab."""
    cp = subprocess.run(["nm", "--defined-only", path], capture_output=True, text=True)
    return {l.split()[2] for l in cp.stdout.splitlines()
            if len(l.split()) == 3 and l.split()[1] == "t"}


def keep_debug(src, debug):
    """The debug file of src: DWARF and .symtab, code sections NOBITS."""
    run(["objcopy", "--only-keep-debug", src, debug])


def stripped(src, dst, debuglink=None):
    """dst is src without .symtab and DWARF; with debuglink (a debug file's
    path), a .gnu_debuglink naming its basename and its CRC."""
    run(["objcopy", "--strip-all", src, dst])
    if debuglink:
        run(["objcopy", f"--add-gnu-debuglink={debuglink}", dst])
    os.chmod(dst, 0o755)


def split(src, bindir, debuglink=True, name=PROC):
    """Copies src into bindir as a stripped binary and writes its debug file
    there too (the caller moves it where the case needs it). Returns
    (binary, debug file)."""
    os.makedirs(bindir, exist_ok=True)
    binary = os.path.join(bindir, name)
    debug = os.path.join(bindir, name + ".debug")
    keep_debug(src, debug)
    stripped(src, binary, debug if debuglink else None)
    return binary, debug


def build_id_path(debug_dir, bid):
    """Where a debug directory holds the debug file of build-id bid."""
    return os.path.join(debug_dir, ".build-id", bid[:2], bid[2:] + ".debug")


def place(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def minidebuginfo(src, dst, work):
    """dst: src stripped of .symtab and DWARF, carrying .gnu_debugdata, an
    xz-compressed ELF with the .symtab of the functions .dynsym lacks, as
    Fedora's find-debuginfo makes it (MiniDebugInfo)."""
    os.makedirs(work, exist_ok=True)
    dyn = set(run(["nm", "-D", "--defined-only", "--format=posix", src]).split("\n"))
    dyn = {l.split()[0] for l in dyn if l.strip()}
    funcs = set()
    for l in run(["nm", "--defined-only", "--format=posix", src]).splitlines():
        f = l.split()
        if len(f) >= 2 and f[1] in ("T", "t") and f[0] not in dyn:
            funcs.add(f[0])
    keep = os.path.join(work, "keep_symbols")
    with open(keep, "w") as fh:
        fh.write("".join(f"{s}\n" for s in sorted(funcs)))
    debug = os.path.join(work, "full.debug")
    mini = os.path.join(work, "mini_debuginfo")
    keep_debug(src, debug)
    run(["objcopy", "-S", "--remove-section", ".gdb_index", "--remove-section", ".comment",
         f"--keep-symbols={keep}", debug, mini])
    run(["xz", "-f", "--keep", mini])
    stripped(src, dst)
    run(["objcopy", f"--add-section", f".gnu_debugdata={mini}.xz", dst])
    return mini


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Debuginfod:
    """Debian's debuginfod serving the ELF/DWARF files under a directory,
    on a loopback port, with its database in the scratch directory."""

    def __init__(self, t, scan_dir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(t.path("debuginfod.log"), "w")
        self.proc = subprocess.Popen(
            ["debuginfod", "-F", scan_dir, "-p", str(self.port), "-d", t.path("debuginfod.sqlite"),
             "-t", "1"],
            stdout=self.log, stderr=subprocess.STDOUT, env=no_debuginfod_env())
        t.procs.append(self.proc)

    def wait_indexed(self, bid, cache, timeout=60):
        """Waits until a client gets bid's debug file from the server (the
        first scan takes seconds). cache is the probe's own cache, never
        the one the test then records with. Returns the seconds it took."""
        env = no_debuginfod_env()
        env.update(DEBUGINFOD_URLS=self.url, DEBUGINFOD_CACHE_PATH=cache, DEBUGINFOD_TIMEOUT="5")
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                return None
            cp = subprocess.run(["debuginfod-find", "debuginfo", bid], capture_output=True,
                                text=True, env=env)
            if cp.returncode == 0:
                return time.monotonic() - t0
            # a miss is cached as such: the next probe must ask again
            shutil.rmtree(cache, ignore_errors=True)
            time.sleep(0.3)
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class SilentServer:
    """A TCP server on loopback that accepts connections and never answers:
    what a debuginfod client sees of a hung server. Counts the connections
    so a test knows the client did try it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.conns = []
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def accepted(self):
        return len(self.conns)

    def stop(self):
        self.stopped = True
        self.sock.close()
        for c in self.conns:
            c.close()


# -- checks on dbg-hot recordings ---------------------------------------

def user(stack):
    """A stack without its kernel frames (an interrupt may end a stack)."""
    return tuple(x for x in stack if not x.endswith("_[k]"))


# cprof as root without the capabilities that open /proc/PID/map_files:
# it must fall back to /proc/PID/root and check the file is the mapped one
NO_MAP_FILES = ["setpriv", "--inh-caps=-sys_admin,-checkpoint_restore",
                "--bounding-set=-sys_admin,-checkpoint_restore"]


def record(t, args, out, what, wrap=(), timeout=60):
    """Runs [wrap...] cprof record ARGS -o out; on failure one failed check
    and None, so that the other cases of a test still run. Returns (Folded
    or None, Result)."""
    args = [str(a) for a in args]
    at = args.index("--") if "--" in args else len(args)
    args[at:at] = ["-o", out]
    cmd = list(wrap) + [t.cprof, "record"] + args
    t0 = time.monotonic()
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=t.tmp)
        r = Result(cmd, cp.returncode, cp.stdout, cp.stderr, time.monotonic() - t0)
    except subprocess.TimeoutExpired as e:
        r = Result(cmd, None, "", f"timed out after {timeout} s: {e.stderr!r}", timeout)
    if not t.check(r.rc == 0, f"{what}: {' '.join(cmd[len(wrap):])} exits 0 (got {r.rc})",
                   r.stderr):
        return None, r
    return t.folded(out), r

def summary_lacking(r):
    """The summary's "without symbols" lines (cprof's stderr)."""
    return [l for l in r.stderr.splitlines() if "without symbols" in l]


def named(t, f, what, r=None, proc=PROC):
    """The recording names dbg-hot's static functions with their shares:
    dbg_spin_a about 3x dbg_spin_b, both under dbg_run under main; the
    summary (when r, the Result, is given) does not say dbg-hot lacked
    symbols."""
    if f is None:
        return
    if r is not None:
        t.check(not any(proc in l for l in summary_lacking(r)),
                f"{what}: the summary does not list {proc} as without symbols", r.stderr)
    p = Folded([(user(s), c) for s, c in f.of(proc).stacks])
    a, b = p.with_frame("dbg_spin_a").total(), p.with_frame("dbg_spin_b").total()
    total = p.total()
    t.check(total > 0, f"{what}: samples of process {proc}", f.top())
    t.check(a + b >= 0.7 * total and a > 2 * b,
            f"{what}: dbg_spin_a {a} and dbg_spin_b {b} of {total} samples", p.top())
    # a sample on a spinner's first instruction (before its frame is set
    # up) may skip dbg_run: most, not all
    spin = p.where(lambda s: s[-1] in ("dbg_spin_a", "dbg_spin_b")).total()
    chain = p.where(lambda s: s[-1] in ("dbg_spin_a", "dbg_spin_b") and len(s) >= 4
                    and s[-2] == "dbg_run" and s[-3] == "main").total()
    t.check(spin and chain >= 0.95 * spin,
            f"{what}: {chain} of {spin} spinner leaves are under main;dbg_run", p.top())
    decoys = sorted(x for x in f.frames() if "decoy" in x)
    t.check(not decoys, f"{what}: no name from the decoy build", decoys)
    unnamed = p.where(lambda s: f"[{proc}]" in s or any(x.startswith(f"[{proc}+") for x in s))
    t.check(unnamed.total() <= 0.05 * total,
            f"{what}: at most 5% of samples have an unnamed {proc} frame "
            f"({unnamed.total()} of {total})", unnamed.top())


def unnamed(t, f, what, r=None, proc=PROC):
    """The recording has no name for dbg-hot's functions: its frames in the
    binary are [dbg-hot], nothing names them wrongly, and the summary (when
    r, the Result, is given) lists dbg-hot among the modules without
    symbols."""
    if f is None:
        return
    if r is not None:
        t.check(any(proc in l for l in summary_lacking(r)),
                f"{what}: the summary lists {proc} as without symbols", r.stderr)
    p = Folded([(user(s), c) for s, c in f.of(proc).stacks])
    total = p.total()
    t.check(total > 0, f"{what}: samples of process {proc}", f.top())
    got = sorted(x for x in f.frames() if any(n in x for n in NAMES) or "decoy" in x)
    t.check(not got, f"{what}: no name for the static functions", got)
    leaf = p.where(lambda s: s[-1] == f"[{proc}]").total()
    t.check(leaf >= 0.7 * total,
            f"{what}: [{proc}] leaves in {leaf} of {total} samples (want >= 70%)", p.top())


def not_misnamed(t, f, what, proc=PROC):
    """What a profiler may print when it cannot read the file a process
    runs: dbg-hot's own names or [dbg-hot] frames, never another file's
    names (the decoy's)."""
    if f is None:
        return
    p = Folded([(user(s), c) for s, c in f.of(proc).stacks])
    t.check(p.total() > 0, f"{what}: samples of process {proc}", f.top())
    decoys = sorted(x for x in f.frames() if "decoy" in x)
    t.check(not decoys, f"{what}: no name from the decoy build", decoys)
    ok = p.where(lambda s: s[-1] in NAMES or s[-1] == f"[{proc}]" or
                 s[-1].startswith(f"[{proc}+")).total()
    t.check(ok >= 0.7 * p.total(),
            f"{what}: {ok} of {p.total()} samples end in a dbg-hot name or [{proc}] "
            "(want >= 70%)", p.top())
