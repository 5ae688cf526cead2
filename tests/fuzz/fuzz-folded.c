/* Fuzz the folded reader and the folded writer on what it read. */
#include <stdint.h>
#include <stdio.h>

#include "cprof/output.h"
#include "cprof/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct profile *p;
        if (profile_new(&p) < 0)
                return 0;
        if (folded_read_buffer(p, "fuzz", (const char *) data, size, NULL) > 0) {
                FILE *f = fopen("/dev/null", "w");
                if (f) {
                        folded_write(p, f);
                        fclose(f);
                }
        }
        profile_free(p);
        return 0;
}
