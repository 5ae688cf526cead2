/* Fuzz the folded reader and the SVG flame graph writer on what it read.
 * The first byte picks writer options, so one corpus covers icicle,
 * reversed, flame chart, hashed colours and tiny widths; the output must
 * always be produced without crashing (its XML validity is checked by the
 * xmllint test on fixed hostile input). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cprof/output.h"
#include "cprof/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct flamegraph_options o;
        struct profile *p;
        uint8_t mode = size > 0 ? data[0] : 0;

        flamegraph_options_init(&o);
        o.inverted = mode & 1;
        o.reverse = mode & 2;
        o.flamechart = mode & 4;
        o.hash = mode & 8;
        o.negate = mode & 16;
        o.colors = (enum flamegraph_colors) ((mode >> 5) % (FLAMEGRAPH_COLORS_ORANGE + 1));
        if (mode & 128) {
                o.width = 21;
                o.minwidth = 0;
        }
        if (profile_new(&p) < 0)
                return 0;
        if (size > 0 && folded_read_buffer(p, "fuzz", (const char *) data + 1, size - 1, NULL) > 0) {
                char *out = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&out, &len);
                if (f) {
                        flamegraph_write(p, f, &o);
                        fclose(f);
                }
                free(out);
        }
        profile_free(p);
        return 0;
}
