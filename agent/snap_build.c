/* SPDX-License-Identifier: MIT */
/*
 * Snapshot assembly. Each service is a block (snap_block.c), taken from the
 * cache when the model says its input is unchanged; the file is laid out
 * once the sizes are known, every block copied in with its references
 * relocated, both indexes placed, and the header sealed last (by the reader
 * library, which owns its bytes).
 */
#include "snap_build.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"
#include "snap_block.h"

/* The shared pool only grows (node and zone names come and go over a
 * cluster's life); past this size the cache starts over, once. */
#define BUILD_SHARED_MAX (4u << 20)

struct snap_cache {
	struct strpool shared;
	struct snap_block *blocks; /* the previous build's, in its order */
	size_t n_blocks;
	uint32_t *map;             /* key -> index + 1 into blocks; 0 = empty */
	size_t map_slots;
};

int snap_cache_new(struct snap_cache **out)
{
	struct snap_cache *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	if ((err = strpool_init(&c->shared))) {
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

static void cache__drop_blocks(struct snap_cache *c)
{
	for (size_t i = 0; i < c->n_blocks; i++)
		snap_block_free(&c->blocks[i]);
	free(c->blocks);
	free(c->map);
	c->blocks = NULL;
	c->map = NULL;
	c->n_blocks = c->map_slots = 0;
}

void snap_cache_free(struct snap_cache *c)
{
	if (!c)
		return;
	cache__drop_blocks(c);
	strpool_free(&c->shared);
	free(c);
}

static size_t cache__slot(const struct snap_cache *c, uint64_t key)
{
	size_t mask = c->map_slots - 1, i = (size_t)ldmesh__fmix(key) & mask;

	while (c->map[i] && c->blocks[c->map[i] - 1].key != key)
		i = (i + 1) & mask;
	return i;
}

/* Index the blocks of the build just made, for the next one. */
static int cache__index(struct snap_cache *c)
{
	c->map_slots = 16;
	while (c->map_slots < c->n_blocks * 2)
		c->map_slots <<= 1;
	c->map = calloc(c->map_slots, sizeof(*c->map));
	if (!c->map)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_blocks; i++)
		if (c->blocks[i].key)
			c->map[cache__slot(c, c->blocks[i].key)] = (uint32_t)(i + 1);
	return 0;
}

/* The previous block with `key`, moved out of the cache, or NULL. */
static bool cache__take(struct snap_cache *c, uint64_t key, struct snap_block *out)
{
	size_t i;

	if (!key || !c->map)
		return false;
	i = cache__slot(c, key);
	if (!c->map[i])
		return false;
	*out = c->blocks[c->map[i] - 1];
	memset(&c->blocks[c->map[i] - 1], 0, sizeof(*out));
	return true;
}

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
	char *strings;
	struct ldmesh_vip_slot *vips;   /* keys, before placement */
	struct ldmesh_name_slot *names; /* keys, before placement */
	size_t n_vips, n_names;
};

static uint32_t build__pow2(size_t keys)
{
	uint32_t n = 1;

	if (!keys)
		return 0;
	/* At most half full: linear probing stays short. */
	while (n < keys * 2)
		n <<= 1;
	return n;
}

static uint64_t build__align8(uint64_t v)
{
	return (v + 7) & ~(uint64_t)7;
}

static int build__layout(struct layout *l, const struct snap_block *blocks, size_t n,
			 size_t shared_len)
{
	uint64_t counts[LDMESH_SEC_COUNT] = { [LDMESH_SEC_STRINGS] = shared_len,
					      [LDMESH_SEC_SERVICES] = n };
	static const uint32_t sizes[LDMESH_SEC_COUNT] = {
		1, sizeof(struct ldmesh_service), sizeof(struct ldmesh_port),
		sizeof(struct ldmesh_endpoint), sizeof(uint16_t),
		sizeof(struct ldmesh_vip_slot), sizeof(struct ldmesh_name_slot),
		sizeof(uint32_t), sizeof(uint32_t),
	};
	uint64_t off = sizeof(l->h);

	for (size_t i = 0; i < n; i++) {
		const struct snap_block *b = &blocks[i];
		counts[LDMESH_SEC_STRINGS] += b->strings_len;
		counts[LDMESH_SEC_PORTS] += b->svc.port_count;
		counts[LDMESH_SEC_ENDPOINTS] += b->svc.endpoint_count;
		counts[LDMESH_SEC_ENDPOINT_PORTS] += (uint64_t)b->svc.endpoint_count * b->svc.port_count;
		counts[LDMESH_SEC_AFFINITY] += b->svc.affinity_size;
		l->n_vips += b->n_vips;
		l->n_names += b->n_names;
	}
	if (l->n_vips > UINT32_MAX / 4 || l->n_names > UINT32_MAX / 4)
		return -E2BIG;
	counts[LDMESH_SEC_VIP_INDEX] = build__pow2(l->n_vips);
	counts[LDMESH_SEC_NAME_INDEX] = build__pow2(l->n_names);
	for (int i = 0; i < LDMESH_SEC_COUNT; i++) {
		if (counts[i] >= UINT32_MAX)
			return -E2BIG;
		off = build__align8(off);
		l->h.sections[i] = (struct ldmesh_section){
			.offset = off, .size = counts[i] * sizes[i],
			.count = (uint32_t)counts[i], .entry_size = sizes[i],
		};
		off += l->h.sections[i].size;
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
#undef SEC
	return 0;
}

/* Copy every block into place, relocating its references. */
static void build__copy(struct layout *l, const struct snap_block *blocks, size_t n,
			const struct strpool *shared)
{
	uint32_t str = (uint32_t)shared->len, port = 0, ep = 0, cell = 0, aff = 0;
	size_t nv = 0, nn = 0;

	memcpy(l->strings, shared->data, shared->len);
	for (size_t i = 0; i < n; i++) {
		const struct snap_block *b = &blocks[i];
		struct ldmesh_service *s = &l->services[i];
		size_t cells = (size_t)b->svc.endpoint_count * b->svc.port_count;

		*s = b->svc;
		s->ns = reloc(s->ns, str);
		s->name = reloc(s->name, str);
		s->external_name = reloc(s->external_name, str);
		s->first_port = port;
		s->first_endpoint = ep;
		s->first_endpoint_port = cell;
		s->affinity_offset = aff;
		for (uint32_t k = 0; k < b->svc.port_count; k++) {
			struct ldmesh_port *p = &l->ports[port + k];
			*p = b->ports[k];
			p->name = reloc(p->name, str);
			p->target_port_name = reloc(p->target_port_name, str);
			p->app_protocol = reloc(p->app_protocol, str);
		}
		for (uint32_t k = 0; k < b->svc.endpoint_count; k++) {
			struct ldmesh_endpoint *e = &l->eps[ep + k];
			*e = b->eps[k];
			e->hostname = reloc(e->hostname, str);
			e->target = reloc(e->target, str);
		}
		if (cells)
			memcpy(l->ep_ports + cell, b->ep_ports, cells * sizeof(uint16_t));
		if (b->svc.affinity_size)
			memcpy(l->affinity + aff, b->affinity, b->svc.affinity_size * sizeof(uint32_t));
		if (b->strings_len)
			memcpy(l->strings + str, b->strings, b->strings_len);
		for (uint32_t k = 0; k < b->n_vips; k++, nv++) {
			const struct snap_vip_key *v = &b->vips[k];
			struct ldmesh_vip_slot *o = &l->vips[nv];
			memcpy(o->addr, v->addr, 16);
			o->port = v->port;
			o->protocol = v->protocol;
			o->kind = v->kind;
			o->service = (uint32_t)i;
			o->port_index = v->port_index;
			o->reserved = 0;
		}
		for (uint32_t k = 0; k < b->n_names; k++, nn++) {
			const struct snap_name_key *nk = &b->names[k];
			l->names[nn] = (struct ldmesh_name_slot){
				.hash = nk->hash, .fqdn = reloc(nk->fqdn, str),
				.service = (uint32_t)i,
				.endpoint = nk->endpoint == LDMESH_NONE ? LDMESH_NONE : ep + nk->endpoint,
			};
		}
		str += b->strings_len;
		port += b->svc.port_count;
		ep += b->svc.endpoint_count;
		cell += (uint32_t)cells;
		aff += b->svc.affinity_size;
	}
}

static uint32_t build__place_vips(const struct layout *l)
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

static uint32_t build__place_names(const struct layout *l)
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

int snap_build_cached(const struct snap_input *in, struct snap_cache *cache,
		      void **out, size_t *out_size)
{
	struct layout l = { .file = NULL };
	struct snap_block *blocks;
	struct snap_block_ctx ctx = { .cluster_domain = in->cluster_domain,
				      .node_name = in->node_name, .node_zone = in->node_zone,
				      .shared = &cache->shared };
	ldmesh_str_t domain, node, zone;
	int err = 0;

	if (cache->shared.len > BUILD_SHARED_MAX) {
		cache__drop_blocks(cache);
		strpool_free(&cache->shared);
		if ((err = strpool_init(&cache->shared)))
			return err;
	}
	blocks = calloc(in->n_services + 1, sizeof(*blocks));
	if (!blocks)
		return -ENOMEM;
	if ((err = strpool_add_cstr(&cache->shared, in->cluster_domain, &domain)) ||
	    (err = strpool_add_cstr(&cache->shared, in->node_name, &node)) ||
	    (err = strpool_add_cstr(&cache->shared, in->node_zone, &zone)))
		goto out;
	for (size_t i = 0; i < in->n_services && !err; i++) {
		const struct snap_service_in *s = &in->services[i];
		if (!cache__take(cache, s->cache_key, &blocks[i]))
			err = snap_block_build(&ctx, s, &blocks[i]);
		blocks[i].key = s->cache_key;
	}
	if (err || (err = build__layout(&l, blocks, in->n_services, cache->shared.len)))
		goto out;
	build__copy(&l, blocks, in->n_services, &cache->shared);
	l.h.vip_max_probe = build__place_vips(&l);
	l.h.name_max_probe = build__place_names(&l);

	l.h.generation = in->generation;
	l.h.created_unix_ns = in->created_unix_ns;
	l.h.cluster_domain = domain;
	l.h.node_name = node;
	l.h.node_zone = zone;
	memcpy(l.h.service_cidr, in->service_cidr, 16);
	l.h.service_cidr_prefix = in->service_cidr_prefix;
	ldmesh_snap_header_seal(l.file, &l.h);
	*out = l.file;
	*out_size = l.h.total_size;
	l.file = NULL;
out:
	/* This build's blocks become the cache; the previous ones not taken
	 * are stale. On failure the cache simply starts over. */
	cache__drop_blocks(cache);
	if (!err) {
		cache->blocks = blocks;
		cache->n_blocks = in->n_services;
		blocks = NULL;
		/* Out of memory here loses only the reuse, not the snapshot. */
		if (cache__index(cache) < 0)
			cache__drop_blocks(cache);
	} else {
		for (size_t i = 0; i < in->n_services; i++)
			snap_block_free(&blocks[i]);
	}
	free(blocks);
	free(l.file);
	free(l.vips);
	free(l.names);
	return err;
}

int snap_build(const struct snap_input *in, void **out, size_t *out_size)
{
	struct snap_cache *c;
	int err = snap_cache_new(&c);

	if (err)
		return err;
	err = snap_build_cached(in, c, out, out_size);
	snap_cache_free(c);
	return err;
}
