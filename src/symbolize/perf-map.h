/* JIT symbols from a perf map, /tmp/perf-PID.map (the format of perf's
 * tools/perf/Documentation/jit-interface.txt): one line per symbol,
 * "START SIZE name", START and SIZE in hex with or without "0x", the name
 * running to the end of the line (it may contain spaces). Node
 * (--perf-basic-prof), Python 3.12+ (-X perf) and Java's perf-map-agent
 * write it.
 *
 * The file comes from the profiled process, so nothing in it is trusted:
 * malformed lines are skipped and counted, and memory stays bounded by
 * the input. Lines come in any order and may overlap; JITs re-use memory,
 * so a line replaces every earlier symbol it overlaps (a symbol survives
 * while no later line overlaps it). The symbols kept never overlap and
 * are sorted by address.
 *
 * The file grows while the process runs: perf_map_update() reads only what
 * was appended since the last read, and leaves a partial last line (not
 * yet terminated) for the next one. A file that shrank or was replaced
 * (another device or inode: a new process with the same PID) is read
 * again from the start. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct perf_map;

int perf_map_new(struct perf_map **ret);
struct perf_map *perf_map_free(struct perf_map *m);

/* Parses text, whole lines only; returns how many bytes were consumed, so
 * a partial last line is offered again next time. Malformed lines are
 * skipped and counted; empty lines are skipped. If memory runs out, the
 * lines not yet taken in are dropped and counted as malformed. */
size_t perf_map_parse(struct perf_map *m, const char *buf, size_t len);

/* Reads (more of) the file at path, normally from perf_map_path(). Only
 * a regular file is read (a FIFO or device could block or never end).
 * Remembers the file's identity, size and offset: when neither changed
 * since the last call, returns 0 without reading. Returns 1 when it read
 * something, 0 when nothing was new, -errno. */
int perf_map_update(struct perf_map *m, const char *path);

/* Files owned by anyone but uid or root are refused (-EPERM) from now
 * on, as perf refuses them: in a sticky /tmp another user can create the
 * map of a PID before the process exists, and the JIT then cannot write
 * it, so its names would be theirs. uid is the process's, as
 * stat("/proc/PID") gives it. Without this call any owner is accepted. */
void perf_map_set_owner(struct perf_map *m, uid_t uid);

/* The symbol covering addr (start <= addr < start + size) and its start;
 * its name is borrowed until the next parse, update or free. NULL when
 * none does. */
const char *perf_map_lookup(struct perf_map *m, uint64_t addr, uint64_t *ret_start);

/* Symbols kept (after overlaps were resolved). */
size_t perf_map_count(const struct perf_map *m);
/* Malformed lines skipped so far (over every read of the file). */
size_t perf_map_malformed(const struct perf_map *m);

/* The process's own view of its PID from the text of /proc/PID/status:
 * the last number of its "NSpid:" line (the innermost PID namespace), or
 * pid when there is no such line (kernels before 4.1). -EINVAL for an
 * NSpid line that is not a list of PIDs. */
int perf_map_parse_nspid(const char *status, size_t len, pid_t pid, pid_t *ret_nspid);

/* Builds "/proc/PID/root/tmp/perf-NSPID.map": the map as the process
 * wrote it, in its own mount namespace and under its own PID. -errno
 * (-ENOBUFS when buf is too small). */
int perf_map_path(pid_t pid, char *buf, size_t len);
