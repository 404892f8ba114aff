/* SPDX-License-Identifier: MIT */
/*
 * Failover (failover.h) as the preload's own connect runs it: inline, on
 * the caller's descriptor, with the fd bookkeeping (fdmap.h) that
 * ldmesh-exec, which keeps its own, does not share.
 */
#ifndef LDMESH_PRELOAD_FAILOVER_FD_H
#define LDMESH_PRELOAD_FAILOVER_FD_H

#include <stdint.h>

#include "export.h"
#include "failover.h"
#include "state.h"

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
