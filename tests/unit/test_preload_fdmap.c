/* SPDX-License-Identifier: MIT */
/* getpeername's bookkeeping: set, dup/dup2 copies, close clears, the bound,
 * and the rewrite only when the kernel's peer is still our backend. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "fdmap.h"
#include "peer.h"
#include "test_preload_fixture.h"

static uint8_t vip[16], be[16];

static int setup(void **state)
{
	fx_ip(vip, "10.96.0.10");
	fx_ip(be, "10.244.1.5");
	return 0;
}

static void test_set_get_clear(void **state)
{
	struct fdmap_view v;

	assert_false(fdmap_get(7, &v));
	fdmap_set(7, AF_INET, vip, 80, be, 8080);
	assert_true(fdmap_get(7, &v));
	assert_int_equal(v.family, AF_INET);
	assert_memory_equal(v.vip, vip, 16);
	assert_int_equal(v.vip_port, 80);
	assert_memory_equal(v.backend, be, 16);
	assert_int_equal(v.backend_port, 8080);
	fdmap_clear(7);
	assert_false(fdmap_get(7, &v));
	/* clearing an untracked fd is harmless */
	fdmap_clear(7);
	assert_false(fdmap_get(7, &v));
}

static void test_dup_close(void **state)
{
	struct fdmap_view v;

	fdmap_set(10, AF_INET, vip, 80, be, 8080);
	fdmap_copy(10, 11);                 /* dup(10) == 11 */
	assert_true(fdmap_get(11, &v));
	assert_int_equal(v.vip_port, 80);
	fdmap_clear(10);                    /* close(10) */
	assert_false(fdmap_get(10, &v));
	assert_true(fdmap_get(11, &v));     /* the dup still names the socket */

	fdmap_set(12, AF_INET, vip, 81, be, 9090);
	fdmap_copy(13, 12);                 /* dup2(untracked 13, 12) */
	assert_false(fdmap_get(12, &v));
	fdmap_copy(11, 11);                 /* dup2(fd, fd) changes nothing */
	assert_true(fdmap_get(11, &v));
	fdmap_clear(11);
}

static void test_bounds(void **state)
{
	struct fdmap_view v;

	fdmap_set(-1, AF_INET, vip, 80, be, 8080);
	fdmap_set(FDMAP_MAX, AF_INET, vip, 80, be, 8080);
	assert_false(fdmap_get(-1, &v));
	assert_false(fdmap_get(FDMAP_MAX, &v));
	fdmap_set(FDMAP_MAX - 1, AF_INET, vip, 80, be, 8080);
	assert_true(fdmap_get(FDMAP_MAX - 1, &v));
	fdmap_clear(FDMAP_MAX - 1);
	fdmap_copy(3, FDMAP_MAX + 5); /* out of range: ignored */
}

static void test_peer_rewrite(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	uint8_t other[16];

	fdmap_set(20, AF_INET, vip, 80, be, 8080);
	len = addr_to_sockaddr(AF_INET, be, 8080, &ss);
	assert_true(peer_rewrite(20, &ss, &len));
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_port, htons(80));
	assert_memory_equal(&((struct sockaddr_in *)&ss)->sin_addr, vip + 12, 4);

	/* a reused fd now talking to someone else is left alone */
	fx_ip(other, "10.0.0.9");
	len = addr_to_sockaddr(AF_INET, other, 8080, &ss);
	assert_false(peer_rewrite(20, &ss, &len));
	assert_memory_equal(&((struct sockaddr_in *)&ss)->sin_addr, other + 12, 4);
	len = addr_to_sockaddr(AF_INET, be, 8081, &ss);
	assert_false(peer_rewrite(20, &ss, &len));

	/* an AF_INET6 socket gets the VIP back as IPv4-mapped */
	fdmap_set(21, AF_INET6, vip, 80, be, 8080);
	len = addr_to_sockaddr(AF_INET6, be, 8080, &ss);
	assert_true(peer_rewrite(21, &ss, &len));
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_memory_equal(&((struct sockaddr_in6 *)&ss)->sin6_addr, vip, 16);
	assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_port, htons(80));

	/* untracked fd */
	len = addr_to_sockaddr(AF_INET, be, 8080, &ss);
	assert_false(peer_rewrite(22, &ss, &len));
	fdmap_clear(20);
	fdmap_clear(21);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_get_clear),
		cmocka_unit_test(test_dup_close),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_peer_rewrite),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
