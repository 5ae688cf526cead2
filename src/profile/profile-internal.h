/* The profile's representation, shared by the files of src/profile/ only;
 * everything else goes through include/cprof/profile.h. */
#pragma once

#include "cprof/profile.h"
#include "util/strpool.h"
#include "util/hash.h"
#include "util/vec.h"

struct profile {
        struct strpool strings;
        VEC(struct profile_frame) frames;
        struct idindex frame_index;
        VEC(uint32_t) stack_frames; /* all stacks' frame ids back to back */
        VEC(struct profile_stack) stacks;
        struct idindex stack_index;
        VEC(struct profile_sample) samples;
        unsigned n_values;
        bool aggregate_samples; /* one sample per stack (index = stack id) */
        enum profile_unit unit;
        double total[PROFILE_MAX_VALUES];
        uint64_t duration_ns;
        uint32_t frequency_hz;
        struct u64map build_ids; /* module string id -> build-id string id */
};

/* How much of an input's start the readers look at to refuse binary data
 * (a NUL byte) and perf.data files before reading any line. */
#define FOLDED_SNIFF_BYTES 65536

/* The verdict of both readers on an input's first FOLDED_SNIFF_BYTES:
 * a perf.data file (-EMEDIUMTYPE) or binary data (-EBADMSG, a NUL byte)
 * is refused before any line is read, so an endless binary stream ends
 * there; reason says what to do, naming what was `expected`. */
int input_sniff(const char *name, const char *data, size_t len, const char *expected,
                char *reason, size_t reason_size);

/* Whether a line is a `perf script` event header (folded_read.c uses it
 * to recognise perf script text given as folded stacks). */
bool perf_script_is_header(const char *s, size_t n);
/* Whether a line is a valid folded stack line (perf_script_read.c uses it
 * to recognise folded stacks given as perf script text). */
bool folded_line_is_valid(const char *s, size_t n);
