/* SPDX-License-Identifier: MIT */
#include "fdmap.h"

#include <stdatomic.h>
#include <string.h>

/*
 * One seqlock per fd: a writer makes seq odd, stores the words, makes it
 * even again; a reader retries while seq is odd or moved. Writers to one fd
 * only race when the application itself races connect/close/dup on that fd;
 * a torn read then at worst yields an entry whose backend does not match
 * the kernel's peer, which getpeername detects and ignores.
 */
struct fdmap_entry {
	atomic_uint seq;
	atomic_uint family;              /* 0 = empty */
	atomic_uint ports;               /* vip_port << 16 | backend_port */
	atomic_uint tag;                 /* FDMAP_TAG_* | generation << 8 */
	_Atomic uint64_t vip[2];
	_Atomic uint64_t backend[2];
};
_Static_assert(sizeof(struct fdmap_entry) == 48, "fdmap entry size");

/* A reader gives up after this many torn attempts rather than spin. */
#define FDMAP_READ_TRIES 8

static struct fdmap_entry fdmap__tab[FDMAP_MAX];

static struct fdmap_entry *fdmap__at(int fd)
{
	return (fd >= 0 && fd < FDMAP_MAX) ? &fdmap__tab[fd] : NULL;
}

static void fdmap__write_begin(struct fdmap_entry *e)
{
	atomic_fetch_add_explicit(&e->seq, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void fdmap__write_end(struct fdmap_entry *e)
{
	atomic_fetch_add_explicit(&e->seq, 1, memory_order_release);
}

static void fdmap__store(struct fdmap_entry *e, unsigned family,
			 const uint64_t vip[2], const uint64_t be[2],
			 unsigned ports, unsigned tag)
{
	fdmap__write_begin(e);
	atomic_store_explicit(&e->tag, tag, memory_order_relaxed);
	atomic_store_explicit(&e->vip[0], vip[0], memory_order_relaxed);
	atomic_store_explicit(&e->vip[1], vip[1], memory_order_relaxed);
	atomic_store_explicit(&e->backend[0], be[0], memory_order_relaxed);
	atomic_store_explicit(&e->backend[1], be[1], memory_order_relaxed);
	atomic_store_explicit(&e->ports, ports, memory_order_relaxed);
	atomic_store_explicit(&e->family, family, memory_order_relaxed);
	fdmap__write_end(e);
}

static inline void fdmap__set(int fd, int family, const uint8_t vip[16], uint16_t vip_port,
			      const uint8_t backend[16], uint16_t backend_port, unsigned tag)
{
	struct fdmap_entry *e = fdmap__at(fd);
	uint64_t v[2], b[2];

	if (!e || family <= 0)
		return;
	memcpy(v, vip, 16);
	memcpy(b, backend, 16);
	fdmap__store(e, (unsigned)family, v, b, (unsigned)vip_port << 16 | backend_port, tag);
}

void fdmap_set(int fd, int family, const uint8_t vip[16], uint16_t vip_port,
	       const uint8_t backend[16], uint16_t backend_port)
{
	fdmap__set(fd, family, vip, vip_port, backend, backend_port, 0);
}

void fdmap_set_backend(int fd, const uint8_t backend[16], uint16_t backend_port)
{
	struct fdmap_entry *e = fdmap__at(fd);
	struct fdmap_view v;
	uint64_t vip[2], b[2];

	if (!e || !fdmap_get(fd, &v))
		return;
	memcpy(vip, v.vip, 16);
	memcpy(b, backend, 16);
	fdmap__store(e, (unsigned)v.family, vip, b, (unsigned)v.vip_port << 16 | backend_port, v.tag);
}

void fdmap_set_datagram(int fd, int family, const uint8_t vip[16], uint16_t vip_port,
			const uint8_t backend[16], uint16_t backend_port, unsigned tag)
{
	fdmap__set(fd, family, vip, vip_port, backend, backend_port, tag);
}

void fdmap_set_tag(int fd, unsigned tag)
{
	struct fdmap_entry *e = fdmap__at(fd);

	if (!e || !atomic_load_explicit(&e->family, memory_order_relaxed))
		return;
	fdmap__write_begin(e);
	atomic_store_explicit(&e->tag, tag, memory_order_relaxed);
	fdmap__write_end(e);
}

void fdmap_clear(int fd)
{
	struct fdmap_entry *e = fdmap__at(fd);

	/* close() of every untracked fd costs one load, no store */
	if (!e || !atomic_load_explicit(&e->family, memory_order_relaxed))
		return;
	fdmap__write_begin(e);
	atomic_store_explicit(&e->family, 0, memory_order_relaxed);
	fdmap__write_end(e);
}

bool fdmap_get(int fd, struct fdmap_view *out)
{
	struct fdmap_entry *e = fdmap__at(fd);

	if (!e || !atomic_load_explicit(&e->family, memory_order_relaxed))
		return false;
	for (int i = 0; i < FDMAP_READ_TRIES; i++) {
		unsigned s1 = atomic_load_explicit(&e->seq, memory_order_acquire);
		uint64_t v[2], b[2];
		unsigned fam, ports, tag;

		if (s1 & 1)
			continue;
		fam = atomic_load_explicit(&e->family, memory_order_relaxed);
		ports = atomic_load_explicit(&e->ports, memory_order_relaxed);
		tag = atomic_load_explicit(&e->tag, memory_order_relaxed);
		v[0] = atomic_load_explicit(&e->vip[0], memory_order_relaxed);
		v[1] = atomic_load_explicit(&e->vip[1], memory_order_relaxed);
		b[0] = atomic_load_explicit(&e->backend[0], memory_order_relaxed);
		b[1] = atomic_load_explicit(&e->backend[1], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&e->seq, memory_order_relaxed) != s1)
			continue;
		if (!fam)
			return false;
		out->family = (int)fam;
		memcpy(out->vip, v, 16);
		memcpy(out->backend, b, 16);
		out->vip_port = (uint16_t)(ports >> 16);
		out->tag = tag;
		out->backend_port = (uint16_t)ports;
		return true;
	}
	return false;
}

void fdmap_copy(int from, int to)
{
	struct fdmap_view v;

	if (from == to)
		return;
	if (!fdmap_get(from, &v)) {
		fdmap_clear(to);
		return;
	}
	fdmap_set_datagram(to, v.family, v.vip, v.vip_port, v.backend, v.backend_port, v.tag);
}
