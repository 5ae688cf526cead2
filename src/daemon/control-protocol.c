/* The control socket's requests: strict parsing and the client's encoding. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "daemon/control-protocol.h"
#include "util/cleanup.h"

const char *control_command_name(enum control_command c) {
        switch (c) {
        case CONTROL_STATUS:
                return "status";
        case CONTROL_SNAPSHOT:
                return "snapshot";
        case CONTROL_RECORD:
                return "record";
        }
        return "unknown";
}

bool control_target_name_valid(const char *name, size_t len) {
        if (len < 1 || len > CONTROL_TARGET_NAME_MAX)
                return false;
        /* the name becomes a directory under the output dir */
        if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return false;
        }
        return true;
}

/* Quotes what the client sent inside an error message: printable ASCII
 * only and at most 64 bytes, so the reply stays one readable line. */
static void quote_input(const char *s, size_t len, char *buf, size_t size) {
        size_t o = 0, max = MIN(len, 64);
        for (size_t i = 0; i < max && o + 1 < size; i++) {
                unsigned char c = (unsigned char) s[i];
                buf[o++] = c >= 0x20 && c < 0x7f ? (char) c : '?';
        }
        if (len > max && o + 3 < size) {
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        buf[size ? MIN(o, size - 1) : 0] = '\0';
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errsize, const char *fmt, ...) {
        va_list ap;
        if (errsize) {
                va_start(ap, fmt);
                vsnprintf(err, errsize, fmt, ap);
                va_end(ap);
                /* jansson's messages quote the input near the error: no
                 * control characters may reach the one-line reply */
                for (char *p = err; *p; p++)
                        if ((unsigned char) *p < 0x20 || (unsigned char) *p == 0x7f)
                                *p = '?';
        }
        return -EINVAL;
}

/* Seconds as a JSON integer or decimal, in [min_ns, max_ns]. */
static int get_seconds(json_t *v, uint64_t min_ns, uint64_t max_ns, uint64_t *ret_ns) {
        double s;
        if (json_is_integer(v))
                s = (double) json_integer_value(v);
        else if (json_is_real(v))
                s = json_real_value(v);
        else
                return -EINVAL;
        if (!isfinite(s) || s * 1e9 < (double) min_ns || s * 1e9 > (double) max_ns)
                return -ERANGE;
        uint64_t ns = (uint64_t) llround(s * 1e9);
        *ret_ns = MIN(MAX(ns, min_ns), max_ns);
        return 0;
}

static bool key_allowed(enum control_command c, const char *key) {
        if (strcmp(key, "command") == 0)
                return true;
        switch (c) {
        case CONTROL_STATUS:
                return false;
        case CONTROL_SNAPSHOT:
                return strcmp(key, "target") == 0 || strcmp(key, "last_s") == 0;
        case CONTROL_RECORD:
                return strcmp(key, "pid") == 0 || strcmp(key, "duration_s") == 0 ||
                       strcmp(key, "frequency_hz") == 0;
        }
        return false;
}

int control_request_parse(const char *buf, size_t len, struct control_request *ret,
                          char *err, size_t errsize) {
        char q[80];

        if (len > CONTROL_REQUEST_MAX) {
                fail(err, errsize, "request too large: %zu bytes (at most %u)", len, CONTROL_REQUEST_MAX);
                return -EMSGSIZE;
        }
        size_t n = len;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
                n--;
        if (n == 0)
                return fail(err, errsize, "empty request: expected a JSON object such as {\"command\": \"status\"}");

        json_error_t jerr;
        json_auto_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                if (json_error_code(&jerr) == json_error_out_of_memory)
                        return -ENOMEM;
                return fail(err, errsize, "malformed JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                            jerr.column);
        }
        if (!json_is_object(root))
                return fail(err, errsize, "a request must be a JSON object");

        struct control_request req = {
                .last_ns = CONTROL_DEFAULT_LAST_NS,
                .duration_ns = CONTROL_DEFAULT_DURATION_NS,
                .frequency_hz = CONTROL_DEFAULT_FREQUENCY_HZ,
        };
        json_t *cmd = json_object_get(root, "command");
        if (!cmd)
                return fail(err, errsize, "missing 'command' (status, snapshot or record)");
        if (!json_is_string(cmd))
                return fail(err, errsize, "'command' must be a string (status, snapshot or record)");
        const char *name = json_string_value(cmd);
        size_t name_len = json_string_length(cmd);
        if (name_len == 6 && memcmp(name, "status", 6) == 0)
                req.command = CONTROL_STATUS;
        else if (name_len == 8 && memcmp(name, "snapshot", 8) == 0)
                req.command = CONTROL_SNAPSHOT;
        else if (name_len == 6 && memcmp(name, "record", 6) == 0)
                req.command = CONTROL_RECORD;
        else {
                quote_input(name, name_len, q, sizeof(q));
                return fail(err, errsize, "unknown command '%s' (expected status, snapshot or record)", q);
        }

        /* jansson keys are NUL-terminated: a key with a NUL inside cannot
         * be known, and is quoted up to the NUL */
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v)
                if (!key_allowed(req.command, key)) {
                        quote_input(key, strlen(key), q, sizeof(q));
                        return fail(err, errsize, "unknown key '%s' for command '%s'", q,
                                    control_command_name(req.command));
                }

        switch (req.command) {
        case CONTROL_STATUS:
                break;
        case CONTROL_SNAPSHOT: {
                v = json_object_get(root, "target");
                if (!v)
                        return fail(err, errsize, "missing 'target' (the name of a configured target)");
                if (!json_is_string(v))
                        return fail(err, errsize, "'target' must be a string");
                const char *t = json_string_value(v);
                size_t tl = json_string_length(v);
                if (!control_target_name_valid(t, tl)) {
                        quote_input(t, tl, q, sizeof(q));
                        return fail(err, errsize, "invalid target name '%s': expected 1 to %d characters of "
                                    "A-Z a-z 0-9 . _ -", q, CONTROL_TARGET_NAME_MAX);
                }
                memcpy(req.target, t, tl);
                req.target[tl] = '\0';
                v = json_object_get(root, "last_s");
                if (v && get_seconds(v, CONTROL_MIN_LAST_NS, CONTROL_MAX_LAST_NS, &req.last_ns) < 0)
                        return fail(err, errsize, "'last_s' must be a number of seconds from %llu to %llu",
                                    CONTROL_MIN_LAST_NS / 1000000000ULL, CONTROL_MAX_LAST_NS / 1000000000ULL);
                break;
        }
        case CONTROL_RECORD:
                v = json_object_get(root, "pid");
                if (!v)
                        return fail(err, errsize, "missing 'pid' (the process to record)");
                if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > INT_MAX)
                        return fail(err, errsize, "'pid' must be a positive integer");
                req.pid = (pid_t) json_integer_value(v);
                v = json_object_get(root, "duration_s");
                if (v && get_seconds(v, CONTROL_MIN_DURATION_NS, CONTROL_MAX_DURATION_NS, &req.duration_ns) < 0)
                        return fail(err, errsize, "'duration_s' must be a number of seconds from %llu to %llu",
                                    CONTROL_MIN_DURATION_NS / 1000000000ULL,
                                    CONTROL_MAX_DURATION_NS / 1000000000ULL);
                v = json_object_get(root, "frequency_hz");
                if (v) {
                        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                            json_integer_value(v) > CONTROL_MAX_FREQUENCY_HZ)
                                return fail(err, errsize, "'frequency_hz' must be an integer from 1 to %d",
                                            CONTROL_MAX_FREQUENCY_HZ);
                        req.frequency_hz = (unsigned) json_integer_value(v);
                }
                break;
        }
        *ret = req;
        return 0;
}

/* Whole seconds as an integer, so the request reads as a person would
 * write it; fractions as a decimal. */
static json_t *seconds_new(uint64_t ns) {
        if (ns % 1000000000ULL == 0)
                return json_integer((json_int_t) (ns / 1000000000ULL));
        return json_real((double) ns / 1e9);
}

static int set_new(json_t *o, const char *key, json_t *v) {
        return v && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

int control_request_to_json(const struct control_request *req, json_t **ret) {
        json_auto_t *o = json_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = set_new(o, "command", json_string(control_command_name(req->command)));
        switch (req->command) {
        case CONTROL_STATUS:
                break;
        case CONTROL_SNAPSHOT:
                if (r >= 0)
                        r = set_new(o, "target", json_stringn(req->target, strnlen(req->target,
                                                                                  sizeof(req->target))));
                if (r >= 0)
                        r = set_new(o, "last_s", seconds_new(req->last_ns));
                break;
        case CONTROL_RECORD:
                if (r >= 0)
                        r = set_new(o, "pid", json_integer(req->pid));
                if (r >= 0)
                        r = set_new(o, "duration_s", seconds_new(req->duration_ns));
                if (r >= 0)
                        r = set_new(o, "frequency_hz", json_integer(req->frequency_hz));
                break;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}
