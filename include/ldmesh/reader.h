/* SPDX-License-Identifier: MIT */
/*
 * The reader API over snapshots (see snapshot.h), one library
 * (preload/reader/) linked by libldmesh.so, ldmeshctl and the tests.
 *
 * Two layers:
 *  - struct ldmesh_snap: a view of one mapped snapshot whose header was
 *    checked, and the lookups on it. The mapping stays untrusted: every
 *    accessor bounds-checks what it reads and copies records out, so bytes
 *    changed after mapping give wrong answers, never a fault. Pure
 *    functions: no I/O, no allocation.
 *  - struct ldmesh_table: the live table directory. Checks who owns it,
 *    maps the control page, follows the generation (and a replaced
 *    directory), maps new snapshots, and unmaps old ones once no thread is
 *    inside them. Lock-free on the read side; the few syscalls it makes
 *    come from its caller (struct ldmesh_reader_sys), so inside the preload
 *    it never calls the preload's own hooks.
 */
#ifndef LDMESH_READER_H
#define LDMESH_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ldmesh/hash.h"
#include "ldmesh/snapshot.h"

/*
 * The table's shared fields are C11 atomics. C++ (before C++23's
 * <stdatomic.h>) has no _Atomic: it sees them as std::atomic of the same
 * type, which gcc and clang lay out as the C type (same size, alignment
 * and lock-free representation), so the struct is one struct in both
 * languages. The C ABI is unchanged: _Atomic(unsigned) is atomic_uint.
 */
#ifdef __cplusplus
#include <atomic>
#define LDMESH__ATOMIC(T) std::atomic<T>
#define LDMESH__ATOMIC_FLAG std::atomic_flag
#define LDMESH__LOAD_RELAXED(p) (p)->load(std::memory_order_relaxed)
#define LDMESH__STORE_RELAXED(p, v) (p)->store((v), std::memory_order_relaxed)
extern "C" {
#else
#include <stdatomic.h>
#define LDMESH__ATOMIC(T) _Atomic(T)
#define LDMESH__ATOMIC_FLAG atomic_flag
#define LDMESH__LOAD_RELAXED(p) atomic_load_explicit((p), memory_order_relaxed)
#define LDMESH__STORE_RELAXED(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#endif

/*
 * A checked view. Every field is a copy taken when the header was checked,
 * in the reader's own memory: later changes to the mapped header cannot
 * move a section or widen a bound.
 *
 * Layers (snapshot.h, "Bases and deltas"). A delta linked to its base
 * (ldmesh_snap_link) answers for the whole table in one UNIFIED INDEX
 * SPACE, so no caller knows there are two files: every index it hands out
 * or takes (service, port, endpoint, endpoint-port cell, affinity cell,
 * string reference) is the delta's own range first, then the base's moved
 * up by the delta's own count. Index i < n_services is the delta's own
 * service i; i >= n_services is the base's service i - n_services, copied
 * out with its references moved up the same way (first_port += n_ports,
 * ns += strings_size, ...), so following them lands in the base again.
 * The n_* counts below stay the snapshot's OWN counts (what bounds its
 * sections); ldmesh_snap_service_count gives the whole table's. Every
 * unified index stays below LDMESH_SHADOW (checked at link time), so
 * LDMESH_NONE and LDMESH_SHADOW never name a record in either layer.
 */
struct ldmesh_snap {
	const uint8_t *base; /* the mapping (named before deltas existed: the
	                        base of the bytes, not the base snapshot) */
	size_t size;
	uint64_t generation;
	uint64_t created_unix_ns;
	uint64_t base_generation; /* 0 for a base, else the delta's base */
	uint32_t flags;           /* the header's LDMESH_SNAP_F_*: a delta's
	                             own, not its base's */
	/* The base this delta is linked to, NULL for a base or a delta not
	 * linked (which then answers from its own records only, and reads a
	 * shadow as absent). Owned by whoever linked it, who keeps it mapped
	 * at least as long as this view. */
	const struct ldmesh_snap *base_snap;
	struct ldmesh_snap *file_base; /* the base ldmesh_snap_map_file mapped
	                                  (and ldmesh_snap_unmap frees), or NULL */
	ldmesh_str_t cluster_domain;
	ldmesh_str_t node_name;
	ldmesh_str_t node_zone;
	uint8_t service_cidr[16];
	uint8_t service_cidr_prefix;
	uint32_t vip_max_probe;  /* at most vip_slots */
	uint32_t name_max_probe; /* at most name_slots */
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
	const uint32_t *superseded; /* base service indexes, ascending (a
	                               delta's; a base with any is refused) */
	uint32_t n_superseded;
	const struct ldmesh_split *splits; /* (3.5) traffic splits */
	uint32_t n_splits;
};

/*
 * Check the header of `size` bytes at `base` (8-byte aligned) and fill `s`.
 * O(1): magic, version, header checksum, total_size == size, every section
 * inside the file with its entry size. Returns 0, or -EINVAL with *why set
 * to a constant reason (no formatting: the preload refuses from any
 * context).
 */
int ldmesh_snap_init(struct ldmesh_snap *s, const void *base, size_t size,
		     const char **why);

/*
 * ldmesh_snap_init with the header as the caller read it from the file
 * (pread) rather than from the mapping: the live table reads it so, which
 * spares every process a page fault per generation on a page its lookups
 * rarely need again, and checks the same bytes it then uses.
 */
int ldmesh_snap_init_header(struct ldmesh_snap *s,
			    const struct ldmesh_snap_header *h,
			    const void *base, size_t size, const char **why);

/*
 * Link the delta `delta` to `base` (both checked by ldmesh_snap_init):
 * from then on `delta` answers for the whole table (the unified index
 * space above). Refused, with a constant reason in *why and -EINVAL, when
 * `delta` is not a delta, `base` is not a base or not the generation the
 * delta names, the two disagree on the cluster domain or node name (a base
 * of another agent), or a count of the two together would reach
 * LDMESH_SHADOW. O(1) but for the two names. `base` must outlive the link.
 */
int ldmesh_snap_link(struct ldmesh_snap *delta, const struct ldmesh_snap *base,
		     const char **why);

/* ---- records, copied out and checked ---------------------------------- */

/*
 * Copy a record out of the mapping into the reader's memory. A concurrent
 * change can tear a copy (mixing old and new fields), which is why every
 * field is checked in the copy and never re-read from the mapping. The
 * compiler barrier after the copy forbids the compiler to read a field from
 * the mapping again in place of the copy (it may no longer assume the two
 * are equal): the kernel's READ_ONCE, for a whole record. Inline, so the
 * connect path copies only the fields it uses.
 */
#define LDMESH__COPY(dst, src)                               \
	do {                                                 \
		memcpy((dst), (src), sizeof(*(dst)));        \
		__asm__ __volatile__("" ::: "memory");       \
	} while (0)

/*
 * The base layer's half of each accessor, out of line: a base-only table
 * (or a lookup the delta answers) never calls them, so the connect path
 * pays one test of s->base_snap on the paths that leave the own range.
 * `i` (or `cell`, `ref`) is a unified index at or past the own range, and
 * s->base_snap is set. Each checks the base's record against the base's
 * counts, in the copy, then moves its references up (reader.h, "Layers").
 */
bool ldmesh__service_below(const struct ldmesh_snap *s, uint32_t i,
			   struct ldmesh_service *out);
bool ldmesh__port_below(const struct ldmesh_snap *s, uint32_t i,
			struct ldmesh_port *out);
bool ldmesh__endpoint_below(const struct ldmesh_snap *s, uint32_t i,
			    struct ldmesh_endpoint *out);
uint16_t ldmesh__endpoint_port_below(const struct ldmesh_snap *s, uint64_t cell);
uint32_t ldmesh__affinity_below(const struct ldmesh_snap *s, uint64_t cell);
bool ldmesh__split_below(const struct ldmesh_snap *s, uint64_t i, struct ldmesh_split *out);

/* Service `i` of this snapshot's own range, which the caller checked. */
static inline bool ldmesh__service_own(const struct ldmesh_snap *s, uint32_t i,
				       struct ldmesh_service *out)
{
	const struct ldmesh_service *v = out;

	LDMESH__COPY(out, &s->services[i]);
	return v->ip_count <= LDMESH_MAX_CLUSTER_IPS &&
	       (uint64_t)v->first_port + v->port_count <= s->n_ports &&
	       (uint64_t)v->first_endpoint + v->endpoint_count <= s->n_endpoints &&
	       (uint64_t)v->ready_count + v->fallback_count <= v->endpoint_count;
}

/*
 * Copy service `i` (a unified index). False when `i` is out of range or
 * the copy's counts do not fit its layer: its ports and endpoints lie
 * inside their sections, the chosen ones among its endpoints, at most two
 * ClusterIPs. That bounds every loop over a service by the table's size.
 * Single cells (the port matrix, the affinity table) are checked where
 * they are read. A delta's own service has its ports and endpoints in the
 * delta; a base's, in the base (its copy says so in unified indexes).
 */
static inline bool ldmesh_snap_service(const struct ldmesh_snap *s, uint32_t i,
				       struct ldmesh_service *out)
{
	if (i < s->n_services)
		return ldmesh__service_own(s, i, out);
	return s->base_snap && ldmesh__service_below(s, i, out);
}

static inline bool ldmesh_snap_port(const struct ldmesh_snap *s, uint32_t i,
				    struct ldmesh_port *out)
{
	if (i >= s->n_ports)
		return s->base_snap && ldmesh__port_below(s, i, out);
	LDMESH__COPY(out, &s->ports[i]);
	return true;
}

static inline bool ldmesh_snap_endpoint(const struct ldmesh_snap *s, uint32_t i,
					struct ldmesh_endpoint *out)
{
	if (i >= s->n_endpoints)
		return s->base_snap && ldmesh__endpoint_below(s, i, out);
	LDMESH__COPY(out, &s->endpoints[i]);
	return true;
}

/*
 * Whether DNS knows a headless service's endpoint, as CoreDNS does: ready
 * ones, all with publishNotReadyAddresses, wherever they run (a traffic
 * policy shapes the VIP's routing, not DNS). Its own name and its PTR
 * answer by this.
 */
static inline bool ldmesh_endpoint_in_dns(const struct ldmesh_service *svc,
					  const struct ldmesh_endpoint *ep)
{
	return (svc->flags & LDMESH_SVC_F_PUBLISH_NOT_READY) || (ep->flags & LDMESH_EP_F_READY);
}

/*
 * Whether the service's name (its addresses, its SRV records) lists it:
 * known to DNS and not ejected by the agent (3.5), which flags only those
 * it ordered out of the chosen set, never all, so a name never loses its
 * last address to an ejection. Shared by the preload and ldmesh-dns.
 */
static inline bool ldmesh_endpoint_listed(const struct ldmesh_service *svc,
					  const struct ldmesh_endpoint *ep)
{
	return !(ep->flags & LDMESH_EP_F_EJECTED) && ldmesh_endpoint_in_dns(svc, ep);
}

/*
 * Split `k` of the checked copy `svc` (3.5), copied out: false when k is
 * not below svc->split_count (capped at LDMESH_SPLITS_MAX) or the record
 * lies outside its layer's SPLITS. out->target is a unified string
 * reference; its weight is capped at LDMESH_SPLIT_WEIGHT_MAX, so a sum
 * over one service fits 32 bits.
 */
static inline bool ldmesh_snap_split(const struct ldmesh_snap *s,
				     const struct ldmesh_service *svc, uint32_t k,
				     struct ldmesh_split *out)
{
	uint64_t i = (uint64_t)svc->first_split + k;

	if (k >= svc->split_count || k >= LDMESH_SPLITS_MAX)
		return false;
	if (i >= s->n_splits) {
		if (!s->base_snap || !ldmesh__split_below(s, i, out))
			return false;
	} else {
		LDMESH__COPY(out, &s->splits[i]);
	}
	if (out->weight > LDMESH_SPLIT_WEIGHT_MAX)
		out->weight = LDMESH_SPLIT_WEIGHT_MAX;
	return true;
}

/*
 * A string inside the mapping: `len` bytes at `p`, both checked against
 * the STRINGS section once (the length byte is read once). The bytes may
 * still change under the reader; they cannot leave the section. A bad
 * reference reads as the empty string. `ref` is unified: past the own
 * pool it names the base's string ref - strings_size (so a delta may
 * also point its own records at strings its base already holds).
 */
struct ldmesh_strv {
	const char *p;
	uint8_t len;
};
struct ldmesh_strv ldmesh_snap_string(const struct ldmesh_snap *s,
				      ldmesh_str_t ref);
/* The same copied into `buf` (NUL-terminated, cut to cap - 1); returns buf. */
char *ldmesh_snap_strcpy(const struct ldmesh_snap *s, ldmesh_str_t ref,
			 char *buf, size_t cap);

/* ---- lookups ----------------------------------------------------------- */

static inline bool ldmesh__vip_key(const struct ldmesh_vip_slot *slot,
				   const uint8_t addr[16], uint16_t port,
				   uint8_t protocol)
{
	return slot->port == port && slot->protocol == protocol &&
	       !memcmp(slot->addr, addr, 16);
}

/* Probe one layer's VIP index: the matching slot copied into *out, or
 * false at an empty slot or the end of the probe. Most probes end on an
 * empty slot (the index is at most half full): one read decides, and only
 * a match is copied; the caller checks the copy, which is what it uses. */
__attribute__((always_inline))
static inline bool ldmesh__probe_vip(const struct ldmesh_snap *l, uint64_t hash,
				     const uint8_t addr[16], uint16_t port,
				     uint8_t protocol, struct ldmesh_vip_slot *out)
{
	uint32_t mask = l->vip_slots - 1, i = (uint32_t)hash & mask;

	if (!l->vip_slots)
		return false;
	for (uint32_t n = 0; n < l->vip_max_probe; n++, i = (i + 1) & mask) {
		const struct ldmesh_vip_slot *slot = &l->vip[i];

		if (*(const volatile uint32_t *)&slot->service == LDMESH_NONE)
			return false;
		if (!ldmesh__vip_key(slot, addr, port, protocol))
			continue;
		LDMESH__COPY(out, slot);
		return ldmesh__vip_key(out, addr, port, protocol);
	}
	return false;
}

/* The VIP slot for (addr, port, protocol), copied into *out; false when it
 * is not ours. out->service is a unified service index. In a linked delta
 * the delta's slot answers, its shadow says "absent" and only a key it
 * has no slot for goes to the base, probed with the same hash (a base has
 * no base_snap: link). Always inline, both layers: every connect asks,
 * and between edits most services a connect names are in the base. */
__attribute__((always_inline))
static inline bool ldmesh_snap_find_vip_hashed(const struct ldmesh_snap *s, uint64_t hash,
					       const uint8_t addr[16], uint16_t port,
					       uint8_t protocol,
					       struct ldmesh_vip_slot *out)
{
	const struct ldmesh_snap *b = s->base_snap;

	/* a shadow (LDMESH_SHADOW) is never below n_services: the key is
	 * absent, whatever the base says */
	if (ldmesh__probe_vip(s, hash, addr, port, protocol, out))
		return out->service < s->n_services;
	if (!b || !ldmesh__probe_vip(b, hash, addr, port, protocol, out) ||
	    out->service >= b->n_services)
		return false;
	out->service += s->n_services;
	return true;
}

/* The same, hashing the key itself (`hash` above is ldmesh_vip_hash of
 * it: ldmesh_table_find_connect_vip, which notes the key too, hashes
 * once). */
__attribute__((always_inline))
static inline bool ldmesh_snap_find_vip(const struct ldmesh_snap *s,
					const uint8_t addr[16], uint16_t port,
					uint8_t protocol,
					struct ldmesh_vip_slot *out)
{
	return ldmesh_snap_find_vip_hashed(s, ldmesh_vip_hash(addr, port, protocol), addr,
					   port, protocol, out);
}

/*
 * The layer that holds the service `slot` names, with slot->service made
 * that layer's own index. A base's records point only into the base, so
 * what follows a lookup (the service, its endpoints, the pick) can read
 * the holder directly and take the accessors' own-range paths instead of
 * shifting every index through the delta. The connect path does this; the
 * unified view stays correct for everything else.
 */
static inline const struct ldmesh_snap *ldmesh_snap_holder(const struct ldmesh_snap *s,
							   struct ldmesh_vip_slot *slot)
{
	if (slot->service < s->n_services || !s->base_snap)
		return s;
	slot->service -= s->n_services;
	return s->base_snap;
}

/* The name slot for a lower-cased FQDN without trailing dot, copied into
 * *out; false when absent. out->service (and out->endpoint unless
 * LDMESH_NONE, and out->fqdn) are unified indexes; layers as for VIPs. */
bool ldmesh_snap_find_name(const struct ldmesh_snap *s, const char *fqdn,
			   size_t len, struct ldmesh_name_slot *out);

/*
 * Listing the table (tools, not the connect path): services [0, count) in
 * the unified space, of which those a delta supersedes (SUPERSEDED: the
 * base's older version of a service the delta replaces, or one it
 * removes) are not part of the table. Lookups never need this: the
 * delta's own slots and shadows already hide them. O(log n_superseded).
 */
uint32_t ldmesh_snap_service_count(const struct ldmesh_snap *s);
bool ldmesh_snap_service_listed(const struct ldmesh_snap *s, uint32_t i);

/*
 * Endpoints a connect to a service may use, as kube-proxy would: the ready
 * ones, else the serving+terminating fallback. `svc` is a checked copy.
 * Sets *first (an index into the endpoints) and returns the count; 0 means
 * reject (ECONNREFUSED).
 */
static inline uint32_t ldmesh_snap_candidates(const struct ldmesh_service *svc,
					      uint32_t *first)
{
	/* Ready endpoints come first; the fallback ones follow them, so with
	 * none ready they start at the same place. */
	*first = svc->first_endpoint;
	return svc->ready_count ? svc->ready_count : svc->fallback_count;
}

/* The port endpoint `ep` (index into the endpoints) serves for
 * `port_index` of the checked copy `svc`; 0 when it does not serve it or
 * either index is outside the service. */
static inline uint16_t ldmesh_snap_endpoint_port(const struct ldmesh_snap *s,
						 const struct ldmesh_service *svc,
						 uint32_t ep, uint32_t port_index)
{
	uint32_t row = ep - svc->first_endpoint;
	uint64_t cell = svc->first_endpoint_port + (uint64_t)row * svc->port_count +
			port_index;

	if (ep < svc->first_endpoint || row >= svc->endpoint_count ||
	    port_index >= svc->port_count)
		return 0;
	if (cell >= s->n_endpoint_ports)
		return s->base_snap ? ldmesh__endpoint_port_below(s, cell) : 0;
	return s->endpoint_ports[cell];
}

/*
 * Choose a backend for a connect: `rnd` is a uniformly random 64-bit value
 * (or, with session affinity, a hash of the client). Starts at a position
 * drawn from `rnd` among the candidates and takes the first one serving the
 * port. `svc` is a checked copy. Returns the endpoint index and sets *port,
 * or LDMESH_NONE.
 */
static inline uint32_t ldmesh_snap_pick(const struct ldmesh_snap *s,
					const struct ldmesh_service *svc,
					uint32_t port_index, uint64_t rnd,
					uint16_t *port)
{
	uint32_t first, n = ldmesh_snap_candidates(svc, &first);
	/* Multiply-shift maps the 64-bit draw onto [0, n) without the bias or
	 * the division of a modulo. */
	uint32_t start = (uint32_t)(((rnd >> 32) * (uint64_t)n) >> 32);

	if (!n)
		return LDMESH_NONE;
	if (svc->affinity_size && svc->ready_count) {
		uint64_t cell = (uint64_t)svc->affinity_offset + rnd % svc->affinity_size;

		/* read once; a cell or entry out of range (a damaged table)
		 * keeps the random start */
		uint32_t a = cell < s->n_affinity ?
				     *(const volatile uint32_t *)&s->affinity[cell] :
			     s->base_snap ? ldmesh__affinity_below(s, cell) : LDMESH_NONE;
		if (a < n)
			start = a;
	}
	/* Usually the first candidate serves the port; endpoints that do not
	 * (slices with differing ports) are stepped over in order. */
	for (uint32_t k = 0, i = start; k < n; k++, i = i + 1 == n ? 0 : i + 1) {
		uint16_t p = ldmesh_snap_endpoint_port(s, svc, first + i, port_index);
		if (p) {
			*port = p;
			return first + i;
		}
	}
	return LDMESH_NONE;
}

/* ---- the header, for writers and tools -------------------------------- */

/* Seal a snapshot built in memory: the fixed header fields and the header
 * checksum. `h` holds the rest (sections, strings, probes); the agent
 * calls this last. */
void ldmesh_snap_header_seal(void *file, const struct ldmesh_snap_header *h);

/* The hash of what a snapshot says, not when or as which generation: equal
 * for two builds of the same input. */
uint64_t ldmesh_snap_content_hash(const void *file, size_t size);

/* ---- the control page's publication records ------------------------------ */

/* Which file `st` is, as a record names it. */
struct ldmesh_file_id ldmesh_file_id_of(const struct stat *st);

/* The record of snap.<gen> (snapshot.h): its first bytes `file` (at least
 * LDMESH_SNAP_HEADER_SIZE, sealed), which file it is and its base (zero
 * for a base), with the checksum. */
void ldmesh_control_record_seal(struct ldmesh_control_record *rec, const void *file,
				struct ldmesh_file_id snap, struct ldmesh_file_id base);

/* Store `rec` into its slot of the writer's control page; the caller then
 * publishes rec->generation with a release store. */
void ldmesh_control_record_put(struct ldmesh_control *c,
			       const struct ldmesh_control_record *rec);

/* Copy the record of generation `gen` out of a mapped control page into
 * *out, word by word (the page is shared with its writer). 0 when it is a
 * valid record of `gen`; -1 when there is none or it was copied torn. */
int ldmesh_control_record_get(const struct ldmesh_control *c, uint64_t gen,
			      struct ldmesh_control_record *out);

/* Store the record of a base announced ahead (snapshot.h, 3.2) into the
 * writer's control page, or zero it (`rec` NULL). */
void ldmesh_control_ahead_put(struct ldmesh_control *c,
			      const struct ldmesh_control_record *rec);

/* Copy the announced base's record out of a mapped control page: 0 when
 * it is a valid record of a base (the caller compares its generation with
 * the current one), -1 when there is none or it was copied torn. */
int ldmesh_control_ahead_get(const struct ldmesh_control *c,
			     struct ldmesh_control_record *out);

/*
 * Warm a base before it becomes current: read the pages that looking up
 * each key would read (the index slots probed, the service record, its
 * ports, endpoints, endpoint-port rows, affinity table and name strings),
 * so that those lookups after the switch take no page fault. Keys are
 * given by hash, as ldmesh_vip_hash and ldmesh_hash64 of the FQDN compute
 * them; 0 is no key. At most `page_budget` pages are read (each read may
 * map a fault-around window). Own layer only: an announced table is a
 * base. Safe on any bytes, as every lookup is. Returns the keys found.
 */
unsigned ldmesh_snap_warm(const struct ldmesh_snap *s, const uint64_t *vip_hashes,
			  unsigned n_vip, const uint64_t *name_hashes, unsigned n_name,
			  unsigned page_budget);

/* ---- trust ------------------------------------------------------------- */

/*
 * Whether the reader may use a table file or directory with status `st`:
 * NULL if so, else a constant reason ("not a directory", "owned by another
 * user", "writable by group or others", ...). `want_dir` says which kind
 * it must be; `euid` is the reading process's effective uid.
 */
const char *ldmesh_trust_check(const struct stat *st, bool want_dir, uid_t euid);

/* ---- the live table ---------------------------------------------------- */

/*
 * The syscalls the table makes, supplied by its user. The preload passes
 * its resolved libc functions (a plain close() there binds to its own
 * hook); tools pass ldmesh_reader_libc. All must be async-signal-safe.
 */
struct ldmesh_reader_sys {
	int (*openat)(int dirfd, const char *path, int flags);
	int (*fstat)(int fd, struct stat *st);
	int (*fstatat)(int dirfd, const char *path, struct stat *st, int flags);
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off);
	int (*munmap)(void *addr, size_t len);
	int (*close)(int fd);
};
extern const struct ldmesh_reader_sys ldmesh_reader_libc;

enum ldmesh_table_event {
	LDMESH_TABLE_SWITCHED, /* a new generation is in use */
	LDMESH_TABLE_REFUSED,  /* a generation was refused; why says why */
	LDMESH_TABLE_MISSING,  /* no usable control page (yet); why says why */
	LDMESH_TABLE_REPLACED, /* the directory was replaced; following it */
	LDMESH_TABLE_AHEAD,    /* a base announced ahead was mapped; a switch
	                          to it (why "mapped ahead") makes no call */
};

typedef void (*ldmesh_table_event_fn)(void *ctx, enum ldmesh_table_event ev,
				      uint64_t generation, const char *why);

/* Mapped snapshots kept at once: the current one plus ones that threads may
 * still be reading. A refresh that finds no free slot keeps the current
 * snapshot and tries again on a later call, so memory stays bounded.
 * Six, not four, since deltas: a delta brings its base, so moving from a
 * delta to a delta over a NEW base needs two free slots while the current
 * pair is still mapped, and a thread still inside the pair before that
 * pins two more: 3 pairs. A base-only table uses them as before. */
#define LDMESH_TABLE_SLOTS 6
#define LDMESH_TABLE_RETRY_NS 250000000ULL /* recheck a missing table */
/* How often a reader asks whether the directory or its control page was
 * replaced (two fstatat calls):
 * the bound on how long a process follows an abandoned table. */
#define LDMESH_TABLE_DIR_CHECK_NS 1000000000ULL
#define LDMESH_PATH_MAX 256
/* Keys of each kind remembered for warming: a process talks to a handful
 * of services; more would warm ones it no longer uses. A power of two
 * (a key's top bits pick its entry). */
#define LDMESH_TABLE_USED 8
/* Pages the check may read to warm them: a read can map a 64 KiB
 * fault-around window, so 32 keep its RSS growth within issue 8's 2 MB. */
#define LDMESH_TABLE_WARM_PAGES 32

/*
 * Pins: how many threads are inside each slot's mapping, counted per
 * STRIPE, a cache line of its own holding one count per slot. A thread
 * takes a stripe when it first pins (round robin) and keeps it, so on a
 * many-core node each connect's two RMWs hit a line its own core holds,
 * where one shared count per slot moved between the cores on every
 * connect (issue 26: ~2 line transfers of 100-300 ns each on a 64-core
 * node, > 1% of a refused connect; tests/bench/results/refcount.md).
 * Threads past the stripe count share stripes (correct, only slower).
 * A reader's count goes up and down in its stripe (the pin handle is the
 * count's index), so each stripe's count is >= 0 and the reclaimer's sum over the
 * stripes is 0 exactly when nobody is inside. The stripes live in
 * `pins`, a flat array of counts 4-aligned like the struct, from the
 * first index at a 64-byte boundary (`pin_first`): no over-aligned type,
 * so a table may live in malloc'd memory.
 */
#define LDMESH_TABLE_STRIPES 64
#define LDMESH_TABLE_STRIPE_WORDS 16 /* 64 bytes of unsigned */

struct ldmesh_table_slot {
	LDMESH__ATOMIC(bool) used;          /* holds a mapping */
	LDMESH__ATOMIC(uint_least64_t) generation; /* snap.generation, readable by
	                                     any thread at any time */
	struct ldmesh_snap snap;   /* valid while used */
	/* Only the refresher (holding `refreshing`) touches these two: */
	int base_slot;             /* the slot snap.base_snap lives in, or -1 */
	unsigned links;            /* used slots whose base this slot is: it
	                              stays mapped while any is (a reader
	                              pins the delta's slot only) */
	unsigned dir_epoch;        /* table dir_epoch when mapped: a slot of a
	                              replaced directory is never reused as a
	                              base (generation numbers start over) */
	struct ldmesh_file_id id;  /* the file mapped: a slot serves as the
	                              file a record names only if it is that
	                              one */
};

/* Fields are private to table.c; the struct is public so it can be static. */
struct ldmesh_table {
	char dir[LDMESH_PATH_MAX];
	const struct ldmesh_reader_sys *sys;
	/* Mapped once at a fixed address; a replaced directory's control page
	 * is mapped over it (MAP_FIXED), so readers never see it go away. */
	LDMESH__ATOMIC(const struct ldmesh_control *) control;
	dev_t dir_dev;                        /* the directory control came from */
	ino_t dir_ino;
	ino_t control_ino;                    /* and the control file itself */
	LDMESH__ATOMIC(int) current;                   /* slot index, -1 for none */
	LDMESH__ATOMIC(uint_least64_t) seen_generation; /* last generation attempted */
	LDMESH__ATOMIC(uint_least64_t) next_retry_ns;
	LDMESH__ATOMIC(uint_least64_t) next_dir_check_ns;
	/* The same deadline in CPU ticks (TSC, or the arm64 virtual counter),
	 * which the connect path can read without a call: */
	LDMESH__ATOMIC(uint_least64_t) next_check_tick;
	LDMESH__ATOMIC(uint_least64_t) ticks_per_s;    /* 0 until calibrated */
	uint64_t tick0, ns0;                  /* calibration start */
	LDMESH__ATOMIC_FLAG refreshing;               /* one refresher at a time */
	const char *dir_bad;                  /* why the directory is not to
	                                         be trusted now (the
	                                         once-a-second check), or NULL */
	unsigned dir_epoch;                   /* bumped when following a
	                                         replaced directory */
	int ahead_slot;                       /* the base announced ahead,
	                                         mapped by the check and
	                                         linked once (kept) until a
	                                         switch takes or passes it;
	                                         -1 for none */
	/* The keys this process looked up lately (ldmesh_table_note_*):
	 * the check warms them in a base announced ahead. Written by any
	 * thread without order: a note lost to a race costs only a page
	 * fault later. */
	LDMESH__ATOMIC(uint_least64_t) used_vip[LDMESH_TABLE_USED];
	LDMESH__ATOMIC(uint_least64_t) used_name[LDMESH_TABLE_USED];
	struct ldmesh_table_slot slots[LDMESH_TABLE_SLOTS];
	unsigned pin_first;                   /* pins[] index at a line start */
	LDMESH__ATOMIC(unsigned) pins[(LDMESH_TABLE_STRIPES + 1) * LDMESH_TABLE_STRIPE_WORDS];
	ldmesh_table_event_fn on_event;
	void *event_ctx;
};

/* The CPU's tick counter: one instruction where there is one (x86 TSC,
 * the arm64 virtual counter), else the monotonic clock in ns. */
#if defined(__x86_64__) || defined(__i386__)
#define LDMESH_TICKS 1
static inline uint64_t ldmesh_tick(void)
{
	return __builtin_ia32_rdtsc();
}
#elif defined(__aarch64__)
#define LDMESH_TICKS 1
static inline uint64_t ldmesh_tick(void)
{
	uint64_t v;

	__asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
	return v;
}
#else
#include <time.h>
#define LDMESH_TICKS 0
static inline uint64_t ldmesh_tick(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}
#endif

/* Nanoseconds since the tick `since`, by the rate the table measured (in
 * the process's first half second, measured on the spot against the clock);
 * 0 when nothing can be measured yet. */
uint64_t ldmesh_table_elapsed_ns(struct ldmesh_table *t, uint64_t since);

/* Prepare `t` for the table directory `dir` (copied). Maps nothing yet.
 * Returns 0 or -ENAMETOOLONG. */
int ldmesh_table_init(struct ldmesh_table *t, const char *dir,
		      const struct ldmesh_reader_sys *sys,
		      ldmesh_table_event_fn on_event, void *event_ctx);

/*
 * Pin the current snapshot, refreshing first if the generation moved, the
 * control page appeared, or a second passed since the directory was last
 * checked for replacement. Returns NULL when there is none; otherwise the
 * caller must call ldmesh_table_release(t, *slot) when done (*slot is a
 * handle, the index in t->pins of the count the pin took, not a slot
 * index). Lock-free; async-signal-safe; no allocation.
 */
const struct ldmesh_snap *ldmesh_table_acquire(struct ldmesh_table *t,
					       int *slot);
void ldmesh_table_release(struct ldmesh_table *t, int slot);
/* Threads inside slot `i` now (the sum of its stripes): tests, reclaim. */
unsigned ldmesh_table_pinned(struct ldmesh_table *t, int i);

/*
 * Remember that this process looked up the VIP key of hash `h`
 * (ldmesh_vip_hash) or the name of hash `h` (ldmesh_hash64 of the FQDN),
 * for the check to warm it in a base announced ahead (ldmesh_snap_warm).
 * On the connect path: no call, no lock, and no store when the key is the
 * one its entry holds (the common case: a process connects to the same
 * services again and again), so threads do not bounce the line.
 */
static inline void ldmesh__table_note(LDMESH__ATOMIC(uint_least64_t) *used, uint64_t h)
{
	LDMESH__ATOMIC(uint_least64_t) *e = &used[h >> 61];

	static_assert(LDMESH_TABLE_USED == 8, "h >> 61 picks one of 8 entries");
	if (LDMESH__LOAD_RELAXED(e) != h)
		LDMESH__STORE_RELAXED(e, h);
}

static inline void ldmesh_table_note_vip(struct ldmesh_table *t, uint64_t h)
{
	ldmesh__table_note(t->used_vip, h);
}

static inline void ldmesh_table_note_name(struct ldmesh_table *t, uint64_t h)
{
	ldmesh__table_note(t->used_name, h);
}

/*
 * A connect's VIP lookup in `s` (pinned from `t`): the TCP key, else the
 * UDP one (most VIPs are TCP; the UDP probe only when TCP missed), the
 * key found noted for warming. Each key hashed once. The protocol found
 * (LDMESH_PROTO_TCP or _UDP), or 0 when the address is not ours.
 */
__attribute__((always_inline))
static inline uint8_t ldmesh_table_find_connect_vip(struct ldmesh_table *t,
						    const struct ldmesh_snap *s,
						    const uint8_t addr[16], uint16_t port,
						    struct ldmesh_vip_slot *out)
{
	uint8_t proto = LDMESH_PROTO_TCP;
	uint64_t h = ldmesh_vip_hash(addr, port, proto);

	if (!ldmesh_snap_find_vip_hashed(s, h, addr, port, proto, out)) {
		proto = LDMESH_PROTO_UDP;
		h = ldmesh_vip_hash(addr, port, proto);
		if (!ldmesh_snap_find_vip_hashed(s, h, addr, port, proto, out))
			return 0;
	}
	ldmesh_table_note_vip(t, h);
	return proto;
}

/* Make the once-a-second check (replaced directory, its trust, release of
 * what earlier switches left mapped) due at the next acquire, as a
 * second's wait would: for tests and benchmarks, which cannot wait. */
void ldmesh_table_check_now(struct ldmesh_table *t);

/* The control page, or NULL (tools: publish time, agent pid). */
const struct ldmesh_control *ldmesh_table_control(struct ldmesh_table *t);

/* Unmap everything (tools and tests; the preload never calls it). */
void ldmesh_table_close(struct ldmesh_table *t);

/* In a child after fork(): only the forking thread survives, so no other
 * thread is inside any mapping. */
void ldmesh_table_after_fork(struct ldmesh_table *t);

/* Tools and tests: map one snapshot file (trust-checked like the table's)
 * and check its header; a delta's base, snap.<base_generation> in the same
 * directory, is mapped, checked and linked too (held in memory of its own,
 * freed by ldmesh_snap_unmap). Returns 0 or -errno/-EINVAL with a message
 * in `why`; unmap with ldmesh_snap_unmap, which unmaps both. */
int ldmesh_snap_map_file(struct ldmesh_snap *s, const char *path, char *why,
			 size_t why_len);
void ldmesh_snap_unmap(struct ldmesh_snap *s);

#ifdef __cplusplus
}
#endif

#endif
