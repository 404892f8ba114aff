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
		if (!s->key || (s->hash == hash && s->len == len && !memcmp(s->key, key, len)))
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
	s->key = malloc(len + 1);
	if (!s->key)
		return -ENOMEM;
	memcpy(s->key, key, len);
	s->key[len] = 0;
	s->len = len;
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
	if (m->slots)
		for (size_t i = 0; i < m->n_slots; i++)
			free(m->slots[i].key);
	free(m->slots);
	free(m->next);
	memset(m, 0, sizeof(*m));
}
