/* Fuzz MiniDebugInfo: the input is the .gnu_debugdata payload (xz) of an
 * untrusted binary. Decompress it (with a smaller output limit than the
 * real one, so a fuzzer does not spend its time on 256 MiB images), then
 * walk what libelf made of it as the symbolizer will: sections, symbols,
 * a debuglink, a nested .gnu_debugdata.
 *
 * Corpus (tests/fuzz/corpus/minidebuginfo): mini.xz is the payload the
 * unit test makes from a small program (Fedora's recipe, see
 * tests/unit/test-debug-file.c); truncated, flipped-byte and xz-of-text
 * variants of it; and a payload of two concatenated xz streams. */
#include <stdint.h>
#include <stdlib.h>

#include "symbolize/debug-file.h"
#include "symbolize/minidebuginfo.h"

static void walk(Elf *e, int depth) {
        Elf_Scn *scn = NULL;
        while ((scn = elf_nextscn(e, scn))) {
                GElf_Shdr sh;
                if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) ||
                    sh.sh_entsize == 0)
                        continue;
                Elf_Data *d = elf_getdata(scn, NULL);
                for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize && i < 100000; i++) {
                        GElf_Sym s;
                        if (gelf_getsym(d, (int) i, &s))
                                (void) elf_strptr(e, sh.sh_link, s.st_name);
                }
        }
        const char *name;
        uint32_t crc;
        (void) debug_file_read_debuglink(e, &name, &crc);
        if (depth == 0) {
                Elf *inner = NULL;
                void *image = NULL;
                if (minidebuginfo_open(e, &inner, &image) == 0) {
                        walk(inner, 1);
                        elf_end(inner);
                        free(image);
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Elf *e = NULL;
        void *image = NULL;

        if (minidebuginfo_decompress(data, size, 16u << 20, &e, &image) < 0)
                return 0;
        walk(e, 0);
        elf_end(e);
        free(image);
        return 0;
}
