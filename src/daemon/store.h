/* The window store: cprofd's profiles on disk, one file set per window,
 * and the retention that keeps them within a budget.
 *
 * Layout: DIR/<target>/<BASE>.folded.gz, plus <BASE>.svg and <BASE>.pb.gz
 * when asked, where BASE is the window's start in UTC, YYYYMMDDTHHMMSSZ,
 * with "-1", "-2", ... appended when a window of the same second is already
 * there (a restart within the second). The three files of one BASE are a
 * window's set: retention deletes them together. The .folded.gz is the
 * gzip of exactly what folded_write() prints, and it is the one file read
 * back (snapshots); the others are for people and tools.
 *
 * Every file is written through util/atomic-file.h with ATOMIC_FILE_SYNC:
 * it appears whole, fsync'd, or not at all, even after SIGKILL. Where the
 * filesystem lacks O_TMPFILE, a kill can leave a hidden ".NAME.XXXXXX"
 * temporary; retention removes those once they are a minute old (a write
 * in progress keeps its temporary's mtime fresh).
 *
 * Nothing is kept between calls: each call reads the directory afresh, so
 * files removed or added by hand are simply seen. One process writes a
 * DIR (the daemon); calls may come from any thread, since none keeps
 * state but the error text of store_strerror(), which is per thread.
 * Files and directories that do not have the names above are never
 * touched nor counted. */
#pragma once

#include <stdint.h>

#include "cprof/profile.h"

/* The optional outputs of a window (the .folded.gz is always written). */
enum store_output {
        STORE_OUTPUT_SVG = 1 << 0,   /* BASE.svg, flamegraph_write() */
        STORE_OUTPUT_PPROF = 1 << 1, /* BASE.pb.gz, pprof_write() */
};

/* A window's folded text larger than this once gunzipped is not read
 * (store_read_since skips it): a bound on what one file can make us
 * allocate. */
#define STORE_MAX_FOLDED_BYTES ((uint64_t) 256 << 20)

/* Writes the window that started at start_unix_ns (ns since the epoch; the
 * name has its second) into DIR/target/, creating DIR (and its missing
 * parents) and DIR/target with mode 0750 as needed. target must be a plain
 * name: no '/', not starting with '.', at most NAME_MAX bytes (-EINVAL).
 * outputs: STORE_OUTPUT_* bits. title: the SVG's title (NULL: the default).
 * An empty profile writes an empty .folded.gz and no SVG (a flame graph of
 * nothing is no graph). The .folded.gz is written first; when a later file
 * fails, the ones written stay. On failure store_strerror() names the
 * file and says why. */
int store_write_window(const char *dir, const char *target, uint64_t start_unix_ns,
                       const struct profile *p, unsigned outputs, const char *title);

/* What the window files take: bytes are file sizes (st_size) of the
 * window files of every target, files their number, oldest_unix_ns the
 * start of the oldest window (0 when there is none). */
struct store_usage {
        uint64_t bytes;
        uint64_t files;
        uint64_t oldest_unix_ns;
};

/* Deletes window sets, oldest first across all targets (by the start in
 * their names, not by mtime; same second: "-1" after the plain name), while
 * the oldest is older than max_age_ns at now_unix_ns (0: no age limit) or
 * the total size exceeds max_size bytes (0: no size limit). Removes the
 * hidden temporaries of window files (".BASE.folded.gz.XXXXXX", ...) whose
 * mtime is more than 60 s before now_unix_ns. Directories are left, empty
 * or not. *ret (when not NULL) gets what remains, also on failure: a file
 * that cannot be deleted still counts, the sweep goes on, and the first
 * error is returned (store_strerror() names the file). A missing DIR is
 * an empty store. */
int store_apply_retention(const char *dir, uint64_t max_age_ns, uint64_t max_size,
                          uint64_t now_unix_ns, struct store_usage *ret);

/* What the window files of DIR take now (a missing DIR: zeros). */
int store_usage(const char *dir, struct store_usage *ret);

/* Adds every window of target that started at or after since_unix_ns (its
 * name's second, in ns) into p, oldest first, from the .folded.gz files
 * (folded_read_buffer). A file that is not whole gzip, holds a NUL byte,
 * is not folded text or gunzips to more than STORE_MAX_FOLDED_BYTES is
 * skipped with a warning (log_warning) and adds nothing. Returns the
 * number of windows read (0 for a missing target directory), or -errno
 * (-ENOMEM; -EINVAL for a bad target name; a directory that cannot be
 * read). */
int store_read_since(const char *dir, const char *target, uint64_t since_unix_ns, struct profile *p);

/* The text for the error r (< 0) of the last call above on this thread,
 * naming the file or directory ("cannot write 'DIR/api/BASE.svg': No space
 * left on device"); strerror(-r) when that call left no text. Valid until
 * the next call of this module on this thread. */
const char *store_strerror(int r);
