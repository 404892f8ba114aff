/* cmocka tests for the agent's memory of the manifest folder
 * (agent/source/sources.c): last good objects survive bad edits, deletions take
 * objects away, forced and identity-driven re-reads, and rescans. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

#include "sources.h"
#include "testutil.h"

/* One Service named `name` (port 80): every variant has the same length
 * when names have the same length. */
static char *svc_yaml(const char *name)
{
	char *s;

	if (asprintf(&s, "apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n"
			 "spec:\n  ports:\n  - port: 80\n", name) < 0)
		abort();
	return s;
}

static void write_svc(const char *dir, const char *rel, const char *name)
{
	char *y = svc_yaml(name);

	tu_write(dir, rel, y);
	free(y);
}

static char *join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		abort();
	return p;
}

static const struct model_source *src_of(const struct sources *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].path, path))
			return &s->v[i];
	return NULL;
}

/* The single Service name held for `path`, or NULL. */
static const char *svc_name(const struct sources *s, const char *path)
{
	const struct model_source *m = src_of(s, path);

	if (!m)
		return NULL;
	assert_int_equal(m->set->n_services, 1);
	return m->set->services[0].meta.name;
}

static void set_mtime(const char *path, const struct timespec *ts)
{
	struct timespec t[2] = { *ts, *ts };

	assert_int_equal(utimensat(AT_FDCWD, path, t, AT_SYMLINK_NOFOLLOW), 0);
}

static struct timespec mtime_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mtim;
}

/* ---- sources_update ---------------------------------------------------- */

static void test_update_reads_new_file(void **state)
{
	char *dir = tu_tmpdir("src"), *f = join(dir, "svc.yaml");
	struct sources s = { .n = 0 };
	struct tu_diag t;

	(void)state;
	tu_diag_init(&t);
	write_svc(dir, "svc.yaml", "backend");
	assert_int_equal(sources_update(&s, f, false, &t.d), 1);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].path, f);
	assert_string_equal(svc_name(&s, f), "backend");
	/* unchanged identity, not forced: nothing to do */
	assert_int_equal(sources_update(&s, f, false, &t.d), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(t.n, 0);
	sources_free(&s);
	free(f);
	tu_rmtree(dir);
	free(dir);
}

static void test_update_bad_file_keeps_last_good(void **state)
{
	char *dir = tu_tmpdir("src"), *f = join(dir, "svc.yaml");
	struct sources s = { .n = 0 };
	struct tu_diag t;

	(void)state;
	tu_diag_init(&t);
	write_svc(dir, "svc.yaml", "backend");
	assert_int_equal(sources_update(&s, f, false, &t.d), 1);

	/* a broken edit: reported, the good objects stay */
	tu_write(dir, "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: [oops\n");
	assert_int_equal(sources_update(&s, f, true, &t.d), 0);
	assert_true(t.n >= 1);
	assert_true(t.d.errors >= 1);
	assert_true(tu_diag_has(&t, f));
	assert_int_equal(s.n, 1);
	assert_string_equal(svc_name(&s, f), "backend");

	/* an invalid (parseable) edit: same */
	tu_diag_init(&t);
	tu_write(dir, "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: Bad_Name\n"
				  "spec:\n  ports:\n  - port: 80\n");
	assert_int_equal(sources_update(&s, f, false, &t.d), 0);
	assert_true(t.d.errors >= 1);
	assert_string_equal(svc_name(&s, f), "backend");

	/* fixed: the new objects replace the old */
	tu_diag_init(&t);
	write_svc(dir, "svc.yaml", "frontend-v2");
	assert_int_equal(sources_update(&s, f, false, &t.d), 1);
	assert_int_equal(t.n, 0);
	assert_string_equal(svc_name(&s, f), "frontend-v2");
	sources_free(&s);
	free(f);
	tu_rmtree(dir);
	free(dir);
}

static void test_update_new_bad_file_not_added(void **state)
{
	char *dir = tu_tmpdir("src"), *f = join(dir, "bad.yaml");
	struct sources s = { .n = 0 };
	struct tu_diag t;

	(void)state;
	tu_diag_init(&t);
	tu_write(dir, "bad.yaml", "kind: Service\n  - : :\n");
	assert_int_equal(sources_update(&s, f, false, &t.d), 0);
	assert_int_equal(s.n, 0);
	assert_true(tu_diag_has(&t, f));
	sources_free(&s);
	free(f);
	tu_rmtree(dir);
	free(dir);
}

static void test_update_deleted_file_removed(void **state)
{
	char *dir = tu_tmpdir("src"), *a = join(dir, "a.yaml"), *b = join(dir, "b.yaml");
	struct sources s = { .n = 0 };
	struct tu_diag t;

	(void)state;
	tu_diag_init(&t);
	write_svc(dir, "a.yaml", "alpha");
	write_svc(dir, "b.yaml", "beta");
	assert_int_equal(sources_update(&s, a, false, &t.d), 1);
	assert_int_equal(sources_update(&s, b, false, &t.d), 1);
	assert_int_equal(unlink(a), 0);
	assert_int_equal(sources_update(&s, a, false, &t.d), 1);
	assert_int_equal(s.n, 1);
	assert_null(src_of(&s, a));
	assert_string_equal(svc_name(&s, b), "beta");
	/* gone and already forgotten: no change */
	assert_int_equal(sources_update(&s, a, false, &t.d), 0);
	/* replaced by a directory: not a manifest any more */
	assert_int_equal(unlink(b), 0);
	assert_int_equal(mkdir(b, 0755), 0);
	assert_int_equal(sources_update(&s, b, true, &t.d), 1);
	assert_int_equal(s.n, 0);
	assert_int_equal(t.n, 0);
	sources_free(&s);
	free(a);
	free(b);
	tu_rmtree(dir);
	free(dir);
}

static void test_update_force_rereads_same_identity(void **state)
{
	char *dir = tu_tmpdir("src"), *f = join(dir, "svc.yaml");
	struct sources s = { .n = 0 };
	struct tu_diag t;
	struct timespec ts;

	(void)state;
	tu_diag_init(&t);
	write_svc(dir, "svc.yaml", "aaaa");
	ts = mtime_of(f);
	assert_int_equal(sources_update(&s, f, false, &t.d), 1);
	/* same inode, same size, same mtime: only content differs */
	write_svc(dir, "svc.yaml", "bbbb");
	set_mtime(f, &ts);
	assert_int_equal(sources_update(&s, f, false, &t.d), 0);
	assert_string_equal(svc_name(&s, f), "aaaa");
	assert_int_equal(sources_update(&s, f, true, &t.d), 1);
	assert_string_equal(svc_name(&s, f), "bbbb");
	/* a changed mtime alone is enough without force */
	write_svc(dir, "svc.yaml", "cccc");
	ts.tv_sec += 5;
	set_mtime(f, &ts);
	assert_int_equal(sources_update(&s, f, false, &t.d), 1);
	assert_string_equal(svc_name(&s, f), "cccc");
	sources_free(&s);
	free(f);
	tu_rmtree(dir);
	free(dir);
}

static void test_update_keeps_paths_sorted(void **state)
{
	char *dir = tu_tmpdir("src");
	const char *rel[] = { "m.yaml", "b/z.yaml", "a.yaml", "zz.json", "b.yml" };
	const char *sorted[] = { "a.yaml", "b.yml", "b/z.yaml", "m.yaml", "zz.json" };
	struct sources s = { .n = 0 };
	struct tu_diag t;

	(void)state;
	tu_diag_init(&t);
	for (int i = 0; i < 5; i++) {
		char *p = join(dir, rel[i]), name[8];
		snprintf(name, sizeof(name), "s%d", i);
		write_svc(dir, rel[i], name);
		assert_int_equal(sources_update(&s, p, false, &t.d), 1);
		free(p);
	}
	assert_int_equal(s.n, 5);
	for (int i = 0; i < 5; i++) {
		char *p = join(dir, sorted[i]);
		assert_string_equal(s.v[i].path, p);
		free(p);
	}
	sources_free(&s);
	tu_rmtree(dir);
	free(dir);
}

static void test_update_many_files(void **state)
{
	/* grows the arrays past their first capacity; ids stay with paths */
	char *dir = tu_tmpdir("src");
	struct sources s = { .n = 0 };
	struct tu_diag t;
	char rel[32], name[32];

	(void)state;
	tu_diag_init(&t);
	for (int i = 40; i >= 0; i--) {
		snprintf(rel, sizeof(rel), "f%03d.yaml", i);
		snprintf(name, sizeof(name), "svc-%03d", i);
		write_svc(dir, rel, name);
		char *p = join(dir, rel);
		assert_int_equal(sources_update(&s, p, false, &t.d), 1);
		free(p);
	}
	assert_int_equal(s.n, 41);
	for (int i = 0; i <= 40; i++) {
		snprintf(rel, sizeof(rel), "f%03d.yaml", i);
		snprintf(name, sizeof(name), "svc-%03d", i);
		char *p = join(dir, rel);
		assert_string_equal(s.v[i].path, p);
		assert_string_equal(svc_name(&s, p), name);
		assert_int_equal(sources_update(&s, p, false, &t.d), 0);
		free(p);
	}
	sources_free(&s);
	tu_rmtree(dir);
	free(dir);
}

/* ---- sources_rescan ---------------------------------------------------- */

static void test_rescan_reads_and_drops(void **state)
{
	char *dir = tu_tmpdir("src"), *a = join(dir, "a.yaml"), *b = join(dir, "sub/b.yaml"),
	     *c = join(dir, "c.yaml");
	struct sources s = { .n = 0 };
	struct tu_diag t;

	(void)state;
	tu_diag_init(&t);
	write_svc(dir, "a.yaml", "alpha");
	write_svc(dir, "sub/b.yaml", "beta");
	write_svc(dir, "c.yaml", "gamma");
	tu_write(dir, "README.md", "not a manifest");
	assert_int_equal(sources_rescan(&s, dir, &t.d), 3);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0].path, a);
	assert_string_equal(s.v[1].path, c);
	assert_string_equal(s.v[2].path, b);
	/* nothing changed */
	assert_int_equal(sources_rescan(&s, dir, &t.d), 0);
	/* one gone, one changed */
	assert_int_equal(unlink(b), 0);
	write_svc(dir, "c.yaml", "gamma-2");
	assert_int_equal(sources_rescan(&s, dir, &t.d), 2);
	assert_int_equal(s.n, 2);
	assert_null(src_of(&s, b));
	assert_string_equal(svc_name(&s, a), "alpha");
	assert_string_equal(svc_name(&s, c), "gamma-2");
	/* everything gone */
	assert_int_equal(unlink(a), 0);
	assert_int_equal(unlink(c), 0);
	assert_int_equal(sources_rescan(&s, dir, &t.d), 2);
	assert_int_equal(s.n, 0);
	assert_int_equal(t.d.errors, 0);
	sources_free(&s);
	free(a);
	free(b);
	free(c);
	tu_rmtree(dir);
	free(dir);
}

static void test_rescan_bad_file_keeps_objects(void **state)
{
	char *dir = tu_tmpdir("src"), *a = join(dir, "a.yaml");
	struct sources s = { .n = 0 };
	struct tu_diag t;

	(void)state;
	tu_diag_init(&t);
	write_svc(dir, "a.yaml", "alpha");
	assert_int_equal(sources_rescan(&s, dir, &t.d), 1);
	tu_write(dir, "a.yaml", "{{{{ not yaml at all\n");
	assert_int_equal(sources_rescan(&s, dir, &t.d), 0);
	assert_true(t.d.errors >= 1);
	assert_true(tu_diag_has(&t, a));
	assert_string_equal(svc_name(&s, a), "alpha");
	sources_free(&s);
	free(a);
	tu_rmtree(dir);
	free(dir);
}

static void test_rescan_missing_root_keeps_everything(void **state)
{
	char *base = tu_tmpdir("src"), *root = join(base, "manifests"),
	     *moved = join(base, "moved"), *a = join(root, "a.yaml");
	struct sources s = { .n = 0 };
	struct tu_diag t;

	(void)state;
	tu_diag_init(&t);
	write_svc(root, "a.yaml", "alpha");
	write_svc(root, "b.yaml", "beta");
	assert_int_equal(sources_rescan(&s, root, &t.d), 2);
	assert_int_equal(rename(root, moved), 0);
	assert_int_equal(sources_rescan(&s, root, &t.d), -ENOENT);
	assert_int_equal(s.n, 2);
	assert_string_equal(svc_name(&s, a), "alpha");
	/* back again, unchanged: nothing to do */
	assert_int_equal(rename(moved, root), 0);
	assert_int_equal(sources_rescan(&s, root, &t.d), 0);
	assert_int_equal(s.n, 2);
	sources_free(&s);
	free(root);
	free(moved);
	free(a);
	tu_rmtree(base);
	free(base);
}

static void test_rescan_rereads_swapped_data_symlink(void **state)
{
	/* the kubelet's ConfigMap volume: svc.yaml -> ..data/svc.yaml,
	 * ..data -> ..<timestamp>; an update swaps ..data atomically */
	char *dir = tu_tmpdir("src"), *f = join(dir, "svc.yaml"),
	     *v1 = join(dir, "..v1/svc.yaml"), *v2 = join(dir, "..v2/svc.yaml"),
	     *data = join(dir, "..data"), *tmp = join(dir, "..data_tmp");
	struct sources s = { .n = 0 };
	struct tu_diag t;

	(void)state;
	tu_diag_init(&t);
	write_svc(dir, "..v1/svc.yaml", "one");
	assert_int_equal(symlink("..v1", data), 0);
	assert_int_equal(symlink("..data/svc.yaml", f), 0);
	assert_int_equal(sources_rescan(&s, dir, &t.d), 1);
	assert_int_equal(s.n, 1); /* the hidden copies are not listed */
	assert_string_equal(svc_name(&s, f), "one");

	/* same size and mtime: only the inode tells them apart */
	write_svc(dir, "..v2/svc.yaml", "two");
	struct timespec ts = mtime_of(v1);
	set_mtime(v2, &ts);
	assert_int_equal(symlink("..v2", tmp), 0);
	assert_int_equal(rename(tmp, data), 0);
	assert_int_equal(sources_rescan(&s, dir, &t.d), 1);
	assert_int_equal(s.n, 1);
	assert_string_equal(svc_name(&s, f), "two");
	assert_int_equal(sources_rescan(&s, dir, &t.d), 0);

	/* the key removed from the ConfigMap: the visible link dangles */
	assert_int_equal(unlink(v2), 0);
	assert_int_equal(sources_rescan(&s, dir, &t.d), 1);
	assert_int_equal(s.n, 0);
	sources_free(&s);
	free(f);
	free(v1);
	free(v2);
	free(data);
	free(tmp);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_update_reads_new_file),
		cmocka_unit_test(test_update_bad_file_keeps_last_good),
		cmocka_unit_test(test_update_new_bad_file_not_added),
		cmocka_unit_test(test_update_deleted_file_removed),
		cmocka_unit_test(test_update_force_rereads_same_identity),
		cmocka_unit_test(test_update_keeps_paths_sorted),
		cmocka_unit_test(test_update_many_files),
		cmocka_unit_test(test_rescan_reads_and_drops),
		cmocka_unit_test(test_rescan_bad_file_keeps_objects),
		cmocka_unit_test(test_rescan_missing_root_keeps_everything),
		cmocka_unit_test(test_rescan_rereads_swapped_data_symlink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
