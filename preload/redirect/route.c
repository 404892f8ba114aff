/* SPDX-License-Identifier: MIT */
#include "route.h"

#include <string.h>

#include "addr.h"

void route_pick_other(const struct ldmesh_snap *s, const struct ldmesh_vip_slot *vip,
		      int family, uint64_t start, route_avoid_fn avoid, void *ctx,
		      struct route_result *r)
{
	struct ldmesh_service svc;
	struct ldmesh_endpoint e;
	uint32_t first, n;

	r->verdict = ROUTE_REFUSE;
	r->why = "every candidate tried or ejected";
	r->svc_ns = r->svc_name = 0;
	if (!ldmesh_snap_service(s, vip->service, &svc)) {
		r->why = "damaged service record";
		return;
	}
	r->svc_ns = svc.ns;
	r->svc_name = svc.name;
	n = r->ep_count = ldmesh_snap_candidates(&svc, &first);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t cand = first + (uint32_t)((start + i) % n);
		uint16_t port = ldmesh_snap_endpoint_port(s, &svc, cand, vip->port_index);

		if (port && ldmesh_snap_endpoint(s, cand, &e) && addr_reachable(family, e.addr) &&
		    (!avoid || !avoid(ctx, e.addr, port))) {
			route__take(e.addr, cand, port, first, n, r);
			return;
		}
	}
}

bool route_is_candidate(const struct ldmesh_snap *s, const struct ldmesh_vip_slot *vip,
			const uint8_t backend[16], uint16_t port)
{
	struct ldmesh_service svc;
	struct ldmesh_endpoint e;
	uint32_t first, n;

	if (!ldmesh_snap_service(s, vip->service, &svc))
		return false;
	n = ldmesh_snap_candidates(&svc, &first);
	for (uint32_t i = first; i < first + n; i++)
		if (ldmesh_snap_endpoint_port(s, &svc, i, vip->port_index) == port &&
		    ldmesh_snap_endpoint(s, i, &e) && !memcmp(e.addr, backend, 16))
			return true;
	return false;
}

/* The splits of `svc` that apply to a connect to its port `port`: those
 * naming that port when there are any, else those naming no port. The
 * total weight of the group into *total (each weight capped by the
 * reader, at most LDMESH_SPLITS_MAX of them: it fits 32 bits); returns
 * the parent port the group is for, or -1 when no split applies. */
static int route__split_group(const struct ldmesh_snap *s, const struct ldmesh_service *svc,
			      uint16_t port, uint32_t *total)
{
	struct ldmesh_split sp;
	uint32_t sum[2] = { 0, 0 };
	bool any[2] = { false, false };

	for (uint32_t k = 0; ldmesh_snap_split(s, svc, k, &sp); k++) {
		int g = sp.parent_port == port ? 0 : sp.parent_port == 0 ? 1 : -1;

		if (g >= 0) {
			any[g] = true;
			sum[g] += sp.weight;
		}
	}
	*total = any[0] ? sum[0] : sum[1];
	return any[0] ? port : any[1] ? 0 : -1;
}

/* The split of group `group` the draw `x` (below the total) falls in. */
static bool route__split_draw(const struct ldmesh_snap *s, const struct ldmesh_service *svc,
			      int group, uint32_t x, struct ldmesh_split *out)
{
	for (uint32_t k = 0; ldmesh_snap_split(s, svc, k, out); k++) {
		if (out->parent_port != group || !out->weight)
			continue;
		if (x < out->weight)
			return true;
		x -= out->weight;
	}
	return false;
}

/* The backend Service `sp` names, in the whole table `top`, and the index
 * of its port sp->port for `protocol`: a slot as the VIP lookup gives. */
static bool route__split_target(const struct ldmesh_snap *top, const struct ldmesh_snap *s,
				const struct ldmesh_split *sp, uint8_t protocol,
				struct ldmesh_vip_slot *out, struct ldmesh_service *svc)
{
	struct ldmesh_name_slot ns;
	struct ldmesh_port p;
	char fqdn[256]; /* a length byte says at most 255 */
	struct ldmesh_strv t = ldmesh_snap_string(s, sp->target);

	/* copied: the bytes are the mapping's, and the lookup hashes them */
	memcpy(fqdn, t.p, t.len);
	fqdn[t.len] = 0;
	if (!t.len || !ldmesh_snap_find_name(top, fqdn, t.len, &ns) ||
	    ns.endpoint != LDMESH_NONE || !ldmesh_snap_service(top, ns.service, svc))
		return false;
	for (uint32_t i = 0; i < svc->port_count && i < UINT16_MAX; i++)
		if (ldmesh_snap_port(top, svc->first_port + i, &p) && p.port == sp->port &&
		    p.protocol == protocol) {
			*out = (struct ldmesh_vip_slot){ .service = ns.service, .port_index = i,
							 .protocol = protocol };
			return true;
		}
	return false;
}

void route_pick_split(const struct ldmesh_snap *top, const struct ldmesh_snap *s,
		      const struct ldmesh_vip_slot *vip, const struct ldmesh_service *svc,
		      int family, uint64_t rnd, uint64_t client_hash, struct route_result *r)
{
	struct ldmesh_service target;
	struct ldmesh_vip_slot tvip;
	struct ldmesh_split sp;
	struct ldmesh_port p;
	const struct ldmesh_snap *ts;
	/* sessionAffinity: ClientIP on the parent sticks a client to one
	 * backend Service too, and then to one of its endpoints */
	uint64_t key = (svc->flags & LDMESH_SVC_F_AFFINITY_CLIENT_IP) ? client_hash : rnd;
	uint32_t total = 0;
	int group = -1;

	/* a TCPRoute splits TCP: the service's UDP ports keep its endpoints */
	if (vip->protocol == LDMESH_PROTO_TCP && vip->port_index < svc->port_count &&
	    ldmesh_snap_port(s, svc->first_port + vip->port_index, &p))
		group = route__split_group(s, svc, p.port, &total);
	if (group < 0) {
		route__endpoints(s, svc, vip->port_index, family, key, r);
		return;
	}
	r->split_total = total ? total : 1;
	r->split_target = 0;
	r->split_weight = 0;
	/* Multiply-shift onto [0, total), from the low bits: the high ones
	 * draw the endpoint. */
	if (!total ||
	    !route__split_draw(s, svc, group, (uint32_t)(((key & 0xffffffffu) * total) >> 32),
			       &sp)) {
		r->why = "every backendRef has weight 0";
		return;
	}
	r->split_target = sp.target;
	r->split_weight = sp.weight;
	/* The Gateway API: the share of a backendRef that cannot be
	 * resolved is rejected, not spread over the others. */
	if (!sp.target) {
		r->why = "backendRef refused (not a Service of the route's namespace)";
		return;
	}
	if (!route__split_target(top, s, &sp, vip->protocol, &tvip, &target)) {
		r->why = "backendRef Service or its port not found";
		return;
	}
	ts = ldmesh_snap_holder(top, &tvip);
	if (ts != top && !ldmesh_snap_service(ts, tvip.service, &target)) {
		r->why = "damaged service record";
		return;
	}
	route__endpoints(ts, &target, tvip.port_index, family, key, r);
	/* the endpoint is of the backend Service, in its layer: its position
	 * stays, the names stay the parent's (the split says where it went) */
}
