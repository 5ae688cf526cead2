/* Logging for cprof.
 *
 * Library stages (target .. output) log at debug level only and return
 * -errno; the CLI and the daemon log once, where an error ends. Messages
 * are lowercase with no final period. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
        LOG_LEVEL_ERROR,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_NOTICE,
        LOG_LEVEL_INFO,
        LOG_LEVEL_DEBUG,
};

void log_set_max_level(enum log_level level);
enum log_level log_get_max_level(void);
void log_set_program(const char *name);
/* Each line starts with its syslog priority ("<6>"), which the journal
 * reads from a service's stderr (cprofd under systemd). */
void log_set_syslog_prefix(bool on);

/* Returns -abs(err) when err != 0 so callers can "return log_error(...)". */
int log_full(enum log_level level, int err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define log_error(...) log_full(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warning(...) log_full(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_notice(...) log_full(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_info(...) log_full(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_full(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_error_errno(err, ...) log_full(LOG_LEVEL_ERROR, (err), __VA_ARGS__)
#define log_debug_errno(err, ...) log_full(LOG_LEVEL_DEBUG, (err), __VA_ARGS__)
