#include "image/debug-sections.h"

#include <errno.h>
#include <gelf.h>
#include <libdeflate.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* deflate's best ratio is about 1032:1; a header claiming more lies */
#define MAX_RATIO 1100u
#define MAX_SECTION_BYTES (1ull << 32)

/* Sections with nothing cprof reads: variables' locations and macros. */
static bool unused(const char *name) {
        static const char *const names[] = { ".debug_loclists", ".debug_loc", ".debug_macro",
                                             ".debug_macinfo" };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(name, names[i]) == 0)
                        return true;
        return false;
}

/* The section's inflated bytes in a new buffer, or NULL. */
static void *inflate_section(struct libdeflate_decompressor *dd, const Elf_Data *data, bool is64,
                             GElf_Chdr *ret_ch) {
        const unsigned char *p = data->d_buf;
        size_t hdr = is64 ? sizeof(Elf64_Chdr) : sizeof(Elf32_Chdr);
        GElf_Chdr ch;

        if (!p || data->d_size <= hdr)
                return NULL;
        if (is64) {
                Elf64_Chdr c;
                memcpy(&c, p, sizeof(c));
                ch = (GElf_Chdr) { c.ch_type, 0, c.ch_size, c.ch_addralign };
        } else {
                Elf32_Chdr c;
                memcpy(&c, p, sizeof(c));
                ch = (GElf_Chdr) { c.ch_type, 0, c.ch_size, c.ch_addralign };
        }
        size_t in = data->d_size - hdr;
        if (ch.ch_type != ELFCOMPRESS_ZLIB || ch.ch_size == 0 || ch.ch_size > MAX_SECTION_BYTES ||
            ch.ch_size / MAX_RATIO > in)
                return NULL;
        void *out = malloc(ch.ch_size);
        if (!out)
                return NULL;
        /* NULL actual size: the stream must fill the buffer exactly */
        if (libdeflate_zlib_decompress(dd, p + hdr, in, out, ch.ch_size, NULL) != LIBDEFLATE_SUCCESS) {
                free(out);
                return NULL;
        }
        *ret_ch = ch;
        return out;
}

int debug_sections_inflate(Elf *elf, struct debug_sections *d) {
        struct libdeflate_decompressor *dd = NULL;
        size_t shstrndx;
        Elf_Scn *scn = NULL;
        int r = 0;

        if (elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx) < 0)
                return 0;
        bool is64 = gelf_getclass(elf) == ELFCLASS64;
        while (r == 0 && (scn = elf_nextscn(elf, scn))) {
                GElf_Shdr sh;
                if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS || !(sh.sh_flags & SHF_COMPRESSED))
                        continue;
                const char *name = elf_strptr(elf, shstrndx, sh.sh_name);
                if (!name || strncmp(name, ".debug_", 7) != 0)
                        continue;
                if (unused(name)) {
                        sh.sh_type = SHT_NOBITS;
                        if (gelf_update_shdr(scn, &sh))
                                d->hidden++;
                        continue;
                }
                Elf_Data *data = elf_getdata(scn, NULL);
                if (!data)
                        continue;
                if (!dd && !(dd = libdeflate_alloc_decompressor())) {
                        r = -ENOMEM;
                        break;
                }
                GElf_Chdr ch;
                void *out = inflate_section(dd, data, is64, &ch);
                if (!out)
                        continue;
                if (vec_push(&d->bufs, out) < 0) {
                        free(out);
                        r = -ENOMEM;
                        break;
                }
                /* what elf_compress(scn, 0, 0) would leave: the data
                 * inflated, the header no longer saying compressed */
                data->d_buf = out;
                data->d_size = ch.ch_size;
                data->d_type = ELF_T_BYTE;
                data->d_align = ch.ch_addralign ? ch.ch_addralign : 1;
                sh.sh_flags &= ~(GElf_Xword) SHF_COMPRESSED;
                sh.sh_size = ch.ch_size;
                sh.sh_addralign = ch.ch_addralign;
                if (!gelf_update_shdr(scn, &sh))
                        log_debug("elf: %s: cannot update its header: %s", name, elf_errmsg(-1));
                d->inflated++;
        }
        libdeflate_free_decompressor(dd);
        return r;
}

void debug_sections_release(struct debug_sections *d) {
        for (size_t i = 0; i < d->bufs.n; i++)
                free(d->bufs.v[i]);
        vec_free(&d->bufs);
        d->inflated = d->hidden = 0;
}
