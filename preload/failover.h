/* SPDX-License-Identifier: MIT */
/*
 * Connect failover and outlier ejection, off the connect path's hot line:
 * nothing here runs while every connect succeeds and no backend is ejected.
 *
 *  - A connect to a redirected backend that is refused, reset or
 *    unreachable is tried again on another candidate of the same service
 *    port, inside the same call, up to LDMESH_CONNECT_ATTEMPTS backends in
 *    all; SO_SNDTIMEO, when set, bounds the whole call. The caller sees one
 *    connect: the first that succeeds (or is under way: EINPROGRESS), or
 *    the last error.
 *  - Each failure counts toward the backend's ejection (outlier.h), and so
 *    does one a non-blocking connect reports later through SO_ERROR.
 *  - While some backend is ejected, picks pass over ejected backends.
 */
#ifndef LDMESH_PRELOAD_FAILOVER_H
#define LDMESH_PRELOAD_FAILOVER_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "export.h"
#include "route.h"
#include "state.h"

/* Whether a connect error says the backend failed (not the caller). */
static inline bool failover_backend_failed(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ECONNRESET:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ETIMEDOUT:
		return true;
	default:
		return false;
	}
}

/* Pick again passing over ejected backends (only called while some are). */
void failover_avoid_ejected(const struct ldmesh_snap *s, const struct ldmesh_vip_slot *vip,
			    int family, struct route_result *r) LDMESH_HIDDEN;

/*
 * The redirected connect of `fd` (to `vip`:`vport`, dialled as `family`)
 * to r->backend failed with `err`; `t0` is ldmesh_tick() before it. Tries
 * the other candidates; returns the connect's result with errno set.
 */
int failover_connect(struct preload_state *st, int fd, int family, const uint8_t vip[16],
		     uint16_t vport, const struct route_result *r, int err,
		     uint64_t t0) LDMESH_HIDDEN;

/* A non-blocking connect of `fd` ended with `err`, as the program learnt
 * through SO_ERROR or a repeated connect: a backend failure counts (and
 * the record of the redirect goes), 0 counts as a success. */
void failover_so_error(int fd, int err) LDMESH_HIDDEN;

#endif
