/* The search for a module's separate debug file: by GNU build-id under
 * each debug directory, then by .gnu_debuglink beside the binary, in its
 * .debug/ and under each debug directory (gdb's order).
 *
 * Where each candidate is looked for:
 * - Paths beside the binary (BINDIR/NAME, BINDIR/.debug/NAME) are the
 *   target's: they are opened under q->root.
 * - /usr/lib/debug is searched under q->root first (a container's own
 *   debug packages match the binaries it runs), then on cprof's own
 *   filesystem (the host's libc6-dbg matches a container running the same
 *   libc build).
 * - --debug-dir directories are cprof's: a path typed on cprof's command
 *   line names cprof's filesystem, so they are searched on the host only.
 * Under a root, paths are resolved with openat2(RESOLVE_IN_ROOT), so an
 * absolute symlink inside a container (Fedora's .build-id links are
 * symlinks) stays inside it.
 *
 * Nothing is trusted by its name: a candidate is accepted only when it
 * matches the binary (same build-id when both have one, else the
 * debuglink CRC32 over the whole file), is a regular file, is an ELF
 * file, and is not the binary itself. */
#pragma once

#include <gelf.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* Extra debug directories (--debug-dir, repeatable). "/usr/lib/debug" is
 * always searched, first; a repeat of it here is ignored. */
struct debug_dirs {
        const char *const *dirs;
        size_t n;
};

struct debug_query {
        /* prefix to reach the target's filesystem ("/proc/123/root"), or
         * NULL (or "/") for cprof's own */
        const char *root;
        /* the binary's absolute path as the target sees it ("/usr/bin/gzip");
         * may be NULL when only the build-id is known */
        const char *binary_path;
        /* the binary's identity (fstat of the fd it was opened through), or
         * NULL: then it is stat'ed at root/binary_path. Needed because a
         * debuglink naming the binary's own file would otherwise match it
         * by build-id. (An addition to the brief's struct.) */
        const struct stat *binary_st;
        const uint8_t *build_id; /* may be NULL, build_id_len 0 */
        size_t build_id_len;
        const char *debuglink; /* .gnu_debuglink file name, or NULL */
        uint32_t debuglink_crc;
};

/* Finds the separate debug file (see the header comment for where and how
 * it is checked). Returns 0, an fd (O_RDONLY|O_CLOEXEC) the caller closes
 * and, if ret_path is not NULL, the malloc'd path it was opened at (under
 * q->root when it came from there). -ENOENT when no candidate matches,
 * -ENOMEM. */
int debug_file_find(const struct debug_dirs *dirs, const struct debug_query *q, int *ret_fd, char **ret_path);

/* Reads .gnu_debuglink of an ELF: the file name (borrowed from elf, valid
 * until elf_end) and its CRC32. -ENOENT without the section, -EBADMSG when
 * it is malformed (no NUL-terminated name before the CRC, or a name that
 * is empty or holds a '/': a debuglink is a bare file name, and one with
 * a path could reach files outside the directories searched). */
int debug_file_read_debuglink(Elf *elf, const char **ret_name, uint32_t *ret_crc);

/* The GNU debuglink CRC32 of the whole file behind fd, read with pread
 * (the fd's offset is not moved): the checksum objcopy
 * --add-gnu-debuglink stores, the usual CRC-32 (zlib's). */
int debug_file_crc32(int fd, uint32_t *ret_crc);
