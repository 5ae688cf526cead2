#include "daemon/record-options.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

int daemon_record_options(const char *unwind, bool kernel_stacks, unsigned frequency_hz,
                          const char *const *debug_dirs, size_t n_debug_dirs, struct record_options *ret) {
        enum unwind_mode mode;

        if (!unwind || strcmp(unwind, "auto") == 0)
                mode = UNWIND_AUTO;
        else if (strcmp(unwind, "dwarf") == 0)
                mode = UNWIND_DWARF;
        else if (strcmp(unwind, "fp") == 0)
                mode = UNWIND_FP;
        else
                return -EINVAL;
        *ret = (struct record_options) {
                .sampler = {
                        .backend = SAMPLER_BACKEND_AUTO,
                        .frequency_hz = frequency_hz,
                        .user_stacks = true,
                        .kernel_stacks = kernel_stacks,
                        .children = true,
                        .stack_copy = mode == UNWIND_FP ? 0 : SAMPLE_COPY_DEFAULT,
                        .kernel_unwind = mode != UNWIND_FP,
                        .dwarf_only = mode == UNWIND_DWARF,
                },
                .unwind = { .mode = mode },
                .symbolize = { .debug_dirs = debug_dirs, .n_debug_dirs = n_debug_dirs },
        };
        return 0;
}

int daemon_recorder_new(const struct record_options *o, struct recorder **ret) {
        const char *fallback = NULL;
        int k = recorder_new(o, ret, &fallback);
        if (k < 0)
                return k;
        if (fallback)
                log_notice("%s: using the perf backend", fallback);
        if (recorder_notice(*ret))
                log_notice("%s", recorder_notice(*ret));
        k = recorder_start(*ret);
        if (k < 0)
                *ret = recorder_free(*ret);
        return k;
}
