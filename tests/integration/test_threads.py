"""Threads created after attach are sampled; --threads adds a comm-tid
frame after the process frame, with each worker's own comm and tid."""
import re
import time

from cprof_test import Test, kill_and_wait

N = 3


def body(t):
    # 3 workers, created 1 s after start, spinning until killed
    w = t.start("threads", N, 1, 0)
    with_t = t.spawn_record(["--pid", w.ready_pid, "-d", "3", "-F", "499",
                             "--threads", "-o", t.path("threads.folded")])
    without = t.spawn_record(["--pid", w.ready_pid, "-d", "3", "-F", "499",
                              "-o", t.path("nothreads.folded")])
    tids = {}
    deadline = time.monotonic() + 5
    while len(tids) < N and time.monotonic() < deadline:
        line = w.lines.read(1)
        m = re.fullmatch(r"worker (\d+) tid (\d+)", line or "")
        if m:
            tids[int(m.group(2))] = f"spin-{m.group(1)}"
    t.require(len(tids) == N, f"{N} workers started", tids)
    for p in (with_t, without):
        _, err = p.communicate(timeout=30)
        t.require(p.returncode == 0, f"{' '.join(p.cmd[2:])} exits 0", err)
    kill_and_wait(w)

    f = t.folded(t.path("threads.folded"))
    t.check(set(f.procs()) == {"threads"},
            "--threads: the process frame is the process's name 'threads', "
            "not a thread's", f.procs())
    spin = f.with_frame("worker_spin")
    t.check(spin.total() >= 0.8 * f.total(),
            f"--threads: worker_spin in {spin.total()} of {f.total()} samples")
    per_tid = {}
    bad = []
    for s, c in spin.stacks:
        m = re.fullmatch(r"(.+)-(\d+)", s[1]) if len(s) > 1 else None
        if not m or int(m.group(2)) not in tids or tids[int(m.group(2))] != m.group(1):
            bad.append(f"{';'.join(s)} {c}")
            continue
        per_tid[int(m.group(2))] = per_tid.get(int(m.group(2)), 0) + c
    t.check(not bad, "--threads: worker stacks start with 'threads;spin-I-TID' "
            "naming the worker's own comm and tid",
            f"workers: {tids}\n" + "\n".join(bad[:10]))
    t.check(len(per_tid) == N, f"--threads: {len(per_tid)} distinct worker "
            f"tids (want {N})", per_tid)
    for tid, c in per_tid.items():
        t.check(c >= 0.15 * spin.total(),
                f"--threads: worker {tid} has {c} of {spin.total()} samples")

    f = t.folded(t.path("nothreads.folded"))
    spin = f.with_frame("worker_spin")
    t.check(spin.total() >= 0.8 * f.total(),
            f"no --threads: worker_spin in {spin.total()} of {f.total()} samples")
    t.check(all(not re.fullmatch(r".+-\d+", s[1]) for s, _ in f.stacks
                if len(s) > 1),
            "no --threads: no comm-tid frames", f.top())
    t.check(set(f.procs()) == {"threads"}, "no --threads: process frame "
            "'threads'", f.procs())


def thread_id(t):
    """--pid given a thread id (as top -H shows) profiles its process."""
    w = t.start("threads", 2, 0, 0)
    tid = None
    deadline = time.monotonic() + 5
    while tid is None and time.monotonic() < deadline:
        m = re.fullmatch(r"worker \d+ tid (\d+)", w.lines.read(1) or "")
        if m:
            tid = int(m.group(1))
    t.require(tid is not None and tid != w.ready_pid, "a worker thread id")
    r, f = t.record_ok(["--pid", tid, "-d", "1.5", "-F", "499"],
                       t.path("tid.folded"))
    kill_and_wait(w)
    t.check(f"{tid} is a thread of process {w.ready_pid}" in r.stderr,
            "--pid TID: a notice names the process", r.stderr)
    t.check(set(f.procs()) == {"threads"} and
            f.with_frame("worker_spin").total() > 0,
            "--pid TID: the process's workers are sampled", f.top())


def both(t):
    body(t)
    thread_id(t)


Test("threads").run(both)
