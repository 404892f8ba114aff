/* The socket-type memory connect() uses instead of getsockopt(SO_TYPE). */
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
	socktype_set(4, AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
	socktype_set(5, AF_INET, SOCK_STREAM, IPPROTO_TCP);
	assert_int_equal(socktype_get(3), SOCK_STREAM);
	assert_int_equal(socktype_get(4), SOCK_DGRAM);
	assert_int_equal(socktype_get(5), SOCK_STREAM);
}

static void test_others_unknown(void **state)
{
	socktype_set(6, AF_UNIX, SOCK_STREAM, 0);
	socktype_set(7, AF_INET, SOCK_STREAM, IPPROTO_SCTP);
	socktype_set(8, AF_INET, SOCK_RAW, IPPROTO_ICMP);
	socktype_set(9, AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
	for (int fd = 6; fd <= 9; fd++)
		assert_int_equal(socktype_get(fd), 0);
	/* A reused number forgets the old socket's type. */
	socktype_set(3, AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(socktype_get(3), 0);
}

static void test_close_and_dup(void **state)
{
	socktype_set(10, AF_INET, SOCK_DGRAM, 0);
	socktype_copy(10, 11);
	assert_int_equal(socktype_get(11), SOCK_DGRAM);
	socktype_clear(10);
	assert_int_equal(socktype_get(10), 0);
	assert_int_equal(socktype_get(11), SOCK_DGRAM);
	/* dup2 onto a known socket from an unknown fd: now unknown */
	socktype_copy(10, 11);
	assert_int_equal(socktype_get(11), 0);
}

static void test_out_of_range(void **state)
{
	socktype_set(-1, AF_INET, SOCK_STREAM, 0);
	socktype_set(SOCKTYPE_MAX, AF_INET, SOCK_STREAM, 0);
	assert_int_equal(socktype_get(-1), 0);
	assert_int_equal(socktype_get(SOCKTYPE_MAX), 0);
	socktype_copy(1, SOCKTYPE_MAX + 5);
	socktype_clear(SOCKTYPE_MAX + 5);
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
