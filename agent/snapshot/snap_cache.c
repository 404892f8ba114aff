/* SPDX-License-Identifier: MIT */
/*
 * The builder's memory between builds: the shared string pool, the base
 * and its overlay (snap_cache.h).
 */
#include "snap_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "snap_build.h"

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

void snap_cache_free(struct snap_cache *c)
{
	if (!c)
		return;
	snap_cache_drop_base(c);
	snap_block_scratch_free(&c->scratch);
	strpool_free(&c->shared);
	free(c);
}

size_t snap_cache_overlay_services(const struct snap_cache *c)
{
	return c->n_overlay;
}

uint64_t snap_cache_base_generation(const struct snap_cache *c)
{
	return c->has_base ? c->base_generation : 0;
}

void snap_cache_adopt_generation(struct snap_cache *c, uint64_t generation)
{
	if (c->has_base)
		c->base_generation = generation;
}

size_t snap_cache_base_services(const struct snap_cache *c)
{
	return c->has_base ? c->n_base : 0;
}

uint64_t snap_cache_name_hash(const char *ns, size_t ns_len, const char *name,
			      size_t name_len)
{
	return ldmesh_hash64(name, name_len, ldmesh_hash64(ns, ns_len, 0));
}

static bool cache__base_is(const struct snap_shadow *b, const char *ns, size_t ns_len,
			   const char *name, size_t name_len)
{
	uint8_t len;
	const char *s = snap_shadow_ns(b, &len);

	if (len != ns_len || memcmp(s, ns, len))
		return false;
	s = snap_shadow_name(b, &len);
	return len == name_len && !memcmp(s, name, len);
}

/* The slot of ns/name in the base map: its own or the empty one that
 * ends its probe sequence. */
static size_t cache__base_slot(const struct snap_cache *c, const char *ns, size_t ns_len,
			       const char *name, size_t name_len, uint64_t hash)
{
	size_t mask = c->base_map_slots - 1, i = (size_t)hash & mask;

	while (c->base_map[i] &&
	       !cache__base_is(snap_cache_base_shadow(c, c->base_map[i] - 1), ns, ns_len, name,
			       name_len))
		i = (i + 1) & mask;
	return i;
}

uint32_t snap_cache_base_find(const struct snap_cache *c, const char *ns, size_t ns_len,
			      const char *name, size_t name_len, uint64_t hash)
{
	uint32_t v;

	if (!c->has_base)
		return LDMESH_NONE;
	v = c->base_map[cache__base_slot(c, ns, ns_len, name, name_len, hash)];
	return v ? v - 1 : LDMESH_NONE;
}

/* Index the base by name: the first service with a name keeps it, as in
 * the snapshot's own name index. */
static int cache__index_base(struct snap_cache *c)
{
	c->base_map_slots = 16;
	while (c->base_map_slots < c->n_base * 2)
		c->base_map_slots <<= 1;
	if (!(c->base_map = calloc(c->base_map_slots, sizeof(*c->base_map))))
		return -ENOMEM;
	for (uint32_t i = 0; i < c->n_base; i++) {
		const struct snap_shadow *b = snap_cache_base_shadow(c, i);
		uint8_t ns_len, name_len;
		const char *ns = snap_shadow_ns(b, &ns_len);
		const char *name = snap_shadow_name(b, &name_len);
		size_t slot = cache__base_slot(c, ns, ns_len, name, name_len,
					       snap_cache_name_hash(ns, ns_len, name, name_len));
		if (!c->base_map[slot])
			c->base_map[slot] = i + 1;
	}
	return 0;
}

/* The blocks' shadows, in one buffer. */
static int cache__shadow_base(struct snap_cache *c, struct snap_block *const *blocks, size_t n)
{
	size_t size = 0;

	if (n >= UINT32_MAX || !(c->base = malloc((n + 1) * sizeof(*c->base))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (size > UINT32_MAX)
			return -E2BIG;
		c->base[i] = (uint32_t)size;
		size += snap_shadow_size(blocks[i]);
	}
	if (!(c->shadows = malloc(size ? size : 1)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		snap_shadow_write(blocks[i], (struct snap_shadow *)(c->shadows + c->base[i]));
	c->n_base = n;
	return 0;
}

void snap_cache_set_base(struct snap_cache *c, struct snap_block **blocks, size_t n,
			 uint64_t generation, ldmesh_str_t domain, ldmesh_str_t node,
			 ldmesh_str_t zone)
{
	snap_cache_drop_base(c);
	c->base_generation = generation;
	c->domain = domain;
	c->node = node;
	c->zone = zone;
	c->has_base = true;
	if (cache__shadow_base(c, blocks, n) < 0 || cache__index_base(c) < 0)
		snap_cache_drop_base(c);
	for (size_t i = 0; i < n; i++)
		snap_block_unref(blocks[i]);
	free(blocks);
}

int snap_cache_replace_base(struct snap_cache *c, char *shadows, uint32_t *offsets, size_t n,
			    uint64_t generation)
{
	snap_cache_drop_base(c); /* (the header strings stay) */
	c->shadows = shadows;
	c->base = offsets;
	c->n_base = n;
	c->base_generation = generation;
	c->has_base = true;
	if (cache__index_base(c) < 0) {
		snap_cache_drop_base(c);
		return -ENOMEM;
	}
	return 0;
}

void snap_cache_overlay_release(struct snap_overlay_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		snap_block_unref(e[i].block);
		free(e[i].ns_name);
	}
}

void snap_cache_drop_base(struct snap_cache *c)
{
	snap_cache_overlay_release(c->overlay, c->n_overlay);
	free(c->overlay);
	free(c->shadows);
	free(c->base);
	free(c->base_map);
	c->overlay = NULL;
	c->shadows = NULL;
	c->base = NULL;
	c->base_map = NULL;
	c->n_overlay = c->n_base = c->base_map_slots = 0;
	c->has_base = false;
	c->restored = false;
}
