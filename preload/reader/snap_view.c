/* SPDX-License-Identifier: MIT */
/*
 * Records and lookups on a mapped snapshot whose header was checked. The
 * mapping is untrusted for its whole life (root may rewrite it in place):
 * each record is copied out and its fields checked in the copy, each
 * string is bounded by the section, each probe loop by the view's own
 * bound. Nothing here is O(table); a lookup touches only the pages it
 * reads.
 */
#include <string.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"

/*
 * Copies are made with memcpy into the caller's memory. A concurrent
 * change can tear a copy (mixing old and new fields), which is why every
 * field is checked in the copy and never re-read from the mapping. The
 * compiler barrier after the copy forbids the compiler to read a field
 * from the mapping again in place of the copy (it may no longer assume
 * the two are equal): the kernel's READ_ONCE, for a whole record.
 */
#define VIEW_COPY(dst, src)                                  \
	do {                                                 \
		memcpy((dst), (src), sizeof(*(dst)));        \
		__asm__ __volatile__("" ::: "memory");       \
	} while (0)

bool ldmesh_snap_service(const struct ldmesh_snap *s, uint32_t i,
			 struct ldmesh_service *out)
{
	const struct ldmesh_service *v = out;

	if (i >= s->n_services)
		return false;
	VIEW_COPY(out, &s->services[i]);
	return v->ip_count <= LDMESH_MAX_CLUSTER_IPS &&
	       (uint64_t)v->first_port + v->port_count <= s->n_ports &&
	       (uint64_t)v->first_endpoint + v->endpoint_count <= s->n_endpoints &&
	       (uint64_t)v->ready_count + v->fallback_count <= v->endpoint_count &&
	       (uint64_t)v->first_endpoint_port +
			       (uint64_t)v->endpoint_count * v->port_count <=
		       s->n_endpoint_ports &&
	       (uint64_t)v->affinity_offset + v->affinity_size <= s->n_affinity;
}

bool ldmesh_snap_port(const struct ldmesh_snap *s, uint32_t i,
		      struct ldmesh_port *out)
{
	if (i >= s->n_ports)
		return false;
	VIEW_COPY(out, &s->ports[i]);
	return true;
}

bool ldmesh_snap_endpoint(const struct ldmesh_snap *s, uint32_t i,
			  struct ldmesh_endpoint *out)
{
	if (i >= s->n_endpoints)
		return false;
	VIEW_COPY(out, &s->endpoints[i]);
	return true;
}

struct ldmesh_strv ldmesh_snap_string(const struct ldmesh_snap *s,
				      ldmesh_str_t ref)
{
	struct ldmesh_strv v = { .p = "", .len = 0 };
	uint8_t len;

	if (ref >= s->strings_size)
		return v;
	/* One read of the length byte; the bound is checked on that value. */
	len = *(const volatile uint8_t *)&s->strings[ref];
	if ((uint64_t)ref + 1 + len > s->strings_size)
		return v;
	v.p = s->strings + ref + 1;
	v.len = len;
	return v;
}

char *ldmesh_snap_strcpy(const struct ldmesh_snap *s, ldmesh_str_t ref,
			 char *buf, size_t cap)
{
	struct ldmesh_strv v = ldmesh_snap_string(s, ref);
	size_t n = v.len < cap ? v.len : cap - 1;

	if (!cap)
		return buf;
	memcpy(buf, v.p, n);
	buf[n] = '\0';
	return buf;
}

bool ldmesh_snap_find_vip(const struct ldmesh_snap *s, const uint8_t addr[16],
			  uint16_t port, uint8_t protocol,
			  struct ldmesh_vip_slot *out)
{
	uint32_t mask = s->vip_slots - 1, i;

	if (!s->vip_slots)
		return false;
	i = (uint32_t)ldmesh_vip_hash(addr, port, protocol) & mask;
	for (uint32_t n = 0; n < s->vip_max_probe; n++, i = (i + 1) & mask) {
		VIEW_COPY(out, &s->vip[i]);
		if (out->service == LDMESH_NONE)
			return false;
		if (out->port == port && out->protocol == protocol &&
		    !memcmp(out->addr, addr, 16))
			return out->service < s->n_services;
	}
	return false;
}

bool ldmesh_snap_find_name(const struct ldmesh_snap *s, const char *fqdn,
			   size_t len, struct ldmesh_name_slot *out)
{
	uint32_t mask = s->name_slots - 1, i;
	uint64_t h;

	if (!s->name_slots || len > LDMESH_STR_MAX)
		return false;
	h = ldmesh_hash64(fqdn, len, 0);
	i = (uint32_t)h & mask;
	for (uint32_t n = 0; n < s->name_max_probe; n++, i = (i + 1) & mask) {
		struct ldmesh_strv name;

		VIEW_COPY(out, &s->names[i]);
		if (out->service == LDMESH_NONE)
			return false;
		if (out->hash != h)
			continue;
		name = ldmesh_snap_string(s, out->fqdn);
		if (name.len == len && !memcmp(name.p, fqdn, len))
			return out->service < s->n_services;
	}
	return false;
}

uint16_t ldmesh_snap_endpoint_port(const struct ldmesh_snap *s,
				   const struct ldmesh_service *svc,
				   uint32_t ep, uint32_t port_index)
{
	uint32_t row = ep - svc->first_endpoint;

	/* `svc` is a checked copy: its matrix lies inside the section, so
	 * keeping row and column inside the service keeps the cell inside. */
	if (ep < svc->first_endpoint || row >= svc->endpoint_count ||
	    port_index >= svc->port_count)
		return 0;
	return s->endpoint_ports[svc->first_endpoint_port +
				 (uint64_t)row * svc->port_count + port_index];
}

uint32_t ldmesh_snap_pick(const struct ldmesh_snap *s,
			  const struct ldmesh_service *svc, uint32_t port_index,
			  uint64_t rnd, uint16_t *port)
{
	uint32_t first, n = ldmesh_snap_candidates(svc, &first);
	/* Multiply-shift maps the 64-bit draw onto [0, n) without the bias or
	 * the division of a modulo. */
	uint32_t start = (uint32_t)(((rnd >> 32) * (uint64_t)n) >> 32);

	if (!n)
		return LDMESH_NONE;
	if (svc->affinity_size && svc->ready_count) {
		/* read once; an entry out of range (a damaged table) keeps the
		 * random start */
		uint32_t a = *(const volatile uint32_t *)&s->affinity
				      [svc->affinity_offset +
				       (uint32_t)(rnd % svc->affinity_size)];
		if (a < n)
			start = a;
	}
	/* Usually the first candidate serves the port; endpoints that do not
	 * (slices with differing ports) are stepped over in order. */
	for (uint32_t k = 0, i = start; k < n; k++, i = i + 1 == n ? 0 : i + 1) {
		uint16_t p = ldmesh_snap_endpoint_port(s, svc, first + i, port_index);
		if (p) {
			*port = p;
			return first + i;
		}
	}
	return LDMESH_NONE;
}
