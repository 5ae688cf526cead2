// SPDX-License-Identifier: GPL-2.0
/* Names kernel addresses the way the kernel names them in its own
 * traces: bpf_snprintf's %pS looks each address up in the kernel's
 * symbol table and prints "name+0xoff/0xsize [module]" (or "0xaddr" when
 * no symbol covers it). Userspace fills `addrs` and `n`, runs the program
 * with BPF_PROG_TEST_RUN and reads `names`; the run's return value is 0
 * or the error bpf_snprintf gave. A lookup costs about a
 * microsecond; reading all of /proc/kallsyms costs the kernel 50-65 ms. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kernel-names-bpf.h"

char LICENSE[] SEC("license") = "GPL";

__u64 addrs[KERNEL_NAMES_BATCH];
__u32 n;
char names[KERNEL_NAMES_BATCH][KERNEL_NAMES_LEN];

SEC("syscall")
int name_addrs(void *ctx) {
        int err = 0;

        (void) ctx;
        for (__u32 i = 0; i < KERNEL_NAMES_BATCH; i++) {
                if (i >= n)
                        break;
                __u64 a = addrs[i];
                long r = bpf_snprintf(names[i], sizeof(names[i]), "%pS", &a, sizeof(a));
                if (r < 0) {
                        names[i][0] = '\0';
                        err = (int) r; /* a kernel whose %pS is refused */
                }
        }
        return err;
}
