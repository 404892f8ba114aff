/* The real libc functions and the cheap check that none of them is ours:
 * the core is linked into this test program, so "ours" is this program. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "real.h"

static int a_global_of_ours;

static void test_own_object_is_self(void **state)
{
	int on_stack;

	real_init();
	assert_true(real_is_self((const void *)real_init));
	assert_true(real_is_self((const void *)test_own_object_is_self));
	assert_true(real_is_self(&a_global_of_ours)); /* data and bss too */
	assert_true(real_is_self(&real));
	assert_false(real_is_self(&on_stack));
	assert_false(real_is_self(NULL));
}

static void test_every_real_function_is_libcs(void **state)
{
	const void *fns[sizeof(real) / sizeof(void (*)(void))];

	real_init();
	memcpy(fns, &real, sizeof(fns));
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		assert_non_null(fns[i]);
		assert_false(real_is_self(fns[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_object_is_self),
		cmocka_unit_test(test_every_real_function_is_libcs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
