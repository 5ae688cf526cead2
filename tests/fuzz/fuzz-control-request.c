/* Fuzz the control socket's request parser: whatever it accepts is in
 * range, its error is one line, and an accepted request encoded by the
 * client's side reads back the same. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/control-protocol.h"

static void check_range(const struct control_request *r) {
        switch (r->command) {
        case CONTROL_STATUS:
                break;
        case CONTROL_SNAPSHOT:
                if (!control_target_name_valid(r->target, strlen(r->target)) ||
                    r->last_ns < CONTROL_MIN_LAST_NS || r->last_ns > CONTROL_MAX_LAST_NS)
                        abort();
                break;
        case CONTROL_RECORD:
                if (r->pid <= 0 || r->duration_ns < CONTROL_MIN_DURATION_NS ||
                    r->duration_ns > CONTROL_MAX_DURATION_NS || r->frequency_hz < 1 ||
                    r->frequency_hz > CONTROL_MAX_FREQUENCY_HZ)
                        abort();
                break;
        default:
                abort();
        }
}

static uint64_t diff(uint64_t a, uint64_t b) {
        return a > b ? a - b : b - a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct control_request req, again;
        char err[256];

        memset(err, 0, sizeof(err));
        int r = control_request_parse((const char *) data, size, &req, err, sizeof(err));
        if (r < 0) {
                if (r != -EINVAL && r != -EMSGSIZE && r != -ENOMEM)
                        abort();
                if (r != -ENOMEM && (!err[0] || strchr(err, '\n')))
                        abort(); /* every refusal says why, on one line */
                return 0;
        }
        check_range(&req);

        json_t *j = NULL;
        if (control_request_to_json(&req, &j) < 0)
                return 0;
        char *text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        if (!text)
                return 0;
        if (control_request_parse(text, strlen(text), &again, err, sizeof(err)) < 0)
                abort();
        /* seconds as decimals may round by a nanosecond */
        if (again.command != req.command || strcmp(again.target, req.target) != 0 ||
            (req.command == CONTROL_SNAPSHOT && diff(again.last_ns, req.last_ns) > 1) ||
            (req.command == CONTROL_RECORD &&
             (again.pid != req.pid || diff(again.duration_ns, req.duration_ns) > 1 ||
              again.frequency_hz != req.frequency_hz)))
                abort();
        free(text);
        return 0;
}
