/* SPDX-License-Identifier: MIT */
/*
 * Snapshot assembly: the file is laid out once the sizes are known, every
 * block copied in with its references relocated, shadows and SUPERSEDED
 * added for a delta, both indexes placed, and the header sealed last (by
 * the reader library, which owns its bytes).
 */
#include "snap_assemble.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"

static inline ldmesh_str_t reloc(ldmesh_str_t r, uint32_t base)
{
	return (r & SNAP_BLOCK_LOCAL) ? base + (r & ~SNAP_BLOCK_LOCAL) : r;
}

struct layout {
	struct ldmesh_snap_header h;
	uint8_t *file;
	struct ldmesh_service *services;
	struct ldmesh_port *ports;
	struct ldmesh_endpoint *eps;
	uint16_t *ep_ports;
	uint32_t *affinity;
	uint32_t *superseded;
	struct ldmesh_split *splits;    /* 3.5, after every section */
	uint32_t n_splits;
	char *strings;
	struct ldmesh_vip_slot *vips;   /* keys, before placement */
	struct ldmesh_name_slot *names; /* keys, before placement */
	size_t n_vips, n_names;
	uint32_t str, port, ep, cell, aff, split; /* next free entry while copying */
};

static uint32_t assemble__pow2(size_t keys)
{
	uint32_t n = 1;

	if (!keys)
		return 0;
	/* At most half full: linear probing stays short. */
	while (n < keys * 2)
		n <<= 1;
	return n;
}

static uint64_t assemble__align8(uint64_t v)
{
	return (v + 7) & ~(uint64_t)7;
}

/* What every section holds: entries per section, keys per index. */
static void assemble__count(const struct snap_assembly *a, struct layout *l,
			    uint64_t counts[LDMESH_SEC_COUNT])
{
	counts[LDMESH_SEC_STRINGS] = a->shared->len;
	counts[LDMESH_SEC_SERVICES] = a->n_blocks;
	counts[LDMESH_SEC_SUPERSEDED] = a->n_superseded;
	for (size_t i = 0; i < a->n_blocks; i++) {
		const struct snap_block *b = a->blocks[i];
		counts[LDMESH_SEC_STRINGS] += b->strings_len;
		counts[LDMESH_SEC_PORTS] += b->svc.port_count;
		counts[LDMESH_SEC_ENDPOINTS] += b->svc.endpoint_count;
		counts[LDMESH_SEC_ENDPOINT_PORTS] += (uint64_t)b->svc.endpoint_count * b->svc.port_count;
		counts[LDMESH_SEC_AFFINITY] += b->svc.affinity_size;
		l->n_splits += b->svc.split_count;
		l->n_vips += b->n_vips;
		l->n_names += b->n_names;
	}
	/* A shadow name carries its FQDN, copied after the blocks' strings. */
	for (size_t i = 0; i < a->n_shadowed; i++) {
		const struct snap_shadow *b = a->shadowed[i];
		const struct snap_name_key *names = snap_shadow_names(b);
		for (uint32_t k = 0; k < b->n_names; k++) {
			uint8_t len;
			snap_shadow_str(b, names[k].fqdn, &len);
			counts[LDMESH_SEC_STRINGS] += len + 2u;
		}
		l->n_vips += b->n_vips;
		l->n_names += b->n_names;
	}
}

static int assemble__layout(const struct snap_assembly *a, struct layout *l)
{
	uint64_t counts[LDMESH_SEC_COUNT] = { 0 };
	static const uint32_t sizes[LDMESH_SEC_COUNT] = {
		1, sizeof(struct ldmesh_service), sizeof(struct ldmesh_port),
		sizeof(struct ldmesh_endpoint), sizeof(uint16_t),
		sizeof(struct ldmesh_vip_slot), sizeof(struct ldmesh_name_slot),
		sizeof(uint32_t), sizeof(uint32_t),
	};
	uint64_t off = sizeof(l->h);

	assemble__count(a, l, counts);
	if (l->n_vips > UINT32_MAX / 4 || l->n_names > UINT32_MAX / 4)
		return -E2BIG;
	counts[LDMESH_SEC_VIP_INDEX] = assemble__pow2(l->n_vips);
	counts[LDMESH_SEC_NAME_INDEX] = assemble__pow2(l->n_names);
	for (int i = 0; i < LDMESH_SEC_COUNT; i++) {
		if (counts[i] >= UINT32_MAX)
			return -E2BIG;
		off = assemble__align8(off);
		l->h.sections[i] = (struct ldmesh_section){
			.offset = off, .size = counts[i] * sizes[i],
			.count = (uint32_t)counts[i], .entry_size = sizes[i],
		};
		off += l->h.sections[i].size;
	}
	if (l->n_splits) {
		off = assemble__align8(off);
		l->h.splits = (struct ldmesh_section){
			.offset = off, .size = (uint64_t)l->n_splits * sizeof(struct ldmesh_split),
			.count = l->n_splits, .entry_size = sizeof(struct ldmesh_split),
		};
		off += l->h.splits.size;
	}
	l->h.total_size = off;
	l->file = calloc(1, off);
	l->vips = malloc((l->n_vips + 1) * sizeof(*l->vips));
	l->names = malloc((l->n_names + 1) * sizeof(*l->names));
	if (!l->file || !l->vips || !l->names)
		return -ENOMEM;
#define SEC(id) (void *)(l->file + l->h.sections[id].offset)
	l->strings = SEC(LDMESH_SEC_STRINGS);
	l->services = SEC(LDMESH_SEC_SERVICES);
	l->ports = SEC(LDMESH_SEC_PORTS);
	l->eps = SEC(LDMESH_SEC_ENDPOINTS);
	l->ep_ports = SEC(LDMESH_SEC_ENDPOINT_PORTS);
	l->affinity = SEC(LDMESH_SEC_AFFINITY);
	l->superseded = SEC(LDMESH_SEC_SUPERSEDED);
	l->splits = (void *)(l->file + l->h.splits.offset);
#undef SEC
	return 0;
}

static void assemble__records(struct layout *l, const struct snap_block *b,
			      struct ldmesh_service *s)
{
	const struct ldmesh_port *ports = snap_block_ports(b);
	const struct ldmesh_endpoint *eps = snap_block_eps(b);
	size_t cells = (size_t)b->svc.endpoint_count * b->svc.port_count;
	uint32_t str = l->str;

	*s = b->svc;
	s->ns = reloc(s->ns, str);
	s->name = reloc(s->name, str);
	s->external_name = reloc(s->external_name, str);
	s->first_port = l->port;
	s->first_endpoint = l->ep;
	s->first_endpoint_port = l->cell;
	s->affinity_offset = l->aff;
	s->first_split = b->svc.split_count ? l->split : 0;
	for (uint32_t k = 0; k < b->svc.split_count; k++) {
		struct ldmesh_split *o = &l->splits[l->split + k];
		*o = snap_block_splits(b)[k];
		o->target = reloc(o->target, str);
	}
	for (uint32_t k = 0; k < b->svc.port_count; k++) {
		struct ldmesh_port *p = &l->ports[l->port + k];
		*p = ports[k];
		p->name = reloc(p->name, str);
		p->target_port_name = reloc(p->target_port_name, str);
		p->app_protocol = reloc(p->app_protocol, str);
	}
	for (uint32_t k = 0; k < b->svc.endpoint_count; k++) {
		struct ldmesh_endpoint *e = &l->eps[l->ep + k];
		*e = eps[k];
		e->hostname = reloc(e->hostname, str);
		e->target = reloc(e->target, str);
	}
	if (cells)
		memcpy(l->ep_ports + l->cell, snap_block_ep_ports(b), cells * sizeof(uint16_t));
	if (b->svc.affinity_size)
		memcpy(l->affinity + l->aff, snap_block_affinity(b),
		       b->svc.affinity_size * sizeof(uint32_t));
	if (b->strings_len)
		memcpy(l->strings + str, snap_block_strings(b), b->strings_len);
}

/* A block's or shadow's index keys, naming `service` (the block's index,
 * or LDMESH_SHADOW). */
static void assemble__keys(struct layout *l, const struct snap_vip_key *vips, uint32_t n_vips,
			   const struct snap_name_key *names, uint32_t n_names, uint32_t service)
{
	for (uint32_t k = 0; k < n_vips; k++) {
		const struct snap_vip_key *v = &vips[k];
		struct ldmesh_vip_slot *o = &l->vips[l->n_vips++];
		memcpy(o->addr, v->addr, 16);
		o->port = v->port;
		o->protocol = v->protocol;
		o->kind = v->kind;
		o->service = service;
		o->port_index = service == LDMESH_SHADOW ? 0 : v->port_index;
		o->reserved = 0;
	}
	for (uint32_t k = 0; k < n_names; k++) {
		const struct snap_name_key *nk = &names[k];
		l->names[l->n_names++] = (struct ldmesh_name_slot){
			.hash = nk->hash, .fqdn = reloc(nk->fqdn, l->str), .service = service,
			.endpoint = nk->endpoint == LDMESH_NONE || service == LDMESH_SHADOW
					    ? LDMESH_NONE : l->ep + nk->endpoint,
		};
	}
}

/* Copy every block into place, relocating its references. */
static void assemble__copy(const struct snap_assembly *a, struct layout *l)
{
	l->str = (uint32_t)a->shared->len;
	l->n_vips = l->n_names = 0;
	memcpy(l->strings, a->shared->data, a->shared->len);
	for (size_t i = 0; i < a->n_blocks; i++) {
		const struct snap_block *b = a->blocks[i];
		assemble__records(l, b, &l->services[i]);
		assemble__keys(l, snap_block_vips(b), b->n_vips, snap_block_names(b), b->n_names,
			       (uint32_t)i);
		l->str += b->strings_len;
		l->port += b->svc.port_count;
		l->ep += b->svc.endpoint_count;
		l->cell += b->svc.endpoint_count * b->svc.port_count;
		l->aff += b->svc.affinity_size;
		l->split += b->svc.split_count;
	}
}

/* Shadows follow every record, so placement (first key wins) leaves one
 * only where no service of this file holds the key. Their FQDNs are
 * copied out of the shadow's strings. */
static void assemble__shadows(const struct snap_assembly *a, struct layout *l)
{
	for (size_t i = 0; i < a->n_shadowed; i++) {
		const struct snap_shadow *b = a->shadowed[i];
		const struct snap_name_key *names = snap_shadow_names(b);
		size_t first_name = l->n_names;

		assemble__keys(l, snap_shadow_vips(b), b->n_vips, names, b->n_names, LDMESH_SHADOW);
		for (size_t k = first_name; k < l->n_names; k++) {
			uint8_t len;
			const char *s = snap_shadow_str(b, names[k - first_name].fqdn, &len);
			l->names[k].fqdn = l->str;
			l->str += (uint32_t)snap_local_put(l->strings + l->str, s, len);
		}
	}
	if (a->n_superseded)
		memcpy(l->superseded, a->superseded, a->n_superseded * sizeof(uint32_t));
}

static uint32_t assemble__place_vips(const struct layout *l)
{
	struct ldmesh_vip_slot *slots = (void *)(l->file + l->h.sections[LDMESH_SEC_VIP_INDEX].offset);
	uint32_t n = l->h.sections[LDMESH_SEC_VIP_INDEX].count, max_probe = 0;

	for (uint32_t i = 0; i < n; i++)
		slots[i].service = LDMESH_NONE;
	for (size_t k = 0; k < l->n_vips; k++) {
		const struct ldmesh_vip_slot *key = &l->vips[k];
		uint32_t i = (uint32_t)ldmesh_vip_hash(key->addr, key->port, key->protocol) & (n - 1);
		uint32_t probe = 1;
		for (;; i = (i + 1) & (n - 1), probe++) {
			if (slots[i].service == LDMESH_NONE)
				break;
			if (slots[i].port == key->port && slots[i].protocol == key->protocol &&
			    !memcmp(slots[i].addr, key->addr, 16))
				goto next; /* claimed by an earlier service */
		}
		slots[i] = *key;
		if (probe > max_probe)
			max_probe = probe;
next:;
	}
	return max_probe;
}

static uint32_t assemble__place_names(const struct layout *l)
{
	struct ldmesh_name_slot *slots = (void *)(l->file + l->h.sections[LDMESH_SEC_NAME_INDEX].offset);
	uint32_t n = l->h.sections[LDMESH_SEC_NAME_INDEX].count, max_probe = 0;

	for (uint32_t i = 0; i < n; i++)
		slots[i].service = LDMESH_NONE;
	for (size_t k = 0; k < l->n_names; k++) {
		const struct ldmesh_name_slot *key = &l->names[k];
		const char *name = l->strings + key->fqdn;
		uint32_t i = (uint32_t)key->hash & (n - 1), probe = 1;
		for (;; i = (i + 1) & (n - 1), probe++) {
			if (slots[i].service == LDMESH_NONE)
				break;
			/* Two pods of a headless service with one hostname:
			 * the first keeps the name. */
			if (slots[i].hash == key->hash &&
			    !memcmp(l->strings + slots[i].fqdn, name, (uint8_t)name[0] + 1u))
				goto next;
		}
		slots[i] = *key;
		if (probe > max_probe)
			max_probe = probe;
next:;
	}
	return max_probe;
}

int snap_assemble(const struct snap_assembly *a, void **out, size_t *out_size)
{
	struct layout l = { .file = NULL };
	int err;

	if ((err = assemble__layout(a, &l)))
		goto out;
	assemble__copy(a, &l);
	assemble__shadows(a, &l);
	l.h.vip_max_probe = assemble__place_vips(&l);
	l.h.name_max_probe = assemble__place_names(&l);

	l.h.generation = a->hdr->generation;
	l.h.created_unix_ns = a->hdr->created_unix_ns;
	l.h.flags = a->hdr->flags;
	l.h.base_generation = a->base_generation;
	l.h.cluster_domain = a->domain;
	l.h.node_name = a->node;
	l.h.node_zone = a->zone;
	memcpy(l.h.service_cidr, a->hdr->service_cidr, 16);
	l.h.service_cidr_prefix = a->hdr->service_cidr_prefix;
	ldmesh_snap_header_seal(l.file, &l.h);
	*out = l.file;
	*out_size = l.h.total_size;
	l.file = NULL;
out:
	free(l.file);
	free(l.vips);
	free(l.names);
	return err;
}
