/* SPDX-License-Identifier: MIT */
/*
 * A multimap from byte-string keys to item indices, for the joins the
 * model makes (slices by service, pods by label) in time linear in the
 * number of objects. Values of one key come back in insertion order, or
 * in the order strmap_insert keeps. The model keeps its maps between
 * resolves and edits them as files change, so they grow on demand and a
 * value can be unlinked (its key stays, possibly with no values).
 */
#ifndef LDMESH_AGENT_STRMAP_H
#define LDMESH_AGENT_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#define STRMAP_END UINT32_MAX

struct strmap_entry;

struct strmap {
	/* Open addressing, at most half full: a slot is 0 (empty) or holds
	 * entry index + 1 in its low log2(n_slots) bits (the hash's low bits
	 * pick the slot) and the key's 32-bit hash in the bits above, so a
	 * probe rarely looks at an entry that is not its key's. 4 bytes a
	 * slot, where one holding the key's hash, place and list took 24. */
	uint32_t *slots;
	size_t n_slots;
	struct strmap_entry *entries; /* one a key, in the order added */
	size_t used, entries_cap;
	char *keys;    /* every key, back to back in the order added (so a
	                  key's length is where the next one starts): one
	                  allocation, not one per key, since the model
	                  rebuilds its maps on every publish */
	size_t keys_len, keys_cap;
	uint32_t *next; /* next[value]: the following value of the same key */
	size_t n_next;
};

/* `max_value`: values must be below it (the item count). */
int strmap_init(struct strmap *m, size_t max_value);
int strmap_add(struct strmap *m, const char *key, size_t len, uint32_t value);
/* Add `value` before the first value v of its key with before(ctx, value, v). */
int strmap_insert(struct strmap *m, const char *key, size_t len, uint32_t value,
		  int (*before)(void *ctx, uint32_t a, uint32_t b), void *ctx);
/* Take `value` out of its key's list; 0, or -ENOENT when it is not there. */
int strmap_unlink(struct strmap *m, const char *key, size_t len, uint32_t value);
uint32_t strmap_first(const struct strmap *m, const char *key, size_t len);
static inline uint32_t strmap_next(const struct strmap *m, uint32_t value)
{
	return m->next[value];
}
void strmap_free(struct strmap *m);

#endif
