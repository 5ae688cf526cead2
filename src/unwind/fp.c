/* Frame-pointer stacks come from the kernel already walked: the first
 * address of each part is where the task was interrupted (exact), every
 * later one a return address. */
#include "cprof/unwind.h"

/* A kernel that gave up walking may leave zero or "user space marker"
 * entries; they name no code. */
static bool is_code_address(uint64_t addr) {
        return addr != 0 && addr < UINT64_MAX - 4095;
}

size_t unwind_sample(const struct raw_sample *s, bool user, bool kernel, struct unwound_frame *out) {
        size_t n = 0;

        if (kernel)
                for (uint32_t i = 0; i < s->n_kstack && n < UNWIND_MAX_FRAMES; i++)
                        if (is_code_address(s->kstack[i]))
                                out[n++] = (struct unwound_frame) {
                                        .addr = s->kstack[i], .kernel = true, .exact = i == 0,
                                };
        if (user)
                for (uint32_t i = 0; i < s->n_ustack && n < UNWIND_MAX_FRAMES; i++)
                        if (is_code_address(s->ustack[i]))
                                out[n++] = (struct unwound_frame) {
                                        .addr = s->ustack[i], .kernel = false, .exact = i == 0,
                                };
        return n;
}
