/* SPDX-License-Identifier: MIT */
/* A VIP:port to its Service, through a snapshot (the agent's own table,
 * the one every process routes by). */
#include <stdio.h>

#include "metrics_snap.h"

bool metrics_resolve_snap(const struct ldmesh_snap *s, const uint8_t vip[16], uint16_t port,
			  uint8_t protocol, struct metrics_service *out)
{
	struct ldmesh_vip_slot slot;
	struct ldmesh_service svc;
	struct ldmesh_port p;
	char domain[256];

	if (!s || !ldmesh_snap_find_vip(s, vip, port, protocol, &slot) ||
	    !ldmesh_snap_service(s, slot.service, &svc) || slot.port_index >= svc.port_count ||
	    !ldmesh_snap_port(s, svc.first_port + slot.port_index, &p))
		return false;
	ldmesh_snap_strcpy(s, svc.ns, out->ns, sizeof(out->ns));
	ldmesh_snap_strcpy(s, svc.name, out->name, sizeof(out->name));
	ldmesh_snap_strcpy(s, p.name, out->port, sizeof(out->port));
	if (!out->port[0])
		snprintf(out->port, sizeof(out->port), "%u", p.port);
	ldmesh_snap_strcpy(s, s->cluster_domain, domain, sizeof(domain));
	snprintf(out->fqdn, sizeof(out->fqdn), "%s.%s.svc.%s", out->name, out->ns, domain);
	return out->name[0] != 0;
}
