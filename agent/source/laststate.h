/* SPDX-License-Identifier: MIT */
/*
 * The last good version of every manifest file, kept on disk so that a
 * restarted agent still publishes what a file said before it went bad: the
 * agent's memory of good objects (sources.h) would otherwise die with it,
 * and a restart with a broken file would drop that file's services.
 *
 * One copy per manifest path, in a directory of the agent's own (mode
 * 0700, owned by it, writable by nobody else: a planted copy would inject
 * routes), named by a hash of the path, its first line naming the path.
 * Copies are written to a temporary name and renamed into place.
 *
 * Hostile or broken state never stalls or floods the agent: a state file
 * is opened without following links and without blocking, used only when
 * it is a regular file of the agent's own and at most LASTSTATE_MAX_BYTES
 * (a manifest file's cap and its tag line; LASTSTATE_MAX_ALLOC_BYTES for
 * the allocations), and read from that descriptor. A write that fails is logged and counted
 * (laststate_trouble, for the status file); a copy that could not be
 * brought up to date is removed, so a restart never publishes a version
 * older than the one last published. A directory that cannot be written
 * is not used at all, for the same reason.
 */
#ifndef LDMESH_AGENT_LASTSTATE_H
#define LDMESH_AGENT_LASTSTATE_H

#include <stddef.h>
#include <sys/stat.h>

#include "ipalloc.h"
#include "manifest.h"

/* The most a state file may hold: a manifest file's cap (manifest.h) and
 * the copy's tag line naming a path. */
#define LASTSTATE_MAX_BYTES ((size_t)MANIFEST_MAX_FILE_BYTES + 4200u)
/* The most the allocations file may hold: a line per allocated ClusterIP,
 * 100,000 of them at the longest names (63-byte namespace and name, an
 * IPv6 address). */
#define LASTSTATE_MAX_ALLOC_BYTES ((size_t)16 << 20)

struct laststate {
	int dir_fd; /* -1: no state kept */
	char dir[256];
	unsigned failed;      /* writes that failed since laststate_open */
	char last_failure[600]; /* the last of them, for the status file */
};

/* Create (0700) or adopt `dir`, and make sure it can be written (a copy
 * that cannot be kept up to date must not be read either). 0 or -errno
 * with a reason in `why`; on failure no state is kept (dir_fd -1). */
int laststate_open(struct laststate *l, const char *dir, char *why, size_t why_len);

/* `path` just parsed good as the file whose status is `parsed`: keep a
 * copy, unless the file changed since (the next event reads it again).
 * A write that fails is logged and counted, and the older copy removed. */
void laststate_save(struct laststate *l, const char *path, const struct stat *parsed);

/* `path` is bad and nothing of it is in memory (a fresh start): load the
 * saved copy into *out. 0, or -ENOENT when there is none (or it is not
 * the copy of `path`); a copy that is there and unusable (not a regular
 * file, too big, no longer parses) is logged by its path, and -ENOENT. */
int laststate_load(struct laststate *l, const char *path, struct manifest_set *out);

/* `path` left the folder: its copy goes too. */
void laststate_forget(struct laststate *l, const char *path);

/*
 * The ClusterIPs the agent allocated (model.h: LDMESH_SVC_F_ALLOCATED_IP),
 * file "allocations", one "namespace name address" line each, rewritten
 * when the set changes (`*hash` remembers the last one written). A
 * restarted agent resolves with them as its previous result, so its
 * allocations are kept as a running agent's are.
 */
void laststate_save_allocations(struct laststate *l, const struct model_alloc *allocs,
				size_t n_allocs, const char *keys, uint64_t *hash);
/* Into *allocs (*n_allocs of them, their keys in *keys; the caller frees
 * both: a model result with allocations only, model_out_free). 0, or
 * -ENOENT when nothing was saved. */
int laststate_load_allocations(struct laststate *l, struct model_alloc **allocs,
			       size_t *n_allocs, char **keys);

/* What went wrong with the state since it was opened, for the status
 * file: "" when nothing did. */
const char *laststate_trouble(const struct laststate *l, char *buf, size_t len);

void laststate_close(struct laststate *l);

#endif
