/* SPDX-License-Identifier: MIT */
/*
 * The manifest folder ldmesh-sync writes, one file per object:
 *
 *	DIR/<resource>/<namespace>__<name>.json   namespaced objects
 *	DIR/<resource>/<name>.json                cluster-scoped objects
 *	DIR/.ldmesh-synced                        the marker (marker.c)
 *
 * <resource> is the API's plural (services, endpointslices, nodes,
 * servicecidrs). Kubernetes names are DNS subdomains ([a-z0-9.-], so "__"
 * never occurs in one) and namespaces DNS labels: a name that is not one
 * is refused, never written, so no name reaches outside its folder.
 *
 * Every write goes to a temporary file in the same folder, named
 * ".<file>.tmp.XXXXXX" (a leading dot: the agent's scanner skips it,
 * see agent/source/scan.h), then rename(2)s over the old file, so the
 * agent never reads half an object. A file whose content is already what
 * would be written is left alone (a relist then costs the agent nothing).
 */
#ifndef LDMESH_SYNC_FOLDER_H
#define LDMESH_SYNC_FOLDER_H

#include <stdbool.h>
#include <stddef.h>

/* A Kubernetes object name (DNS-1123 subdomain) or, when `label`, a
 * namespace (DNS-1123 label, 63 bytes). */
bool sync_folder_valid_name(const char *s, bool label);

/*
 * The file name of an object in its resource folder: "ns__name.json", or
 * "name.json" for ns NULL. 0, or -EINVAL (a name that is not one), or
 * -ENAMETOOLONG.
 */
int sync_folder_file_name(const char *ns, const char *name, char *out,
			  size_t n);

/* Create DIR/<resource> (and DIR) if missing. 0 or -errno. */
int sync_folder_prepare(const char *dir, const char *resource);

/*
 * Make DIR/<resource>/<file> hold exactly `len` bytes of `text`, atomically.
 * 0 (written or already so), or -errno; on failure the old file, if any, is
 * untouched and no temporary file is left.
 */
int sync_folder_put(const char *dir, const char *resource, const char *file,
		    const char *text, size_t len);

/* Remove DIR/<resource>/<file>. 0 (removed or already absent), or -errno. */
int sync_folder_remove(const char *dir, const char *resource,
		       const char *file);

/* A set of file names, for pruning after a complete list. */
struct sync_names {
	char **v;
	size_t n, cap;
	bool sorted;
};

int sync_names_add(struct sync_names *s, const char *file); /* 0, -ENOMEM */
bool sync_names_has(struct sync_names *s, const char *file);
void sync_names_free(struct sync_names *s); /* accepts a zeroed set */

/*
 * Remove every object file in DIR/<resource> that `keep` lacks: called only
 * after a complete list, which proves those objects gone. Only names this
 * program writes are candidates (not hidden, ending in .json): nothing else
 * in the folder is touched. *removed counts the files removed. 0 or -errno
 * (the first failure; the walk goes on).
 */
int sync_folder_prune(const char *dir, const char *resource,
		      struct sync_names *keep, size_t *removed);

#endif
