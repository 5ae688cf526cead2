/* Symbolization: a code address of a process (or of the kernel) becomes a
 * profile frame with a real name.
 *
 * The symbolizer owns per-process address maps (read from /proc/PID/maps
 * while the process lives, or fed from perf MMAP records), a module cache
 * keyed by build-id (a library shared by many processes is read once) and
 * the kernel's symbols from /proc/kallsyms. Each unique (process, address)
 * is resolved once per recording. Sources today: ELF .symtab, else
 * .dynsym (libelf); DWARF, debug files and perf maps come later behind the
 * same calls. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cprof/profile.h"
#include "cprof/unwind.h"

struct symbolizer;

int symbolizer_new(struct symbolizer **ret);
struct symbolizer *symbolizer_free(struct symbolizer *s);

/* Reads the kernel's symbols (/proc/kallsyms) now, once: before sampling
 * starts, so that reading them never delays the sampling loop. Lookups
 * of kernel addresses read them on first use otherwise. */
void symbolizer_load_kernel(struct symbolizer *s);

/* (Re)reads /proc/PID/maps now, while the process is alive: call it when a
 * process is first seen, after exec, and it is called again by itself when
 * an address falls outside every known mapping (dlopen). Mappings already
 * known stay known, so a process that exits is still symbolized. -ESRCH
 * when the process is gone. */
int symbolizer_load_process(struct symbolizer *s, pid_t pid);
/* A fork: child starts out with what is known of parent's mappings, so a
 * child that exits before its maps can be read is still symbolized. */
int symbolizer_fork_process(struct symbolizer *s, pid_t parent, pid_t child);
/* Drops what is known of pid's current image. */
void symbolizer_forget_process(struct symbolizer *s, pid_t pid);

/* Images: a process that execs starts a new image, numbered by its execs
 * (the exec generation of struct raw_sample). Loads and re-reads describe
 * the newest image; older ones keep what was known of them, so samples
 * taken before an exec and symbolized after it still get the old names,
 * until symbolizer_forget_image() drops them. */
int symbolizer_exec_process(struct symbolizer *s, pid_t pid, uint32_t gen);
void symbolizer_forget_image(struct symbolizer *s, pid_t pid, uint32_t gen);

/* Adds one file mapping to image gen of pid (from PERF_RECORD_MMAP2:
 * known the moment it is made, so processes that are gone before /proc
 * could be read are named too). */
int symbolizer_add_mapping(struct symbolizer *s, pid_t pid, uint32_t gen, uint64_t start,
                           uint64_t len, uint64_t pgoff, const char *path);

struct symbol {
        const char *name;       /* function name as in the symbol table (not
                                   demangled), NULL when no symbol covers it */
        const char *module;     /* module path, "[vdso]", "[kernel.kallsyms]",
                                   or NULL when no mapping covers it */
        uint64_t module_offset; /* address as the module's ELF sees it */
};

/* Looks one address up (no adjustment: pass addr - 1 for return
 * addresses). Strings are borrowed and live as long as the symbolizer.
 * Returns 0, or -ENOENT when nothing covers the address. */
int symbolizer_lookup(struct symbolizer *s, pid_t pid, uint64_t addr, bool kernel,
                      struct symbol *ret);

/* The frame of an unwound address of image gen of pid in profile p:
 * symbolized once per (image, address) and cached (kernel addresses once for all pids). A
 * return address (!f->exact) is looked up at addr - 1. Names: the
 * function name; "[module+0xoff]" (module basename, ELF address) without
 * a symbol; "[kernel.kallsyms]" for a kernel address without one;
 * "[unknown]" without a mapping. frame.module is the module path. Kernel
 * frames get FRAME_KERNEL (bare names: writers add the suffix), others
 * FRAME_USER. Passing another profile than last time drops the caches. */
int symbolizer_frame(struct symbolizer *s, struct profile *p, pid_t pid, uint32_t gen,
                     const struct unwound_frame *f, uint32_t *ret_frame_id);
/* Drops the frame caches. Call it after freeing the profile last passed
 * to symbolizer_frame() when the next one may get the same address
 * (malloc reuses it, so the pointer comparison cannot tell). */
void symbolizer_reset_frames(struct symbolizer *s);
