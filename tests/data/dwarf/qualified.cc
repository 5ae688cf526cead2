// Fixture for tests/unit/test-dwarf-lines.c, compiled by the test with
// `g++ -g -O2`: inlined functions that have no DW_AT_linkage_name (internal
// linkage: an anonymous namespace, a lambda's operator()) are named with
// the scopes around them. Expected inline frames inside
// qual::Runner::go(unsigned):
//   qual::(anonymous namespace)::mix_in   (no linkage name: internal)
//   qual::Runner::go::<lambda>::operator()
#include <cstdio>

namespace qual {

static volatile unsigned sink;

namespace {
inline __attribute__((always_inline)) unsigned mix_in(unsigned acc, unsigned k) {
        for (unsigned j = 0; j < (k & 7); j++)
                acc = acc * 31 + (j ^ sink);
        return acc;
}
} // namespace

struct Runner {
        unsigned base;
        __attribute__((noinline)) unsigned go(unsigned n);
};

unsigned Runner::go(unsigned n) {
        auto step = [this](unsigned i) __attribute__((always_inline)) {
                unsigned acc = base;
                for (unsigned k = 0; k < i; k++)
                        acc = mix_in(acc, k);
                return acc;
        };
        sink = n;
        unsigned v = step(n + 3);
        return v ^ sink;
}

} // namespace qual

int main(int argc, char **) {
        qual::Runner r{ (unsigned) argc };
        std::printf("%u\n", r.go((unsigned) argc + 5));
        return 0;
}
