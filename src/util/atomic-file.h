/* Every file cprof writes (record -o, convert -o, the flame graph palette,
 * the daemon's windows) appears whole or not at all.
 *
 * The data goes to an unnamed file (O_TMPFILE) in the target's directory,
 * linked to its name on commit, so a run killed even by SIGKILL leaves
 * nothing behind. Replacing an existing file links to a hidden temporary
 * name and renames that over the old file. Where the filesystem has no
 * O_TMPFILE, a named hidden file ".NAME.XXXXXX" is written instead; it is
 * removed on commit, on abort and by any terminating signal whose action was
 * the default (callers with their own handlers that end the process call
 * atomic_file_remove_temporaries()).
 *
 * Paths are resolved here, not by realpath(), to apply the rule of
 * fs.protected_symlinks whatever the sysctl says: a symlink that lives in a
 * sticky world-writable directory (/tmp) is followed only when it belongs to
 * the caller (euid) or to the directory's owner; otherwise -EACCES, and
 * atomic_file_strerror() names the link's owner and directory. A followed
 * symlink's target is replaced and keeps its mode. What is not a regular
 * file (/dev/null, a FIFO, /dev/stdout, anything reached through /proc) is
 * written in place. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

enum {
        /* fsync the data and the directory on commit (the daemon's windows
         * must survive a power loss once reported as written) */
        ATOMIC_FILE_SYNC = 1 << 0,
};

struct atomic_file {
        FILE *f;
        /* private: the directory of the final name; valid when name != NULL
         * (a zeroed struct owns nothing) */
        int dir_fd;
        char *name;     /* final name in dir_fd, NULL when written in place */
        char *tmp;      /* named temporary file (no O_TMPFILE here), or NULL */
        bool replace;   /* a file existed at open: rename over it */
        unsigned flags;
};

/* True when path is written in place, not replaced: a device, a FIFO, a
 * socket, or anything reached through /proc (/dev/stdout). */
bool atomic_file_in_place(const char *path);
/* -errno (e.g. -EACCES, -ENOENT for a missing directory, -EISDIR). */
int atomic_file_open(const char *path, struct atomic_file *ret);
int atomic_file_open_flags(const char *path, unsigned flags, struct atomic_file *ret);
/* Flushes, (syncs), links or renames into place and closes. On failure
 * nothing new is left behind and the error is the one the write got
 * (-ENOSPC for a full disk). */
int atomic_file_commit(struct atomic_file *af);
/* Closes and removes what was written; safe on a zeroed struct. */
void atomic_file_abort(struct atomic_file *af);

/* Opens path for reading under the same symlink rule (the palette file is
 * read, then written). -errno. */
int atomic_file_open_read(const char *path, FILE **ret);

/* The text for an error r (< 0) of the calls above, made on this thread:
 * the refused symlink for the -EACCES of the symlink rule, else
 * strerror(-r). Valid until the next call of this module on this thread. */
const char *atomic_file_strerror(int r);

/* Removes the named temporary files of this process: async-signal-safe
 * (unlinkat only), for signal paths that end the process. */
void atomic_file_remove_temporaries(void);
/* Removes them, then ends the process with sig's default action: for a
 * caller's own signal handler that decides to die. Async-signal-safe. */
void atomic_file_raise(int sig);

/* The error of a failed stdio write or flush, as -errno: what the
 * system call said (ENOSPC for a full disk), EIO when stdio set none. */
static inline int stdio_write_error(void) {
        return errno > 0 ? -errno : -EIO;
}
