/* SPDX-License-Identifier: MIT */
#include "strmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"

int strmap_init(struct strmap *m, size_t max_value)
{
	memset(m, 0, sizeof(*m));
	m->n_slots = 64;
	while (m->n_slots < max_value * 2)
		m->n_slots <<= 1;
	m->slots = calloc(m->n_slots, sizeof(*m->slots));
	m->n_next = max_value;
	m->next = malloc((max_value + 1) * sizeof(*m->next));
	if (!m->slots || !m->next) {
		strmap_free(m);
		return -ENOMEM;
	}
	return 0;
}

static struct strmap_slot *strmap__find(const struct strmap *m, const char *key,
					size_t len, uint64_t hash)
{
	size_t mask = m->n_slots - 1;

	for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
		struct strmap_slot *s = &m->slots[i];
		if (!s->key || (s->hash == hash && s->len == len &&
				!memcmp(m->keys + s->key - 1, key, len)))
			return s;
	}
}

int strmap_add(struct strmap *m, const char *key, size_t len, uint32_t value)
{
	uint64_t hash = ldmesh_hash64(key, len, 0);
	struct strmap_slot *s = strmap__find(m, key, len, hash);

	if (value >= m->n_next)
		return -EINVAL;
	m->next[value] = STRMAP_END;
	if (s->key) {
		m->next[s->tail] = value;
		s->tail = value;
		return 0;
	}
	/* Sized for at most one key per value at half load (init), so the
	 * table never fills and never needs to grow. */
	if (m->keys_len + len + 1 > m->keys_cap) {
		size_t cap = m->keys_cap ? m->keys_cap * 2 : 4096;
		while (cap < m->keys_len + len + 1)
			cap *= 2;
		if (cap >= UINT32_MAX)
			return -E2BIG;
		char *k = realloc(m->keys, cap);
		if (!k)
			return -ENOMEM;
		m->keys = k;
		m->keys_cap = cap;
	}
	memcpy(m->keys + m->keys_len, key, len);
	s->key = (uint32_t)m->keys_len + 1;
	m->keys_len += len;
	s->len = (uint32_t)len;
	s->hash = hash;
	s->head = s->tail = value;
	m->used++;
	return 0;
}

uint32_t strmap_first(const struct strmap *m, const char *key, size_t len)
{
	const struct strmap_slot *s = strmap__find(m, key, len, ldmesh_hash64(key, len, 0));
	return s->key ? s->head : STRMAP_END;
}

void strmap_free(struct strmap *m)
{
	free(m->keys);
	free(m->slots);
	free(m->next);
	memset(m, 0, sizeof(*m));
}
