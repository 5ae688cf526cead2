#include "parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

int parse_uint64(const char *s, uint64_t *ret) {
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        unsigned shift = 0;
        if (*end == 'K' || *end == 'k')
                shift = 10;
        else if (*end == 'M' || *end == 'm')
                shift = 20;
        else if (*end == 'G' || *end == 'g')
                shift = 30;
        else if (*end == 'T' || *end == 't')
                shift = 40;
        if (shift) {
                end++;
                if (*end == 'i' && end[1] == 'B')
                        end += 2;
                else if (*end == 'B')
                        end++;
        }
        if (*end)
                return -EINVAL;
        if (v > (UINT64_MAX >> shift))
                return -ERANGE;
        *ret = (uint64_t) v << shift;
        return 0;
}

int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret) {
        uint64_t v;
        int r = parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (v < min || v > max)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

int parse_pid(const char *s, int *ret) {
        unsigned v;
        int r = parse_uint(s, 1, 0x3fffffff, &v);
        if (r < 0)
                return r;
        *ret = (int) v;
        return 0;
}

int parse_seconds(const char *s, uint64_t *ret_ns) {
        char *end;

        if (!s || ((*s < '0' || *s > '9') && *s != '.'))
                return -EINVAL;
        errno = 0;
        double v = strtod(s, &end);
        if (*end)
                return -EINVAL;
        if (errno == ERANGE) /* "1e999", "1e-999": numbers, out of range */
                return -ERANGE;
        if (!isfinite(v))
                return -EINVAL;
        if (v <= 0 || v > PARSE_SECONDS_MAX)
                return -ERANGE;
        *ret_ns = (uint64_t) (v * 1e9);
        if (*ret_ns == 0) /* below a nanosecond: 0 would mean "no limit" */
                return -ERANGE;
        return 0;
}
