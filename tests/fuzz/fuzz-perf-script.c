/* Fuzz the perf script reader with every option combination chosen by the
 * first byte, then the folded writer on what it read. */
#include <stdint.h>
#include <stdio.h>

#include "cprof/output.h"
#include "cprof/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct perf_script_options o = {};
        struct profile *p;

        if (size > 0) {
                o.include_pid = data[0] & 1;
                o.include_tid = data[0] & 2;
                o.annotate_kernel = data[0] & 4;
                o.annotate_jit = data[0] & 8;
                o.include_addrs = data[0] & 16;
                o.srcline = data[0] & 32;
                if (data[0] & 64)
                        o.event_filter = "cycles";
        }
        if (profile_new(&p) < 0)
                return 0;
        if (perf_script_read_buffer(p, "fuzz", (const char *) data, size, &o) > 0) {
                FILE *f = fopen("/dev/null", "w");
                if (f) {
                        folded_write(p, f);
                        fclose(f);
                }
        }
        profile_free(p);
        return 0;
}
