/* Fuzz the CFI table builder (src/unwind/cfi-table.c).
 *
 * An input that starts with the ELF magic is opened as it is (elf_memory):
 * real files stripped to .eh_frame/.eh_frame_hdr, which reach libdw's
 * .eh_frame_hdr search table too. Any other input is CFI bytes wrapped
 * into a minimal x86-64 ELF built here, so the fuzzer spends its time in
 * the CFI parser and not in ELF headers:
 *
 *   byte 0      mode: 0 .eh_frame, 1 .debug_frame, 2 both (split below)
 *   bytes 1-4   the section's address (little-endian; .debug_frame's is 0)
 *   bytes 5-6   mode 2: where .eh_frame ends and .debug_frame starts
 *   rest        section contents
 *
 * The table is built, every row and the bytes around it looked up, and
 * the table's invariants checked (sorted, find() never answers with a
 * gap row, a row's own start finds that row): a violation aborts, like a
 * crash or a sanitizer report. */
#include <elf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unwind/cfi-table.h"

#define HDR 7

static const char shstrtab[] = "\0.eh_frame\0.debug_frame\0.shstrtab";
#define NAME_EH 1
#define NAME_DEBUG 11
#define NAME_SHSTRTAB 24

struct sec {
        uint32_t name;
        uint64_t addr;
        const uint8_t *data;
        size_t size;
};

/* ELF header, the sections' bytes, .shstrtab, then the section headers. */
static uint8_t *wrap(const struct sec *secs, size_t n, size_t *ret_size) {
        size_t off = sizeof(Elf64_Ehdr), total;
        Elf64_Shdr sh[4] = {};

        total = off;
        for (size_t i = 0; i < n; i++)
                total += secs[i].size;
        total += sizeof(shstrtab);
        total = (total + 7) & ~(size_t) 7;
        total += (n + 2) * sizeof(Elf64_Shdr);
        uint8_t *img = calloc(1, total);
        if (!img)
                return NULL;

        for (size_t i = 0; i < n; i++) {
                sh[i + 1] = (Elf64_Shdr) {
                        .sh_name = secs[i].name,
                        .sh_type = SHT_PROGBITS,
                        .sh_flags = secs[i].name == NAME_EH ? SHF_ALLOC : 0,
                        .sh_addr = secs[i].addr,
                        .sh_offset = off,
                        .sh_size = secs[i].size,
                        .sh_addralign = 1,
                };
                if (secs[i].size)
                        memcpy(img + off, secs[i].data, secs[i].size);
                off += secs[i].size;
        }
        sh[n + 1] = (Elf64_Shdr) {
                .sh_name = NAME_SHSTRTAB,
                .sh_type = SHT_STRTAB,
                .sh_offset = off,
                .sh_size = sizeof(shstrtab),
                .sh_addralign = 1,
        };
        memcpy(img + off, shstrtab, sizeof(shstrtab));
        off = (off + sizeof(shstrtab) + 7) & ~(size_t) 7;
        memcpy(img + off, sh, (n + 2) * sizeof(Elf64_Shdr));

        Elf64_Ehdr eh = {
                .e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT },
                .e_type = ET_DYN,
                .e_machine = EM_X86_64,
                .e_version = EV_CURRENT,
                .e_shoff = off,
                .e_ehsize = sizeof(Elf64_Ehdr),
                .e_shentsize = sizeof(Elf64_Shdr),
                .e_shnum = n + 2,
                .e_shstrndx = n + 1,
        };
        memcpy(img, &eh, sizeof(eh));
        *ret_size = total;
        return img;
}

static void check(const struct cfi_table *t) {
        const struct cfi_row *rows;
        size_t n = cfi_table_rows(t, &rows);
        struct cfi_table_stats st;

        cfi_table_get_stats(t, &st);
        if (st.rows != n || st.unsupported > n)
                abort();
        for (size_t i = 0; i < n; i++) {
                const struct cfi_row *r = &rows[i];
                if (i > 0 && rows[i - 1].start >= r->start)
                        abort();
                if (r->cfa > CFI_CFA_UNSUPPORTED || r->ra > CFI_REG_UNSUPPORTED || r->rbp > CFI_REG_UNSUPPORTED)
                        abort();
                const struct cfi_row *f = cfi_table_find(t, r->start);
                if (r->cfa == CFI_CFA_NONE ? f != NULL : f != r)
                        abort();
                f = cfi_table_find(t, r->start - 1);
                if (f && (f->cfa == CFI_CFA_NONE || f->start > r->start - 1))
                        abort();
        }
        static const uint64_t odd[] = { 0, 1, 0x1000, 0x401000, UINT64_MAX, UINT64_MAX - 1, 1ULL << 63 };
        for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
                const struct cfi_row *f = cfi_table_find(t, odd[i]);
                if (f && (f->cfa == CFI_CFA_NONE || f->start > odd[i]))
                        abort();
        }
}

static void run(void *image, size_t size) {
        Elf *elf = elf_memory(image, size);
        struct cfi_table *t = NULL;

        if (!elf)
                return;
        if (cfi_table_build(elf, NULL, &t) == 0) {
                check(t);
                cfi_table_free(t);
        }
        elf_end(elf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (elf_version(EV_CURRENT) == EV_NONE)
                return 0;
        if (size >= 4 && memcmp(data, ELFMAG, SELFMAG) == 0) {
                /* libelf may convert the image in place */
                char *image = malloc(size);
                if (!image)
                        return 0;
                memcpy(image, data, size);
                run(image, size);
                free(image);
                return 0;
        }
        if (size < HDR)
                return 0;

        uint8_t mode = data[0] % 3;
        uint64_t addr = (uint64_t) data[1] | (uint64_t) data[2] << 8 | (uint64_t) data[3] << 16 |
                        (uint64_t) data[4] << 24;
        size_t split = (size_t) data[5] | (size_t) data[6] << 8;
        const uint8_t *body = data + HDR;
        size_t len = size - HDR;
        struct sec secs[2];
        size_t n = 0;

        if (split > len)
                split = len;
        if (mode == 0)
                secs[n++] = (struct sec) { NAME_EH, addr, body, len };
        else if (mode == 1)
                secs[n++] = (struct sec) { NAME_DEBUG, 0, body, len };
        else {
                secs[n++] = (struct sec) { NAME_EH, addr, body, split };
                secs[n++] = (struct sec) { NAME_DEBUG, 0, body + split, len - split };
        }
        size_t img_size;
        uint8_t *img = wrap(secs, n, &img_size);
        if (!img)
                return 0;
        run(img, img_size);
        free(img);
        return 0;
}
