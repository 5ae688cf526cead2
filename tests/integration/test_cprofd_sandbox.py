"""cprofd under the sandbox of packaging/cprofd.service, emulated without
systemd (PID 1 here is not systemd): the unit's capability bounding set,
no_new_privs, Group=, UMask=, StateDirectoryMode= and RuntimeDirectoryMode=
are read from the unit itself, and its file-system settings
(ProtectSystem=strict, ProtectHome=read-only, PrivateTmp=yes,
PrivateDevices=yes, ProtectProc=ptraceable) are rebuilt with a private
mount namespace. The workload runs as nobody from a 0700 directory in
/home, a second copy from a binary deleted after it started.

With the unit's capabilities: READY arrives, every frame is named (the
workload's own functions and the kernel's), the windows, the target
directories and the socket get the unit's group and modes, `cprof ctl
status` works, and SIGTERM ends the daemon with 0. Then each capability is
taken away in turn, and what it is in the unit for breaks: that is the
proof that none is there for nothing."""
import grp
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

from cprof_test import Test, Fatal
from cprofd_util import WINDOW_RE, window_text

UNIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                    "packaging", "cprofd.service")

# the unit's file-system settings this test rebuilds by hand; another
# value in the unit means the emulation below must change with it
EMULATED = {
    "ProtectSystem": "strict",
    "ProtectHome": "read-only",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectProc": "ptraceable",
    "NoNewPrivileges": "yes",
}

CONFIG = """\
[cprofd]
frequency = 199
window = 1
output-dir = {state}
socket = {run}/cprofd.sock
group = {group}
outputs = svg

[target keep]
comm = sbxkeep

[target gone]
comm = sbxgone
"""

# Inside `unshare -m`: the mounts of the unit's sandbox, then the daemon
# with the unit's credentials. The state and runtime directories stay
# writable as bind mounts of their own; everything else is read-only.
SANDBOX = """\
set -e
mount --bind "$STATE" "$STATE"
mount --bind "$RUN" "$RUN"
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/tmp
mount -t tmpfs -o mode=0755 tmpfs /dev
for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
        IFS=: read -r n a b <<< "$d"
        mknod -m 0666 "/dev/$n" c "$a" "$b"
done
mount -t proc -o hidepid=ptraceable proc /proc
mount -o remount,bind,ro /
if mountpoint -q /home; then mount -o remount,bind,ro /home; fi
umask "$UMASK"
exec setpriv --no-new-privs --regid "$GROUP" --clear-groups --inh-caps=-all \
        --bounding-set=-all,"$CAPS" "$RUN/cprofd" --config "$RUN/cprofd.conf"
"""


def read_unit(path):
    """The [Service] settings: key -> list of values, in order."""
    out = {}
    section = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line
                continue
            if section == "[Service]" and "=" in line:
                k, _, v = line.partition("=")
                out.setdefault(k, []).append(v)
    return out


def last(unit, key):
    v = unit.get(key)
    return v[-1] if v else None


class Sandboxed:
    """One run of cprofd in the emulated sandbox."""

    def __init__(self, t, env, caps):
        self.t = t
        self.env = env
        self.caps = caps
        self.state, self.run = env["state"], env["run"]
        for d, mode in ((self.state, env["state_mode"]), (self.run, env["run_mode"])):
            shutil.rmtree(d, ignore_errors=True)
            os.mkdir(d)
            os.chown(d, 0, env["gid"])
            os.chmod(d, mode)
        shutil.copy(os.environ["CPROFD"], os.path.join(self.run, "cprofd"))
        with open(os.path.join(self.run, "cprofd.conf"), "w") as f:
            f.write(CONFIG.format(state=self.state, run=self.run, group=env["group"]))
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(os.path.join(self.run, "notify.sock"))
        self.messages = []
        threading.Thread(target=self._read, daemon=True).start()
        self.log = t.path(f"stderr-{len(os.listdir(t.tmp))}.log")
        setpriv_caps = ",".join("+" + c.lower().removeprefix("cap_") for c in caps) or "-all"
        run_env = dict(os.environ, STATE=self.state, RUN=self.run, UMASK=env["umask"],
                       GROUP=env["group"], CAPS=setpriv_caps,
                       NOTIFY_SOCKET=os.path.join(self.run, "notify.sock"))
        run_env.pop("JOURNAL_STREAM", None)
        with open(self.log, "w") as logf:
            self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private",
                                          "bash", "-c", SANDBOX],
                                         stdout=subprocess.DEVNULL, stderr=logf, env=run_env)
        t.procs.append(self.proc)

    def _read(self):
        while True:
            try:
                data = self.notify.recv(65536).decode()
            except OSError:
                return
            self.messages.extend(data.split("\n"))

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if "READY=1" in self.messages:
                return True
            time.sleep(0.05)
        return "READY=1" in self.messages

    def windows(self, target):
        d = os.path.join(self.state, target)
        if not os.path.isdir(d):
            return []
        return sorted(os.path.join(d, n) for n in os.listdir(d) if WINDOW_RE.match(n))

    def wait_windows(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if all(len(self.windows(tg)) >= n for tg in ("keep", "gone")):
                return True
            time.sleep(0.1)
        return False

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.notify.close()
        return rc

    def stderr(self):
        with open(self.log) as f:
            return f.read()

    def frames(self, target):
        """Every frame of the target's windows, with its samples."""
        out = {}
        for w in self.windows(target):
            for line in window_text(w).splitlines():
                stack, _, count = line.rpartition(" ")
                for fr in set(stack.split(";")):
                    out[fr] = out.get(fr, 0) + int(count)
        return out


def named_kernel(frames):
    return [f for f in frames if f.endswith("_[k]") and not f.startswith("[")]


def body(t):
    if os.geteuid() != 0:
        raise Fatal("needs root (mount namespaces, setpriv, perf events)")
    unit = read_unit(UNIT)
    for k, v in EMULATED.items():
        t.require(last(unit, k) == v, f"the unit sets {k}={v}, as emulated here",
                  f"the unit says {k}={last(unit, k)}: change this test's sandbox with it")
    caps = last(unit, "CapabilityBoundingSet").split()
    t.require(caps and all(c.startswith("CAP_") for c in caps),
              f"the unit's bounding set: {' '.join(caps)}")
    t.require(last(unit, "Group") == "cprof", "the unit runs with Group=cprof")

    tag = f"cprofsbx{os.getpid()}"
    subprocess.run(["groupadd", "-r", tag], check=True)
    home = f"/home/{tag}"
    env = {
        "group": tag,
        "gid": grp.getgrnam(tag).gr_gid,
        "umask": last(unit, "UMask"),
        "state": f"/var/lib/{tag}",
        "state_mode": int(last(unit, "StateDirectoryMode"), 8),
        "run": f"/run/{tag}",
        "run_mode": int(last(unit, "RuntimeDirectoryMode"), 8),
    }
    workloads = []
    try:
        os.makedirs(home, mode=0o755)
        for name in ("sbxkeep", "sbxgone"):
            d = os.path.join(home, name)
            os.mkdir(d, 0o700)
            shutil.copy(t.workload("syscalls"), os.path.join(d, name))
            os.chown(d, 65534, 65534)
            os.chown(os.path.join(d, name), 65534, 65534)
            p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                  os.path.join(d, name), "0"], stdout=subprocess.PIPE, bufsize=0)
            t.procs.append(p)
            line = p.stdout.readline().decode()
            t.require(line.startswith("syscalls: ready pid "), f"workload {name} runs as nobody",
                      line)
            workloads.append(p)
        os.unlink(os.path.join(home, "sbxgone", "sbxgone"))
        run(t, env, caps)
    finally:
        for p in workloads:
            p.kill()
            p.wait()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(env["state"], ignore_errors=True)
        shutil.rmtree(env["run"], ignore_errors=True)
        subprocess.run(["groupdel", tag])


def run(t, env, caps):
    d = Sandboxed(t, env, caps)
    t.require(d.wait_ready(), "READY=1 from cprofd in the unit's sandbox", d.stderr())
    sock = os.path.join(d.run, "cprofd.sock")
    st = os.stat(sock)
    t.check((st.st_mode & 0o7777, st.st_gid) == (0o666, env["gid"]),
            "the socket is 0666 and has the unit's group (without CAP_CHOWN)",
            f"mode {st.st_mode & 0o7777:o}, gid {st.st_gid}")
    got = d.wait_windows(2)
    ctl = subprocess.run([t.cprof, "ctl", "--socket", sock, "status"], capture_output=True,
                         text=True, timeout=30)
    t.check(ctl.returncode == 0 and "keep" in ctl.stdout, "cprof ctl status", ctl.stdout + ctl.stderr)
    rc = d.stop()
    t.check(rc == 0, f"SIGTERM: exit status {rc}", d.stderr())
    t.require(got, "windows of both targets", d.stderr())

    keep, gone = d.frames("keep"), d.frames("gone")
    t.check("spin_getppid" in keep, "the workload's functions are named (0700 directory of nobody)",
            sorted(keep)[:20])
    t.check("spin_getppid" in gone, "a deleted binary's functions are named", sorted(gone)[:20])
    t.check(named_kernel(keep), "kernel frames are named", sorted(keep)[:20])
    bad = []
    for target in ("keep", "gone"):
        td = os.path.join(d.state, target)
        st = os.stat(td)
        if (st.st_mode & 0o777, st.st_gid) != (0o750, env["gid"]):
            bad.append(f"{td}: {st.st_mode & 0o777:o} gid {st.st_gid}")
        for n in os.listdir(td):
            st = os.stat(os.path.join(td, n))
            if (st.st_mode & 0o777, st.st_gid) != (0o640, env["gid"]):
                bad.append(f"{n}: {st.st_mode & 0o777:o} gid {st.st_gid}")
    t.check(not bad, "target directories 0750 and windows 0640, in the unit's group", "\n".join(bad))

    # Each capability, taken away: what it is there for stops working.
    def without(cap):
        d = Sandboxed(t, env, [c for c in caps if c != cap])
        ready = d.wait_ready()
        if ready:
            d.wait_windows(2, timeout=4)
        d.stop()
        return d

    expect = {
        "CAP_SYS_PTRACE": ("no process is sampled",
                           lambda d: not d.frames("keep") and not d.frames("gone")),
        "CAP_BPF": ("the perf backend instead of BPF",
                    lambda d: "perf backend" in d.stderr()),
        "CAP_PERFMON": ("the perf backend, and no kernel frames",
                        lambda d: "perf backend" in d.stderr()
                        and not any(f.endswith("_[k]") for f in d.frames("keep"))),
        "CAP_DAC_READ_SEARCH": ("the workload's functions unnamed",
                                lambda d: d.frames("keep") and "spin_getppid" not in d.frames("keep")),
        "CAP_CHECKPOINT_RESTORE": ("a deleted binary's functions unnamed, the other's named",
                                   lambda d: "spin_getppid" in d.frames("keep")
                                   and d.frames("gone") and "spin_getppid" not in d.frames("gone")),
    }
    for cap in caps:
        t.require(cap in expect, f"{cap}: this test knows what it is for",
                  "a capability added to the unit needs a check here")
        what, broken = expect[cap]
        d = without(cap)
        t.check(broken(d), f"without {cap}: {what}",
                f"keep: {sorted(d.frames('keep'))[:12]}\ngone: {sorted(d.frames('gone'))[:12]}\n"
                + d.stderr())


Test("cprofd-sandbox").run(body)
