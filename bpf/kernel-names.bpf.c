// SPDX-License-Identifier: GPL-2.0
/* Names kernel addresses the way the kernel names them in its own
 * traces: bpf_snprintf's %pS looks each address up in the kernel's
 * symbol table and prints "name+0xoff/0xsize [module]" (or "0xaddr" when
 * no symbol covers it). Userspace sets `addr`, runs the program with
 * BPF_PROG_TEST_RUN and reads `name`; the run's return value is 0 or the
 * error bpf_snprintf gave. A lookup costs about a
 * microsecond; reading all of /proc/kallsyms costs the kernel 50-65 ms. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kernel-names-bpf.h"

char LICENSE[] SEC("license") = "GPL";

__u64 addr;
char name[KERNEL_NAMES_LEN];

SEC("syscall")
int name_addr(void *ctx) {
        __u64 a = addr;
        long r = bpf_snprintf(name, sizeof(name), "%pS", &a, sizeof(a));

        (void) ctx;
        if (r < 0) {
                name[0] = '\0';
                return (int) r; /* a kernel whose %pS is refused */
        }
        return 0;
}
