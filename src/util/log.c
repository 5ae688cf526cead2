#include "log.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static enum log_level max_level = LOG_LEVEL_INFO;
static const char *program = "cprof";
static bool syslog_prefix;

void log_set_max_level(enum log_level level) {
        max_level = level;
}

enum log_level log_get_max_level(void) {
        return max_level;
}

void log_set_program(const char *name) {
        program = name;
}

void log_set_syslog_prefix(bool on) {
        syslog_prefix = on;
}

int log_full(enum log_level level, int err, const char *fmt, ...) {
        if (err > 0)
                err = -err;
        if (level > max_level)
                return err;

        va_list ap;
        va_start(ap, fmt);
        /* one line, even when another thread logs too (cprofd's pusher) */
        flockfile(stderr);
        if (syslog_prefix) {
                /* the journal reads "<N>" as the priority: err, warning,
                 * notice, info, debug */
                static const char prio[] = { '3', '4', '5', '6', '7' };
                fprintf(stderr, "<%c>", prio[level]);
        }
        fprintf(stderr, "%s: ", program);
        if (level == LOG_LEVEL_WARNING)
                fputs("warning: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        funlockfile(stderr);
        va_end(ap);
        return err;
}
