#!/usr/bin/python3
"""Writes the C++ workload of bench/bench-names.py's first figure into DIR:
a program whose time is spread over thousands of functions, so that a
recording holds thousands of unique addresses to name when sampling stops.

  DIR/names-cxx.h       the shared declarations and always_inline helpers
  DIR/names-cxx-N.cpp   NFUNCS plain functions in namespaces, split over
                        several files (one compiler process each stays small)
  DIR/names-cxx-tpl.cpp class templates, instantiated NTPL times
  DIR/names-cxx-main.cpp the table of every function and the two threads

Each function does a little arithmetic through always_inline templates (so
DWARF has inline chains to expand), then calls a function picked from the
table by its own result, up to a few levels deep: every sample lands in one
of thousands of functions, under a different caller each time.

Usage: names-cxx-gen.py DIR [--funcs N] [--templates N] [--files N]
Build: g++ -O2 -g -fno-omit-frame-pointer -pthread DIR/*.cpp -o names-cxx
Run:   names-cxx SECONDS  (0: until killed)
"""

import argparse
import os

HEADER = """\
#pragma once
#include <cstdint>

namespace names {
using fn_t = std::uint64_t (*)(std::uint64_t, int);
extern fn_t table[];
extern const unsigned table_n;

template <int K>
inline __attribute__((always_inline)) std::uint64_t scramble(std::uint64_t x) {
        x ^= x >> (13 + K % 7);
        x *= 0x9e3779b97f4a7c15ULL + 2 * K;
        return x ^ (x >> 31);
}

template <int K>
inline __attribute__((always_inline)) std::uint64_t churn(std::uint64_t x, int n) {
        for (int i = 0; i < n; i++)
                x = scramble<K>(x + static_cast<std::uint64_t>(i));
        return x;
}

/* the next call, picked by the value: the table index changes with every
 * result, so callers and callees mix */
inline __attribute__((always_inline)) std::uint64_t next(std::uint64_t x, int depth) {
        if (depth <= 0)
                return x;
        return x ^ table[(x >> 21) % table_n](x, depth - 1);
}

/* defined and instantiated in names-cxx-tpl.cpp only */
namespace tpl {
template <typename T, int N>
struct Stage {
        static std::uint64_t run(std::uint64_t x, int depth);
};

template <typename T, int N>
std::uint64_t pairwise(std::uint64_t x, int depth);
} // namespace tpl
} // namespace names
"""


def gen_plain(i):
    ns = f"group{i // 100}"
    k = i % 11
    n = 8 + (i * 7) % 24
    return f"""\
namespace {ns} {{
__attribute__((noinline)) std::uint64_t step_{i}(std::uint64_t x, int depth) {{
        x = churn<{k}>(x, {n});
        auto fold = [](std::uint64_t v) {{ return scramble<{(k + 3) % 11}>(v) + {i}; }};
        x = fold(x);
        return next(x, depth);
}}
}} // namespace {ns}
"""


TEMPLATES = """\
#include "names-cxx.h"

namespace names {
namespace tpl {
template <typename T, int N>
__attribute__((noinline)) std::uint64_t Stage<T, N>::run(std::uint64_t x, int depth) {
        T acc = static_cast<T>(x & 0xffff);
        for (int i = 0; i < 6 + N % 13; i++)
                acc = static_cast<T>(acc * static_cast<T>(3) + static_cast<T>(i + N));
        x = churn<N % 11>(x + static_cast<std::uint64_t>(acc), 4 + N % 9);
        return next(x, depth);
}

template <typename T>
struct Pair {
        T a, b;
};

template <typename T, int N>
__attribute__((noinline)) std::uint64_t pairwise(std::uint64_t x, int depth) {
        Pair<T> p{static_cast<T>(x), static_cast<T>(x >> 7)};
        for (int i = 0; i < 5 + N % 7; i++)
                p = Pair<T>{static_cast<T>(p.a + p.b), static_cast<T>(p.a ^ static_cast<T>(N))};
        return next(churn<N % 5>(x ^ static_cast<std::uint64_t>(p.a), 6), depth);
}
} // namespace tpl
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--funcs", type=int, default=2400)
    ap.add_argument("--templates", type=int, default=400,
                    help="instantiations of each of Stage<uint32_t,N>, Stage<double,N> and pairwise<uint16_t,N>")
    ap.add_argument("--files", type=int, default=6)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    def write(name, text):
        with open(os.path.join(args.dir, name), "w") as f:
            f.write(text)

    write("names-cxx.h", HEADER)
    per = (args.funcs + args.files - 1) // args.files
    for f in range(args.files):
        body = ['#include "names-cxx.h"\n\nnamespace names {\n']
        body += [gen_plain(i) for i in range(f * per, min(args.funcs, (f + 1) * per))]
        body.append("} // namespace names\n")
        write(f"names-cxx-{f}.cpp", "".join(body))

    tpl = [TEMPLATES]
    entries = []
    for n in range(args.templates):
        tpl.append(f"template struct tpl::Stage<std::uint32_t, {n}>;\n")
        tpl.append(f"template struct tpl::Stage<double, {n}>;\n")
        tpl.append(f"template std::uint64_t tpl::pairwise<std::uint16_t, {n}>(std::uint64_t, int);\n")
        entries += [f"tpl::Stage<std::uint32_t, {n}>::run", f"tpl::Stage<double, {n}>::run",
                    f"tpl::pairwise<std::uint16_t, {n}>"]
    tpl.append("} // namespace names\n")
    write("names-cxx-tpl.cpp", "".join(tpl))

    decls = ["namespace names {\n"]
    for i in range(args.funcs):
        decls.append(f"namespace group{i // 100} {{ std::uint64_t step_{i}(std::uint64_t, int); }}\n")
    entries = [f"group{i // 100}::step_{i}" for i in range(args.funcs)] + entries
    main_src = ['#include "names-cxx.h"\n#include <atomic>\n#include <chrono>\n#include <cstdio>\n'
                '#include <cstdlib>\n#include <thread>\n\n']
    main_src += decls
    main_src.append("fn_t table[] = {\n")
    main_src += [f"        {e},\n" for e in entries]
    main_src.append("};\nconst unsigned table_n = sizeof table / sizeof table[0];\n} // namespace names\n")
    main_src.append(MAIN)
    write("names-cxx-main.cpp", "".join(main_src))


MAIN = """
static std::atomic<std::uint64_t> sink;

/* one thread: a chain of calls from the table, until the deadline (checked
 * every few thousand chains: the clock call must not show in the profile) */
static void worker(std::uint64_t seed, double seconds) {
        auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
        std::uint64_t x = seed;
        for (;;) {
                for (int i = 0; i < 4096; i++)
                        x = names::table[(x >> 11) % names::table_n](x + static_cast<std::uint64_t>(i), 4);
                if (seconds > 0 && std::chrono::steady_clock::now() >= end)
                        break;
        }
        sink += x;
}

int main(int argc, char **argv) {
        double seconds = argc > 1 ? std::atof(argv[1]) : 0;
        std::thread a(worker, 0x1234567ULL, seconds), b(worker, 0x89abcdefULL, seconds);
        a.join();
        b.join();
        std::printf("names-cxx: done (%llu)\\n", static_cast<unsigned long long>(sink.load()));
        return 0;
}
"""

if __name__ == "__main__":
    main()
