/* Fuzz the folded reader and the folded writer on what it read. The input
 * is read twice, from memory and as a stream (a memfd), and both must
 * build the same profile. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cprof/output.h"
#include "cprof/profile.h"

static int read_stream(struct profile *p, const uint8_t *data, size_t size) {
        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        if (fd < 0)
                return -1;
        if ((size && write(fd, data, size) != (ssize_t) size) || lseek(fd, 0, SEEK_SET) != 0) {
                close(fd);
                return -1;
        }
        int r = folded_read_fd(p, "fuzz", fd, NULL);
        close(fd);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct profile *p, *q;
        if (profile_new(&p) < 0)
                return 0;
        int r = folded_read_buffer(p, "fuzz", (const char *) data, size, NULL);
        if (r > 0) {
                FILE *f = fopen("/dev/null", "w");
                if (f) {
                        folded_write(p, f);
                        fclose(f);
                }
        }
        if (profile_new(&q) == 0) {
                int r2 = read_stream(q, data, size);
                if (r2 != -1 && (r2 != r || profile_stack_count(p) != profile_stack_count(q) ||
                                 profile_frame_count(p) != profile_frame_count(q) ||
                                 memcmp(&(double) { profile_total(p, 0) }, &(double) { profile_total(q, 0) },
                                        sizeof(double)) != 0))
                        abort(); /* memory and stream disagree */
                profile_free(q);
        }
        profile_free(p);
        return 0;
}
