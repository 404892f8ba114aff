/* SPDX-License-Identifier: MIT */
/*
 * Build one snapshot (include/ldmesh/snapshot.h) from the resolved cluster
 * model: services with their ports and endpoints already joined. Each
 * service becomes a block (snap_block.h: its records with endpoints ordered
 * for this node, see struct ldmesh_service); the builder lays the blocks
 * out, relocates their references and fills both hash indexes.
 */
#ifndef LDMESH_AGENT_SNAP_BUILD_H
#define LDMESH_AGENT_SNAP_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "ldmesh/snapshot.h"
#include "snap_input.h"

/*
 * What a publisher keeps between builds: of the last base, each service's
 * shadow (its name, keys and content hash); the overlay's blocks, kept by
 * cache key; the shared pool of node, zone and hint names. Owned by the
 * caller; one per publisher.
 */
struct snap_cache;

int snap_cache_new(struct snap_cache **out);
void snap_cache_free(struct snap_cache *c); /* accepts NULL */

/*
 * Build the snapshot bytes, a base. With a cache, services whose cache_key
 * matches a block the overlay holds reuse it; the others are built, and
 * the result becomes the cache's base (its shadows). On success returns 0 and sets *out (caller-owned, free()) and
 * *out_size; on failure returns -errno (-EINVAL when a string exceeds
 * LDMESH_STR_MAX, -E2BIG when a section would pass 4 GiB) and leaves both
 * untouched. Two services claiming the same VIP key or name: the first one
 * wins (the model has already reported the conflict).
 */
int snap_build_cached(const struct snap_input *in, struct snap_cache *cache,
		      void **out, size_t *out_size);

/* The same without reuse. */
int snap_build(const struct snap_input *in, void **out, size_t *out_size);

/*
 * Deltas (snapshot.h, "Bases and deltas"). snap_build_cached makes a base:
 * the cache remembers, per service (namespace/name), the shadow of the
 * block the base holds, and clears its overlay. From then on each edit is a delta:
 *
 * snap_build_delta applies `changes` to the cache's view of the table and
 * writes a delta over the base holding the whole overlay (every service
 * whose block differs from the base's, plus shadows and SUPERSEDED entries
 * for what the base has and the table no longer does). A changed service
 * whose block equals the base's drops out of the overlay; a removed one
 * the base never had leaves nothing. `hdr` gives the header fields
 * (generation, time, domain, node, zone, CIDR; its services are ignored).
 *
 * Returns 0 with *out (caller-owned) and *out_size, or 0 with *out NULL
 * when the view says what the last build said (nothing to publish);
 * -ESTALE when there is no base to build on (none yet, or the shared
 * string pool started over): the caller makes a base instead. Other
 * failures (-ENOMEM, -EINVAL, -E2BIG) leave the view as it was.
 */
int snap_build_delta(const struct snap_input *hdr, struct snap_cache *cache,
		     const struct snap_change *changes, size_t n_changes,
		     void **out, size_t *out_size);

/*
 * The delta that makes the view say `in`, all of the table (a full
 * resolve's model): every service of `in` a change, and every name the
 * view holds that `in` lacks removed. Returns as snap_build_delta. O(table),
 * as the resolve before it, but a block is built only for a service whose
 * model key differs from the base's (or the overlay's), so what is written
 * is what changed.
 */
int snap_build_delta_whole(const struct snap_input *in, struct snap_cache *cache, void **out,
			   size_t *out_size);

/*
 * A restarted publisher: make the base `disk` (a base an earlier
 * publisher wrote, mapped and checked: ldmesh_snap_map_file) the cache's,
 * so the next snap_build_delta_whole(in) is a delta over it. `in` is the
 * model now: its services that say what `disk` says of the same name keep
 * their shadows (an edit compares with them), the others are shadowed
 * from `disk` (snap_restore.c). *kept: how many `disk` services the model
 * says alike. 0; -ESTALE when `disk` was made for other header strings
 * (domain, node, zone), -EINVAL when it is not a base or its indexes name
 * what it does not hold; -ENOMEM. On failure the cache has no base.
 */
struct ldmesh_snap;
int snap_cache_restore(struct snap_cache *c, const struct snap_input *in,
		       const struct ldmesh_snap *disk, size_t *kept);

/* Services in the overlay, and in the base: the caller makes a new base
 * when the first grows past a share of the second. */
size_t snap_cache_overlay_services(const struct snap_cache *c);
size_t snap_cache_base_services(const struct snap_cache *c);

/* The generation deltas are built over (0: no base). A base is built as
 * the generation it would be published as; when it is not published
 * because it says byte for byte what the published base `generation`
 * says, snap_cache_adopt_generation makes deltas name that one instead:
 * a delta must never name a file that was not written. */
uint64_t snap_cache_base_generation(const struct snap_cache *c);
void snap_cache_adopt_generation(struct snap_cache *c, uint64_t generation);

#endif
