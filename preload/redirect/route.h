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

#include <string.h>

#include "addr.h"
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
	/* A traffic split taken (3.5; split_total 0: none): the backendRef's
	 * target (a reference into the snapshot the pick was given) and its
	 * weight among the total of the parent port's splits. */
	ldmesh_str_t split_target;
	uint32_t split_weight, split_total;
};

/* The pick: backend `addr`:`port`, endpoint `ep` of the n from `first`. */
static inline void route__take(const uint8_t addr[16], uint32_t ep, uint16_t port,
			       uint32_t first, uint32_t n, struct route_result *r)
{
	r->verdict = ROUTE_REDIRECT;
	memcpy(r->backend, addr, 16);
	r->backend_port = port;
	r->ep_pos = ep - first + 1;
	r->ep_count = n;
}

/*
 * The endpoint pick of a service (copied and checked in *svc) for a connect
 * of a `family` socket to its port `port_index`: `key` draws the start
 * (a fresh random value, or the client hash under sessionAffinity:
 * ClientIP). An AF_INET socket cannot reach an IPv6 endpoint: those are
 * skipped, and a service with only such endpoints refuses.
 */
static inline __attribute__((always_inline)) void
route__endpoints(const struct ldmesh_snap *s, const struct ldmesh_service *svc,
		 uint32_t port_index, int family, uint64_t key, struct route_result *r)
{
	struct ldmesh_endpoint e;
	uint32_t first = 0, n, ep, start;
	uint16_t port = 0;

	n = r->ep_count = ldmesh_snap_candidates(svc, &first);
	if (!n) {
		r->why = "no endpoints";
		return;
	}
	ep = ldmesh_snap_pick(s, svc, port_index, key, &port);
	if (ep == LDMESH_NONE) {
		r->why = "no endpoint serves the port";
		return;
	}
	if (ldmesh_snap_endpoint(s, ep, &e) && addr_reachable(family, e.addr)) {
		route__take(e.addr, ep, port, first, n, r);
		return;
	}
	/*
	 * The pick is of a family this socket cannot dial (an IPv6 pod behind
	 * a dual-stack service, seen from an AF_INET socket). Walk on from it
	 * to the next one that serves the port in a reachable family, so the
	 * choice stays as random, or as sticky, as the pick was.
	 */
	start = ep - first;
	for (uint32_t i = 1; i < n; i++) {
		uint32_t cand = first + (start + i) % n;

		port = ldmesh_snap_endpoint_port(s, svc, cand, port_index);
		if (port && ldmesh_snap_endpoint(s, cand, &e) &&
		    addr_reachable(family, e.addr)) {
			route__take(e.addr, cand, port, first, n, r);
			return;
		}
	}
	r->why = "no endpoint of the socket's family";
}

/*
 * A connect to a service with traffic splits (3.5, route.c): a backendRef
 * drawn by weight from the low 32 bits of `rnd`, then an endpoint of that
 * Service's port as route__endpoints picks it (the high bits). `top` is
 * the whole table (the backend Service may be in another layer than `s`,
 * the one holding the parent). No split for the VIP's port: the parent's
 * own endpoints. Out of line: services without splits never pay for it.
 */
void route_pick_split(const struct ldmesh_snap *top, const struct ldmesh_snap *s,
		      const struct ldmesh_vip_slot *vip, const struct ldmesh_service *svc,
		      int family, uint64_t rnd, uint64_t client_hash,
		      struct route_result *r) LDMESH_HIDDEN;

/*
 * Choose a backend for a connect of a `family` socket to the VIP `vip`,
 * which `s` holds (ldmesh_snap_holder of `top`, the whole table).
 * `rnd` is a fresh random value; `client_hash` keys sessionAffinity:
 * ClientIP. Inline: it is the connect path's decision (hook_connect.c),
 * and a call's prologue and epilogue cost every connect (callgrind,
 * tests/bench/bench_preload.sh).
 */
static inline __attribute__((always_inline)) void
route_pick(const struct ldmesh_snap *top, const struct ldmesh_snap *s,
	   const struct ldmesh_vip_slot *vip, int family, uint64_t rnd,
	   uint64_t client_hash, struct route_result *r)
{
	struct ldmesh_service copy, *svc = &copy;

	r->verdict = ROUTE_REFUSE;
	r->ep_pos = 0;
	r->ep_count = 0;
	r->split_total = 0;
	r->svc_ns = r->svc_name = 0;
	if (!ldmesh_snap_service(s, vip->service, svc)) {
		r->why = "damaged service record";
		return;
	}
	r->svc_ns = svc->ns;
	r->svc_name = svc->name;
	if (__builtin_expect(svc->split_count != 0, 0)) {
		route_pick_split(top, s, vip, svc, family, rnd, client_hash, r);
		return;
	}
	route__endpoints(s, svc, vip->port_index, family,
			 (svc->flags & LDMESH_SVC_F_AFFINITY_CLIENT_IP) ? client_hash : rnd, r);
}

/* Which backends a pick must pass over (tried already, ejected). */
typedef bool (*route_avoid_fn)(void *ctx, const uint8_t addr[16], uint16_t port);

/*
 * Another candidate of `vip`'s service: the first, walking from position
 * `start` (taken modulo the count), that serves the port in a family the
 * socket can dial and that `avoid` (may be NULL) does not reject;
 * ROUTE_REFUSE when there is none. With a random `start`, a uniform pick
 * that ignores ClientIP affinity.
 */
void route_pick_other(const struct ldmesh_snap *s, const struct ldmesh_vip_slot *vip,
		      int family, uint64_t start, route_avoid_fn avoid, void *ctx,
		      struct route_result *r) LDMESH_HIDDEN;

/* Whether backend:port is still one of `vip`'s candidates (a socket or a
 * resolver keeps the backend it was given while it is). */
bool route_is_candidate(const struct ldmesh_snap *s, const struct ldmesh_vip_slot *vip,
			const uint8_t backend[16], uint16_t port) LDMESH_HIDDEN;

#endif
