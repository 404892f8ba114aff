/* SPDX-License-Identifier: MIT */
/*
 * An API object as written to its file: managedFields dropped (server-side
 * apply bookkeeping, often larger than the object and of no use to the
 * agent), apiVersion and kind filled in when missing (items of a list
 * response omit them; the agent needs both). Pure: no I/O.
 */
#ifndef LDMESH_SYNC_OBJECT_H
#define LDMESH_SYNC_OBJECT_H

#include <stddef.h>

struct json_object;

/*
 * Modifies `obj` in place as above and returns its JSON text (owned by obj,
 * valid until obj changes or is freed) with *len; NULL on -ENOMEM.
 */
const char *sync_object_render(struct json_object *obj, const char *api_version,
			       const char *kind, size_t *len);

#endif
