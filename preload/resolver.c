/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "resolver.h"

#ifdef __GLIBC__
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

/*
 * What this thread did to its _res: for each nameserver slot, the VIP that
 * resolv.conf named and the backend written in its place, so the next
 * lookup recognises its own change (the slot then holds the backend) and
 * can undo or renew it. glibc leaves a _res that its program changed as it
 * is: it stops reloading resolv.conf into this thread (a resolv.conf
 * rewritten while the process runs is not followed; pods' is not).
 */
struct resolver_slot {
	struct sockaddr_in vip, backend;
	uint64_t generation; /* of the table the backend was checked against */
	bool steered;
};

static __thread struct resolver_slot resolver__tls[MAXNS] LDMESH_TLS_IE;

static bool resolver__same(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_family == b->sin_family && a->sin_port == b->sin_port &&
	       a->sin_addr.s_addr == b->sin_addr.s_addr;
}

static void resolver__trace(const struct ldmesh_snap *s, const struct sockaddr_in *vip,
			    const struct route_result *r)
{
	struct trace_line l;
	uint8_t a[16];

	addr_from_v4(a, &vip->sin_addr);
	trace_begin(&l, "resolver nameserver ");
	trace_ipport(&l, a, ntohs(vip->sin_port));
	trace_route(&l, s, r, false);
	trace_emit(&l);
}

/* Slot i of _res: VIP `vip` (what resolv.conf says) gets a live backend,
 * keeps the one it has, or goes back to the VIP when the table no longer
 * routes it. */
static void resolver__slot(struct preload_state *st, const struct ldmesh_snap *s, int i,
			   struct resolver_slot *m, const struct sockaddr_in *vip)
{
	struct ldmesh_vip_slot slot;
	struct route_result r;
	uint8_t a[16];
	uint8_t b[16];

	addr_from_v4(a, &vip->sin_addr);
	if (!ldmesh_snap_find_vip(s, a, ntohs(vip->sin_port), LDMESH_PROTO_UDP, &slot)) {
		_res.nsaddr_list[i] = *vip; /* not (or no longer) a service */
		m->steered = false;
		return;
	}
	if (m->steered && m->generation == s->generation)
		return;
	if (m->steered) {
		addr_from_v4(b, &m->backend.sin_addr);
		if (route_is_candidate(ldmesh_snap_holder(s, &slot), &slot, b,
				       ntohs(m->backend.sin_port))) {
			m->generation = s->generation;
			return;
		}
	}
	s = ldmesh_snap_holder(s, &slot);
	route_pick(s, &slot, AF_INET, rng_next(), st->cfg.client_hash, &r);
	if (trace_on())
		resolver__trace(s, vip, &r);
	if (r.verdict != ROUTE_REDIRECT || !addr_is_v4(r.backend)) {
		_res.nsaddr_list[i] = *vip; /* nothing live: the query fails as it would */
		m->steered = false;
		return;
	}
	m->vip = *vip;
	memset(&m->backend, 0, sizeof(m->backend));
	m->backend.sin_family = AF_INET;
	m->backend.sin_port = htons(r.backend_port);
	memcpy(&m->backend.sin_addr, r.backend + 12, 4);
	m->generation = s->generation;
	m->steered = true;
	_res.nsaddr_list[i] = m->backend;
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
		struct sockaddr_in now = _res.nsaddr_list[i];

		/* IPv6 nameservers live in _res._u._ext and are left alone */
		if (now.sin_family != AF_INET)
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
