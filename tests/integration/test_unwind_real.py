"""DWARF unwinding of real programs nobody here wrote: Debian's gzip, python3
(/usr/bin/python3, not a pyenv build) and git, all built without frame
pointers, with CFI in .eh_frame. For each, recorded by cprof (bpf backend,
default mode; perf backend with --unwind-check) and by `perf record
--call-graph dwarf` on the same work:

- the summary counts >= 95% of the user stacks complete, and no less than
  perf's share of stacks that reach _start minus 2 points;
- the frames known to be there appear: libc's start frames under an
  (unnamed, stripped) _start for gzip and git; for python3 _start (in its
  .dynsym), Py_BytesMain and _PyEval_EvalFrameDefault (the interpreter
  loop, in nearly every sample);
- on the perf backend, >= 99% of the samples agree with libdwfl."""
import random
import subprocess

from cprof_test import (LIBC_START, Test, check_agreement, has_run, pattern_text,
                        perf_dwarf_complete, starts_with, unwind_record, user_part)

# one line (it is part of the command line the checks print): 2 s of CPU
# time in a lambda and a generator expression, interpreted
PY_LOOP = ("import time; t0 = time.process_time(); "
           "f = lambda n: sum(i * i % 7 for i in range(n)); "
           "[f(20000) for _ in iter(lambda: time.process_time() - t0 < 2, False)]")
LIBC_ROOT = (LIBC_START, "__libc_start_call_main")


def words_file(path, size):
    """Text gzip -9 works hard on: words from a small vocabulary"""
    rnd = random.Random(7)
    vocab = ["".join(rnd.choice("abcdefghijklmnop") for _ in range(rnd.randint(2, 9)))
             for _ in range(5000)]
    with open(path, "w") as fh:
        n = 0
        while n < size:
            line = " ".join(rnd.choices(vocab, k=12)) + "\n"
            fh.write(line)
            n += len(line)


def git_repo(path):
    """A repository of 800 commits of one 3000-line file, 30 lines changed
    in each: `git log -p` then inflates objects and diffs them"""
    subprocess.run(["git", "init", "-q", path], check=True)
    rnd = random.Random(1)
    lines = [f"line {i} {rnd.random()}\n" for i in range(3000)]
    chunks = []
    for c in range(1, 801):
        for _ in range(30):
            lines[rnd.randrange(len(lines))] = f"changed {c} {rnd.random()}\n"
        data = "".join(lines).encode()
        msg = f"commit {c}\n".encode()
        chunks.append(b"commit refs/heads/main\n" +
                      f"committer T <t@example.com> {1700000000 + c} +0000\n".encode() +
                      f"data {len(msg)}\n".encode() + msg +
                      f"M 644 inline file.txt\ndata {len(data)}\n".encode() + data + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(chunks), cwd=path,
                   check=True)


def check_run(t, label, f, s, prefix, frames):
    t.check(s.total and s.share() >= 0.95,
            f"{label}: cprof: {s.complete} of {s.total} user stacks complete "
            "(want >= 95%)", s.line)
    ok = f.where(lambda st: starts_with(user_part(st), prefix)).total()
    t.check(ok >= 0.95 * f.total(), f"{label}: {ok} of {f.total()} samples start with "
            f"{pattern_text(prefix)} (want >= 95%)", f.top(6))
    for name, share in frames:
        n = f.where(lambda st: has_run(user_part(st), (name,))).total()
        t.check(n >= share * f.total(), f"{label}: {name} in {n} of {f.total()} samples "
                f"(want >= {100 * share:.0f}%)", f.top(6))


def compare(t, label, cmd, prefix, frames, cwd=None, freq=999):
    """cprof on the bpf backend (default mode), on the perf backend with
    --unwind-check, and perf --call-graph dwarf, each running CMD"""
    _, f, s = unwind_record(t, ["-F", freq, "--", *cmd], t.path(f"{label}.folded"),
                            label, cwd=cwd)
    check_run(t, label, f, s, prefix, frames)
    perf, stacks = perf_dwarf_complete(t, cmd, label, freq=freq, cwd=cwd)
    t.check(len(stacks) > 50 and s.total and s.share() >= perf - 0.02,
            f"{label}: cprof's complete share {100 * s.share():.1f}% >= perf "
            f"--call-graph dwarf's {100 * perf:.1f}% (of {len(stacks)}) minus 2 points")

    plabel = f"{label}, perf backend --unwind-check"
    _, f, s = unwind_record(t, ["--backend", "perf", "--unwind-check", "-F", freq, "--", *cmd],
                            t.path(f"{label}.perf.folded"), plabel, cwd=cwd)
    check_run(t, plabel, f, s, prefix, frames)
    check_agreement(t, plabel, s, f.total())


def body(t):
    data = t.path("words.txt")
    words_file(data, 12_000_000)
    compare(t, "gzip -9", ["gzip", "-9", "-k", "-f", data], (None,) + LIBC_ROOT, [])

    compare(t, "python3 -c", ["/usr/bin/python3", "-c", PY_LOOP],
            ("_start",) + LIBC_ROOT + ("Py_BytesMain",), [("_PyEval_EvalFrameDefault", 0.9)])

    repo = t.path("repo")
    git_repo(repo)
    compare(t, "git log -p", ["git", "log", "-p", "--output=/dev/null", "main"],
            (None,) + LIBC_ROOT, [], cwd=repo)


Test("unwind-real").run(body)
