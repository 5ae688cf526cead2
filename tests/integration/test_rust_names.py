"""Rust names, both manglings, demangled on a real process: the rustsyms
workload's hot functions carry a legacy (_ZN...17h<hash>E) and a v0
(_RNv...) symbol; they must show as rustsyms::inner::hot_legacy (hash
dropped) and rustsyms::inner::hot_v0 with their CPU shares (50/25/25 with
the plain C hot_plain), and --no-demangle must keep the raw symbols.
Symbol versions (clock_gettime@@GLIBC_2.17) are no part of a name."""
from cprof_test import Test, is_kernel

LEGACY = "rustsyms::inner::hot_legacy"
V0 = "rustsyms::inner::hot_v0"
RAW_LEGACY = "_ZN8rustsyms5inner10hot_legacy17h3db54b2a0f274f59E"
RAW_V0 = "_RNvNtCs1z8OXfD9LaI_8rustsyms5inner6hot_v0"


def leaf(s):
    user = [x for x in s if not is_kernel(x)]
    return user[-1] if user else ""


def shares(t, f, names, label):
    total = sum(c for s, c in f.stacks if leaf(s) in names.values())
    t.require(total >= 50, f"{label}: enough samples in the hot functions ({total})")
    for want, name in ((50, names["legacy"]), (25, names["v0"]), (25, names["plain"])):
        got = 100.0 * f.where(lambda s, n=name: leaf(s) == n).total() / total
        t.check(abs(got - want) <= 12, f"{label}: {name} {got:.1f}% (want {want}% +-12)")


def body(t):
    _, f = t.record_ok(["-F", "999", "--", t.workload("rustsyms"), "1.5"],
                       t.path("demangled.folded"))
    shares(t, f, {"legacy": LEGACY, "v0": V0, "plain": "hot_plain"}, "demangled")
    raw = [x for x in f.frames() if x.startswith(("_ZN", "_RN"))]
    t.check(not raw, "demangled: no mangled name left", raw[:5])
    # "write@plt" names a PLT stub, as perf does: no version
    versioned = [x for x in f.frames() if "@" in x.removesuffix("@plt")]
    t.check(not versioned, "no symbol version in a name", versioned[:5])

    _, f = t.record_ok(["-F", "999", "--no-demangle", "--", t.workload("rustsyms"), "1.5"],
                       t.path("raw.folded"))
    shares(t, f, {"legacy": RAW_LEGACY, "v0": RAW_V0, "plain": "hot_plain"}, "--no-demangle")


Test("rust-names").run(body)
