/* SPDX-License-Identifier: MIT */
/*
 * The snapshot header: the one module that reads or writes its bytes. The
 * reader checks it once per mapped generation, in O(1), and copies what
 * it needs into the view (struct ldmesh_snap) so later changes to the
 * mapped header cannot move a section under a lookup.
 */
#include <errno.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"

static const uint32_t header__entry_size[LDMESH_SEC_COUNT] = {
	[LDMESH_SEC_STRINGS] = 1,
	[LDMESH_SEC_SERVICES] = sizeof(struct ldmesh_service),
	[LDMESH_SEC_PORTS] = sizeof(struct ldmesh_port),
	[LDMESH_SEC_ENDPOINTS] = sizeof(struct ldmesh_endpoint),
	[LDMESH_SEC_ENDPOINT_PORTS] = sizeof(uint16_t),
	[LDMESH_SEC_VIP_INDEX] = sizeof(struct ldmesh_vip_slot),
	[LDMESH_SEC_NAME_INDEX] = sizeof(struct ldmesh_name_slot),
	[LDMESH_SEC_AFFINITY] = sizeof(uint32_t),
	[LDMESH_SEC_SUPERSEDED] = sizeof(uint32_t),
};

/* Over the fixed header after the checksum field, from a copy: what was
 * checked is what is used. */
static uint64_t header__checksum(const struct ldmesh_snap_header *h)
{
	return ldmesh_hash64((const uint8_t *)h + LDMESH_SNAP_OFF_TOTAL_SIZE,
			     sizeof(*h) - LDMESH_SNAP_OFF_TOTAL_SIZE, 0);
}

void ldmesh_snap_header_seal(void *file, const struct ldmesh_snap_header *h)
{
	struct ldmesh_snap_header out = *h;

	out.magic = LDMESH_SNAP_MAGIC;
	out.version_major = LDMESH_SNAP_VERSION_MAJOR;
	out.version_minor = LDMESH_SNAP_VERSION_MINOR;
	out.header_size = sizeof(out);
	out.header_checksum = header__checksum(&out);
	memcpy(file, &out, sizeof(out));
}

uint64_t ldmesh_snap_content_hash(const void *file, size_t size)
{
	if (size < LDMESH_SNAP_OFF_CONTENT)
		return 0;
	return ldmesh_hash64((const uint8_t *)file + LDMESH_SNAP_OFF_CONTENT,
			     size - LDMESH_SNAP_OFF_CONTENT, 0);
}

static bool header__pow2_or_zero(uint32_t n)
{
	return (n & (n - 1)) == 0;
}

static uint32_t header__min(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

#define HEADER_FAIL(reason)                \
	do {                               \
		*why = (reason);           \
		return -EINVAL;            \
	} while (0)

int ldmesh_snap_init(struct ldmesh_snap *s, const void *base, size_t size,
		     const char **why)
{
	struct ldmesh_snap_header h;
	const char *ignored;

	if (!why)
		why = &ignored;
	if (size < sizeof(h))
		HEADER_FAIL("truncated: shorter than the header");
	/* One copy: every check and every field is of these bytes, whatever
	 * the mapping says a moment later. */
	memcpy(&h, base, sizeof(h));
	return ldmesh_snap_init_header(s, &h, base, size, why);
}

/* Every section of `h` (checked) inside a file of `size` bytes: 0, or
 * -EINVAL with the reason in *why. */
static int header__sections(const struct ldmesh_snap_header *h, size_t size, const char **why)
{
	uint64_t prev_end = h->header_size;

	for (int i = 0; i < LDMESH_SEC_COUNT; i++) {
		const struct ldmesh_section *sec = &h->sections[i];

		if (sec->entry_size != header__entry_size[i])
			HEADER_FAIL("section entry size differs from the format's");
		if ((uint64_t)sec->count * sec->entry_size != sec->size)
			HEADER_FAIL("section size is not count x entry size");
		/* In order, not overlapping, 8-byte aligned for the structs. */
		if (sec->offset % 8 || sec->offset < prev_end ||
		    sec->offset > size || sec->size > size - sec->offset)
			HEADER_FAIL("section outside the file");
		prev_end = sec->offset + sec->size;
	}
	return 0;
}

/* The SPLITS section (3.5): none when its count is 0 (an older writer
 * zeroed the words), else after every other section and inside the file.
 * 0, or -EINVAL with the reason in *why. */
static int header__splits(const struct ldmesh_snap_header *h, size_t size, const char **why)
{
	const struct ldmesh_section *sec = &h->splits;
	const struct ldmesh_section *last = &h->sections[LDMESH_SEC_COUNT - 1];

	if (!sec->count)
		return 0;
	if (sec->entry_size != sizeof(struct ldmesh_split))
		HEADER_FAIL("splits entry size differs from the format's");
	if ((uint64_t)sec->count * sec->entry_size != sec->size)
		HEADER_FAIL("splits size is not count x entry size");
	if (sec->offset % 8 || sec->offset < last->offset + last->size ||
	    sec->offset > size || sec->size > size - sec->offset)
		HEADER_FAIL("splits outside the file");
	return 0;
}

int ldmesh_snap_init_header(struct ldmesh_snap *s,
			    const struct ldmesh_snap_header *hp,
			    const void *base, size_t size, const char **why)
{
	const struct ldmesh_snap_header h = *hp;
	struct ldmesh_snap v = { .base = base, .size = size };
	const char *ignored;

	if (!why)
		why = &ignored;
	/* Records are read as structs: a misaligned base is undefined
	 * behaviour before any check. Mappings are page-aligned; only a
	 * caller's own buffer can be off. */
	if ((uintptr_t)base % 8)
		HEADER_FAIL("not 8-byte aligned");
	if (size < sizeof(h))
		HEADER_FAIL("truncated: shorter than the header");
	if (h.magic != LDMESH_SNAP_MAGIC)
		HEADER_FAIL("bad magic");
	if (h.version_major != LDMESH_SNAP_VERSION_MAJOR)
		HEADER_FAIL("format version differs from this reader's");
	/* A later minor version may grow the header; a page is plenty. */
	if (h.header_size < sizeof(h) || h.header_size > 4096 || h.header_size > size)
		HEADER_FAIL("bad header size");
	if (header__checksum(&h) != h.header_checksum)
		HEADER_FAIL("bad header checksum");
	if (h.total_size != size)
		HEADER_FAIL("size in header differs from the file's");

	if (header__sections(&h, size, why) < 0 || header__splits(&h, size, why) < 0)
		return -EINVAL;
#define HEADER_SEC(field, n, id)                                       \
	do {                                                           \
		v.field = (const void *)(v.base + h.sections[id].offset); \
		v.n = h.sections[id].count;                            \
	} while (0)
	HEADER_SEC(strings, strings_size, LDMESH_SEC_STRINGS);
	HEADER_SEC(services, n_services, LDMESH_SEC_SERVICES);
	HEADER_SEC(ports, n_ports, LDMESH_SEC_PORTS);
	HEADER_SEC(endpoints, n_endpoints, LDMESH_SEC_ENDPOINTS);
	HEADER_SEC(endpoint_ports, n_endpoint_ports, LDMESH_SEC_ENDPOINT_PORTS);
	HEADER_SEC(vip, vip_slots, LDMESH_SEC_VIP_INDEX);
	HEADER_SEC(names, name_slots, LDMESH_SEC_NAME_INDEX);
	HEADER_SEC(affinity, n_affinity, LDMESH_SEC_AFFINITY);
	HEADER_SEC(superseded, n_superseded, LDMESH_SEC_SUPERSEDED);
#undef HEADER_SEC
	if (h.splits.count) {
		v.splits = (const void *)(v.base + h.splits.offset);
		v.n_splits = h.splits.count;
	}
	/* A base older than its delta: generations only grow, and this also
	 * rules out a delta naming itself. */
	if (h.base_generation && h.base_generation >= h.generation)
		HEADER_FAIL("base generation not older than the delta");
	/* Only a delta replaces services; SUPERSEDED in a base is a writer
	 * bug that would hide services from listings, refused at once. */
	if (!h.base_generation && v.n_superseded)
		HEADER_FAIL("a base lists superseded services");
	if (!header__pow2_or_zero(v.vip_slots) || !header__pow2_or_zero(v.name_slots))
		HEADER_FAIL("index capacity not a power of two");
	/* A bound larger than the index would only revisit slots. */
	v.vip_max_probe = header__min(h.vip_max_probe, v.vip_slots);
	v.name_max_probe = header__min(h.name_max_probe, v.name_slots);
	v.generation = h.generation;
	v.base_generation = h.base_generation;
	v.flags = h.flags;
	v.created_unix_ns = h.created_unix_ns;
	v.cluster_domain = h.cluster_domain;
	v.node_name = h.node_name;
	v.node_zone = h.node_zone;
	memcpy(v.service_cidr, h.service_cidr, 16);
	v.service_cidr_prefix = h.service_cidr_prefix;
	*s = v;
	return 0;
}
