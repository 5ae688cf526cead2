"""Unwinding through CPython's perf trampolines: pyenv's python3.12 and
python3.13 (built without frame pointers) running workloads/py-chain.py
under -X perf, which calls every Python function through its own copy of
a small trampoline in anonymous memory that has no CFI. Without knowing
those copies every stack stops at the first Python frame (6 of 1,506
complete before); with them, on the bpf backend (in the kernel and with
--user-unwind) and on the perf backend:

- >= 95% of the user stacks complete by the summary, >= 95% of the
  samples start at _start;
- the Python frames (`py::NAME:FILE_[j]`, named from /tmp/perf-PID.map)
  of every sample in a leaf are exactly <module>, main, outer, middle,
  leaf, in that order, with the script's path;
- leaf_a has 3/4 of the leaf samples (+-0.08).

Without -X perf (no trampolines) the interpreter's stacks are complete
too and carry no py:: frame. The perf maps Python writes are removed."""
import glob
import os

from cprof_test import Test, unwind_record, user_part

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "workloads", "py-chain.py")
PYENV = os.environ.get("PYENV_ROOT", "/root/.pyenv")
CHAIN = ("<module>", "main", "outer", "middle")


def pyenv_python(version):
    """The newest pyenv build of VERSION (every machine here has 3.8-3.13)"""
    found = sorted(glob.glob(f"{PYENV}/versions/{version}.*/bin/python{version}"))
    return found[-1] if found else None


def py_frames(stack):
    """The py:: frames of a stack, root first, as (name, file)"""
    out = []
    for x in stack:
        if x.startswith("py::") and x.endswith("_[j]"):
            name, _, path = x[4:-4].partition(":")
            out.append((name, path))
    return out


def check_python(t, label, f, s, with_perf):
    total = f.total()
    t.check(s.total and s.share() >= 0.95,
            f"{label}: {s.complete} of {s.total} user stacks complete (want >= 95%)", s.line)
    rooted = f.where(lambda st: user_part(st)[:1] == ("_start",)).total()
    t.check(rooted >= 0.95 * total,
            f"{label}: {rooted} of {total} samples start at _start (want >= 95%)", f.top(4))
    if not with_perf:
        named = f.where(lambda st: py_frames(st)).total()
        t.check(named == 0, f"{label}: no py:: frame without -X perf ({named} samples)", f.top(4))
        return
    leaves = {"leaf_a": 0, "leaf_b": 0}
    wrong = []
    for st, c in f.stacks:
        py = py_frames(st)
        names = tuple(n for n, _ in py)
        leaf = next((x for x in leaves if x in names), None)
        if leaf is None:
            continue
        leaves[leaf] += c
        if names != CHAIN + (leaf,) or any(p != SCRIPT for _, p in py):
            wrong.append((st, c))
    in_leaf = sum(leaves.values())
    t.check(in_leaf >= 0.6 * total,
            f"{label}: {in_leaf} of {total} samples in leaf_a or leaf_b (want >= 60%)", f.top(4))
    bad = sum(c for _, c in wrong)
    t.check(in_leaf and bad <= 0.02 * in_leaf,
            f"{label}: {in_leaf - bad} of {in_leaf} leaf samples have exactly the Python frames "
            f"{';'.join(CHAIN)};leaf, named with {SCRIPT}",
            "\n".join(f"{';'.join(st)} {c}" for st, c in wrong[:5]))
    if in_leaf:
        t.share_within(leaves["leaf_a"] / in_leaf, 0.75, 0.08, f"{label}: leaf_a's share of the leaf samples")


def body(t):
    before = set(glob.glob("/tmp/perf-*.map"))
    try:
        for version in ("3.12", "3.13"):
            py = pyenv_python(version)
            t.require(py is not None, f"a pyenv python{version} is installed under {PYENV}")
            cmd = [py, "-X", "perf", SCRIPT, "3"]
            for label, extra in ((f"python{version} -X perf", []),
                                 (f"python{version} -X perf, --user-unwind", ["--user-unwind"]),
                                 (f"python{version} -X perf, perf backend", ["--backend", "perf"])):
                _, f, s = unwind_record(t, [*extra, "-F", 499, "--", *cmd],
                                        t.path(f"{label.replace(' ', '_')}.folded"), label)
                check_python(t, label, f, s, True)
        label = "python3.12 without -X perf"
        _, f, s = unwind_record(t, ["-F", 499, "--", pyenv_python("3.12"), SCRIPT, "2"],
                                t.path("plain.folded"), label)
        check_python(t, label, f, s, False)
    finally:
        for path in set(glob.glob("/tmp/perf-*.map")) - before:
            os.unlink(path)


Test("unwind-python").run(body)
