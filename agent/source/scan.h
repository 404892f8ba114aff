/* SPDX-License-Identifier: MIT */
/*
 * Which manifest files exist under a root: a deterministic listing.
 *
 * A manifest is a regular file, or a symlink to one, named *.yaml, *.yml or
 * *.json. Names beginning with '.' are skipped at every level below the root:
 * that hides editor droppings and .git, and it is what makes the kubelet's
 * ConfigMap/Secret/projected-volume layout count each key once:
 *
 *	..2024_11_26_10_00_00.123/      hidden: skipped
 *	..data -> ..2024_11_26_...      hidden: skipped
 *	foo.yaml -> ..data/foo.yaml     visible symlink: followed, listed
 *
 * Symlinks to directories are followed (with loop protection), so paths are
 * the ones the user sees, never resolved ones. Every path is the root as
 * given, trailing slashes removed, joined with '/' and the relative path;
 * watch.c builds the paths it reports the same way, so the two compare with
 * strcmp.
 */
#ifndef LDMESH_AGENT_SCAN_H
#define LDMESH_AGENT_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"

/* Deeper trees are not manifest folders; the bound also caps the recursion
 * and the walk's stack. Deeper directories are reported and not read. */
#define SCAN_MAX_DEPTH 32
/* Symlinked directories can fan out (a diamond of links per level doubles
 * the walk); this caps the work of one walk. Past it the directories
 * after (in the walk's sorted order) are not read; reported. watch.c has
 * its own, smaller bound on the directories it watches. */
#define SCAN_MAX_DIRS 65536
/* A node's agent holds every object in memory and republishes on change:
 * past this many files the rest (in sorted order, so the same on every
 * node) are not read; reported, and the table is then not complete. The
 * default (ldmesh-agent --max-files) fits ldmesh-sync's folder of a
 * cluster of 200,000 Services (a file per Service and per EndpointSlice);
 * the agent holds about 1.5 kB per file there (tests/bench/results/sync.md). */
#define SCAN_MAX_FILES 400000

/* A visitor's return that ends the walk early without an error:
 * scan_walk returns it as it is. */
#define SCAN_STOP 1

struct scan_list {
	char **paths; /* sorted by strcmp, unique; each heap-allocated */
	size_t n;
	bool truncated; /* the bound met: the files after are not listed */
};

/*
 * List the manifests under `root`, sorted by strcmp: the agent resolves
 * conflicts by file order, so every node must see the same order whatever
 * readdir() returns.
 *
 * Problems below the root never fail the scan: unreadable directories,
 * dangling symlinks, symlink loops and too-deep directories are reported
 * through `d` ("path: message", d->errors incremented) and skipped, and so
 * is a symlinked directory that leads out of the root. Files are
 * not opened: a file that cannot be read is still listed, so the loader
 * reports it and its last good objects stay in force.
 *
 * Directories are read whole and visited in sorted order, so the bounds
 * (SCAN_MAX_DIRS, SCAN_MAX_FILES) keep the same part of a tree on every
 * node: past them the walk stops reading, reports it, and lists what it
 * read (out->truncated).
 *
 * Returns 0 and fills *out (caller-owned, release with scan_list_free), or
 * -errno with *out untouched: -ENOENT / -ENOTDIR / -EACCES for the root
 * (reported), -ENOMEM. `d` may be NULL.
 */
int scan_dir(const char *root, struct scan_list *out, struct diag *d);
/* The same with a bound of `max_files` (at least 1) instead of SCAN_MAX_FILES. */
int scan_dir_max(const char *root, size_t max_files, struct scan_list *out, struct diag *d);

/* Deep free; accepts NULL and zeroes the list. */
void scan_list_free(struct scan_list *list);

/* The name (not path) test above, shared with watch.c. Case-sensitive, as
 * kubectl's `apply -f <dir>` is. */
bool scan_is_manifest_name(const char *name);

/* Called with a full path; a non-zero return stops the walk and is returned
 * by scan_walk. The path is valid during the call only. */
typedef int (*scan_visit_fn)(void *ctx, const char *path);

/*
 * The walk behind scan_dir, in its sorted order: on_dir for every directory
 * entered (the root first, before its entries are read), on_file for every
 * manifest. Either may be NULL; a visitor's SCAN_STOP ends the walk, which
 * returns it. Same skipping, bounds, reports and errors as scan_dir.
 * watch.c uses it to place its watches over the directories scan_dir
 * reads.
 */
int scan_walk(const char *root, scan_visit_fn on_dir, scan_visit_fn on_file,
	      void *ctx, struct diag *d);

#endif
