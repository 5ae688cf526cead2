#include "input.h"

#include <errno.h>
#include <stdint.h>
#include <getopt.h>
#include <string.h>

#include "util/log.h"

#define MAX_REPORTED_LINES 10

struct read_state {
        unsigned bad_lines;
};

static void on_bad_line(void *userdata, const char *file, unsigned line, const char *reason) {
        struct read_state *st = userdata;
        if (line == 0) /* whole-file errors are reported by the caller */
                return;
        if (++st->bad_lines <= MAX_REPORTED_LINES)
                log_warning("%s:%u: %s, skipping", file, line, reason);
}

int cli_read_folded(struct profile *p, char *const *paths, size_t n) {
        struct read_state st = {};
        struct folded_read_options o = { .on_bad_line = on_bad_line, .userdata = &st };
        int total = 0;

        for (size_t i = 0; i < n; i++) {
                int r = folded_read_file(p, paths[i], &o);
                const char *name = strcmp(paths[i], "-") == 0 ? "<stdin>" : paths[i];
                if (r == -EBADMSG)
                        return log_error("'%s' is not a folded stacks file (it holds binary data)", name), r;
                if (r < 0)
                        return log_error("cannot read '%s': %s", name, strerror(-r)), r;
                total = total > INT32_MAX - r ? INT32_MAX : total + r;
        }
        if (st.bad_lines > MAX_REPORTED_LINES)
                log_warning("%u more bad lines skipped", st.bad_lines - MAX_REPORTED_LINES);
        if (total == 0) {
                if (n == 1)
                        return log_error("no stacks found in '%s'",
                                         strcmp(paths[0], "-") == 0 ? "<stdin>" : paths[0]), -ENODATA;
                return log_error("no stacks found in the input"), -ENODATA;
        }
        return total;
}

int cli_option_error(int c, char **argv, const char *command) {
        const char *arg = optind > 0 ? argv[optind - 1] : "?";
        if (c == ':')
                log_error("option '%s' needs a value (see 'cprof %s --help')", arg, command);
        else
                log_error("unknown option '%s' (see 'cprof %s --help')", arg, command);
        return -EINVAL;
}
