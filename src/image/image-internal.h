/* The image store's insides, shared by image.c (processes and their
 * mappings) and module.c (the module table). */
#pragma once

#include <sys/stat.h>

#include "cprof/image.h"
#include "image/maps.h"
#include "util/hash.h"
#include "util/strpool.h"
#include "util/vec.h"

struct image_module {
        uint32_t id;
        bool live;             /* the slot holds a module */
        bool marked;           /* mapped by some image (image_store_collect) */
        uint32_t pins;
        const char *path;      /* pooled */
        pid_t pid;
        struct elf_module *elf; /* NULL: not an ELF file (e.g. a JIT memfd) */
        /* the file it was first read from; all zero for the vDSO */
        uint64_t dev, ino, size;
        int64_t mtime_ns;
        uint64_t file_key, build_id_key; /* its entries in the indexes, 0 none */
        /* the function it has copied into anonymous memory (CPython's
         * trampoline): looked for once (copies.c) */
        bool copies_looked;
        bool has_copies;
        struct image_copies copies;
        uint8_t copy_bytes[IMAGE_COPIES_MAX_SIZE];
        void *data[_IMAGE_SLOT_MAX];
        void (*data_free[_IMAGE_SLOT_MAX])(void *data);
};

/* One image of a process: what it maps between two execs. */
struct process_image {
        pid_t pid;
        uint32_t gen;
        struct mapping_list maps;
        bool loaded; /* maps were read (or tried) at least once */
        bool gone;   /* /proc/PID is gone: no more re-reads */
        uint64_t last_reload_ns;
};

struct image_store {
        struct strpool paths;
        VEC(struct image_module *) modules; /* index = id - 1; freed slots are reused */
        VEC(uint32_t) free_ids;
        struct u64map by_build_id; /* hash -> module id */
        struct u64map by_file;     /* hash of the file identity -> module id */
        uint32_t vdso_module;      /* 0 none */
        bool vdso_tried;
        VEC(struct process_image *) images;
        VEC(uint32_t) free_images;
        struct u64map image_index; /* image_key(pid, gen) -> index in images */
        struct u64map current_gen; /* pid -> the generation loads describe */
};

/* module.c: the module id of a mapping's file, opened through pid's
 * /proc entries; 0 when there is no file or it cannot be opened. */
uint32_t image_module_for_mapping(struct image_store *st, pid_t pid, const struct mapping *m);
void image_modules_release(struct image_store *st);

/* copies.c: whether anonymous mapping m of image p holds nothing but
 * copies of a function of a module p maps (read from the process's
 * memory once; the answer stays on the mapping). */
void image_check_copies(struct image_store *st, const struct process_image *p, struct mapping *m);
/* The copies m holds, or NULL. */
const struct image_copies *image_mapping_copies(const struct image_store *st, const struct mapping *m);
