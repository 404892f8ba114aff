/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the snapshot validator, then every lookup on whatever
 * it accepts. "Validated once, trusted after" (DESIGN.md) only holds if no
 * accepted byte string can send a lookup out of bounds, so after a
 * successful ldmesh_snap_init this touches every string reference, runs
 * find_vip for every VIP slot and every service's addresses and ports,
 * find_name for every name slot, candidates and pick (several draws) for
 * every port of every service. ASan turns any stray read into a crash.
 *
 * Random bytes almost never carry a valid checksum, so each input is tried
 * twice: as given (the checksum must refuse it), and with total_size and
 * the checksum patched in, which lets the fuzzer reach the bounds checks
 * behind the checksum.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fz_sink;

static size_t fz__str(const struct ldmesh_snap *s, ldmesh_str_t ref)
{
	const char *p = ldmesh_snap_str(s, ref);
	size_t len = ldmesh_snap_strlen(s, ref);

	/* Every byte plus the terminator the validator promised. */
	return strnlen(p, len) + (uint8_t)p[len];
}

static void fz__service(const struct ldmesh_snap *s, uint32_t i)
{
	const struct ldmesh_service *v = &s->services[i];
	uint64_t acc = fz__str(s, v->ns) + fz__str(s, v->name) +
		       fz__str(s, v->external_name);
	uint32_t first, n = ldmesh_snap_candidates(s, v, &first);

	for (uint32_t k = 0; k < n; k++)
		acc += s->endpoints[first + k].addr[15];
	for (uint32_t p = 0; p < v->port_count; p++) {
		const struct ldmesh_port *port = &s->ports[v->first_port + p];
		static const uint64_t draws[] = { 0, 1, 0x8000000000000000ULL,
						  UINT64_MAX, 0x0123456789abcdefULL };

		acc += fz__str(s, port->name) +
		       fz__str(s, port->target_port_name) +
		       fz__str(s, port->app_protocol);
		for (uint32_t c = 0; c < v->ip_count; c++)
			acc += (uintptr_t)ldmesh_snap_find_vip(
				s, v->cluster_ips[c], port->port, port->protocol);
		for (size_t d = 0; d < sizeof(draws) / sizeof(draws[0]); d++) {
			uint16_t out = 0;
			uint32_t ep = ldmesh_snap_pick(s, v, p, draws[d], &out);

			if (ep != LDMESH_NONE)
				acc += s->endpoints[ep].addr[0] + out;
		}
		for (uint32_t e = 0; e < v->endpoint_count; e++)
			acc += ldmesh_snap_endpoint_port(
				s, v, v->first_endpoint + e, p);
	}
	fz_sink += acc;
}

static void fz__lookups(const struct ldmesh_snap *s)
{
	uint64_t acc = fz__str(s, s->hdr->cluster_domain) +
		       fz__str(s, s->hdr->node_name);

	for (uint32_t i = 0; i < s->n_services; i++)
		fz__service(s, i);
	for (uint32_t i = 0; i < s->n_endpoints; i++) {
		const struct ldmesh_endpoint *e = &s->endpoints[i];

		acc += fz__str(s, e->node) + fz__str(s, e->zone) +
		       fz__str(s, e->hostname) + fz__str(s, e->target) +
		       fz__str(s, e->zone_hints);
	}
	for (uint32_t i = 0; i < s->vip_slots; i++) {
		const struct ldmesh_vip_slot *slot = &s->vip[i];

		if (slot->service == LDMESH_NONE)
			continue;
		acc += (uintptr_t)ldmesh_snap_find_vip(s, slot->addr, slot->port,
						       slot->protocol);
		acc += s->services[slot->service].port_count - slot->port_index;
	}
	for (uint32_t i = 0; i < s->name_slots; i++) {
		const struct ldmesh_name_slot *slot = &s->names[i];
		const struct ldmesh_name_slot *hit;

		if (slot->service == LDMESH_NONE)
			continue;
		hit = ldmesh_snap_find_name(s, ldmesh_snap_str(s, slot->fqdn),
					    ldmesh_snap_strlen(s, slot->fqdn));
		acc += (uintptr_t)hit + s->services[slot->service].ready_count;
		if (slot->endpoint != LDMESH_NONE)
			acc += s->endpoints[slot->endpoint].addr[15];
	}
	/* Misses: a name longer than any entry, and the empty name. */
	acc += (uintptr_t)ldmesh_snap_find_name(s, "", 0);
	fz_sink += acc;
}

static void fz__try(const uint8_t *buf, size_t size)
{
	struct ldmesh_snap s;
	char why[256];

	if (ldmesh_snap_init(&s, buf, size, why, sizeof(why)) == 0)
		fz__lookups(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ldmesh_snap_header *h;
	uint8_t *buf;

	/* Snapshots are mmapped, so page-aligned; the structs need 8, which
	 * malloc gives (16). An exact-size copy puts ASan's redzone right
	 * after the last byte, where libFuzzer's own buffer would not. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	fz__try(buf, size);
	if (size >= sizeof(*h)) {
		h = (struct ldmesh_snap_header *)buf;
		h->total_size = size;
		h->checksum = ldmesh_hash64(buf + 16, size - 16, 0);
		fz__try(buf, size);
	}
	free(buf);
	return 0;
}
