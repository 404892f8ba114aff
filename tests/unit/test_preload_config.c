/* SPDX-License-Identifier: MIT */
/* config_load keeps what it could not use (c->bad) for the trace to say:
 * a bad LDMESH_* number, a path too long. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static const struct config_bad *bad_of(const struct preload_config *c, const char *name)
{
	for (unsigned i = 0; i < c->n_bad; i++)
		if (!strcmp(c->bad[i].name, name))
			return &c->bad[i];
	return NULL;
}

static void test_bad_numbers_kept(void **state)
{
	struct preload_config c;
	const struct config_bad *b;

	setenv("LDMESH_CONNECT_ATTEMPTS", "11", 1);
	setenv("LDMESH_OUTLIER_FAILURES", "3x", 1);
	setenv("LDMESH_OUTLIER_MAX_MS", "99999999999999999999999999999999999999999999999999", 1);
	setenv("LDMESH_OUTLIER_BASE_MS", "250", 1);
	config_load(&c);
	assert_int_equal(c.connect_attempts, 3);
	assert_int_equal(c.outlier.base_ns, 250000000ULL);
	assert_int_equal(c.n_bad, 3);
	b = bad_of(&c, "LDMESH_CONNECT_ATTEMPTS");
	assert_non_null(b);
	assert_string_equal(b->value, "11");
	assert_string_equal(b->why, "not a whole number from 1 to 10");
	assert_string_equal(b->instead, "3");
	b = bad_of(&c, "LDMESH_OUTLIER_FAILURES");
	assert_non_null(b);
	assert_string_equal(b->value, "3x");
	/* a long value is cut, and says so */
	b = bad_of(&c, "LDMESH_OUTLIER_MAX_MS");
	assert_non_null(b);
	assert_string_equal(b->value, "999999999999999999999999999999999999...");
	assert_null(bad_of(&c, "LDMESH_OUTLIER_BASE_MS"));
	unsetenv("LDMESH_CONNECT_ATTEMPTS");
	unsetenv("LDMESH_OUTLIER_FAILURES");
	unsetenv("LDMESH_OUTLIER_MAX_MS");
	unsetenv("LDMESH_OUTLIER_BASE_MS");
}

static void test_long_path_kept(void **state)
{
	struct preload_config c;
	const struct config_bad *b;
	char path[400];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[5] = '\n'; /* shown as '?': the trace line stays one line */
	path[sizeof(path) - 1] = 0;
	setenv("LDMESH_TABLE", path, 1);
	config_load(&c);
	assert_string_equal(c.table_dir, LDMESH_TABLE_DEFAULT);
	b = bad_of(&c, "LDMESH_TABLE");
	assert_non_null(b);
	assert_memory_equal(b->value, "/aaaa?aaa", 9);
	assert_string_equal(b->instead, LDMESH_TABLE_DEFAULT);
	unsetenv("LDMESH_TABLE");
	config_load(&c);
	assert_int_equal(c.n_bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_numbers_kept),
		cmocka_unit_test(test_long_path_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
