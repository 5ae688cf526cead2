// Fixture for tests/unit/test-dwarf-lines.c, compiled by the test with
// `g++ -g -O2`: C++ names come out as linkage names (_ZN...), through
// DW_AT_specification (member functions) and DW_AT_abstract_origin
// (inlined calls). Expected innermost chain:
//   _ZN6corpus6Runner3runEj -> _ZN6corpus6Runner4stepEj (inlined)
#include <cstdio>

namespace corpus {

static volatile unsigned sink;

struct Runner {
        unsigned base;
        __attribute__((noinline)) unsigned run(unsigned n);
        inline __attribute__((always_inline)) unsigned step(unsigned i) {
                unsigned acc = base;
                for (unsigned k = 0; k < i; k++)
                        acc = acc * 7 + (k ^ sink);
                return acc;
        }
};

unsigned Runner::run(unsigned n) {
        sink = n;
        unsigned v = step(n + 3);
        return v ^ sink;
}

} // namespace corpus

int main(int argc, char **) {
        corpus::Runner r{ (unsigned) argc };
        std::printf("%u\n", r.run((unsigned) argc + 5));
        return 0;
}
