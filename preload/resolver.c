/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "resolver.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

#include "addr.h"
#include "rng.h"
#include "route.h"
#include "state.h"
#include "trace.h"

static void resolver__trace(const struct ldmesh_snap *s, const uint8_t vip[16], uint16_t port,
			    const struct route_result *r)
{
	struct trace_line l;

	trace_begin(&l, "resolver nameserver ");
	trace_ipport(&l, vip, port);
	trace_route(&l, s, r, false);
	trace_emit(&l);
}

bool resolver_backend(struct preload_state *st, const struct ldmesh_snap *s,
		      const uint8_t vip[16], uint16_t port, int family, uint8_t backend[16],
		      uint16_t *backend_port)
{
	const struct ldmesh_snap *top = s;
	struct ldmesh_vip_slot slot;
	struct route_result r;

	if (!ldmesh_snap_find_vip(s, vip, port, LDMESH_PROTO_UDP, &slot))
		return false;
	s = ldmesh_snap_holder(s, &slot);
	route_pick(top, s, &slot, family, rng_next(), st->cfg.client_hash, &r);
	if (trace_on())
		resolver__trace(s, vip, port, &r);
	if (r.verdict != ROUTE_REDIRECT || (family == AF_INET && !addr_is_v4(r.backend)))
		return false;
	memcpy(backend, r.backend, 16);
	*backend_port = r.backend_port;
	return true;
}

#ifdef __GLIBC__

/*
 * What this thread did to its _res: for each nameserver slot, the VIP that
 * resolv.conf named and the backend written in its place, so the next
 * lookup recognises its own change (the slot then holds the backend) and
 * can undo or renew it. glibc leaves a _res that its program changed as it
 * is: it stops reloading resolv.conf into this thread (a resolv.conf
 * rewritten while the process runs is not followed; pods' is not).
 *
 * Where a slot lives: an IPv4 nameserver in _res.nsaddr_list[i]; an IPv6
 * one in *_res._u._ext.nsaddrs[i] (glibc's resolver sends to that when
 * nsaddr_list[i] has family 0: get_nsaddr in res_send.c). Both are
 * rewritten in place, each in its own family, so glibc frees and compares
 * what it allocated.
 */
struct resolver_ns {
	uint8_t addr[16]; /* IPv4-mapped for IPv4 */
	uint16_t port;
};

struct resolver_slot {
	struct resolver_ns vip, backend;
	uint64_t generation; /* of the table the backend was checked against */
	bool steered;
};

static __thread struct resolver_slot resolver__tls[MAXNS] LDMESH_TLS_IE;

/* Slot i's nameserver, if it is an IP one glibc will use. */
static bool resolver__get(int i, struct resolver_ns *ns)
{
	const struct sockaddr_in6 *v6 = _res._u._ext.nsaddrs[i];

	if (_res.nsaddr_list[i].sin_family == AF_INET) {
		addr_from_v4(ns->addr, &_res.nsaddr_list[i].sin_addr);
		ns->port = ntohs(_res.nsaddr_list[i].sin_port);
		return true;
	}
	if (_res.nsaddr_list[i].sin_family == 0 && v6 && v6->sin6_family == AF_INET6) {
		memcpy(ns->addr, &v6->sin6_addr, 16);
		ns->port = ntohs(v6->sin6_port);
		return true;
	}
	return false;
}

/* Write `ns` into slot i, in the slot's own family (an IPv4 backend of an
 * IPv6 slot as IPv4-mapped: glibc's IPv6 socket reaches it). */
static void resolver__put(int i, const struct resolver_ns *ns)
{
	struct sockaddr_in6 *v6 = _res._u._ext.nsaddrs[i];

	if (_res.nsaddr_list[i].sin_family == AF_INET) {
		if (!addr_is_v4(ns->addr))
			return; /* an IPv4 slot cannot hold it: left as it is */
		memcpy(&_res.nsaddr_list[i].sin_addr, ns->addr + 12, 4);
		_res.nsaddr_list[i].sin_port = htons(ns->port);
	} else {
		memcpy(&v6->sin6_addr, ns->addr, 16);
		v6->sin6_port = htons(ns->port);
	}
}

static bool resolver__same(const struct resolver_ns *a, const struct resolver_ns *b)
{
	return a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

/* Slot i of _res: VIP `vip` (what resolv.conf says) gets a live backend,
 * keeps the one it has, or goes back to the VIP when the table no longer
 * routes it. */
static void resolver__slot(struct preload_state *st, const struct ldmesh_snap *s, int i,
			   struct resolver_slot *m, const struct resolver_ns *vip)
{
	int family = _res.nsaddr_list[i].sin_family == AF_INET ? AF_INET : AF_INET6;
	struct ldmesh_vip_slot slot;
	struct resolver_ns b;

	if (!ldmesh_snap_find_vip(s, vip->addr, vip->port, LDMESH_PROTO_UDP, &slot)) {
		resolver__put(i, vip); /* not (or no longer) a service */
		m->steered = false;
		return;
	}
	if (m->steered && m->generation == s->generation)
		return;
	if (m->steered &&
	    route_is_candidate(ldmesh_snap_holder(s, &slot), &slot, m->backend.addr,
			       m->backend.port)) {
		m->generation = s->generation;
		return;
	}
	if (!resolver_backend(st, s, vip->addr, vip->port, family, b.addr, &b.port)) {
		resolver__put(i, vip); /* nothing live: the query fails as it would */
		m->steered = false;
		return;
	}
	m->vip = *vip;
	m->backend = b;
	m->generation = ldmesh_snap_holder(s, &slot)->generation;
	m->steered = true;
	resolver__put(i, &m->backend);
}

void resolver_steer(struct preload_state *st, const struct ldmesh_snap *s)
{
	int saved = errno, herr = h_errno;

	/* glibc would initialise it at the lookup; the nameservers are needed
	 * now (the same res_init the lookup would make) */
	if (!(_res.options & RES_INIT) && res_init() < 0)
		goto out;
	for (int i = 0; i < _res.nscount && i < MAXNS; i++) {
		struct resolver_slot *m = &resolver__tls[i];
		struct resolver_ns now;

		if (!resolver__get(i, &now))
			continue;
		/* the slot holds our backend: resolv.conf's VIP is behind it */
		resolver__slot(st, s, i, m, m->steered && resolver__same(&now, &m->backend) ? &m->vip
											   : &now);
	}
out:
	errno = saved;
	h_errno = herr;
}
#else
void resolver_steer(struct preload_state *st, const struct ldmesh_snap *s)
{
	(void)st;
	(void)s;
}
#endif
