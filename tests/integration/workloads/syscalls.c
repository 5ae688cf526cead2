/* syscalls: spends most of its CPU time in the kernel.
 *
 * Expected frames (root first):
 *   syscalls;...;main;run;spin_getppid;<kernel frames>_[k]   ~50%
 *   syscalls;...;main;run;spin_read;<kernel frames>_[k]      ~50%
 * The kernel part includes the syscall entry (entry_SYSCALL_64,
 * do_syscall_64, __x64_sys_getppid / __x64_sys_read, ...).
 *
 * The syscalls are issued with an inline `syscall` instruction from inside
 * spin_getppid and spin_read, not through libc: glibc has no frame
 * pointers, and a sample taken in its wrapper would hide the caller.
 *
 * Usage: syscalls [SECONDS]  (0 or none: until killed) */
#include <fcntl.h>
#include <sys/syscall.h>

#include "common.h"

static inline long raw_syscall3(long nr, long a, long b, long c) {
        long ret;

        asm volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
        return ret;
}

__attribute__((noipa)) long spin_getppid(unsigned n) {
        long sum = 0;

        for (unsigned i = 0; i < n; i++)
                sum += raw_syscall3(SYS_getppid, 0, 0, 0);
        KEEP_FRAME(sum);
        return sum;
}

static char buf[65536];

__attribute__((noipa)) long spin_read(int fd, unsigned n) {
        long sum = 0;

        for (unsigned i = 0; i < n; i++)
                sum += raw_syscall3(SYS_read, fd, (long) buf, sizeof(buf));
        KEEP_FRAME(sum);
        return sum;
}

__attribute__((noipa)) long run(int fd, uint64_t duration_ns) {
        uint64_t start = wall_ns();
        long sum = 0;

        do {
                uint64_t t0 = thread_cpu_ns();

                do
                        sum += spin_getppid(200);
                while (thread_cpu_ns() - t0 < 2000000);
                t0 = thread_cpu_ns();
                do
                        sum += spin_read(fd, 4);
                while (thread_cpu_ns() - t0 < 2000000);
        } while (duration_ns == 0 || wall_ns() - start < duration_ns);
        KEEP_FRAME(sum);
        return sum;
}

int main(int argc, char **argv) {
        uint64_t duration = argc >= 2 ? parse_seconds_ns(argv[1]) : 0;
        int fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
        long r;

        if (fd < 0) {
                perror("/dev/zero");
                return 1;
        }
        print_ready("syscalls");
        r = run(fd, duration);
        KEEP_FRAME(r);
        return 0;
}
