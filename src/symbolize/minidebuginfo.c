/* .gnu_debugdata -> an in-memory ELF (see minidebuginfo.h). */
#include <errno.h>
#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/minidebuginfo.h"
#include "util/cleanup.h"
#include "util/vec.h"

/* xz -9 needs 65 MiB of dictionary to decode; a header asking for more
 * than this is not a MiniDebugInfo section. */
#define DECODER_MEMLIMIT (128u << 20)

static void lzma_endp(lzma_stream **s) {
        if (*s)
                lzma_end(*s);
}

int minidebuginfo_decompress(const void *xz, size_t len, size_t max_image, Elf **ret_elf, void **ret_image) {
        lzma_stream strm = LZMA_STREAM_INIT;
        _cleanup_(lzma_endp) lzma_stream *sp = NULL;
        _cleanup_(vec_freep) VEC(uint8_t) out = {};
        size_t cap;
        int r;

        if (!xz || len == 0)
                return -EBADMSG;
        if (elf_version(EV_CURRENT) == EV_NONE)
                return -EINVAL;
        if (lzma_stream_decoder(&strm, DECODER_MEMLIMIT, LZMA_CONCATENATED) != LZMA_OK)
                return -ENOMEM;
        sp = &strm;

        /* symtab-only images are typically 3-5x the xz size */
        cap = len < max_image / 4 ? MAX(len * 4, (size_t) 4096) : max_image;
        r = vec_reserve(&out, cap);
        if (r < 0)
                return r;
        strm.next_in = xz;
        strm.avail_in = len;

        for (;;) {
                if (out.n == cap) {
                        if (cap >= max_image)
                                return -EFBIG;
                        cap = cap > max_image / 2 ? max_image : cap * 2;
                        r = vec_reserve(&out, cap);
                        if (r < 0)
                                return r;
                }
                strm.next_out = out.v + out.n;
                strm.avail_out = cap - out.n;
                lzma_ret lr = lzma_code(&strm, LZMA_FINISH);
                out.n = cap - strm.avail_out;
                if (lr == LZMA_STREAM_END)
                        break;
                if (lr == LZMA_MEM_ERROR)
                        return -ENOMEM;
                if (lr != LZMA_OK)
                        /* corrupt data, a truncated stream, or a header
                         * asking for more memory than DECODER_MEMLIMIT */
                        return -EBADMSG;
        }

        Elf *e = elf_memory((char *) out.v, out.n);
        if (!e)
                return -EBADMSG;
        GElf_Ehdr eh;
        if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh)) {
                elf_end(e);
                return -EBADMSG;
        }
        *ret_elf = e;
        *ret_image = TAKE_PTR(out.v);
        out = (typeof(out)) {};
        return 0;
}

int minidebuginfo_open(Elf *elf, Elf **ret_elf, void **ret_image) {
        size_t shstrndx;
        Elf_Scn *scn = NULL;

        if (!elf || elf_getshdrstrndx(elf, &shstrndx) < 0)
                return -ENOENT;
        while ((scn = elf_nextscn(elf, scn))) {
                GElf_Shdr shdr;
                if (!gelf_getshdr(scn, &shdr))
                        return -ENOENT;
                const char *name = elf_strptr(elf, shstrndx, shdr.sh_name);
                if (!name || strcmp(name, ".gnu_debugdata") != 0)
                        continue;
                if (shdr.sh_type == SHT_NOBITS || shdr.sh_size == 0)
                        return -ENOENT;
                Elf_Data *d = elf_rawdata(scn, NULL);
                if (!d || !d->d_buf || d->d_size == 0)
                        return -EBADMSG;
                return minidebuginfo_decompress(d->d_buf, d->d_size, MINIDEBUGINFO_MAX_IMAGE, ret_elf,
                                                ret_image);
        }
        return -ENOENT;
}
