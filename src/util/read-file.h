/* Reading whole files into memory: regular files (sized up front), pipes
 * and /proc files (which report size 0). Buffers are NUL terminated, so
 * text parsers may look one byte past the data. */
#pragma once

#include <stddef.h>

int read_full_fd(int fd, char **ret_buf, size_t *ret_len);
/* -EISDIR for a directory; path "-" is not special here. */
int read_full_file(const char *path, char **ret_buf, size_t *ret_len);
