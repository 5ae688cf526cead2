/* Strict parsing of numbers from command lines and config files: the whole
 * string must be a number in range, or -EINVAL / -ERANGE. */
#pragma once

#include <stdint.h>

int parse_uint64(const char *s, uint64_t *ret);
int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret);
int parse_pid(const char *s, int *ret);
/* Seconds as a decimal ("30", "2.5"), > 0; returns nanoseconds. */
int parse_seconds(const char *s, uint64_t *ret_ns);
