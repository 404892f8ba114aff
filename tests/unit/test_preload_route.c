/* SPDX-License-Identifier: MIT */
/* The connect decision: VIP match by protocol, backend family by socket
 * family, refusals, spread and ClientIP stickiness. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "rng.h"
#include "route.h"
#include "test_preload_fixture.h"

static struct fx f;

static int setup(void **state)
{
	fx_build(&f, 3);
	return 0;
}

static int teardown(void **state)
{
	fx_free(&f);
	return 0;
}

static const struct ldmesh_vip_slot *vip(const char *ip, uint16_t port, uint8_t proto)
{
	uint8_t a[16];
	fx_ip(a, ip);
	return tu_vip(&f.snap, a, port, proto);
}

static void test_vip_match(void **state)
{
	assert_non_null(vip("10.96.0.10", 80, LDMESH_PROTO_TCP));
	assert_null(vip("10.96.0.10", 80, LDMESH_PROTO_UDP));
	assert_non_null(vip("10.96.0.10", 53, LDMESH_PROTO_UDP));
	assert_null(vip("10.96.0.10", 81, LDMESH_PROTO_TCP));
	assert_null(vip("93.184.216.34", 443, LDMESH_PROTO_TCP));
	assert_non_null(vip("fd00:96::20", 80, LDMESH_PROTO_TCP));
}

static void test_redirect_spread(void **state)
{
	const struct ldmesh_vip_slot *v = vip("10.96.0.10", 80, LDMESH_PROTO_TCP);
	unsigned seen[3] = { 0 };
	struct route_result r;

	rng_init();
	for (int i = 0; i < 300; i++) {
		route_pick(&f.snap, &f.snap, v, AF_INET, rng_next(), 0, &r);
		assert_int_equal(r.verdict, ROUTE_REDIRECT);
		assert_int_equal(r.backend_port, 8080);
		assert_int_equal(r.ep_count, 3);
		assert_in_range(r.ep_pos, 1, 3);
		assert_true(addr_is_v4(r.backend));
		seen[r.ep_pos - 1]++;
	}
	/* all three get traffic */
	for (int i = 0; i < 3; i++)
		assert_true(seen[i] > 30);

	/* UDP port maps to its own target port */
	route_pick(&f.snap, &f.snap, vip("10.96.0.10", 53, LDMESH_PROTO_UDP), AF_INET, 1, 0, &r);
	assert_int_equal(r.verdict, ROUTE_REDIRECT);
	assert_int_equal(r.backend_port, 5353);
}

static void test_refuse_empty(void **state)
{
	struct route_result r;

	route_pick(&f.snap, &f.snap, vip("10.96.0.11", 80, LDMESH_PROTO_TCP), AF_INET, 5, 0, &r);
	assert_int_equal(r.verdict, ROUTE_REFUSE);
	assert_string_equal(r.why, "no endpoints");
	assert_int_equal(r.ep_count, 0);
}

static void test_family_selection(void **state)
{
	const struct ldmesh_vip_slot *dual = vip("10.96.0.20", 80, LDMESH_PROTO_TCP);
	struct route_result r;
	uint8_t v4pod[16], v6pod[16];
	bool saw6 = false, saw4_on6 = false;

	fx_ip(v4pod, "10.244.5.1");
	fx_ip(v6pod, "fd00:244::1");
	/* an AF_INET socket only ever gets the v4 pod, whatever the draw */
	for (uint64_t i = 0; i < 64; i++) {
		route_pick(&f.snap, &f.snap, dual, AF_INET, i * 0x9e3779b97f4a7c15ULL, 0, &r);
		assert_int_equal(r.verdict, ROUTE_REDIRECT);
		assert_memory_equal(r.backend, v4pod, 16);
	}
	/* an AF_INET6 socket gets both (v4 as mapped when dialled) */
	for (uint64_t i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		route_pick(&f.snap, &f.snap, dual, AF_INET6, i * 0x9e3779b97f4a7c15ULL, 0, &r);
		assert_int_equal(r.verdict, ROUTE_REDIRECT);
		if (!memcmp(r.backend, v6pod, 16))
			saw6 = true;
		else if (!memcmp(r.backend, v4pod, 16)) {
			saw4_on6 = true;
			assert_int_equal(addr_to_sockaddr(AF_INET6, r.backend, 80, &ss),
					 sizeof(struct sockaddr_in6));
			assert_true(IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr));
		}
	}
	assert_true(saw6 && saw4_on6);

	/* only v6 pods behind a v4 ClusterIP: an AF_INET socket is refused */
	route_pick(&f.snap, &f.snap, vip("10.96.0.21", 80, LDMESH_PROTO_TCP), AF_INET, 1, 0, &r);
	assert_int_equal(r.verdict, ROUTE_REFUSE);
	assert_string_equal(r.why, "no endpoint of the socket's family");
	route_pick(&f.snap, &f.snap, vip("10.96.0.21", 80, LDMESH_PROTO_TCP), AF_INET6, 1, 0, &r);
	assert_int_equal(r.verdict, ROUTE_REDIRECT);
	assert_int_equal(addr_to_sockaddr(AF_INET, r.backend, 80,
					  &(struct sockaddr_storage){ 0 }), 0);
}

static void test_affinity_sticks(void **state)
{
	const struct ldmesh_vip_slot *v = vip("10.96.0.40", 80, LDMESH_PROTO_TCP);
	struct route_result r;
	uint8_t first[16];
	unsigned differ = 0;

	route_pick(&f.snap, &f.snap, v, AF_INET, 1, 0x1234, &r);
	assert_int_equal(r.verdict, ROUTE_REDIRECT);
	memcpy(first, r.backend, 16);
	/* the random draw is ignored: the client key decides */
	for (uint64_t i = 0; i < 50; i++) {
		route_pick(&f.snap, &f.snap, v, AF_INET, i * 7919, 0x1234, &r);
		assert_memory_equal(r.backend, first, 16);
	}
	/* other clients spread */
	for (uint64_t k = 0; k < 50; k++) {
		route_pick(&f.snap, &f.snap, v, AF_INET, 1, k * 0x9e3779b97f4a7c15ULL, &r);
		differ += memcmp(r.backend, first, 16) != 0;
	}
	assert_true(differ > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vip_match),
		cmocka_unit_test(test_redirect_spread),
		cmocka_unit_test(test_refuse_empty),
		cmocka_unit_test(test_family_selection),
		cmocka_unit_test(test_affinity_sticks),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
