/* SPDX-License-Identifier: MIT */
/* The API resources ldmesh-sync mirrors: one table (resources.c), so a later
 * kind (Gateway API routes) is one more row. */
#ifndef LDMESH_SYNC_RESOURCES_H
#define LDMESH_SYNC_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>

struct sync_resource {
	const char *name;        /* the plural: URL segment and folder name */
	const char *path;        /* collection URL path, all namespaces */
	const char *api_version; /* written into list items, which omit it */
	const char *kind;
	bool namespaced;         /* file "ns__name.json" or "name.json" */
	const char *label_selector; /* or NULL */
	bool this_node;          /* fieldSelector metadata.name=<node> */
	bool optional;           /* a 404 means the server lacks the API:
	                            skipped, said once */
	const struct sync_resource *fallback; /* an older version of the same
	                            resource (same group, same folder), listed
	                            instead when this one answers 404 */
};

extern const struct sync_resource sync_resources[];
extern const size_t sync_n_resources;

#endif
