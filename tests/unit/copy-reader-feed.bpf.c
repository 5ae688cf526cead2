// SPDX-License-Identifier: GPL-2.0
/* Feeds test-copy-reader: each BPF_PROG_TEST_RUN writes `n` records of
 * `size` bytes to `ring` with bpf_ringbuf_output's `flags` (no wakeup, as
 * cprof's copies are sent until a batch waits, or a forced one). A
 * record starts with its sequence number (from `first`) and its size;
 * `failed` counts records the ring had no room for. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define FEED_MAX 4096

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 1 << 20);
} ring SEC(".maps");

__u32 n, size, first, failed;
__u64 flags;
char buf[FEED_MAX];

SEC("syscall")
int feed(void *ctx) {
        __u32 sz = size;

        (void) ctx;
        if (sz < 8 || sz > FEED_MAX)
                return -1;
        for (__u32 i = 0; i < 1024 && i < n; i++) {
                __u32 *head = (__u32 *) buf;
                head[0] = first + i;
                head[1] = sz;
                if (bpf_ringbuf_output(&ring, buf, sz, flags) < 0)
                        failed++;
        }
        return 0;
}
