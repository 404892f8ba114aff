/* SPDX-License-Identifier: MIT */
/* One agent per table (agent/table_lock.c): a second one is refused with
 * the holder's pid, the lock goes with the process that held it, and a
 * lock file someone else planted is not used. */
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "table_lock.h"
#include "testutil.h"

/* A child that takes the lock and holds it until its pipe closes. */
static pid_t holder(const char *table, int *release)
{
	int ready[2], hold[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(hold), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char why[512];
		int fd = table_lock_take(table, why, sizeof(why));

		close(ready[0]);
		close(hold[1]);
		if (write(ready[1], fd >= 0 ? "y" : "n", 1) != 1 || fd < 0)
			_exit(1);
		(void)!read(hold[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	close(ready[0]);
	*release = hold[1];
	return pid;
}

static void test_second_agent_refused_until_the_first_is_gone(void **state)
{
	char *dir = tu_tmpdir("tlock"), table[512], why[512], pid_text[64];
	int release, status, fd;
	pid_t pid;

	(void)state;
	snprintf(table, sizeof(table), "%s/run/table/", dir);
	pid = holder(table, &release);
	assert_int_equal(table_lock_take(table, why, sizeof(why)), -EBUSY);
	snprintf(pid_text, sizeof(pid_text), "another ldmesh-agent (pid %d) publishes", (int)pid);
	assert_non_null(strstr(why, pid_text));
	/* beside the table, in its parent: it outlives the table directory */
	assert_non_null(strstr(why, "/run/table.lock"));
	/* the kernel drops it with the holder, however it ends */
	close(release);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	fd = table_lock_take(table, why, sizeof(why));
	assert_true(fd >= 0);
	close(fd);
	tu_rmtree(dir);
	free(dir);
}

static void test_planted_lock_file_refused(void **state)
{
	char *dir = tu_tmpdir("tlock"), table[512], lock[600], why[512];

	(void)state;
	if (geteuid() != 0)
		skip();
	snprintf(table, sizeof(table), "%s/table", dir);
	snprintf(lock, sizeof(lock), "%s.lock", table);
	tu_write(dir, "table.lock", "");
	assert_int_equal(chown(lock, 4242, 4242), 0);
	assert_int_equal(table_lock_take(table, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "not a regular file owned by uid 0"));
	unlink(lock);
	assert_int_equal(symlink("/etc/passwd", lock), 0);
	assert_true(table_lock_take(table, why, sizeof(why)) < 0);
	assert_non_null(strstr(why, lock));
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_second_agent_refused_until_the_first_is_gone),
		cmocka_unit_test(test_planted_lock_file_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
