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
