/* SPDX-License-Identifier: MIT */
/* When the agent may call its table complete (agent/complete.c): never
 * past its file bound, and with --require-sync only while the marker is
 * fresh and the agent's view of the folder is newer than the marker. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "complete.h"
#include "ldmesh/marker.h"

#define S 1000000000LL

static struct complete_facts synced(void)
{
	/* the marker written at 100 s, read up to 101 s, now 102 s */
	return (struct complete_facts){ .require_sync = true, .max_files = 400000,
					.folder = "/m", .marker_regular = true,
					.marker_mtime_ns = 100 * S, .seen_ns = 101 * S,
					.now_ns = 102 * S };
}

static void test_hand_written_folder_is_complete(void **state)
{
	struct complete_facts f = { .folder = "/m", .max_files = 10, .marker_err = -ENOENT };
	char why[512];

	(void)state;
	assert_true(complete_judge(&f, why, sizeof(why)));
	assert_string_equal(why, "");
}

static void test_past_the_file_bound_never_complete(void **state)
{
	struct complete_facts f = { .folder = "/m", .max_files = 2000, .truncated = true };
	char why[512];

	(void)state;
	assert_false(complete_judge(&f, why, sizeof(why)));
	assert_non_null(strstr(why, "/m holds more than 2000 manifest files (--max-files)"));
	/* nor with a fresh marker */
	f = synced();
	f.truncated = true;
	assert_false(complete_judge(&f, why, sizeof(why)));
}

static void test_marker_missing_stale_or_odd(void **state)
{
	struct complete_facts f = synced();
	char why[512];

	(void)state;
	assert_true(complete_judge(&f, why, sizeof(why)));
	f.marker_err = -ENOENT;
	assert_false(complete_judge(&f, why, sizeof(why)));
	assert_non_null(strstr(why, "/m/.ldmesh-synced: no such file"));
	f = synced();
	f.marker_err = -EACCES;
	assert_false(complete_judge(&f, why, sizeof(why)));
	assert_non_null(strstr(why, strerror(EACCES)));
	f = synced();
	f.marker_regular = false;
	assert_false(complete_judge(&f, why, sizeof(why)));
	assert_non_null(strstr(why, "not a regular file"));
	/* fresh up to LDMESH_MARKER_FRESH_S seconds, stale after */
	f = synced();
	f.now_ns = f.marker_mtime_ns + LDMESH_MARKER_FRESH_S * S;
	assert_true(complete_judge(&f, why, sizeof(why)));
	f.now_ns = f.marker_mtime_ns + (LDMESH_MARKER_FRESH_S + 1) * S;
	assert_false(complete_judge(&f, why, sizeof(why)));
	assert_non_null(strstr(why, "last written 31 s ago"));
}

static void test_view_older_than_the_marker_not_complete(void **state)
{
	struct complete_facts f = synced();
	char why[512];

	(void)state;
	/* the marker seen before the files written ahead of it were read */
	f.seen_ns = f.marker_mtime_ns - 1;
	assert_false(complete_judge(&f, why, sizeof(why)));
	assert_non_null(strstr(why, "written after the agent last read the folder"));
	/* within the coarse clock's slack: not yet */
	f.seen_ns = f.marker_mtime_ns + COMPLETE_CLOCK_SLACK_NS - 1;
	assert_false(complete_judge(&f, why, sizeof(why)));
	/* past it: everything written before the marker is in the view */
	f.seen_ns = f.marker_mtime_ns + COMPLETE_CLOCK_SLACK_NS;
	assert_true(complete_judge(&f, why, sizeof(why)));
	/* never read at all */
	f.seen_ns = 0;
	assert_false(complete_judge(&f, why, sizeof(why)));
	/* a complete table stays complete while the feeder rewrites a fresh
	 * marker (no flap every rewrite) */
	f.was_complete = true;
	assert_true(complete_judge(&f, why, sizeof(why)));
	/* but not past a stale one, nor past the bound */
	f.now_ns = f.marker_mtime_ns + (LDMESH_MARKER_FRESH_S + 1) * S;
	assert_false(complete_judge(&f, why, sizeof(why)));
	f = synced();
	f.was_complete = true;
	f.truncated = true;
	assert_false(complete_judge(&f, why, sizeof(why)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hand_written_folder_is_complete),
		cmocka_unit_test(test_past_the_file_bound_never_complete),
		cmocka_unit_test(test_marker_missing_stale_or_odd),
		cmocka_unit_test(test_view_older_than_the_marker_not_complete),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
