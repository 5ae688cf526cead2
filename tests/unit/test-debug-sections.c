/* Compressed debug sections inflated by cprof (libdeflate) against
 * libdw's own inflate (zlib): libc6-dbg's libc debug file opened both
 * ways names a spread of libc's functions, every byte of some of them,
 * identically; the unused sections are hidden; a section whose stream is
 * broken is left for libdw (which refuses it too); a -gz fixture built here names the same. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/debug-sections.h"
#include "image/elf-module.h"
#include "symbolize/dwarf-lines.h"
#include "util/read-file.h"
#include "tap.h"

#define FRAMES_MAX 16

struct opened {
        void *image; /* a private copy: libelf changes it in place */
        Elf *elf;
        struct dwarf_lines *d;
        struct debug_sections ds;
};

/* the whole file, through the project's own reader */
static void *read_all(const char *path, size_t *ret_len) {
        char *buf = NULL;
        return read_full_file(path, &buf, ret_len) < 0 ? NULL : buf;
}

static bool open_image(struct opened *o, const void *data, size_t len, bool ours) {
        *o = (struct opened) {};
        o->image = malloc(len);
        if (!o->image)
                return false;
        memcpy(o->image, data, len);
        o->elf = elf_memory(o->image, len);
        if (!o->elf)
                return false;
        if (ours && debug_sections_inflate(o->elf, &o->ds) < 0)
                return false;
        return dwarf_lines_open(o->elf, &o->d) == 0;
}

static void close_image(struct opened *o) {
        dwarf_lines_free(o->d);
        if (o->elf)
                elf_end(o->elf);
        debug_sections_release(&o->ds);
        free(o->image);
}

static bool same(const struct dwarf_frame *a, int na, const struct dwarf_frame *b, int nb) {
        if (na != nb)
                return false;
        for (int i = 0; i < na; i++) {
                if ((a[i].name == NULL) != (b[i].name == NULL) || (a[i].name && strcmp(a[i].name, b[i].name)) ||
                    (a[i].file == NULL) != (b[i].file == NULL) || (a[i].file && strcmp(a[i].file, b[i].file)) ||
                    a[i].line != b[i].line || a[i].inlined != b[i].inlined)
                        return false;
        }
        return true;
}

/* Function symbols of .symtab: start and size, every step-th. */
static size_t functions(Elf *elf, size_t step, uint64_t *start, uint64_t *size, size_t max) {
        Elf_Scn *scn = NULL;
        size_t n = 0, seen = 0;
        while ((scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || sh.sh_entsize == 0)
                        continue;
                Elf_Data *data = elf_getdata(scn, NULL);
                for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize && n < max; i++) {
                        GElf_Sym s;
                        if (!gelf_getsym(data, (int) i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
                            s.st_size == 0 || seen++ % step)
                                continue;
                        start[n] = s.st_value;
                        size[n++] = s.st_size;
                }
        }
        return n;
}

/* How many of the addresses name alike both ways (*ret_tried: of how
 * many); whole functions for the first `whole`, their middles after. */
static size_t compare(struct opened *a, struct opened *b, const uint64_t *start, const uint64_t *size,
                      size_t n, size_t whole, size_t *ret_tried, size_t *ret_named) {
        size_t ok = 0, tried = 0, named = 0;
        for (size_t i = 0; i < n; i++) {
                uint64_t from = i < whole ? start[i] : start[i] + size[i] / 2;
                uint64_t to = i < whole ? start[i] + size[i] : from + 1;
                for (uint64_t x = from; x < to; x++) {
                        struct dwarf_frame fa[FRAMES_MAX], fb[FRAMES_MAX];
                        int na = dwarf_lines_lookup(a->d, x, fa, FRAMES_MAX);
                        int nb = dwarf_lines_lookup(b->d, x, fb, FRAMES_MAX);
                        tried++;
                        named += na > 0;
                        ok += same(fa, na, fb, nb);
                }
        }
        *ret_tried = tried;
        *ret_named = named;
        return ok;
}

static bool libc_debug_path(char *path, size_t len) {
        struct elf_module *m = NULL;
        size_t n = 0;
        int fd = open("/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        int r = elf_module_open_fd(fd, &m);
        close(fd);
        if (r < 0)
                return false;
        const uint8_t *id = elf_module_build_id(m, &n);
        int k = id && n > 1 ? snprintf(path, len, "/usr/lib/debug/.build-id/%02x/", id[0]) : -1;
        for (size_t i = 1; k > 0 && i < n; i++)
                k += snprintf(path + k, len - (size_t) k, "%02x", id[i]);
        if (k > 0)
                snprintf(path + k, len - (size_t) k, ".debug");
        elf_module_free(m);
        return k > 0;
}

static void test_libc(void) {
        char path[512];
        size_t len = 0;
        void *data = NULL;

        CHECK(libc_debug_path(path, sizeof(path)) && (data = read_all(path, &len)),
              "libc6-dbg's debug file '%s'", path);
        if (!data)
                return;
        struct opened plain, ours;
        CHECK(open_image(&plain, data, len, false), "its DWARF, inflated by libdw");
        CHECK(open_image(&ours, data, len, true), "its DWARF, inflated first");
        CHECK(ours.ds.inflated >= 6, "sections inflated: %zu", ours.ds.inflated);
        CHECK(ours.ds.hidden >= 1, "unused sections hidden (location lists): %zu", ours.ds.hidden);
        if (plain.d && ours.d) {
                static uint64_t start[2000], size[2000];
                size_t n = functions(ours.elf, 3, start, size, 2000), tried, named;
                size_t ok = compare(&plain, &ours, start, size, n, 40, &tried, &named);
                CHECK(n > 500 && named > tried / 2 && ok == tried,
                      "%zu functions, %zu addresses (%zu named): alike at %zu", n, tried, named, ok);
        }
        close_image(&plain);
        close_image(&ours);

        /* a broken stream in the first inflatable section: left compressed,
         * and libdw, trying it itself, gives up on it without a crash */
        Elf *e = elf_memory(data, len);
        size_t shstrndx, at = 0;
        Elf_Scn *scn = NULL;
        if (e && elf_getshdrstrndx(e, &shstrndx) == 0)
                while (!at && (scn = elf_nextscn(e, scn))) {
                        GElf_Shdr sh;
                        const char *name;
                        if (gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_COMPRESSED) &&
                            (name = elf_strptr(e, shstrndx, sh.sh_name)) && strcmp(name, ".debug_info") == 0)
                                at = sh.sh_offset + sizeof(Elf64_Chdr) + 64;
                }
        if (e)
                elf_end(e);
        CHECK(at > 0 && at + 64 < len, "found .debug_info's stream");
        if (at > 0 && at + 64 < len) {
                memset((char *) data + at, 0xa5, 64);
                struct opened broken;
                bool opened = open_image(&broken, data, len, true);
                CHECK(broken.elf && broken.ds.inflated >= 5, "the other sections inflated: %zu",
                      broken.ds.inflated);
                /* libdw refuses the section too, and opens the file for
                 * its lines alone: nothing is named */
                uint64_t st[1], sz[1];
                struct dwarf_frame f[FRAMES_MAX];
                size_t nf = broken.elf ? functions(broken.elf, 1, st, sz, 1) : 0;
                CHECK(nf == 1 && (!opened || dwarf_lines_lookup(broken.d, st[0] + sz[0] / 2, f, FRAMES_MAX) <= 0),
                      "libdw cannot inflate .debug_info either: nothing named");
                close_image(&broken);
        }
        free(data);
}

/* a fixture built with compressed DWARF (in a mkdtemp directory): the
 * same names both ways */
static void test_gz(void) {
        char dir[] = "/tmp/test-debug-sections.XXXXXX", bin[128], cmd[512];
        size_t len = 0, tried = 0, named = 0;
        void *data = NULL;

        CHECK(mkdtemp(dir) != NULL, "temp dir");
        snprintf(bin, sizeof(bin), "%s/gz", dir);
        snprintf(cmd, sizeof(cmd), "gcc -g -O2 -gz=zlib -o '%s' '%s'", bin, SRCDIR "/tests/data/dwarf/inline-chain.c");
        CHECK(system(cmd) == 0 && (data = read_all(bin, &len)), "gcc -g -O2 -gz=zlib");
        if (data) {
                struct opened plain, ours;
                bool a = open_image(&plain, data, len, false), b = open_image(&ours, data, len, true);
                CHECK(a && b && ours.ds.inflated >= 3, "both open; %zu sections inflated", ours.ds.inflated);
                uint64_t start[64], size[64];
                size_t n = b ? functions(ours.elf, 1, start, size, 64) : 0;
                size_t ok = a && b ? compare(&plain, &ours, start, size, n, n, &tried, &named) : 0;
                CHECK(n >= 2 && named > 0 && ok == tried, "%zu functions, %zu addresses (%zu named): alike at %zu",
                      n, tried, named, ok);
                close_image(&plain);
                close_image(&ours);
        }
        free(data);
        unlink(bin);
        rmdir(dir);
}

int main(void) {
        if (elf_version(EV_CURRENT) == EV_NONE) {
                printf("Bail out! libelf\n");
                return 1;
        }
        test_libc();
        test_gz();
        return tap_done();
}
