/* SPDX-License-Identifier: MIT */
/*
 * Which manifest files changed: recursive inotify over the folder scan.h
 * lists. The module only reports; coalescing is the caller's job.
 *
 * Loop shape (poll-driven, single thread):
 *
 *	struct pollfd p = { .fd = watch_fd(w), .events = POLLIN };
 *	poll(&p, 1, timeout);    // timeout: quiet window, retry timer, or -1
 *	r = watch_drain(w, note_path, &pending);
 *	if (r == 1)              // structural change
 *		rescan_wanted = true;
 *	if (rescan_wanted && watch_reset(w) == 0) { scan_dir(...); ... }
 *	                         // watch_reset < 0: root gone, retry on a timer
 *
 * Paths are reported exactly as scan_dir() lists them (same root prefix,
 * same visible names through directory symlinks), so the caller can compare
 * them with its list.
 *
 * Limits: the root's parent is not watched, so if the root is itself a
 * symlink, retargeting that symlink is not seen (the kubelet's `..data` swap
 * *inside* the root is). A visible file symlink pointing outside the tree is
 * reported when the link changes, not when its target's content does.
 */
#ifndef LDMESH_AGENT_WATCH_H
#define LDMESH_AGENT_WATCH_H

#include <stdbool.h>
#include <stddef.h>

struct watch;

/* Called for each changed manifest path; the string is valid during the call
 * only. The same path may be reported several times in one drain (create,
 * then attrib, then close) and across drains: the caller dedups, e.g. by
 * collecting paths into a set until the tree has been quiet for ~10 ms
 * (bounded by a max delay), then re-parsing each once. A reported path may
 * no longer exist (deleted, moved away): that is the news. */
typedef void (*watch_changed_fn)(void *ctx, const char *path);

/*
 * Watch `root` and every directory below it that scan_walk() enters
 * (visible directories and visible symlinks to directories; hidden ones are
 * not watched). On success *out is caller-owned (release with watch_close);
 * on failure *out is untouched. Past 16,384 directories, or when the kernel
 * refuses more (fs.inotify.max_user_watches), the directories after (in
 * scan_walk's sorted order) are not watched: still 0, and watch_partial
 * says so; the caller finds changes there by rescanning on a timer.
 * 0 or -errno: -ENOENT / -ENOTDIR for the root, -ENOSPC when not even the
 * root can be watched, -EMFILE past fs.inotify.max_user_instances,
 * -ENOMEM.
 */
int watch_open(const char *root, struct watch **out);

/* Readable (POLLIN) when watch_drain has work. Non-blocking, close-on-exec.
 * Stays the same descriptor for the life of the watch, across watch_reset. */
int watch_fd(const struct watch *w);

/*
 * Read pending events without blocking and call changed(ctx, path) for each
 * manifest file created as a symlink or hard link, closed after writing,
 * moved in or out, deleted, or with changed attributes. A regular file's
 * creation alone is not reported: its writer is still writing, and
 * IN_CLOSE_WRITE follows.
 *
 * Returns 0, 1 (below), or -errno on a read error of the inotify fd (events
 * may be lost: treat it as 1; watch_reset then re-walks). 1 is "rescan
 * everything": the set of files, or the files behind the visible names,
 * may have changed in ways no path-by-path report describes: the event
 * queue overflowed, a directory (or symlink to one) was created, moved or
 * removed, the kubelet swapped `..data` (every visible file in that folder
 * may now have new content), or the root was deleted or moved. On 1 the
 * watches have already been re-placed over the new tree when possible
 * (new subdirectories are watched from here on); the caller must then call
 * watch_reset() and, once it returns 0, rescan with scan_dir(). Rescanning
 * only after watch_reset() returns 0 closes the race with files written into
 * a new directory before its watch existed: the scan sees them.
 *
 * A rescan should re-read every listed file whose identity changed (compare
 * stat(), which follows the visible symlink: st_dev, st_ino, st_size,
 * st_mtim), not only added and removed paths: after a `..data` swap the
 * paths are the same and the content is not.
 *
 * Bounded: reads at most a few MiB of events per call, so a writer flooding
 * the folder cannot pin the caller here; the fd stays readable if more are
 * queued. `changed` may be NULL.
 */
int watch_drain(struct watch *w, watch_changed_fn changed, void *ctx);

/*
 * Make sure the watches cover the tree. 0 at once when they do. When they
 * do not (the root was deleted or moved away, re-placing the watches
 * failed, e.g. -ENOSPC, or they are partial), re-walks the root: 0 when the watches are back (the
 * caller rescans now), -ENOENT while the root does not exist (the root's
 * parent is not watched, so retry on a timer, e.g. every second), other
 * -errno as watch_open. While it fails no events are delivered.
 */
int watch_reset(struct watch *w);

/* Whether some directories the walk reads are not watched (see
 * watch_open); re-judged by every walk. */
bool watch_partial(const struct watch *w);
/* The directories watched. */
size_t watch_count(const struct watch *w);

/* Accepts NULL. */
void watch_close(struct watch *w);

#endif
