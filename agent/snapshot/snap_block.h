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

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/*
 * A block is one allocation: this header, then its arrays back to back
 * (reached through the accessors below), so the agent's cache of 100,000
 * blocks costs one malloc header per service, not eight. Everything from
 * `svc` to the end is the block's content: `content` hashes it, so two
 * blocks with equal content say the same thing in any snapshot (shared
 * string offsets included: the pool only grows until it starts over, and
 * then every block goes).
 */
struct snap_block {
	uint64_t key;                /* the model's cache key, 0 = none */
	uint64_t content;            /* ldmesh_hash64 of svc .. end */
	uint32_t refs;               /* holders: the base, the overlay, a
	                                build in progress */
	uint32_t n_vips;
	uint32_t n_names;
	uint32_t strings_len;        /* local strings, length-prefixed */
	struct ldmesh_service svc;   /* first_* fields 0: local */
	/* names, vips, ports, eps, affinity, splits, ep_ports, strings: */
	uint64_t data[];
};
_Static_assert(offsetof(struct snap_block, data) == 128,
	       "svc ends where the 8-byte aligned arrays start");

static inline const struct snap_name_key *snap_block_names(const struct snap_block *b)
{
	return (const struct snap_name_key *)b->data;
}

static inline const struct snap_vip_key *snap_block_vips(const struct snap_block *b)
{
	return (const struct snap_vip_key *)(snap_block_names(b) + b->n_names);
}

static inline const struct ldmesh_port *snap_block_ports(const struct snap_block *b)
{
	return (const struct ldmesh_port *)(snap_block_vips(b) + b->n_vips);
}

static inline const struct ldmesh_endpoint *snap_block_eps(const struct snap_block *b)
{
	return (const struct ldmesh_endpoint *)(snap_block_ports(b) + b->svc.port_count);
}

/* svc.affinity_size entries */
static inline const uint32_t *snap_block_affinity(const struct snap_block *b)
{
	return (const uint32_t *)(snap_block_eps(b) + b->svc.endpoint_count);
}

/* svc.split_count entries (3.5), targets local strings */
static inline const struct ldmesh_split *snap_block_splits(const struct snap_block *b)
{
	return (const struct ldmesh_split *)(snap_block_affinity(b) + b->svc.affinity_size);
}

/* svc.endpoint_count rows x svc.port_count */
static inline const uint16_t *snap_block_ep_ports(const struct snap_block *b)
{
	return (const uint16_t *)(snap_block_splits(b) + b->svc.split_count);
}

static inline const char *snap_block_strings(const struct snap_block *b)
{
	return (const char *)(snap_block_ep_ports(b) +
			      (size_t)b->svc.endpoint_count * b->svc.port_count);
}

/* A local string in `strings` (length-prefixed, NUL-terminated): its
 * bytes and length; the empty string for ref 0. */
static inline const char *snap_local_str(const char *strings, ldmesh_str_t ref, uint8_t *len)
{
	const char *p;

	if (!(ref & SNAP_BLOCK_LOCAL)) {
		*len = 0;
		return "";
	}
	p = strings + (ref & ~SNAP_BLOCK_LOCAL);
	*len = (uint8_t)p[0];
	return p + 1;
}

/* Write `s` (`len` bytes) at `dst` in that form; returns the bytes
 * written, len + 2. */
static inline size_t snap_local_put(char *dst, const char *s, uint8_t len)
{
	dst[0] = (char)len;
	memcpy(dst + 1, s, len);
	dst[1 + len] = 0;
	return len + 2u;
}

/* A local string of the block (ns, name, fqdn). */
static inline const char *snap_block_str(const struct snap_block *b, ldmesh_str_t ref,
					 uint8_t *len)
{
	return snap_local_str(snap_block_strings(b), ref, len);
}

/*
 * What the cache keeps of a service once a base holding it is published
 * (snap_cache.h): its cache key and content hash, which tell an edit that
 * puts the service back as the base has it; its namespace and name, by
 * which edits find it; and its index keys with their FQDNs, which a delta
 * replacing or removing it turns into shadows. The records themselves are
 * in the published file, and a later full build makes them again from
 * the model: at 100,000 services the agent held them twice, 32 MB.
 * Written back to back into one buffer, each 8-byte aligned.
 */
struct snap_shadow {
	uint64_t key;           /* the block's */
	uint64_t content;       /* the block's */
	uint32_t n_vips;
	uint32_t n_names;
	/* vips, names (fqdn local), strings (local, as in a block: the
	 * namespace, the name, then the FQDNs): */
	uint64_t data[];
};

static inline const struct snap_vip_key *snap_shadow_vips(const struct snap_shadow *s)
{
	return (const struct snap_vip_key *)s->data;
}

static inline const struct snap_name_key *snap_shadow_names(const struct snap_shadow *s)
{
	return (const struct snap_name_key *)(snap_shadow_vips(s) + s->n_vips);
}

static inline const char *snap_shadow_str(const struct snap_shadow *s, ldmesh_str_t ref,
					  uint8_t *len)
{
	return snap_local_str((const char *)(snap_shadow_names(s) + s->n_names), ref, len);
}

/* The shadow's namespace and name (the first two of its strings). */
static inline const char *snap_shadow_ns(const struct snap_shadow *s, uint8_t *len)
{
	return snap_shadow_str(s, SNAP_BLOCK_LOCAL, len);
}

static inline const char *snap_shadow_name(const struct snap_shadow *s, uint8_t *len)
{
	uint8_t ns_len;

	snap_shadow_ns(s, &ns_len);
	return snap_shadow_str(s, SNAP_BLOCK_LOCAL | (ns_len + 2u), len);
}

/* Bytes the shadow of `b` takes, a multiple of 8. */
size_t snap_shadow_size(const struct snap_block *b);
/* Write the shadow of `b` at `out` (snap_shadow_size(b) bytes). */
void snap_shadow_write(const struct snap_block *b, struct snap_shadow *out);

/*
 * Working arrays for building blocks, reused from one block to the next
 * (a base build makes 100,000 of them). Owned by the cache.
 */
struct snap_block_scratch {
	struct ldmesh_port *ports;
	struct ldmesh_endpoint *eps;
	uint16_t *ep_ports;
	uint32_t *affinity, *maglev;    /* maglev: 3 x ready endpoints */
	struct ldmesh_split *splits;
	struct snap_vip_key *vips;
	struct snap_name_key *names;
	char *strings;
	size_t cap_ports, cap_eps, cap_ep_ports, cap_affinity, cap_maglev, cap_splits,
	       cap_vips, cap_names, cap_strings;
};

void snap_block_scratch_free(struct snap_block_scratch *s);

struct snap_block_ctx {
	const char *cluster_domain;
	const char *node_name;       /* or NULL */
	const char *node_zone;       /* or NULL */
	struct strpool *shared;      /* node, zone and hint names */
	struct snap_block_scratch *scratch;
	const struct snap_ejected *ejected; /* or NULL */
};

/* The key a block of `s` is cached by: the model's cache_key (0: none),
 * changed when the backends ejected among its endpoints change, since
 * they change the block and not the model. */
uint64_t snap_block_key(const struct snap_block_ctx *ctx, const struct snap_service_in *s);

/* Build the block of `s` with one reference (the caller's). 0 with *out
 * (free with snap_block_unref), or -EINVAL (a string over LDMESH_STR_MAX),
 * -E2BIG, -ENOMEM with *out untouched. */
int snap_block_build(const struct snap_block_ctx *ctx,
		     const struct snap_service_in *s, struct snap_block **out);

static inline struct snap_block *snap_block_ref(struct snap_block *b)
{
	b->refs++;
	return b;
}

/* Drop one reference; the last frees the block. Accepts NULL. */
void snap_block_unref(struct snap_block *b);

#endif
