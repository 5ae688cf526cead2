/* On-demand recordings (`cprof ctl record`): one recorder each, started on
 * a thread so the daemon's loop never waits for a BPF load, beside the
 * continuous one, at the rate the client asked, for one process and its
 * children, answered on the client's connection when it ends (duration
 * over, the process exited, or the client gave up). A bounded number run
 * at a time. For a client that is neither root nor in the group, only the
 * process itself until it execs: not its children, and not what it execs
 * (either may be a setuid program, which no one may profile). Each
 * recording holds what it borrows from the config (its debug
 * directories), so a reload never pulls them from under it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cprof/profile.h"
#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/control-protocol.h"

struct ondemand_set;

int ondemand_set_new(const struct cprofd_config *c, struct ondemand_set **ret);
/* Limits and recording settings for recordings started from now on. */
void ondemand_set_config(struct ondemand_set *s, const struct cprofd_config *c);
/* Answers every running recording with what it has, then frees. */
struct ondemand_set *ondemand_set_free(struct ondemand_set *s);

/* Starts a recording for req, or answers c with why not. pidfd (-1: none)
 * is the server's: the process the peer was allowed to record. */
void ondemand_start(struct ondemand_set *s, struct control_conn *c, const struct control_request *req,
                    int pidfd, bool privileged);
/* Takes in samples of every recording (without waiting) and answers
 * those that ended; with stop, all of them. */
void ondemand_step(struct ondemand_set *s, bool stop);
size_t ondemand_count(const struct ondemand_set *s);
/* Of those, how many are still loading their sampler (on their thread). */
size_t ondemand_starting(const struct ondemand_set *s);

/* Answers c with p as folded text: {"ok":true, "folded":..., "samples":N,
 * "windows":N} (windows: how many went into it, for a snapshot). */
void ondemand_reply_profile(struct control_conn *c, const struct profile *p, unsigned windows);
