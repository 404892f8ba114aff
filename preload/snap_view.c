/* SPDX-License-Identifier: MIT */
/*
 * Validation of a snapshot and the lookups on a validated one. Validation is
 * the only place that distrusts the bytes: it proves every offset, count,
 * index and string reference in range, so lookups index without checks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"

#define VIEW_FAIL(...)                                   \
	do {                                             \
		view__why(why, why_len, __VA_ARGS__);    \
		return -EINVAL;                          \
	} while (0)

static void view__why(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!why || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

static const size_t view__entry_size[LDMESH_SEC_COUNT] = {
	[LDMESH_SEC_STRINGS] = 1,
	[LDMESH_SEC_SERVICES] = sizeof(struct ldmesh_service),
	[LDMESH_SEC_PORTS] = sizeof(struct ldmesh_port),
	[LDMESH_SEC_ENDPOINTS] = sizeof(struct ldmesh_endpoint),
	[LDMESH_SEC_ENDPOINT_PORTS] = sizeof(uint16_t),
	[LDMESH_SEC_VIP_INDEX] = sizeof(struct ldmesh_vip_slot),
	[LDMESH_SEC_NAME_INDEX] = sizeof(struct ldmesh_name_slot),
	[LDMESH_SEC_AFFINITY] = sizeof(uint32_t),
};

static const char *const view__section_name[LDMESH_SEC_COUNT] = {
	"strings", "services", "ports", "endpoints",
	"endpoint ports", "vip index", "name index", "affinity",
};

static bool view__str_ok(const struct ldmesh_snap *s, ldmesh_str_t ref)
{
	uint64_t end;

	if (ref >= s->strings_size)
		return false;
	end = (uint64_t)ref + 1 + (uint8_t)s->strings[ref];
	return end < s->strings_size && s->strings[end] == '\0';
}

static bool view__pow2_or_zero(uint32_t n)
{
	return (n & (n - 1)) == 0;
}

static int view__sections(struct ldmesh_snap *s, char *why, size_t why_len)
{
	const struct ldmesh_snap_header *h = s->hdr;
	uint64_t prev_end = h->header_size;

	for (int i = 0; i < LDMESH_SEC_COUNT; i++) {
		const struct ldmesh_section *sec = &h->sections[i];

		if (sec->entry_size != view__entry_size[i])
			VIEW_FAIL("%s: entry size %u, expected %zu",
				  view__section_name[i], sec->entry_size,
				  view__entry_size[i]);
		if ((uint64_t)sec->count * sec->entry_size != sec->size)
			VIEW_FAIL("%s: size %llu != count %u x %u",
				  view__section_name[i],
				  (unsigned long long)sec->size, sec->count,
				  sec->entry_size);
		/* Sections are in order and do not overlap: each starts at or
		 * after the previous end, 8-byte aligned for the structs. */
		if (sec->offset % 8 || sec->offset < prev_end ||
		    sec->offset > s->size || sec->size > s->size - sec->offset)
			VIEW_FAIL("%s: offset %llu size %llu outside the file",
				  view__section_name[i],
				  (unsigned long long)sec->offset,
				  (unsigned long long)sec->size);
		prev_end = sec->offset + sec->size;
	}

	s->strings = (const char *)s->base + h->sections[LDMESH_SEC_STRINGS].offset;
	s->strings_size = h->sections[LDMESH_SEC_STRINGS].count;
#define VIEW_SEC(field, n, id)                                              \
	do {                                                                \
		s->field = (const void *)(s->base + h->sections[id].offset); \
		s->n = h->sections[id].count;                               \
	} while (0)
	VIEW_SEC(services, n_services, LDMESH_SEC_SERVICES);
	VIEW_SEC(ports, n_ports, LDMESH_SEC_PORTS);
	VIEW_SEC(endpoints, n_endpoints, LDMESH_SEC_ENDPOINTS);
	VIEW_SEC(endpoint_ports, n_endpoint_ports, LDMESH_SEC_ENDPOINT_PORTS);
	VIEW_SEC(vip, vip_slots, LDMESH_SEC_VIP_INDEX);
	VIEW_SEC(names, name_slots, LDMESH_SEC_NAME_INDEX);
	VIEW_SEC(affinity, n_affinity, LDMESH_SEC_AFFINITY);
#undef VIEW_SEC

	if (!s->strings_size || s->strings[0] != 0 || s->strings_size < 2 ||
	    s->strings[1] != 0)
		VIEW_FAIL("strings: offset 0 is not the empty string");
	if (!view__pow2_or_zero(s->vip_slots) || !view__pow2_or_zero(s->name_slots))
		VIEW_FAIL("index capacity not a power of two");
	if (h->vip_max_probe > s->vip_slots || h->name_max_probe > s->name_slots)
		VIEW_FAIL("index probe bound larger than the index");
	return 0;
}

static int view__services(const struct ldmesh_snap *s, char *why, size_t why_len)
{
	for (uint32_t i = 0; i < s->n_services; i++) {
		const struct ldmesh_service *v = &s->services[i];
		uint64_t cells = (uint64_t)v->endpoint_count * v->port_count;

		if (!view__str_ok(s, v->ns) || !view__str_ok(s, v->name) ||
		    !view__str_ok(s, v->external_name))
			VIEW_FAIL("service %u: bad string reference", i);
		if (v->ip_count > LDMESH_MAX_CLUSTER_IPS)
			VIEW_FAIL("service %u: %u cluster IPs", i, v->ip_count);
		if ((uint64_t)v->first_port + v->port_count > s->n_ports)
			VIEW_FAIL("service %u: ports out of range", i);
		if ((uint64_t)v->first_endpoint + v->endpoint_count > s->n_endpoints)
			VIEW_FAIL("service %u: endpoints out of range", i);
		if ((uint64_t)v->ready_count + v->fallback_count > v->endpoint_count)
			VIEW_FAIL("service %u: chosen endpoints exceed endpoints", i);
		if (v->first_endpoint_port + cells > s->n_endpoint_ports)
			VIEW_FAIL("service %u: endpoint ports out of range", i);
		if ((uint64_t)v->affinity_offset + v->affinity_size > s->n_affinity)
			VIEW_FAIL("service %u: affinity table out of range", i);
		for (uint32_t a = 0; a < v->affinity_size; a++)
			if (s->affinity[v->affinity_offset + a] >= v->ready_count)
				VIEW_FAIL("service %u: affinity entry out of range", i);
	}
	for (uint32_t i = 0; i < s->n_ports; i++) {
		const struct ldmesh_port *p = &s->ports[i];
		if (!view__str_ok(s, p->name) || !view__str_ok(s, p->target_port_name) ||
		    !view__str_ok(s, p->app_protocol))
			VIEW_FAIL("port %u: bad string reference", i);
	}
	for (uint32_t i = 0; i < s->n_endpoints; i++) {
		const struct ldmesh_endpoint *e = &s->endpoints[i];
		if (!view__str_ok(s, e->node) || !view__str_ok(s, e->zone) ||
		    !view__str_ok(s, e->hostname) || !view__str_ok(s, e->target) ||
		    !view__str_ok(s, e->zone_hints))
			VIEW_FAIL("endpoint %u: bad string reference", i);
	}
	return 0;
}

static int view__indexes(const struct ldmesh_snap *s, char *why, size_t why_len)
{
	for (uint32_t i = 0; i < s->vip_slots; i++) {
		const struct ldmesh_vip_slot *slot = &s->vip[i];
		if (slot->service == LDMESH_NONE)
			continue;
		if (slot->service >= s->n_services ||
		    slot->port_index >= s->services[slot->service].port_count)
			VIEW_FAIL("vip slot %u: service or port out of range", i);
	}
	for (uint32_t i = 0; i < s->name_slots; i++) {
		const struct ldmesh_name_slot *slot = &s->names[i];
		const struct ldmesh_service *v;
		if (slot->service == LDMESH_NONE)
			continue;
		if (slot->service >= s->n_services || !view__str_ok(s, slot->fqdn))
			VIEW_FAIL("name slot %u: service or name out of range", i);
		v = &s->services[slot->service];
		if (slot->endpoint != LDMESH_NONE &&
		    (slot->endpoint < v->first_endpoint ||
		     slot->endpoint - v->first_endpoint >= v->endpoint_count))
			VIEW_FAIL("name slot %u: endpoint out of range", i);
	}
	return 0;
}

int ldmesh_snap_init(struct ldmesh_snap *s, const void *base, size_t size,
		     char *why, size_t why_len)
{
	const struct ldmesh_snap_header *h = base;
	struct ldmesh_snap v = { .base = base, .size = size, .hdr = base };
	int err;

	/* Every record is read through a struct pointer: a misaligned base
	 * is undefined behaviour before any check. Mappings are page-aligned;
	 * only a caller's own buffer can be off. */
	if ((uintptr_t)base % 8)
		VIEW_FAIL("snapshot at %p is not 8-byte aligned", base);
	if (size < sizeof(*h))
		VIEW_FAIL("truncated: %zu bytes, header needs %zu", size, sizeof(*h));
	if (h->magic != LDMESH_SNAP_MAGIC)
		VIEW_FAIL("bad magic 0x%08x", h->magic);
	if (h->version_major != LDMESH_SNAP_VERSION_MAJOR)
		VIEW_FAIL("format version %u, this reader speaks %u",
			  h->version_major, LDMESH_SNAP_VERSION_MAJOR);
	if (h->total_size != size)
		VIEW_FAIL("size %llu in header, file has %zu",
			  (unsigned long long)h->total_size, size);
	if (h->header_size < sizeof(*h) || h->header_size > size)
		VIEW_FAIL("header size %u", h->header_size);
	if (ldmesh_hash64((const uint8_t *)base + 16, size - 16, 0) != h->checksum)
		VIEW_FAIL("bad checksum");

	err = view__sections(&v, why, why_len);
	if (!err && (!view__str_ok(&v, h->cluster_domain) ||
		     !view__str_ok(&v, h->node_name)))
		VIEW_FAIL("header: bad string reference");
	if (!err)
		err = view__services(&v, why, why_len);
	if (!err)
		err = view__indexes(&v, why, why_len);
	if (err)
		return err;
	v.generation = h->generation;
	*s = v;
	return 0;
}

const struct ldmesh_vip_slot *ldmesh_snap_find_vip(const struct ldmesh_snap *s,
						   const uint8_t addr[16],
						   uint16_t port,
						   uint8_t protocol)
{
	uint32_t mask = s->vip_slots - 1, probes = s->hdr->vip_max_probe;
	uint32_t i;

	if (!s->vip_slots)
		return NULL;
	i = (uint32_t)ldmesh_vip_hash(addr, port, protocol) & mask;
	for (uint32_t n = 0; n < probes; n++, i = (i + 1) & mask) {
		const struct ldmesh_vip_slot *slot = &s->vip[i];
		if (slot->service == LDMESH_NONE)
			return NULL;
		if (slot->port == port && slot->protocol == protocol &&
		    !memcmp(slot->addr, addr, 16))
			return slot;
	}
	return NULL;
}

const struct ldmesh_name_slot *ldmesh_snap_find_name(const struct ldmesh_snap *s,
						     const char *fqdn,
						     size_t len)
{
	uint32_t mask = s->name_slots - 1, probes = s->hdr->name_max_probe;
	uint64_t h;
	uint32_t i;

	if (!s->name_slots || len > LDMESH_STR_MAX)
		return NULL;
	h = ldmesh_hash64(fqdn, len, 0);
	i = (uint32_t)h & mask;
	for (uint32_t n = 0; n < probes; n++, i = (i + 1) & mask) {
		const struct ldmesh_name_slot *slot = &s->names[i];
		if (slot->service == LDMESH_NONE)
			return NULL;
		if (slot->hash == h && ldmesh_snap_strlen(s, slot->fqdn) == len &&
		    !memcmp(ldmesh_snap_str(s, slot->fqdn), fqdn, len))
			return slot;
	}
	return NULL;
}

uint32_t ldmesh_snap_candidates(const struct ldmesh_snap *s,
				const struct ldmesh_service *svc,
				uint32_t *first)
{
	/* Ready endpoints come first; the fallback ones follow them, so with
	 * none ready they start at the same place. */
	*first = svc->first_endpoint;
	return svc->ready_count ? svc->ready_count : svc->fallback_count;
}

uint32_t ldmesh_snap_pick(const struct ldmesh_snap *s,
			  const struct ldmesh_service *svc, uint32_t port_index,
			  uint64_t rnd, uint16_t *port)
{
	uint32_t first, n = ldmesh_snap_candidates(s, svc, &first);
	uint32_t start;

	if (!n)
		return LDMESH_NONE;
	if (svc->affinity_size && svc->ready_count)
		start = s->affinity[svc->affinity_offset +
				    (uint32_t)(rnd % svc->affinity_size)];
	else
		/* Multiply-shift maps the 64-bit draw onto [0, n) without the
		 * bias or the division of a modulo. */
		start = (uint32_t)(((rnd >> 32) * (uint64_t)n) >> 32);
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
