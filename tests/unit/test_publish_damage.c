/* cmocka tests for the table writer (agent/publish/publish.c) meeting a table
 * someone else damaged (issue 21): a control page whose generation was
 * written by hand, a control that is no regular file, a first start on a
 * full filesystem, and the published files' identity changed by chattr. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "ldmesh/reader.h"
#include "publish.h"
#include "snap_build.h"
#include "testutil.h"

/* Root writes `gen` into the control page's generation by hand. */
static void tamper_generation(const char *dir, uint64_t gen)
{
	char *ctl = tu_path_in(dir, "control");
	int fd;

	tu_unseal(ctl);
	fd = open(ctl, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &gen, sizeof(gen), LDMESH_CONTROL_OFF_GENERATION),
			 (ssize_t)sizeof(gen));
	close(fd);
	free(ctl);
}

/* ---- 13: an implausible generation --------------------------------------- */

/*
 * A page saying 2^64 - 2 used to be continued: the agent published
 * 2^64 - 1 (the value meaning "retired") and then 0 ("nothing yet"), and
 * every reader passed through. It is rebuilt from the snapshots on disk:
 * the newest is current again at once, and the sequence goes on from it.
 */
static void check_rebuilt_from(uint64_t said)
{
	char *dir = tu_tmpdir("pubdmg");
	struct publisher p;
	char why[512] = "";

	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 1);
	tu_publish_ok(&p, 2);
	tu_publish_ok(&p, 3);
	publish_close(&p);
	tamper_generation(dir, said);

	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_int_equal(publish_next_generation(&p), 4);
	assert_int_equal(p.generation, 3);
	assert_int_equal(p.control->generation, 3);
	assert_non_null(strstr(why, "rebuilt from the snapshots on disk"));
	/* readers have the table before anything new is published */
	tu_expect_reader(dir, 3, 3);
	assert_int_equal(publish_next_generation(&p), 4);
	tu_publish_ok(&p, 4);
	assert_int_equal(p.control->generation, 4);
	tu_expect_reader(dir, 4, 4);
	publish_close(&p);

	/* and the next restart finds a plausible page again */
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_int_equal(p.generation, 4);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

static void test_generation_near_wrap_rebuilt(void **state)
{
	(void)state;
	check_rebuilt_from(UINT64_MAX - 1);
}

static void test_generation_past_limit_rebuilt(void **state)
{
	(void)state;
	check_rebuilt_from((1ULL << 53) + 1);
}

/* A modest number no record and no file backs is damage too. */
static void test_generation_without_backing_rebuilt(void **state)
{
	(void)state;
	check_rebuilt_from(1000);
}

/* A plausible page is continued as before, silently. */
static void test_plausible_generation_continued(void **state)
{
	char *dir = tu_tmpdir("pubdmg");
	struct publisher p;
	char why[512] = "x";

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 1);
	tu_publish_ok(&p, 2);
	publish_close(&p);
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_int_equal(p.generation, 2);
	assert_int_equal(publish_next_generation(&p), 3);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

/* Nothing on disk to rebuild from: the page starts over at 0 and the
 * next publish is 1, never a wrapped value. */
static void test_rebuilt_with_no_snapshot(void **state)
{
	char *dir = tu_tmpdir("pubdmg");
	struct publisher p;
	char why[512] = "";
	DIR *d;
	struct dirent *e;

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 1);
	publish_close(&p);
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "snap.", 5)) {
			char *f = tu_path_in(dir, e->d_name);
			tu_unseal(f);
			assert_int_equal(unlink(f), 0);
			free(f);
		}
	closedir(d);
	tamper_generation(dir, UINT64_MAX - 1);
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "rebuilt"));
	assert_int_equal(p.control->generation, 0);
	assert_int_equal(publish_next_generation(&p), 1);
	tu_publish_ok(&p, 2);
	tu_expect_reader(dir, 1, 2);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

/* ---- 15: a control that is no regular file; a first start on a full fs --- */

/* A FIFO or a device where control goes was never recovered, and the
 * refusal said "File exists" (a stale errno). It is replaced, and said. */
static void check_odd_control_replaced(bool fifo)
{
	char *dir = tu_tmpdir("pubdmg"), *ctl = tu_path_in(dir, "control");
	struct publisher p;
	char why[512] = "";
	struct stat st;

	assert_int_equal(chmod(dir, 0755), 0);
	if (fifo)
		assert_int_equal(mkfifo(ctl, 0644), 0);
	else
		assert_int_equal(mknod(ctl, S_IFCHR | 0644, makedev(1, 3)), 0); /* /dev/null's */
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	assert_non_null(strstr(why, fifo ? "was a FIFO, not a regular file" :
					   "was a device, not a regular file"));
	assert_int_equal(lstat(ctl, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	tu_publish_ok(&p, 2);
	tu_expect_reader(dir, 1, 2);
	publish_close(&p);
	free(ctl);
	tu_rmtree(dir);
	free(dir);
}

static void test_fifo_control_replaced(void **state)
{
	(void)state;
	check_odd_control_replaced(true);
}

static void test_device_control_replaced(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		print_message("skipped: mknod of a device needs root\n");
		skip();
	}
	check_odd_control_replaced(false);
}

/* A running agent whose control is replaced by a FIFO reopens the table
 * (publish_check, publish_reopen) and writes a page again. */
static void test_fifo_control_replaced_live(void **state)
{
	char *dir = tu_tmpdir("pubdmg"), *ctl = tu_path_in(dir, "control");
	struct publisher p;
	char why[512] = "";
	struct stat st;

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 1);
	tu_unseal(ctl);
	assert_int_equal(unlink(ctl), 0);
	assert_int_equal(mkfifo(ctl, 0644), 0);
	assert_int_equal(publish_check(&p), 1);
	assert_int_equal(publish_reopen(&p, why, sizeof(why)), 0);
	assert_int_equal(lstat(ctl, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	tu_publish_ok(&p, 3);
	tu_expect_reader(dir, 2, 3);
	publish_close(&p);
	free(ctl);
	tu_rmtree(dir);
	free(dir);
}

/* The README: on a full filesystem a first start fails with the path and
 * "No space left on device", nothing half-written. A 0-byte control was
 * left behind. */
static void test_first_start_on_full_fs_leaves_no_control(void **state)
{
	char *base = tu_tmpdir("pubfull"), *dir = tu_path_in(base, "table");
	char *filler = tu_path_in(base, "filler"), *ctl = tu_path_in(dir, "control");
	char zeros[4096] = { 0 }, why[512] = "";
	struct publisher p;
	struct stat st;
	int fd;

	(void)state;
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (mount("tmpfs", base, "tmpfs", 0, "size=64k,mode=0755") < 0) {
		print_message("skipping: cannot mount a tmpfs (%s)\n", strerror(errno));
		tu_rmtree(base);
		free(base);
		skip();
	}
	fd = open(filler, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	while (write(fd, zeros, sizeof(zeros)) == (ssize_t)sizeof(zeros))
		;
	close(fd);
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), -ENOSPC);
	assert_non_null(strstr(why, "No space left on device"));
	assert_int_equal(lstat(ctl, &st), -1);
	assert_int_equal(errno, ENOENT);
	/* and once there is room, a start works */
	assert_int_equal(unlink(filler), 0);
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 1);
	tu_expect_reader(dir, 1, 1);
	publish_close(&p);
	umount2(base, MNT_DETACH);
	free(ctl);
	free(filler);
	free(dir);
	tu_rmtree(base);
	free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generation_near_wrap_rebuilt),
		cmocka_unit_test(test_generation_past_limit_rebuilt),
		cmocka_unit_test(test_generation_without_backing_rebuilt),
		cmocka_unit_test(test_plausible_generation_continued),
		cmocka_unit_test(test_rebuilt_with_no_snapshot),
		cmocka_unit_test(test_fifo_control_replaced),
		cmocka_unit_test(test_device_control_replaced),
		cmocka_unit_test(test_fifo_control_replaced_live),
		cmocka_unit_test(test_first_start_on_full_fs_leaves_no_control),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
