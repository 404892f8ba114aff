/* SPDX-License-Identifier: MIT */
#include "strmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"

/* A key: where it starts in `keys` (it ends where the next entry's key
 * starts: entries[used].key is keys_len) and its list of values. */
struct strmap_entry {
	uint32_t key;
	uint32_t head, tail;
};

/* Slots at most 2^31, so an entry index + 1 (at most n_slots / 2) fits
 * in a slot's low bits with at least one bit of hash above it. */
#define STRMAP_MAX_SLOTS ((size_t)1 << 31)

static uint32_t strmap__hash(const char *key, size_t len)
{
	return (uint32_t)ldmesh_hash64(key, len, 0);
}

static size_t strmap__slots_for(size_t keys)
{
	size_t n = 64;

	while (n < keys * 2 && n < STRMAP_MAX_SLOTS)
		n <<= 1;
	return n;
}

static int strmap__entries(struct strmap *m, size_t cap)
{
	/* One more for the end of the last key. */
	struct strmap_entry *e = realloc(m->entries, (cap + 1) * sizeof(*e));

	if (!e)
		return -ENOMEM;
	m->entries = e;
	m->entries_cap = cap;
	return 0;
}

int strmap_init(struct strmap *m, size_t max_value)
{
	memset(m, 0, sizeof(*m));
	m->n_slots = strmap__slots_for(max_value);
	m->slots = calloc(m->n_slots, sizeof(*m->slots));
	m->n_next = max_value;
	m->next = malloc((max_value + 1) * sizeof(*m->next));
	/* About one key a value in the model's maps: room for that much,
	 * which costs nothing until it is written. */
	if (!m->slots || !m->next ||
	    strmap__entries(m, max_value < 16 ? 16 : max_value)) {
		strmap_free(m);
		return -ENOMEM;
	}
	m->entries[0].key = 0;
	return 0;
}

/* The slot of `key`, or the empty slot where it would go. */
static uint32_t *strmap__find(const struct strmap *m, const char *key, size_t len,
			      uint32_t hash)
{
	uint32_t mask = (uint32_t)(m->n_slots - 1), tag = hash & ~mask;

	for (uint32_t i = hash & mask;; i = (i + 1) & mask) {
		uint32_t *s = &m->slots[i];
		const struct strmap_entry *e;

		if (!*s)
			return s;
		if ((*s & ~mask) != tag)
			continue;
		e = &m->entries[(*s & mask) - 1];
		if (e[1].key - e[0].key == len && !memcmp(m->keys + e->key, key, len))
			return s;
	}
}

static struct strmap_entry *strmap__lookup(const struct strmap *m, const char *key,
					   size_t len)
{
	uint32_t s = *strmap__find(m, key, len, strmap__hash(key, len));

	return s ? &m->entries[(s & (uint32_t)(m->n_slots - 1)) - 1] : NULL;
}

/* Room for one more key at most half full: the model's maps start sized
 * for their contents and grow only as files add keys. The entries keep
 * no hash, so the keys are hashed again (seldom: the slots double). */
static int strmap__grow_slots(struct strmap *m)
{
	size_t n = m->n_slots * 2;
	uint32_t *v, mask = (uint32_t)(n - 1);

	if ((m->used + 1) * 2 <= m->n_slots)
		return 0;
	if (n > STRMAP_MAX_SLOTS)
		return -E2BIG;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t e = 0; e < m->used; e++) {
		uint32_t off = m->entries[e].key;
		uint32_t hash = strmap__hash(m->keys + off, m->entries[e + 1].key - off), i;

		for (i = hash & mask; v[i]; i = (i + 1) & mask)
			;
		v[i] = (hash & ~mask) | (uint32_t)(e + 1);
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

/* The entry of `key`, made when missing (head == tail == STRMAP_END). */
static int strmap__entry(struct strmap *m, const char *key, size_t len,
			 struct strmap_entry **out)
{
	uint32_t hash = strmap__hash(key, len), *s = strmap__find(m, key, len, hash);
	struct strmap_entry *e;
	int err;

	if (*s) {
		*out = &m->entries[(*s & (uint32_t)(m->n_slots - 1)) - 1];
		return 0;
	}
	/* Keys grow by half (not double: the model's maps hold megabytes of
	 * them) and always have a byte to spare, so `keys` is set once any
	 * key is, the empty one too. */
	if (m->keys_len + len + 1 > m->keys_cap) {
		size_t cap = m->keys_cap ? m->keys_cap : 4096;
		while (cap < m->keys_len + len + 1)
			cap += cap / 2;
		if (cap >= UINT32_MAX)
			return -E2BIG;
		char *k = realloc(m->keys, cap);
		if (!k)
			return -ENOMEM;
		m->keys = k;
		m->keys_cap = cap;
	}
	if (m->used == m->entries_cap &&
	    (err = strmap__entries(m, m->entries_cap + m->entries_cap / 2)))
		return err;
	if ((err = strmap__grow_slots(m)))
		return err;
	s = strmap__find(m, key, len, hash);
	memcpy(m->keys + m->keys_len, key, len);
	m->keys_len += len;
	e = &m->entries[m->used++];
	e->head = e->tail = STRMAP_END;
	e[1].key = (uint32_t)m->keys_len;
	*s = (hash & ~(uint32_t)(m->n_slots - 1)) | (uint32_t)m->used;
	*out = e;
	return 0;
}

int strmap_insert(struct strmap *m, const char *key, size_t len, uint32_t value,
		  int (*before)(void *ctx, uint32_t a, uint32_t b), void *ctx)
{
	struct strmap_entry *s;
	uint32_t prev = STRMAP_END, v;
	int err;

	if ((err = strmap__grow_values(m, value)) || (err = strmap__entry(m, key, len, &s)))
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
	struct strmap_entry *s;
	int err;

	if ((err = strmap__grow_values(m, value)) || (err = strmap__entry(m, key, len, &s)))
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
	struct strmap_entry *s = strmap__lookup(m, key, len);
	uint32_t prev = STRMAP_END;

	if (!s)
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
	const struct strmap_entry *s = strmap__lookup(m, key, len);
	return s ? s->head : STRMAP_END;
}

void strmap_free(struct strmap *m)
{
	free(m->keys);
	free(m->slots);
	free(m->entries);
	free(m->next);
	memset(m, 0, sizeof(*m));
}
