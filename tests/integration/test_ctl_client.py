"""`cprof ctl` against a stand-in for cprofd: a unix socket server in this
test that checks each request the client sends and answers what the test
wants (a status, folded stacks, an error, garbage, nothing). The real
daemon end to end is the daemon's own integration test.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time

from cprof_test import Test
from cprofd_util import recv_line


class FakeDaemon:
    """Serves one connection at a time: reads the request line, stores it,
    and sends what self.reply says (bytes, or None to close silently)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.requests = []
        self.reply = b'{"ok":true}\n'
        self.delay = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = recv_line(conn)
                self.requests.append(data)
                time.sleep(self.delay)
                if self.reply is not None:
                    try:
                        conn.sendall(self.reply)
                    except OSError:
                        pass

    def answer(self, obj):
        self.reply = (json.dumps(obj) + "\n").encode()

    def last(self):
        return json.loads(self.requests[-1]) if self.requests else None

    def close(self):
        self.sock.close()


def ctl(t, *args, timeout=60, cwd=None):
    p = subprocess.run([t.cprof, "ctl"] + list(args), capture_output=True, text=True,
                       timeout=timeout, cwd=cwd)
    return p


def body(t):
    sock = t.path("cprofd.sock")

    p = ctl(t, "--help")
    t.check(p.returncode == 0 and "snapshot --target NAME" in p.stdout and "record --pid PID" in p.stdout,
            "ctl --help shows the three commands", p.stdout + p.stderr)

    p = ctl(t, "--socket", sock, "status")
    t.check(p.returncode == 1 and
            p.stderr.strip() == f"cprof: cannot connect to '{sock}': No such file or directory (is cprofd running?)",
            "no daemon: one line that says so, exit 1", p.stderr)

    d = FakeDaemon(sock)
    try:
        status = {"ok": True,
                  "targets": [{"name": "api", "processes": 3, "samples": 1200, "lost": 0, "windows": 20},
                              {"name": "batch-jobs", "processes": 0, "samples": 5, "lost": 1, "windows": 2}],
                  "samples": 1205, "lost": 1, "cpu_s": 1.25, "rss_bytes": 12 * 1024 * 1024,
                  "disk_bytes": 3 * 1024 * 1024, "disk_files": 44, "ondemand": 1,
                  "push": {"queued": 0, "sent": 22, "failed_attempts": 1, "dropped": 0}}
        d.answer(status)
        p = ctl(t, "--socket", sock, "status")
        t.check(d.last() == {"command": "status"}, "status: the request", d.requests[-1:])
        lines = p.stdout.splitlines()
        t.check(p.returncode == 0 and lines and lines[0].split() == ["TARGET", "PROCESSES", "SAMPLES", "LOST",
                                                                     "WINDOWS"]
                and any(l.split() == ["api", "3", "1200", "0", "20"] for l in lines)
                and any(l.split() == ["batch-jobs", "0", "5", "1", "2"] for l in lines),
                "status: a table of the targets", p.stdout + p.stderr)
        t.check("samples:    1205, 1 lost" in p.stdout and "1.25 s of CPU, RSS 12.0 MiB" in p.stdout
                and "disk:       3.0 MiB in 44 files" in p.stdout and "1 recording running" in p.stdout
                and "sent 22" in p.stdout, "status: totals, daemon use, disk, push", p.stdout)

        p = ctl(t, "--socket", sock, "--json", "status")
        t.check(p.returncode == 0 and json.loads(p.stdout) == status, "status --json: the reply as it is",
                p.stdout + p.stderr)

        d.answer({"ok": False, "error": "permission denied: not root and not in group 'cprof'"})
        p = ctl(t, "--socket", sock, "status")
        t.check(p.returncode == 1 and
                p.stderr.strip() == "cprof: permission denied: not root and not in group 'cprof'",
                "a refusal is printed as the daemon worded it, exit 1", p.stderr)

        folded = "api;main;work 7\napi;main;idle 3\n"
        d.answer({"ok": True, "folded": folded, "samples": 10})
        p = ctl(t, "--socket", sock, "snapshot", "--target", "api", "--last", "5m", "-o", "graph.svg", cwd=t.tmp)
        t.check(d.last() == {"command": "snapshot", "target": "api", "last_s": 300},
                "snapshot: the request (5m is 300 s)", d.requests[-1:])
        svg = open(t.path("graph.svg")).read() if os.path.exists(t.path("graph.svg")) else ""
        t.check(p.returncode == 0 and "<svg" in svg and "work" in svg and "idle" in svg,
                "snapshot -o graph.svg: a flame graph of the reply", p.stderr)
        t.check("wrote 'graph.svg': 10 samples" in p.stderr, "a summary line on stderr", p.stderr)

        p = ctl(t, "--socket", sock, "record", "--pid", "1234", "--duration", "2", "-F", "199",
                "-o", t.path("out.folded"))
        t.check(d.last() == {"command": "record", "pid": 1234, "duration_s": 2, "frequency_hz": 199},
                "record: the request", d.requests[-1:])
        got = open(t.path("out.folded")).read() if os.path.exists(t.path("out.folded")) else ""
        t.check(p.returncode == 0 and got == "api;main;idle 3\napi;main;work 7\n",
                "record -o out.folded: the folded stacks, written by the client", got + p.stderr)
        t.check(not [f for f in os.listdir(t.tmp) if f.startswith(".")], "no temporary file left",
                os.listdir(t.tmp))

        p = ctl(t, "--socket", sock, "record", "-p", "99", "-d", "1m", "-o", "-")
        t.check(d.last() == {"command": "record", "pid": 99, "duration_s": 60, "frequency_hz": 99}
                and p.returncode == 0 and p.stdout == "api;main;idle 3\napi;main;work 7\n",
                "record -o -: folded on stdout; 1m is 60 s, 99 Hz by default", p.stdout + p.stderr)

        p = ctl(t, "--socket", sock, "record", "-p", "99", "-o", "-", "--format", "json")
        t.check(p.returncode == 0 and json.loads(p.stdout), "--format json: the report", p.stderr)

        d.answer({"ok": True, "folded": "", "samples": 0})
        p = ctl(t, "--socket", sock, "record", "-p", "99", "-o", t.path("empty.folded"))
        t.check(p.returncode == 1 and "no samples of process 99" in p.stderr
                and not os.path.exists(t.path("empty.folded")), "no samples: an error, no file", p.stderr)

        d.reply = b"this is not json\n"
        p = ctl(t, "--socket", sock, "status")
        t.check(p.returncode == 1 and "malformed reply from cprofd" in p.stderr, "a malformed reply", p.stderr)
        d.reply = None
        p = ctl(t, "--socket", sock, "status")
        t.check(p.returncode == 1 and "closed the connection without one" in p.stderr,
                "the daemon closes without a reply", p.stderr)

        n = len(d.requests)
        p = ctl(t, "--socket", sock, "record", "-p", "5", "-o", t.path("no/such/dir.folded"))
        t.check(p.returncode == 1 and "cannot write" in p.stderr and len(d.requests) == n,
                "an unwritable output fails before asking the daemon", p.stderr)
        for args, want in [(["snapshot"], "snapshot needs --target"),
                           (["snapshot", "-t", "a/b"], "invalid target name 'a/b'"),
                           (["record"], "record needs --pid"),
                           (["record", "-p", "1", "-d", "2h"], "invalid duration '2h'"),
                           (["record", "-p", "1", "-F", "20000"], "invalid frequency '20000'"),
                           (["status", "-o", "x.svg"], "--output is for 'snapshot' and 'record'"),
                           (["status", "--target", "api"], "--target is for 'snapshot'"),
                           (["stats"], "did you mean 'status'"),
                           ([], "missing command")]:
            p = ctl(t, "--socket", sock, *args)
            t.check(p.returncode == 2 and want in p.stderr, f"usage error {args}: {want}", p.stderr)
        t.check(len(d.requests) == n, "usage errors never reach the daemon")

        # last, as it holds the stand-in's only thread: a daemon that never
        # answers; the client gives up after 30 s (status; record: its
        # duration + 30 s)
        d.answer({"ok": True})
        d.delay = 35
        start = time.monotonic()
        p = ctl(t, "--socket", sock, "status")
        took = time.monotonic() - start
        t.check(p.returncode == 1 and p.stderr.strip() == f"cprof: no reply from cprofd on '{sock}' within 30 s"
                and 29 < took < 34, f"no reply: the client gives up after {took:.1f} s", p.stderr)
    finally:
        d.close()
    real_server(t)


NOBODY = 65534


def real_server(t):
    """The real control server (ctl-serve) and the client, for root and
    for nobody, the way users meet them."""
    sock = t.path("real.sock")
    os.chmod(t.tmp, 0o777)  # nobody reaches the socket and writes its output here
    srv = subprocess.Popen([os.path.join(t.wdir, "ctl-serve"), sock], stdout=subprocess.PIPE, text=True)
    t.procs.append(srv)
    t.require(srv.stdout.readline().strip() == "ready", "ctl-serve is listening")
    try:
        p = ctl(t, "--socket", sock, "status")
        t.check(p.returncode == 0 and any(l.split() == ["api", "1", "10", "0", "2"] for l in p.stdout.splitlines()),
                "root: status through the real server", p.stdout + p.stderr)
        p = ctl(t, "--socket", sock, "snapshot", "-t", "api", "-o", t.path("snap.folded"))
        t.check(p.returncode == 0 and open(t.path("snap.folded")).read() == "api;main;idle 3\napi;main;work 7\n",
                "root: snapshot through the real server", p.stderr)

        def as_nobody(*args):
            return subprocess.run([t.cprof, "ctl", "--socket", sock] + list(args), capture_output=True,
                                  text=True, timeout=60, user=NOBODY, group=NOBODY, extra_groups=[])

        p = as_nobody("status")
        t.check(p.returncode == 1 and p.stderr.strip() == "cprof: permission denied: not root", "nobody: status refused",
                p.stderr)
        p = as_nobody("record", "--pid", str(os.getpid()), "-d", "1", "-o", "-")
        t.check(p.returncode == 1 and
                p.stderr.strip() == f"cprof: permission denied: process {os.getpid()} belongs to another user",
                "nobody: record of a root process refused", p.stderr)
        mine = subprocess.Popen(["sleep", "60"], user=NOBODY, group=NOBODY, extra_groups=[])
        t.procs.append(mine)
        out = t.path("mine.svg")
        p = as_nobody("record", "--pid", str(mine.pid), "-d", "1", "-o", out)
        st = os.stat(out) if os.path.exists(out) else None
        t.check(p.returncode == 0 and st is not None and st.st_uid == NOBODY and
                f"proc-{mine.pid}" in open(out).read(),
                "nobody: record of its own process; the client writes the file, as nobody", p.stderr)
        mine.kill()
        mine.wait()
    finally:
        srv.terminate()
        srv.wait(timeout=10)
    t.check(not os.path.exists(sock), "the server removes its socket when it stops")


if __name__ == "__main__":
    Test("ctl-client").run(body)
