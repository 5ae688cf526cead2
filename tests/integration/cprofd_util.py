"""Running cprofd in the foreground for the daemon's integration tests.

The daemon runs with a config the test writes, 1 s windows, its store and
control socket in the test's directory, and NOTIFY_SOCKET pointing at a
datagram socket the test reads (READY=1, STATUS=..., as systemd would get
them). cprofd's path comes from the CPROFD environment variable.
"""

import glob
import gzip
import os
import re
import socket
import subprocess
import threading
import time

from cprof_test import Fatal, LineReader

WINDOW_RE = re.compile(r"^(\d{8}T\d{6}Z)(-\d+)?\.folded\.gz$")


def recv_line(conn):
    """Bytes from conn up to and with the first newline (the control
    protocol's message end), or what came before EOF or a timeout."""
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:  # socket.timeout included
        pass
    return data


class Daemon:
    def __init__(self, t, config_text, name="cprofd"):
        self.t = t
        self.dir = t.path(name)
        os.makedirs(self.dir, exist_ok=True)
        # another user must reach the socket (the unprivileged checks)
        os.chmod(t.tmp, 0o755)
        os.chmod(self.dir, 0o755)
        self.out = os.path.join(self.dir, "out")
        self.sock = os.path.join(self.dir, "ctl.sock")
        self.config = os.path.join(self.dir, "cprofd.conf")
        self.write_config(config_text)
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.messages = []
        self.cond = threading.Condition()
        # read all the time, as a service manager does: a full queue
        # would block the daemon's sd_notify()
        threading.Thread(target=self._read_notifications, daemon=True).start()
        self.proc = None
        self.log = os.path.join(self.dir, "stderr.log")

    def write_config(self, text):
        text = text.replace("@OUT@", self.out).replace("@SOCK@", self.sock)
        with open(self.config, "w") as f:
            f.write(text)

    def start(self, ready_timeout=20, watchdog_usec=None):
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        self.logf = open(self.log, "w")
        self.proc = subprocess.Popen([os.environ["CPROFD"], "--config", self.config],
                                     stdout=subprocess.DEVNULL, stderr=self.logf,
                                     env=env)
        self.t.procs.append(self.proc)
        ok = self.wait_message("READY=1", ready_timeout, since=0)
        self.t.require(ok, "cprofd tells the service manager READY=1",
                       self.stderr())

    def stderr(self):
        with open(self.log) as f:
            return f.read()

    def _read_notifications(self):
        while True:
            try:
                data = self.notify.recv(65536).decode()
            except OSError:
                return
            with self.cond:
                self.messages.extend(data.split("\n"))
                self.cond.notify_all()

    def wait_message(self, msg, timeout, since=None):
        """Waits for a notification line starting with msg, sent after
        the call (or after message number since)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            start = len(self.messages) if since is None else since
            while True:
                if any(m.startswith(msg) for m in self.messages[start:]):
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self.cond.wait(min(left, 0.2))

    def windows(self, target):
        """The target's window files, oldest first: [(name, path)]."""
        files = []
        for p in glob.glob(os.path.join(self.out, target, "*.folded.gz")):
            if WINDOW_RE.match(os.path.basename(p)):
                files.append(p)
        return sorted(files)

    def wait_windows(self, target, n, timeout):
        deadline = time.monotonic() + timeout
        while len(self.windows(target)) < n and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fatal(f"cprofd exited ({self.proc.returncode}): {self.stderr()}")
            time.sleep(0.1)
        return self.windows(target)

    def ctl(self, *args, user=None, timeout=60):
        cmd = [self.t.cprof, "ctl", "--socket", self.sock] + [str(a) for a in args]
        if user is not None:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] + cmd
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=self.t.tmp)

    def stop(self, sig, timeout=10):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def window_text(path):
    with gzip.open(path, "rt") as f:
        return f.read()


def window_samples(path, frame=None):
    total = 0
    for line in window_text(path).splitlines():
        stack, _, count = line.rpartition(" ")
        if frame is None or frame in stack.split(";"):
            total += int(count)
    return total
