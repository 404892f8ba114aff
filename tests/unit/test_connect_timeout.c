/* SPDX-License-Identifier: MIT */
/* LDMESH_CONNECT_TIMEOUT: seconds (a fraction allowed) as the TCP_SYNCNT of
 * a redirected connect, the kernel's steps (3, 7, 15, 31, 63, 127 s) not
 * passed; 0 is the kernel's own; a bad value is kept for the trace to say
 * once, and the default (3 s) used. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static unsigned syncnt_of(const char *v, unsigned *n_bad)
{
	struct preload_config c;

	if (v)
		setenv("LDMESH_CONNECT_TIMEOUT", v, 1);
	else
		unsetenv("LDMESH_CONNECT_TIMEOUT");
	config_load(&c);
	*n_bad = c.n_bad;
	unsetenv("LDMESH_CONNECT_TIMEOUT");
	return c.connect_syncnt;
}

static void test_steps(void **state)
{
	static const struct {
		const char *v;
		unsigned syncnt;
	} cases[] = {
		{ NULL, 1 },   { "3", 1 },    { "0.5", 1 }, { "2.9", 1 },  { "6.999", 1 },
		{ "7", 2 },    { "7.0", 2 },  { "14", 2 },  { "15", 3 },   { "31", 4 },
		{ "63", 5 },   { "127", 6 },  { "0", 0 },   { "0.0", 0 },  { "100.25", 5 },
	};
	unsigned bad;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(syncnt_of(cases[i].v, &bad), cases[i].syncnt);
		assert_int_equal(bad, 0);
	}
}

static void test_bad_value_kept(void **state)
{
	static const char *bad_values[] = { "128", "3s", "-1", ".", "1.2.3", "1e3", " 3",
					    "99999999999999999999999" };
	struct preload_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		setenv("LDMESH_CONNECT_TIMEOUT", bad_values[i], 1);
		config_load(&c);
		assert_int_equal(c.connect_syncnt, 1);
		assert_int_equal(c.n_bad, 1);
		assert_string_equal(c.bad[0].name, "LDMESH_CONNECT_TIMEOUT");
		assert_string_equal(c.bad[0].value, bad_values[i]);
		assert_string_equal(c.bad[0].why, "not a number of seconds from 0 to 127");
		assert_string_equal(c.bad[0].instead, "3");
	}
	unsetenv("LDMESH_CONNECT_TIMEOUT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_bad_value_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
