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

/* Room for one more key at most half full: the model's maps start sized
 * for their contents and grow only as files add keys. */
static int strmap__grow_slots(struct strmap *m)
{
	size_t n = m->n_slots * 2, mask = n - 1;
	struct strmap_slot *v;

	if ((m->used + 1) * 2 <= m->n_slots)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_slots; i++) {
		size_t k;
		if (!m->slots[i].key)
			continue;
		for (k = (size_t)m->slots[i].hash & mask; v[k].key; k = (k + 1) & mask)
			;
		v[k] = m->slots[i];
	}
	free(m->slots);
	m->slots = v;
	m->n_slots = n;
	return 0;
}

static int strmap__grow_values(struct strmap *m, uint32_t value)
{
	size_t n = m->n_next ? m->n_next : 16;
	uint32_t *v;

	if (value < m->n_next)
		return 0;
	if (value >= STRMAP_END - 1)
		return -E2BIG;
	while (n <= value)
		n *= 2;
	v = realloc(m->next, (n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->next = v;
	m->n_next = n;
	return 0;
}

/* The slot of `key`, made when missing (head == tail == STRMAP_END). */
static int strmap__slot(struct strmap *m, const char *key, size_t len,
			struct strmap_slot **out)
{
	uint64_t hash = ldmesh_hash64(key, len, 0);
	struct strmap_slot *s = strmap__find(m, key, len, hash);
	int err;

	if (s->key) {
		*out = s;
		return 0;
	}
	if ((err = strmap__grow_slots(m)))
		return err;
	s = strmap__find(m, key, len, hash);
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
	s->head = s->tail = STRMAP_END;
	m->used++;
	*out = s;
	return 0;
}

int strmap_insert(struct strmap *m, const char *key, size_t len, uint32_t value,
		  int (*before)(void *ctx, uint32_t a, uint32_t b), void *ctx)
{
	struct strmap_slot *s;
	uint32_t prev = STRMAP_END, v;
	int err;

	if ((err = strmap__grow_values(m, value)) || (err = strmap__slot(m, key, len, &s)))
		return err;
	for (v = s->head; v != STRMAP_END && !(before && before(ctx, value, v)); v = m->next[v])
		prev = v;
	m->next[value] = v;
	if (prev == STRMAP_END)
		s->head = value;
	else
		m->next[prev] = value;
	if (v == STRMAP_END)
		s->tail = value;
	return 0;
}

int strmap_add(struct strmap *m, const char *key, size_t len, uint32_t value)
{
	struct strmap_slot *s;
	int err;

	if ((err = strmap__grow_values(m, value)) || (err = strmap__slot(m, key, len, &s)))
		return err;
	m->next[value] = STRMAP_END;
	if (s->tail != STRMAP_END)
		m->next[s->tail] = value;
	else
		s->head = value;
	s->tail = value;
	return 0;
}

int strmap_unlink(struct strmap *m, const char *key, size_t len, uint32_t value)
{
	struct strmap_slot *s = strmap__find(m, key, len, ldmesh_hash64(key, len, 0));
	uint32_t prev = STRMAP_END;

	if (!s->key)
		return -ENOENT;
	for (uint32_t v = s->head; v != STRMAP_END; prev = v, v = m->next[v]) {
		if (v != value)
			continue;
		if (prev == STRMAP_END)
			s->head = m->next[v];
		else
			m->next[prev] = m->next[v];
		if (s->tail == v)
			s->tail = prev;
		return 0;
	}
	return -ENOENT;
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
