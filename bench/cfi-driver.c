/* Bench driver for src/unwind/cfi-table.c (bench/bench-cfi-tables).
 *
 *   cfi-driver [--runs N] [--dump] FILE...
 *
 * Opens each ELF file as src/image/elf-module.c does (read-only mmap),
 * builds its CFI table N times (default 5) and prints one line per file:
 *   path fdes rows unsupported bytes median_s min_s median_cpu_s
 * Times are seconds of cfi_table_build alone (file already open and in
 * the page cache): wall time, median and fastest of the N builds, and the
 * median of the process CPU time each build took (steadier on a shared
 * machine).
 * --dump: the rows of the last build instead, one a line, for debugging. */
#include <fcntl.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unwind/cfi-table.h"

static double clock_s(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double now(void) {
        return clock_s(CLOCK_MONOTONIC);
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static void dump(const struct cfi_table *t) {
        static const char *cfa[] = { "none", "rsp", "rbp", "deref-rsp", "plt", "unsupported" };
        static const char *reg[] = { "undefined", "same", "at-cfa", "at-rsp", "unsupported" };
        const struct cfi_row *rows;
        size_t n = cfi_table_rows(t, &rows);
        for (size_t i = 0; i < n; i++) {
                const struct cfi_row *r = &rows[i];
                printf("%016" PRIx64 " %s%+d", r->start, cfa[r->cfa], r->cfa_off);
                if (r->cfa == CFI_CFA_PLT)
                        printf("/%u", r->plt_threshold);
                printf(" ra=%s%+d rbp=%s%+d%s\n", reg[r->ra], r->ra_off, reg[r->rbp], r->rbp_off,
                       r->flags & CFI_ROW_SIGNAL ? " signal" : "");
        }
}

int main(int argc, char **argv) {
        int runs = 5, i = 1;
        bool do_dump = false;

        for (; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
                        runs = atoi(argv[++i]);
                else if (strcmp(argv[i], "--dump") == 0)
                        do_dump = true;
                else {
                        fprintf(stderr, "usage: cfi-driver [--runs N] [--dump] FILE...\n");
                        return 2;
                }
        }
        if (i == argc || runs < 1 || runs > 1000) {
                fprintf(stderr, "usage: cfi-driver [--runs N] [--dump] FILE...\n");
                return 2;
        }
        elf_version(EV_CURRENT);
        for (; i < argc; i++) {
                int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
                Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
                if (!elf) {
                        fprintf(stderr, "cprof: cannot open '%s'\n", argv[i]);
                        return 1;
                }
                double *t = calloc(runs, sizeof(*t)), *cpu = calloc(runs, sizeof(*cpu));
                struct cfi_table *tab = NULL;
                struct cfi_table_stats st;
                if (!t || !cpu)
                        return 1;
                for (int k = 0; k < runs; k++) {
                        cfi_table_free(tab);
                        double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
                        int r = cfi_table_build(elf, NULL, &tab);
                        t[k] = now() - t0;
                        cpu[k] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
                        if (r < 0) {
                                fprintf(stderr, "cprof: cannot build the table of '%s': %s\n", argv[i], strerror(-r));
                                return 1;
                        }
                }
                cfi_table_get_stats(tab, &st);
                if (do_dump)
                        dump(tab);
                else {
                        qsort(t, runs, sizeof(*t), cmp_double);
                        qsort(cpu, runs, sizeof(*cpu), cmp_double);
                        printf("%s %zu %zu %zu %zu %.6f %.6f %.6f\n", argv[i], st.fdes, st.rows, st.unsupported,
                               st.bytes, t[runs / 2], t[0], cpu[runs / 2]);
                }
                cfi_table_free(tab);
                free(t);
                free(cpu);
                elf_end(elf);
                close(fd);
        }
        return 0;
}
