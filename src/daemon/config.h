/* cprofd's configuration: /etc/cprof/cprofd.conf, parsed into one
 * struct cprofd_config that the daemon owns until it frees it (a reload
 * parses a new one first and frees the old one only once the new one is in
 * force, so a bad file never leaves the daemon half-configured). Every
 * string and array in it belongs to the config and lives exactly as long.
 *
 * The syntax is what Debian 12's libinih (version 55) accepts, measured on
 * that build, with the few places where it would silently misread a file
 * closed by cprofd's own checks:
 *
 *  - A file is lines of "[section]", "key = value", comments and blank
 *    lines. Lines end in "\n" or "\r\n". A UTF-8 byte-order mark at the
 *    very start is skipped.
 *  - A line is at most 200 bytes, its line break included: 199 bytes of
 *    text before "\n", 198 before "\r\n" (a last line without a line break
 *    counts as if it had one). A longer line is an error, "line longer than
 *    200 bytes". (libinih reads lines into a 200-byte buffer and cuts a
 *    longer one without a word; the rest is then parsed as a line of its
 *    own, so the tail of a long comment could become a key.)
 *  - A NUL byte or any other control character except tab is an error.
 *  - Comments: a line whose first non-blank character is ';' or '#'. After
 *    a value, ';' starts a comment only when a space or tab comes before it
 *    ("frequency = 19 ; Hz"); "a;b" is the value "a;b", and '#' is never a
 *    comment after a value ("19 # Hz" is the value "19 # Hz", an error).
 *  - "key = value": the first '=' or ':' on the line splits it ("key: value"
 *    works too, as in Python's configparser). Blanks around key and value
 *    are dropped; the rest is taken literally: no quotes, no escapes. An
 *    empty value ("pyroscope-url =") is allowed where a key says so. A line
 *    without '=' or ':' is an error: there are no keys without values.
 *  - Indentation is ignored. libinih would take an indented line as the
 *    continuation of the previous value (so an indented "pid = 5" after
 *    "comm = x" would silently become a second comm "pid = 5"); cprofd
 *    strips leading blanks first, so every line stands on its own and no
 *    value spans lines.
 *  - Keys, values and section names are case-sensitive, except booleans
 *    (yes/no, true/false, on/off, 1/0, in any case).
 *  - Sections: [cprofd] (may appear more than once) and [target NAME].
 *    Blanks inside the brackets around the words are dropped; after ']'
 *    only a comment may follow. libinih cuts section names at 49 bytes;
 *    cprofd reads the header itself, so a target name of up to 64 bytes
 *    is kept whole. Keys before the first section are an error.
 *  - Unknown sections and keys are errors that name them, with "did you
 *    mean 'X'?" for a near miss. A key given twice in [cprofd] is an error,
 *    except debug-dir, which adds a directory each time; in a target
 *    section every key may repeat and any one match is enough.
 *  - Only the first error is reported, as "NAME:LINE: reason".
 *
 * [cprofd] keys, with their defaults:
 *   frequency = 19          samples per second per CPU, 1..100000
 *   window = 60             length of one output file: 1s..1d; a number is
 *                           seconds, or give a suffix: s, m, h, d ("90s", "2m")
 *   output-dir = /var/lib/cprof           absolute path
 *   socket = /run/cprof/cprofd.sock       absolute path of the control socket
 *   max-age = 7d            delete windows older than this (s m h d); 0, none
 *                           or off: no age limit
 *   max-size = 2G           keep all windows within this many bytes (K M G T,
 *                           powers of 1024); 0, none or off: no size limit
 *   outputs = svg           besides .folded.gz: svg, pprof, both ("svg, pprof",
 *                           commas or blanks), or none
 *   mode = cpu              the only mode
 *   pyroscope-url =         http:// or https:// base URL of a Pyroscope server;
 *                           empty: no push
 *   pyroscope-app =         the application name pushed ([A-Za-z0-9._-], at most
 *                           100 bytes); empty: each target's name
 *   pyroscope-format = folded               folded or pprof
 *   pyroscope-queue = 64    windows kept while the server is down, 1..100000
 *   group = cprof           members may use the control socket
 *   ondemand-max = 2        `cprof ctl record` recordings at a time, 0..64
 *                           (0: none)
 *   ondemand-max-duration = 300             longest on-demand recording: 1s..1d
 *   unwind = auto           auto, dwarf or fp, as `cprof record --unwind`
 *   kernel-stacks = yes     record kernel frames too
 *   debug-dir =             a directory of debug files (absolute); repeatable;
 *                           none by default
 *
 * [target NAME] keys (NAME: 1 to 64 of A-Z a-z 0-9 . _ -, not starting with
 * '.', unique: it names the target's output directory):
 *   comm = NAME             the process name, 1..15 bytes as in /proc/PID/comm
 *   pid = N                 one process
 *   pidfile = PATH          the pid in this file (absolute), read at every scan
 *   exe = PATH              processes running this executable (absolute)
 *   cgroup = PATH           the cgroup v2 path ("/system.slice/x.service") and
 *                           below; stored without a trailing '/' or "//";
 *                           "." and ".." are refused
 *   systemd-unit = UNIT     the processes of a unit: .service, .socket, .mount,
 *                           .swap, .slice or .scope (the units that have a cgroup)
 *   all = yes               every process
 * A target section needs at least one of them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cprof/target.h"

/* The longest line, its line break included. */
#define CPROFD_CONFIG_MAX_LINE 200
/* cprofd_config_load() refuses larger files (a config is a few KiB; this
 * keeps a path such as /dev/zero from filling memory). */
#define CPROFD_CONFIG_MAX_FILE (1u << 20)

enum cprofd_output { CPROFD_OUTPUT_SVG = 1 << 0, CPROFD_OUTPUT_PPROF = 1 << 1 };
enum cprofd_push_format { CPROFD_PUSH_FOLDED, CPROFD_PUSH_PPROF };

struct cprofd_target_config {
        char *name;                     /* the section's NAME: [target NAME]; a safe dir name */
        struct target_match *matches;   /* match values owned by the config */
        size_t n_matches;
};

struct cprofd_config {
        unsigned frequency_hz;          /* frequency = 19 */
        uint64_t window_ns;             /* window = 60 (seconds; also "90s", "2m") */
        char *output_dir;               /* output-dir = /var/lib/cprof */
        char *socket_path;              /* socket = /run/cprof/cprofd.sock */
        uint64_t max_age_ns;            /* max-age = 7d  (s, m, h, d suffixes) */
        uint64_t max_size;              /* max-size = 2G (bytes; K M G T suffixes, util/parse.h parse_size) */
        unsigned outputs;               /* outputs = svg  (list: svg, pprof; or "none"); folded.gz always */
        /* mode = cpu: the only mode; anything else is the error "unknown mode 'X'" */
        char *pyroscope_url;            /* pyroscope-url = ; NULL when empty */
        char *pyroscope_app;            /* pyroscope-app = ; NULL: each target's name */
        enum cprofd_push_format pyroscope_format; /* pyroscope-format = folded | pprof */
        unsigned pyroscope_queue;       /* pyroscope-queue = 64: windows kept while the server is down */
        char *group;                    /* group = cprof: members may use the control socket */
        unsigned max_ondemand;          /* ondemand-max = 2: `ctl record` recordings at a time */
        unsigned ondemand_max_duration_s; /* ondemand-max-duration = 300 */
        char *unwind;                   /* unwind = auto | dwarf | fp (as cprof record --unwind) */
        bool kernel_stacks;             /* kernel-stacks = yes */
        char **debug_dirs;              /* debug-dir = DIR, repeatable */
        size_t n_debug_dirs;
        struct cprofd_target_config *targets;
        size_t n_targets;
};

/* Parses text (len bytes; need not be NUL-terminated). On error returns -EINVAL (or -ENOMEM)
 * and writes "NAME:LINE: reason" into err. name is used in messages only. */
int cprofd_config_parse(const char *name, const char *text, size_t len,
                        struct cprofd_config **ret, char *err, size_t errsize);
/* Reads path (-errno from reading: err says "cannot read 'PATH': ..."), then parses. */
int cprofd_config_load(const char *path, struct cprofd_config **ret, char *err, size_t errsize);
struct cprofd_config *cprofd_config_free(struct cprofd_config *c);
/* The built-in defaults (what an empty file gives). */
int cprofd_config_defaults(struct cprofd_config **ret);
