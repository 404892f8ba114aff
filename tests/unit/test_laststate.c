/* The agent's durable last good copies (agent/source/laststate.c): saved when a
 * file parsed good, loaded only for the path they were saved for, not
 * saved when the file changed after it was parsed, forgotten with the
 * file, and refused in a directory someone else can write. */
#define _GNU_SOURCE
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

#include "laststate.h"
#include "testutil.h"

static const char good[] =
	"apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
	"spec: {clusterIP: 10.96.0.80, ports: [{port: 80}]}\n";

static void test_save_load_forget(void **state)
{
	char *dir = tu_tmpdir("last"), st_dir[512], path[512], other[512], why[256];
	struct laststate l;
	struct manifest_set set;
	struct stat st;

	(void)state;
	snprintf(st_dir, sizeof(st_dir), "%s/state", dir);
	snprintf(path, sizeof(path), "%s/m/web.yaml", dir);
	snprintf(other, sizeof(other), "%s/m/other.yaml", dir);
	tu_write(dir, "m/web.yaml", good);
	assert_int_equal(laststate_open(&l, st_dir, why, sizeof(why)), 0);
	assert_int_equal(stat(st_dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	assert_int_equal(laststate_load(&l, path, &set), -ENOENT);
	assert_int_equal(stat(path, &st), 0);
	laststate_save(&l, path, &st);
	memset(&set, 0, sizeof(set));
	assert_int_equal(laststate_load(&l, path, &set), 0);
	assert_int_equal(set.n_services, 1);
	assert_string_equal(set.services[0].meta.name, "web");
	manifest_set_free(&set);
	/* a copy answers only for its own path */
	assert_int_equal(laststate_load(&l, other, &set), -ENOENT);

	/* changed after it was parsed: not saved, and the copy there, which
	 * may be older than what was parsed, goes (issue 21, item 12) */
	tu_write(dir, "m/web.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: other}\n"
				    "spec: {clusterIP: 10.96.0.81, ports: [{port: 80}]}\n");
	laststate_save(&l, path, &st);
	assert_int_equal(laststate_load(&l, path, &set), -ENOENT);
	assert_int_equal(stat(path, &st), 0);
	laststate_save(&l, path, &st);
	memset(&set, 0, sizeof(set));
	assert_int_equal(laststate_load(&l, path, &set), 0);
	assert_string_equal(set.services[0].meta.name, "other");
	manifest_set_free(&set);

	laststate_forget(&l, path);
	assert_int_equal(laststate_load(&l, path, &set), -ENOENT);
	laststate_close(&l);

	/* a directory others can write is refused: a planted copy would
	 * inject routes */
	assert_int_equal(chmod(st_dir, 0777), 0);
	assert_int_equal(laststate_open(&l, st_dir, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable by it alone"));
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_save_load_forget),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
