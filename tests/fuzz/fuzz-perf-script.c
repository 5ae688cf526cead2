/* Fuzz the perf script reader with every option combination chosen by the
 * first byte, then the folded writer on what it read. The input is read
 * twice, from memory and as a file stream (a memfd), and both must build
 * the same profile. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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
        int r = perf_script_read_buffer(p, "fuzz", (const char *) data, size, &o);
        if (r > 0) {
                FILE *f = fopen("/dev/null", "w");
                if (f) {
                        folded_write(p, f);
                        fclose(f);
                }
        }
        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        struct profile *q = NULL;
        if (fd >= 0 && (!size || write(fd, data, size) == (ssize_t) size) && profile_new(&q) == 0) {
                char path[64];
                snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
                char *paths[] = { path };
                int r2 = perf_script_read_files(q, paths, 1, &o, NULL);
                if (r2 != r || profile_stack_count(p) != profile_stack_count(q) ||
                    profile_frame_count(p) != profile_frame_count(q) ||
                    memcmp(&(double) { profile_total(p, 0) }, &(double) { profile_total(q, 0) }, sizeof(double)) != 0)
                        abort(); /* memory and stream disagree */
        }
        profile_free(q);
        if (fd >= 0)
                close(fd);
        profile_free(p);
        return 0;
}
