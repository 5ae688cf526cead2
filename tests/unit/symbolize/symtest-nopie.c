/* A non-PIE (ET_EXEC) program for the symbolizer test: prints the
 * address of nopie_function, then waits until its stdin closes. */
#include <stdio.h>
#include <unistd.h>

__attribute__((noinline, noipa)) int nopie_function(int x);

int nopie_function(int x) {
        __asm__ volatile("" ::: "memory");
        return x * 5;
}

int main(void) {
        char c;
        printf("%p\n", (void *) nopie_function);
        fflush(stdout);
        while (read(0, &c, 1) > 0)
                ;
        return nopie_function(0);
}
