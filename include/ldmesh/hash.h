/* SPDX-License-Identifier: MIT */
/*
 * The hash both sides of the snapshot contract compute: the checksum of a
 * snapshot and the slot of every index key. Part of the format: changing it
 * is a version_major bump.
 *
 * Four independent multiply-rotate lanes over 8-byte little-endian words so
 * the checksum of a multi-megabyte snapshot runs at memory speed (each lane
 * is a dependency chain; four let the CPU overlap them).
 */
#ifndef LDMESH_HASH_H
#define LDMESH_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LDMESH_HASH_K1 0x9e3779b97f4a7c15ULL
#define LDMESH_HASH_K2 0xc2b2ae3d27d4eb4fULL
#define LDMESH_HASH_K3 0x165667b19e3779f9ULL

static inline uint64_t ldmesh__rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t ldmesh__load64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v)); /* little-endian hosts only (see README) */
	return v;
}

static inline uint64_t ldmesh__round(uint64_t acc, uint64_t w)
{
	return ldmesh__rotl64(acc ^ (w * LDMESH_HASH_K2), 29) * LDMESH_HASH_K1;
}

static inline uint64_t ldmesh__fmix(uint64_t h)
{
	h ^= h >> 33;
	h *= LDMESH_HASH_K2;
	h ^= h >> 29;
	h *= LDMESH_HASH_K3;
	h ^= h >> 32;
	return h;
}

static inline uint64_t ldmesh_hash64(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = (const unsigned char *)data;
	uint64_t h = seed ^ (len * LDMESH_HASH_K1);
	size_t i = 0;

	if (len >= 32) {
		uint64_t a = h, b = h + LDMESH_HASH_K2, c = h + LDMESH_HASH_K3,
			 d = h - LDMESH_HASH_K1;
		for (; i + 32 <= len; i += 32) {
			a = ldmesh__round(a, ldmesh__load64(p + i));
			b = ldmesh__round(b, ldmesh__load64(p + i + 8));
			c = ldmesh__round(c, ldmesh__load64(p + i + 16));
			d = ldmesh__round(d, ldmesh__load64(p + i + 24));
		}
		h = ldmesh__rotl64(a, 1) + ldmesh__rotl64(b, 7) +
		    ldmesh__rotl64(c, 12) + ldmesh__rotl64(d, 18);
	}
	for (; i + 8 <= len; i += 8)
		h = ldmesh__round(h, ldmesh__load64(p + i));
	if (i < len) {
		uint64_t tail = 0;
		memcpy(&tail, p + i, len - i);
		h = ldmesh__round(h, tail ^ ((uint64_t)(len - i) << 56));
	}
	return ldmesh__fmix(h);
}

/*
 * Slot hash of a VIP key: 16 address bytes, port and protocol. Computed on
 * every connect, so lighter than ldmesh_hash64: the three words are
 * multiplied by odd constants and summed, and one xor-shift-multiply folds
 * the high bits down (index slots take the low bits). Keys come from the
 * agent's manifests, not from an adversary choosing collisions; the probe
 * bound in the header caps a chain anyway.
 */
static inline uint64_t ldmesh_vip_hash(const uint8_t addr[16], uint16_t port,
				       uint8_t protocol)
{
	uint64_t h = ldmesh__load64(addr) * LDMESH_HASH_K1 +
		     ldmesh__load64(addr + 8) * LDMESH_HASH_K2 +
		     (((uint64_t)port << 8) | protocol) * LDMESH_HASH_K3;

	h ^= h >> 32;
	h *= LDMESH_HASH_K2;
	return h ^ (h >> 29);
}

#ifdef __cplusplus
}
#endif

#endif
