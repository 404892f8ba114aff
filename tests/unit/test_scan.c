// SPDX-License-Identifier: MIT
/* scan: which manifest files exist under a root, in a fixed order. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "scan.h"
#include "testutil.h"

struct fx {
	char *root;
	char *outside;
	struct tu_diag diag;
	struct scan_list list;
};

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->root = tu_tmpdir("scan");
	f->outside = tu_tmpdir("scan-out");
	tu_diag_init(&f->diag);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	scan_list_free(&f->list);
	tu_rmtree(f->root);
	tu_rmtree(f->outside);
	free(f->root);
	free(f->outside);
	free(f);
	return 0;
}

static char *at(const struct fx *f, const char *rel)
{
	static char buf[4][PATH_MAX];
	static unsigned i;
	char *p = buf[i++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", f->root, rel);
	return p;
}

static void mklink(const struct fx *f, const char *target, const char *rel)
{
	assert_int_equal(symlink(target, at(f, rel)), 0);
}

/* The list equals root/<rel> for each rel given, in this order. */
static void assert_list(const struct fx *f, ...)
{
	const char *rel;
	size_t i = 0;
	va_list ap;

	va_start(ap, f);
	while ((rel = va_arg(ap, const char *))) {
		assert_true(i < f->list.n);
		assert_string_equal(f->list.paths[i], at(f, rel));
		i++;
	}
	va_end(ap);
	assert_int_equal(f->list.n, i);
}

static void test_manifest_name(void **state)
{
	assert_true(scan_is_manifest_name("a.yaml"));
	assert_true(scan_is_manifest_name("a.yml"));
	assert_true(scan_is_manifest_name("a.json"));
	assert_true(scan_is_manifest_name("a.b.yaml"));
	assert_false(scan_is_manifest_name("a.txt"));
	assert_false(scan_is_manifest_name("a.yaml.swp"));
	assert_false(scan_is_manifest_name("a.yaml~"));
	assert_false(scan_is_manifest_name("a.YAML"));
	assert_false(scan_is_manifest_name(".yaml"));
	assert_false(scan_is_manifest_name(".a.yaml"));
	assert_false(scan_is_manifest_name("yaml"));
}

static void test_nested_sorted_filtered(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, "z.yaml", "");
	tu_write(f->root, "sub/deeper/c.json", "");
	tu_write(f->root, "a/x.yaml", "");
	tu_write(f->root, "a.yaml", "");
	tu_write(f->root, "a-b.yml", "");
	tu_write(f->root, "notes.txt", "");
	tu_write(f->root, "sub/readme.md", "");
	tu_write(f->root, "sub/c.yaml.bak", "");

	assert_int_equal(scan_dir(f->root, &f->list, &f->diag.d), 0);
	/* strcmp order: '-' < '.' < '/', so a-b.yml, a.yaml, a/x.yaml;
	 * not the per-directory order a walk would produce. */
	assert_list(f, "a-b.yml", "a.yaml", "a/x.yaml", "sub/deeper/c.json",
		    "z.yaml", NULL);
	assert_int_equal(f->diag.d.errors, 0);
}

static void test_root_trailing_slash(void **state)
{
	struct fx *f = *state;
	char root[PATH_MAX];

	tu_write(f->root, "sub/a.yaml", "");
	snprintf(root, sizeof(root), "%s//", f->root);
	assert_int_equal(scan_dir(root, &f->list, &f->diag.d), 0);
	/* Same strings as for the bare root: watch reports paths this way. */
	assert_list(f, "sub/a.yaml", NULL);
}

static void test_hidden_skipped(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, ".git/objects/x.yaml", "");
	tu_write(f->root, ".hidden.yaml", "");
	tu_write(f->root, "sub/.a.yaml.swp", "");
	tu_write(f->root, "sub/.b.yaml", "");
	tu_write(f->root, "sub/visible.yaml", "");

	assert_int_equal(scan_dir(f->root, &f->list, &f->diag.d), 0);
	assert_list(f, "sub/visible.yaml", NULL);
	assert_int_equal(f->diag.d.errors, 0);
}

static void test_kubelet_layout_counted_once(void **state)
{
	struct fx *f = *state;

	/* What the kubelet's AtomicWriter leaves in a ConfigMap volume. */
	tu_write(f->root, "..2024_11_26_10_00_00.123456789/svc.yaml", "");
	tu_write(f->root, "..2024_11_26_10_00_00.123456789/ep.json", "");
	mklink(f, "..2024_11_26_10_00_00.123456789", "..data");
	mklink(f, "..data/svc.yaml", "svc.yaml");
	mklink(f, "..data/ep.json", "ep.json");

	assert_int_equal(scan_dir(f->root, &f->list, &f->diag.d), 0);
	assert_list(f, "ep.json", "svc.yaml", NULL);
	assert_int_equal(f->diag.d.errors, 0);
}

static void test_symlinked_dir_followed(void **state)
{
	struct fx *f = *state;

	tu_write(f->outside, "x.yaml", "");
	mklink(f, f->outside, "linked");
	tu_write(f->root, "real/y.yaml", "");
	mklink(f, "real", "alias");

	assert_int_equal(scan_dir(f->root, &f->list, &f->diag.d), 0);
	/* Visible paths, not resolved ones; a directory reached twice is
	 * listed under both names (no loop). One that leads out of the
	 * folder is not followed (issue 21, item 11), and said. */
	assert_list(f, "alias/y.yaml", "real/y.yaml", NULL);
	assert_int_equal(f->diag.d.errors, 1);
	assert_true(tu_diag_has(&f->diag, "linked: a symlink to "));
	assert_true(tu_diag_has(&f->diag, "not followed"));
}

static void test_symlink_loop_reported_once(void **state)
{
	struct fx *f = *state;
	char want[PATH_MAX + 64];

	tu_write(f->root, "sub/a.yaml", "");
	tu_write(f->root, "z.yaml", "");
	mklink(f, "..", "sub/loop");

	assert_int_equal(scan_dir(f->root, &f->list, &f->diag.d), 0);
	assert_list(f, "sub/a.yaml", "z.yaml", NULL);
	snprintf(want, sizeof(want), "%s: symlink loop, skipped", at(f, "sub/loop"));
	assert_int_equal(f->diag.n, 1);
	assert_string_equal(f->diag.lines[0], want);
	assert_int_equal(f->diag.d.errors, 1);
}

static void test_self_link_reported(void **state)
{
	struct fx *f = *state;

	tu_write(f->root, "a.yaml", "");
	mklink(f, "self.yaml", "self.yaml");

	assert_int_equal(scan_dir(f->root, &f->list, &f->diag.d), 0);
	assert_list(f, "a.yaml", NULL);
	assert_true(tu_diag_has(&f->diag, "self.yaml: Too many levels of symbolic links"));
	assert_int_equal(f->diag.d.errors, 1);
}

static void test_dangling_symlink_reported(void **state)
{
	struct fx *f = *state;
	char want[PATH_MAX + 64];

	tu_write(f->root, "ok.yaml", "");
	mklink(f, "missing.yaml", "gone.yaml");

	assert_int_equal(scan_dir(f->root, &f->list, &f->diag.d), 0);
	assert_list(f, "ok.yaml", NULL);
	snprintf(want, sizeof(want), "%s: No such file or directory", at(f, "gone.yaml"));
	assert_int_equal(f->diag.n, 1);
	assert_string_equal(f->diag.lines[0], want);
}

static void test_depth_bound(void **state)
{
	struct fx *f = *state;
	char rel[256] = "";
	char want[PATH_MAX + 64];

	/* d/ repeated: the directory at depth n holds f<n>.yaml. */
	for (int depth = 1; depth <= SCAN_MAX_DEPTH + 1; depth++) {
		char file[PATH_MAX];

		strcat(rel, "d/");
		snprintf(file, sizeof(file), "%sf%d.yaml", rel, depth);
		tu_write(f->root, file, "");
	}

	assert_int_equal(scan_dir(f->root, &f->list, &f->diag.d), 0);
	assert_int_equal(f->list.n, SCAN_MAX_DEPTH);
	rel[strlen(rel) - 1] = 0;
	snprintf(want, sizeof(want), "%s: deeper than %u directories, skipped",
		 at(f, rel), SCAN_MAX_DEPTH);
	assert_int_equal(f->diag.n, 1);
	assert_string_equal(f->diag.lines[0], want);
}

static void test_root_missing(void **state)
{
	struct fx *f = *state;
	struct scan_list untouched = { .paths = (char **)&untouched, .n = 42 };

	assert_int_equal(scan_dir(at(f, "nope"), &untouched, &f->diag.d), -ENOENT);
	assert_ptr_equal(untouched.paths, &untouched);
	assert_int_equal(untouched.n, 42);
	assert_true(tu_diag_has(&f->diag, "nope: No such file or directory"));

	tu_write(f->root, "file", "");
	assert_int_equal(scan_dir(at(f, "file"), &f->list, &f->diag.d), -ENOTDIR);
	assert_null(f->list.paths);
}

static void test_null_diag(void **state)
{
	struct fx *f = *state;

	mklink(f, "missing.yaml", "gone.yaml");
	assert_int_equal(scan_dir(f->root, &f->list, NULL), 0);
	assert_int_equal(f->list.n, 0);
	assert_int_equal(scan_dir(at(f, "nope"), &f->list, NULL), -ENOENT);
}

/* Runs in a child without root's CAP_DAC_OVERRIDE. Exit code = verdict. */
static int unreadable_child(struct fx *f)
{
	struct scan_list list = { 0 };
	char want[PATH_MAX + 64];
	int ok;

	if (access(f->root, R_OK | X_OK))
		return 77; /* $TMPDIR not reachable for this uid */
	if (scan_dir(f->root, &list, &f->diag.d))
		return 10;
	snprintf(want, sizeof(want), "%s: Permission denied", at(f, "locked"));
	ok = list.n == 2 && !strcmp(list.paths[0], at(f, "a.yaml")) &&
	     !strcmp(list.paths[1], at(f, "z/b.yaml")) && f->diag.n == 1 &&
	     !strcmp(f->diag.lines[0], want);
	scan_list_free(&list);
	return ok ? 0 : 11;
}

static void test_unreadable_dir_skipped(void **state)
{
	struct fx *f = *state;
	int status;
	pid_t pid;

	tu_write(f->root, "a.yaml", "");
	tu_write(f->root, "locked/hidden-from-us.yaml", "");
	tu_write(f->root, "z/b.yaml", "");
	assert_int_equal(chmod(f->root, 0755), 0);
	assert_int_equal(chmod(at(f, "z"), 0755), 0);
	assert_int_equal(chmod(at(f, "locked"), 0), 0);

	if (geteuid() != 0) {
		status = unreadable_child(f);
		chmod(at(f, "locked"), 0755);
		assert_int_equal(status, 0);
		return;
	}
	/* Root reads a mode-000 directory anyway (CAP_DAC_OVERRIDE), so the
	 * scan runs in a child that drops to nobody. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(77);
		_exit(unreadable_child(f));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	chmod(at(f, "locked"), 0755);
	if (WEXITSTATUS(status) == 77)
		skip(); /* no uid to drop to (user namespace without mapping) */
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_name),
		cmocka_unit_test_setup_teardown(test_nested_sorted_filtered, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_root_trailing_slash, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_hidden_skipped, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_kubelet_layout_counted_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_symlinked_dir_followed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_symlink_loop_reported_once, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_self_link_reported, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_dangling_symlink_reported, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_depth_bound, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_root_missing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_null_diag, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_dir_skipped, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
