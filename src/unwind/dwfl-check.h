/* The reference unwinder: libdwfl unwinds the same captured sample (user
 * registers and a stack copy) that cprof's own tables unwind, so the two
 * can be compared sample by sample (`cprof record --unwind-check`, and the
 * unwinding tests). libdwfl is slow and reads CFI afresh for every
 * module, which is why it is the reference and not what runs.
 *
 * It never stops or reads the target: memory comes only from the copy,
 * registers only from the sample, and modules from /proc/PID/maps read
 * once per process (and again when a pc falls outside every module, for
 * dlopen), as perf's unwind-libdw does over its recorded MMAP events. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One struct dwfl_check serves one thread at a time: the process's Dwfl
 * reads the sample being unwound through a pointer in its entry. */
struct dwfl_check;

int dwfl_check_new(struct dwfl_check **ret);
struct dwfl_check *dwfl_check_free(struct dwfl_check *c);

struct dwfl_check_sample {
        pid_t pid, tid;
        uint64_t ip, sp, bp;   /* user registers at the sample */
        const void *stack;     /* copy of user memory from stack_addr up */
        uint64_t stack_addr;
        size_t stack_len;
};

/* Unwinds one sample: fills pcs[] (room for max) with the frames' pcs,
 * leaf first, as process addresses: pcs[0] is ip, every later one a
 * return address as found on the stack (not minus one). Returns the
 * number of frames (>= 1; 0 when max is 0), or -ESRCH when the process's
 * maps could not be read (it is gone), -ENOENT when libdwfl could not
 * tell the machine (no vDSO and no module of the process opened),
 * -ENOMEM. The walk ends at the first frame libdwfl cannot unwind (no
 * CFI and no frame-pointer step, the end of the copy) or where CFI says
 * the return address is undefined (_start, clone3).
 *
 * A process's modules are read at its first sample, and again (at most
 * every 100 ms) when a pc falls outside all of them. */
int dwfl_check_unwind(struct dwfl_check *c, const struct dwfl_check_sample *s, uint64_t *pcs,
                      size_t max);
/* Drops what is known of a process (it exited, or exec'd). */
void dwfl_check_forget(struct dwfl_check *c, pid_t pid);
