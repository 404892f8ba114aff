/* SPDX-License-Identifier: MIT */
/*
 * Lay blocks out as one snapshot file (include/ldmesh/snapshot.h): a base
 * from every service's block, or a delta from the overlay's blocks plus
 * shadows and the SUPERSEDED list. Private to the builder.
 */
#ifndef LDMESH_AGENT_SNAP_ASSEMBLE_H
#define LDMESH_AGENT_SNAP_ASSEMBLE_H

#include <stddef.h>
#include <stdint.h>

#include "snap_block.h"
#include "snap_build.h"
#include "strpool.h"

struct snap_assembly {
	const struct snap_input *hdr;       /* generation, time, CIDR */
	ldmesh_str_t domain, node, zone;    /* header strings, in `shared` */
	const struct strpool *shared;
	struct snap_block *const *blocks;   /* the services, in order */
	size_t n_blocks;
	/* A delta's: */
	uint64_t base_generation;           /* 0 for a base */
	const uint32_t *superseded;         /* ascending base indexes */
	size_t n_superseded;
	/* Base services whose index keys become shadows wherever no block
	 * above holds the same key. */
	const struct snap_shadow *const *shadowed;
	size_t n_shadowed;
};

/* 0 with *out (caller-owned, free()) and *out_size, or -E2BIG, -ENOMEM. */
int snap_assemble(const struct snap_assembly *a, void **out, size_t *out_size);

#endif
