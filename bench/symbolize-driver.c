/* Bench driver for src/symbolize/dwarf-lines.c (bench/bench-symbolize.py).
 *
 *   symbolize-driver [--print] [--warm] MODULE ADDRS [MODULE ADDRS ...]
 *
 * MODULE is an ELF file with DWARF (a debug file or the binary), ADDRS a
 * file of hex ELF virtual addresses, one a line. Each address is looked
 * up once, with its inline chain and lines.
 *
 * Default (cold): nothing is loaded before the first lookup; the whole
 * run is what the bench times from outside, process start included, as
 * for addr2line. --warm: open every module and build every index first
 * (dwarf_lines_preload), then time the lookups alone; each address is
 * still looked up for the first time (there is no per-address cache).
 * Timings go to stderr as "phase seconds" (lookup_cpu: the lookups'
 * CPU time, steadier than wall time on a shared machine).
 * --print: each address as `addr2line -i -f -a` prints it (innermost
 * first), for comparing answers. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "symbolize/dwarf-lines.h"

#define FRAMES_MAX 64

struct module {
        const char *path;
        int fd;
        Elf *elf;
        struct dwarf_lines *d;
        uint64_t *addrs;
        size_t n;
};

static double clock_s(clockid_t id) {
        struct timespec ts;
        clock_gettime(id, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double now(void) {
        return clock_s(CLOCK_MONOTONIC);
}

/* CPU time too: on a shared machine wall time also counts waiting for a CPU */
static double cpu_now(void) {
        return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static int read_addrs(const char *path, struct module *m) {
        FILE *f = fopen(path, "r");
        char line[128];
        size_t cap = 0;

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                if (m->n == cap) {
                        cap = cap ? cap * 2 : 1024;
                        uint64_t *v = realloc(m->addrs, cap * sizeof(*v));
                        if (!v) {
                                fclose(f);
                                return -ENOMEM;
                        }
                        m->addrs = v;
                }
                m->addrs[m->n++] = strtoull(line, NULL, 16);
        }
        fclose(f);
        return 0;
}

static int open_module(struct module *m) {
        m->fd = open(m->path, O_RDONLY | O_CLOEXEC);
        if (m->fd < 0)
                return -errno;
        m->elf = elf_begin(m->fd, ELF_C_READ_MMAP, NULL);
        if (!m->elf)
                return -EBADMSG;
        return dwarf_lines_open(m->elf, &m->d);
}

static void print_frames(FILE *out, uint64_t addr, const struct dwarf_frame *f, int n) {
        fprintf(out, "0x%016" PRIx64 "\n", addr);
        if (n <= 0) {
                fputs("??\n??:0\n", out);
                return;
        }
        for (int k = n - 1; k >= 0; k--)
                fprintf(out, "%s\n%s:%u\n", f[k].name ? f[k].name : "??", f[k].file ? f[k].file : "??",
                        f[k].line);
}

int main(int argc, char **argv) {
        bool print = false, warm = false;
        struct module mods[16];
        size_t n_mods = 0, total = 0, frames = 0, found = 0;
        int i = 1, r;

        for (; i < argc && argv[i][0] == '-'; i++) {
                if (strcmp(argv[i], "--print") == 0)
                        print = true;
                else if (strcmp(argv[i], "--warm") == 0)
                        warm = true;
                else
                        break;
        }
        if ((argc - i) % 2 != 0 || argc - i < 2 || (size_t) (argc - i) / 2 > 16) {
                fprintf(stderr, "usage: symbolize-driver [--print] [--warm] MODULE ADDRS [MODULE ADDRS ...]\n");
                return 2;
        }
        if (elf_version(EV_CURRENT) == EV_NONE)
                return 1;
        for (; i < argc; i += 2) {
                struct module *m = &mods[n_mods++];
                *m = (struct module) { .path = argv[i], .fd = -1 };
                r = read_addrs(argv[i + 1], m);
                if (r < 0) {
                        fprintf(stderr, "symbolize-driver: cannot read '%s': %s\n", argv[i + 1], strerror(-r));
                        return 1;
                }
        }

        double t0 = now();
        if (warm)
                for (size_t k = 0; k < n_mods; k++) {
                        if ((r = open_module(&mods[k])) < 0 || (r = dwarf_lines_preload(mods[k].d)) < 0) {
                                fprintf(stderr, "symbolize-driver: '%s': %s\n", mods[k].path, strerror(-r));
                                return 1;
                        }
                }
        double t1 = now(), c1 = cpu_now();
        for (size_t k = 0; k < n_mods; k++) {
                struct module *m = &mods[k];
                if (!warm && (r = open_module(m)) < 0) {
                        fprintf(stderr, "symbolize-driver: '%s': %s\n", m->path, strerror(-r));
                        return 1;
                }
                for (size_t j = 0; j < m->n; j++) {
                        struct dwarf_frame f[FRAMES_MAX];
                        int n = dwarf_lines_lookup(m->d, m->addrs[j], f, FRAMES_MAX);
                        if (n > 0) {
                                found++;
                                frames += (size_t) n;
                        }
                        if (print)
                                print_frames(stdout, m->addrs[j], f, n);
                }
                total += m->n;
        }
        double t2 = now(), c2 = cpu_now();
        fprintf(stderr, "addresses %zu\nfound %zu\nframes %zu\nload %.6f\nlookup %.6f\nlookup_cpu %.6f\n", total,
                found, frames, t1 - t0, t2 - t1, c2 - c1);
        for (size_t k = 0; k < n_mods; k++) {
                dwarf_lines_free(mods[k].d);
                if (mods[k].elf)
                        elf_end(mods[k].elf);
                if (mods[k].fd >= 0)
                        close(mods[k].fd);
                free(mods[k].addrs);
        }
        return 0;
}
