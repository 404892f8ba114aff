/* SPDX-License-Identifier: MIT */
/*
 * Warming a base announced ahead (reader.h, ldmesh_snap_warm): the pages
 * the lookups of a process's recent keys will read there, read now, in
 * the once-a-second check, so that the first connect after the switch
 * takes no page fault for them. A fault in a fresh mapping is the whole
 * cost of that connect (bench_table --switch-only: two cost 60-120 us on
 * a VM, the table code a few). Bounded like a lookup: probes by the
 * header's bound, ranges clipped to their sections, reads by a page budget;
 * the bytes may be anything.
 */
#include "ldmesh/reader.h"

/* The page size the reads step by: a smaller step than a real page only
 * reads a page twice. */
#define WARM_PAGE 4096u

/* The most pages one warm reads, whatever budget it is given. */
#define WARM_PAGES_MAX 64

struct warm {
	unsigned budget; /* distinct pages it may read, at most WARM_PAGES_MAX */
	unsigned n;
	uintptr_t pages[WARM_PAGES_MAX]; /* the pages read so far: keys share
	                                    pages (a service's VIP and name,
	                                    its namespace string), which are
	                                    counted once */
};

/* Whether `p` may be read: a page read before, or a new one within the
 * budget. */
static bool warm__may(struct warm *w, const volatile void *p)
{
	uintptr_t page = (uintptr_t)p & ~(uintptr_t)(WARM_PAGE - 1);

	for (unsigned k = 0; k < w->n; k++)
		if (w->pages[k] == page)
			return true;
	if (w->n == w->budget)
		return false;
	w->pages[w->n++] = page;
	return true;
}

/* The last byte of the record at `p` (a record may straddle two pages). */
#define warm__last(p) ((const uint8_t *)((p) + 1) - 1)

/* Read a byte of every page of entries [first, first + count) of a section
 * of n entries of `size` bytes (clipped to it). */
static void warm__range(struct warm *w, const void *section, size_t size, uint64_t n,
			uint64_t first, uint64_t count)
{
	const volatile uint8_t *p, *end;

	if (first >= n || !count)
		return;
	if (count > n - first)
		count = n - first;
	p = (const volatile uint8_t *)section + first * size;
	end = p + count * size;
	while (p < end && warm__may(w, p)) {
		(void)*p; /* volatile: read, though nothing uses the byte */
		/* on to the start of the next page */
		p += WARM_PAGE - ((uintptr_t)p & (WARM_PAGE - 1));
	}
}

/* A string of the own pool: its length byte, then its bytes. */
static void warm__string(struct warm *w, const struct ldmesh_snap *s, ldmesh_str_t ref)
{
	if (ref < s->strings_size && warm__may(w, &s->strings[ref]))
		warm__range(w, s->strings, 1, s->strings_size, ref,
			    1 + (uint64_t)*(const volatile uint8_t *)&s->strings[ref]);
}

/* What a connect or a name lookup reads after finding service `i`: its
 * record, ports, endpoints, their port rows, its affinity table and the
 * strings the trace names it by. */
static void warm__service(struct warm *w, const struct ldmesh_snap *s, uint32_t i)
{
	struct ldmesh_service svc;

	if (i >= s->n_services || !warm__may(w, &s->services[i]) ||
	    !warm__may(w, warm__last(&s->services[i])) || !ldmesh__service_own(s, i, &svc))
		return;
	warm__range(w, s->ports, sizeof(*s->ports), s->n_ports, svc.first_port, svc.port_count);
	warm__range(w, s->endpoints, sizeof(*s->endpoints), s->n_endpoints, svc.first_endpoint,
		    svc.endpoint_count);
	warm__range(w, s->endpoint_ports, sizeof(*s->endpoint_ports), s->n_endpoint_ports,
		    svc.first_endpoint_port, (uint64_t)svc.endpoint_count * svc.port_count);
	warm__range(w, s->affinity, sizeof(*s->affinity), s->n_affinity, svc.affinity_offset,
		    svc.affinity_size);
	warm__string(w, s, svc.ns);
	warm__string(w, s, svc.name);
}

/* Probe the VIP index as ldmesh__probe_vip does, matching slots by their
 * key's hash: the slots read are the ones that lookup reads. */
static bool warm__vip(struct warm *w, const struct ldmesh_snap *s, uint64_t h)
{
	uint32_t mask = s->vip_slots - 1, i = (uint32_t)h & mask;

	if (!s->vip_slots)
		return false;
	for (uint32_t n = 0; n < s->vip_max_probe; n++, i = (i + 1) & mask) {
		struct ldmesh_vip_slot slot;

		if (!warm__may(w, &s->vip[i]) || !warm__may(w, warm__last(&s->vip[i])))
			return false;
		LDMESH__COPY(&slot, &s->vip[i]);
		if (slot.service == LDMESH_NONE)
			return false;
		if (ldmesh_vip_hash(slot.addr, slot.port, slot.protocol) == h) {
			warm__service(w, s, slot.service);
			return true;
		}
	}
	return false;
}

static bool warm__name(struct warm *w, const struct ldmesh_snap *s, uint64_t h)
{
	uint32_t mask = s->name_slots - 1, i = (uint32_t)h & mask;

	if (!s->name_slots)
		return false;
	for (uint32_t n = 0; n < s->name_max_probe; n++, i = (i + 1) & mask) {
		struct ldmesh_name_slot slot;

		if (!warm__may(w, &s->names[i]) || !warm__may(w, warm__last(&s->names[i])))
			return false;
		LDMESH__COPY(&slot, &s->names[i]);
		if (slot.service == LDMESH_NONE)
			return false;
		if (slot.hash != h)
			continue;
		warm__string(w, s, slot.fqdn);
		warm__service(w, s, slot.service);
		if (slot.endpoint != LDMESH_NONE)
			warm__range(w, s->endpoints, sizeof(*s->endpoints), s->n_endpoints,
				    slot.endpoint, 1);
		return true;
	}
	return false;
}

unsigned ldmesh_snap_warm(const struct ldmesh_snap *s, const uint64_t *vip_hashes,
			  unsigned n_vip, const uint64_t *name_hashes, unsigned n_name,
			  unsigned page_budget)
{
	struct warm w = { .budget = page_budget < WARM_PAGES_MAX ? page_budget : WARM_PAGES_MAX,
			  .n = 0 };
	unsigned found = 0;

	/* what every name lookup reads first (lookup_name's domain) */
	warm__string(&w, s, s->cluster_domain);
	for (unsigned k = 0; k < n_vip; k++)
		found += vip_hashes[k] && warm__vip(&w, s, vip_hashes[k]);
	for (unsigned k = 0; k < n_name; k++)
		found += name_hashes[k] && warm__name(&w, s, name_hashes[k]);
	return found;
}
