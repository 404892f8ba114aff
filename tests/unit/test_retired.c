/* cmocka tests for the hold on retired snapshot files (agent/publish/retired.c):
 * held until their time, oldest let go first beyond the count or the byte
 * budget, every descriptor closed exactly once. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "retired.h"

#define S 1000000000ULL

static int open_one(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_held_until_due(void **state)
{
	struct retired r = { .n = 0 };
	int a = open_one(), b = open_one();

	(void)state;
	assert_int_equal(retired_release(&r, 0), -1);
	retired_hold(&r, a, 100, 1000, 10 * S);
	retired_hold(&r, b, 100, 1000, 11 * S);
	/* due at 10 s + the hold; the wait rounds up to a whole ms */
	assert_int_equal(retired_release(&r, 10 * S), (int)(RETIRED_HOLD_NS / 1000000));
	assert_int_equal(retired_release(&r, 10 * S + RETIRED_HOLD_NS - 1), 1);
	assert_true(is_open(a) && is_open(b));
	assert_int_equal(retired_release(&r, 10 * S + RETIRED_HOLD_NS), 1000);
	assert_false(is_open(a));
	assert_true(is_open(b));
	assert_int_equal(r.bytes, 100);
	assert_int_equal(retired_release(&r, 20 * S), -1);
	assert_false(is_open(b));
	assert_int_equal(r.n, 0);
	assert_int_equal(r.bytes, 0);
}

static void test_budget_lets_oldest_go(void **state)
{
	struct retired r = { .n = 0 };
	int a = open_one(), b = open_one(), c = open_one(), big = open_one();

	(void)state;
	retired_hold(&r, a, 400, 1000, 0);
	retired_hold(&r, b, 400, 1000, 0);
	assert_true(is_open(a) && is_open(b));
	retired_hold(&r, c, 400, 1000, 0); /* 1200 > 1000: a goes */
	assert_false(is_open(a));
	assert_true(is_open(b) && is_open(c));
	assert_int_equal(r.bytes, 800);
	/* larger than the whole budget: not held at all, the rest kept */
	retired_hold(&r, big, 1001, 1000, 0);
	assert_false(is_open(big));
	assert_true(is_open(b) && is_open(c));
	/* no base written yet: a budget of 0 holds nothing */
	int z = open_one();
	retired_hold(&r, z, 1, 0, 0);
	assert_false(is_open(z));
	retired_close_all(&r);
	assert_false(is_open(b) || is_open(c));
	assert_int_equal(r.n, 0);
}

static void test_count_bound(void **state)
{
	struct retired r = { .n = 0 };
	int fds[RETIRED_MAX + 3];

	(void)state;
	/* all open first: a closed number would be handed out again */
	for (int i = 0; i < RETIRED_MAX + 3; i++)
		fds[i] = open_one();
	for (int i = 0; i < RETIRED_MAX + 3; i++) {
		retired_hold(&r, fds[i], 1, UINT64_MAX / 2, (uint64_t)i);
		assert_true(r.n <= RETIRED_MAX);
	}
	for (int i = 0; i < 3; i++)
		assert_false(is_open(fds[i]));
	for (int i = 3; i < RETIRED_MAX + 3; i++)
		assert_true(is_open(fds[i]));
	retired_close_all(&r);
	for (int i = 3; i < RETIRED_MAX + 3; i++)
		assert_false(is_open(fds[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_held_until_due),
		cmocka_unit_test(test_budget_lets_oldest_go),
		cmocka_unit_test(test_count_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
