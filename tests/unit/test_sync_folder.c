/* SPDX-License-Identifier: MIT */
/* ldmesh-sync's folder writer (agent/sync/folder.c, marker.c): names that
 * are not Kubernetes names never become paths, writes are whole or absent,
 * a prune removes only this program's files that a list lacks. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "folder.h"
#include "marker.h"
#include "testutil.h"

static void test_names(void **state)
{
	char f[300];

	assert_int_equal(sync_folder_file_name("default", "web", f, sizeof(f)), 0);
	assert_string_equal(f, "default__web.json");
	assert_int_equal(sync_folder_file_name(NULL, "node-1.example", f, sizeof(f)), 0);
	assert_string_equal(f, "node-1.example.json");
	static const char *const bad[] = { "", "..", ".hidden", "a/b", "../x", "Web",
					   "a_b", "-a", "a-", "a b", "a\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sync_folder_file_name("default", bad[i], f, sizeof(f)), -EINVAL);
		assert_int_equal(sync_folder_file_name(bad[i], "web", f, sizeof(f)), -EINVAL);
	}
	/* a namespace is a label: no dots */
	assert_int_equal(sync_folder_file_name("a.b", "web", f, sizeof(f)), -EINVAL);
	char long_name[300];
	memset(long_name, 'a', 254);
	long_name[254] = '\0';
	assert_int_equal(sync_folder_file_name("d", long_name, f, sizeof(f)), -EINVAL);
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static unsigned entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void test_put_remove(void **state)
{
	char *dir = tu_tmpdir("sync-folder"), path[512], sub[512];
	struct stat st1, st2;

	assert_int_equal(sync_folder_prepare(dir, "services"), 0);
	assert_int_equal(sync_folder_put(dir, "services", "default__web.json", "{\"a\":1}", 7), 0);
	snprintf(path, sizeof(path), "%s/services/default__web.json", dir);
	assert_string_equal(slurp(path), "{\"a\":1}");
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mode & 0777, 0644);
	/* the same bytes again: the file is left alone (same inode) */
	assert_int_equal(sync_folder_put(dir, "services", "default__web.json", "{\"a\":1}", 7), 0);
	assert_int_equal(stat(path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	/* new bytes: a new file renamed over the old one, no temp left */
	assert_int_equal(sync_folder_put(dir, "services", "default__web.json", "{\"a\":2}", 7), 0);
	assert_string_equal(slurp(path), "{\"a\":2}");
	snprintf(sub, sizeof(sub), "%s/services", dir);
	assert_int_equal(entries(sub), 1);
	assert_int_equal(sync_folder_remove(dir, "services", "default__web.json"), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(sync_folder_remove(dir, "services", "default__web.json"), 0);
	/* a write that cannot happen leaves nothing behind */
	assert_int_equal(sync_folder_put(dir, "missing", "x.json", "{}", 2), -ENOENT);
	tu_rmtree(dir);
	free(dir);
}

static void test_prune(void **state)
{
	char *dir = tu_tmpdir("sync-prune"), sub[512];
	struct sync_names keep = { 0 };
	size_t removed;

	assert_int_equal(sync_folder_prepare(dir, "services"), 0);
	assert_int_equal(sync_folder_put(dir, "services", "a__one.json", "{}", 2), 0);
	assert_int_equal(sync_folder_put(dir, "services", "a__two.json", "{}", 2), 0);
	assert_int_equal(sync_folder_put(dir, "services", "b__three.json", "{}", 2), 0);
	/* not ours: never removed */
	tu_write(dir, "services/README.md", "hands off");
	tu_write(dir, "services/.a__old.json.tmp.abc", "{");
	assert_int_equal(sync_names_add(&keep, "a__two.json"), 0);
	assert_int_equal(sync_names_add(&keep, "a__one.json"), 0);
	assert_int_equal(sync_folder_prune(dir, "services", &keep, &removed), 0);
	assert_int_equal(removed, 1);
	snprintf(sub, sizeof(sub), "%s/services", dir);
	assert_int_equal(entries(sub), 4);
	snprintf(sub, sizeof(sub), "%s/services/b__three.json", dir);
	assert_int_equal(access(sub, F_OK), -1);
	sync_names_free(&keep);
	tu_rmtree(dir);
	free(dir);
}

static void test_marker(void **state)
{
	char *dir = tu_tmpdir("sync-marker"), path[512];

	assert_int_equal(sync_marker_write(dir, 1796681700), 0);
	snprintf(path, sizeof(path), "%s/" SYNC_MARKER_NAME, dir);
	assert_string_equal(slurp(path), "2026-12-07T22:15:00Z\n");
	assert_int_equal(entries(dir), 1);
	assert_int_equal(sync_marker_remove(dir), 0);
	assert_int_equal(entries(dir), 0);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_put_remove),
		cmocka_unit_test(test_prune),
		cmocka_unit_test(test_marker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
