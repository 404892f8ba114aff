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

static size_t strpool__slot(const struct strpool *p, const char *s, size_t len)
{
	size_t mask = p->n_slots - 1;
	size_t i = (size_t)ldmesh_hash64(s, len, 0) & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t off = p->slots[i];
		if (!off)
			return i;
		off--;
		if ((uint8_t)p->data[off] == len && !memcmp(p->data + off + 1, s, len))
			return i;
	}
}

static int strpool__grow_slots(struct strpool *p)
{
	uint32_t *old = p->slots;
	size_t old_n = p->n_slots;

	p->n_slots *= 2;
	p->slots = calloc(p->n_slots, sizeof(*p->slots));
	if (!p->slots) {
		p->slots = old;
		p->n_slots = old_n;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old_n; i++) {
		uint32_t off = old[i];
		if (!off)
			continue;
		/* A slot holds offset + 1: the string's bytes start there. */
		p->slots[strpool__slot(p, p->data + off, (uint8_t)p->data[off - 1])] = off;
	}
	free(old);
	return 0;
}

int strpool_add(struct strpool *p, const char *s, size_t len, ldmesh_str_t *ref)
{
	size_t i, need;

	if (!len) {
		*ref = 0;
		return 0;
	}
	if (len > LDMESH_STR_MAX)
		return -EINVAL;
	i = strpool__slot(p, s, len);
	if (p->slots[i]) {
		*ref = p->slots[i] - 1;
		return 0;
	}
	need = p->len + len + 2;
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
	p->slots[i] = *ref + 1;
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
