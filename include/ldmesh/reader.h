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

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ldmesh/snapshot.h"

/*
 * A checked view. Every field is a copy taken when the header was checked,
 * in the reader's own memory: later changes to the mapped header cannot
 * move a section or widen a bound.
 */
struct ldmesh_snap {
	const uint8_t *base;
	size_t size;
	uint64_t generation;
	uint64_t created_unix_ns;
	ldmesh_str_t cluster_domain;
	ldmesh_str_t node_name;
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

/* ---- records, copied out and checked ---------------------------------- */

/*
 * Copy service `i`. False when `i` is out of range or the copy's own
 * ranges (ports, endpoints, port matrix, affinity table, IP count) do not
 * fit the snapshot. Indices taken from a copy that passed are in range.
 */
bool ldmesh_snap_service(const struct ldmesh_snap *s, uint32_t i,
			 struct ldmesh_service *out);
bool ldmesh_snap_port(const struct ldmesh_snap *s, uint32_t i,
		      struct ldmesh_port *out);
bool ldmesh_snap_endpoint(const struct ldmesh_snap *s, uint32_t i,
			  struct ldmesh_endpoint *out);

/*
 * A string inside the mapping: `len` bytes at `p`, both checked against
 * the STRINGS section once (the length byte is read once). The bytes may
 * still change under the reader; they cannot leave the section. A bad
 * reference reads as the empty string.
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

/* The VIP slot for (addr, port, protocol), copied into *out; false when it
 * is not ours. out->service is below n_services. */
bool ldmesh_snap_find_vip(const struct ldmesh_snap *s, const uint8_t addr[16],
			  uint16_t port, uint8_t protocol,
			  struct ldmesh_vip_slot *out);

/* The name slot for a lower-cased FQDN without trailing dot, copied into
 * *out; false when absent. out->service is below n_services. */
bool ldmesh_snap_find_name(const struct ldmesh_snap *s, const char *fqdn,
			   size_t len, struct ldmesh_name_slot *out);

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
uint16_t ldmesh_snap_endpoint_port(const struct ldmesh_snap *s,
				   const struct ldmesh_service *svc,
				   uint32_t ep, uint32_t port_index);

/*
 * Choose a backend for a connect: `rnd` is a uniformly random 64-bit value
 * (or, with session affinity, a hash of the client). Starts at a position
 * drawn from `rnd` among the candidates and takes the first one serving the
 * port. Returns the endpoint index and sets *port, or LDMESH_NONE.
 */
uint32_t ldmesh_snap_pick(const struct ldmesh_snap *s,
			  const struct ldmesh_service *svc, uint32_t port_index,
			  uint64_t rnd, uint16_t *port);

/* ---- the header, for writers and tools -------------------------------- */

/* Seal a snapshot built in memory: the fixed header fields and the header
 * checksum. `h` holds the rest (sections, strings, probes); the agent
 * calls this last. */
void ldmesh_snap_header_seal(void *file, const struct ldmesh_snap_header *h);

/* The hash of what a snapshot says, not when or as which generation: equal
 * for two builds of the same input. */
uint64_t ldmesh_snap_content_hash(const void *file, size_t size);

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
};

typedef void (*ldmesh_table_event_fn)(void *ctx, enum ldmesh_table_event ev,
				      uint64_t generation, const char *why);

/* Mapped snapshots kept at once: the current one plus ones that threads may
 * still be reading. A refresh that finds no free slot keeps the current
 * snapshot and tries again on a later call, so memory stays bounded. */
#define LDMESH_TABLE_SLOTS 4
#define LDMESH_TABLE_RETRY_NS 250000000ULL /* recheck a missing table */
/* How often a reader asks whether the directory was replaced (one fstatat):
 * the bound on how long a process follows an abandoned table. */
#define LDMESH_TABLE_DIR_CHECK_NS 1000000000ULL
#define LDMESH_PATH_MAX 256

struct ldmesh_table_slot {
	atomic_uint refs;          /* threads inside this mapping */
	atomic_bool used;          /* holds a mapping */
	struct ldmesh_snap snap;   /* valid while used */
};

/* Fields are private to table.c; the struct is public so it can be static. */
struct ldmesh_table {
	char dir[LDMESH_PATH_MAX];
	const struct ldmesh_reader_sys *sys;
	/* Mapped once at a fixed address; a replaced directory's control page
	 * is mapped over it (MAP_FIXED), so readers never see it go away. */
	_Atomic(const struct ldmesh_control *) control;
	dev_t dir_dev;                        /* the directory control came from */
	ino_t dir_ino;
	atomic_int current;                   /* slot index, -1 for none */
	atomic_uint_least64_t seen_generation; /* last generation attempted */
	atomic_uint_least64_t next_retry_ns;
	atomic_uint_least64_t next_dir_check_ns;
	atomic_flag refreshing;               /* one refresher at a time */
	struct ldmesh_table_slot slots[LDMESH_TABLE_SLOTS];
	ldmesh_table_event_fn on_event;
	void *event_ctx;
};

/* Prepare `t` for the table directory `dir` (copied). Maps nothing yet.
 * Returns 0 or -ENAMETOOLONG. */
int ldmesh_table_init(struct ldmesh_table *t, const char *dir,
		      const struct ldmesh_reader_sys *sys,
		      ldmesh_table_event_fn on_event, void *event_ctx);

/*
 * Pin the current snapshot, refreshing first if the generation moved, the
 * control page appeared, or a second passed since the directory was last
 * checked for replacement. Returns NULL when there is none; otherwise the
 * caller must call ldmesh_table_release(t, *slot) when done.
 * Lock-free; async-signal-safe; no allocation.
 */
const struct ldmesh_snap *ldmesh_table_acquire(struct ldmesh_table *t,
					       int *slot);
void ldmesh_table_release(struct ldmesh_table *t, int slot);

/* The control page, or NULL (tools: publish time, agent pid). */
const struct ldmesh_control *ldmesh_table_control(struct ldmesh_table *t);

/* Unmap everything (tools and tests; the preload never calls it). */
void ldmesh_table_close(struct ldmesh_table *t);

/* In a child after fork(): only the forking thread survives, so no other
 * thread is inside any mapping. */
void ldmesh_table_after_fork(struct ldmesh_table *t);

/* Tools and tests: map one snapshot file (trust-checked like the table's)
 * and check its header. Returns 0 or -errno/-EINVAL with a message in
 * `why`; unmap with ldmesh_snap_unmap. */
int ldmesh_snap_map_file(struct ldmesh_snap *s, const char *path, char *why,
			 size_t why_len);
void ldmesh_snap_unmap(struct ldmesh_snap *s);

#endif
