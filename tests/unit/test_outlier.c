/* SPDX-License-Identifier: MIT */
/* Outlier ejection: failures in a row eject, a success clears the run, the
 * ejection time grows with each ejection up to the maximum, an ejection
 * ends on time; and picks pass over what they must avoid, but never refuse
 * the last candidate for it. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "outlier.h"
#include "rng.h"
#include "route.h"
#include "test_preload_fixture.h"

#define MS 1000000ULL

static const uint8_t pod_a[16] = { [10] = 0xff, [11] = 0xff, 10, 244, 1, 5 };
static const uint8_t pod_b[16] = { [10] = 0xff, [11] = 0xff, 10, 244, 2, 5 };

static int setup(void **state)
{
	struct outlier_config c = { .consecutive = 2, .base_ns = 100 * MS, .max_ns = 250 * MS };

	outlier_reset();
	outlier_configure(&c);
	return 0;
}

static void test_consecutive_failures_eject(void **state)
{
	assert_false(outlier_active());
	assert_int_equal(outlier_failure(pod_a, 9100, 0), 0); /* one: not yet */
	assert_false(outlier_is_ejected(pod_a, 9100, 1));
	assert_int_equal(outlier_failure(pod_a, 9100, 10), 100 * MS);
	assert_true(outlier_active());
	assert_true(outlier_is_ejected(pod_a, 9100, 11));
	/* only that backend, only that port */
	assert_false(outlier_is_ejected(pod_b, 9100, 11));
	assert_false(outlier_is_ejected(pod_a, 9200, 11));
	/* over on time, and the count of ejections in force drops */
	assert_true(outlier_is_ejected(pod_a, 9100, 10 + 100 * MS - 1));
	assert_false(outlier_is_ejected(pod_a, 9100, 10 + 100 * MS));
	assert_false(outlier_active());
}

static void test_success_clears_the_run(void **state)
{
	outlier_failure(pod_a, 9100, 0);
	outlier_success(pod_a, 9100);
	assert_int_equal(outlier_failure(pod_a, 9100, 1), 0);
	assert_false(outlier_is_ejected(pod_a, 9100, 2));
}

static void test_ejection_time_grows_to_the_max(void **state)
{
	uint64_t t = 0;

	outlier_failure(pod_a, 9100, t);
	assert_int_equal(outlier_failure(pod_a, 9100, t), 100 * MS);   /* 1 x base */
	t += 100 * MS;
	assert_false(outlier_is_ejected(pod_a, 9100, t));
	outlier_failure(pod_a, 9100, t);
	assert_int_equal(outlier_failure(pod_a, 9100, t), 200 * MS);   /* 2 x base */
	t += 200 * MS;
	outlier_failure(pod_a, 9100, t);
	assert_int_equal(outlier_failure(pod_a, 9100, t), 250 * MS);   /* capped */
	/* failures during an ejection do not lengthen it */
	outlier_failure(pod_a, 9100, t + 1);
	assert_int_equal(outlier_failure(pod_a, 9100, t + 2), 0);
	assert_false(outlier_is_ejected(pod_a, 9100, t + 250 * MS));
}

static void test_table_full_remembers_nothing_more(void **state)
{
	uint8_t a[16] = { [10] = 0xff, [11] = 0xff, 10, 0, 0, 0 };

	for (unsigned i = 0; i < OUTLIER_SLOTS; i++) {
		a[14] = (uint8_t)(i >> 8);
		a[15] = (uint8_t)i;
		outlier_failure(a, 1, 0);
	}
	/* full: a new backend's failures are not remembered, nothing breaks */
	assert_int_equal(outlier_failure(pod_b, 7, 0), 0);
	assert_int_equal(outlier_failure(pod_b, 7, 0), 0);
	assert_false(outlier_is_ejected(pod_b, 7, 1));
}

/* ---- picks that avoid -------------------------------------------------- */

static struct fx f;

struct avoid_set {
	unsigned n;
	uint8_t addr[4][16];
};

static bool avoid(void *ctx, const uint8_t addr[16], uint16_t port)
{
	struct avoid_set *s = ctx;

	for (unsigned i = 0; i < s->n; i++)
		if (!memcmp(s->addr[i], addr, 16))
			return true;
	return false;
}

static void test_pick_other_passes_over(void **state)
{
	uint8_t vipa[16];
	const struct ldmesh_vip_slot *v;
	struct avoid_set s = { .n = 0 };
	struct route_result r;

	fx_build(&f, 3);
	fx_ip(vipa, "10.96.0.10");
	v = tu_vip(&f.snap, vipa, 80, LDMESH_PROTO_TCP);
	assert_non_null(v);
	rng_init();
	/* avoid two of the three: every pick is the third */
	route_pick_other(&f.snap, v, AF_INET, 0, avoid, &s, &r);
	assert_int_equal(r.verdict, ROUTE_REDIRECT);
	memcpy(s.addr[s.n++], r.backend, 16);
	route_pick_other(&f.snap, v, AF_INET, 0, avoid, &s, &r);
	assert_int_equal(r.verdict, ROUTE_REDIRECT);
	memcpy(s.addr[s.n++], r.backend, 16);
	for (int i = 0; i < 50; i++) {
		struct route_result o;
		route_pick_other(&f.snap, v, AF_INET, rng_next(), avoid, &s, &o);
		assert_int_equal(o.verdict, ROUTE_REDIRECT);
		assert_false(avoid(&s, o.backend, o.backend_port));
		assert_int_equal(o.backend_port, 8080);
	}
	/* all three avoided: refused, so the caller keeps its own pick */
	route_pick_other(&f.snap, v, AF_INET, 0, avoid, &s, &r);
	memcpy(s.addr[s.n++], r.backend, 16);
	route_pick_other(&f.snap, v, AF_INET, 7, avoid, &s, &r);
	assert_int_equal(r.verdict, ROUTE_REFUSE);
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_consecutive_failures_eject, setup),
		cmocka_unit_test_setup(test_success_clears_the_run, setup),
		cmocka_unit_test_setup(test_ejection_time_grows_to_the_max, setup),
		cmocka_unit_test_setup(test_table_full_remembers_nothing_more, setup),
		cmocka_unit_test_setup(test_pick_other_passes_over, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
