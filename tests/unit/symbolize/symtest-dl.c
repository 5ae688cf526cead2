/* A library the symbolizer test dlopen()s after reading its maps. */
__attribute__((noinline, noipa)) int symtest_dl_fn(int x);

int symtest_dl_fn(int x) {
        __asm__ volatile("" ::: "memory");
        return x + 7;
}
