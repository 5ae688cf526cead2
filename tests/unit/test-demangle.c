/* demangle(): C++ and both Rust manglings through libiberty, and the names
 * it must leave alone. The Rust v0 names come from rustc 1.95 itself:
 *   rustc --crate-type=lib --crate-name cprofdemo -O --emit=obj \
 *         -C symbol-mangling-version=v0 lib.rs && nm lib.o
 * on a lib.rs with `pub mod fmt { impl Formatter { pub fn pad(..) } }` and
 * a generic `pub fn spin<T: Copy>(x: T) -> T`; the legacy one the same way
 * without the -C option. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/demangle.h"
#include "tap.h"

#define ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static void check(const char *mangled, const char *want, const char *what) {
        char *got = demangle(mangled);
        if (want)
                CHECK_STREQ(got, want, "%s", what);
        else {
                CHECK(got == NULL, "%s: not demangled", what);
                if (got)
                        printf("# got '%s'\n", got);
        }
        free(got);
}

/* The symbolizer may demangle on several threads: libiberty's demangler
 * keeps its state on the stack. Four threads, the same names, the same
 * answers. */
static const char *const thread_names[][2] = {
        { "_ZN6corpus6Runner3runEd", "corpus::Runner::run(double)" },
        { "_ZN4core3fmt9Formatter3pad17h0123456789abcdefE", "core::fmt::Formatter::pad" },
        { "_RINvCsgjYKYcjuUnl_9cprofdemo4spinyEB2_", "cprofdemo::spin::<u64>" },
        { "_ZZ4mainENKUliE_clEi", "main::{lambda(int)#1}::operator()(int) const" },
};

static void *demangle_loop(void *arg) {
        size_t bad = 0;
        for (int i = 0; i < 20000; i++) {
                size_t k = ((size_t) i + (size_t) arg) % ELEMENTS(thread_names);
                char *d = demangle(thread_names[k][0]);
                bad += !d || strcmp(d, thread_names[k][1]) != 0;
                free(d);
        }
        return (void *) bad;
}

int main(void) {
        /* C++ */
        check("_ZN6corpus6Runner3runEd", "corpus::Runner::run(double)", "namespaces");
        check("_ZNSt6vectorIiSaIiEE9push_backERKi",
              "std::vector<int, std::allocator<int> >::push_back(int const&)", "template class member");
        check("_ZZ4mainENKUliE_clEi", "main::{lambda(int)#1}::operator()(int) const", "lambda");
        check("_ZN1AplERKS_", "A::operator+(A const&)", "operator");
        check("_ZSt16__introsort_loopIN9__gnu_cxx17__normal_iteratorIPiSt6vectorIiSaIiEEEElNS0_5__ops15_"
              "Iter_less_iterEEvT_S9_T0_T1_",
              "void std::__introsort_loop<__gnu_cxx::__normal_iterator<int*, std::vector<int, "
              "std::allocator<int> > >, long, __gnu_cxx::__ops::_Iter_less_iter>(__gnu_cxx::"
              "__normal_iterator<int*, std::vector<int, std::allocator<int> > >, __gnu_cxx::"
              "__normal_iterator<int*, std::vector<int, std::allocator<int> > >, long, __gnu_cxx::"
              "__ops::_Iter_less_iter)",
              "std::sort internals");
        check("_Z3foov.cold", "foo() [clone .cold]", "gcc clone suffix");

        /* Rust legacy: the hash goes */
        check("_ZN4core3fmt9Formatter3pad17h0123456789abcdefE", "core::fmt::Formatter::pad", "rust legacy");
        check("_ZN9cprofdemo3fmt9Formatter3pad17hccf7e9ff83d61e25E", "cprofdemo::fmt::Formatter::pad",
              "rust legacy from rustc");
        /* Rust v0: the crate disambiguator goes too */
        check("_RNvMNtCsgjYKYcjuUnl_9cprofdemo3fmtNtB2_9Formatter3pad", "<cprofdemo::fmt::Formatter>::pad",
              "rust v0 inherent method");
        check("_RINvCsgjYKYcjuUnl_9cprofdemo4spinyEB2_", "cprofdemo::spin::<u64>", "rust v0 generic");

        /* not mangled, or not validly */
        check("main", NULL, "plain C name");
        check("__libc_start_main", NULL, "C name with underscores");
        check("_start", NULL, "_start");
        check("", NULL, "empty");
        check("_Z", NULL, "bare _Z");
        check("_Zfoo", NULL, "_Z garbage");
        check("_ZN3foo", NULL, "truncated nested name");
        check("_ZSt16__introsort_loopIN9__gnu_cxx17__normal_iteratorIPi", NULL, "truncated template");
        check("_R", NULL, "bare _R");
        check("_RNvC", NULL, "truncated rust v0");
        CHECK(demangle(NULL) == NULL, "NULL name");

        /* a valid name past the limit is left alone (no deep stack use) */
        size_t n = DEMANGLE_MAX_LEN + 16;
        char *big = malloc(n + 1);
        CHECK(big != NULL, "alloc");
        if (big) {
                /* _Z + N + ("1a" x k) + E: a::a::...::a, valid at any length */
                size_t k = (n - 4) / 2, p = 0;
                big[p++] = '_', big[p++] = 'Z', big[p++] = 'N';
                for (size_t i = 0; i < k; i++)
                        big[p++] = '1', big[p++] = 'a';
                big[p++] = 'E';
                big[p] = '\0';
                check(big, NULL, "name longer than DEMANGLE_MAX_LEN");
                /* the same shape under the limit is demangled */
                size_t small = 2 + 1 + 2 * 100;
                big[small] = 'E';
                big[small + 1] = '\0';
                char *d = demangle(big);
                CHECK(d && strncmp(d, "a::a::", 6) == 0 && strlen(d) == 100 * 3 - 2,
                      "same shape, short: demangled (%zu)", d ? strlen(d) : 0);
                free(d);
                free(big);
        }

        pthread_t t[4];
        size_t bad = 0;
        for (size_t i = 0; i < 4; i++)
                CHECK(pthread_create(&t[i], NULL, demangle_loop, (void *) i) == 0, "thread %zu", i);
        for (size_t i = 0; i < 4; i++) {
                void *r;
                pthread_join(t[i], &r);
                bad += (size_t) r;
        }
        CHECK(bad == 0, "4 threads at once: every answer right (%zu wrong)", bad);
        return tap_done();
}
