/* names-lib: one of the 50 small libraries of bench/bench-names.py's second
 * figure, built once per NAMES_LIB_ID (-DNAMES_LIB_ID=7 gives
 * libnames-7.so with names_lib_hot_7): a hot function with DWARF and an
 * always_inline helper, so that each library is a module of its own to
 * name, with its own symbols and inline chains. */
#include <stdint.h>

#define PASTE2(a, b) a##b
#define PASTE(a, b) PASTE2(a, b)
#define HOT PASTE(names_lib_hot_, NAMES_LIB_ID)

static inline __attribute__((always_inline)) uint64_t stir(uint64_t x) {
        x ^= x >> (7 + NAMES_LIB_ID % 11);
        return x * (0x9e3779b97f4a7c15ull + 2 * NAMES_LIB_ID);
}

/* about 20 us of work per call: the host's loop over all 50 libraries
 * spends its time in them, not in itself */
uint64_t HOT(uint64_t x) {
        for (int i = 0; i < 8000; i++)
                x = stir(x + (uint64_t) i);
        return x;
}
