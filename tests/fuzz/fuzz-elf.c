/* Fuzz ELF modules: load the input from memory through the same code as
 * a mapped file, then translate offsets and look addresses up. */
#include <stdint.h>

#include "image/elf-module.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct elf_module *m;
        size_t len;
        uint64_t vaddr;

        if (elf_module_from_memory(data, size, &m) < 0)
                return 0;
        (void) elf_module_build_id(m, &len);
        (void) elf_module_is_fixed(m);
        (void) elf_module_symbol_count(m);
        /* offsets of every page of the input, and some odd ones */
        for (uint64_t off = 0; off < size + 4096; off += 512)
                if (elf_module_offset_to_vaddr(m, off, &vaddr) == 0) {
                        elf_module_symbolize(m, vaddr, NULL);
                        elf_module_symbolize(m, vaddr + 1, NULL);
                }
        static const uint64_t odd[] = { 0, 1, 0x1000, 0x401000, UINT64_MAX, UINT64_MAX - 1, 1ULL << 63 };
        for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
                elf_module_symbolize(m, odd[i], NULL);
        elf_module_free(m);
        return 0;
}
