"""debuginfod: a stripped dbg-hot whose debug file is nowhere on this
machine's paths is named from a real debuginfod server (Debian's, started
here on loopback over a scratch directory) when DEBUGINFOD_URLS names it,
with a scratch DEBUGINFOD_CACHE_PATH; a second recording is served from
that cache. A server that accepts and never answers, with
DEBUGINFOD_TIMEOUT=30, does not delay a 2 s recording: it ends as fast as
one without debuginfod, and the frames are [dbg-hot]. A MiniDebugInfo
build (names, no DWARF) still asks the server: its lines come from the
fetched debug file, and with a silent server it keeps its MiniDebugInfo
names."""
import os
import re

import debug_util as du
from cprof_test import Test


def gets(log, bid):
    """How many times the server answered a request for bid's debug file."""
    with open(log) as fh:
        return len(re.findall(rf"GET /buildid/{bid}/debuginfo 200", fh.read()))


def body(t):
    os.environ.pop("DEBUGINFOD_URLS", None)
    src = t.workload("dbg-hot")
    bid = du.build_id(src)
    binary, debug = du.split(src, t.path("bin"), debuglink=False)
    scan = t.path("scan")
    os.makedirs(scan)
    os.rename(debug, os.path.join(scan, "dbg-hot.debug"))
    args = ["-d", "2", "-F", "499", "--", binary, "0"]
    os.makedirs(t.path("mini"))
    mini = t.path("mini/dbg-hot")
    du.minidebuginfo(src, mini, t.path("mini-work"))

    # without a server: unnamed, and how long a 2 s recording takes here
    f, base = du.record(t, args, t.path("none.folded"), "no DEBUGINFOD_URLS")
    du.unnamed(t, f, "no DEBUGINFOD_URLS", base)

    # a server that never answers must not delay the recording
    silent = du.SilentServer()
    try:
        os.environ.update(DEBUGINFOD_URLS=silent.url, DEBUGINFOD_TIMEOUT="30",
                          DEBUGINFOD_CACHE_PATH=t.path("cache-silent"))
        f, r = du.record(t, args, t.path("silent.folded"), "silent server")
        limit = max(3.0, base.elapsed + 1.0)
        t.check(r.elapsed <= limit, f"silent server: the 2 s recording took {r.elapsed:.2f} s "
                f"(without debuginfod {base.elapsed:.2f} s; want <= {limit:.2f} s)")
        du.unnamed(t, f, "silent server", r)
        t.check(silent.accepted() >= 1,
                f"silent server: cprof connected to it ({silent.accepted()} connections)")
        f, r = du.record(t, ["-d", "2", "-F", "499", "--", mini, "0"], t.path("silent-mini.folded"),
                         "silent server, MiniDebugInfo")
        du.named(t, f, "silent server, MiniDebugInfo", r)
    finally:
        silent.stop()

    # a real server over the directory with the debug file
    srv = du.Debuginfod(t, scan)
    try:
        took = srv.wait_indexed(bid, t.path("cache-probe"))
        t.require(took is not None, "debuginfod serves the debug file to debuginfod-find",
                  open(t.path("debuginfod.log")).read()[-2000:])
        print(f"     (indexed after {took:.1f} s)")
        cache = t.path("cache")
        os.environ.update(DEBUGINFOD_URLS=srv.url, DEBUGINFOD_CACHE_PATH=cache)
        os.environ.pop("DEBUGINFOD_TIMEOUT", None)
        log = t.path("debuginfod.log")
        before = gets(log, bid)
        f, r = du.record(t, ["-d", "3", "-F", "499", "--", binary, "0"], t.path("served.folded"),
                         "real server")
        du.named(t, f, "real server", r)
        t.check(gets(log, bid) > before, "real server: cprof fetched the debug file from it",
                open(log).read()[-2000:])
        t.check(os.path.exists(os.path.join(cache, bid, "debuginfo")),
                "real server: the debug file is in DEBUGINFOD_CACHE_PATH")
        # the cache is used: no request, and still named
        before = gets(log, bid)
        f, r = du.record(t, ["-d", "3", "-F", "499", "--", binary, "0"], t.path("cached.folded"),
                         "warm cache")
        du.named(t, f, "warm cache", r)
        t.check(gets(log, bid) == before, "warm cache: no new request to the server")
        # MiniDebugInfo has names but no lines: the server's file has both
        f, r = du.record(t, ["--lines", "-d", "3", "-F", "499", "--", mini, "0"],
                         t.path("mini-lines.folded"), "MiniDebugInfo, real server")
        spin = [x for x in f.of("dbg-hot").frames() if x.startswith("dbg_spin_a")] if f else []
        t.check(spin and all(re.fullmatch(r"dbg_spin_a \(dbg-hot\.c:\d+\)", x) for x in spin),
                "MiniDebugInfo, real server: dbg_spin_a has its lines (DWARF from the server)", spin)
    finally:
        srv.stop()


Test("debuginfod-names").run(body)
