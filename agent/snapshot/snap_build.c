/* SPDX-License-Identifier: MIT */
/*
 * Full builds. Each service is a block (snap_block.c), taken from the
 * cache when the model says its input is unchanged (equal cache keys);
 * the blocks are assembled into one file (snap_assemble.c) and become the
 * cache's base, which later deltas (snap_delta.c) are built over.
 */
#include "snap_build.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "snap_assemble.h"
#include "snap_cache.h"

/* The blocks a build may reuse, by cache key: the overlay's (the cache
 * keeps no base blocks, snap_cache.h). Made for one build and dropped
 * after it. */
struct key_map {
	struct snap_block **slots;
	size_t mask;
};

static size_t key_map__slot(const struct key_map *m, uint64_t key)
{
	size_t i = (size_t)ldmesh__fmix(key) & m->mask;

	while (m->slots[i] && m->slots[i]->key != key)
		i = (i + 1) & m->mask;
	return i;
}

static void key_map__add(struct key_map *m, struct snap_block *b)
{
	size_t i;

	if (!b || !b->key)
		return;
	i = key_map__slot(m, b->key);
	if (!m->slots[i])
		m->slots[i] = b;
}

/* Out of memory leaves the map empty: the build then reuses nothing. */
static void key_map__init(struct key_map *m, const struct snap_cache *c)
{
	size_t n = 16;

	while (n < c->n_overlay * 2)
		n <<= 1;
	m->mask = n - 1;
	if (!c->n_overlay)
		m->slots = NULL;
	else if ((m->slots = calloc(n, sizeof(*m->slots)))) {
		for (size_t i = 0; i < c->n_overlay; i++)
			key_map__add(m, c->overlay[i].block);
	}
}

static struct snap_block *key_map__find(const struct key_map *m, uint64_t key)
{
	struct snap_block *b;

	if (!key || !m->slots)
		return NULL;
	b = m->slots[key_map__slot(m, key)];
	return b ? snap_block_ref(b) : NULL;
}

/* A pool past its bound starts over, and every block pointing into it
 * goes with it. */
static int build__fresh_pool(struct snap_cache *c)
{
	if (c->shared.len <= SNAP_SHARED_MAX)
		return 0;
	snap_cache_drop_base(c);
	strpool_free(&c->shared);
	return strpool_init(&c->shared);
}

/* Every service's block, reused by key or built; blocks[i] holds one
 * reference each on success, none on failure. */
static int build__blocks(const struct snap_input *in, struct snap_cache *c,
			 struct snap_block **blocks)
{
	struct snap_block_ctx ctx = { .cluster_domain = in->cluster_domain,
				      .node_name = in->node_name, .node_zone = in->node_zone,
				      .shared = &c->shared, .scratch = &c->scratch,
				      .ejected = in->ejected };
	struct key_map reuse;
	size_t i;
	int err = 0;

	key_map__init(&reuse, c);
	for (i = 0; i < in->n_services && !err; i++) {
		const struct snap_service_in *s = &in->services[i];
		uint64_t key = snap_block_key(&ctx, s);

		if ((blocks[i] = key_map__find(&reuse, key)))
			continue;
		if (!(err = snap_block_build(&ctx, s, &blocks[i])))
			blocks[i]->key = key;
	}
	free(reuse.slots);
	if (err) {
		while (i--)
			snap_block_unref(blocks[i]);
	}
	return err;
}

int snap_build_cached(const struct snap_input *in, struct snap_cache *cache,
		      void **out, size_t *out_size)
{
	struct snap_assembly a = { .hdr = in, .shared = &cache->shared,
				   .n_blocks = in->n_services };
	struct snap_block **blocks;
	int err;

	if ((err = build__fresh_pool(cache)))
		return err;
	if ((err = strpool_add_cstr(&cache->shared, in->cluster_domain, &a.domain)) ||
	    (err = strpool_add_cstr(&cache->shared, in->node_name, &a.node)) ||
	    (err = strpool_add_cstr(&cache->shared, in->node_zone, &a.zone)))
		return err;
	if (!(blocks = calloc(in->n_services + 1, sizeof(*blocks))))
		return -ENOMEM;
	if ((err = build__blocks(in, cache, blocks))) {
		free(blocks);
		return err;
	}
	a.blocks = blocks;
	if ((err = snap_assemble(&a, out, out_size))) {
		/* The last base and overlay stay as they were. */
		for (size_t i = 0; i < in->n_services; i++)
			snap_block_unref(blocks[i]);
		free(blocks);
		return err;
	}
	/* This build is the base now: the cache keeps its shadows, and the
	 * blocks the overlay does not hold go. */
	snap_cache_set_base(cache, blocks, in->n_services, in->generation, a.domain, a.node,
			    a.zone);
	cache->flags = in->flags;
	return 0;
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
