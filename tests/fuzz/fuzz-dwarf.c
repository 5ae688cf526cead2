/* Fuzz dwarf-lines: the input is an ELF image in memory (elf_memory)
 * whose compressed debug sections are inflated and whose DWARF is opened, indexed and looked up at addresses spread over
 * the low address space (where small fixtures keep their code) and some
 * odd ones. Anything that returns is fine; what must not happen is a
 * crash or a sanitizer report. */
#include <libelf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/debug-sections.h"
#include "symbolize/dwarf-lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct dwarf_lines *d;
        struct dwarf_frame f[8];
        Elf *elf;

        if (elf_version(EV_CURRENT) == EV_NONE || size == 0)
                return 0;
        /* libelf may convert the image in place */
        char *image = malloc(size);
        if (!image)
                return 0;
        memcpy(image, data, size);
        elf = elf_memory(image, size);
        /* compressed sections inflated as the symbolizer does it */
        struct debug_sections ds = {};
        if (elf)
                (void) debug_sections_inflate(elf, &ds);
        if (elf && dwarf_lines_open(elf, &d) == 0) {
                for (uint64_t a = 0; a < 0x3000; a += 3)
                        (void) dwarf_lines_lookup(d, a, f, 8);
                static const uint64_t odd[] = { 0x401000, 0x401136, UINT64_MAX, UINT64_MAX - 1, 1ULL << 63 };
                for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
                        (void) dwarf_lines_lookup(d, odd[i], f, 2);
                (void) dwarf_lines_preload(d);
                (void) dwarf_lines_lookup(d, 0x1139, f, 1);
                dwarf_lines_free(d);
        }
        if (elf)
                elf_end(elf);
        debug_sections_release(&ds);
        free(image);
        return 0;
}
