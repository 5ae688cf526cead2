"""Separate debug files and MiniDebugInfo: a stripped dbg-hot (its static
functions are in no .dynsym) is named only from the debug file cprof finds
and accepts.

Found: by .gnu_debuglink beside the binary, in the binary's .debug/, under a
--debug-dir with the binary's directory path, and by build-id under a
--debug-dir (DIR/.build-id/NN/REST.debug); from .gnu_debugdata (the
xz-compressed symtab Fedora-style builds carry). Not found: the build-id
file without its --debug-dir. Rejected: a decoy debug file (another build,
same layout, other names) where the debuglink or the build-id points."""
import os

import debug_util as du
from cprof_test import Test


def record(t, binary, out, extra=()):
    """Launches binary for 2 s under cprof. Returns (folded file, Result)."""
    return du.record(t, ["-d", "2", "-F", "499", *extra, "--", binary, "0"], t.path(out), out)


def named(t, fr, what):
    du.named(t, fr[0], what, fr[1])


def unnamed(t, fr, what):
    du.unnamed(t, fr[0], what, fr[1])


def body(t):
    # names must come from the files here, not from a server
    os.environ.pop("DEBUGINFOD_URLS", None)
    src = t.workload("dbg-hot")
    bid = du.build_id(src)
    t.require(du.local_funcs(src) >= set(du.NAMES), "dbg-hot has its static functions in .symtab",
              du.local_funcs(src))
    decoy_src = t.workload("dbg-hot-decoy")
    decoy = t.path("decoy.debug")
    du.keep_debug(decoy_src, decoy)
    t.require(du.build_id(decoy) != bid, "the decoy debug file has another build-id")

    # the stripped binary alone: nothing names its functions
    alone, d = du.split(src, t.path("alone"), debuglink=False)
    # no guess by name either (libdwfl would take NAME.debug beside it)
    os.unlink(d)
    t.require(".symtab" not in du.sections(alone), "the stripped binary has no .symtab")
    unnamed(t, record(t, alone, "alone.folded"), "stripped, no debug file")

    # (a) debuglink, debug file beside the binary
    b, d = du.split(src, t.path("beside"))
    t.require(".gnu_debuglink" in du.sections(b), "the stripped binary has a .gnu_debuglink")
    named(t, record(t, b, "beside.folded"), "debuglink beside the binary")

    # (b) debuglink, debug file in the binary's .debug/
    b, d = du.split(src, t.path("dotdebug"))
    du.place(d, t.path("dotdebug/.debug/dbg-hot.debug"))
    os.unlink(d)
    t.require(not os.path.exists(d), "only .debug/ has the debug file")
    named(t, record(t, b, "dotdebug.folded"), "debuglink in BINDIR/.debug/")

    # debuglink under a debug directory: DIR/BINDIR/NAME
    b, d = du.split(src, t.path("global"))
    gdir = t.path("global-dbg")
    du.place(d, gdir + os.path.abspath(t.path("global")) + "/dbg-hot.debug")
    os.unlink(d)
    unnamed(t, record(t, b, "global-none.folded"), "debuglink under a debug dir not given")
    named(t, record(t, b, "global.folded", ["--debug-dir", gdir]),
             "debuglink under --debug-dir DIR/BINDIR/")

    # (c) build-id under --debug-dir; the binary has no debuglink
    b, d = du.split(src, t.path("byid"), debuglink=False)
    ddir = t.path("byid-dbg")
    du.place(d, du.build_id_path(ddir, bid))
    os.unlink(d)
    unnamed(t, record(t, b, "byid-none.folded"), "build-id file, no --debug-dir")
    # the wanted directory is not the first one given: each is searched
    empty = t.path("empty-dbg")
    os.makedirs(empty)
    named(t, record(t, b, "byid.folded", ["--debug-dir", empty, "--debug-dir", ddir]),
             "build-id under the second --debug-dir")

    # decoys: the wrong build's debug file where the debuglink points, and
    # where the build-id points
    b, d = du.split(src, t.path("decoy-beside"))
    du.place(decoy, d)
    unnamed(t, record(t, b, "decoy-beside.folded"), "decoy beside the binary")
    b, d = du.split(src, t.path("decoy-first"))
    du.place(d, t.path("decoy-first/.debug/dbg-hot.debug"))
    du.place(decoy, d)
    named(t, record(t, b, "decoy-first.folded"),
             "decoy beside the binary, the real one in .debug/ (the search goes on)")
    b, d = du.split(src, t.path("decoy-byid"), debuglink=False)
    os.unlink(d)
    bad = t.path("decoy-byid-dbg")
    du.place(decoy, du.build_id_path(bad, bid))
    unnamed(t, record(t, b, "decoy-byid.folded", ["--debug-dir", bad]),
               "decoy at the build-id path")

    # MiniDebugInfo: no debug file anywhere, the symtab in .gnu_debugdata
    mini_bin = t.path("mini/dbg-hot")
    os.makedirs(t.path("mini"))
    mini = du.minidebuginfo(src, mini_bin, t.path("mini-work"))
    secs = du.sections(mini_bin)
    t.require(".gnu_debugdata" in secs and ".symtab" not in secs and ".debug_info" not in secs,
              "the MiniDebugInfo binary has .gnu_debugdata and neither .symtab nor DWARF",
              sorted(secs))
    t.require(du.local_funcs(mini) >= set(du.NAMES),
              "its .gnu_debugdata has the static functions", du.local_funcs(mini))
    named(t, record(t, mini_bin, "mini.folded"), "MiniDebugInfo (.gnu_debugdata)")


Test("debug-files").run(body)
