/* The control socket's request format: one JSON object per connection,
 * parsed strictly (unknown keys, wrong types and values out of range are
 * refused with a one-line reason), so that what reaches the daemon's
 * handlers is always in range. Pure functions with no state: the parser
 * is fuzzed (tests/fuzz/fuzz-control-request.c).
 *
 *   {"command": "status"}
 *   {"command": "snapshot", "target": "api", "last_s": 300}
 *   {"command": "record", "pid": 1234, "duration_s": 30, "frequency_hz": 99}
 *
 * Durations are seconds (an integer or a decimal: 2.5) and become
 * nanoseconds here. The server's replies are built by its handlers;
 * control_request_to_json() is the client's side, `cprof ctl`. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Longer requests are refused before any parsing (so are bigger
 * buffers given to control_request_parse). */
#define CONTROL_REQUEST_MAX (64u * 1024u)

#define CONTROL_TARGET_NAME_MAX 64
#define CONTROL_DEFAULT_LAST_NS (300ULL * 1000000000ULL)
#define CONTROL_MIN_LAST_NS (1ULL * 1000000000ULL)
#define CONTROL_MAX_LAST_NS (30ULL * 24 * 3600 * 1000000000ULL)
#define CONTROL_DEFAULT_DURATION_NS (30ULL * 1000000000ULL)
#define CONTROL_MIN_DURATION_NS (1ULL * 1000000000ULL)
#define CONTROL_MAX_DURATION_NS (3600ULL * 1000000000ULL)
#define CONTROL_DEFAULT_FREQUENCY_HZ 99
#define CONTROL_MAX_FREQUENCY_HZ 10000

enum control_command { CONTROL_STATUS, CONTROL_SNAPSHOT, CONTROL_RECORD };

struct control_request {
        enum control_command command;
        char target[256];        /* SNAPSHOT: [A-Za-z0-9._-]{1,64}, not "." or ".." */
        uint64_t last_ns;        /* SNAPSHOT, default 5 min, 1 s .. 30 d */
        pid_t pid;               /* RECORD, > 0 */
        uint64_t duration_ns;    /* RECORD, default 30 s, 1 s .. 1 h */
        unsigned frequency_hz;   /* RECORD, default 99, 1 .. 10000 */
};

/* Parses one request (len bytes, need not be NUL-terminated; trailing
 * whitespace such as the ending newline is allowed). On a bad request
 * returns -EINVAL (-EMSGSIZE when longer than CONTROL_REQUEST_MAX, -ENOMEM)
 * and writes the reason into err: "unknown command 'X'", "'pid' must be a
 * positive integer", "malformed JSON: ... (line 1, column 5)". *ret is
 * written only on success. */
int control_request_parse(const char *buf, size_t len, struct control_request *ret,
                          char *err, size_t errsize);

/* The JSON object for req (fields of its command only, durations in
 * seconds), which control_request_parse() reads back to the same request.
 * 0 or -ENOMEM; *ret is a new reference. */
int control_request_to_json(const struct control_request *req, json_t **ret);

/* "status", "snapshot", "record". */
const char *control_command_name(enum control_command c);

/* Whether name is a target name a request may carry: 1..64 bytes of
 * [A-Za-z0-9._-], neither "." nor "..", so it is a safe directory name. */
bool control_target_name_valid(const char *name, size_t len);
