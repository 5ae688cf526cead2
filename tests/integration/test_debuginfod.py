"""symbolize/debuginfod against a real debuginfod server and a silent one.

Run as `python3 test_debuginfod.py DRIVER` (DRIVER: debuginfod-fetch.c).
Builds a program with gcc -g, serves its --only-keep-debug file with
Debian's `debuginfod -F` on a free port, and checks that the fetcher gets
that very file without ever blocking a poll. Then a server that accepts
connections and never answers: with DEBUGINFOD_TIMEOUT=2 the fetch fails
(-ENOENT) within ~3 s, and freeing a fetcher in the middle of a fetch
(DEBUGINFOD_TIMEOUT=60) returns within about a second. Every server is
killed at the end, whatever happened.
"""

import errno
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

checks = failures = 0


def check(cond, what):
    global checks, failures
    checks += 1
    if not cond:
        failures += 1
    print(f"{'ok' if cond else 'FAIL'}: {what}", flush=True)
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_id(path):
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1)


def run_driver(driver, args, env, timeout=60):
    t0 = time.monotonic()
    p = subprocess.run([driver] + args, capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.monotonic() - t0
    vals = {}
    for line in p.stdout.splitlines():
        k, _, v = line.partition(" ")
        vals[k] = v
    if p.returncode != 0 or p.stderr.strip():
        print(f"# driver {args[0]} exit {p.returncode}\n# stdout: {p.stdout}\n# stderr: {p.stderr}")
    return vals, wall


def client_env(tmp, url, timeout=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEBUGINFOD_")}
    cache = tempfile.mkdtemp(prefix="cache-", dir=tmp)
    env["DEBUGINFOD_CACHE_PATH"] = cache
    if url is not None:
        env["DEBUGINFOD_URLS"] = url
    if timeout is not None:
        env["DEBUGINFOD_TIMEOUT"] = str(timeout)
    return env


def wait_scanned(port, proc, deadline_s=60):
    """Until the server's first scan is done: /metrics shows the file
    scanned and no scan work pending."""
    t_end = time.monotonic() + deadline_s
    while time.monotonic() < t_end:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                m = r.read().decode()
            scanned = re.search(r'^scanned_files_total\{source="file"\} (\d+)', m, re.M)
            pending = re.search(r'^thread_work_pending\{role="scan"\} (\d+)', m, re.M)
            if scanned and int(scanned.group(1)) >= 1 and pending and int(pending.group(1)) == 0:
                return True
        except OSError:
            pass
        time.sleep(0.25)
    return False


class SilentServer:
    """Accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join()
        for c in self.conns:
            c.close()
        self.sock.close()


def main():
    driver = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="cprof-debuginfod-")
    server = None
    silent = None
    try:
        srv_dir = os.path.join(tmp, "served")
        os.mkdir(srv_dir)
        src = os.path.join(tmp, "prog.c")
        with open(src, "w") as f:
            f.write("static int __attribute__((noinline)) hidden(int x) { return x * 7; }\n"
                    "int main(int c, char **v) { (void) v; return hidden(c); }\n")
        prog = os.path.join(tmp, "prog")
        subprocess.run(["gcc", "-g", "-O1", "-Wl,--build-id=sha1", "-o", prog, src], check=True)
        debug = os.path.join(srv_dir, "prog.debug")
        subprocess.run(["objcopy", "--only-keep-debug", prog, debug], check=True)
        bid = build_id(prog)

        # No DEBUGINFOD_URLS (or an empty one): no fetcher
        vals, _ = run_driver(driver, ["new"], client_env(tmp, None))
        check(vals.get("new") == str(-errno.ENOTSUP) and vals.get("fetcher") == "null",
              f"DEBUGINFOD_URLS unset: -ENOTSUP, no fetcher ({vals})")
        vals, _ = run_driver(driver, ["new"], client_env(tmp, ""))
        check(vals.get("new") == str(-errno.ENOTSUP), f"DEBUGINFOD_URLS empty: -ENOTSUP ({vals})")

        # The worker thread takes no signals (SIGINT, SIGTERM, SIGPIPE, SIGCHLD)
        vals, _ = run_driver(driver, ["new"], client_env(tmp, "http://127.0.0.1:9"))
        blk = int(vals.get("worker_sigblk", "0").strip() or "0", 16)
        want = [signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD, signal.SIGALRM]
        check(vals.get("new") == "0" and all(blk & (1 << (s - 1)) for s in want),
              f"the worker blocks signals (SigBlk {vals.get('worker_sigblk', '?').strip()})")

        # DEBUGINFOD_TIMEOUT as libdebuginfod 0.188 reads it: 90 s unset,
        # none for 0 or negative
        for tv, want_s in [(None, 90.0), ("5", 5.0), ("0", 0.0), ("-3", 0.0)]:
            vals, _ = run_driver(driver, ["new"], client_env(tmp, "http://127.0.0.1:9", tv))
            check(vals.get("timeout_s") == f"{want_s:.3f}",
                  f"DEBUGINFOD_TIMEOUT={tv}: bound {vals.get('timeout_s')} s, expected {want_s}")

        # A real server over the scratch directory
        port = free_port()
        log = open(os.path.join(tmp, "debuginfod.log"), "w")
        server = subprocess.Popen(["debuginfod", "-F", "-p", str(port), "-d", os.path.join(tmp, "db.sqlite"),
                                   "-t", "0", "-g", "0", srv_dir],
                                  stdout=log, stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        ready = wait_scanned(port, server)
        print(f"# server ready after {time.monotonic() - t0:.1f} s")
        if not check(ready, "debuginfod server scanned its directory"):
            with open(os.path.join(tmp, "debuginfod.log")) as f:
                print(f.read()[-3000:])
            return
        env = client_env(tmp, f"http://127.0.0.1:{port}")
        out = os.path.join(tmp, "fetched.debug")
        vals, wall = run_driver(driver, ["fetch", bid, out, "30"], env)
        check(vals.get("poll") == "1", f"build-id fetched from the server ({vals})")
        check(os.path.exists(out) and open(out, "rb").read() == open(debug, "rb").read(),
              "the fetched file is the served debug file")
        check(vals.get("poll_again") == "1", "a second poll gives the file again")
        check(vals.get("poll_unrequested") == str(-errno.ESRCH), "poll of an unrequested build-id: -ESRCH")
        check(float(vals.get("max_poll_s", "1")) < 0.01 and float(vals.get("request_s", "1")) < 0.01,
              f"request and polls never block (longest poll {vals.get('max_poll_s')} s)")
        # a build-id the server does not have
        vals, _ = run_driver(driver, ["fetch", "ab" * 20, out + ".none", "30"], env)
        check(vals.get("poll") == str(-errno.ENOENT), f"unknown build-id: -ENOENT ({vals})")
        # waiting for a fetch that can finish
        vals, _ = run_driver(driver, ["wait", bid, "20"], client_env(tmp, f"http://127.0.0.1:{port}"))
        check(vals.get("wait") == "0", f"fetcher_wait returns 0 once the fetch is done ({vals})")

        # A server that accepts and never answers
        silent = SilentServer()
        url = f"http://127.0.0.1:{silent.port}"
        vals, wall = run_driver(driver, ["fetch", bid, out + ".silent", "20"], client_env(tmp, url, 2))
        el = float(vals.get("elapsed_s", "99"))
        check(vals.get("poll") == str(-errno.ENOENT) and el < 3.5,
              f"silent server, DEBUGINFOD_TIMEOUT=2: -ENOENT after {el:.2f} s")
        check(float(vals.get("max_poll_s", "1")) < 0.01,
              f"polls do not block on a silent server (longest {vals.get('max_poll_s')} s)")
        check(float(vals.get("final_free_s", "99")) < 1.5, f"free after the failure: {vals.get('final_free_s')} s")

        vals, wall = run_driver(driver, ["cancel", bid, "1"], client_env(tmp, url, 60))
        check(vals.get("poll") == "0" and float(vals.get("poll_s", "1")) < 0.01,
              f"fetch still pending after 1 s, poll returned at once ({vals.get('poll')}, {vals.get('poll_s')} s)")
        fs = float(vals.get("free_s", "99"))
        check(fs < 1.5 and wall < 10, f"free cancels a running fetch: {fs:.2f} s (driver ran {wall:.1f} s)")

        vals, wall = run_driver(driver, ["wait", bid, "0.5"], client_env(tmp, url, 60))
        ws = float(vals.get("wait_s", "99"))
        check(vals.get("wait") == str(-errno.ETIMEDOUT) and 0.4 < ws < 1.0,
              f"fetcher_wait with a deadline: -ETIMEDOUT after {ws:.2f} s")
        check(float(vals.get("final_free_s", "99")) < 1.5, f"then free: {vals.get('final_free_s')} s")
    finally:
        if silent:
            silent.close()
        if server:
            server.terminate()
            try:
                server.wait(5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{checks - failures}/{checks} checks passed")
    sys.exit(1 if failures or checks == 0 else 0)


if __name__ == "__main__":
    main()
