#!/usr/bin/python3
"""Bad input for every cprof command, as a table (issue 9, "Tests").

Each row runs one command on one bad input (or with one bad output place)
and asserts: the exit status (1 for bad input, 2 for usage), one error line
on stderr naming the file or argument and the reason (warnings ending in
", skipping" may come before it), no sanitizer report and no signal, no
hang (a time limit) and no runaway memory (the RSS is watched and the
command killed above a limit, so a regression fails instead of eating the
machine), and that no output or temporary file is left behind.

Scratch files live on tmpfs mounts made here: a 64 KiB one that is full,
one remounted read-only (root ignores permissions, a read-only mount it
cannot), a sticky world-writable directory with links planted by
'nobody'. Unreadable files are read by 'nobody' (setpriv). Needs root.

usage: badinput.py CPROF    prints one "ok"/"FAIL" line per case (TAP)
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

CPROF = os.path.abspath(sys.argv[1])
TIME_LIMIT = 20.0          # seconds per case (the ASan build is slower)
RSS_LIMIT = 400 << 20      # bytes; bounded input needs far less
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")

GOOD = "main;parse;lex 30\nmain;parse 10\nmain;run 60\n"
PERF_SAMPLE = ("app 1234 [000] 100.000001:   1010101 cpu-clock:\n"
               "\t    55d0c0a0b0c0 lex+0x10 (/usr/bin/app)\n"
               "\t    55d0c0a0b1c0 main+0x20 (/usr/bin/app)\n\n")


def setup(root):
    """Inputs, mounts and planted links; returns the placeholders."""
    p = {}
    data = os.path.join(root, "data")
    os.mkdir(data)
    os.chmod(root, 0o755)
    os.chmod(data, 0o755)

    def put(name, content, mode=0o644):
        path = os.path.join(data, name)
        with open(path, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        os.chmod(path, mode)
        p[name] = path
        return path

    put("good.folded", GOOD)
    put("empty.folded", "")
    put("binary.folded", b"\x00\x01\x02\x03ELF" + os.urandom(4096))
    put("nulmid.folded", GOOD * 50 + "main;x\x00y 1\n" + GOOD * 50)
    put("crlf.folded", GOOD.replace("\n", "\r\n"))
    put("huge.folded", "main;a 1" + "0" * 100 + "\nmain;b 1\n")
    put("huge400.folded", "main;a 1" + "0" * 399 + "\n")
    put("zero.folded", "main;a 0\nmain;b 0\n")
    put("json.folded", '{"profile": {"main;a": 1}, "total": 1}\n')
    put("perfdata.folded", b"PERFILE2" + b"\x68\x00\x00\x00\x00\x00\x00\x00" + b"\x00" * 200)
    put("perfscript.txt", PERF_SAMPLE * 20)
    put("perfscript-crlf.txt", (PERF_SAMPLE * 20).replace("\n", "\r\n"))
    put("perfscript-400.txt", PERF_SAMPLE.replace("1010101", "1" + "0" * 399) * 3)
    put("unreadable.folded", GOOD, 0o000)
    put("victim", "root's secret\n", 0o600)
    r = subprocess.run([CPROF, "report", "--json", p["good.folded"]], capture_output=True)
    put("report.json", r.stdout if r.returncode == 0 and r.stdout else
        b'{"total": 100, "functions": [{"name": "main", "self": 0, "total": 100}]}\n')
    p["adir"] = os.path.join(data, "adir")
    os.mkdir(p["adir"])
    p["devzero"], p["urandom"] = "/dev/zero", "/dev/urandom"

    # full: a 64 KiB tmpfs filled to the last block
    p["full"] = os.path.join(root, "full")
    os.mkdir(p["full"])
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0777", "tmpfs", p["full"]], check=True)
    try:
        with open(os.path.join(p["full"], "filler"), "wb") as f:
            while True:
                f.write(b"x" * 4096)
                f.flush()
    except OSError:
        pass
    # read-only: a tmpfs remounted ro
    p["ro"] = os.path.join(root, "ro")
    os.mkdir(p["ro"])
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0777", "tmpfs", p["ro"]], check=True)
    subprocess.run(["mount", "-o", "remount,ro", p["ro"]], check=True)
    # sticky world-writable: links planted by nobody towards root's file
    p["sticky"] = os.path.join(root, "sticky")
    os.mkdir(p["sticky"])
    os.chmod(p["sticky"], 0o1777)
    for name in ("out.svg", "out.folded", "palette.map"):
        subprocess.run(NOBODY + ["ln", "-s", p["victim"], os.path.join(p["sticky"], name)], check=True)
    return p


def teardown(p):
    for m in ("full", "ro"):
        if m in p:
            subprocess.run(["umount", "-l", p[m]])


def listing(dirs):
    out = set()
    for d in dirs:
        for base, subdirs, files in os.walk(d):
            for n in subdirs + files:
                out.add(os.path.join(base, n))
    return out


def rss_of(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) << 10
    except OSError:
        pass
    return 0


def feed(proc, kind, seconds):
    """Writes endless input to proc's stdin: zeros, or the same folded
    line, for `seconds` (then closes: a legal input that is long)."""
    chunk = b"\0" * 65536 if kind == "zeros" else b"main;spin;loop 1\n" * 4096
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end and proc.poll() is None:
            proc.stdin.write(chunk)
        proc.stdin.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def subst(text, values):
    """{key} replaced by values[key]; other braces (regex counts) kept."""
    return re.sub(r"\{([\w.\-]+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def run(case, p, work):
    fmt = dict(p, w=work)
    argv = [subst(a, fmt) for a in case["args"]]
    if case.get("nobody"):
        argv = NOBODY + argv
    stdout = subprocess.PIPE
    if "stdout_to" in case:
        stdout = open(subst(case["stdout_to"], fmt), "wb")
    stdin = subprocess.DEVNULL
    fifo_thread = None
    if "stdin" in case and case["stdin"].startswith("endless-"):
        stdin = subprocess.PIPE
    elif "fifo" in case:
        fifo = os.path.join(work, "in.fifo")
        os.mkfifo(fifo)
        argv = [a.replace("{fifo}", fifo) for a in argv]

        def writer():
            with open(fifo, "w") as f:
                f.write(case["fifo"])
        fifo_thread = threading.Thread(target=writer, daemon=True)
        fifo_thread.start()
    env = dict(os.environ, UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
               ASAN_OPTIONS="detect_leaks=1")
    proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, cwd=work,
                            env=env, start_new_session=True)
    if stdin == subprocess.PIPE:
        kind = case["stdin"][len("endless-"):]
        threading.Thread(target=feed, args=(proc, kind, case.get("feed_seconds", 60)), daemon=True).start()
    out_chunks, err_chunks = [], []
    readers = [threading.Thread(target=lambda s, c: c.append(s.read()), args=(proc.stderr, err_chunks),
                                daemon=True)]
    if stdout == subprocess.PIPE:
        readers.append(threading.Thread(target=lambda s, c: c.append(s.read()),
                                        args=(proc.stdout, out_chunks), daemon=True))
    for t in readers:
        t.start()
    start, peak, killed = time.monotonic(), 0, None
    while proc.poll() is None:
        peak = max(peak, rss_of(proc.pid))
        if peak > RSS_LIMIT:
            killed = f"RSS above {RSS_LIMIT >> 20} MiB"
        elif time.monotonic() - start > case.get("time_limit", TIME_LIMIT):
            killed = f"still running after {case.get('time_limit', TIME_LIMIT)} s"
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    for t in readers:
        t.join(5)
    if stdout != subprocess.PIPE:
        stdout.close()
    out = b"".join(c for c in out_chunks if c)
    err = b"".join(c for c in err_chunks if c).decode(errors="replace")
    return proc.returncode, out, err, killed, peak


def check(case, p, work, before):
    rc, out, err, killed, peak = run(case, p, work)
    fmt = dict(p, w=work)
    problems = []
    if killed:
        problems.append(killed)
    elif rc < 0:
        problems.append(f"killed by signal {-rc}")
    if SANITIZER.search(err):
        problems.append("sanitizer report")
    want_rc = case["rc"]
    if not killed and rc not in (want_rc if isinstance(want_rc, tuple) else (want_rc,)):
        problems.append(f"exit status {rc}, expected {want_rc}")
    lines = [l for l in err.splitlines() if l.strip()]
    errors = [l for l in lines if not l.rstrip().endswith(", skipping") and
              not re.match(r"cprof: warning: \d+ more bad lines", l)]
    if case["rc"] != 0:
        if len(errors) != 1:
            problems.append(f"{len(errors)} error lines, expected one")
        pattern = subst(case["err"], {k: re.escape(v) for k, v in fmt.items()})
        if not errors or not re.search(pattern, errors[-1]):
            problems.append(f"message does not match /{pattern}/")
        if out and "stdout_ok" not in case:
            problems.append(f"{len(out)} bytes on stdout")
    if "out" in case and not re.search(case["out"], out.decode(errors="replace").replace(",", "")):
        problems.append(f"stdout does not match /{case['out']}/")
    if "out_not" in case and re.search(case["out_not"], out.decode(errors="replace")):
        problems.append(f"stdout matches /{case['out_not']}/")
    if "max_rss" in case and peak > case["max_rss"]:
        problems.append(f"peak RSS {peak >> 20} MiB above {case['max_rss'] >> 20} MiB")
    left = listing([work, p["full"], p["ro"], p["sticky"]]) - before
    left.discard(os.path.join(work, "in.fifo"))
    left -= {subst(f, fmt) for f in case.get("creates", ())}
    if left:
        problems.append("left behind: " + ", ".join(sorted(left)))
    if open(p["victim"]).read() != "root's secret\n" or os.stat(p["victim"]).st_size != 14:
        problems.append("the symlink target was overwritten")
        with open(p["victim"], "w") as f:
            f.write("root's secret\n")
    return problems, err


# ---- the table

NAME = "'?{%s}'?"                 # the file, quoted or not
BINARY = r"(?i){%s}.*(binary|not a text file)"
EMPTY = r"(?i)(no (stacks|samples)|empty).*{%s}|{%s}.*(empty|no (stacks|samples))"
ZERO = r"(?i)no samples.*{%s}|{%s}.*no samples"
JSON = r"(?i){%s}.*(json|not a folded)"
PERFDATA = r"(?i){%s}.*perf\.data|{%s}.*perf script"
PERFTEXT = r"(?i){%s}.*(perf script|cprof collapse)"
ISDIR = r"{%s}.*Is a directory"
NOPERM = r"cannot read '{%s}'.*Permission denied"


def msg(template, key):
    return template.replace("%s", key)


# (input key, regex for the error line, issue item) for files given to
# the folded readers
BAD_FOLDED = [
    ("empty.folded", msg(EMPTY, "empty.folded"), "14"),
    ("binary.folded", msg(BINARY, "binary.folded"), "9"),
    ("nulmid.folded", msg(BINARY, "nulmid.folded"), "9"),
    ("devzero", msg(BINARY, "devzero"), "9"),
    ("urandom", msg(BINARY, "urandom"), "9"),
    ("zero.folded", msg(ZERO, "zero.folded"), "14"),
    ("json.folded", msg(JSON, "json.folded"), "15"),
    ("report.json", msg(JSON, "report.json"), "15"),
    ("perfdata.folded", msg(PERFDATA, "perfdata.folded"), "15"),
    ("perfscript.txt", msg(PERFTEXT, "perfscript.txt"), "15"),
    ("adir", msg(ISDIR, "adir"), "-"),
    ("unreadable.folded", msg(NOPERM, "unreadable.folded"), "-"),
]
CONVERT_TO = ["out.svg", "out.folded", "out.pb.gz", "out.speedscope.json", "out.json"]

CASES = []
for key, err, item in BAD_FOLDED:
    nobody = key == "unreadable.folded"
    CASES.append(dict(name=f"flamegraph {key}", args=[CPROF, "flamegraph", "{%s}" % key],
                      rc=1, err=err, item=item, nobody=nobody))
    CASES.append(dict(name=f"report {key}", args=[CPROF, "report", "{%s}" % key],
                      rc=1, err=err, item=item, nobody=nobody))
    CASES.append(dict(name=f"diff {key} good", args=[CPROF, "diff", "{%s}" % key, "{good.folded}"],
                      rc=1, err=err, item=item, nobody=nobody))
    for out in CONVERT_TO:
        CASES.append(dict(name=f"convert {key} -o {out}",
                          args=[CPROF, "convert", "{%s}" % key, "-o", "{w}/" + out],
                          rc=1, err=err, item=item, nobody=nobody))

CASES += [
    # endless input on standard input
    dict(name="flamegraph < endless zeros", args=[CPROF, "flamegraph"], stdin="endless-zeros",
         rc=1, err=r"(?i)<stdin>.*(binary|not a text file)", item="9"),
    dict(name="report < endless zeros", args=[CPROF, "report", "-"], stdin="endless-zeros",
         rc=1, err=r"(?i)<stdin>.*(binary|not a text file)", item="9"),
    dict(name="collapse < endless zeros", args=[CPROF, "collapse"], stdin="endless-zeros",
         rc=1, err=r"(?i)<stdin>.*(binary|not a text file)", item="9"),
    dict(name="flamegraph < 3 s of one repeated stack: memory stays bounded", args=[CPROF, "flamegraph"],
         stdin="endless-text", feed_seconds=3, rc=0, out=r"<title>loop \(", max_rss=150 << 20, item="9"),
    # input kinds that are fine
    dict(name="flamegraph crlf.folded", args=[CPROF, "flamegraph", "{crlf.folded}"], rc=0,
         out=r"<title>lex \(30 samples", item="-"),
    dict(name="flamegraph huge.folded (1e100)", args=[CPROF, "flamegraph", "{huge.folded}"], rc=0,
         out=r"<title>a \(1000000000000000\d{85} samples", item="14"),
    dict(name="report huge.folded (1e100, no cut digits, no padding)", args=[CPROF, "report", "{huge.folded}"],
         rc=0, out=r"(1000000000000000\d{85}(?!\d)|1e\+100)", out_not=r" {40}", item="14"),
    dict(name="flamegraph huge400.folded (beyond a double)", args=[CPROF, "flamegraph", "{huge400.folded}"],
         rc=1, err=r"(?i)huge400\.folded.*(range|no (stacks|samples))|(range|no (stacks|samples)).*huge400\.folded", item="14"),
    dict(name="flamegraph from a FIFO", args=[CPROF, "flamegraph", "{fifo}"], fifo=GOOD, rc=0,
         out=r"<title>run \(60 samples", item="-"),
    dict(name="convert -o FIFO input", args=[CPROF, "convert", "{fifo}", "-o", "{w}/o.folded"], fifo=GOOD,
         rc=0, creates=["{w}/o.folded"], item="-"),
    # collapse: perf script readers
    dict(name="collapse empty", args=[CPROF, "collapse", "{empty.folded}"], rc=1,
         err=msg(EMPTY, "empty.folded"), item="12"),
    dict(name="collapse binary", args=[CPROF, "collapse", "{binary.folded}"], rc=1,
         err=msg(BINARY, "binary.folded"), item="9"),
    dict(name="collapse nul in the middle", args=[CPROF, "collapse", "{nulmid.folded}"], rc=1,
         err=msg(BINARY, "nulmid.folded"), item="9"),
    dict(name="collapse /dev/zero", args=[CPROF, "collapse", "{devzero}"], rc=1,
         err=msg(BINARY, "devzero"), item="9"),
    dict(name="collapse /dev/urandom", args=[CPROF, "collapse", "{urandom}"], rc=1,
         err=msg(BINARY, "urandom"), item="9"),
    dict(name="collapse folded text", args=[CPROF, "collapse", "{good.folded}"], rc=1,
         err=r"(?i)good\.folded.*(perf script|folded)", item="12"),
    dict(name="collapse json", args=[CPROF, "collapse", "{json.folded}"], rc=1,
         err=r"(?i)json\.folded.*(perf script|json)", item="12"),
    dict(name="collapse perf.data", args=[CPROF, "collapse", "{perfdata.folded}"], rc=1,
         err=r"(?i)perfdata\.folded.*(perf\.data|perf script|binary)", item="15"),
    dict(name="collapse crlf perf script", args=[CPROF, "collapse", "{perfscript-crlf.txt}"], rc=0,
         out=r"app;main;lex 20202020\n", item="12"),
    dict(name="collapse 400-digit period", args=[CPROF, "collapse", "{perfscript-400.txt}"], rc=(0, 1),
         err=r"(?i)perfscript-400\.txt.*(range|no samples)", out_not=r"\binf\b", stdout_ok=True, item="12"),
    dict(name="collapse --event-filter matching nothing",
         args=[CPROF, "collapse", "--event-filter", "cycles", "{perfscript.txt}"], rc=1,
         err=r"(?i)(no samples|cycles).*perfscript\.txt|perfscript\.txt.*(cycles|no samples)", item="12"),
    dict(name="collapse a directory", args=[CPROF, "collapse", "{adir}"], rc=1,
         err=r"cannot read '{adir}'.*Is a directory", item="18"),
    dict(name="collapse unreadable", args=[CPROF, "collapse", "{unreadable.folded}"], nobody=True, rc=1,
         err=r"cannot read '{unreadable.folded}'.*Permission denied", item="18"),
    # full disk, read-only directory, planted links
    dict(name="flamegraph > full disk", args=[CPROF, "flamegraph", "{good.folded}"],
         stdout_to="{full}/out.svg", creates=["{full}/out.svg"], rc=1,
         err=r"No space left on device", item="13"),
    dict(name="collapse > full disk", args=[CPROF, "collapse", "{perfscript.txt}"],
         stdout_to="{full}/out.folded", creates=["{full}/out.folded"], rc=1,
         err=r"No space left on device", item="13"),
    dict(name="report > full disk", args=[CPROF, "report", "{good.folded}"],
         stdout_to="{full}/out.txt", creates=["{full}/out.txt"], rc=1,
         err=r"No space left on device", item="13"),
    dict(name="record -o on a full disk",
         args=[CPROF, "record", "-q", "-d", "0.5", "-o", "{full}/rec.folded", "--", "sh", "-c", "while :; do :; done"],
         rc=1, err=r"'?{full}/rec\.folded'?.*No space left on device", item="13"),
    dict(name="record -o in a read-only directory",
         args=[CPROF, "record", "-q", "-d", "0.5", "-o", "{ro}/rec.folded", "--", "sh", "-c", "while :; do :; done"],
         rc=1, err=r"'?{ro}/rec\.folded'?.*Read-only file system", item="-"),
    dict(name="record -o a planted symlink",
         args=[CPROF, "record", "-q", "-d", "0.5", "-o", "{sticky}/out.folded", "--", "sh", "-c", "while :; do :; done"],
         rc=1, err=r"(?i){sticky}/out\.folded.*(symlink|link)", item="11"),
    dict(name="flamegraph --cp with a planted palette link",
         args=[CPROF, "flamegraph", "--cp", "--palette", "{sticky}/palette.map", "{good.folded}"],
         rc=1, err=r"(?i){sticky}/palette\.map.*(symlink|link)", item="11"),
]
for out in CONVERT_TO:
    CASES += [
        dict(name=f"convert -o full disk/{out}", args=[CPROF, "convert", "{good.folded}", "-o", "{full}/" + out],
             rc=1, err=r"'?{full}/%s'?.*No space left on device" % re.escape(out), item="13"),
        dict(name=f"convert -o read-only/{out}", args=[CPROF, "convert", "{good.folded}", "-o", "{ro}/" + out],
             rc=1, err=r"'?{ro}/%s'?.*Read-only file system" % re.escape(out), item="-"),
    ]
CASES += [
    dict(name="convert -o planted symlink in a sticky dir",
         args=[CPROF, "convert", "{good.folded}", "-o", "{sticky}/out.svg"],
         rc=1, err=r"(?i){sticky}/out\.svg.*(symlink|link)", item="11"),
    # usage errors: exit 2, the bad word named
    dict(name="mistyped command", args=[CPROF, "flamegrap"], rc=2,
         err=r"unknown command 'flamegrap'.*did you mean 'flamegraph'", item="18"),
    dict(name="record --durration", args=[CPROF, "record", "--durration", "2", "--", "true"], rc=2,
         err=r"'--durration'.*did you mean '--duration'", item="18"),
    dict(name="flamegraph --minwidth %", args=[CPROF, "flamegraph", "--minwidth", "%", "{good.folded}"], rc=2,
         err=r"--minwidth '%'", item="18"),
    dict(name="flamegraph --colour hot", args=[CPROF, "flamegraph", "--colours", "hot", "{good.folded}"], rc=2,
         err=r"'--colours'.*did you mean '--colors'", item="18"),
    dict(name="report --jsn", args=[CPROF, "report", "--jsn", "{good.folded}"], rc=2,
         err=r"'--jsn'.*did you mean '--json'", item="18"),
    dict(name="convert --format bogus", args=[CPROF, "convert", "{good.folded}", "-o", "{w}/x", "--format", "bogus"],
         rc=2, err=r"format 'bogus'", item="18"),
    dict(name="record --format bogus (same status as convert)",
         args=[CPROF, "record", "--format", "bogus", "--", "true"], rc=2, err=r"format 'bogus'", item="18"),
    dict(name="record --duration 1e9 (the limit is named)",
         args=[CPROF, "record", "--duration", "1e9", "--", "true"], rc=2,
         err=r"'1e9'.*(1e7|10000000|10,000,000)", item="18"),
    dict(name="record with nothing to profile", args=[CPROF, "record"], rc=2, err=r"nothing to profile", item="-"),
    dict(name="diff with one file", args=[CPROF, "diff", "{good.folded}"], rc=2, err=r"two folded files", item="-"),
    dict(name="convert without -o", args=[CPROF, "convert", "{good.folded}"], rc=2, err=r"missing output", item="-"),
    dict(name="report --top x", args=[CPROF, "report", "--top", "x", "{good.folded}"], rc=2,
         err=r"--top 'x'", item="-"),
    # record's targets
    dict(name="record --pid of no process", args=[CPROF, "record", "-q", "-d", "1", "-p", "999999999",
                                                  "-o", "{w}/r.folded"], rc=(1, 2),
         err=r"999999999", item="-"),
    dict(name="record --pid of a zombie", args=[CPROF, "record", "-q", "-d", "1", "-p", "{zombie}",
                                               "-o", "{w}/r.folded"], rc=1,
         err=r"process {zombie} has exited", item="8"),
]


def main():
    if os.geteuid() != 0:
        print("not ok 1 - badinput needs root (mounts, setpriv)")
        print("1..1")
        return 1
    root = tempfile.mkdtemp(prefix="cprof-badinput-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m,mode=0755", "tmpfs", root], check=True)
    p = {}
    zombie = None
    failed = 0
    only = os.environ.get("BADINPUT_ONLY")
    try:
        p = setup(root)
        # a zombie: a child that exited and is never waited for
        zombie = subprocess.Popen(["true"])
        time.sleep(0.2)
        p["zombie"] = str(zombie.pid)
        works = os.path.join(root, "work")
        os.mkdir(works)
        os.chmod(works, 0o755)
        n = 0
        for case in CASES:
            if only and not re.search(only, case["name"]):
                continue
            n += 1
            work = os.path.join(works, str(n))
            os.mkdir(work)
            os.chmod(work, 0o777)
            before = listing([work, p["full"], p["ro"], p["sticky"]])
            problems, err = check(case, p, work, before)
            if problems:
                failed += 1
                print(f"not ok {n} - FAIL {case['name']} (item {case['item']}): {'; '.join(problems)}")
                for line in err.splitlines()[:6]:
                    print(f"#   {line[:300]}")
            else:
                last = err.strip().splitlines()[-1] if err.strip() else ""
                print(f"ok {n} - {case['name']}" + (f": {last[:200]}" if last else ""))
            shutil.rmtree(work, ignore_errors=True)
        print(f"1..{n}")
    finally:
        if zombie:
            zombie.wait()
        teardown(p)
        subprocess.run(["umount", "-l", root])
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
