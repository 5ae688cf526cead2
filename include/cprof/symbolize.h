/* Symbolization: an address that the process image resolved (module and
 * ELF address, JIT address of a process, or kernel address) becomes a
 * chain of frames, root first: the function, then each call inlined into
 * it, the innermost last.
 *
 * Sources, each read once per module and hung on the image module (so
 * they are released with it): DWARF (libdw: inline chains, file:line),
 * the full symbol table of the binary or of its separate debug file
 * (.gnu_debuglink, build-id under /usr/lib/debug and --debug-dir
 * directories), MiniDebugInfo (.gnu_debugdata), debuginfod when
 * DEBUGINFOD_URLS is set (fetched in the background, never waited for
 * once sampling has ended), .dynsym last; perf maps (/tmp/perf-PID.map)
 * for JIT code; /proc/kallsyms for the kernel. Names are demangled unless
 * asked not to be.
 *
 * The symbolizer never runs inside the sampler's drain: the recorder
 * keeps address stacks and asks for each unique address once, in
 * batches. It does not know the profile model. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cprof/image.h"
#include "cprof/profile.h"

struct symbolizer_options {
        const char *const *debug_dirs; /* searched after /usr/lib/debug */
        size_t n_debug_dirs;
        bool no_demangle; /* keep raw (mangled) names */
        bool lines;       /* fill file and line (DWARF) */
};

struct symbolizer;

/* img is borrowed and must outlive the symbolizer. */
int symbolizer_new(const struct symbolizer_options *o, struct image_store *img,
                   struct symbolizer **ret);
struct symbolizer *symbolizer_free(struct symbolizer *s);

/* Gets ready to name kernel addresses, once: before sampling starts, so
 * that it never delays a recording (kernel lookups do it on first use
 * otherwise). Where BPF allows, the kernel names each address itself
 * (symbolize/kernel-names.h); elsewhere /proc/kallsyms is read now. */
void symbolizer_load_kernel(struct symbolizer *s);
/* Reads /proc/kallsyms again (the kernel's modules changed; a no-op when
 * the kernel names the addresses); the names handed out before are gone. */
void symbolizer_reload_kernel(struct symbolizer *s);
/* The end of a window: drops the pool of names handed out so far (every
 * name returned before is gone), and reopens the DWARF of modules whose
 * parsed compile units outgrew those the last windows looked into, so
 * that memory follows what is sampled now, not all that ever was. */
void symbolizer_end_window(struct symbolizer *s);

/* Starts the slow part of getting a module's names (a debuginfod fetch,
 * when DEBUGINFOD_URLS is set and no debug file is on disk) in the
 * background. Cheap to call again; call it when a module is first seen. */
void symbolizer_prepare_module(struct symbolizer *s, uint32_t module);
/* Looks for the module's separate debug file on disk (build-id,
 * debuglink, MiniDebugInfo; never a debuginfod fetch) and attaches it to
 * the module's ELF, once: for the unwinder, which reads the debug file's
 * .debug_frame before anything is named. */
void symbolizer_find_debug_file(struct symbolizer *s, uint32_t module);
/* Learns where pid writes its perf map (/tmp/perf-PID.map in its own
 * mount and PID namespace) and who owns it, while pid lives: call it when
 * a process's first JIT address is seen. */
void symbolizer_prepare_jit(struct symbolizer *s, pid_t pid);
/* Forgets what is known of pid's JIT code (its perf map), once its
 * addresses are all named. */
void symbolizer_forget_process(struct symbolizer *s, pid_t pid);
/* Whether a fetch for the module is still in flight: its addresses are
 * better named later, while sampling goes on. Never blocks; a recording
 * that has ended names them with what it has. */
bool symbolizer_module_pending(struct symbolizer *s, uint32_t module);

struct symbol_frame {
        const char *name; /* NULL: no source names this address */
        const char *file; /* source file (with lines), or NULL */
        uint32_t line;    /* 0 if unknown */
        enum frame_kind kind; /* FRAME_USER, _INLINE, _JIT or _KERNEL */
};

#define SYMBOL_MAX_CHAIN 32

/* The frame chain of one address (a return address already moved inside
 * its call by the caller), root first, in out[SYMBOL_MAX_CHAIN]: at least
 * one frame, whose name is NULL when nothing names the address. Module
 * addresses are ELF addresses of image module `module` (0: no readable
 * file); JIT addresses are looked up in pid's perf map; kernel addresses
 * in kallsyms, with *ret_module (optional) set to "[kernel.kallsyms]" or
 * the kernel module ("[ext4]"). Strings live as long as the symbolizer.
 * Returns the number of frames, or -ENOMEM. */
int symbolizer_module_addr(struct symbolizer *s, uint32_t module, uint64_t vaddr,
                           struct symbol_frame *out);
int symbolizer_jit_addr(struct symbolizer *s, pid_t pid, uint64_t addr, struct symbol_frame *out);
int symbolizer_kernel_addr(struct symbolizer *s, uint64_t addr, struct symbol_frame *out,
                           const char **ret_module);

/* Whether a module has any source of names (symbols or DWARF) at all:
 * the summary lists the modules that have none. */
bool symbolizer_module_has_symbols(struct symbolizer *s, uint32_t module);
