/* Debug files from debuginfod servers (libdebuginfod), fetched off the
 * sampling and output paths.
 *
 * Only active when DEBUGINFOD_URLS is set and non-empty. One worker
 * thread owns the libdebuginfod client (which is not thread-safe) and
 * works through a queue of build-ids; callers only queue and poll, and
 * neither ever blocks on the network. Each fetch is bounded in time by
 * DEBUGINFOD_TIMEOUT, read as libdebuginfod 0.188 reads it (seconds; 90
 * when unset; none when 0 or negative): libdebuginfod skips a server that
 * has not sent 100 KiB within it on each attempt, and this module also
 * stops a fetch whose download has not begun within it in total, across
 * libdebuginfod's retries. DEBUGINFOD_MAXTIME (libdebuginfod's) bounds a
 * whole download when set. Freeing the fetcher cancels a running fetch through
 * the progress callback, so it returns within about a second (libdebuginfod
 * checks the callback once per second of waiting).
 *
 * Each build-id is fetched at most once per fetcher; entries stay until
 * the fetcher is freed (one per module asked about). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct debuginfod_fetcher;

/* -ENOTSUP (and *ret = NULL) when DEBUGINFOD_URLS is unset or empty;
 * -ENOMEM, or -errno when the worker cannot start. */
int debuginfod_fetcher_new(struct debuginfod_fetcher **ret);
/* Cancels the running fetch, drops the queue, joins the worker. NULL ok. */
struct debuginfod_fetcher *debuginfod_fetcher_free(struct debuginfod_fetcher *f);

/* Queues a fetch of the debug file for build_id (1..64 bytes). 0 when
 * queued or already known, -EINVAL for a bad length, -ENOMEM. Never
 * blocks. */
int debuginfod_fetcher_request(struct debuginfod_fetcher *f, const uint8_t *build_id, size_t len);
/* Never blocks. 1 and a new fd (O_RDONLY, close-on-exec, its own file
 * offset at 0; the caller closes it) when fetched, 0 while still queued or running, -ENOENT when
 * the servers have none or the fetch failed or timed out, -ESRCH when the
 * build-id was never requested. */
int debuginfod_fetcher_poll(struct debuginfod_fetcher *f, const uint8_t *build_id, size_t len, int *ret_fd);
/* The time bound this fetcher applies to a fetch with no download begun
 * (DEBUGINFOD_TIMEOUT, see above), in ns; 0 for none. */
uint64_t debuginfod_fetcher_timeout_ns(const struct debuginfod_fetcher *f);
/* Waits until nothing is queued or running, or until deadline_ns
 * (CLOCK_MONOTONIC, as now_ns() in util/time-util.h). For callers that may
 * wait, e.g. before sampling ends; 0 when done, -ETIMEDOUT. */
int debuginfod_fetcher_wait(struct debuginfod_fetcher *f, uint64_t deadline_ns);
