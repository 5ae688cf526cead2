/* The profile model: the one in-memory form that every input produces and
 * every output reads.
 *
 * A profile owns an interned string table, a frame table, a stack table
 * and a list of samples:
 *  - string id 0 is always the empty string; strings may hold any byte but
 *    NUL (frame names from outside are not guaranteed to be UTF-8);
 *  - a frame is (name, module, file, line, kind), interned: equal frames
 *    have equal ids;
 *  - a stack is a list of frame ids, root first, interned, with its
 *    aggregated values;
 *  - a sample is one addition of values to a stack, kept in the order the
 *    input gave it (flame charts and timelines need that order).
 * A profile carries one value per sample, or two for a differential
 * (before, after). Values are doubles because folded files may carry
 * fractional counts; the unit says what a value counts.
 *
 * Pointers returned by the accessors are borrowed: valid until the next
 * call that adds to the profile, or until profile_free(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROFILE_MAX_VALUES 2

enum frame_kind {
        FRAME_USER,        /* native code in user space */
        FRAME_KERNEL,      /* folded suffix _[k] */
        FRAME_INLINE,      /* inlined into its caller, folded suffix _[i] */
        FRAME_JIT,         /* JIT-compiled code (perf maps), suffix _[j] */
        FRAME_INTERPRETED, /* an interpreter's frame (Python, ...) */
        FRAME_PROCESS,     /* the process name at the root of a stack */
        FRAME_THREAD,      /* "name-tid" under the process frame */
        _FRAME_KIND_MAX,
};

enum profile_unit {
        PROFILE_UNIT_SAMPLES,     /* on-CPU samples */
        PROFILE_UNIT_NANOSECONDS, /* time, e.g. off-CPU or wall clock */
};

struct profile_frame {
        uint32_t name;   /* string id */
        uint32_t module; /* string id, 0 if unknown */
        uint32_t file;   /* string id of the source file, 0 if unknown */
        uint32_t line;   /* source line, 0 if unknown */
        enum frame_kind kind;
        /* An unnamed frame's address in its module (the ELF virtual
         * address, what symbols use), else 0. pprof writes it as the
         * Location's address, so that a later symbolizer (pprof, Parca,
         * Pyroscope, with the Mapping's build-id) can name it. Every other
         * writer shows frames by name: frames that differ only here are
         * one frame there ("[libc.so.6]"). */
        uint64_t addr;
};

struct profile_stack {
        uint32_t offset; /* first frame id in the stack frame array */
        uint32_t depth;  /* number of frames, root first */
        double value[PROFILE_MAX_VALUES];
};

struct profile_sample {
        uint32_t stack;
        uint32_t tid;     /* 0 if unknown */
        uint64_t time_ns; /* 0 if unknown */
        double value[PROFILE_MAX_VALUES];
};

struct profile;

int profile_new(struct profile **ret);
struct profile *profile_free(struct profile *p);

/* Interning. -ENOMEM on failure. */
int profile_intern_string(struct profile *p, const char *s, size_t len, uint32_t *ret_id);
int profile_intern_frame(struct profile *p, const struct profile_frame *f, uint32_t *ret_id);
/* Shorthand: intern a frame with just a name and a kind. */
int profile_intern_named_frame(struct profile *p, const char *name, size_t len,
                               enum frame_kind kind, uint32_t *ret_id);

/* Adds values (profile_value_count() of them) to the stack made of `depth`
 * frame ids, root first, and records one sample in input order (see
 * profile_set_keep_samples; the same stack right after itself extends the
 * last sample). depth must be at least 1. -ERANGE, with nothing changed,
 * when a value is not finite or a total would overflow. */
int profile_add_sample(struct profile *p, const uint32_t *frames, size_t depth,
                       const double *values, uint32_t tid, uint64_t time_ns);

const char *profile_string(const struct profile *p, uint32_t id);
size_t profile_string_length(const struct profile *p, uint32_t id);
size_t profile_string_count(const struct profile *p);

size_t profile_frame_count(const struct profile *p);
const struct profile_frame *profile_frame(const struct profile *p, uint32_t id);

size_t profile_stack_count(const struct profile *p);
const struct profile_stack *profile_stack(const struct profile *p, uint32_t id);
/* The frame ids of a stack, root first; *ret_depth gets their number. */
const uint32_t *profile_stack_frames(const struct profile *p, uint32_t id, size_t *ret_depth);

size_t profile_sample_count(const struct profile *p);
const struct profile_sample *profile_sample(const struct profile *p, size_t i);

/* Whether every added sample is kept in order (the default: flame charts
 * and timelines need it), or only one per stack, in first-seen order, with
 * the stack's values. A long recording sets false: its memory then grows
 * with unique stacks, not with time. Set it before adding samples. */
void profile_set_keep_samples(struct profile *p, bool keep);

/* 1 normally; 2 for a differential (value 0 before, value 1 after). Set it
 * before adding samples. */
unsigned profile_value_count(const struct profile *p);
void profile_set_value_count(struct profile *p, unsigned n);
double profile_total(const struct profile *p, unsigned value);

enum profile_unit profile_unit(const struct profile *p);
void profile_set_unit(struct profile *p, enum profile_unit unit);

/* Recording metadata, 0 when unknown (e.g. read from a folded file). */
uint64_t profile_duration_ns(const struct profile *p);
void profile_set_duration_ns(struct profile *p, uint64_t ns);
uint32_t profile_frequency_hz(const struct profile *p);
void profile_set_frequency_hz(struct profile *p, uint32_t hz);

/* Modules' GNU build-ids (lowercase hex), by the string id of the module
 * path frames carry: pprof's Mapping.build_id, how symbol servers find a
 * module's debug file. 0 when unknown. */
int profile_set_build_id(struct profile *p, uint32_t module, const char *hex);
uint32_t profile_build_id(const struct profile *p, uint32_t module);

/* The folded suffix of a kind ("_[k]", ...), "" for kinds without one. */
const char *frame_kind_suffix(enum frame_kind kind);
/* The reverse: the kind a folded name's suffix gives, with *len shortened
 * by the suffix; FRAME_USER (len unchanged) for a name without one. */
enum frame_kind frame_kind_from_suffix(const char *name, size_t *len);

/* Reading folded stacks ("frame;frame;...;leaf COUNT", root first), the
 * format flamegraph.pl reads. Lines it would reject are reported through
 * on_bad_line (line numbers from 1) and skipped. A line with two counts
 * ("stack BEFORE AFTER") is accepted when the profile has two values. A
 * frame ending in _[k], _[i] or _[j] gets that kind, suffix removed. */
struct folded_read_options {
        void (*on_bad_line)(void *userdata, const char *file, unsigned line, const char *reason);
        void *userdata;
};

/* Input is read as a stream, line by line, so memory grows with unique
 * stacks, not with the input (an endless pipe of valid lines is read for
 * as long as it lasts). The first frame of a stack is the process name
 * (FRAME_PROCESS) and a second frame "comm-TID" is a thread frame
 * (FRAME_THREAD), as `cprof record` writes them; frames with a kind
 * suffix keep their kind. Counts that would make a total overflow are bad
 * lines.
 *
 * The whole input is refused, with the reason reported through
 * on_bad_line as line 0 (one line, whatever the input's size), when it
 * is binary: -EBADMSG for a NUL byte (looked for in the first 64 KiB
 * before any line is read, then in every line); -EMEDIUMTYPE for another
 * format: a perf.data file, JSON (such as `cprof report --json`), or
 * `perf script` text, each with what to run instead. Bad lines before
 * the first good one are held back until the format is clear.
 *
 * `name` is used in messages only. Returns the number of lines accepted
 * (saturating at INT32_MAX), or -EBADMSG, -EMEDIUMTYPE, -ENOMEM. */
int folded_read_buffer(struct profile *p, const char *name, const char *data, size_t len,
                       const struct folded_read_options *o);
/* Reads fd (not closed) to its end. Also -errno for read errors. */
int folded_read_fd(struct profile *p, const char *name, int fd, const struct folded_read_options *o);
/* path "-" reads standard input. Returns lines accepted or -errno. */
int folded_read_file(struct profile *p, const char *path, const struct folded_read_options *o);

/* Reading `perf script` text (src/profile/perf_script_read.c), the way
 * FlameGraph's stackcollapse-perf.pl (master, with period weights) reads
 * it: one event header line, then stack lines "ADDR SYMBOL+0xOFF (MODULE)",
 * leaf first, then a blank line. Each sample adds its period (1 when the
 * header has none) to the stack "comm;root;...;leaf". Frames carry exactly
 * the text the script prints: frames annotated _[k], _[i], _[j] get that
 * kind, the root is a FRAME_PROCESS frame, and equal text means equal
 * stacks, so folded_write() prints what the script prints. Lines the script
 * would warn about are reported through on_bad_line and skipped. */
struct perf_script_options {
        bool include_pid;     /* --pid: "comm-PID" ("comm-?" without a pid) */
        bool include_tid;     /* --tid: "comm-PID/TID" */
        bool annotate_kernel; /* --kernel: _[k] on kernel frames */
        bool annotate_jit;    /* --jit: _[j] on /tmp/perf-PID.map frames */
        bool include_addrs;   /* --addrs: "[module <addr>]" for unknown symbols */
        bool srcline;         /* --srcline: input from perf script -F+srcline */
        const char *event_filter; /* NULL or "": the first event seen */
        void (*on_bad_line)(void *userdata, const char *file, unsigned line, const char *reason);
        /* called once, when samples of a second event type start being
         * dropped because the first one decided */
        void (*on_event_filtered)(void *userdata, const char *kept, const char *dropped);
        void *userdata;
};

/* Lines end in LF or CRLF. A period too large for a count (over 1e300)
 * is a bad line and drops its sample. The input is refused, with the
 * reason reported through on_bad_line as line 0, when it is binary
 * (-EBADMSG: a NUL byte, looked for in the first 64 KiB before reading,
 * then in every line), a perf.data file (-EMEDIUMTYPE), or text that gave
 * no sample (-ENODATA: folded stacks, JSON, an event filter that matched
 * nothing, no event headers). Empty input gives no samples and no error.
 * Returns the number of samples added, or one of those, -ENOMEM. */
int perf_script_read_buffer(struct profile *p, const char *name, const char *data, size_t len,
                            const struct perf_script_options *o);
/* Reads the files one after the other as one stream, like Perl's <>
 * (a file that does not end in a newline ends its last line). Path "-"
 * is standard input. Files are read as streams, never whole; messages
 * name each file with its own line numbers. On failure *reterr_path (if
 * not NULL) names the file that failed (NULL when the failure is the
 * whole input's, e.g. -ENODATA for several files). Returns samples added
 * or -errno. */
int perf_script_read_files(struct profile *p, char *const *paths, size_t n,
                           const struct perf_script_options *o, const char **reterr_path);

/* A differential profile (two values: before, after) from two one-value
 * profiles, as difffolded.pl makes it: every stack of either, with 0 where
 * it is missing. normalize scales the first profile to the second's total
 * (counts truncated to integers, as difffolded.pl -n). The inputs are not
 * changed. -EINVAL when an input already has two values, -ENOMEM. */
int profile_diff(const struct profile *before, const struct profile *after, bool normalize,
                 struct profile **ret);
