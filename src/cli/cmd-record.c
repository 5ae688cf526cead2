/* cprof record: attach to processes (or launch one), sample their stacks
 * and write a profile. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "input.h"
#include "cprof/output.h"
#include "cprof/record.h"
#include "cprof/target.h"
#include "util/atomic-file.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/vec.h"

DEFINE_FREEP(struct recorder, recorder_free)

#define DEFAULT_FREQUENCY 99
#define MAX_FREQUENCY 100000
/* how long a stopped command may take to exit after SIGTERM */
#define STOP_GRACE_S 2
#define DEFAULT_MAX_DEPTH 4096
/* what --stack-copy takes for the perf backend: 64K is cut to the
 * kernel's SAMPLE_PERF_MAX_COPY */
#define PERF_COPY_LIMIT (64u * 1024u)
#define MAX_MAX_DEPTH 65536

static VEC(pid_t) arg_pids;
static uint64_t arg_duration_ns;
static unsigned arg_frequency = DEFAULT_FREQUENCY;
static const char *arg_output = "out.folded";
static enum output_format arg_output_format;
static bool arg_threads, arg_user = true, arg_kernel = true, arg_quiet;
static int arg_children = -1; /* -1: default (on for a launched command) */
static enum sampler_backend arg_backend = SAMPLER_BACKEND_AUTO;
static char **arg_command;
static VEC(const char *) arg_debug_dirs;
static bool arg_no_demangle, arg_lines, arg_addrs;
static enum unwind_mode arg_unwind = UNWIND_AUTO;
static unsigned arg_max_depth = DEFAULT_MAX_DEPTH;
static uint32_t arg_stack_copy = SAMPLE_COPY_DEFAULT;
static bool arg_unwind_check, arg_user_unwind, arg_max_depth_set;

static volatile sig_atomic_t stop_requested;

static void help(void) {
        printf("Usage: cprof record [OPTIONS] --pid PID...\n"
               "       cprof record [OPTIONS] [--] COMMAND [ARGS...]\n\n"
               "Sample the stacks of running processes, or of a command launched here, and\n"
               "write a profile (folded stacks by default, for 'cprof flamegraph').\n\n"
               "Options:\n"
               "  -p, --pid PID          profile process PID, all its threads, also those created\n"
               "                         later (repeat, or PID,PID,...)\n"
               "  -d, --duration SEC     stop after SEC seconds (default: until Ctrl-C or every\n"
               "                         target exited)\n"
               "  -F, --frequency HZ     samples per second per busy thread (default %d, max %d)\n"
               "  -o, --output FILE      where to write (default out.folded); the extension picks\n"
               "                         the format: .folded .svg .pb.gz .speedscope.json .json\n"
               "      --format FMT       folded, svg, pprof, speedscope or json, whatever the name\n"
               "      --threads          add a thread frame (name-tid) under the process frame\n"
               "      --user-only        user-space frames only\n"
               "      --kernel-only      kernel frames only (suffixed _[k])\n"
               "      --children         follow processes the targets fork or exec (default for a\n"
               "                         launched command)\n"
               "      --no-children      do not\n"
               "      --backend NAME     bpf (default; falls back to perf) or perf\n"
               "      --lines            name frames 'function (file.c:42)' (needs DWARF)\n"
               "      --no-demangle      keep C++ and Rust names mangled\n"
               "      --addrs            keep the address of frames without a name\n"
               "                         ([libfoo.so+0x1a2b] instead of [libfoo.so])\n"
               "      --debug-dir DIR    also look for debug files in DIR (repeat; after\n"
               "                         /usr/lib/debug; DEBUGINFOD_URLS enables debuginfod)\n"
               "      --unwind MODE      how user stacks are unwound: auto (default: DWARF CFI\n"
               "                         from .eh_frame, frame pointers where there is none, as\n"
               "                         in JIT code), dwarf (CFI only) or fp (frame pointers\n"
               "                         only, walked by the kernel, at most %d frames)\n"
               "      --max-depth N      user frames kept per stack with CFI (default %d); a\n"
               "                         stack cut short starts with a [truncated] frame\n"
               "      --stack-copy SIZE  user stack copied per sample for CFI unwinding, e.g.\n"
               "                         64K (default %uK for bpf, %uK for perf, which allows\n"
               "                         at most %uK); copies end at the stack's end\n"
               "      --user-unwind      bpf: unwind in cprof from stack copies rather than in\n"
               "                         the kernel (the perf backend always does)\n"
               "      --unwind-check     unwind every sample with libdwfl too and report how\n"
               "                         many agree (slow: for checking the unwinder)\n"
               "  -q, --quiet            no progress line, no summary\n"
               "  -v, --verbose          debug messages\n"
               "  -h, --help             show this help\n"
               "      --version          show the version\n\n"
               "A launched command runs in a process group of its own, which has the terminal\n"
               "while it runs (Ctrl-C goes to the command). When the recording ends, what\n"
               "still runs in that group gets SIGTERM, then SIGKILL %d s later.\n\n"
               "Exit status:\n"
               "  N    the launched command exited by itself with status N (128+S when signal S\n"
               "       killed it), and the profile was written\n"
               "  0    the profile was written, and cprof ended the command (--duration, Ctrl-C\n"
               "       or SIGTERM to cprof) or the targets were given by --pid\n"
               "  1    cprof failed: nothing was written (also when no samples were taken\n"
               "       although the targets used CPU), whatever the command's status\n"
               "  2    usage error\n\n"
               "Examples:\n"
               "  cprof record --pid 1234 --duration 30        # writes out.folded\n"
               "  cprof flamegraph out.folded > graph.svg\n"
               "  cprof record -F 999 -o graph.svg -- ./myprog --flag\n",
               DEFAULT_FREQUENCY, MAX_FREQUENCY, SAMPLE_MAX_STACK, DEFAULT_MAX_DEPTH,
               SAMPLE_BPF_DEFAULT_COPY / 1024, SAMPLE_PERF_DEFAULT_COPY / 1024, PERF_COPY_LIMIT / 1024,
               STOP_GRACE_S);
}

enum {
        OPT_FORMAT = 0x100,
        OPT_THREADS,
        OPT_USER_ONLY,
        OPT_KERNEL_ONLY,
        OPT_CHILDREN,
        OPT_NO_CHILDREN,
        OPT_BACKEND,
        OPT_LINES,
        OPT_NO_DEMANGLE,
        OPT_ADDRS,
        OPT_DEBUG_DIR,
        OPT_UNWIND,
        OPT_MAX_DEPTH,
        OPT_STACK_COPY,
        OPT_UNWIND_CHECK,
        OPT_USER_UNWIND,
        OPT_VERSION,
};

static int add_pids(const char *list) {
        _cleanup_free_ char *copy = strdup(list);
        char *save = NULL;

        if (!copy)
                return log_error_errno(ENOMEM, "out of memory");
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                pid_t pid;
                if (parse_pid(tok, &pid) < 0)
                        return log_error("invalid PID '%s'", tok), -EINVAL;
                if (vec_push(&arg_pids, pid) < 0)
                        return log_error_errno(ENOMEM, "out of memory");
        }
        if (!arg_pids.n)
                return log_error("invalid PID '%s'", list), -EINVAL;
        return 0;
}

/* <0 error, 0 done (--help), >0 go on */
static int parse_argv(int argc, char **argv) {
        static const struct option options[] = {
                { "pid", required_argument, NULL, 'p' },
                { "duration", required_argument, NULL, 'd' },
                { "frequency", required_argument, NULL, 'F' },
                { "output", required_argument, NULL, 'o' },
                { "format", required_argument, NULL, OPT_FORMAT },
                { "threads", no_argument, NULL, OPT_THREADS },
                { "user-only", no_argument, NULL, OPT_USER_ONLY },
                { "kernel-only", no_argument, NULL, OPT_KERNEL_ONLY },
                { "children", no_argument, NULL, OPT_CHILDREN },
                { "no-children", no_argument, NULL, OPT_NO_CHILDREN },
                { "backend", required_argument, NULL, OPT_BACKEND },
                { "lines", no_argument, NULL, OPT_LINES },
                { "no-demangle", no_argument, NULL, OPT_NO_DEMANGLE },
                { "addrs", no_argument, NULL, OPT_ADDRS },
                { "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
                { "unwind", required_argument, NULL, OPT_UNWIND },
                { "max-depth", required_argument, NULL, OPT_MAX_DEPTH },
                { "stack-copy", required_argument, NULL, OPT_STACK_COPY },
                { "unwind-check", no_argument, NULL, OPT_UNWIND_CHECK },
                { "user-unwind", no_argument, NULL, OPT_USER_UNWIND },
                { "quiet", no_argument, NULL, 'q' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {}
        };
        const char *format = NULL;
        int c, r;

        opterr = 0;
        /* '+': stop at the first non-option, the command to launch */
        while ((c = getopt_long(argc, argv, "+:p:d:F:o:qvh", options, NULL)) >= 0) {
                switch (c) {
                case 'p':
                        r = add_pids(optarg);
                        if (r < 0)
                                return r;
                        break;
                case 'd':
                        r = parse_seconds(optarg, &arg_duration_ns);
                        if (r == -ERANGE)
                                return log_error("invalid duration '%s': expected more than 0 and at most %d "
                                                 "seconds", optarg, PARSE_SECONDS_MAX), -EINVAL;
                        if (r < 0)
                                return log_error("invalid duration '%s': expected seconds, like 30 or 2.5",
                                                 optarg), -EINVAL;
                        break;
                case 'F':
                        if (parse_uint(optarg, 1, MAX_FREQUENCY, &arg_frequency) < 0)
                                return log_error("invalid frequency '%s': expected 1 to %d Hz", optarg,
                                                 MAX_FREQUENCY), -EINVAL;
                        break;
                case 'o':
                        if (!*optarg)
                                return log_error("invalid output file ''"), -EINVAL;
                        arg_output = optarg;
                        break;
                case OPT_FORMAT:
                        format = optarg;
                        break;
                case OPT_THREADS:
                        arg_threads = true;
                        break;
                case OPT_USER_ONLY:
                        arg_user = true;
                        arg_kernel = false;
                        break;
                case OPT_KERNEL_ONLY:
                        arg_kernel = true;
                        arg_user = false;
                        break;
                case OPT_CHILDREN:
                        arg_children = 1;
                        break;
                case OPT_NO_CHILDREN:
                        arg_children = 0;
                        break;
                case OPT_BACKEND:
                        if (strcmp(optarg, "bpf") == 0)
                                arg_backend = SAMPLER_BACKEND_BPF;
                        else if (strcmp(optarg, "perf") == 0)
                                arg_backend = SAMPLER_BACKEND_PERF;
                        else
                                return log_error("invalid backend '%s': expected bpf or perf", optarg), -EINVAL;
                        break;
                case OPT_LINES:
                        arg_lines = true;
                        break;
                case OPT_NO_DEMANGLE:
                        arg_no_demangle = true;
                        break;
                case OPT_ADDRS:
                        arg_addrs = true;
                        break;
                case OPT_DEBUG_DIR: {
                        struct stat st;
                        if (stat(optarg, &st) < 0)
                                return log_error("invalid debug directory '%s': %s", optarg,
                                                 strerror(errno)), -EINVAL;
                        if (!S_ISDIR(st.st_mode))
                                return log_error("invalid debug directory '%s': not a directory", optarg),
                                       -EINVAL;
                        if (vec_push(&arg_debug_dirs, optarg) < 0)
                                return log_error_errno(ENOMEM, "out of memory");
                        break;
                }
                case OPT_UNWIND:
                        if (strcmp(optarg, "auto") == 0)
                                arg_unwind = UNWIND_AUTO;
                        else if (strcmp(optarg, "dwarf") == 0)
                                arg_unwind = UNWIND_DWARF;
                        else if (strcmp(optarg, "fp") == 0)
                                arg_unwind = UNWIND_FP;
                        else
                                return log_error("invalid unwind mode '%s': expected auto, dwarf or fp", optarg),
                                       -EINVAL;
                        break;
                case OPT_MAX_DEPTH:
                        if (parse_uint(optarg, 1, MAX_MAX_DEPTH, &arg_max_depth) < 0)
                                return log_error("invalid depth '%s': expected 1 to %d frames", optarg,
                                                 MAX_MAX_DEPTH), -EINVAL;
                        arg_max_depth_set = true;
                        break;
                case OPT_STACK_COPY: {
                        uint64_t sz;
                        if (parse_size(optarg, &sz) < 0 || sz < 4096 || sz > SAMPLE_BPF_MAX_COPY)
                                return log_error("invalid stack copy size '%s': expected 4K to %uK", optarg,
                                                 SAMPLE_BPF_MAX_COPY / 1024), -EINVAL;
                        arg_stack_copy = (uint32_t) sz;
                        break;
                }
                case OPT_UNWIND_CHECK:
                        arg_unwind_check = true;
                        break;
                case OPT_USER_UNWIND:
                        arg_user_unwind = true;
                        break;
                case 'q':
                        arg_quiet = true;
                        break;
                case 'v':
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        break;
                case 'h':
                        help();
                        return 0;
                case OPT_VERSION:
                        printf("cprof %s\n", CPROF_VERSION);
                        return 0;
                default:
                        return cli_bad_option(c, argv, "record", options);
                }
        }
        if (optind < argc)
                arg_command = argv + optind;
        if (!arg_command && !arg_pids.n)
                return log_error("nothing to profile: give --pid PID or a command (see 'cprof record --help')"), -EINVAL;
        if (arg_children < 0)
                arg_children = arg_command != NULL;
        if (arg_backend == SAMPLER_BACKEND_PERF && arg_stack_copy != SAMPLE_COPY_DEFAULT &&
            arg_stack_copy > PERF_COPY_LIMIT)
                return log_error("invalid stack copy size for the perf backend: the kernel copies at most "
                                 "64K (%u bytes)", SAMPLE_PERF_MAX_COPY), -EINVAL;
        if (arg_unwind == UNWIND_FP &&
            (arg_unwind_check || arg_user_unwind || arg_max_depth_set || arg_stack_copy != SAMPLE_COPY_DEFAULT))
                return log_error("--%s needs --unwind auto or dwarf",
                                 arg_unwind_check ? "unwind-check" : arg_user_unwind ? "user-unwind" :
                                 arg_max_depth_set ? "max-depth" : "stack-copy"),
                       -EINVAL;
        /* a usage error like any other bad option, found before any work */
        if (format) {
                if (output_format_from_name(format, &arg_output_format) < 0)
                        return log_error("invalid format '%s': expected folded, svg, pprof, speedscope or json",
                                         format), -EINVAL;
        } else if (output_format_from_path(arg_output, &arg_output_format) < 0) {
                return log_error("cannot tell the format of '%s' from its extension (use --format)", arg_output),
                       -EINVAL;
        }
        return 1;
}

static void on_signal(int sig) {
        (void) sig;
        stop_requested = 1;
}

static bool show_progress(void) {
        return !arg_quiet && isatty(STDERR_FILENO);
}

/* The CPU time the targets used while recording, which the samples taken
 * are checked against: a target busy for T s of CPU should give about
 * T x F samples at F Hz. For --pid targets it is read from /proc at the
 * start and at every progress tick, so a target that exits keeps the last
 * value read; children count once their parent reaped them. */
struct pid_cpu {
        uint64_t start_ns, last_ns;
        bool known;
};
static struct pid_cpu *pid_cpu; /* one per arg_pids */

static void pid_cpu_update(bool start) {
        for (size_t i = 0; pid_cpu && i < arg_pids.n; i++) {
                uint64_t ns;
                if ((!start && !pid_cpu[i].known) ||
                    target_cpu_time_ns(arg_pids.v[i], arg_children > 0, &ns) < 0)
                        continue;
                if (start)
                        pid_cpu[i] = (struct pid_cpu) { .start_ns = ns, .last_ns = ns, .known = true };
                else if (ns > pid_cpu[i].last_ns)
                        pid_cpu[i].last_ns = ns;
        }
}

static uint64_t pid_cpu_used_ns(void) {
        uint64_t sum = 0;
        for (size_t i = 0; pid_cpu && i < arg_pids.n; i++)
                if (pid_cpu[i].known)
                        sum += pid_cpu[i].last_ns - pid_cpu[i].start_ns;
        return sum;
}

/* Seconds since this process started (exec), for -v: on overloaded CPUs
 * most of a recording's overrun is before main() can raise the priority,
 * and the user should see which part it was. */
static double since_start_s(void) {
        uint64_t start = target_start_ticks(getpid());
        long hz = sysconf(_SC_CLK_TCK);
        struct timespec ts;
        if (start == 0 || hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
                return 0;
        return (double) ts.tv_sec + ts.tv_nsec / 1e9 - (double) start / (double) hz;
}

static double priority_raised_s = -1; /* since_start_s() once at real-time priority */

static double expected_samples(uint64_t cpu_ns) {
        return (double) cpu_ns / 1e9 * arg_frequency;
}

/* Called about four times a second by the recorder. */
static void progress(void *userdata, const struct record_progress *p) {
        struct launched *cmd = userdata;
        if (cmd)
                (void) target_launch_follow_stop(cmd);
        pid_cpu_update(false);
        if (!show_progress())
                return;
        fprintf(stderr, "\r\033[K[cprof] %.1fs  %" PRIu64 " samples  %" PRIu64 " lost  %zu process%s",
                (double) p->elapsed_ns / 1e9, p->stats.samples, p->stats.lost, p->processes,
                p->processes == 1 ? "" : "es");
}

static int read_sysctl_int(const char *path, int *ret) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        return f && fscanf(f, "%d", ret) == 1 ? 0 : -EIO;
}

/* Says which privilege is missing, in one line. */
static int log_open_error(int r) {
        if (r == -EPERM || r == -EACCES) {
                int paranoid = 2;
                (void) read_sysctl_int("/proc/sys/kernel/perf_event_paranoid", &paranoid);
                return log_error("cannot open perf events: %s (run as root, or grant CAP_PERFMON and "
                                 "CAP_BPF, or lower kernel.perf_event_paranoid, now %d, to -1)",
                                 strerror(-r), paranoid), r;
        }
        if (r == -ENOENT || r == -EOPNOTSUPP)
                return log_error("cannot sample: the kernel has no cpu-clock perf event (%s)", strerror(-r)), r;
        if (r == -EMFILE)
                return log_error("cannot open perf events: too many open files (raise 'ulimit -n')"), r;
        return log_error("cannot start sampling: %s", strerror(-r)), r;
}

/* Below this many samples expected, a shortfall is noise, not news. */
#define MIN_EXPECTED_TO_COMPARE 20
/* A recording with no sample from targets that used this much CPU (in
 * expected samples) failed: a profile of nothing would mislead. */
#define MIN_EXPECTED_FOR_NONE 5

/* Which modules lacked names, and what fixes that. */
static void print_nosym(struct recorder *rec, const struct record_progress *p) {
        const char *mods[4];
        size_t n = recorder_nosym_modules(rec, mods, NULL, ELEMENTSOF(mods));
        char list[512] = "";
        size_t len = 0;

        for (size_t i = 0; i < n && i < ELEMENTSOF(mods); i++) {
                const char *b = strrchr(mods[i], '/');
                int k = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", b ? b + 1 : mods[i]);
                if (k < 0 || (size_t) k >= sizeof(list) - len)
                        break;
                len += (size_t) k;
        }
        if (n > ELEMENTSOF(mods) && len + 16 < sizeof(list))
                snprintf(list + len, sizeof(list) - len, " and %zu more", n - ELEMENTSOF(mods));
        log_notice("%" PRIu64 " of %" PRIu64 " samples (%.1f%%) have frames without symbols, in: %s; install "
                   "their debug files (Debian: libc6-dbg, the *-dbgsym packages), pass --debug-dir, or set "
                   "DEBUGINFOD_URLS", p->nosym_samples, p->stats.samples,
                   p->stats.samples ? 100.0 * (double) p->nosym_samples / (double) p->stats.samples : 0.0, list);
}

/* How far the user stacks unwound here got, and why the others ended. */
static void print_unwind(const struct record_progress *p) {
        uint64_t complete = p->unwind_ends[UNWIND_END_COMPLETE];
        char why[256] = "";
        size_t len = 0;

        for (int e = 0; e < _UNWIND_END_MAX; e++) {
                if (e == UNWIND_END_COMPLETE || !p->unwind_ends[e])
                        continue;
                int k = snprintf(why + len, sizeof(why) - len, "%s%" PRIu64 " %s", len ? ", " : "; cut short: ",
                                 p->unwind_ends[e], unwind_end_name((enum unwind_end) e));
                if (k < 0 || (size_t) k >= sizeof(why) - len)
                        break;
                len += (size_t) k;
        }
        log_info("%" PRIu64 " of %" PRIu64 " user stacks complete (%.1f%%)%s", complete, p->unwound_samples,
                 100.0 * (double) complete / (double) p->unwound_samples, why);
        if (p->unwind_copy_limited)
                log_notice("%" PRIu64 " stacks were deeper than the stack copy: raise --stack-copy%s",
                           p->unwind_copy_limited,
                           arg_backend == SAMPLER_BACKEND_PERF ? " (the perf backend copies at most 64K)" : "");
        if (p->kernel_modules_not_loaded)
                log_notice("the unwind tables of %" PRIu64 " modules did not fit in the kernel's (%.0f MiB): their "
                           "samples were sent as stack copies and unwound in cprof", p->kernel_modules_not_loaded,
                           (double) p->kernel_table_bytes / (1 << 20));
        if (arg_unwind_check)
                log_info("unwind check: %" PRIu64 " of %" PRIu64 " samples agree with libdwfl (%.1f%%)",
                         p->check_agree, p->check_samples,
                         p->check_samples ? 100.0 * (double) p->check_agree / (double) p->check_samples : 0.0);
        log_debug("unwind: tables for %" PRIu64 " modules, %" PRIu64 " rows, %.1f MiB, built in %.1f ms",
                  p->unwinder.tables, p->unwinder.table_rows, (double) p->unwinder.table_bytes / (1 << 20),
                  (double) p->unwinder.table_build_ns / 1e6);
        if (p->kernel_modules)
                log_debug("unwind: %" PRIu64 " stacks unwound in the kernel, %" PRIu64 " sent as copies; "
                          "tables of %" PRIu64 " modules in the kernel (%" PRIu64 " did not fit), %.1f MiB",
                          p->stats.kernel_unwound, p->stats.copy_fallback, p->kernel_modules,
                          p->kernel_modules_not_loaded, (double) p->kernel_table_bytes / (1 << 20));
        log_debug("unwind: %.2f MiB of stack copies from the kernel", (double) p->stats.copied_bytes / (1 << 20));
}

static void print_summary(struct recorder *rec, const char *output, size_t stacks, uint64_t cpu_ns) {
        struct record_progress p;
        recorder_get_progress(rec, &p);

        fprintf(stderr, "cprof: %" PRIu64 " samples", p.stats.samples);
        if (p.stats.lost) {
                fprintf(stderr, ", %" PRIu64 " lost (", p.stats.lost);
                const char *sep = "";
                if (p.stats.lost_ring)
                        fprintf(stderr, "%s%" PRIu64 " ring buffer overflow", sep, p.stats.lost_ring), sep = ", ";
                if (p.stats.lost_stackmap)
                        fprintf(stderr, "%s%" PRIu64 " stack store full", sep, p.stats.lost_stackmap), sep = ", ";
                if (p.stats.lost_counts)
                        fprintf(stderr, "%s%" PRIu64 " count map full", sep, p.stats.lost_counts);
                fputc(')', stderr);
        } else {
                fputs(", 0 lost", stderr);
        }
        fprintf(stderr, " in %.1f s (%s backend, %s), %zu unique stacks, written to '%s'\n",
                (double) p.elapsed_ns / 1e9, recorder_backend_name(rec), recorder_end_reason(rec),
                stacks, output);
        if (p.stats.lost_events)
                log_warning("%" PRIu64 " process events (fork, exec) were lost: some children may be "
                            "missing or misnamed", p.stats.lost_events);
        if (p.stats.children_missed)
                log_warning("%" PRIu64 " child processes were not followed (more than 16384 at once)",
                            p.stats.children_missed);
        if (p.jit_unnamed_samples)
                log_notice("%" PRIu64 " of %" PRIu64 " samples have frames in JIT code without a perf map "
                           "(/tmp/perf-PID.map: node --perf-basic-prof, python -X perf), shown as [unknown]",
                           p.jit_unnamed_samples, p.stats.samples);
        if (p.unnamed_samples)
                log_notice("%" PRIu64 " of %" PRIu64 " samples have frames outside every mapping known for "
                           "their process, shown as [unknown]", p.unnamed_samples, p.stats.samples);
        if (p.nosym_samples)
                print_nosym(rec, &p);
        if (p.unwound_samples)
                print_unwind(&p);
        /* our CPU time is a lower bound (children count once reaped), so
         * only a shortfall says something */
        double expected = expected_samples(cpu_ns);
        if (expected >= MIN_EXPECTED_TO_COMPARE && (double) p.stats.samples < expected * 0.9)
                log_warning("%" PRIu64 " samples, but the targets used %.1f s of CPU: about %.0f expected at "
                            "%u Hz (%.0f%% missing)", p.stats.samples, (double) cpu_ns / 1e9, expected,
                            arg_frequency, 100.0 * (1.0 - (double) p.stats.samples / expected));
        if (p.stats.samples == 0)
                log_warning("no samples were taken: the targets did not run on a CPU while recording");
}

/* One line when sampling starts: what, how fast, how long, how to stop. */
static void print_start(struct recorder *rec) {
        char what[128], dur[64] = "";

        if (arg_command)
                snprintf(what, sizeof(what), "'%s'", arg_command[0]);
        else if (arg_pids.n == 1)
                snprintf(what, sizeof(what), "PID %d", arg_pids.v[0]);
        else
                snprintf(what, sizeof(what), "%zu processes", arg_pids.n);
        if (arg_duration_ns)
                snprintf(dur, sizeof(dur), " for %.3g s", (double) arg_duration_ns / 1e9);
        fprintf(stderr, "cprof: recording %s%s at %u Hz (%s backend)%s, Ctrl-C to stop\n", what,
                arg_children > 0 ? " and its children" : "", arg_frequency, recorder_backend_name(rec), dur);
}

static bool command_stopped_by_us;

static void report_exit(const struct launched *l) {
        if (!l->reaped)
                return;
        if (command_stopped_by_us)
                fprintf(stderr, "cprof: '%s' was still running when the recording ended, and was stopped\n",
                        arg_command[0]);
        else if (WIFEXITED(l->status))
                fprintf(stderr, "cprof: '%s' exited with status %d\n", arg_command[0], WEXITSTATUS(l->status));
        else if (WIFSIGNALED(l->status))
                fprintf(stderr, "cprof: '%s' was killed by signal %d (%s)\n", arg_command[0],
                        WTERMSIG(l->status), strsignal(WTERMSIG(l->status)));
}

/* Our exit status once the profile is written, as time(1) and strace do:
 * the status of a command that ended by itself, so that a failing
 * command fails the job that profiles it. */
static int exit_status(const struct launched *l) {
        if (!arg_command || command_stopped_by_us || !l->reaped)
                return 0;
        if (WIFEXITED(l->status))
                return WEXITSTATUS(l->status);
        if (WIFSIGNALED(l->status))
                return 128 + WTERMSIG(l->status);
        return 0;
}

/* The CPU time of the launched command while recording (it started with
 * the recording), read before it is stopped, so that what it does after
 * SIGTERM does not count; once it exited by itself, what wait4() says. */
static uint64_t command_cpu_before_stop(const struct launched *l) {
        uint64_t ns = 0;
        (void) target_cpu_time_ns(l->pid, arg_children > 0, &ns);
        return ns;
}

static uint64_t command_cpu_after_stop(const struct launched *l, uint64_t before_ns) {
        if (command_stopped_by_us || !l->reaped || arg_children <= 0)
                return before_ns;
        const struct rusage *ru = &l->rusage;
        uint64_t ns = ((uint64_t) ru->ru_utime.tv_sec + (uint64_t) ru->ru_stime.tv_sec) * 1000000000ULL +
                      ((uint64_t) ru->ru_utime.tv_usec + (uint64_t) ru->ru_stime.tv_usec) * 1000ULL;
        return MAX(ns, before_ns);
}

static int interrupted(void) {
        return log_error("interrupted before sampling started: nothing was written"), -EINTR;
}

static int run(void) {
        _cleanup_(recorder_freep) struct recorder *rec = NULL;
        struct atomic_file out = {};
        struct launched cmd = { .pid = -1, .go_fd = -1, .err_fd = -1, .tty_fd = -1 };
        const char *fallback = NULL;
        int r;

        /* first of all: loading the sampler takes tens of milliseconds, and
         * a Ctrl-C then must end us with a word, not kill us silently */
        struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        sigaction(SIGQUIT, &sa, NULL);

        for (size_t i = 0; i < arg_pids.n; i++) {
                /* a thread id (from top -H, say) means its whole process */
                pid_t tgid;
                if (target_tgid(arg_pids.v[i], &tgid) >= 0 && tgid != arg_pids.v[i]) {
                        if (!arg_quiet)
                                log_notice("%d is a thread of process %d: profiling the process",
                                           arg_pids.v[i], tgid);
                        arg_pids.v[i] = tgid;
                }
                r = target_check_pid(arg_pids.v[i]);
                if (r == -ESRCH)
                        return log_error("no process with PID %d", arg_pids.v[i]), r;
                /* a zombie has a PID and nothing to sample */
                if (!target_alive(arg_pids.v[i]))
                        return log_error("process %d has exited", arg_pids.v[i]), -ESRCH;
                if (r < 0)
                        return log_error("not allowed to profile PID %d: %s (run as root or with "
                                         "CAP_SYS_PTRACE)", arg_pids.v[i], strerror(-r)), r;
        }
        if (arg_pids.n) {
                pid_cpu = calloc(arg_pids.n, sizeof(*pid_cpu));
                if (!pid_cpu)
                        return log_error_errno(ENOMEM, "out of memory");
        }

        /* Fail on an unwritable output before sampling, not after; the
         * probe is removed at once, so a recording killed with SIGKILL
         * leaves no temporary file behind. A FIFO or /dev/stdout is not
         * probed: opening it is not free of effects (a reader sees EOF). */
        if (strcmp(arg_output, "-") != 0 && !atomic_file_in_place(arg_output)) {
                r = atomic_file_open(arg_output, &out);
                if (r < 0)
                        return log_error("cannot write '%s': %s", arg_output, atomic_file_strerror(r)), r;
                atomic_file_abort(&out);
        }

        struct record_options o = {
                .sampler = {
                        .backend = arg_backend,
                        .frequency_hz = arg_frequency,
                        .user_stacks = arg_user,
                        .kernel_stacks = arg_kernel,
                        .children = arg_children > 0,
                        .stack_copy = arg_unwind == UNWIND_FP ? 0 : arg_stack_copy,
                        .kernel_unwind = arg_unwind != UNWIND_FP && !arg_user_unwind,
                        .dwarf_only = arg_unwind == UNWIND_DWARF,
                        .check_walk = arg_unwind_check,
                        .max_depth = arg_max_depth,
                },
                .unwind = { .mode = arg_unwind, .max_depth = arg_max_depth },
                .unwind_check = arg_unwind_check,
                .threads = arg_threads,
                .duration_ns = arg_duration_ns,
                .realtime = true,
                .symbolize = {
                        .debug_dirs = arg_debug_dirs.v,
                        .n_debug_dirs = arg_debug_dirs.n,
                        .no_demangle = arg_no_demangle,
                        .lines = arg_lines,
                },
                .addrs = arg_addrs,
        };
        r = recorder_new(&o, &rec, &fallback);
        if (stop_requested)
                return interrupted();
        if (r < 0)
                return log_open_error(r);
        if (fallback && !arg_quiet)
                log_notice("%s: using the perf backend", fallback);
        if (recorder_notice(rec) && !arg_quiet)
                log_notice("%s", recorder_notice(rec));

        if (arg_command) {
                r = target_launch(arg_command, &cmd);
                if (r < 0)
                        return log_error("cannot start '%s': %s", arg_command[0], strerror(-r)), r;
                r = recorder_add_launched(rec, cmd.pid);
                if (r < 0) {
                        target_launch_abort(&cmd);
                        return log_open_error(r);
                }
        }
        for (size_t i = 0; i < arg_pids.n; i++) {
                r = recorder_add_pid(rec, arg_pids.v[i], true);
                if (r == -ESRCH) {
                        target_launch_abort(&cmd);
                        return log_error("no process with PID %d", arg_pids.v[i]), r;
                }
                if (r < 0) {
                        target_launch_abort(&cmd);
                        return log_open_error(r);
                }
        }

        r = stop_requested ? 0 : recorder_start(rec);
        /* the command has not run yet: a stop asked for by now leaves nothing */
        if (stop_requested) {
                target_launch_abort(&cmd);
                return interrupted();
        }
        if (r < 0) {
                target_launch_abort(&cmd);
                return log_open_error(r);
        }
        pid_cpu_update(true);
        if (arg_command) {
                r = target_launch_go(&cmd);
                if (r < 0)
                        return log_error("cannot run '%s': %s", arg_command[0], strerror(-r)), r;
        }

        if (!arg_quiet)
                print_start(rec);
        r = recorder_run(rec, &stop_requested, progress, arg_command ? &cmd : NULL);
        if (show_progress())
                fputs("\r\033[K", stderr);
        pid_cpu_update(false);
        uint64_t cpu_ns = pid_cpu_used_ns();
        if (arg_command) {
                uint64_t before = command_cpu_before_stop(&cmd);
                command_stopped_by_us = target_launch_stop(&cmd, STOP_GRACE_S * 1000000000ULL) > 0;
                cpu_ns += command_cpu_after_stop(&cmd, before);
        }
        if (r < 0)
                return log_error("sampling failed: %s", strerror(-r)), r;

        struct record_progress rp;
        recorder_get_progress(rec, &rp);
        double expected = expected_samples(cpu_ns);
        log_debug("the targets used %.2f s of CPU while recording: about %.0f samples expected at %u Hz, "
                  "%" PRIu64 " taken", (double) cpu_ns / 1e9, expected, arg_frequency, rp.stats.samples);
        /* a target that ran and left no trace is a failure to sample, not
         * an empty profile */
        if (rp.stats.samples == 0 && expected >= MIN_EXPECTED_FOR_NONE)
                return log_error("no samples were taken although the targets used %.1f s of CPU (about %.0f "
                                 "expected at %u Hz, %s backend): nothing was written",
                                 (double) cpu_ns / 1e9, expected, arg_frequency, recorder_backend_name(rec)),
                       -ENODATA;

        struct profile *p = recorder_profile(rec);
        if (!p)
                return log_error("cannot write '%s': %s", arg_output, strerror(ENOMEM)), -ENOMEM;
        if (strcmp(arg_output, "-") != 0) {
                r = atomic_file_open(arg_output, &out);
                if (r < 0)
                        return log_error("cannot write '%s': %s", arg_output, atomic_file_strerror(r)), r;
        }
        r = output_write(p, arg_output_format, out.f ? out.f : stdout);
        if (r >= 0 && out.f)
                r = atomic_file_commit(&out);
        else
                atomic_file_abort(&out);
        if (r < 0)
                return log_error("cannot write '%s': %s", arg_output, atomic_file_strerror(r)), r;
        if (priority_raised_s >= 0)
                log_debug("record: wrote '%s' %.2f s after cprof started (at real-time priority from %.2f s)",
                          arg_output, since_start_s(), priority_raised_s);
        else
                log_debug("record: wrote '%s' %.2f s after cprof started (at normal priority)", arg_output,
                          since_start_s());

        if (!arg_quiet) {
                print_summary(rec, arg_output, profile_stack_count(p), cpu_ns);
                if (arg_command)
                        report_exit(&cmd);
        }
        return exit_status(&cmd);
}

int cmd_record(int argc, char **argv) {
        /* before anything else: see record_raise_priority() */
        if (record_raise_priority())
                priority_raised_s = since_start_s();
        int r = parse_argv(argc, argv);
        if (r > 0) {
                r = run();
                r = r < 0 ? 1 : r;
        } else
                r = r < 0 ? 2 : 0; /* a usage error, or --help */
        vec_free(&arg_pids);
        free(pid_cpu);
        pid_cpu = NULL;
        return r;
}
