"""pprof keeps the addresses of frames cprof could not name: a stripped
dbg-hot (no .symtab, no debug file) recorded to pprof gives Locations with
the address in the binary and no Line, in a Mapping with the binary's
build-id and without has_functions, so that a symbolizer can name them
later. The test is that symbolizer: the unstripped binary's symbol table
must put most of those leaf addresses in dbg_spin_a and dbg_spin_b, in
their 3:1 proportion; and Google's pprof, given the unstripped binary
(PPROF_BINARY_PATH), names them so too."""
import gzip
import os
import shutil
import subprocess

import debug_util as du
from cprof_test import Test


def fields(buf):
    """(field number, wire type, value) of one protobuf message; value is
    an int for varints, bytes for length-delimited fields."""
    i = 0

    def varint():
        nonlocal i
        v = shift = 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return v

    while i < len(buf):
        key = varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            yield num, wire, varint()
        elif wire == 2:
            n = varint()
            yield num, wire, buf[i:i + n]
            i += n
        elif wire == 1:
            yield num, wire, int.from_bytes(buf[i:i + 8], "little")
            i += 8
        else:
            raise ValueError(f"wire type {wire}")


def packed(v):
    """A packed repeated varint field's values."""
    out = []
    i = 0
    while i < len(v):
        x = shift = 0
        while True:
            b = v[i]
            i += 1
            x |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        out.append(x)
    return out


def decode(path):
    """The parts of a gzipped pprof Profile this test reads."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    strings, samples, locations, mappings = [], [], {}, {}
    for num, _, v in fields(data):
        if num == 6:
            strings.append(v.decode("utf-8"))
        elif num == 2:
            s = {"locs": [], "value": []}
            for n, w, x in fields(v):
                if n == 1:
                    s["locs"] += packed(x) if w == 2 else [x]
                elif n == 2:
                    s["value"] += packed(x) if w == 2 else [x]
            samples.append(s)
        elif num == 4:
            loc = {"mapping": 0, "address": 0, "lines": 0}
            for n, _, x in fields(v):
                if n == 1:
                    loc["id"] = x
                elif n == 2:
                    loc["mapping"] = x
                elif n == 3:
                    loc["address"] = x
                elif n == 4:
                    loc["lines"] += 1
            locations[loc["id"]] = loc
        elif num == 3:
            m = {"filename": 0, "build_id": 0, "has_functions": 0, "memory_limit": 0}
            for n, _, x in fields(v):
                key = {1: "id", 3: "memory_limit", 5: "filename", 6: "build_id", 7: "has_functions"}.get(n)
                if key:
                    m[key] = x
            mappings[m["id"]] = m
    for m in mappings.values():
        m["filename"] = strings[m["filename"]]
        m["build_id"] = strings[m["build_id"]]
    return samples, locations, mappings


def functions(path):
    """(start, end, name) of the function symbols in an ELF file."""
    out = du.run(["nm", "--defined-only", "-S", path])
    funcs = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            start, size = int(parts[0], 16), int(parts[1], 16)
            funcs.append((start, start + size, parts[3]))
    return funcs


def name_of(funcs, addr):
    for start, end, name in funcs:
        if start <= addr < end:
            return name
    return None


def google_pprof(t):
    """Google's pprof, built from Debian's Go sources as the formats suite
    builds it (tests/formats/pprof-go.sh), reusing that build when it is
    there."""
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(t.cprof))))
    made = os.path.join(build, "tests", "formats", "pprof")
    if os.access(made, os.X_OK):
        return made
    out = t.path("pprof")
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode",
               GOCACHE=os.path.join(build, "gocache"))
    du.run(["go", "build", "-o", out, "github.com/google/pprof"], env=env)
    return out


def body(t):
    os.environ.pop("DEBUGINFOD_URLS", None)
    src = t.workload("dbg-hot")
    binary, debug = du.split(src, t.path("bin"), debuglink=False)
    os.unlink(debug)
    t.require(".symtab" not in du.sections(binary), "the stripped binary has no .symtab")

    out = t.path("alone.pb.gz")
    cmd = [t.cprof, "record", "-d", "2", "-F", "499", "-o", out, "--", binary, "0"]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=t.tmp)
    t.require(cp.returncode == 0, f"{' '.join(cmd)} exits 0 (got {cp.returncode})", cp.stderr)
    samples, locations, mappings = decode(out)

    mine = [m for m in mappings.values() if m["filename"] == binary]
    t.require(len(mine) == 1, f"one Mapping for {binary}",
              [m["filename"] for m in mappings.values()])
    m = mine[0]
    t.check(m["build_id"] == du.build_id(src), "the Mapping has the binary's build-id",
            (m["build_id"], du.build_id(src)))
    t.check(not m["has_functions"], "has_functions is not set: its frames are left to a symbolizer", m)
    t.check(m["memory_limit"] == 2**64 - 1, "the Mapping spans the address space (its addresses "
            "are the module's own)", m)
    in_bin = [l for l in locations.values() if l["mapping"] == m["id"]]
    t.check(in_bin and all(l["address"] and not l["lines"] for l in in_bin),
            f"all {len(in_bin)} Locations in the binary have an address and no Line",
            [l for l in in_bin if not l["address"] or l["lines"]][:5])
    t.check(len(in_bin) > 5, f"distinct addresses are distinct Locations ({len(in_bin)})")

    funcs = functions(src)
    by_name, total = {}, 0
    for s in samples:
        leaf = locations.get(s["locs"][0]) if s["locs"] else None
        if not leaf or leaf["mapping"] != m["id"]:
            continue
        name = name_of(funcs, leaf["address"])
        by_name[name] = by_name.get(name, 0) + s["value"][0]
        total += s["value"][0]
    t.require(total >= 400, f"samples with a leaf in the binary ({total}; 2 s at 499 Hz)", by_name)
    a, b = by_name.get("dbg_spin_a", 0), by_name.get("dbg_spin_b", 0)
    t.check(a + b >= 0.9 * total, f"the unstripped symbol table names {a + b} of {total} leaf "
            "addresses dbg_spin_a or dbg_spin_b (want >= 90%)", by_name)
    t.check(b > 0 and 2.0 <= a / b <= 4.5, f"dbg_spin_a : dbg_spin_b is {a}:{b} (want about 3:1)", by_name)

    # Google's pprof as that symbolizer, from the unstripped binary
    bins = t.path("unstripped")
    os.makedirs(bins)
    shutil.copy(src, os.path.join(bins, os.path.basename(binary)))
    top = du.run([google_pprof(t), "-symbolize=local", "-top", "-nodecount=5", out],
                 env=dict(os.environ, PPROF_BINARY_PATH=bins))
    rows = [l.split() for l in top.splitlines() if l.split() and l.split()[0].isdigit()]
    flat = {r[-1]: int(r[0]) for r in rows if len(r) >= 6}
    t.check(flat.get("dbg_spin_a", 0) + flat.get("dbg_spin_b", 0) >= 0.9 * total,
            "pprof -symbolize=local names the addresses dbg_spin_a and dbg_spin_b", top)


Test("pprof-addresses").run(body)
