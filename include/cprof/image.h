/* The process image: what each target process maps, and the modules
 * (executables, libraries, the vDSO) behind those mappings.
 *
 * Both later stages stand on it: the unwinder needs a module's unwind
 * tables and the symbolizer its symbols and DWARF, for an address that
 * this layer turns into (module, ELF address). Modules are identified by
 * build-id, else by file identity, so a library mapped by a hundred
 * processes is opened once; each stage hangs its own per-module data on a
 * module (image_module_set_data) and that data lives and dies with it.
 *
 * Lifetimes are explicit, because the daemon runs for weeks:
 *  - a process image is forgotten when its process is gone (or replaced
 *    by an exec and no longer needed); what is known of it stays until
 *    then, so a process that exited is still resolved;
 *  - a module is released by image_store_collect() once no process image
 *    maps it and nothing pins it (image_module_pin: e.g. addresses a
 *    recording still has to symbolize).
 *
 * Mappings come from /proc/PID/maps while the process lives, and from
 * PERF_RECORD_MMAP2 the moment they are made. Files are opened through
 * /proc/PID/map_files where permitted, else /proc/PID/root with a check
 * that the file is the one mapped (device and inode), so containers and
 * deleted or upgraded files resolve to what the process really runs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct image_store;
struct image_module;
struct elf_module;

int image_store_new(struct image_store **ret);
struct image_store *image_store_free(struct image_store *st);

/* Processes. A process that execs starts a new image, numbered by its execs (the exec generation of
 * struct raw_sample); loads describe the newest image, and older ones keep
 * what was known of them until forgotten. */

/* (Re)reads /proc/PID/maps now, while the process is alive. It is also
 * re-read by itself (at most ten times a second) when an address falls
 * outside every known mapping (dlopen). Mappings already known stay
 * known. -ESRCH when the process is gone. */
int image_load_process(struct image_store *st, pid_t pid);
/* A fork: the child starts with what is known of the parent's mappings. */
int image_fork_process(struct image_store *st, pid_t parent, pid_t child);
int image_exec_process(struct image_store *st, pid_t pid, uint32_t gen);
void image_forget_image(struct image_store *st, pid_t pid, uint32_t gen);
/* Forgets every image of pid. */
void image_forget_process(struct image_store *st, pid_t pid);

struct image_mapping_info {
        uint64_t start, len, pgoff;
        /* the mapped file's identity (0 when not known) */
        uint64_t dev, inode;
        const char *path; /* may end in " (deleted)"; NULL: anonymous */
};
/* The newest image's generation of pid (0 when nothing is known). */
uint32_t image_current_gen(const struct image_store *st, pid_t pid);
/* Adds one mapping to image gen of pid (PERF_RECORD_MMAP2). */
int image_add_mapping(struct image_store *st, pid_t pid, uint32_t gen,
                      const struct image_mapping_info *m);

/* Anonymous executable memory that holds nothing but copies of one
 * function of a module, side by side: CPython 3.12+'s perf trampolines
 * (-X perf), copies of libpython's _Py_trampoline_func_start in arenas
 * of 64 KiB. Such code has no CFI of its own and no frame pointer, yet
 * every copy unwinds as the function it copies. */
struct image_copies {
        uint32_t module;      /* whose function is copied */
        uint64_t vaddr;       /* its ELF address */
        uint32_t size;        /* its bytes */
        /* copies start this far apart: size (3.12), or size rounded up
         * to 16 (3.13); what lies between them is not code */
        uint32_t stride;
        uint32_t period;      /* the copies start again every period bytes (an arena) */
        const uint8_t *bytes; /* the function's size bytes */
};
#define IMAGE_COPIES_MAX_SIZE 64
#define IMAGE_COPIES_MAX_STRIDE 256

enum image_addr_kind {
        IMAGE_ADDR_UNKNOWN, /* no known mapping covers it */
        IMAGE_ADDR_MODULE,  /* in a module: module and ELF address */
        IMAGE_ADDR_ANON,    /* anonymous executable memory (JIT code):
                               the address itself, to look up in perf maps */
};

struct image_addr {
        enum image_addr_kind kind;
        uint32_t module; /* IMAGE_ADDR_MODULE: module id (> 0) */
        /* MODULE: the ELF virtual address (what symbols and CFI use);
         * ANON: the process address */
        uint64_t addr;
        /* MODULE without a readable file (not ELF, not openable): the
         * mapped path still names it */
        const char *path;
        /* ANON holding copies of a function: which, and addr's offset
         * from the start of its period (NULL: code of unknown shape) */
        const struct image_copies *copies;
        uint64_t copy_off;
};

/* Resolves one process address of image gen of pid (the newest image
 * when gen is not known). Never fails for lack of a mapping: that is
 * IMAGE_ADDR_UNKNOWN. -ENOMEM. */
int image_resolve(struct image_store *st, pid_t pid, uint32_t gen, uint64_t addr,
                  struct image_addr *ret);

/* One executable mapping of an image, for loading unwind tables into the
 * kernel: addresses in [start, end) are at ELF address addr - bias of
 * module (0: anonymous or unreadable, such as JIT code). Memory of
 * copies comes as one span per period, with addr - bias the offset in
 * it and module 0. */
struct image_span {
        uint64_t start, end;
        uint64_t bias;
        uint32_t module;
        const struct image_copies *copies;
};
/* Calls fn for every mapping of image gen of pid (the newest when gen
 * is not known), in address order; stops at fn's first non-zero return
 * and returns it. -ESRCH when nothing is known of the process. */
int image_for_each_span(struct image_store *st, pid_t pid, uint32_t gen,
                        int (*fn)(void *userdata, const struct image_span *span), void *userdata);

/* Modules. Ids are > 0 and stay valid while the module lives; a released
 * module's id may be reused, so hold a pin across collections. */
struct image_module *image_module(const struct image_store *st, uint32_t id);
uint32_t image_module_id(const struct image_module *m);
/* The path it was first seen at, as the process sees it ("[vdso]" for
 * the vDSO); lives as long as the store. */
const char *image_module_path(const struct image_module *m);
/* The pid it was first opened through (0 for the vDSO): where to look
 * for files beside it (/proc/PID/root). May be gone by now. */
pid_t image_module_pid(const struct image_module *m);
/* The main file's ELF (NULL when the file could not be read as ELF). */
struct elf_module *image_module_elf(const struct image_module *m);
const uint8_t *image_module_build_id(const struct image_module *m, size_t *ret_len);

void image_module_pin(struct image_store *st, uint32_t id);
void image_module_unpin(struct image_store *st, uint32_t id);

/* Calls fn for every live module. */
void image_for_each_module(struct image_store *st, void (*fn)(void *userdata, struct image_module *m),
                           void *userdata);
/* Per-stage data hung on a module, freed with it. */
enum image_slot {
        IMAGE_SLOT_SYMBOLS, /* the symbolizer's */
        IMAGE_SLOT_UNWIND,  /* the unwinder's */
        _IMAGE_SLOT_MAX,
};
void *image_module_data(const struct image_module *m, enum image_slot slot);
void image_module_set_data(struct image_module *m, enum image_slot slot, void *data,
                           void (*free_fn)(void *data));

/* Releases every module that no image maps and nothing pins. Returns
 * how many were released. */
size_t image_store_collect(struct image_store *st);
size_t image_store_module_count(const struct image_store *st);
size_t image_store_image_count(const struct image_store *st);
