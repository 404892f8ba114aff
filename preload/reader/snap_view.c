/* SPDX-License-Identifier: MIT */
/*
 * Strings and index lookups on a mapped snapshot whose header was checked
 * (the record accessors are inline in reader.h). The mapping is untrusted
 * for its whole life (root may rewrite it in place): each record is copied
 * out and its fields checked in the copy, each string is bounded by the
 * section, each probe loop by the view's own bound. Nothing here is O(table); a lookup touches only the pages it
 * reads.
 */
#include <string.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"

static struct ldmesh_strv view__string_own(const struct ldmesh_snap *s,
					   ldmesh_str_t ref)
{
	struct ldmesh_strv v = { .p = "", .len = 0 };
	uint8_t len;

	if (ref >= s->strings_size)
		return v;
	/* One read of the length byte; the bound is checked on that value. */
	len = *(const volatile uint8_t *)&s->strings[ref];
	if ((uint64_t)ref + 1 + len > s->strings_size)
		return v;
	v.p = s->strings + ref + 1;
	v.len = len;
	return v;
}

struct ldmesh_strv ldmesh_snap_string(const struct ldmesh_snap *s,
				      ldmesh_str_t ref)
{
	if (ref >= s->strings_size && s->base_snap)
		return view__string_own(s->base_snap, ref - s->strings_size);
	return view__string_own(s, ref);
}

char *ldmesh_snap_strcpy(const struct ldmesh_snap *s, ldmesh_str_t ref,
			 char *buf, size_t cap)
{
	struct ldmesh_strv v = ldmesh_snap_string(s, ref);
	size_t n = v.len < cap ? v.len : cap - 1;

	if (!cap)
		return buf;
	memcpy(buf, v.p, n);
	buf[n] = '\0';
	return buf;
}

/* Probe one layer's own name index, as ldmesh__vip_probe does: 1 and *out
 * (in that layer's indexes) when a slot holds the name, 0 when a slot
 * holds it without answering (a shadow), -1 when none does. */
static int view__name_probe(const struct ldmesh_snap *s, const char *fqdn,
			    size_t len, uint64_t h, struct ldmesh_name_slot *out)
{
	uint32_t mask = s->name_slots - 1, i;

	if (!s->name_slots)
		return -1;
	i = (uint32_t)h & mask;
	for (uint32_t n = 0; n < s->name_max_probe; n++, i = (i + 1) & mask) {
		struct ldmesh_strv name;

		LDMESH__COPY(out, &s->names[i]);
		if (out->service == LDMESH_NONE)
			return -1;
		if (out->hash != h)
			continue;
		/* a delta's ref is unified, a base's its own (it has no base) */
		name = ldmesh_snap_string(s, out->fqdn);
		if (name.len == len && !memcmp(name.p, fqdn, len))
			return out->service < s->n_services;
	}
	return -1;
}

bool ldmesh_snap_find_name(const struct ldmesh_snap *s, const char *fqdn,
			   size_t len, struct ldmesh_name_slot *out)
{
	const struct ldmesh_snap *b = s->base_snap;
	uint64_t h;
	int r;

	if (len > LDMESH_STR_MAX)
		return false;
	h = ldmesh_hash64(fqdn, len, 0);
	r = view__name_probe(s, fqdn, len, h, out);
	if (r >= 0 || !b)
		return r > 0;
	if (view__name_probe(b, fqdn, len, h, out) <= 0)
		return false;
	out->service += s->n_services;
	if (out->endpoint != LDMESH_NONE)
		out->endpoint = out->endpoint < b->n_endpoints ?
					out->endpoint + s->n_endpoints : LDMESH_SHADOW;
	out->fqdn = out->fqdn < b->strings_size ? out->fqdn + s->strings_size
						: LDMESH_SHADOW;
	return true;
}
