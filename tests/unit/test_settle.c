/* cmocka tests for the agent's control-loop rules (agent/settle.c): the
 * debounce and its cap, the hold on removals and each way it ends, the
 * retries, the timed rescan and the once-a-second checks, each at its
 * edge. Pure: every time is made up here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "settle.h"

#define MS 1000000ULL
#define T0 (1000000ULL * MS) /* any time well after the clock's start */

static const struct settle_look nothing_seen = { .wrote = false };

/* A whole apply that worked: nothing failed, nothing left due. */
static void apply_clean(struct settle *s, uint64_t now)
{
	settle_applied(s, now, &(struct settle_applied){ .changed = true });
	settle_published(s, now, true);
	settle_closed(s, now);
}

/* A settle after its first apply, idle at T0. */
static void idle(struct settle *s)
{
	settle_init(s);
	assert_int_equal(settle_step(s, T0, false), SETTLE_LOOK);
	apply_clean(s, T0);
	assert_int_equal(settle_step(s, T0, false), SETTLE_IDLE);
}

static void test_start_looks_at_once(void **state)
{
	struct settle s;

	(void)state;
	settle_init(&s);
	assert_true(s.rescan);
	assert_true(s.dirty);
	assert_int_equal(settle_step(&s, T0, false), SETTLE_LOOK);
	assert_int_equal(settle_judge(&s, T0, &nothing_seen), SETTLE_APPLY);
	assert_true(settle_check_due(&s, T0));
}

static void test_idle_waits_for_the_check(void **state)
{
	struct settle s;

	(void)state;
	idle(&s);
	assert_false(s.rescan);
	assert_false(s.dirty);
	assert_int_equal(s.retry_ns, 0);
	assert_true(settle_check_due(&s, T0));
	assert_int_equal(s.wait_ms, -1);
	/* nothing but the next check bounds the wait */
	assert_int_equal(settle_timeout_ms(&s, T0), 1001);
	assert_int_equal(settle_timeout_ms(&s, T0 + 400 * MS), 601);
}

static void test_checks_once_a_second(void **state)
{
	struct settle s;

	(void)state;
	settle_init(&s);
	assert_true(settle_check_due(&s, T0));
	assert_false(settle_check_due(&s, T0));
	assert_false(settle_check_due(&s, T0 + SETTLE_CHECK_MS * MS - 1));
	assert_true(settle_check_due(&s, T0 + SETTLE_CHECK_MS * MS));
	/* a late loop counts the next second from when it looked */
	assert_true(settle_check_due(&s, T0 + 5000 * MS));
	assert_false(settle_check_due(&s, T0 + 5999 * MS));
	assert_true(settle_check_due(&s, T0 + 6000 * MS));
}

static void test_debounce_waits_for_quiet(void **state)
{
	struct settle s;
	uint64_t t = T0 + 10 * MS;

	(void)state;
	idle(&s);
	settle_watch(&s, t, false, true);
	assert_int_equal(settle_step(&s, t, true), SETTLE_GATHER);
	assert_int_equal(s.wait_ms, SETTLE_QUIET_MS);
	assert_int_equal(settle_step(&s, t + SETTLE_QUIET_MS * MS - 1, true), SETTLE_GATHER);
	assert_int_equal(settle_step(&s, t + SETTLE_QUIET_MS * MS, true), SETTLE_LOOK);
}

static void test_burst_is_capped(void **state)
{
	struct settle s;
	uint64_t t = T0 + 10 * MS, now = t;

	(void)state;
	idle(&s);
	/* an event every millisecond: never quiet */
	for (; now < t + SETTLE_MAX_DELAY_MS * MS; now += MS) {
		settle_watch(&s, now, false, true);
		assert_int_equal(settle_step(&s, now, true), SETTLE_GATHER);
	}
	settle_watch(&s, now, false, true);
	assert_int_equal(settle_step(&s, now, true), SETTLE_LOOK);
	/* the next batch opens with the next event */
	apply_clean(&s, now);
	settle_watch(&s, now + MS, false, true);
	assert_int_equal(s.first_ns, now + MS);
	assert_int_equal(settle_step(&s, now + MS, true), SETTLE_GATHER);
}

static void test_events_outside_a_batch_do_not_open_one(void **state)
{
	struct settle s;

	(void)state;
	idle(&s);
	/* a queue read that reported no path (a file not a manifest is
	 * reported as a path; an empty read is not) */
	settle_watch(&s, T0 + MS, false, false);
	assert_int_equal(s.last_ns, 0);
	assert_int_equal(settle_step(&s, T0 + MS, false), SETTLE_IDLE);
}

static void test_failed_rescan_is_retried_later(void **state)
{
	struct settle s;
	uint64_t t = T0 + 10 * MS;

	(void)state;
	idle(&s);
	settle_rescan(&s);
	assert_int_equal(settle_step(&s, t, false), SETTLE_LOOK);
	settle_applied(&s, t, &(struct settle_applied){ .rescanned = true, .rescan_failed = true,
						       .poll_ms = SETTLE_POLL_MIN_MS });
	settle_closed(&s, t);
	assert_true(s.rescan);
	assert_int_equal(settle_step(&s, t + MS, false), SETTLE_GATHER);
	assert_int_equal(s.wait_ms, SETTLE_RETRY_MS);
	assert_int_equal(settle_step(&s, t + SETTLE_RETRY_MS * MS - 1, false), SETTLE_GATHER);
	assert_int_equal(settle_step(&s, t + SETTLE_RETRY_MS * MS, false), SETTLE_LOOK);
}

static void test_missing_folder_is_rescanned_on_the_retry(void **state)
{
	struct settle s;
	uint64_t t = T0 + 10 * MS;

	(void)state;
	idle(&s);
	settle_watch(&s, t, false, true);
	assert_int_equal(settle_step(&s, t + 5 * MS, true), SETTLE_LOOK);
	settle_applied(&s, t + 5 * MS, &(struct settle_applied){ .missing = true });
	settle_closed(&s, t + 5 * MS);
	assert_true(s.missing);
	assert_true(s.rescan);
	assert_false(s.dirty); /* the last good table stays */
	assert_int_equal(settle_step(&s, t + 6 * MS, false), SETTLE_GATHER);
	assert_int_equal(settle_step(&s, t + 5 * MS + SETTLE_RETRY_MS * MS, false), SETTLE_LOOK);
	/* back: no retry after it */
	settle_applied(&s, t + 2000 * MS, &(struct settle_applied){ .rescanned = true,
								   .poll_ms = SETTLE_POLL_MIN_MS });
	settle_closed(&s, t + 2000 * MS);
	assert_false(s.missing);
	assert_int_equal(s.retry_ns, 0);
}

static void test_failed_publish_is_retried_later(void **state)
{
	struct settle s;
	uint64_t t = T0 + 10 * MS;

	(void)state;
	idle(&s);
	assert_true(settle_changed(&s));
	assert_false(settle_changed(&s)); /* due already */
	assert_int_equal(settle_step(&s, t, false), SETTLE_LOOK);
	settle_applied(&s, t, &(struct settle_applied){ .changed = false });
	settle_published(&s, t, false);
	settle_closed(&s, t);
	assert_true(s.dirty);
	assert_int_equal(settle_step(&s, t + 999 * MS, false), SETTLE_GATHER);
	assert_int_equal(s.wait_ms, 2);
	assert_int_equal(settle_step(&s, t + SETTLE_RETRY_MS * MS, false), SETTLE_LOOK);
	settle_published(&s, t + SETTLE_RETRY_MS * MS, true);
	assert_false(s.dirty);
}

static void test_write_applies_at_once(void **state)
{
	struct settle s;
	const struct settle_look wrote = { .wrote = true, .removed = true };

	(void)state;
	idle(&s);
	settle_watch(&s, T0 + MS, false, true);
	assert_int_equal(settle_step(&s, T0 + 3 * MS, true), SETTLE_LOOK);
	assert_int_equal(settle_judge(&s, T0 + 3 * MS, &wrote), SETTLE_APPLY);
	assert_false(s.hold_began);
	assert_int_equal(s.hold_ns, 0);
}

/* A removal starts a hold: HOLD, said once, until the folder has been
 * quiet SETTLE_HOLD_MS; each event pushes that back. */
static void test_removal_held_until_quiet(void **state)
{
	struct settle s;
	const struct settle_look removed = { .removed = true };
	uint64_t t = T0 + 10 * MS;

	(void)state;
	idle(&s);
	settle_watch(&s, t, false, true);
	assert_int_equal(settle_judge(&s, t + 3 * MS, &removed), SETTLE_HOLD);
	assert_true(s.hold_began);
	assert_int_equal(s.hold_ns, t + 3 * MS);
	assert_int_equal(s.wait_ms, SETTLE_HOLD_MS - 3 + 1);
	/* a later batch that writes nothing stays held, not said again */
	settle_watch(&s, t + 1500 * MS, false, true);
	assert_int_equal(settle_judge(&s, t + 1503 * MS, &nothing_seen), SETTLE_HOLD);
	assert_false(s.hold_began);
	assert_int_equal(settle_judge(&s, t + 1500 * MS + SETTLE_HOLD_MS * MS - 1, &nothing_seen),
			 SETTLE_HOLD);
	assert_int_equal(s.wait_ms, 1);
	assert_int_equal(settle_judge(&s, t + 1500 * MS + SETTLE_HOLD_MS * MS, &nothing_seen),
			 SETTLE_APPLY_QUIET);
	/* applied: the hold is over */
	settle_applied(&s, t + 4000 * MS, &(struct settle_applied){ .changed = true });
	assert_int_equal(s.hold_ns, 0);
	settle_watch(&s, t + 4100 * MS, false, true);
	assert_int_equal(settle_judge(&s, t + 4103 * MS, &nothing_seen), SETTLE_APPLY);
}

/* Quiet for long enough, but events wait in the watch's queue: read them
 * before calling it quiet (wait 0), then judge again. */
static void test_quiet_hold_reads_the_queue_first(void **state)
{
	struct settle s;
	const struct settle_look removed = { .removed = true, .queued = true };
	const struct settle_look empty = { .queued = false };
	uint64_t t = T0 + 10 * MS, late = t + SETTLE_HOLD_MS * MS;

	(void)state;
	idle(&s);
	settle_watch(&s, t, false, true);
	assert_int_equal(settle_judge(&s, t + 3 * MS, &removed), SETTLE_HOLD);
	assert_int_equal(settle_judge(&s, late, &removed), SETTLE_READ_QUEUE);
	assert_int_equal(s.wait_ms, 0);
	assert_int_equal(settle_timeout_ms(&s, late), 0);
	assert_int_equal(settle_judge(&s, late, &empty), SETTLE_APPLY_QUIET);
}

static void test_write_ends_a_hold(void **state)
{
	struct settle s;
	const struct settle_look removed = { .removed = true };
	const struct settle_look wrote = { .wrote = true };
	const struct settle_look lost = { .lost = true };
	uint64_t t = T0 + 10 * MS;

	(void)state;
	idle(&s);
	settle_watch(&s, t, false, true);
	assert_int_equal(settle_judge(&s, t + 3 * MS, &removed), SETTLE_HOLD);
	assert_int_equal(settle_judge(&s, t + 4 * MS, &wrote), SETTLE_APPLY_WRITTEN);
	/* lost events (out of memory): a rescan, applied with what was held */
	assert_int_equal(settle_judge(&s, t + 5 * MS, &lost), SETTLE_APPLY_WRITTEN);
	settle_init(&s);
	assert_int_equal(settle_judge(&s, t, &lost), SETTLE_APPLY);
}

static void test_folder_gone_ends_a_hold(void **state)
{
	struct settle s;
	const struct settle_look removed = { .removed = true };
	const struct settle_look gone = { .removed = true, .root_gone = true };
	uint64_t t = T0 + 10 * MS;

	(void)state;
	idle(&s);
	settle_watch(&s, t, false, true);
	assert_int_equal(settle_judge(&s, t + 3 * MS, &removed), SETTLE_HOLD);
	assert_int_equal(settle_judge(&s, t + 4 * MS, &gone), SETTLE_APPLY);
	/* and it never starts one */
	idle(&s);
	settle_watch(&s, t, false, true);
	assert_int_equal(settle_judge(&s, t + 3 * MS, &gone), SETTLE_APPLY);
	assert_false(s.hold_began);
}

/* A rescan the watch asked for (a subdirectory removed) holds when a file
 * the agent holds is gone; one asked for by SIGHUP or the timer does not
 * look. */
static void test_structural_rescan_holds_when_files_went(void **state)
{
	struct settle s;
	struct settle_look look = { .known_gone = false };
	uint64_t t = T0 + 10 * MS;

	(void)state;
	idle(&s);
	settle_watch(&s, t, true, false);
	assert_true(s.rescan);
	assert_true(s.structural);
	assert_int_equal(s.last_ns, t); /* a rescan opens a batch too */
	assert_true(settle_needs_known_gone(&s, &look));
	assert_int_equal(settle_judge(&s, t + 3 * MS, &look), SETTLE_APPLY);
	look.known_gone = true;
	assert_int_equal(settle_judge(&s, t + 3 * MS, &look), SETTLE_HOLD);
	assert_true(s.hold_began);
	/* held: not looked at again (one stat per file) */
	assert_false(settle_needs_known_gone(&s, &look));

	idle(&s);
	settle_rescan(&s);
	assert_false(settle_needs_known_gone(&s, &look));
	assert_int_equal(settle_judge(&s, t, &look), SETTLE_APPLY);
	/* a path written or removed decides without the stats */
	idle(&s);
	settle_watch(&s, t, true, true);
	look = (struct settle_look){ .wrote = true };
	assert_false(settle_needs_known_gone(&s, &look));
	look = (struct settle_look){ .removed = true };
	assert_false(settle_needs_known_gone(&s, &look));
	/* the apply (its rescan) ends it */
	settle_applied(&s, t, &(struct settle_applied){ .rescanned = true,
						       .poll_ms = SETTLE_POLL_MIN_MS });
	assert_false(s.structural);
	assert_false(s.rescan);
}

static void test_poll_period(void **state)
{
	(void)state;
	assert_int_equal(settle_poll_ms(0), SETTLE_POLL_MIN_MS);
	assert_int_equal(settle_poll_ms(SETTLE_POLL_MIN_MS / SETTLE_POLL_FACTOR),
			 SETTLE_POLL_MIN_MS);
	assert_int_equal(settle_poll_ms(SETTLE_POLL_MIN_MS / SETTLE_POLL_FACTOR + 1),
			 SETTLE_POLL_MIN_MS + SETTLE_POLL_FACTOR);
	assert_int_equal(settle_poll_ms(1500), 1500 * SETTLE_POLL_FACTOR);
}

/* Where the folder is not all watched, a rescan comes on a timer counted
 * from the end of the last one; where it is, never. */
static void test_timed_rescan(void **state)
{
	struct settle s;
	uint64_t after = T0 + 50 * MS, due = after + 5000 * MS;

	(void)state;
	settle_init(&s);
	assert_true(settle_check_due(&s, due - 2 * MS));
	settle_applied(&s, after, &(struct settle_applied){ .rescanned = true, .polling = true,
							   .poll_ms = 5000 });
	settle_published(&s, T0, true);
	settle_closed(&s, T0);
	assert_int_equal(settle_step(&s, due - MS, false), SETTLE_IDLE);
	assert_int_equal(settle_timeout_ms(&s, due - MS), 1 + 1);
	assert_int_equal(settle_step(&s, due, false), SETTLE_LOOK);
	assert_true(s.rescan);
	assert_false(s.structural);

	/* all watched again: no timer */
	settle_applied(&s, due, &(struct settle_applied){ .rescanned = true, .polling = false,
							 .poll_ms = SETTLE_POLL_MIN_MS });
	settle_closed(&s, due);
	assert_true(settle_check_due(&s, due + 10000 * MS));
	assert_int_equal(settle_step(&s, due + 10000 * MS, false), SETTLE_IDLE);
	assert_int_equal(settle_timeout_ms(&s, due + 10000 * MS), SETTLE_CHECK_MS + 1);
}

/* The wait is the shortest of what the folder asks, the next check and
 * the next timed rescan. */
static void test_timeout_is_the_nearest(void **state)
{
	struct settle s;
	uint64_t t = T0 + 10 * MS;

	(void)state;
	idle(&s);
	assert_true(settle_check_due(&s, t)); /* next at t + 1000 ms */
	settle_watch(&s, t, false, true);
	assert_int_equal(settle_step(&s, t, true), SETTLE_GATHER);
	assert_int_equal(settle_timeout_ms(&s, t), SETTLE_QUIET_MS);
	/* a hold waits longer than the check */
	assert_int_equal(settle_judge(&s, t + 3 * MS, &(struct settle_look){ .removed = true }),
			 SETTLE_HOLD);
	assert_int_equal(settle_timeout_ms(&s, t + 3 * MS), SETTLE_CHECK_MS - 3 + 1);
	/* a check already due never makes a negative wait */
	assert_int_equal(settle_timeout_ms(&s, t + 5000 * MS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_looks_at_once),
		cmocka_unit_test(test_idle_waits_for_the_check),
		cmocka_unit_test(test_checks_once_a_second),
		cmocka_unit_test(test_debounce_waits_for_quiet),
		cmocka_unit_test(test_burst_is_capped),
		cmocka_unit_test(test_events_outside_a_batch_do_not_open_one),
		cmocka_unit_test(test_failed_rescan_is_retried_later),
		cmocka_unit_test(test_missing_folder_is_rescanned_on_the_retry),
		cmocka_unit_test(test_failed_publish_is_retried_later),
		cmocka_unit_test(test_write_applies_at_once),
		cmocka_unit_test(test_removal_held_until_quiet),
		cmocka_unit_test(test_quiet_hold_reads_the_queue_first),
		cmocka_unit_test(test_write_ends_a_hold),
		cmocka_unit_test(test_folder_gone_ends_a_hold),
		cmocka_unit_test(test_structural_rescan_holds_when_files_went),
		cmocka_unit_test(test_poll_period),
		cmocka_unit_test(test_timed_rescan),
		cmocka_unit_test(test_timeout_is_the_nearest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
