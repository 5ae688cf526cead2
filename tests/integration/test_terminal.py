"""On a terminal (a pty here), the launched command's process group gets
the terminal while it runs: it can read the terminal, Ctrl-C goes to it
(cprof writes the profile and passes the 130 on), Ctrl-Z stops cprof with
it (and fg continues both), and cprof takes the terminal back at the end,
so the shell that started it can read again."""
import os
import pty
import select
import shlex
import time

from cprof_test import Test, Fatal


class Pty:
    def __init__(self, t, script):
        self.t = t
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvp("sh", ["sh", "-c", script])
        self.out = b""

    def expect(self, text, timeout=20):
        deadline = time.monotonic() + timeout
        want = text.encode()
        while want not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fatal(f"no {text!r} on the terminal within {timeout} s; "
                            f"it showed: {self.out.decode(errors='replace')!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # EIO: every process left the terminal
                    chunk = b""
                if not chunk:
                    raise Fatal(f"terminal closed before {text!r}; it showed: "
                                f"{self.out.decode(errors='replace')!r}")
                self.out += chunk

    def send(self, data):
        os.write(self.fd, data.encode())

    def close(self):
        try:
            os.kill(self.pid, 9)
        except OSError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def body(t):
    cprof = shlex.quote(t.cprof)
    out = t.path("read.folded")
    inner = shlex.quote("read x; echo got:$x; exit 4")
    p = Pty(t, f"{cprof} record -o {shlex.quote(out)} -- sh -c {inner}; "
               f"echo cprof-rc:$?; read y; echo after:$y")
    try:
        p.expect("cprof: recording")
        p.send("hello\n")
        p.expect("got:hello")
        t.check(True, "the command read the line from the terminal")
        p.expect("cprof-rc:")
        p.expect("\n")
        t.check(b"cprof-rc:4" in p.out, "cprof passes the command's status 4 on",
                p.out.decode(errors="replace"))
        p.send("bye\n")
        p.expect("after:bye", timeout=5)
        t.check(True, "the shell reads the terminal after cprof: it was given back")
    except Fatal as e:
        t.check(False, str(e))
    finally:
        p.close()

    out = t.path("ctrlc.folded")
    hot = shlex.quote(t.workload("hot"))
    p = Pty(t, f"{cprof} record -F 499 -o {shlex.quote(out)} -- {hot} 0; "
               f"echo cprof-rc:$?")
    try:
        p.expect("hot: ready pid")
        time.sleep(1.0)
        p.send("\x03")  # Ctrl-C: SIGINT to the terminal's foreground group
        p.expect("cprof-rc:")
        p.expect("\n")
        t.check(b"cprof-rc:130" in p.out, "Ctrl-C killed the command (130), "
                "and cprof passes that on", p.out.decode(errors="replace"))
        f = t.folded(out)
        t.check(f.of("hot").with_frame("hot_a").total() > 0,
                "the profile was written, with hot_a", f.top())
    except Fatal as e:
        t.check(False, str(e))
    finally:
        p.close()


    # Ctrl-Z stops the command: cprof stops too, so that the shell (with job
    # control here, as an interactive one) gets the terminal; "fg"
    # continues cprof, which hands the terminal back and continues it
    out = t.path("ctrlz.folded")
    p = Pty(t, f"set -m; {cprof} record -F 499 -o {shlex.quote(out)} -- "
               f"{hot} 0; echo stopped:$?; fg; echo cprof-rc:$?")
    try:
        p.expect("hot: ready pid")
        time.sleep(0.5)
        hot_pid = int(p.out.split(b"hot: ready pid ")[1].split()[0])
        p.send("\x1a")  # Ctrl-Z: SIGTSTP to the terminal's foreground group
        p.expect("stopped:")
        p.expect("\n")
        t.check(b"stopped:148" in p.out, "Ctrl-Z stopped cprof too: its shell "
                "saw the job stop (148) and got the terminal",
                p.out.decode(errors="replace"))
        t.check(wait_pgrp(p.fd, hot_pid), "after fg, the command has the "
                "terminal again", f"foreground {os.tcgetpgrp(p.fd)}")
        t.check(wait_state(hot_pid, "R"), "after fg, the command runs again",
                f"hot {state(hot_pid)}")
        time.sleep(0.5)
        p.send("\x03")
        p.expect("cprof-rc:")
        p.expect("\n")
        t.check(b"cprof-rc:130" in p.out, "then Ctrl-C ends it: 130 passed on",
                p.out.decode(errors="replace"))
        f = t.folded(out)
        t.check(f.of("hot").with_frame("hot_a").total() > 0,
                "the profile was written, with hot_a", f.top())
    except Fatal as e:
        t.check(False, str(e))
    finally:
        p.close()


def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def wait_state(pid, want, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state(pid) == want:
            return True
        time.sleep(0.01)
    return False


def wait_pgrp(fd, pgrp, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.tcgetpgrp(fd) == pgrp:
            return True
        time.sleep(0.01)
    return False


Test("terminal").run(body)
