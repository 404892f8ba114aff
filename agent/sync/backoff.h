/* SPDX-License-Identifier: MIT */
/*
 * Delay before retrying after `failures` failures in a row (>= 1), as
 * client-go's reflector backs off: 0.8 s doubling to a 30 s cap, with
 * "equal jitter" so a fleet of nodes that lost the server together does not
 * come back in step: the delay is uniform in [d/2, d), d = min(30, 0.8 *
 * 2^(failures-1)). So 0.4-0.8 s, 0.8-1.6 s, ..., 15-30 s.
 */
#ifndef LDMESH_SYNC_BACKOFF_H
#define LDMESH_SYNC_BACKOFF_H

#define SYNC_BACKOFF_FIRST 0.8
#define SYNC_BACKOFF_MAX 30.0

/* `r` is a random number in [0, 1). Seconds. */
double sync_backoff(unsigned failures, double r);

#endif
