/* SPDX-License-Identifier: MIT */
/*
 * The snapshot's string pool: interned, length-prefixed, NUL-terminated
 * strings (see ldmesh_str_t in include/ldmesh/snapshot.h). Interning keeps
 * node and zone names, repeated on every endpoint, stored once.
 */
#ifndef LDMESH_AGENT_STRPOOL_H
#define LDMESH_AGENT_STRPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "ldmesh/snapshot.h"

struct strpool {
	char *data;
	size_t len, cap;
	struct strpool_slot {
		uint32_t ref1;   /* offset + 1; 0 marks an empty slot */
		uint32_t hash32; /* compared first: a miss never touches data */
	} *slots;
	size_t n_slots, used;
};

int strpool_init(struct strpool *p);
/* Intern `len` bytes (not NUL-terminated). Returns 0 and sets *ref, or
 * -EINVAL when len > LDMESH_STR_MAX, -E2BIG past 4 GiB, -ENOMEM. */
int strpool_add(struct strpool *p, const char *s, size_t len, ldmesh_str_t *ref);
/* The same for a C string; NULL interns the empty string. */
int strpool_add_cstr(struct strpool *p, const char *s, ldmesh_str_t *ref);
void strpool_free(struct strpool *p);

#endif
