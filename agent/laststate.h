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
 */
#ifndef LDMESH_AGENT_LASTSTATE_H
#define LDMESH_AGENT_LASTSTATE_H

#include <stddef.h>
#include <sys/stat.h>

#include "manifest.h"
#include "model.h"

struct laststate {
	int dir_fd; /* -1: no state kept */
	char dir[256];
};

/* Create (0700) or adopt `dir`. 0 or -errno with a reason in `why`. */
int laststate_open(struct laststate *l, const char *dir, char *why, size_t why_len);

/* `path` just parsed good as the file whose status is `parsed`: keep a
 * copy, unless the file changed since (the next event reads it again). */
void laststate_save(struct laststate *l, const char *path, const struct stat *parsed);

/* `path` is bad and nothing of it is in memory (a fresh start): load the
 * saved copy into *out. 0, or -ENOENT when there is none (or it is not
 * the copy of `path`, or no longer parses). */
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
void laststate_save_allocations(struct laststate *l, const struct model_out *m,
				uint64_t *hash);
/* Into prev->allocs (a result with allocations only; model_out_free
 * releases it). 0, or -ENOENT when nothing was saved. */
int laststate_load_allocations(struct laststate *l, struct model_out *prev);

void laststate_close(struct laststate *l);

#endif
