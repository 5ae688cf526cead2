"""cprofd's continuous profile: READY through NOTIFY_SOCKET; a window per
second for targets matched by comm, by pid and by cgroup, each holding its
own workload's frames; a restarted target picked up again; SIGHUP with a
broken config keeping the old one, and a good one applying a size budget
that retention holds; SIGTERM writing the last window and exiting 0 within
5 s; SIGKILL leaving no partial window visible."""
import os
import shutil
import signal
import time

from cprof_test import Test, Fatal
from cprofd_util import Daemon, WINDOW_RE, window_samples, window_text

CONFIG = """\
[cprofd]
frequency = 199
window = 1
output-dir = @OUT@
socket = @SOCK@
outputs = svg
max-size = 0

[target bycomm]
comm = hot

[target bypid]
pid = {pid}

[target bycg]
cgroup = {cgroup}
"""


def cgroup2_root():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            sep = parts.index("-")
            if parts[sep + 1] == "cgroup2":
                return parts[4]
    raise Fatal("no cgroup2 mount (CI machines have one at /sys/fs/cgroup/unified)")


def body(t):
    # three copies of the hot workload, told apart by their names
    hot_pid_copy = t.path("hotpid")
    hot_cg_copy = t.path("hotcg")
    shutil.copy(t.workload("hot"), hot_pid_copy)
    shutil.copy(t.workload("hot"), hot_cg_copy)
    a = t.start("hot")
    b = t.start_path(hot_pid_copy, "hot")
    root = cgroup2_root()
    cg = f"/cprof-test-{os.getpid()}"
    os.makedirs(root + cg, exist_ok=True)
    try:
        c = t.start_path(hot_cg_copy, "hot")
        with open(root + cg + "/cgroup.procs", "w") as f:
            f.write(str(c.ready_pid))
        run(t, a, b, c, cg)
    finally:
        for p in t.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        try:
            os.rmdir(root + cg)
        except OSError:
            pass


def run(t, a, b, c, cg):
    d = Daemon(t, CONFIG.format(pid=b.ready_pid, cgroup=cg))
    t0 = time.monotonic()
    # a watchdog of 1 s, as WatchdogSec=1 would set: pings every 0.5 s
    d.start(watchdog_usec=1000000)
    t.check(time.monotonic() - t0 < 10, f"READY within 10 s ({time.monotonic() - t0:.1f} s)")
    t.check(d.wait_message("WATCHDOG=1", 3) and d.wait_message("WATCHDOG=1", 1.5),
            "WATCHDOG=1 every half of WATCHDOG_USEC", d.messages)

    for target in ("bycomm", "bypid", "bycg"):
        # the first window is what was left of a second at the start
        w = d.wait_windows(target, 3, 15)
        t.require(len(w) >= 3, f"{target}: windows appear ({len(w)})", d.stderr())
        # the newest window may be the one being written
        last = w[-2]
        t.check(WINDOW_RE.match(os.path.basename(last)), f"{target}: named YYYYMMDDTHHMMSSZ.folded.gz "
                f"({os.path.basename(last)})")
        n = window_samples(last)
        hot = window_samples(last, "hot_a")
        # 199 Hz for 1 s: ~199 samples on an idle machine, a quarter on a busy one
        t.check(n > 20 and hot > 0.5 * n, f"{target}: a window holds its workload ({hot} of {n} in hot_a)",
                window_text(last)[:2000])
        # (the last window's svg may still be being written)
        t.check(os.path.exists(w[-2][:-len(".folded.gz")] + ".svg"), f"{target}: the svg output is there too")
    # each target only its own process: the process frame is the comm
    procs = {}
    for target, comm in (("bycomm", "hot"), ("bypid", "hotpid"), ("bycg", "hotcg")):
        text = window_text(d.windows(target)[-1])
        procs[target] = {l.split(";", 1)[0] for l in text.splitlines()}
        t.check(procs[target] == {comm}, f"{target}: only '{comm}' in its windows ({procs[target]})")

    # a restarted target is picked up again within a window
    a.kill()
    a.wait()
    time.sleep(1.5)
    before = set(d.windows("bycomm"))
    a2 = t.start("hot")
    deadline = time.monotonic() + 8
    got = 0
    while time.monotonic() < deadline and got == 0:
        time.sleep(0.5)
        new = [w for w in d.windows("bycomm") if w not in before]
        # the first new window may have started before the restart
        got = max([window_samples(w, "hot_a") for w in new[1:]] or [0])
    t.check(got > 0, f"the restarted 'hot' is sampled again ({got} samples in a later window)", d.stderr())
    # matched at its exec, it is logged at the first scan after its first
    # second (short-lived ones are not logged one by one)
    deadline = time.monotonic() + 4
    while f"sampling process {a2.ready_pid}" not in d.stderr() and time.monotonic() < deadline:
        time.sleep(0.2)
    t.check(f"sampling process {a2.ready_pid}" in d.stderr(), "the log says the new process is sampled",
            d.stderr())

    # SIGHUP with a broken config: reported, the old one stays
    with open(d.config) as f:
        good = f.read()
    with open(d.config, "w") as f:
        f.write(good + "\n[cprofd]\nfrequency = many\n")
    n_before = len(d.windows("bypid"))
    d.proc.send_signal(signal.SIGHUP)
    time.sleep(2.5)
    t.check(d.proc.poll() is None, "cprofd survives a broken config on SIGHUP")
    t.check("keeping the configuration in force" in d.stderr(), "the broken config is reported",
            d.stderr())
    t.check(len(d.windows("bypid")) > n_before, "windows go on with the old config")

    # a good config with a size budget: retention deletes the oldest
    usage = sum(os.path.getsize(p) for p in d.windows("bypid") + d.windows("bycomm") + d.windows("bycg"))
    with open(d.config, "w") as f:
        f.write(good.replace("max-size = 0", "max-size = 40K").replace("outputs = svg", "outputs = none"))
    oldest = d.windows("bypid")[0]
    mark = len(d.messages)
    d.proc.send_signal(signal.SIGHUP)
    t.check(d.wait_message("RELOADING=1", 5, since=mark) and d.wait_message("READY=1", 5, since=mark),
            "a reload is RELOADING=1, then READY=1", d.messages[mark:])
    time.sleep(2.5)
    files = [os.path.join(dp, f) for dp, _, fs in os.walk(d.out) for f in fs]
    total = sum(os.path.getsize(p) for p in files)
    t.check(total <= 40 * 1024, f"the store holds its 40K budget ({total} bytes, was {usage} in windows)",
            "\n".join(files))
    t.check(not os.path.exists(oldest), "the oldest window went first")
    t.check(len(d.windows("bypid")) >= 1, "the newest windows stay")

    # SIGTERM: the partial window is written, exit 0 within 5 s
    n_before = {tg: len(d.windows(tg)) for tg in ("bycomm", "bypid", "bycg")}
    time.sleep(0.5)
    t0 = time.monotonic()
    rc = d.stop(signal.SIGTERM, timeout=10)
    took = time.monotonic() - t0
    t.check(rc == 0 and took < 5, f"SIGTERM: exit 0 within 5 s (rc {rc}, {took:.1f} s)", d.stderr())
    grew = [tg for tg in n_before if len(d.windows(tg)) > n_before[tg]]
    t.check(len(grew) >= 2, f"SIGTERM writes the current window ({grew})", d.stderr())

    # SIGKILL in the middle of everything: no partial window is visible
    d2 = Daemon(t, CONFIG.format(pid=b.ready_pid, cgroup=cg), name="cprofd-kill")
    d2.start()
    d2.wait_windows("bypid", 1, 10)
    # windows end on the second: this is about when the next ones are written
    time.sleep(1 - time.time() % 1)
    d2.proc.kill()
    d2.proc.wait()
    bad = []
    for target in ("bycomm", "bypid", "bycg"):
        for p in d2.windows(target):
            try:
                window_text(p)
            except Exception as e:
                bad.append(f"{p}: {e}")
    names = [f for dp, _, fs in os.walk(d2.out) for f in fs]
    t.check(not bad and all(not f.startswith(".") for f in names),
            f"after SIGKILL every window file is whole ({len(names)} files)", "\n".join(bad + names))


def start_path(t, path, name):
    """Starts a copy of workload `name` from path (its comm is the copy's name)."""
    import subprocess
    from cprof_test import LineReader
    p = subprocess.Popen([path], stdout=subprocess.PIPE, bufsize=0)
    t.procs.append(p)
    p.lines = LineReader(p.stdout.fileno())
    line = p.lines.read(10)
    t.require(line is not None and line.startswith(f"{name}: ready pid "), f"{path} started")
    p.ready_pid = int(line.split()[-1])
    return p


Test.start_path = start_path
Test("cprofd-windows").run(body)
