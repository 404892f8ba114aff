// SPDX-License-Identifier: MIT
/*
 * Recursive inotify over the manifest folder. See watch.h for the contract.
 *
 * The directory set is never patched event by event: any structural change
 * (a directory or directory symlink appearing or going, `..data` swapped,
 * overflow) re-walks the tree with scan_walk() and re-places every watch.
 * The caller rescans the whole tree in that case anyway, so the walk costs
 * no more than that, and it keeps the watched set equal, by construction, to
 * the set of directories scan_dir() reads.
 */
#define _GNU_SOURCE
#include "watch.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan.h"

/* IN_ONLYDIR: a path replaced by a file between the walk's opendir() and
 * inotify_add_watch() must fail, not watch the file. IN_Q_OVERFLOW and
 * IN_IGNORED are always delivered. IN_MODIFY is left out on purpose: a
 * writer emits one per write(), and IN_CLOSE_WRITE says when it is done. */
#define WATCH__MASK (IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | \
		     IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB |    \
		     IN_ONLYDIR)

/* 32 KiB holds ~1000 events with short names per read(); 128 reads bound
 * one drain to 4 MiB, more than the kernel's default queue
 * (fs.inotify.max_queued_events = 16384) holds, so a drain normally empties
 * the queue but a flooding writer cannot keep the caller here forever. */
#define WATCH__BUF_BYTES (32 * 1024)
/* Every watch is kernel memory charged to the user, and root shares
 * fs.inotify.max_user_watches with every other root program on the node:
 * past this many directories (or when the kernel says ENOSPC) the rest,
 * in the walk's sorted order, are left unwatched (watch_partial) and the
 * caller rescans them on a timer. */
#define WATCH__MAX_DIRS 16384
#define WATCH__MAX_READS 128

/* One (watch, path) pair. One inode reached through several visible paths
 * (a directory and a symlink to it) has one kernel watch (the kernel returns
 * the same wd) and several entries; an event is reported under each path,
 * as scan_dir() lists the file under each. */
struct watch__dir {
	int wd;
	char *path;
};

struct watch {
	int fd;
	char *root;
	struct watch__dir *dirs; /* sorted by (wd, path) */
	struct watch__dir **by_path; /* the same entries sorted by path */
	size_t n;
	bool stale; /* the watches do not cover the tree: watch_reset must walk */
	bool partial; /* some directories are read but not watched */
};

struct watch__build {
	int fd;
	int root_wd;
	unsigned calls;
	bool partial;
	struct watch__dir *v;
	size_t n, cap;
};

static int watch__cmp_wd(const void *a, const void *b)
{
	const struct watch__dir *x = a, *y = b;

	if (x->wd != y->wd)
		return x->wd < y->wd ? -1 : 1;
	return strcmp(x->path, y->path);
}

static int watch__cmp_path(const void *a, const void *b)
{
	const struct watch__dir *const *x = a, *const *y = b;

	return strcmp((*x)->path, (*y)->path);
}

/* Index of the first entry with wd >= `wd`. */
static size_t watch__lower(const struct watch__dir *v, size_t n, int wd)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool watch__has_wd(const struct watch__dir *v, size_t n, int wd)
{
	size_t i = watch__lower(v, n, wd);

	return i < n && v[i].wd == wd;
}

static bool watch__has_dir(const struct watch *w, const char *path)
{
	struct watch__dir key = { .path = (char *)path }, *k = &key;

	return w->n && bsearch(&k, w->by_path, w->n, sizeof(*w->by_path),
			       watch__cmp_path);
}

static void watch__free_dirs(struct watch__dir *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* Remove every kernel watch in v[0..n) that `keep` does not also use. */
static void watch__rm_unused(int fd, const struct watch__dir *v, size_t n,
			     const struct watch__dir *keep, size_t nkeep)
{
	for (size_t i = 0; i < n; i++) {
		if (i && v[i].wd == v[i - 1].wd)
			continue;
		if (keep && watch__has_wd(keep, nkeep, v[i].wd))
			continue;
		/* EINVAL when the kernel already dropped it (directory
		 * deleted): nothing to do either way. Its IN_IGNORED finds no
		 * entry and is skipped. */
		inotify_rm_watch(fd, v[i].wd);
	}
}

static int watch__add(void *ctx, const char *path)
{
	struct watch__build *b = ctx;
	bool root = b->calls++ == 0; /* scan_walk visits the root first */
	int wd;

	if (b->n >= WATCH__MAX_DIRS) {
		b->partial = true;
		return SCAN_STOP;
	}
	wd = inotify_add_watch(b->fd, path, WATCH__MASK);
	if (wd < 0) {
		/* Removed or replaced since the walk opened it: whatever did
		 * that queued an event that brings another walk. The root is
		 * checked by the caller. */
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		/* The kernel's bound met: what is watched stays watched. */
		if (errno == ENOSPC && !root) {
			b->partial = true;
			return SCAN_STOP;
		}
		return -errno;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct watch__dir *v = realloc(b->v, cap * sizeof(*v));

		if (!v) {
			inotify_rm_watch(b->fd, wd);
			return -ENOMEM;
		}
		b->v = v;
		b->cap = cap;
	}
	if (root)
		b->root_wd = wd;
	b->v[b->n].wd = wd;
	b->v[b->n].path = strdup(path);
	b->n++;
	return b->v[b->n - 1].path ? 0 : -ENOMEM;
}

/* Drop every watch and every entry: the state watch_reset starts from. */
static void watch__detach(struct watch *w)
{
	watch__rm_unused(w->fd, w->dirs, w->n, NULL, 0);
	watch__free_dirs(w->dirs, w->n);
	free(w->by_path);
	w->dirs = NULL;
	w->by_path = NULL;
	w->n = 0;
	w->stale = true;
}

static int watch__sync(struct watch *w)
{
	struct watch__build b = { .fd = w->fd, .root_wd = -1 };
	struct watch__dir **by_path = NULL;
	int ret;

	ret = scan_walk(w->root, watch__add, NULL, &b, NULL);
	if (ret == SCAN_STOP)
		ret = 0;
	if (!ret && b.root_wd < 0)
		ret = -ENOENT;
	if (!ret && !(by_path = malloc(b.n * sizeof(*by_path))))
		ret = -ENOMEM;
	if (ret) {
		/* A partial tree would lose events without a word; an empty
		 * one is what watch_reset reports and retries. */
		if (b.n)
			qsort(b.v, b.n, sizeof(*b.v), watch__cmp_wd);
		watch__rm_unused(w->fd, b.v, b.n, NULL, 0);
		watch__free_dirs(b.v, b.n);
		watch__detach(w);
		goto out;
	}
	qsort(b.v, b.n, sizeof(*b.v), watch__cmp_wd);
	for (size_t i = 0; i < b.n; i++)
		by_path[i] = &b.v[i];
	qsort(by_path, b.n, sizeof(*by_path), watch__cmp_path);

	/* Directories gone from the tree but still alive elsewhere (moved
	 * out) would keep sending events for paths that no longer exist. */
	watch__rm_unused(w->fd, w->dirs, w->n, b.v, b.n);
	watch__free_dirs(w->dirs, w->n);
	free(w->by_path);
	w->dirs = b.v;
	w->by_path = by_path;
	w->n = b.n;
	w->stale = false;
	w->partial = b.partial;
out:
	return ret;
}

static void watch__entry(struct watch *w, const char *dir,
			 const struct inotify_event *ev,
			 watch_changed_fn changed, void *ctx, bool *rescan)
{
	char path[PATH_MAX];
	struct stat st;
	bool have_st = false;
	size_t dlen = strlen(dir);
	int n;

	n = snprintf(path, sizeof(path), "%s%s%s", dir,
		     dlen && dir[dlen - 1] == '/' ? "" : "/", ev->name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return;

	/* A symlink to a directory carries no IN_ISDIR: recognise it by the
	 * watch placed through it (going) or by what it points to (coming). */
	if ((ev->mask & (IN_MOVED_FROM | IN_DELETE | IN_MOVED_TO)) &&
	    watch__has_dir(w, path)) {
		*rescan = true;
		return;
	}
	if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
		struct stat t;

		have_st = lstat(path, &st) == 0;
		if (have_st && S_ISLNK(st.st_mode) && stat(path, &t) == 0 &&
		    S_ISDIR(t.st_mode)) {
			*rescan = true;
			return;
		}
	}
	if (!scan_is_manifest_name(ev->name))
		return;
	/* A new regular file is still being written: IN_CLOSE_WRITE follows.
	 * A symlink or a hard link (link count above one) arrives complete
	 * and nothing follows it. Gone already: IN_DELETE follows. */
	if ((ev->mask & IN_CREATE) &&
	    !(have_st && (S_ISLNK(st.st_mode) ||
			  (S_ISREG(st.st_mode) && st.st_nlink > 1))))
		return;
	if (changed)
		changed(ctx, path);
}

static void watch__event(struct watch *w, const struct inotify_event *ev,
			 watch_changed_fn changed, void *ctx, bool *rescan)
{
	size_t lo, hi;

	if (ev->mask & IN_Q_OVERFLOW) {
		*rescan = true;
		return;
	}
	lo = watch__lower(w->dirs, w->n, ev->wd);
	for (hi = lo; hi < w->n && w->dirs[hi].wd == ev->wd; hi++)
		;
	/* A watch removed by the last walk can still have events queued. */
	if (lo == hi)
		return;
	/* IN_IGNORED here (not one we asked for: those are out of the table)
	 * means the kernel dropped a watch. The SELF events matter for
	 * directories reached through a symlink, whose parent is not
	 * watched, and for the root. The table stays as it is until the walk
	 * at the end of the drain replaces it. */
	if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
		*rescan = true;
		return;
	}
	if (!ev->len || !ev->name[0])
		return; /* IN_ATTRIB on the directory itself */
	if (ev->name[0] == '.') {
		/* The kubelet's AtomicWriter publishes a new payload by
		 * renaming `..data_tmp` over `..data`: every visible symlink
		 * now resolves to new content without an event of its own.
		 * Anything else hidden is not ours. */
		if (!strcmp(ev->name, "..data"))
			*rescan = true;
		return;
	}
	if (ev->mask & IN_ISDIR) {
		*rescan = true;
		return;
	}
	for (size_t i = lo; i < hi; i++)
		watch__entry(w, w->dirs[i].path, ev, changed, ctx, rescan);
}

int watch_drain(struct watch *w, watch_changed_fn changed, void *ctx)
{
	char buf[WATCH__BUF_BYTES]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	bool rescan = false;
	int ret = 0;

	for (int i = 0; i < WATCH__MAX_READS; i++) {
		ssize_t len = read(w->fd, buf, sizeof(buf));

		if (len < 0) {
			if (errno == EAGAIN)
				break;
			if (errno == EINTR)
				continue;
			/* Events may be lost: make watch_reset walk again. */
			ret = -errno;
			w->stale = true;
			goto out;
		}
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const void *)p;

			watch__event(w, ev, changed, ctx, &rescan);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (rescan) {
		/* A failure leaves the watch stale; watch_reset reports it. */
		watch__sync(w);
		ret = 1;
	}
out:
	return ret;
}

int watch_reset(struct watch *w)
{
	/* A partial watch is walked again too: directories removed where no
	 * watch saw it may have brought the tree back under the bound. */
	if (!w->stale && !w->partial)
		return 0;
	return watch__sync(w);
}

bool watch_partial(const struct watch *w)
{
	return w->partial;
}

size_t watch_count(const struct watch *w)
{
	return w->n;
}

int watch_fd(const struct watch *w)
{
	return w->fd;
}

int watch_open(const char *root, struct watch **out)
{
	struct watch *w;
	int ret = 0;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		ret = -errno;
		goto out;
	}
	w->root = strdup(root);
	if (!w->root) {
		ret = -ENOMEM;
		goto out;
	}
	ret = watch__sync(w);
	if (ret)
		goto out;
	*out = w;
out:
	if (ret)
		watch_close(w);
	return ret;
}

void watch_close(struct watch *w)
{
	if (!w)
		return;
	/* Closing the descriptor drops every kernel watch at once. */
	if (w->fd >= 0)
		close(w->fd);
	watch__free_dirs(w->dirs, w->n);
	free(w->by_path);
	free(w->root);
	free(w);
}
