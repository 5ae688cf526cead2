"""C++ names: the corpus workload's frames are demangled with their
parameters exactly as c++filt prints them (namespaces, a class template,
a lambda, std::sort's introsort loop), libstdc++'s frames are named, and
--no-demangle keeps the raw _Z names. Recorded twice: against the system
libstdc++ (stripped: its exported names only) and against the build with
symbols and DWARF that libstdc++6-12-dbg installs."""
import os
import re
import subprocess

from cprof_test import Test, is_kernel

RUN = "corpus::Runner::run(double)"
SORT = "corpus::Runner::sort_phase(unsigned long)"
LAMBDA = ("corpus::Runner::lambda_phase(unsigned long)::{lambda(double)#1}"
          "::operator()(double) const")
ADD_ALL = ("corpus::Accumulator<double>::add_all(std::vector<double, "
           "std::allocator<double> > const&)")
HASH = "std::_Hash_bytes(void const*, unsigned long, unsigned long)"
SORT_LAMBDA = ("sort_phase(unsigned long)::{lambda(corpus::Item const&, "
               "corpus::Item const&)#1}")
RAW = {"_ZN6corpus6Runner3runEd": RUN,
       "_ZN6corpus11AccumulatorIdE7add_allERKSt6vectorIdSaIdEE": ADD_ALL,
       "_ZZN6corpus6Runner12lambda_phaseEmENKUldE_clEd": LAMBDA,
       "_ZSt11_Hash_bytesPKvmm": HASH}
SORT_LAMBDA_INLINE = "corpus::Runner::sort_phase::<lambda>::operator()_[i]"
DEBUG_LIBDIR = "/usr/lib/x86_64-linux-gnu/debug"
UNNAMED_STDCXX = re.compile(r"\[libstdc\+\+\.so[0-9.]*(\+0x[0-9a-f]+)?\]")


def leaf(s):
    """The user-space leaf (kernel frames dropped)."""
    user = [x for x in s[1:] if not is_kernel(x)]
    return user[-1] if user else None


def nm_demangled(binary):
    out = subprocess.run(["nm", "-C", "--defined-only", binary],
                         capture_output=True, text=True, check=True).stdout
    return {line.split(" ", 2)[2] for line in out.splitlines()
            if len(line.split(" ", 2)) == 3}


def introsort_name(names):
    found = [n for n in names if "std::__introsort_loop<" in n and
             "[clone" not in n]
    return found[0] if len(found) == 1 else None


def check_names(t, f, label, introsort):
    t.check(set(f.procs()) == {"corpus"}, f"{label}: process frame 'corpus'",
            f.procs())
    total = f.total()
    frames = f.frames()
    leaves = {}
    for s, c in f.stacks:
        leaves[leaf(s)] = leaves.get(leaf(s), 0) + c

    def leaf_share(name):
        return leaves.get(name, 0) / total

    t.check(f.share(RUN) >= 0.70, f"{label}: '{RUN}' in "
            f"{f.share(RUN) * 100:.1f}% of samples (want >= 70%; the walk "
            "skips it under libstdc++'s frames only)", f.top())
    # 50% in sort_phase and std::sort below it, of which ~80% in the
    # introsort loop and ~20% in sort_phase's own refill loop
    t.share_within(f.share(SORT), 0.50, 0.12, f"{label}: '{SORT}'", f.top())
    intro = f.where(lambda s: any("std::__introsort_loop<" in x
                                  for x in s)).total() / total
    t.check(intro >= 0.20, f"{label}: std::__introsort_loop<...> frames in "
            f"{intro * 100:.1f}% of samples (want >= 20%)", f.top())
    t.check(introsort in frames, f"{label}: the introsort loop is named as "
            "`nm -C` names it, template arguments and parameters included",
            "\n".join(x for x in frames if "introsort" in x))
    t.check(any(SORT_LAMBDA in x for x in frames if "__introsort_loop" in x
                or "_Iter_comp_iter" in x or x.endswith("_[i]")),
            f"{label}: the sort's comparator is named "
            f"'...{SORT_LAMBDA}...'", "\n".join(sorted(frames)[:20]))
    t.share_within(leaf_share(LAMBDA), 0.125, 0.08,
                   f"{label}: leaf '{LAMBDA}'", f.top())
    t.share_within(leaf_share(ADD_ALL), 0.125, 0.08,
                   f"{label}: leaf '{ADD_ALL}'", f.top())
    # libstdc++: all of its time is in std::_Hash_bytes, an exported
    # function, so even the stripped system library names every sample
    # (the debug build adds inline frames below it)
    t.share_within(f.share(HASH), 0.25, 0.10,
                   f"{label}: libstdc++'s '{HASH}'", f.top())
    # ...in the program's own work. Before main, ld.so runs libstdc++'s
    # constructors (such as its exception pool's, local functions): in a library
    # without .symtab or debug file that frame has no name, which is right
    # (the nearest exported symbol would be a wrong one), and a sample may
    # land there.
    unnamed = [x for s, _ in f.stacks if "_dl_init" not in s
               for x in s if UNNAMED_STDCXX.search(x)]
    t.check(not unnamed, f"{label}: no unnamed libstdc++ frame "
            f"({unnamed[:3]})", f.top())
    early = [x for s, _ in f.stacks if "_dl_init" in s for x in s if UNNAMED_STDCXX.search(x)]
    t.check(sum(c for s, c in f.stacks if "_dl_init" in s) <= 0.01 * total,
            f"{label}: at most 1% of samples in library constructors ({len(early)} unnamed frames)")
    raw = [x for x in frames if re.match(r"_Z", x)]
    t.check(not raw, f"{label}: no mangled name left ({raw[:3]})", f.top())
    # the comparator lambda inlined into std::sort's helpers has no
    # linkage name in DWARF: it is named with its scopes, never bare
    t.check(SORT_LAMBDA_INLINE in frames, f"{label}: the inlined comparator "
            f"is '{SORT_LAMBDA_INLINE}'",
            "\n".join(x for x in frames if "operator()" in x))
    bare = [x for x in frames if x.endswith("_[i]") and x.startswith("operator")]
    t.check(not bare, f"{label}: no inline frame named a bare operator ({bare[:3]})")


def body(t):
    binary = t.workload("corpus")
    introsort = introsort_name(nm_demangled(binary))
    t.require(introsort is not None, "nm -C names one std::__introsort_loop "
              "in the workload")

    _, f = t.record_ok(["-F", "499", "--", binary, "3"],
                       t.path("system.folded"))
    check_names(t, f, "system libstdc++", introsort)

    # the same under libstdc++6-12-dbg's build, which has .symtab and DWARF
    t.require(subprocess.run(["dpkg", "-s", "libstdc++6-12-dbg"],
                             capture_output=True).returncode == 0,
              "libstdc++6-12-dbg is installed")
    # through cprof's environment, so no sample is of an `env` process (the
    # directory holds only libstdc++, which cprof does not link)
    os.environ["LD_LIBRARY_PATH"] = DEBUG_LIBDIR
    try:
        _, f = t.record_ok(["-F", "499", "--", binary, "3"],
                           t.path("dbg.folded"))
    finally:
        del os.environ["LD_LIBRARY_PATH"]
    check_names(t, f, "libstdc++6-12-dbg's libstdc++", introsort)
    p = subprocess.run(["env", f"LD_LIBRARY_PATH={DEBUG_LIBDIR}", "ldd",
                        binary], capture_output=True, text=True)
    t.check(f"{DEBUG_LIBDIR}/libstdc++.so.6" in p.stdout,
            "the workload ran on the debug build of libstdc++", p.stdout)

    _, f = t.record_ok(["-F", "499", "--no-demangle", "--", binary, "2"],
                       t.path("raw.folded"))
    frames = f.frames()
    for raw, demangled in RAW.items():
        t.check(raw in frames, f"--no-demangle: raw '{raw}' (not "
                f"'{demangled}')", "\n".join(sorted(frames)[:20]))
    # (inline frames without a linkage name carry DWARF's own names, which
    # are not mangled: a lambda's operator() as corpus::...::<lambda>::...)
    demangled = [x for x in frames if (x.startswith("corpus::") and
                                       not x.endswith("_[i]")) or x in RAW.values()]
    t.check(not demangled, "--no-demangle: no demangled corpus:: function",
            "\n".join(demangled[:10]))


Test("cxx").run(body)
