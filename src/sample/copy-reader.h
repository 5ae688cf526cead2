/* The BPF backend's stack copy ring, emptied by a thread of its own.
 *
 * The loop thread can be busy for hundreds of milliseconds (building the
 * CFI table of a new large binary, naming a burst of addresses) while
 * every sample of a process without tables arrives as a copy: a ring the
 * loop empties must hold all of that. The reader moves records into a
 * queue as they come, so the ring only has to cover its own wakeups and
 * can stay small (its pages are allocated, cleared and mapped twice at
 * every start). The queue holds pages only while the loop is behind. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct copy_reader;

/* Starts the thread on ring map ring_fd. */
int copy_reader_new(int ring_fd, struct copy_reader **ret);
/* Has the thread read the ring (waiting 5 ms at most), then calls
 * fn(userdata, record, size) on each record queued since the last call,
 * in ring order; stops at the first negative return, which it returns.
 * Records left by a failure are dropped. */
int copy_reader_take(struct copy_reader *cr, int (*fn)(void *userdata, void *data, size_t size), void *userdata);
/* Empties the ring one last time and ends the thread; take() still
 * returns what was queued. Idempotent. */
void copy_reader_stop(struct copy_reader *cr);
/* Records dropped because the queue held 256 MiB (the loop stalled). */
uint64_t copy_reader_dropped(struct copy_reader *cr);
/* The queue's high-water mark in bytes. */
size_t copy_reader_peak(struct copy_reader *cr);
struct copy_reader *copy_reader_free(struct copy_reader *cr);
