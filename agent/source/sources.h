/* SPDX-License-Identifier: MIT */
/*
 * The agent's memory of the manifest folder: for every file, the objects
 * of its last good version. A file that fails to parse keeps its previous
 * objects in force; a file that is gone takes its objects with it.
 */
#ifndef LDMESH_AGENT_SOURCES_H
#define LDMESH_AGENT_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "laststate.h"
#include "manifest.h"

/* A file's last good objects, as the model reads them (model_resolve,
 * model_update). */
struct model_source {
	const char *path;          /* the file the objects came from */
	const struct manifest_set *set; /* its last good objects (never NULL;
	                              sources.c: a kept set holding the path) */
	uint64_t load_id;          /* unique per parse of a file (sources.c):
	                              objects are immutable, so (load_id, index)
	                              names an object's content for good */
};

/* What a file was when last read; a rescan re-reads files whose identity
 * changed (after a kubelet ..data swap the path is the same, the inode is
 * not). */
struct source_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	long long mtime_ns;
};

/* A file whose current version is refused, and the first reason given. */
struct source_reject {
	char *path;
	char *error;            /* "path:line:col: message" */
	struct source_id id;    /* the version refused: a rescan that finds
	                           it unchanged does not read it again */
	uint64_t sum;           /* of its bytes (when `summed`): a version
	                           with the same bytes under a new identity
	                           (touched, rewritten, a kubelet ..data swap)
	                           is not reported again */
	bool summed;
};

/*
 * Every version is a kept set (manifest.h: its objects and its path in one
 * allocation), owned by the sources: v[i].path and v[i].set point into it.
 */
struct sources {
	struct model_source *v; /* sorted by path: the order conflicts use */
	struct source_id *ids;  /* parallel to v */
	size_t n, cap;
	uint64_t loads;         /* parses so far: the next load_id */
	struct laststate *last; /* durable last good copies, or NULL */
	struct source_reject *rejects; /* files now refused (their last good
	                                  objects, if any, stay in force) */
	size_t n_rejects;
	/* Versions replaced or removed since sources_retired_free: the model
	 * holds pointers into them until model_update has unlinked them,
	 * and what they said is how it finds what an edit touched. A file
	 * that is new is here as &manifest_set_empty under the path of its
	 * first version (which is in v or retired after it, so as lasting). */
	struct model_source *retired;
	size_t n_retired, cap_retired;
	/* What the last scan of the folder reported (unreadable or too deep
	 * directories, symlinks leading out, the bounds met), sorted: a
	 * problem is reported when it first appears, not by every rescan,
	 * and is kept here for the status while it lasts. */
	char **notes;
	size_t n_notes;
	size_t n_notes_more;    /* past SOURCES_MAX_NOTES: counted only */
	size_t max_files;       /* the scan's bound (--max-files); 0:
	                           SCAN_MAX_FILES */
	bool truncated;         /* the last scan met that bound */
	/* Checked between files by a long rescan: true stops it (-EINTR),
	 * so a signal is not kept waiting by 100,000 files. May be NULL. */
	bool (*stop)(void *ctx);
	void *stop_ctx;
	const char *root;       /* the folder (the caller's string), or NULL:
	                           set by sources_rescan, or before any */
	char *root_real;        /* the folder, every symlink resolved (set by
	                           sources_rescan): a file is read only when
	                           what it opens lies inside it */
	bool retired_lost;      /* a version could not be kept (no memory):
	                           only a full resolve is safe, and the list
	                           is not to be read (a path may be gone) */
};

/*
 * Bring one path up to date. `force` re-reads even when its identity is
 * unchanged (inotify said it was written). Returns 1 when the set of good
 * objects changed, 0 when not (unchanged, or the new version is bad and
 * was reported through `d`), -ENOMEM. A path that opens a file outside
 * the folder (a symlink leaving it, the kubelet's `..data` links stay
 * inside) is refused unread, like a bad file, once s->root names the
 * folder. With s->last, a good version is
 * saved, and a bad one met with nothing in memory (after a restart) is
 * replaced by the saved copy, which `d` is told about. A refused file is
 * reported once per content: read again with the same bytes it is only
 * noted. What happened to the path (new, changed, removed, refused again
 * unchanged) goes to d->note.
 */
int sources_update(struct sources *s, const char *path, bool force, struct diag *d);

/*
 * Reconcile with the folder: forget files no longer listed, read new and
 * changed ones. While the root itself is missing nothing is forgotten (a
 * remount or a mistaken delete must not drop every route); returns -ENOENT
 * then. Otherwise the number of files whose objects changed, or -errno
 * (-EINTR when s->stop said so: the files read so far are applied, the
 * rest are not yet). What the scan reports goes to `d` only when new
 * (s->notes).
 */
int sources_rescan(struct sources *s, const char *root, struct diag *d);

#define SOURCES_MAX_NOTES 1024

/* Forget what every file was, so the next rescan reads each again (the
 * refused ones too): SIGHUP. */
void sources_forget_ids(struct sources *s);

/* Free the retired versions (after the model has seen them). */
void sources_retired_free(struct sources *s);

void sources_free(struct sources *s);

#endif
