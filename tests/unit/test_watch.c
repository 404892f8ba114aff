// SPDX-License-Identifier: MIT
/* watch: real inotify on a temporary folder; every wait is for an event
 * (pump's marker), bounded by tu_wait's deadline. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "scan.h"
#include "testutil.h"
#include "watch.h"

#define SEEN_MAX 64
/* pump()'s marker files: a manifest name, so the watch reports them */
#define MARKER "zz-pump-"
#define MARKERS_MAX 8

struct seen {
	char paths[SEEN_MAX][PATH_MAX];
	unsigned n;
	unsigned rescans;
	char marker[PATH_MAX]; /* the marker pump() waits for, or "" */
	bool marker_seen;
};

struct fx {
	char *root;
	char *outside;
	struct watch *w;
	struct seen seen;
	char markers[MARKERS_MAX][PATH_MAX]; /* written by this pump() */
	unsigned n_markers;
};

static void note(void *ctx, const char *path)
{
	struct seen *s = ctx;
	const char *base = strrchr(path, '/');

	/* pump()'s markers (and their removal) are not the test's doing */
	if (!strncmp(base ? base + 1 : path, MARKER, strlen(MARKER))) {
		if (!strcmp(path, s->marker))
			s->marker_seen = true;
		return;
	}
	assert_true(s->n < SEEN_MAX);
	snprintf(s->paths[s->n++], PATH_MAX, "%s", path);
}

/* A new marker file in the root, the one pump() now waits for; false when
 * the root is gone. */
static bool pump__mark(struct fx *f)
{
	static unsigned k;
	char *path = f->markers[f->n_markers];
	int fd;

	assert_true(f->n_markers < MARKERS_MAX);
	snprintf(path, PATH_MAX, "%s/" MARKER "%u.yaml", f->root, k++);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {
		assert_int_equal(errno, ENOENT);
		f->seen.marker[0] = 0;
		return false;
	}
	assert_int_equal(close(fd), 0); /* IN_CLOSE_WRITE: reported */
	f->n_markers++;
	snprintf(f->seen.marker, PATH_MAX, "%s", path);
	return true;
}

/* One drain; whether pump() is done. */
static bool pump__step(void *ctx)
{
	struct fx *f = ctx;
	int r = watch_drain(f->w, note, &f->seen);

	assert_true(r == 0 || r == 1);
	f->seen.rescans += r;
	/* the watches were re-placed: a marker written before may have gone
	 * unseen (dropped by an overflowed queue, written into a root not
	 * watched yet) */
	if (r == 1 && f->seen.marker[0] && !f->seen.marker_seen)
		pump__mark(f);
	return f->seen.marker[0] ? f->seen.marker_seen : f->seen.rescans > 0;
}

/*
 * Collect what the watch reports for what the test has just done. One
 * inotify queue delivers events in the order they happened, so write a
 * marker file into the root after the test's own calls and drain until
 * the marker is reported: everything before it has been reported by then.
 * Nothing waits for silence. With the root gone no marker can be written:
 * the rescan that reports its removal is the event waited for. The
 * markers are removed after (their removal is ignored as they are).
 * Starts afresh.
 */
static void pump(struct fx *f)
{
	memset(&f->seen, 0, sizeof(f->seen));
	f->n_markers = 0;
	pump__mark(f);
	if (!tu_wait(pump__step, f))
		fail_msg("the watch never reported %s",
			 f->seen.marker[0] ? f->seen.marker : "the root's removal");
	for (unsigned i = 0; i < f->n_markers; i++)
		assert_int_equal(unlink(f->markers[i]), 0);
}

static char *at(const struct fx *f, const char *rel)
{
	static char buf[4][PATH_MAX];
	static unsigned i;
	char *p = buf[i++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", f->root, rel);
	return p;
}

static unsigned count(const struct fx *f, const char *rel)
{
	const char *path = at(f, rel);
	unsigned n = 0;

	for (unsigned i = 0; i < f->seen.n; i++)
		n += !strcmp(f->seen.paths[i], path);
	return n;
}

/* The set of reported paths (duplicates allowed, as documented) is exactly
 * root/<rel> for each rel given. */
static void assert_seen(const struct fx *f, ...)
{
	unsigned matched = 0;
	const char *rel;
	va_list ap;

	va_start(ap, f);
	while ((rel = va_arg(ap, const char *))) {
		unsigned c = count(f, rel);

		if (!c)
			fail_msg("%s not reported", at(f, rel));
		matched += c;
	}
	va_end(ap);
	for (unsigned i = 0; matched != f->seen.n && i < f->seen.n; i++)
		print_error("reported: %s\n", f->seen.paths[i]);
	assert_int_equal(matched, f->seen.n);
}

/* Kernel-side watches on the instance, from /proc/self/fdinfo. */
static unsigned kernel_watches(const struct fx *f)
{
	char path[64], line[512];
	unsigned n = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", watch_fd(f->w));
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		n += !strncmp(line, "inotify wd:", 11);
	fclose(fp);
	return n;
}

static void mklink(const struct fx *f, const char *target, const char *rel)
{
	assert_int_equal(symlink(target, at(f, rel)), 0);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->root = tu_tmpdir("watch");
	f->outside = tu_tmpdir("watch-out");
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	watch_close(f->w);
	tu_rmtree(f->root);
	tu_rmtree(f->outside);
	free(f->root);
	free(f->outside);
	free(f);
	return 0;
}

static void open_watch(struct fx *f)
{
	assert_int_equal(watch_open(f->root, &f->w), 0);
	pump(f);
	assert_int_equal(f->seen.n, 0);
	assert_int_equal(f->seen.rescans, 0);
}

static void test_create_reported_once_closed(void **state)
{
	struct fx *f = *state;
	int fd;

	open_watch(f);
	fd = open(at(f, "a.yaml"), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "kind: Service\n", 14), 14);
	pump(f);
	/* Still being written: nothing yet. */
	assert_int_equal(f->seen.n, 0);
	assert_int_equal(close(fd), 0);
	pump(f);
	assert_seen(f, "a.yaml", NULL);
	assert_int_equal(count(f, "a.yaml"), 1);
	assert_int_equal(f->seen.rescans, 0);
}

static void test_modify_reported(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, "a.yaml", "v1");
	tu_write(f->root, "sub/b.yml", "v1");
	open_watch(f);
	tu_write(f->root, "a.yaml", "v2");
	tu_write(f->root, "sub/b.yml", "v2");
	pump(f);
	assert_seen(f, "a.yaml", "sub/b.yml", NULL);
	assert_int_equal(count(f, "a.yaml"), 1);
	assert_int_equal(f->seen.rescans, 0);
}

static void test_rename_into_place(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, "a.yaml", "v1");
	open_watch(f);
	/* The editor way: write a temporary, rename it over the target. */
	tu_write(f->root, "a.yaml.swp", "v2");
	tu_write(f->root, "tmp.swp", "v2");
	pump(f);
	assert_int_equal(f->seen.n, 0);
	assert_int_equal(rename(at(f, "tmp.swp"), at(f, "a.yaml")), 0);
	pump(f);
	assert_seen(f, "a.yaml", NULL);
	assert_int_equal(f->seen.rescans, 0);
}

static void test_move_out_and_delete(void **state)
{
	struct fx *f = *state;
	char away[PATH_MAX];

	tu_write(f->root, "a.yaml", "");
	tu_write(f->root, "b.json", "");
	open_watch(f);
	snprintf(away, sizeof(away), "%s/a.yaml", f->outside);
	assert_int_equal(rename(at(f, "a.yaml"), away), 0);
	pump(f);
	assert_seen(f, "a.yaml", NULL);

	assert_int_equal(unlink(at(f, "b.json")), 0);
	pump(f);
	assert_seen(f, "b.json", NULL);
	assert_int_equal(f->seen.rescans, 0);

	/* Moved back in. */
	assert_int_equal(rename(away, at(f, "c.yaml")), 0);
	pump(f);
	assert_seen(f, "c.yaml", NULL);
}

static void test_attrib_reported(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, "a.yaml", "");
	open_watch(f);
	assert_int_equal(chmod(at(f, "a.yaml"), 0600), 0);
	pump(f);
	assert_seen(f, "a.yaml", NULL);
}

static void test_links_reported_on_create(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, "a.yaml", "");
	open_watch(f);
	/* Neither a symlink nor a hard link gets an IN_CLOSE_WRITE. */
	mklink(f, "a.yaml", "sym.yaml");
	pump(f);
	assert_seen(f, "sym.yaml", NULL);

	assert_int_equal(link(at(f, "a.yaml"), at(f, "hard.yaml")), 0);
	pump(f);
	/* a.yaml's link count changed: IN_ATTRIB on it too. */
	assert_int_equal(count(f, "hard.yaml"), 1);
	assert_int_equal(f->seen.n, count(f, "hard.yaml") + count(f, "a.yaml"));
	assert_int_equal(f->seen.rescans, 0);
}

static void test_non_manifest_ignored(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, "sub/keep.yaml", "");
	open_watch(f);
	tu_write(f->root, "notes.txt", "x");
	tu_write(f->root, "sub/readme.md", "x");
	assert_int_equal(rename(at(f, "notes.txt"), at(f, "notes2.txt")), 0);
	assert_int_equal(unlink(at(f, "notes2.txt")), 0);
	tu_write(f->root, ".hidden.yaml", "x");
	pump(f);
	assert_int_equal(f->seen.n, 0);
	assert_int_equal(f->seen.rescans, 0);
}

static void test_new_subdir(void **state)
{
	struct fx *f = *state;

	open_watch(f);
	assert_int_equal(mkdir(at(f, "sub"), 0755), 0);
	pump(f);
	assert_int_equal(f->seen.rescans, 1);
	assert_int_equal(f->seen.n, 0);
	assert_int_equal(watch_reset(f->w), 0);

	tu_write(f->root, "sub/b.yaml", "");
	pump(f);
	assert_seen(f, "sub/b.yaml", NULL);
	assert_int_equal(f->seen.rescans, 0);
}

/* The race the rescan contract closes: files written into a new directory
 * before its watch exists are not reported, but the rescan after
 * watch_reset() lists them, and later changes are reported. */
static void test_new_subdir_filled_before_drain(void **state)
{
	struct fx *f = *state;
	struct scan_list list = { 0 };

	open_watch(f);
	tu_write(f->root, "sub/deep/b.yaml", "");
	pump(f);
	assert_int_equal(f->seen.rescans, 1);
	assert_int_equal(watch_reset(f->w), 0);
	assert_int_equal(scan_dir(f->root, &list, NULL), 0);
	assert_int_equal(list.n, 1);
	assert_string_equal(list.paths[0], at(f, "sub/deep/b.yaml"));
	scan_list_free(&list);

	tu_write(f->root, "sub/deep/b.yaml", "v2");
	pump(f);
	assert_seen(f, "sub/deep/b.yaml", NULL);
	assert_int_equal(f->seen.rescans, 0);
}

static void test_subdir_moved_out_unwatched(void **state)
{
	struct fx *f = *state;
	char away[PATH_MAX];

	tu_write(f->root, "sub/b.yaml", "");
	open_watch(f);
	assert_int_equal(kernel_watches(f), 2);
	snprintf(away, sizeof(away), "%s/sub", f->outside);
	assert_int_equal(rename(at(f, "sub"), away), 0);
	pump(f);
	assert_int_equal(f->seen.rescans, 1);
	assert_int_equal(watch_reset(f->w), 0);
	/* Not only ignored: the watch is gone, or every directory ever moved
	 * out would hold one of the user's fs.inotify.max_user_watches. */
	assert_int_equal(kernel_watches(f), 1);

	/* The directory lives on outside the tree: its events must not come
	 * back under the old path. */
	tu_write(f->outside, "sub/b.yaml", "v2");
	pump(f);
	assert_int_equal(f->seen.n, 0);
	assert_int_equal(f->seen.rescans, 0);

	assert_int_equal(rename(away, at(f, "back")), 0);
	pump(f);
	assert_int_equal(f->seen.rescans, 1);
	tu_write(f->root, "back/b.yaml", "v3");
	pump(f);
	assert_seen(f, "back/b.yaml", NULL);
}

static void test_subdir_removed(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, "sub/b.yaml", "");
	tu_write(f->root, "a.yaml", "");
	open_watch(f);
	assert_int_equal(unlink(at(f, "sub/b.yaml")), 0);
	assert_int_equal(rmdir(at(f, "sub")), 0);
	pump(f);
	assert_int_equal(f->seen.rescans, 1);
	assert_seen(f, "sub/b.yaml", NULL);
	assert_int_equal(watch_reset(f->w), 0);
	tu_write(f->root, "a.yaml", "v2");
	pump(f);
	assert_seen(f, "a.yaml", NULL);
	assert_int_equal(f->seen.rescans, 0);
}

static void test_symlinked_dir(void **state)
{
	struct fx *f = *state;

	/* inside the folder, hidden as the kubelet's `..2026_...` is: only
	 * the visible link leads there (one leading out is not followed) */
	tu_write(f->root, ".store/dir/x.yaml", "");
	open_watch(f);
	mklink(f, ".store", "linked");
	pump(f);
	assert_int_equal(f->seen.rescans, 1);
	assert_int_equal(watch_reset(f->w), 0);

	/* Reported under the visible path, as scan_dir lists it. */
	tu_write(f->root, ".store/dir/x.yaml", "v2");
	pump(f);
	assert_seen(f, "linked/dir/x.yaml", NULL);

	assert_int_equal(unlink(at(f, "linked")), 0);
	pump(f);
	assert_int_equal(f->seen.rescans, 1);
	assert_int_equal(watch_reset(f->w), 0);
	tu_write(f->root, ".store/dir/x.yaml", "v3");
	pump(f);
	assert_int_equal(f->seen.n, 0);
}

static void test_dir_reached_twice(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, "real/y.yaml", "");
	mklink(f, "real", "alias");
	open_watch(f);
	/* One inode, one kernel watch, two visible paths: scan_dir lists the
	 * file under both, so both are reported. */
	assert_int_equal(kernel_watches(f), 2);
	tu_write(f->root, "real/y.yaml", "v2");
	pump(f);
	assert_seen(f, "alias/y.yaml", "real/y.yaml", NULL);
	assert_int_equal(count(f, "real/y.yaml"), 1);
}

static void test_kubelet_data_swap(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, "..2024_11_26_10_00_00.1/svc.yaml", "v1");
	mklink(f, "..2024_11_26_10_00_00.1", "..data");
	mklink(f, "..data/svc.yaml", "svc.yaml");
	open_watch(f);

	/* AtomicWriter, step by step: the new payload directory and the
	 * temporary link are hidden and say nothing... */
	tu_write(f->root, "..2026_01_01_00_00_00.2/svc.yaml", "v2");
	mklink(f, "..2026_01_01_00_00_00.2", "..data_tmp");
	pump(f);
	assert_int_equal(f->seen.n, 0);
	assert_int_equal(f->seen.rescans, 0);

	/* ...the rename over ..data switches every visible file at once. */
	assert_int_equal(rename(at(f, "..data_tmp"), at(f, "..data")), 0);
	pump(f);
	assert_int_equal(f->seen.rescans, 1);
	assert_int_equal(f->seen.n, 0);
	assert_int_equal(watch_reset(f->w), 0);

	/* The old payload is removed last: hidden, nothing to say. */
	tu_rmtree(at(f, "..2024_11_26_10_00_00.1"));
	pump(f);
	assert_int_equal(f->seen.n, 0);
	assert_int_equal(f->seen.rescans, 0);
}

static void test_root_removed_and_recreated(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, "sub/a.yaml", "");
	open_watch(f);
	tu_rmtree(f->root);
	pump(f);
	assert_int_equal(f->seen.rescans, 1);
	assert_int_equal(watch_reset(f->w), -ENOENT);
	assert_int_equal(watch_reset(f->w), -ENOENT);

	assert_int_equal(mkdir(f->root, 0700), 0);
	assert_int_equal(watch_reset(f->w), 0);
	assert_int_equal(watch_reset(f->w), 0);
	tu_write(f->root, "a.yaml", "");
	pump(f);
	assert_seen(f, "a.yaml", NULL);
	assert_int_equal(f->seen.rescans, 0);
}

static void test_root_recreated_before_drain(void **state)
{
	struct fx *f = *state;

	open_watch(f);
	tu_rmtree(f->root);
	assert_int_equal(mkdir(f->root, 0700), 0);
	pump(f);
	/* The drain re-placed the watches on the new root by itself. */
	assert_int_equal(f->seen.rescans, 1);
	assert_int_equal(watch_reset(f->w), 0);
	tu_write(f->root, "a.yaml", "");
	pump(f);
	assert_seen(f, "a.yaml", NULL);
}

static void test_overflow_requests_rescan(void **state)
{
	struct fx *f = *state;
	unsigned max = 0, files;
	FILE *fp;

	fp = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	if (!fp || fscanf(fp, "%u", &max) != 1 || max > 65536) {
		if (fp)
			fclose(fp);
		skip(); /* too many files to make for a unit test */
	}
	fclose(fp);
	open_watch(f);
	/* IN_CREATE + IN_CLOSE_WRITE per file: past the queue's limit. */
	files = max / 2 + 16;
	for (unsigned i = 0; i < files; i++) {
		char name[32];
		int fd;

		snprintf(name, sizeof(name), "f%u.txt", i);
		fd = open(at(f, name), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		close(fd);
	}
	pump(f);
	assert_int_equal(f->seen.rescans, 1);
	assert_int_equal(watch_reset(f->w), 0);
	tu_write(f->root, "a.yaml", "");
	pump(f);
	assert_seen(f, "a.yaml", NULL);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;
	struct watch *w = (struct watch *)f;

	assert_int_equal(watch_open(at(f, "nope"), &w), -ENOENT);
	assert_ptr_equal(w, f);
	tu_write(f->root, "file", "");
	assert_int_equal(watch_open(at(f, "file"), &w), -ENOTDIR);
	assert_ptr_equal(w, f);
	watch_close(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_create_reported_once_closed),
		T(test_modify_reported),
		T(test_rename_into_place),
		T(test_move_out_and_delete),
		T(test_attrib_reported),
		T(test_links_reported_on_create),
		T(test_non_manifest_ignored),
		T(test_new_subdir),
		T(test_new_subdir_filled_before_drain),
		T(test_subdir_moved_out_unwatched),
		T(test_subdir_removed),
		T(test_symlinked_dir),
		T(test_dir_reached_twice),
		T(test_kubelet_data_swap),
		T(test_root_removed_and_recreated),
		T(test_root_recreated_before_drain),
		T(test_overflow_requests_rescan),
		T(test_open_errors),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
