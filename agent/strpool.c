/* SPDX-License-Identifier: MIT */
#include "strpool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"

int strpool_init(struct strpool *p)
{
	memset(p, 0, sizeof(*p));
	p->cap = 4096;
	p->data = malloc(p->cap);
	p->n_slots = 1024;
	p->slots = calloc(p->n_slots, sizeof(*p->slots));
	if (!p->data || !p->slots) {
		strpool_free(p);
		return -ENOMEM;
	}
	/* Offset 0 is the empty string: length 0, then its NUL. */
	p->data[0] = 0;
	p->data[1] = 0;
	p->len = 2;
	return 0;
}

static size_t strpool__slot(const struct strpool *p, const char *s, size_t len,
			    uint64_t hash)
{
	size_t mask = p->n_slots - 1;
	uint32_t h32 = (uint32_t)(hash >> 32);

	for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
		const struct strpool_slot *slot = &p->slots[i];
		if (!slot->ref1)
			return i;
		if (slot->hash32 != h32)
			continue;
		uint32_t off = slot->ref1 - 1;
		if ((uint8_t)p->data[off] == len && !memcmp(p->data + off + 1, s, len))
			return i;
	}
}

static int strpool__grow_slots(struct strpool *p)
{
	struct strpool_slot *old = p->slots;
	size_t old_n = p->n_slots;

	p->n_slots *= 2;
	p->slots = calloc(p->n_slots, sizeof(*p->slots));
	if (!p->slots) {
		p->slots = old;
		p->n_slots = old_n;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old_n; i++) {
		if (!old[i].ref1)
			continue;
		/* Rebuild the full hash from the stored string. */
		const char *s = p->data + old[i].ref1;
		size_t len = (uint8_t)p->data[old[i].ref1 - 1];
		uint64_t h = ldmesh_hash64(s, len, 0);
		p->slots[strpool__slot(p, s, len, h)] = old[i];
	}
	free(old);
	return 0;
}

static int strpool__append(struct strpool *p, const char *s, size_t len,
			   ldmesh_str_t *ref)
{
	size_t need = p->len + len + 2;

	if (len > LDMESH_STR_MAX)
		return -EINVAL;
	if (need >= UINT32_MAX)
		return -E2BIG;
	if (need > p->cap) {
		size_t cap = p->cap * 2 > need ? p->cap * 2 : need;
		char *d = realloc(p->data, cap);
		if (!d)
			return -ENOMEM;
		p->data = d;
		p->cap = cap;
	}
	*ref = (ldmesh_str_t)p->len;
	p->data[p->len] = (char)len;
	memcpy(p->data + p->len + 1, s, len);
	p->data[p->len + 1 + len] = 0;
	p->len = need;
	return 0;
}

int strpool_add(struct strpool *p, const char *s, size_t len, ldmesh_str_t *ref)
{
	uint64_t hash;
	size_t i;
	int err;

	if (!len) {
		*ref = 0;
		return 0;
	}
	if (len > LDMESH_STR_MAX)
		return -EINVAL;
	hash = ldmesh_hash64(s, len, 0);
	i = strpool__slot(p, s, len, hash);
	if (p->slots[i].ref1) {
		*ref = p->slots[i].ref1 - 1;
		return 0;
	}
	if ((err = strpool__append(p, s, len, ref)))
		return err;
	p->slots[i].ref1 = *ref + 1;
	p->slots[i].hash32 = (uint32_t)(hash >> 32);
	/* Keep the load under one half so probe sequences stay short. */
	if (++p->used * 2 > p->n_slots)
		return strpool__grow_slots(p);
	return 0;
}

int strpool_add_cstr(struct strpool *p, const char *s, ldmesh_str_t *ref)
{
	return strpool_add(p, s ? s : "", s ? strlen(s) : 0, ref);
}

void strpool_free(struct strpool *p)
{
	free(p->data);
	free(p->slots);
	memset(p, 0, sizeof(*p));
}
