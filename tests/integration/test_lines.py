"""--lines gives each frame `name (file.c:42)` as `addr2line -i` gives the
lines: the innermost frame the sampled line, each outer (inlining or
calling) frame the line of its call site, the _[i] suffix last. Checked
against addr2line's own answers for every address of the inline
workload's functions (their ranges from nm): a real function's frame with
the inline frames below it must be, root first, what addr2line -i says for
some address inside that function."""
import os
import re
import subprocess

from cprof_test import Test, is_kernel

LINE_FRAME = re.compile(r"(.+) \(([^()]+):(\d+)\)(_\[[a-z]\])?")


def function_ranges(binary):
    """{name: (start, size)} of the functions nm lists with a size."""
    out = subprocess.run(["nm", "-S", "--defined-only", binary],
                         capture_output=True, text=True, check=True).stdout
    ranges = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwW" and int(parts[1], 16) > 0:
            ranges[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    return ranges


def addr2line_chains(binary, addrs):
    """{addr: ((function, 'basename:line'), ...)} root first, as
    `addr2line -i -f -C` answers (discriminators dropped)."""
    out = subprocess.run(
        ["addr2line", "-i", "-f", "-C", "-a", "-e", binary] +
        [hex(a) for a in addrs],
        capture_output=True, text=True, check=True).stdout.splitlines()
    chains = {}
    addr, pairs = None, []
    i = 0
    while i < len(out):
        if re.fullmatch(r"0x[0-9a-f]+", out[i]):
            if addr is not None:
                chains[addr] = tuple(reversed(pairs))
            addr, pairs = int(out[i], 16), []
            i += 1
            continue
        func, loc = out[i], out[i + 1].split(" (discriminator")[0]
        path, _, line = loc.rpartition(":")
        pairs.append((func, f"{os.path.basename(path)}:{line}"))
        i += 2
    if addr is not None:
        chains[addr] = tuple(reversed(pairs))
    return chains


def body(t):
    binary = t.workload("inline")
    ranges = function_ranges(binary)
    ours = ("main", "run", "outer_a", "outer_b")
    t.require(all(n in ranges for n in ours),
              f"nm lists {', '.join(ours)} with sizes", ranges)
    # every address of the workload's own functions: a few hundred bytes
    by_func = {}
    for name in ours:
        start, size = ranges[name]
        by_func[name] = addr2line_chains(binary, range(start, start + size))
    answers = {n: set(c.values()) for n, c in by_func.items()}
    innermost = {n: {c[-1] for c in ch} for n, ch in answers.items()}
    t.require(any(len(c) == 3 for c in answers["outer_a"]) and
              any(len(c) == 4 for c in answers["outer_b"]),
              "addr2line -i sees the inline chains (3 and 4 deep)",
              sorted(answers["outer_b"]))

    _, f = t.record_ok(["-F", "999", "--lines", "--", binary, "2.5"],
                       t.path("lines.folded"))
    unlined, groups, leaves = [], [], []
    for s, c in f.stacks:
        parsed = []
        for x in s[1:]:
            m = LINE_FRAME.fullmatch(x)
            if m:
                parsed.append((m.group(1), m.group(2), int(m.group(3)),
                               m.group(4) or ""))
            else:
                parsed.append((x, None, None, ""))
                if not is_kernel(x) and x.split(" (")[0] in ours:
                    unlined.append(f"{';'.join(s)} {c}")
        # a real function of the workload and the inline frames below it
        i = 0
        while i < len(parsed):
            name, file, line, kind = parsed[i]
            if name in ours and kind == "":
                j = i + 1
                while j < len(parsed) and parsed[j][3] == "_[i]":
                    j += 1
                groups.append((name, parsed[i:j], s, c))
                # the user-space leaf: only kernel frames below it
                if all(is_kernel(x) for x in s[j + 1:]):
                    leaves.append((name, parsed[j - 1], s, c))
                i = j
            else:
                i += 1

    t.check(not unlined, "--lines: every frame of the workload's functions "
            "carries (file:line)", "\n".join(unlined[:10]))
    files = {fr[1] for _, g, _, _ in groups for fr in g if fr[1]}
    # the workload's own file, and headers it inlines (common.h)
    t.check("inline.c" in files and all("/" not in f for f in files),
            f"--lines: files are basenames (got {sorted(files)})")
    t.require(len(groups) > 0, "--lines: stacks through the workload's "
              "functions", f.top())

    bad = []
    seen = set()
    for name, g, s, c in groups:
        chain = tuple((fr[0], f"{fr[1]}:{fr[2]}") for fr in g)
        seen.add(chain)
        if chain not in answers[name]:
            bad.append(f"{' ; '.join(f'{a} ({b})' for a, b in chain)}   "
                       f"in {';'.join(s)} {c}")
    t.check(not bad, f"--lines: each of {len(seen)} distinct function+inline "
            "chains is addr2line -i's answer for an address of that function",
            "\n".join(bad[:10]))

    bad = []
    for name, fr, s, c in leaves:
        pair = (fr[0], f"{fr[1]}:{fr[2]}")
        if pair not in innermost[name]:
            bad.append(f"{pair} in {';'.join(s)} {c}")
    t.check(not bad, "--lines: the innermost frame's (function, file:line) "
            "is among addr2line's innermost answers for that function",
            "\n".join(bad[:10]))

    # the inline frames and their lines are there at all: the hot lines of
    # the chains' innermost loops carry the samples
    inner = sum(c for name, fr, s, c in leaves if fr[0] == "inner_a" and
                fr[3] == "_[i]")
    core = sum(c for name, fr, s, c in leaves if fr[0] == "b_core" and
               fr[3] == "_[i]")
    t.share_within(inner / f.total(), 0.60, 0.10,
                   "--lines: leaves 'inner_a (inline.c:N)_[i]'", f.top())
    t.share_within(core / f.total(), 0.25, 0.10,
                   "--lines: leaves 'b_core (inline.c:N)_[i]'", f.top())


Test("lines").run(body)
