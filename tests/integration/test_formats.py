"""The output format follows the extension of -o, or --format."""
import gzip
import json

from cprof_test import Test, kill_and_wait, parse_folded


def body(t):
    w = t.start("hot")
    outs = {"x.svg": [], "x.pb.gz": [], "x.speedscope.json": [],
            "x.json": [], "x.txt": ["--format", "folded"],
            "y.out": ["--format", "svg"]}
    runs = {}
    for name, extra in outs.items():
        runs[name] = t.spawn_record(["--pid", w.ready_pid, "-d", "1.5", "-F",
                                     "499", "-o", t.path(name)] + extra)
    for name, p in runs.items():
        _, err = p.communicate(timeout=30)
        t.check(p.returncode == 0, f"-o {name} {' '.join(outs[name])}: exit 0",
                err)
    kill_and_wait(w)

    def read(name):
        try:
            with open(t.path(name), "rb") as f:
                return f.read()
        except OSError as e:
            return str(e).encode()

    for name in ("x.svg", "y.out"):
        d = read(name).lstrip()
        t.check(d.startswith(b"<?xml") or d.startswith(b"<svg"),
                f"{name} is SVG", d[:80])
        t.check(b"</svg>" in d[-200:] and b"hot_a" in d,
                f"{name} is complete and names hot_a")
    d = read("x.pb.gz")
    t.check(d[:2] == b"\x1f\x8b", "x.pb.gz is gzip", d[:16])
    try:
        pb = gzip.decompress(d)
    except Exception as e:  # not gzip or truncated
        pb = b""
        print(f"     gunzip: {e}")
    t.check(b"hot_a" in pb, "x.pb.gz unpacks to a profile naming hot_a")
    for name in ("x.speedscope.json", "x.json"):
        try:
            j = json.loads(read(name))
        except ValueError as e:
            j = None
            print(f"     {name}: {e}")
        t.check(j is not None, f"{name} is JSON")
        t.check(j is not None and "hot_a" in json.dumps(j),
                f"{name} names hot_a")
    try:
        schema = json.loads(read("x.speedscope.json")).get("$schema", "")
    except (ValueError, AttributeError):
        schema = ""
    t.check("speedscope" in schema, "x.speedscope.json has the speedscope "
            f"$schema ({schema!r})")
    f, errors = parse_folded(t.path("x.txt"))
    t.check(not errors and f.with_frame("hot_a").total() > 0,
            "--format folded -o x.txt writes folded stacks", "\n".join(errors))


Test("formats").run(body)
