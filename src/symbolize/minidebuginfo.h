/* MiniDebugInfo: the .gnu_debugdata section some distributions (Fedora,
 * RHEL) add to stripped binaries. It is an xz-compressed ELF file holding
 * a .symtab with the functions .dynsym lacks (the local ones), so a
 * stripped binary still names its static functions.
 *
 * The section comes from the file being profiled: it is untrusted. The
 * decompressor's memory and the image size are bounded, and the result is
 * only handed out when libelf takes it as an ELF file. */
#pragma once

#include <gelf.h>
#include <stddef.h>

/* Output over this is refused: real MiniDebugInfo images are a few MiB. */
#define MINIDEBUGINFO_MAX_IMAGE (256u << 20)

/* The ELF inside elf's .gnu_debugdata, decompressed into memory: *ret_elf
 * is an Elf* over *ret_image (malloc'd; the caller frees it after
 * elf_end(*ret_elf)). -ENOENT without the section (or an empty/NOBITS
 * one), -EBADMSG when it does not decompress or is not ELF, -EFBIG when
 * the image would exceed MINIDEBUGINFO_MAX_IMAGE, -ENOMEM. */
int minidebuginfo_open(Elf *elf, Elf **ret_elf, void **ret_image);

/* The same from the compressed bytes, with the output limit given (for
 * tests and fuzzing). */
int minidebuginfo_decompress(const void *xz, size_t len, size_t max_image, Elf **ret_elf, void **ret_image);
