/* Anonymous memory that holds copies of one function of a module.
 *
 * CPython 3.12+ under -X perf (or PYTHONPERFSUPPORT) calls each Python
 * function through a trampoline of its own, so that perf maps can name
 * it: new_code_arena() maps 16 pages, fills them with copies of
 * libpython's _Py_trampoline_func_start .. _Py_trampoline_func_end (11
 * bytes on x86-64: sub $8,%rsp; call *%rcx; add $8,%rsp; ret), each copy
 * right after the one before (3.12) or 16 bytes after it (3.13 rounds
 * the distance up to 16), and makes them executable. The arena has
 * no CFI and the trampoline no frame pointer, so without knowing this a
 * stack is cut at the first Python frame.
 *
 * A module is asked once whether it exports that pair of symbols; an
 * anonymous executable mapping of a process mapping such a module is
 * checked once, against the process's memory: the first two copies of
 * every arena must be the function's bytes, the second as far from the
 * first as the first mapping checked had them (a module's copies are
 * all made by the same code). Anything else stays code of
 * unknown shape (JIT code). */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "image/elf-module.h"
#include "image/image-internal.h"
#include "util/log.h"

#define TRAMPOLINE_START "_Py_trampoline_func_start"
#define TRAMPOLINE_END "_Py_trampoline_func_end"
#define TRAMPOLINE_ARENA (16 * 4096)

static struct image_copies *module_copies(struct image_module *mod) {
        uint64_t start, end;

        if (!mod->copies_looked) {
                mod->copies_looked = true;
                if (mod->elf && elf_module_find_dynamic_symbol(mod->elf, TRAMPOLINE_START, &start) == 0 &&
                    elf_module_find_dynamic_symbol(mod->elf, TRAMPOLINE_END, &end) == 0 && end > start &&
                    end - start <= IMAGE_COPIES_MAX_SIZE &&
                    elf_module_read(mod->elf, start, mod->copy_bytes, end - start) == 0) {
                        mod->copies = (struct image_copies) {
                                .module = mod->id,
                                .vaddr = start,
                                .size = (uint32_t) (end - start),
                                .period = TRAMPOLINE_ARENA,
                                .bytes = mod->copy_bytes,
                        };
                        mod->has_copies = true;
                }
        }
        return mod->has_copies ? &mod->copies : NULL;
}

/* Where the second copy starts in buf (which starts with the first),
 * or 0. */
static uint32_t find_stride(const uint8_t *buf, const struct image_copies *c) {
        if (memcmp(buf, c->bytes, c->size) != 0)
                return 0;
        for (uint32_t s = c->size; s <= IMAGE_COPIES_MAX_STRIDE; s++)
                if (memcmp(buf + s, c->bytes, c->size) == 0)
                        return s;
        return 0;
}

/* Whether each period of [start, end) begins with two copies, stride
 * apart (found on the first call for the module). */
static bool holds_copies(pid_t pid, uint64_t start, uint64_t end, struct image_copies *c) {
        uint8_t buf[IMAGE_COPIES_MAX_STRIDE + IMAGE_COPIES_MAX_SIZE];
        size_t len = c->stride ? c->stride + c->size : IMAGE_COPIES_MAX_STRIDE + c->size;

        if ((end - start) % c->period != 0)
                return false;
        for (uint64_t a = start; a < end; a += c->period) {
                struct iovec local = { buf, len };
                struct iovec remote = { (void *) (uintptr_t) a, len };
                ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
                if (n != (ssize_t) len) {
                        if (n < 0)
                                log_debug_errno(errno, "image: cannot read pid %d's memory at %#llx: %s",
                                                (int) pid, (unsigned long long) a, strerror(errno));
                        return false;
                }
                if (!c->stride) {
                        uint32_t s = find_stride(buf, c);
                        if (!s)
                                return false;
                        c->stride = s;
                        len = s + c->size;
                } else if (memcmp(buf, c->bytes, c->size) != 0 || memcmp(buf + c->stride, c->bytes, c->size) != 0) {
                        return false;
                }
        }
        return true;
}

void image_check_copies(struct image_store *st, const struct process_image *p, struct mapping *m) {
        if (m->copies_checked)
                return;
        m->copies_checked = true;
        m->copies_of = 0;
        /* only the process's memory now can tell, and only for its image
         * now */
        if (p->gone || p->gen != image_current_gen(st, p->pid))
                return;
        struct image_copies *c = NULL;
        uint32_t last = 0;
        for (size_t i = 0; i < p->maps.m.n && !c; i++) {
                uint32_t id = p->maps.m.v[i].module;
                struct image_module *mod = id != last ? image_module(st, id) : NULL;
                last = id;
                if (mod)
                        c = module_copies(mod);
        }
        if (c && holds_copies(p->pid, m->start, m->end, c)) {
                m->copies_of = c->module;
                log_debug("image: pid %d: %#llx-%#llx holds copies of %s's trampoline", (int) p->pid,
                          (unsigned long long) m->start, (unsigned long long) m->end,
                          image_module_path(image_module(st, c->module)));
        }
}

const struct image_copies *image_mapping_copies(const struct image_store *st, const struct mapping *m) {
        struct image_module *mod = m->copies_of ? image_module(st, m->copies_of) : NULL;
        return mod && mod->has_copies ? &mod->copies : NULL;
}
