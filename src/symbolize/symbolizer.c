/* The symbolizer: per-module name sources, found and opened on a
 * module's first lookup and hung on the image module, and the kernel's
 * symbols. */
#include "cprof/symbolize.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/elf-module.h"
#include "symbolize/kallsyms.h"
#include "util/log.h"
#include "util/strpool.h"

#define KERNEL_MODULE_NAME "[kernel.kallsyms]"

/* What the symbolizer knows of one module: its name sources. */
struct module_syms {
        bool opened;
};

struct symbolizer {
        struct symbolizer_options opts;
        struct image_store *img;
        struct strpool names; /* demangled names, joined paths */
        struct kallsyms *kallsyms;
        bool kallsyms_tried;
};

int symbolizer_new(const struct symbolizer_options *o, struct image_store *img,
                   struct symbolizer **ret) {
        struct symbolizer *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->opts = *o;
        s->img = img;
        *ret = s;
        return 0;
}

struct symbolizer *symbolizer_free(struct symbolizer *s) {
        if (!s)
                return NULL;
        kallsyms_free(s->kallsyms);
        strpool_release(&s->names);
        free(s);
        return NULL;
}

void symbolizer_load_kernel(struct symbolizer *s) {
        if (s->kallsyms_tried)
                return;
        s->kallsyms_tried = true;
        int r = kallsyms_load("/proc/kallsyms", &s->kallsyms);
        if (r < 0)
                log_debug_errno(r, "symbolize: cannot read /proc/kallsyms, skipping");
}

static void module_syms_free(void *data) {
        struct module_syms *ms = data;
        free(ms);
}

/* The module's sources, opened on first use; NULL without memory. */
static struct module_syms *module_syms(struct symbolizer *s, struct image_module *m) {
        struct module_syms *ms = image_module_data(m, IMAGE_SLOT_SYMBOLS);
        if (ms)
                return ms;
        ms = calloc(1, sizeof(*ms));
        if (!ms)
                return NULL;
        (void) s;
        ms->opened = true;
        image_module_set_data(m, IMAGE_SLOT_SYMBOLS, ms, module_syms_free);
        return ms;
}

void symbolizer_prepare_module(struct symbolizer *s, uint32_t module) {
        struct image_module *m = image_module(s->img, module);
        if (m)
                (void) module_syms(s, m);
}

bool symbolizer_module_has_symbols(struct symbolizer *s, uint32_t module) {
        struct image_module *m = image_module(s->img, module);
        struct elf_module *elf = m ? image_module_elf(m) : NULL;
        (void) s;
        return elf && elf_module_symbol_count(elf) > 0;
}

int symbolizer_module_addr(struct symbolizer *s, uint32_t module, uint64_t vaddr,
                           struct symbol_frame *out) {
        struct image_module *m = image_module(s->img, module);
        out[0] = (struct symbol_frame) { .kind = FRAME_USER };
        if (!m)
                return 1;
        struct module_syms *ms = module_syms(s, m);
        if (!ms)
                return -ENOMEM;
        struct elf_module *elf = image_module_elf(m);
        if (elf)
                out[0].name = elf_module_symbolize(elf, vaddr, NULL);
        return 1;
}

int symbolizer_jit_addr(struct symbolizer *s, pid_t pid, uint64_t addr, struct symbol_frame *out) {
        (void) s;
        (void) pid;
        (void) addr;
        out[0] = (struct symbol_frame) { .kind = FRAME_JIT };
        return 1;
}

int symbolizer_kernel_addr(struct symbolizer *s, uint64_t addr, struct symbol_frame *out,
                           const char **ret_module) {
        const char *name = NULL, *module = NULL;

        symbolizer_load_kernel(s);
        if (s->kallsyms)
                (void) kallsyms_lookup(s->kallsyms, addr, &name, &module, NULL);
        out[0] = (struct symbol_frame) { .name = name, .kind = FRAME_KERNEL };
        if (ret_module)
                *ret_module = module ? module : KERNEL_MODULE_NAME;
        return 1;
}
