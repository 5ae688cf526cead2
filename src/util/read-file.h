/* Reading files: whole (read_full_*) for small files such as /proc files,
 * or line by line (struct line_reader) for inputs of any size, pipes that
 * never end included, in memory bounded by the longest line.
 *
 * Whole-file buffers are NUL terminated, so text parsers may look one byte
 * past the data. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vec.h"

int read_full_fd(int fd, char **ret_buf, size_t *ret_len);
/* -EISDIR for a directory; path "-" is not special here. */
int read_full_file(const char *path, char **ret_buf, size_t *ret_len);

/* Lines longer than this are skipped (line_reader_next returns -E2BIG):
 * far above any real stack, and it keeps an endless input without line
 * breaks from taking all memory. */
#define LINE_READER_MAX_LINE (16u << 20)

/* A line reader owns a buffer and reads the descriptor (which it does not
 * close) in large chunks. The line returned by line_reader_next() and the
 * one before it stay valid until the next call, so a parser may compare a
 * line with its predecessor or look ahead one line. */
struct line_reader {
        int fd;
        VEC(char) buf; /* buf.n: end of the data read */
        size_t pos;    /* next unread byte */
        size_t last;   /* start of the line returned last: kept valid */
        size_t max_line;
        uint64_t lineno; /* lines returned (or skipped) so far */
        bool eof, skipping;
};

/* max_line 0 means LINE_READER_MAX_LINE. Cannot fail: the buffer is
 * allocated on first use. */
void line_reader_init(struct line_reader *lr, int fd, size_t max_line);
void line_reader_release(struct line_reader *lr);

/* Reads until at least `want` bytes from the current position are in the
 * buffer, or the input ends, and points *ret at them (*ret_len may be less
 * than want only at the end of the input). For looking at a file's first
 * bytes before reading lines. -errno on a read error. */
int line_reader_peek(struct line_reader *lr, size_t want, const char **ret, size_t *ret_len);

/* The next line, without its '\n' (a last line without one counts too).
 * Returns 1 and sets *ret_line and *ret_len, 0 at the end of the input,
 * -E2BIG for a line longer than max_line (it is skipped: the next call
 * continues after it), or -errno on a read error. */
int line_reader_next(struct line_reader *lr, const char **ret_line, size_t *ret_len);
