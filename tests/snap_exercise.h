/* SPDX-License-Identifier: MIT */
/*
 * Every read a reader can make of a snapshot, on whatever bytes it holds:
 * each record through the checked accessors, each string, every index slot
 * looked up again by its own key, backend choice for every service port,
 * and the preload's own name and route paths. The hostile-table test, the
 * snapshot fuzz target and the live-mutation stress test run it on damaged
 * bytes: it must finish (bounded loops) without reading outside the
 * mapping. Answers are returned only as a checksum, so the work cannot be
 * optimised away; they are wrong on a damaged table, and that is allowed.
 */
#ifndef LDMESH_TESTS_SNAP_EXERCISE_H
#define LDMESH_TESTS_SNAP_EXERCISE_H

#include <string.h>

#include "config.h"
#include "ldmesh/reader.h"
#include "lookup.h"
#include "route.h"

static inline uint64_t exercise__mix(uint64_t acc, uint64_t v)
{
	return (acc ^ v) * 0x100000001b3ULL;
}

static inline uint64_t exercise_strings(const struct ldmesh_snap *s, uint64_t acc,
					const ldmesh_str_t *refs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct ldmesh_strv v = ldmesh_snap_string(s, refs[i]);
		for (unsigned k = 0; k < v.len; k++)
			acc = exercise__mix(acc, (uint8_t)v.p[k]);
	}
	return acc;
}

/* Every index slot of `k` (s itself, or its base), looked up by its own
 * key in `s`. */
static inline uint64_t exercise_slots(const struct ldmesh_snap *s,
				      const struct ldmesh_snap *k, uint32_t first,
				      uint32_t limit, const struct preload_config *cfg,
				      uint64_t acc)
{
	uint64_t vh[LDMESH_TABLE_USED] = { 0 }, nh[LDMESH_TABLE_USED] = { 0 };

	for (uint32_t i = 0; i < k->vip_slots && i < limit; i++) {
		struct ldmesh_vip_slot slot, found;

		memcpy(&slot, &k->vip[(first + i) & (k->vip_slots - 1)], sizeof(slot));
		if (ldmesh_snap_find_vip(s, slot.addr, slot.port, slot.protocol, &found))
			acc = exercise__mix(acc, found.service);
		vh[i % LDMESH_TABLE_USED] = ldmesh_vip_hash(slot.addr, slot.port, slot.protocol);
	}
	for (uint32_t i = 0; i < k->name_slots && i < limit; i++) {
		struct ldmesh_name_slot slot, found;
		struct ldmesh_strv v;
		char name[256]; /* a damaged length byte says up to 255 */
		struct lookup_result lr;

		memcpy(&slot, &k->names[(first + i) & (k->name_slots - 1)], sizeof(slot));
		v = ldmesh_snap_string(k, slot.fqdn);
		memcpy(name, v.p, v.len);
		name[v.len] = 0;
		if (ldmesh_snap_find_name(s, name, v.len, &found))
			acc = exercise__mix(acc, found.endpoint);
		lookup_name(s, cfg, name, acc, &lr);
		acc = exercise__mix(acc, lr.n_addrs);
		nh[i % LDMESH_TABLE_USED] = slot.hash;
	}
	/* warming them, as the check does in a base announced ahead */
	acc = exercise__mix(acc, ldmesh_snap_warm(k, vh, LDMESH_TABLE_USED, nh,
						  LDMESH_TABLE_USED, LDMESH_TABLE_WARM_PAGES));
	return acc;
}

/* Walk services [first, first + count) (wrapping) and everything they
 * reach; `limit` bounds the work on a large snapshot. */
static inline uint64_t exercise_snap(const struct ldmesh_snap *s, uint32_t first,
				     uint32_t limit)
{
	static const struct preload_config *cfg;
	static struct preload_config cfg_storage;
	uint64_t acc = s->generation;
	/* the unified space: a linked delta's services, then its base's */
	uint32_t count = ldmesh_snap_service_count(s);
	uint32_t n = count < limit ? count : limit;

	if (!cfg) {
		config_defaults(&cfg_storage);
		cfg = &cfg_storage;
	}
	{
		ldmesh_str_t hdr[2] = { s->cluster_domain, s->node_name };
		acc = exercise_strings(s, acc, hdr, 2);
	}
	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = count ? (first + k) % count : 0;
		struct ldmesh_service svc;
		char fqdn[2 * LDMESH_STR_MAX + 32];
		struct lookup_result lr;
		size_t len;

		acc = exercise__mix(acc, ldmesh_snap_service_listed(s, i));
		if (!ldmesh_snap_service(s, i, &svc))
			continue;
		{
			ldmesh_str_t refs[3] = { svc.ns, svc.name, svc.external_name };
			acc = exercise_strings(s, acc, refs, 3);
		}
		for (uint32_t p = 0; p < svc.port_count && p < 64; p++) {
			struct ldmesh_port port;
			struct ldmesh_vip_slot vip;
			struct route_result rr;
			uint16_t bport = 0;

			if (ldmesh_snap_port(s, svc.first_port + p, &port)) {
				ldmesh_str_t refs[3] = { port.name, port.target_port_name,
							 port.app_protocol };
				acc = exercise_strings(s, acc, refs, 3);
				for (unsigned ip = 0; ip < svc.ip_count; ip++)
					if (ldmesh_snap_find_vip(s, svc.cluster_ips[ip], port.port,
								 port.protocol, &vip)) {
						route_pick(s, s, &vip, 10 /* AF_INET6 */, acc, acc >> 7, &rr);
						acc = exercise__mix(acc, rr.verdict == ROUTE_REDIRECT
										 ? rr.backend_port : 0);
					}
			}
			acc = exercise__mix(acc, ldmesh_snap_pick(s, &svc, p, acc, &bport));
			acc = exercise__mix(acc, bport);
		}
		/* the traffic splits (3.5): records and their targets */
		for (uint32_t sk = 0; sk < 64; sk++) {
			struct ldmesh_split sp;

			if (!ldmesh_snap_split(s, &svc, sk, &sp))
				break;
			acc = exercise_strings(s, exercise__mix(acc, sp.weight + sp.port), &sp.target, 1);
		}
		for (uint32_t e = 0; e < svc.endpoint_count && e < 64; e++) {
			struct ldmesh_endpoint ep;

			if (!ldmesh_snap_endpoint(s, svc.first_endpoint + e, &ep))
				continue;
			ldmesh_str_t refs[5] = { ep.node, ep.zone, ep.hostname, ep.target,
						 ep.zone_hints };
			acc = exercise_strings(s, acc, refs, 5);
			acc = exercise__mix(acc, ldmesh_snap_endpoint_port(
							 s, &svc, svc.first_endpoint + e, 0));
		}
		/* the preload's name path, as a pod in the service's namespace
		 * would ask */
		{
			struct ldmesh_strv ns = ldmesh_snap_string(s, svc.ns);
			struct ldmesh_strv name = ldmesh_snap_string(s, svc.name);

			memcpy(fqdn, name.p, name.len);
			fqdn[name.len] = '.';
			memcpy(fqdn + name.len + 1, ns.p, ns.len);
			len = name.len + 1 + ns.len;
			memcpy(fqdn + len, ".svc.cluster.local", 19);
		}
		lookup_name(s, cfg, fqdn, acc, &lr);
		acc = exercise__mix(acc, lr.n_addrs);
		acc = exercise__mix(acc, (uint64_t)lr.status);
	}
	acc = exercise_slots(s, s, first, limit, cfg, acc);
	/* and the base's keys through the delta (the shadows among them) */
	if (s->base_snap)
		acc = exercise_slots(s, s->base_snap, first, limit, cfg, acc);
	return acc;
}

#endif
