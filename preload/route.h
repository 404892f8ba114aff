/* SPDX-License-Identifier: MIT */
/*
 * The connect decision against one pinned snapshot: which backend a
 * connect to a service VIP goes to, in the family the socket can dial.
 * Pure: no I/O, no allocation.
 */
#ifndef LDMESH_PRELOAD_ROUTE_H
#define LDMESH_PRELOAD_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "export.h"
#include "ldmesh/reader.h"

enum route_verdict {
	ROUTE_REDIRECT, /* connect to backend:backend_port instead */
	ROUTE_REFUSE,   /* no usable endpoint: ECONNREFUSED, as kube-proxy */
};

struct route_result {
	enum route_verdict verdict;
	const char *why;                   /* ROUTE_REFUSE */
	ldmesh_str_t svc_ns, svc_name;     /* the service's names (references
	                                      into the snapshot; "" when its
	                                      record was refused) */
	uint8_t backend[16];
	uint16_t backend_port;
	uint32_t ep_pos;                   /* 1-based among ep_count */
	uint32_t ep_count;                 /* candidates */
};

/*
 * Choose a backend for a connect of a `family` socket to the VIP `vip`.
 * `rnd` is a fresh random value; `client_hash` keys sessionAffinity:
 * ClientIP. An AF_INET socket cannot reach an IPv6 endpoint: those are
 * skipped, and a service with only such endpoints refuses.
 */
void route_pick(const struct ldmesh_snap *s, const struct ldmesh_vip_slot *vip,
		int family, uint64_t rnd, uint64_t client_hash,
		struct route_result *r) LDMESH_HIDDEN;

/* Which backends a pick must pass over (tried already, ejected). */
typedef bool (*route_avoid_fn)(void *ctx, const uint8_t addr[16], uint16_t port);

/*
 * Another candidate of `vip`'s service: the first, walking from position
 * `start` (taken modulo the count), that serves the port in a family the
 * socket can dial and that `avoid` (may be NULL) does not reject;
 * ROUTE_REFUSE when there is none. With a random `start`, a uniform pick
 * that ignores ClientIP affinity. Separate from route_pick, whose one
 * caller on the connect path keeps it inlined there.
 */
void route_pick_other(const struct ldmesh_snap *s, const struct ldmesh_vip_slot *vip,
		      int family, uint64_t start, route_avoid_fn avoid, void *ctx,
		      struct route_result *r) LDMESH_HIDDEN;

#endif
