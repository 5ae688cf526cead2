#include "symbolize/kernel-names.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kernel-names-bpf.h"
#include "kernel-names.skel.h"
#include "util/log.h"

struct kernel_names {
        struct kernel_names_bpf *skel;
        int prog_fd;
};

/* A kernel that cannot do it says so through libbpf; the symbolizer then
 * reads /proc/kallsyms, so that is no news for the user. */
static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap) {
        (void) level;
        (void) fmt;
        (void) ap;
        return 0;
}

int kernel_names_new(struct kernel_names **ret) {
        struct kernel_names *k = calloc(1, sizeof(*k));
        int r = 0;

        if (!k)
                return -ENOMEM;
        libbpf_print_fn_t old = libbpf_set_print(quiet);
        k->skel = kernel_names_bpf__open_and_load();
        if (!k->skel)
                r = errno ? -errno : -EIO;
        libbpf_set_print(old);
        if (r < 0) {
                kernel_names_free(k);
                return r;
        }
        k->prog_fd = bpf_program__fd(k->skel->progs.name_addr);
        /* a kernel whose bpf_snprintf refuses %pS fails here, not later */
        const char *name, *module;
        r = kernel_names_lookup(k, 0, &name, &module);
        if (r < 0) {
                kernel_names_free(k);
                return r;
        }
        *ret = k;
        return 0;
}

struct kernel_names *kernel_names_free(struct kernel_names *k) {
        if (!k)
                return NULL;
        kernel_names_bpf__destroy(k->skel);
        free(k);
        return NULL;
}

int kernel_names_parse(char *s, const char **ret_name, const char **ret_module) {
        /* the offset part ends the name: kernel symbol names hold no '+'
         * ("0xaddr", an address without a symbol, has none either) */
        char *plus = strchr(s, '+');
        if (!plus || plus == s)
                return 0;
        char *module = NULL, *sp = strchr(plus, ' ');
        if (sp) {
                size_t n = strlen(sp);
                if (n < 4 || sp[1] != '[' || sp[n - 1] != ']')
                        return 0;
                module = sp + 1;
        }
        /* "+0xOFF/0xSIZE" between them */
        if (plus[1] != '0' || plus[2] != 'x' || !strchr(plus, '/'))
                return 0;
        *plus = '\0';
        *ret_name = s;
        *ret_module = module;
        return 1;
}

int kernel_names_lookup(struct kernel_names *k, uint64_t addr, const char **ret_name,
                        const char **ret_module) {
        struct kernel_names_bpf__bss *bss = k->skel->bss;
        LIBBPF_OPTS(bpf_test_run_opts, opts);

        bss->addr = addr;
        bss->name[0] = '\0';
        if (bpf_prog_test_run_opts(k->prog_fd, &opts) < 0)
                return -errno;
        if ((int) opts.retval < 0)
                return (int) opts.retval;
        char *s = bss->name;
        s[KERNEL_NAMES_LEN - 1] = '\0';
        const char *name, *module;
        if (kernel_names_parse(s, &name, &module) <= 0)
                return 0;
        *ret_name = name;
        *ret_module = module;
        return 1;
}
