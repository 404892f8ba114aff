/* cmocka tests for the control page's heartbeat (snapshot.h, 3.4;
 * agent/publish.c publish_heartbeat): the page is alive from the moment
 * the agent opens it, each beat is newer than the last, a reader of the
 * table sees it, and a reopened table's new page beats too. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "ldmesh/reader.h"
#include "publish.h"
#include "testutil.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool clock_past(void *ctx)
{
	return mono_ns() > *(const uint64_t *)ctx;
}

static void test_open_beats_then_each_call(void **state)
{
	char *dir = tu_tmpdir("beat");
	struct publisher p;
	char why[256];
	uint64_t before = mono_ns(), first;

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	first = p.control->heartbeat_mono_ns;
	assert_true(first >= before && first <= mono_ns());
	assert_int_equal(p.control->heartbeat_pid, (uint32_t)getpid());
	/* nothing published: the heartbeat alone says the agent runs */
	assert_int_equal(p.control->generation, 0);

	assert_true(tu_wait(clock_past, &first));
	publish_heartbeat(&p);
	assert_true(p.control->heartbeat_mono_ns > first);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

static void test_reader_sees_it(void **state)
{
	static struct ldmesh_table t;
	char *dir = tu_tmpdir("beat");
	const struct ldmesh_control *c;
	struct publisher p;
	char why[256];
	uint64_t seen;
	int slot;

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 1);
	assert_int_equal(ldmesh_table_init(&t, dir, &ldmesh_reader_libc, NULL, NULL), 0);
	assert_non_null(ldmesh_table_acquire(&t, &slot));
	ldmesh_table_release(&t, slot);
	c = ldmesh_table_control(&t);
	assert_non_null(c);
	seen = c->heartbeat_mono_ns;
	assert_int_not_equal(seen, 0);
	assert_int_equal(c->heartbeat_pid, (uint32_t)getpid());
	assert_true(tu_wait(clock_past, &seen));
	publish_heartbeat(&p);
	/* the same page, shared: the reader's mapping shows the new beat */
	assert_true(c->heartbeat_mono_ns > seen);
	ldmesh_table_close(&t);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

static void test_reopened_page_beats(void **state)
{
	char *dir = tu_tmpdir("beat");
	struct publisher p;
	char why[256];
	uint64_t before;

	(void)state;
	assert_int_equal(publish_open(&p, dir, why, sizeof(why)), 0);
	tu_publish_ok(&p, 1);
	before = mono_ns();
	assert_int_equal(publish_reopen(&p, why, sizeof(why)), 0);
	assert_true(p.control->heartbeat_mono_ns >= before);
	publish_close(&p);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_beats_then_each_call),
		cmocka_unit_test(test_reader_sees_it),
		cmocka_unit_test(test_reopened_page_beats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
