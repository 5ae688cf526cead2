#include "input.h"

#include <errno.h>
#include <stdint.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/closest.h"

#include "util/log.h"

#define MAX_REPORTED_LINES 10

struct read_state {
        unsigned bad_lines;
        char reason[600]; /* the reader's whole-input refusal */
};

static void on_bad_line(void *userdata, const char *file, unsigned line, const char *reason) {
        struct read_state *st = userdata;
        (void) file;
        if (line == 0) { /* the whole input is refused: the caller says it once */
                snprintf(st->reason, sizeof(st->reason), "%s", reason);
                return;
        }
        if (++st->bad_lines <= MAX_REPORTED_LINES)
                log_warning("%s:%u: %s, skipping", file, line, reason);
}

static const char *display_name(const char *path) {
        return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

static bool all_zero(const struct profile *p) {
        for (unsigned v = 0; v < profile_value_count(p); v++)
                if (profile_total(p, v) != 0)
                        return false;
        return true;
}

int cli_read_folded(struct profile *p, char *const *paths, size_t n) {
        struct read_state st = {};
        struct folded_read_options o = { .on_bad_line = on_bad_line, .userdata = &st };
        int total = 0;

        for (size_t i = 0; i < n; i++) {
                const char *name = display_name(paths[i]);
                st.reason[0] = '\0';
                int r = folded_read_file(p, paths[i], &o);
                if ((r == -EBADMSG || r == -EMEDIUMTYPE) && st.reason[0])
                        return log_error("%s: %s", name, st.reason), r;
                if (r < 0)
                        return log_error("cannot read '%s': %s", name, strerror(-r)), r;
                total = total > INT32_MAX - r ? INT32_MAX : total + r;
        }
        if (st.bad_lines > MAX_REPORTED_LINES)
                log_warning("%u more bad lines skipped", st.bad_lines - MAX_REPORTED_LINES);
        if (total == 0) {
                if (n == 1)
                        return log_error("no stacks found in '%s'", display_name(paths[0])), -ENODATA;
                return log_error("no stacks found in the input"), -ENODATA;
        }
        /* one rule for every command: nothing to show is an error, before
         * any output file is made */
        if (all_zero(p)) {
                if (n == 1)
                        return log_error("no samples in '%s': every count is zero", display_name(paths[0])), -ENODATA;
                return log_error("no samples in the input: every count is zero"), -ENODATA;
        }
        return total;
}

const char *cli_closest_name(const char *word, size_t len, const char *const *names, size_t n) {
        return closest_name(word, len, names, n);
}

int cli_bad_option(int c, char **argv, const char *command, const struct option *options) {
        const char *arg = optind > 0 ? argv[optind - 1] : "?";
        bool long_form = arg[0] == '-' && arg[1] == '-';

        if (c == ':') {
                log_error("option '%s' needs a value (see 'cprof %s --help')", arg, command);
                return -EINVAL;
        }
        /* an unknown letter in a cluster (-qz): getopt names it in optopt,
         * and argv[optind - 1] may be a different word */
        if (optopt > 0 && optopt < 0x80 && !long_form && !strchr(arg, '=')) {
                log_error("unknown option '-%c' (see 'cprof %s --help')", optopt, command);
                return -EINVAL;
        }

        const char *name = arg + strspn(arg, "-");
        size_t len = strcspn(name, "=");
        const char *names[128];
        size_t n = 0, prefixed = 0;
        for (size_t i = 0; options && options[i].name && n < ELEMENTSOF(names); i++) {
                const struct option *o = &options[i];
                if (strlen(o->name) == len && strncmp(o->name, name, len) == 0 && name[len] == '=' &&
                    o->has_arg == no_argument) {
                        log_error("option '--%s' takes no value (see 'cprof %s --help')", o->name, command);
                        return -EINVAL;
                }
                if (len > 0 && strncmp(o->name, name, len) == 0)
                        prefixed++;
                names[n++] = o->name;
        }
        if (prefixed > 1) {
                log_error("ambiguous option '%.*s': %zu options start with it (see 'cprof %s --help')",
                          (int) (name - arg + len), arg, prefixed, command);
                return -EINVAL;
        }
        const char *hint = len > 0 ? cli_closest_name(name, len, names, n) : NULL;
        if (hint)
                log_error("unknown option '%s', did you mean '--%s'? (see 'cprof %s --help')", arg, hint,
                          command);
        else
                log_error("unknown option '%s' (see 'cprof %s --help')", arg, command);
        return -EINVAL;
}

int cli_option_error(int c, char **argv, const char *command) {
        return cli_bad_option(c, argv, command, NULL);
}
