/* SPDX-License-Identifier: MIT */
/*
 * One service's records in local coordinates: its service record, ports,
 * endpoints (ordered for this node), port matrix, affinity table, the
 * strings only it uses, and its index keys. The builder caches blocks by the
 * model's cache key and assembles a snapshot from them, so an edit to one
 * service rebuilds one block, not the table.
 *
 * String references inside a block are either shared (untagged: an offset
 * in the builder's shared pool of node, zone and hint names, which repeat
 * across services and are emitted first in every snapshot) or local
 * (SNAP_BLOCK_LOCAL | offset into `strings`). Indices (first_port,
 * first_endpoint, ...) are 0-based within the block.
 */
#ifndef LDMESH_AGENT_SNAP_BLOCK_H
#define LDMESH_AGENT_SNAP_BLOCK_H

#include <stdint.h>

#include "ldmesh/snapshot.h"
#include "snap_build.h"
#include "strpool.h"

#define SNAP_BLOCK_LOCAL 0x80000000u

struct snap_vip_key {
	uint8_t addr[16];
	uint16_t port;
	uint8_t protocol;
	uint8_t kind;
	uint32_t port_index;
};

struct snap_name_key {
	uint64_t hash;
	ldmesh_str_t fqdn;  /* local */
	uint32_t endpoint;  /* local index, or LDMESH_NONE */
};

struct snap_block {
	uint64_t key;
	uint64_t used_in;            /* the build that last used it */
	struct ldmesh_service svc;
	struct ldmesh_port *ports;
	struct ldmesh_endpoint *eps;
	uint16_t *ep_ports;          /* svc.endpoint_count x svc.port_count */
	uint32_t *affinity;          /* svc.affinity_size entries */
	struct snap_vip_key *vips;
	uint32_t n_vips;
	struct snap_name_key *names;
	uint32_t n_names;
	char *strings;               /* local strings, length-prefixed */
	uint32_t strings_len;
};

struct snap_block_ctx {
	const char *cluster_domain;
	const char *node_name;       /* or NULL */
	const char *node_zone;       /* or NULL */
	struct strpool *shared;      /* node, zone and hint names */
};

/* Build the block of `s`. 0, or -EINVAL (a string over LDMESH_STR_MAX),
 * -ENOMEM; on failure *b is freed and zeroed. */
int snap_block_build(const struct snap_block_ctx *ctx,
		     const struct snap_service_in *s, struct snap_block *b);
void snap_block_free(struct snap_block *b);

#endif
