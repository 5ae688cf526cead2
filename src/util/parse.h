/* Strict parsing of numbers from command lines and config files: the whole
 * string must be a number in range, or -EINVAL / -ERANGE. */
#pragma once

#include <stdint.h>

int parse_uint64(const char *s, uint64_t *ret);
int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret);
/* Bytes, with an optional K, M, G or T suffix (powers of 1024; "64K",
 * "64KiB", "1M"). */
int parse_size(const char *s, uint64_t *ret);
int parse_pid(const char *s, int *ret);
/* The longest duration parse_seconds() takes: 115 days, far below where
 * nanoseconds overflow 64 bits. */
#define PARSE_SECONDS_MAX 10000000

/* Seconds as a decimal ("30", "2.5"); returns nanoseconds. -EINVAL for
 * what is not a number, -ERANGE for one not in (0, PARSE_SECONDS_MAX]
 * or below a nanosecond. */
int parse_seconds(const char *s, uint64_t *ret_ns);

/* The value of a hex digit, or -1. */
static inline int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}
