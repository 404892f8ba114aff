/* The socket-type memory connect() uses instead of getsockopt(SO_TYPE).
 * Every call is followed by an assertion that fails if it did the wrong
 * thing, and no test depends on what another left behind: 0 ("unknown")
 * is also what an fd never set reads, so each "unknown" is asserted over a
 * known type set first. */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "socktype.h"

static void test_tcp_and_udp_remembered(void **state)
{
	socktype_set(3, AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_int_equal(socktype_get(3), SOCK_STREAM);
	socktype_set(4, AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
	assert_int_equal(socktype_get(4), SOCK_DGRAM);
	socktype_set(5, AF_INET, SOCK_STREAM, IPPROTO_TCP);
	assert_int_equal(socktype_get(5), SOCK_STREAM);
	socktype_set(5, AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(socktype_get(5), SOCK_DGRAM);
	/* neighbours untouched */
	assert_int_equal(socktype_get(3), SOCK_STREAM);
	assert_int_equal(socktype_get(4), SOCK_DGRAM);
}

static void test_others_unknown(void **state)
{
	static const struct { int domain, type, protocol; } others[] = {
		{ AF_UNIX, SOCK_STREAM, 0 },
		{ AF_INET, SOCK_STREAM, IPPROTO_SCTP },
		{ AF_INET, SOCK_RAW, IPPROTO_ICMP },
		{ AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP },
		{ AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6 },
		{ AF_UNIX, SOCK_DGRAM, 0 },
	};

	for (int i = 0; i < (int)(sizeof(others) / sizeof(others[0])); i++) {
		int fd = 6 + i;

		/* a reused number: the old socket's type is forgotten */
		socktype_set(fd, AF_INET, SOCK_STREAM, 0);
		assert_int_equal(socktype_get(fd), SOCK_STREAM);
		socktype_set(fd, others[i].domain, others[i].type, others[i].protocol);
		assert_int_equal(socktype_get(fd), 0);
	}
}

static void test_close_and_dup(void **state)
{
	socktype_set(10, AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(socktype_get(10), SOCK_DGRAM);
	socktype_copy(10, 11);
	assert_int_equal(socktype_get(11), SOCK_DGRAM);
	assert_int_equal(socktype_get(10), SOCK_DGRAM);
	socktype_clear(10);
	assert_int_equal(socktype_get(10), 0);
	assert_int_equal(socktype_get(11), SOCK_DGRAM);
	/* dup2 onto a known socket from an unknown fd: now unknown */
	socktype_copy(10, 11);
	assert_int_equal(socktype_get(11), 0);
	/* clearing an fd never recorded leaves it, and the others, unknown
	 * and known as they were */
	socktype_set(12, AF_INET, SOCK_STREAM, 0);
	socktype_clear(13);
	assert_int_equal(socktype_get(13), 0);
	assert_int_equal(socktype_get(12), SOCK_STREAM);
}

/* Numbers the table does not cover are unknown, and no call on them
 * touches an fd it does cover: every in-range fd a wrapped or truncated
 * index could land on holds a known type before, and the same after. */
static void test_out_of_range(void **state)
{
	static const int out[] = { -1, -2, SOCKTYPE_MAX, SOCKTYPE_MAX + 5, 1 << 20 };
	enum { N = sizeof(out) / sizeof(out[0]) };
	/* where fd % SOCKTYPE_MAX, fd & (SOCKTYPE_MAX - 1) or a byte's worth
	 * of them land, and the last entry */
	static const int sentinel[] = { 0, 1, 2, 5, 254, 255, SOCKTYPE_MAX - 2, SOCKTYPE_MAX - 1 };
	enum { S = sizeof(sentinel) / sizeof(sentinel[0]) };

	for (int i = 0; i < S; i++) {
		socktype_set(sentinel[i], AF_INET, i % 2 ? SOCK_DGRAM : SOCK_STREAM, 0);
		assert_int_equal(socktype_get(sentinel[i]), i % 2 ? SOCK_DGRAM : SOCK_STREAM);
	}
	for (int i = 0; i < N; i++) {
		socktype_set(out[i], AF_INET, SOCK_STREAM, 0);
		assert_int_equal(socktype_get(out[i]), 0);
		/* from a known fd to one out of range: still unknown there */
		socktype_copy(1, out[i]);
		assert_int_equal(socktype_get(out[i]), 0);
		socktype_clear(out[i]);
		assert_int_equal(socktype_get(out[i]), 0);
	}
	for (int i = 0; i < S; i++)
		assert_int_equal(socktype_get(sentinel[i]), i % 2 ? SOCK_DGRAM : SOCK_STREAM);
	/* from an fd out of range onto a known one: that one is unknown now,
	 * as from any fd socket() did not make */
	socktype_copy(SOCKTYPE_MAX + 5, 2);
	assert_int_equal(socktype_get(2), 0);
	socktype_copy(-1, 5);
	assert_int_equal(socktype_get(5), 0);
	assert_int_equal(socktype_get(1), SOCK_DGRAM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_and_udp_remembered),
		cmocka_unit_test(test_others_unknown),
		cmocka_unit_test(test_close_and_dup),
		cmocka_unit_test(test_out_of_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
