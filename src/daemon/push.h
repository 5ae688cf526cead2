/* Pushing cprofd's windows to a Grafana Pyroscope server (its HTTP
 * /ingest API), so that a fleet's profiles end up in one place.
 *
 * A pusher owns one worker thread, the only thing that talks to the
 * network, and a bounded queue between the caller and that thread.
 * pusher_push() serializes the window in the caller, so the profile may be
 * freed as soon as it returns, and then only takes the queue's mutex: it
 * never waits for the server. When the queue is full the oldest window is
 * dropped and counted. Windows the server refuses for good (4xx other than
 * 429, and 3xx: redirects are not followed) are dropped and counted; a server that is down or overloaded (5xx,
 * 429, connection errors) is retried with exponential backoff, the window
 * staying at the head of the queue.
 *
 * Lifetimes: the options' strings are copied by pusher_new(); everything a
 * push needs is copied by pusher_push(); pusher_free() gives what is still
 * queued at most grace_ns more, aborting a request in flight at the
 * deadline, then joins the worker. Statistics are read under the same
 * mutex, from any thread. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "cprof/profile.h"

/* The daemon's config has its own enum (config.h, enum cprofd_push_format);
 * the daemon maps it to this one. */
enum push_format { PUSH_FOLDED, PUSH_PPROF };

struct pusher_options {
        const char *url;            /* "http://host:4040" (the server's base URL) */
        enum push_format format;
        size_t queue_max;           /* windows kept while the server is down; oldest dropped */
        const char *host;           /* the host label (gethostname() when NULL) */
};

struct pusher_stats {
        uint64_t queued;            /* windows accepted by pusher_push() */
        uint64_t sent;              /* answered 2xx */
        uint64_t failed_attempts;   /* requests that did not succeed (each retry counts) */
        uint64_t dropped;           /* never delivered: pushed out of a full queue, or
                                     * refused for good (4xx) */
};

struct pusher;

/* Starts one worker thread. -EINVAL when url is not http(s)://..., when
 * queue_max is 0, or when the host name cannot be a Pyroscope label value
 * (it must not contain ',', '{', '}', '=' or control characters). */
int pusher_new(const struct pusher_options *o, struct pusher **ret);

/* Serializes p now (the caller may free it right after) and queues it; never
 * blocks on the network. app: the APP in "APP.cpu"; service_name = app.
 * from/until: the window, UTC seconds. -EINVAL when app is not a valid
 * Pyroscope service name ([A-Za-z0-9_./-]+), target is not a valid label
 * value, or from >= until; -ENOMEM; -EIO when serializing failed. */
int pusher_push(struct pusher *ps, const char *app, const char *target, const struct profile *p,
                uint64_t from_unix_s, uint64_t until_unix_s, unsigned sample_rate_hz);

void pusher_get_stats(struct pusher *ps, struct pusher_stats *ret);

/* Tries what is queued for at most grace_ns more, then stops the worker and
 * frees; logs how many windows were left unsent. NULL is a no-op. Returns
 * NULL. */
struct pusher *pusher_free(struct pusher *ps, uint64_t grace_ns);
