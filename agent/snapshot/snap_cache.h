/* SPDX-License-Identifier: MIT */
/*
 * What the builder keeps between builds (struct snap_cache, opaque in
 * snap_build.h): the shared string pool, the base (the shadow of each of
 * the last full build's services, snap_block.h, by base service index,
 * with a map from namespace/name to that index) and the overlay over it
 * (per namespace/name, the block that replaces the base's, or none:
 * removed). Private to snap_build.c and snap_delta.c.
 */
#ifndef LDMESH_AGENT_SNAP_CACHE_H
#define LDMESH_AGENT_SNAP_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snap_block.h"
#include "strpool.h"

/* The shared pool only grows (node and zone names come and go over a
 * cluster's life); past this size the next base starts it over, and
 * until then no delta is built on blocks that point into it. */
#define SNAP_SHARED_MAX (4u << 20)

struct snap_overlay_entry {
	char *ns_name;             /* "<ns>\0<name>\0", owned */
	uint64_t hash;             /* snap_cache_name_hash of the two */
	uint32_t base_index;       /* the base's service of this name, or
	                              LDMESH_NONE */
	bool live;                 /* false: dropped by the edit under way */
	struct snap_block *block;  /* the service now (a reference), or
	                              NULL: removed */
};

struct snap_cache {
	struct strpool shared;
	struct snap_block_scratch scratch;

	bool has_base;
	uint64_t base_generation;
	ldmesh_str_t domain, node, zone; /* the base's header strings */
	char *shadows;                   /* the base's, back to back */
	uint32_t *base;                  /* by base service index: the
	                                    offset of its shadow */
	size_t n_base;
	uint32_t *base_map;              /* name hash -> index + 1; 0 empty */
	size_t base_map_slots;

	struct snap_overlay_entry *overlay; /* as of the last build */
	size_t n_overlay;
	uint32_t flags;                  /* the header flags of the last
	                                    build, base or delta: a change
	                                    of them alone is a delta too */
	bool restored;                   /* the base is one on disk
	                                    (snap_cache_restore) and no
	                                    delta was written over it yet:
	                                    the next is written even empty,
	                                    as a restart always publishes */
};

uint64_t snap_cache_name_hash(const char *ns, size_t ns_len, const char *name,
			      size_t name_len);

/* The base's service index of ns/name, or LDMESH_NONE. */
uint32_t snap_cache_base_find(const struct snap_cache *c, const char *ns, size_t ns_len,
			      const char *name, size_t name_len, uint64_t hash);

/* The shadow of base service `i` (below snap_cache_base_services). */
static inline const struct snap_shadow *snap_cache_base_shadow(const struct snap_cache *c,
							       uint32_t i)
{
	return (const struct snap_shadow *)(c->shadows + c->base[i]);
}

/* Make the services of `blocks` (n references, the array malloc'd) the
 * base, with the header strings it was built with, and an empty overlay;
 * the cache keeps their shadows and drops the blocks and the array. Out
 * of memory leaves no base (the next delta says -ESTALE), never a wrong
 * one. */
void snap_cache_set_base(struct snap_cache *c, struct snap_block **blocks, size_t n,
			 uint64_t generation, ldmesh_str_t domain, ldmesh_str_t node,
			 ldmesh_str_t zone);

/* Make `n` shadows (in `shadows`, shadow i at offsets[i]; both malloc'd,
 * taken over) the base of `generation`, with an empty overlay; the header
 * strings stay. 0, or -ENOMEM with no base. */
int snap_cache_replace_base(struct snap_cache *c, char *shadows, uint32_t *offsets, size_t n,
			    uint64_t generation);

/* Forget the base and the overlay, dropping their references. */
void snap_cache_drop_base(struct snap_cache *c);

/* Release `n` overlay entries: their names and block references. */
void snap_cache_overlay_release(struct snap_overlay_entry *e, size_t n);

#endif
