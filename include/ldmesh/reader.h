/* SPDX-License-Identifier: MIT */
/*
 * The reader API over snapshots (see snapshot.h), shared by libldmesh.so,
 * ldmeshctl and the tests.
 *
 * Two layers:
 *  - struct ldmesh_snap: a validated, read-only view of one snapshot in
 *    memory, and the lookups on it. Pure functions: no I/O, no allocation.
 *  - struct ldmesh_table: the live table directory. Maps the control page,
 *    follows the generation, maps and validates new snapshots, and unmaps
 *    old ones once no thread is inside them. Lock-free on the read side.
 */
#ifndef LDMESH_READER_H
#define LDMESH_READER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ldmesh/snapshot.h"

struct ldmesh_snap {
	const uint8_t *base;
	size_t size;
	const struct ldmesh_snap_header *hdr;
	const char *strings;
	uint32_t strings_size;
	const struct ldmesh_service *services;
	uint32_t n_services;
	const struct ldmesh_port *ports;
	uint32_t n_ports;
	const struct ldmesh_endpoint *endpoints;
	uint32_t n_endpoints;
	const uint16_t *endpoint_ports;
	uint32_t n_endpoint_ports;
	const struct ldmesh_vip_slot *vip;
	uint32_t vip_slots; /* power of two, or 0 */
	const struct ldmesh_name_slot *names;
	uint32_t name_slots; /* power of two, or 0 */
	const uint32_t *affinity;
	uint32_t n_affinity;
	uint64_t generation;
};

/*
 * Validate `size` bytes at `base` as a snapshot and fill `s`. Checks magic,
 * version, sizes, checksum, and that every offset, count, index and string
 * reference stays inside the file, so lookups after it need no checks.
 * Returns 0, or -EINVAL with a reason in `why` (may be NULL).
 */
int ldmesh_snap_init(struct ldmesh_snap *s, const void *base, size_t size,
		     char *why, size_t why_len);

/* The string behind a reference; valid references only (init checked them). */
static inline const char *ldmesh_snap_str(const struct ldmesh_snap *s,
					  ldmesh_str_t ref)
{
	return s->strings + ref + 1;
}

static inline uint8_t ldmesh_snap_strlen(const struct ldmesh_snap *s,
					 ldmesh_str_t ref)
{
	return (uint8_t)s->strings[ref];
}

/* The VIP slot for (addr, port, protocol), or NULL when it is not ours. */
const struct ldmesh_vip_slot *ldmesh_snap_find_vip(const struct ldmesh_snap *s,
						   const uint8_t addr[16],
						   uint16_t port,
						   uint8_t protocol);

/*
 * The name slot for a lower-cased FQDN without trailing dot, or NULL.
 */
const struct ldmesh_name_slot *ldmesh_snap_find_name(const struct ldmesh_snap *s,
						     const char *fqdn,
						     size_t len);

/*
 * Endpoints a connect to port `port_index` of service `svc` may use, as
 * kube-proxy would: the ready ones, else the serving+terminating fallback.
 * Sets *first (an index into s->endpoints) and returns the count; 0 means
 * reject (ECONNREFUSED).
 */
uint32_t ldmesh_snap_candidates(const struct ldmesh_snap *s,
				const struct ldmesh_service *svc,
				uint32_t *first);

/* The port endpoint `ep` (index into s->endpoints) serves for `port_index`
 * of its service `svc`; 0 when it does not serve that port. */
static inline uint16_t ldmesh_snap_endpoint_port(const struct ldmesh_snap *s,
						 const struct ldmesh_service *svc,
						 uint32_t ep,
						 uint32_t port_index)
{
	uint32_t row = ep - svc->first_endpoint;
	return s->endpoint_ports[svc->first_endpoint_port +
				 row * svc->port_count + port_index];
}

/*
 * Choose a backend for a connect: `rnd` is a uniformly random 64-bit value
 * (or, with session affinity, a hash of the client). Starts at a position
 * drawn from `rnd` among the candidates and takes the first one serving the
 * port. Returns the endpoint index and sets *port, or LDMESH_NONE.
 */
uint32_t ldmesh_snap_pick(const struct ldmesh_snap *s,
			  const struct ldmesh_service *svc, uint32_t port_index,
			  uint64_t rnd, uint16_t *port);

/* ---- the live table ---------------------------------------------------- */

enum ldmesh_table_event {
	LDMESH_TABLE_SWITCHED, /* a new generation is in use */
	LDMESH_TABLE_REFUSED,  /* a generation was refused; why says why */
	LDMESH_TABLE_MISSING,  /* no control page (yet); why says why */
};

typedef void (*ldmesh_table_event_fn)(void *ctx, enum ldmesh_table_event ev,
				      uint64_t generation, const char *why);

/* Mapped snapshots kept at once: the current one plus ones that threads may
 * still be reading. A refresh that finds no free slot keeps the current
 * snapshot and tries again on a later call, so memory stays bounded. */
#define LDMESH_TABLE_SLOTS 4
#define LDMESH_TABLE_RETRY_NS 250000000ULL /* recheck a missing table */
#define LDMESH_PATH_MAX 256

struct ldmesh_table_slot {
	atomic_uint refs;          /* threads inside this mapping */
	atomic_bool used;          /* holds a mapping */
	struct ldmesh_snap snap;   /* valid while used */
};

/* Fields are private to table.c; the struct is public so it can be static. */
struct ldmesh_table {
	char dir[LDMESH_PATH_MAX];
	_Atomic(const struct ldmesh_control *) control; /* NULL until mapped */
	atomic_int current;                   /* slot index, -1 for none */
	atomic_uint_least64_t seen_generation; /* last generation attempted */
	atomic_uint_least64_t next_retry_ns;
	atomic_flag refreshing;               /* one refresher at a time */
	struct ldmesh_table_slot slots[LDMESH_TABLE_SLOTS];
	ldmesh_table_event_fn on_event;
	void *event_ctx;
};

/* Prepare `t` for the table directory `dir` (copied). Maps nothing yet.
 * Returns 0 or -ENAMETOOLONG. */
int ldmesh_table_init(struct ldmesh_table *t, const char *dir,
		      ldmesh_table_event_fn on_event, void *event_ctx);

/*
 * Pin the current snapshot, refreshing first if the generation moved (or
 * the control page appeared). Returns NULL when there is none; otherwise
 * the caller must call ldmesh_table_release(t, *slot) when done.
 * Lock-free; async-signal-safe; no allocation.
 */
const struct ldmesh_snap *ldmesh_table_acquire(struct ldmesh_table *t,
					       int *slot);
void ldmesh_table_release(struct ldmesh_table *t, int slot);

/* Unmap everything (tools and tests; the preload never calls it). */
void ldmesh_table_close(struct ldmesh_table *t);

/* In a child after fork(): only the forking thread survives, so no other
 * thread is inside any mapping. */
void ldmesh_table_after_fork(struct ldmesh_table *t);

/* Convenience for tools and tests: map and validate one snapshot file.
 * Returns 0 or -errno/-EINVAL with why; unmap with ldmesh_snap_unmap. */
int ldmesh_snap_map_file(struct ldmesh_snap *s, const char *path, char *why,
			 size_t why_len);
void ldmesh_snap_unmap(struct ldmesh_snap *s);

#endif
