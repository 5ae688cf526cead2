"""cprofd's control socket through `cprof ctl`, and its pushes: status as
root; an on-demand recording by pid written by the client; a snapshot of
recent windows; a user outside the group refused, and allowed to record
only a process of their own; malformed, huge and silent requests answered
without harm; a Pyroscope receiver getting well-formed pushes, and, once
stopped, the daemon sampling on and counting what it dropped."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

from cprof_test import Test, LineReader, parse_folded
from cprofd_util import Daemon, recv_line, window_samples

CONFIG = """\
[cprofd]
frequency = 199
window = 1
output-dir = @OUT@
socket = @SOCK@
outputs = none
pyroscope-url = http://127.0.0.1:{port}
pyroscope-queue = 2

[target api]
comm = hot
"""

NOBODY = 65534


def start_receiver(t, port=0):
    here = os.path.dirname(os.path.abspath(__file__))
    log = t.path("pushes.jsonl")
    p = subprocess.Popen([sys.executable, os.path.join(here, "pyroscope_receiver.py"),
                          "--port", str(port), "--log", log],
                         stdout=subprocess.PIPE, bufsize=0)
    t.procs.append(p)
    line = LineReader(p.stdout.fileno()).read(10)
    t.require(line is not None and line.strip().isdigit(), "the Pyroscope receiver started", line)
    return p, int(line), log


def pushes(log):
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [json.loads(l) for l in f if l.strip()]


def raw_request(path, data, read_timeout=5):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(read_timeout)
    s.connect(path)
    if data is not None:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    reply = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return reply


def body(t):
    hot = t.start("hot")
    recv, port, log = start_receiver(t)
    d = Daemon(t, CONFIG.format(port=port))
    d.start()
    d.wait_windows("api", 2, 15)

    # status
    r = d.ctl("--json", "status")
    t.require(r.returncode == 0, "ctl status as root exits 0", r.stderr)
    st = json.loads(r.stdout)
    api = [x for x in st.get("targets", []) if x.get("name") == "api"]
    t.check(api and api[0]["samples"] > 0 and api[0]["processes"] >= 1,
            f"status names target api with samples and processes ({api})", r.stdout)
    t.check(st.get("rss_bytes", 0) > 0 and "cpu_s" in st and st.get("disk_bytes", 0) > 0,
            "status gives own RSS, CPU and disk use", r.stdout)
    t.check(st.get("heap_in_use_bytes", 0) > 0 and st.get("heap_free_bytes", -1) >= 0,
            "status gives the heap in use and the free memory it holds", r.stdout)
    r = d.ctl("status")
    t.check(r.returncode == 0 and "api" in r.stdout, "ctl status prints a readable status", r.stdout)

    # an on-demand recording, written by the client
    out = t.path("ondemand.folded")
    t0 = time.monotonic()
    r = d.ctl("record", "--pid", hot.ready_pid, "--duration", 2, "-F", 499, "-o", out)
    took = time.monotonic() - t0
    t.require(r.returncode == 0, f"ctl record exits 0 ({took:.1f} s)", r.stderr)
    f, errors = parse_folded(out)
    t.check(not errors and f.with_frame("hot_a").total() > 0.5 * f.total() and f.total() > 300,
            f"the on-demand profile has the workload at 499 Hz ({f.total()} samples)", f.top())
    t.check(1.5 < took < 8, f"it took about its duration ({took:.1f} s)")

    # a recording's start (loading its BPF program, ~0.3 s) runs beside
    # the loop: a status asked right after it is answered while it starts
    rec = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    rec.settimeout(10)
    rec.connect(d.sock)
    rec.sendall(json.dumps({"command": "record", "pid": int(hot.ready_pid), "duration_s": 1}).encode() + b"\n")
    t0 = time.monotonic()
    st = json.loads(raw_request(d.sock, b'{"command": "status"}\n') or b"{}")
    took = time.monotonic() - t0
    t.check(st.get("ondemand") == 1 and st.get("ondemand_starting") == 1,
            f"status is answered while an on-demand recording starts ({took * 1000:.0f} ms)", st)
    reply = recv_line(rec)
    rec.close()
    rr = json.loads(reply or b"{}")
    t.check(rr.get("ok") and rr.get("samples", 0) > 0, "and that recording is answered with samples",
            reply[:300])

    # a snapshot of recent windows
    snap = t.path("snap.svg")
    r = d.ctl("snapshot", "--target", "api", "--last", "1m", "-o", snap)
    t.check(r.returncode == 0 and os.path.exists(snap) and b"<svg" in open(snap, "rb").read(2000),
            "ctl snapshot writes an SVG of the recent windows", r.stderr)
    r = d.ctl("snapshot", "--target", "nosuch", "-o", t.path("x.svg"))
    t.check(r.returncode != 0 and "nosuch" in r.stderr and not os.path.exists(t.path("x.svg")),
            "a snapshot of an unknown target is refused, no file", r.stderr)

    # a user outside the group
    r = d.ctl("status", user=NOBODY)
    t.check(r.returncode != 0 and "permission denied" in r.stderr, "status as nobody is refused", r.stderr)
    refused_out = "/tmp/cprof-ctl-refused-%d.folded" % os.getpid()
    r = d.ctl("record", "--pid", hot.ready_pid, "--duration", 1, "-o", refused_out, user=NOBODY)
    t.check(r.returncode != 0 and "permission denied" in r.stderr and not os.path.exists(refused_out),
            "nobody may not record root's process", r.stderr)
    own = subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                            t.workload("hot")], stdout=subprocess.PIPE, bufsize=0)
    t.procs.append(own)
    line = LineReader(own.stdout.fileno()).read(10)
    own_pid = int(line.split()[-1])
    nobody_out = "/tmp/cprof-ctl-nobody-%d.folded" % os.getpid()
    r = d.ctl("record", "--pid", own_pid, "--duration", 1, "-o", nobody_out, user=NOBODY)
    ok = r.returncode == 0 and os.path.exists(nobody_out) and os.stat(nobody_out).st_uid == NOBODY
    t.check(ok, "nobody records a process of their own; the client writes the file", r.stderr)
    if os.path.exists(nobody_out):
        os.unlink(nobody_out)
    own.kill()
    own.wait()

    # nobody's recording covers the process until it execs: not what it
    # execs next (it could be a setuid program)
    # about 2 s of shell loop (longer on a busy machine), then the exec
    script = f"i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done; exec {t.workload('hot')} 8"
    ex = subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                           "sh", "-c", script], stdout=subprocess.DEVNULL)
    t.procs.append(ex)
    ex_out = "/tmp/cprof-ctl-exec-%d.folded" % os.getpid()
    t0 = time.monotonic()
    r = d.ctl("record", "--pid", ex.pid, "--duration", 10, "-o", ex_out, user=NOBODY)
    took = time.monotonic() - t0
    text = open(ex_out).read() if os.path.exists(ex_out) else ""
    t.check("hot_a" not in text and took < 9 and text.startswith("sh;"),
            f"nobody's recording ends at the exec, without the exec'd program ({took:.1f} s)", r.stderr + text[:500])
    if os.path.exists(ex_out):
        os.unlink(ex_out)
    ex.kill()
    ex.wait()

    # hostile clients
    reply = raw_request(d.sock, b"{not json")
    t.check(b'"ok": false' in reply or b'"ok":false' in reply, "malformed JSON gets a JSON error", reply[:200])
    reply = raw_request(d.sock, b"{" + b" " * (200 * 1024) + b"}")
    t.check(b"false" in reply, "a 200 KB request gets an error", reply[:200])
    t0 = time.monotonic()
    reply = raw_request(d.sock, None, read_timeout=10)
    t.check(time.monotonic() - t0 < 6, f"a silent client is timed out ({time.monotonic() - t0:.1f} s)",
            reply[:200])
    r = d.ctl("--json", "status")
    t.check(r.returncode == 0, "the daemon serves on after them", r.stderr)

    # a reload that moves the socket while an on-demand recording runs:
    # the recording is answered, the new socket serves
    rec = subprocess.Popen([t.cprof, "ctl", "--socket", d.sock, "record", "--pid", str(hot.ready_pid),
                            "--duration", "6", "-o", t.path("moved.folded")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t.procs.append(rec)
    time.sleep(1.5)
    old_sock = d.sock
    d.sock = d.sock + ".2"
    with open(d.config) as f:
        conf = f.read()
    # and a target renamed: its processes write under the new name
    conf = conf.replace(old_sock, d.sock).replace("[target api]", "[target api2]")
    with open(d.config, "w") as f:
        f.write(conf)
    d.proc.send_signal(signal.SIGHUP)
    out_, err_ = rec.communicate(timeout=20)
    t.check(rec.returncode == 0 and os.path.exists(t.path("moved.folded")),
            "an on-demand recording is answered when a reload moves the socket", err_)
    time.sleep(2.5)
    t.check(d.proc.poll() is None, "the daemon lives on", d.stderr())
    r = d.ctl("--json", "status")
    st = json.loads(r.stdout or "{}")
    api2 = [x for x in st.get("targets", []) if x.get("name") == "api2"]
    t.check(r.returncode == 0 and api2 and api2[0]["processes"] >= 1,
            f"the new socket serves, and the renamed target has the processes ({api2})", r.stderr + d.stderr())
    t.check(len(d.windows("api2")) >= 1, "windows are written under the new name")
    n_api = len(d.windows("api"))
    time.sleep(1.5)
    t.check(len(d.windows("api")) == n_api, "and no more under the old one")

    # pushes
    got = pushes(log)
    api_pushes = [p for p in got if p.get("labels", {}).get("target") in ("api", "api2")]
    t.check(api_pushes and all(p.get("valid") for p in got), f"the receiver got valid pushes "
            f"({len(api_pushes)} for api, {len(got)} in all)", json.dumps(got[:3]))
    # the server goes away: sampling goes on, drops are counted
    recv.kill()
    recv.wait()
    n = len(d.windows("api2"))
    time.sleep(6)
    t.check(len(d.windows("api2")) >= n + 3, "windows go on while the server is down")
    st = json.loads(d.ctl("--json", "status").stdout)
    push = st.get("push", {})
    t.check(push.get("dropped", 0) > 0, f"the pushes that did not fit the queue are counted ({push})")
    t.check(d.stop(signal.SIGTERM) == 0, "SIGTERM: exit 0", d.stderr())


Test("cprofd-ctl").run(body)
