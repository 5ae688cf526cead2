"""DWARF unwinding from a separate debug file's .debug_frame: nofp-chain
built without unwind tables (-fno-asynchronous-unwind-tables
-fno-unwind-tables) has the CFI of its own code only in .debug_frame, and
strip moves that section into the debug file with the rest of the DWARF.

The stripped binary alone has no CFI for main -> alpha -> beta -> gamma |
delta: its stacks are cut. With its debug file found by .gnu_debuglink
beside it (both backends: the in-kernel unwinder and the userspace one
over the perf backend's stack copies) and by build-id under a --debug-dir
(with compressed sections),
at least 95% of the samples unwind through the chain to _start, and the
summary counts them complete."""
import os

import debug_util as du
from cprof_test import MAIN_PREFIX, Test, check_unwound, unwind_record

CHAIN = MAIN_PREFIX + ("alpha", "beta")
NAME = "nofp-chain"


def record(t, binary, label, extra=()):
    _, f, s = unwind_record(t, ["--unwind", "dwarf", "-F", "499", *extra, "--", binary, "2"],
                            t.path(label.replace(" ", "-") + ".folded"), label)
    return f.of(NAME), s


def body(t):
    os.environ.pop("DEBUGINFOD_URLS", None)
    src = t.workload("nofp-chain-df")
    t.require(".debug_frame" in du.sections(src), "nofp-chain-df has a .debug_frame")
    frames = du.run(["readelf", "--debug-dump=frames", src])
    t.require(".debug_frame" in frames, "readelf shows its .debug_frame FDEs")

    # the stripped binary alone: no CFI for its own code
    alone, d = du.split(src, t.path("alone"), debuglink=False, name=NAME)
    os.unlink(d)
    t.require(".debug_frame" not in du.sections(alone), "strip moved .debug_frame out")
    p, s = record(t, alone, "stripped alone")
    t.check(s.total and s.share() < 0.5, f"stripped alone: {s.complete} of {s.total} user "
            "stacks complete (want < 50%: the CFI is not there)", s.line)

    # (a) debuglink beside the binary, both backends
    b, _ = du.split(src, t.path("beside"), name=NAME)
    for backend in ("bpf", "perf"):
        label = f"debuglink {backend}"
        p, s = record(t, b, label, ["--backend", backend])
        check_unwound(t, label, p, s, CHAIN, want=0.95,
                      extra=lambda u: len(u) > len(CHAIN) and u[len(CHAIN)] in ("gamma", "delta"))

    # (b) by build-id under --debug-dir, no debuglink; its sections
    # compressed, as libc6-dbg's are (libdw inflates them in place)
    b, d = du.split(src, t.path("byid"), debuglink=False, name=NAME)
    du.run(["objcopy", "--compress-debug-sections=zlib", d])
    t.require("C" in du.run(["readelf", "-W", "-S", d]).split(".debug_frame", 1)[1].split("\n", 1)[0],
              "the debug file's .debug_frame is compressed")
    debug_dir = t.path("debug")
    du.place(d, du.build_id_path(debug_dir, du.build_id(src)))
    os.unlink(d)
    label = "build-id under --debug-dir"
    p, s = record(t, b, label, ["--debug-dir", debug_dir])
    check_unwound(t, label, p, s, CHAIN, want=0.95)


Test("unwind-debug-frame").run(body)
