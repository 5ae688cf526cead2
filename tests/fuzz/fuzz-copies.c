/* Fuzz the trampoline decoder and the layout of copies
 * (src/unwind/copies.c): the bytes decoded come from a libpython file on
 * disk, so any bytes must give rows or a refusal, never a crash.
 *
 *   byte 0      the stride's excess over the function's size (0-255)
 *   bytes 1-2   the period (little-endian; 0 means 65536)
 *   rest        the function's bytes (at most IMAGE_COPIES_MAX_SIZE)
 *
 * Decoded rows must be sorted, start at 0 and stay inside the bytes;
 * the laid-out table must give every copy the function's first row, and
 * no CFI between copies: a violation aborts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "cprof/image.h"
#include "unwind/unwind-internal.h"

#define HDR 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct cfi_row rows[IMAGE_COPIES_MAX_SIZE + 1];
        size_t n = 0;

        if (size < HDR + 1 || size - HDR > IMAGE_COPIES_MAX_SIZE)
                return 0;
        const uint8_t *code = data + HDR;
        size_t len = size - HDR;
        if (!copies_decode(code, len, rows, &n))
                return 0;
        if (n == 0 || n > len + 1 || rows[0].start != 0)
                abort();
        for (size_t i = 1; i < n; i++)
                if (rows[i].start <= rows[i - 1].start || rows[i].start >= len)
                        abort();

        uint32_t period = (uint32_t) data[1] | (uint32_t) data[2] << 8;
        struct image_copies c = {
                .size = (uint32_t) len,
                .stride = (uint32_t) (len + data[0]),
                .period = period ? period : 65536,
        };
        struct cfi_table *t = NULL;
        int r = copies_lay_out(&c, rows, n, &t);
        if (c.period < c.stride) {
                if (r != -EINVAL || t)
                        abort();
                return 0;
        }
        if (r < 0)
                return 0; /* -ENOMEM */
        for (uint64_t k = 0; k < c.period / c.stride; k++) {
                const struct cfi_row *first = cfi_table_find(t, k * c.stride);
                if (!first || first->cfa != rows[0].cfa || first->cfa_off != rows[0].cfa_off)
                        abort();
                if (c.stride > c.size) {
                        const struct cfi_row *gap = cfi_table_find(t, k * c.stride + c.size);
                        if (gap && gap->cfa != CFI_CFA_NONE)
                                abort();
                }
        }
        cfi_table_free(t);
        return 0;
}
