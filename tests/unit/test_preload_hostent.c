/* SPDX-License-Identifier: MIT */
/* struct hostent for table answers: layout in the caller's buffer, the
 * family rules, and ERANGE for every buffer one byte too short. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hostent.h"
#include "lookup.h"
#include "test_preload_fixture.h"

static struct fx f;

static int setup(void **state)
{
	fx_build(&f, 9);
	return 0;
}

static int teardown(void **state)
{
	fx_free(&f);
	return 0;
}

static void lookup(const char *name, struct lookup_result *r)
{
	struct preload_config c;
	config_defaults(&c);
	lookup_name(&f.snap, &c, name, 0, r);
	assert_int_equal(r->status, LOOKUP_FOUND);
}

static void test_fill_v4(void **state)
{
	struct lookup_result r;
	struct hostent he;
	char buf[1024];
	char a[32];

	lookup("headless", &r);
	assert_int_equal(hostent_fill(&r, AF_INET, &he, buf, sizeof(buf)), 0);
	assert_string_equal(he.h_name, "headless.default.svc.cluster.local");
	assert_int_equal(he.h_addrtype, AF_INET);
	assert_int_equal(he.h_length, 4);
	assert_null(he.h_aliases[0]);
	assert_non_null(he.h_addr_list[0]);
	assert_non_null(he.h_addr_list[1]);
	assert_null(he.h_addr_list[2]);
	inet_ntop(AF_INET, he.h_addr_list[0], a, sizeof(a));
	assert_true(!strcmp(a, "10.244.3.1") || !strcmp(a, "10.244.3.2"));
	/* everything lives inside the caller's buffer */
	assert_true(he.h_name >= buf && he.h_name < buf + sizeof(buf));
	assert_true((char *)he.h_addr_list >= buf &&
		    (char *)he.h_addr_list < buf + sizeof(buf));
	assert_int_equal((uintptr_t)he.h_addr_list % sizeof(char *), 0);
}

static void test_fill_families(void **state)
{
	struct lookup_result r;
	struct hostent he;
	char buf[1024], a[64];

	lookup("dual", &r);
	assert_int_equal(hostent_fill(&r, AF_INET6, &he, buf, sizeof(buf)), 0);
	assert_int_equal(he.h_length, 16);
	inet_ntop(AF_INET6, he.h_addr_list[0], a, sizeof(a));
	assert_string_equal(a, "fd00:96::20");
	assert_null(he.h_addr_list[1]);

	/* no v6 address: NO_DATA, not a mapped v4 (no RES_USE_INET6) */
	lookup("backend", &r);
	assert_int_equal(hostent_fill(&r, AF_INET6, &he, buf, sizeof(buf)), ENOENT);
	lookup("v6only", &r);
	assert_int_equal(hostent_fill(&r, AF_INET, &he, buf, sizeof(buf)), ENOENT);
}

static void test_erange(void **state)
{
	struct lookup_result r;
	struct hostent he;
	char buf[1024];
	size_t need = 0;

	lookup("backend", &r);
	/* find the exact size, at an aligned start */
	for (size_t n = 0; n < sizeof(buf); n++)
		if (hostent_fill(&r, AF_INET, &he, buf, n) == 0) {
			need = n;
			break;
		}
	/* aliases NULL + 1 address + NULL + 4 bytes + name + NUL */
	assert_int_equal(need, 3 * sizeof(char *) + 4 +
			       strlen("backend.default.svc.cluster.local") + 1);
	assert_int_equal(hostent_fill(&r, AF_INET, &he, buf, need - 1), ERANGE);
	/* a misaligned buffer costs the padding */
	assert_int_equal(hostent_fill(&r, AF_INET, &he, buf + 1, need), ERANGE);
	assert_int_equal(hostent_fill(&r, AF_INET, &he, buf + 1, need + sizeof(char *) - 1), 0);
	assert_int_equal((uintptr_t)he.h_aliases % sizeof(char *), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fill_v4),
		cmocka_unit_test(test_fill_families),
		cmocka_unit_test(test_erange),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
