/* cprofd's state and loop: one recorder for every continuous target
 * (each target a recorder group), cut into windows that are written to
 * the store, pushed to Pyroscope when configured, and kept within the
 * disk budget; the control socket; on-demand recordings beside the
 * continuous one. src/daemon/cprofd.c is the program around it.
 *
 * Lifetimes: the daemon owns its config; a reload swaps in a new one only
 * when it parsed, and keeps the recorder unless a setting of the sampler
 * changed (then the current window is written first). */
#pragma once

#include <signal.h>
#include <stdbool.h>

#include "daemon/config.h"

struct daemon;

/* config is taken over (freed with the daemon). config_path: what SIGHUP
 * reads again. */
int daemon_new(struct cprofd_config *config, const char *config_path, struct daemon **ret);
struct daemon *daemon_free(struct daemon *d);

/* Runs until SIGTERM or SIGINT (which the caller has blocked: the loop
 * takes them from a signalfd, with SIGHUP), then writes the current
 * window and returns 0, or -errno when it could not go on. Tells the
 * service manager READY once sampling runs, and pings its watchdog. */
int daemon_run(struct daemon *d);
