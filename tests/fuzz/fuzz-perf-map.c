/* Fuzz the perf-map parser: the input is parsed once whole and once line
 * by line, which must agree (overlaps are resolved per batch, and a batch
 * must mean what its lines mean one at a time); every lookup must return a
 * symbol that starts at or below the address; a partial last line must be
 * left unconsumed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/perf-map.h"

static uint64_t read_u64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *) data;
        struct perf_map *whole, *lines;

        if (perf_map_new(&whole) < 0)
                return 0;
        if (perf_map_new(&lines) < 0) {
                perf_map_free(whole);
                return 0;
        }
        size_t used = perf_map_parse(whole, text, size);
        if (used > size || (used > 0 && text[used - 1] != '\n') || memchr(text + used, '\n', size - used))
                abort(); /* whole lines only, every whole line */

        /* line by line is quadratic in the worst case: small inputs only */
        size_t off = 0;
        if (size <= 64 * 1024)
                while (off < used) {
                        const char *nl = memchr(text + off, '\n', used - off);
                        size_t len = (size_t) (nl - (text + off)) + 1;
                        if (perf_map_parse(lines, text + off, len) != len)
                                abort();
                        off += len;
                }

        /* probe at every 8-byte window of the input: many hit the numbers */
        for (size_t i = 0; i + 8 <= size; i++) {
                uint64_t addr = read_u64(data + i), start = 0;
                const char *name = perf_map_lookup(whole, addr, &start);
                if (name && start > addr)
                        abort();
                if (off == used && size <= 64 * 1024) {
                        const char *name2 = perf_map_lookup(lines, addr, NULL);
                        if (!name != !name2 || (name && strcmp(name, name2) != 0))
                                abort();
                }
        }
        if (off == used && size <= 64 * 1024 &&
            (perf_map_count(whole) != perf_map_count(lines) ||
             perf_map_malformed(whole) != perf_map_malformed(lines)))
                abort();
        perf_map_free(whole);
        perf_map_free(lines);
        return 0;
}
