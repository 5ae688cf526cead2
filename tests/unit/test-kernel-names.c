/* The kernel's own names for its addresses (bpf_snprintf's %pS): the
 * parser on fixed text, then the live lookup against /proc/kallsyms, on
 * a spread of the kernel's code symbols, at their starts and inside. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize/kernel-names.h"
#include "tap.h"

static void test_parse(void) {
        static const struct {
                const char *in, *name, *module;
        } cases[] = {
                { "vfs_read+0x0/0x3d0", "vfs_read", NULL },
                { "do_execveat_common.isra.0+0x1c/0x200", "do_execveat_common.isra.0", NULL },
                { "mod_fn+0x10/0x80 [mymod]", "mod_fn", "[mymod]" },
                { "bpf_prog_6deef7357e7b4530_name+0x4/0x40", "bpf_prog_6deef7357e7b4530_name", NULL },
                { "0xffffffff00000000", NULL, NULL },   /* no symbol there */
                { "", NULL, NULL },
                { "+0x1/0x2", NULL, NULL },             /* no name */
                { "name+0x1/0x2 [bad", NULL, NULL },    /* module unclosed */
                { "name+0x1/0x2 []", NULL, NULL },      /* module empty */
                { "name+junk", NULL, NULL },
                { "name+0x10", NULL, NULL },            /* no size */
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[128];
                const char *name = NULL, *module = NULL;
                snprintf(buf, sizeof(buf), "%s", cases[i].in);
                int r = kernel_names_parse(buf, &name, &module);
                if (!cases[i].name) {
                        CHECK(r == 0, "'%s': no name", cases[i].in);
                        continue;
                }
                CHECK(r == 1, "'%s': named", cases[i].in);
                CHECK_STREQ(r == 1 ? name : NULL, cases[i].name, "'%s': its name", cases[i].in);
                if (cases[i].module)
                        CHECK_STREQ(r == 1 ? module : NULL, cases[i].module, "'%s': its module",
                                    cases[i].in);
                else
                        CHECK(r == 1 && module == NULL, "'%s': the kernel itself", cases[i].in);
        }
}

struct sym {
        uint64_t addr;
        char name[128], module[64];
};

static int by_addr(const void *a, const void *b) {
        const struct sym *x = a, *y = b;
        return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* kallsyms' code symbols, sorted; how many */
static size_t read_kallsyms(struct sym **ret) {
        FILE *f = fopen("/proc/kallsyms", "r");
        struct sym *v = NULL;
        size_t n = 0, cap = 0;
        char line[512];

        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f)) {
                struct sym s = { 0 };
                char type;
                int k = sscanf(line, "%" SCNx64 " %c %127s %63s", &s.addr, &type, s.name, s.module);
                if (k < 3 || !strchr("tTwW", type) || !s.addr)
                        continue;
                if (n == cap) {
                        cap = cap ? 2 * cap : 4096;
                        struct sym *w = realloc(v, cap * sizeof(*v));
                        if (!w)
                                break;
                        v = w;
                }
                v[n++] = s;
        }
        fclose(f);
        qsort(v, n, sizeof(*v), by_addr);
        *ret = v;
        return n;
}

/* whether kallsyms has this name at this address (aliases share one) */
static bool has(const struct sym *v, size_t n, size_t at, const char *name, const char *module) {
        size_t i = at;
        while (i > 0 && v[i - 1].addr == v[at].addr)
                i--;
        for (; i < n && v[i].addr == v[at].addr; i++)
                if (strcmp(v[i].name, name) == 0 && strcmp(v[i].module, module ? module : "") == 0)
                        return true;
        return false;
}

static void test_live(void) {
        struct kernel_names *k = NULL;
        struct sym *v = NULL;
        int r = kernel_names_new(&k);

        /* cprof's tests run as root on a kernel that allows it, as CI does */
        CHECK(r == 0, "the kernel names addresses for BPF (%s)", r < 0 ? strerror(-r) : "yes");
        if (r < 0)
                return;
        size_t n = read_kallsyms(&v);
        CHECK(n > 1000, "kallsyms has code symbols with addresses (%zu)", n);
        size_t tried = 0, start_ok = 0, inside_ok = 0;
        char first_bad[512] = "";
        for (size_t i = 0; n > 1 && i < n - 1; i += n / 997 + 1) {
                /* a symbol with room after it: its middle is its own */
                if (v[i + 1].addr <= v[i].addr + 1)
                        continue;
                tried++;
                const char *name, *module;
                r = kernel_names_lookup(k, v[i].addr, &name, &module);
                if (r == 1 && has(v, n, i, name, module))
                        start_ok++;
                else if (!first_bad[0])
                        snprintf(first_bad, sizeof(first_bad), "%" PRIx64 " %s %s: %s", v[i].addr,
                                 v[i].name, v[i].module, r == 1 ? name : "(none)");
                uint64_t mid = v[i].addr + (v[i + 1].addr - v[i].addr) / 2;
                r = kernel_names_lookup(k, mid, &name, &module);
                if (r == 1 && has(v, n, i, name, module))
                        inside_ok++;
        }
        /* a symbol may go (a module unloaded) between the two reads */
        CHECK(tried > 500 && start_ok >= tried - 2, "named at their starts: %zu of %zu", start_ok,
              tried);
        CHECK(tried > 500 && inside_ok >= tried - 2, "named inside: %zu of %zu", inside_ok, tried);
        if (first_bad[0])
                printf("# first mismatch: %s\n", first_bad);
        const char *name, *module;
        CHECK(kernel_names_lookup(k, 1, &name, &module) == 0, "an address below the kernel: unnamed");
        free(v);
        kernel_names_free(k);
}

int main(void) {
        test_parse();
        test_live();
        CHECK(kernel_names_free(NULL) == NULL, "free(NULL)");
        return tap_done();
}
