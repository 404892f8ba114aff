/* SPDX-License-Identifier: MIT */
/* Trace lines: the async-signal-safe formatter (numbers, IPv4, IPv6 per
 * RFC 5952, truncation), one write per line, and the table events. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "trace.h"
#include "test_preload_fixture.h"

static int pipefd[2];

static int setup(void **state)
{
	assert_int_equal(pipe(pipefd), 0);
	trace_set_fd(pipefd[1], 4711);
	return 0;
}

static int teardown(void **state)
{
	trace_set_fd(-1, 0);
	close(pipefd[0]);
	close(pipefd[1]);
	return 0;
}

/* What one write delivered (a pipe keeps writes <= PIPE_BUF whole). */
static void read_line(char *out, size_t cap)
{
	ssize_t n = read(pipefd[0], out, cap - 1);
	assert_true(n > 0);
	out[n] = 0;
}

static const char *ip(const char *text)
{
	static char out[128];
	struct trace_line l;
	uint8_t a[16];

	fx_ip(a, text);
	l.n = 0;
	l.cut = false;
	trace_ip(&l, a);
	memcpy(out, l.buf, l.n);
	out[l.n] = 0;
	return out;
}

static void test_ip_format(void **state)
{
	assert_string_equal(ip("10.96.0.10"), "10.96.0.10");
	assert_string_equal(ip("0.0.0.0"), "0.0.0.0");
	assert_string_equal(ip("255.255.255.255"), "255.255.255.255");
	assert_string_equal(ip("fd00:96::20"), "fd00:96::20");
	assert_string_equal(ip("::1"), "::1");
	assert_string_equal(ip("::"), "::");
	assert_string_equal(ip("2001:db8::1:0:0:1"), "2001:db8::1:0:0:1");
	assert_string_equal(ip("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
	assert_string_equal(ip("2001:0:0:1::1"), "2001:0:0:1::1");
	assert_string_equal(ip("fe80::"), "fe80::");
	assert_string_equal(ip("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
}

static void test_connect_line(void **state)
{
	struct trace_line l;
	uint8_t vip[16], be[16];
	char got[1024];

	fx_ip(vip, "10.96.0.10");
	fx_ip(be, "10.244.1.5");
	trace_begin(&l, "connect fd=");
	trace_i64(&l, 5);
	trace_str(&l, " ");
	trace_ipport(&l, vip, 80);
	trace_str(&l, " -> ");
	trace_ipport(&l, be, 8080);
	trace_str(&l, " svc=default/backend ep=");
	trace_u64(&l, 2);
	trace_str(&l, "/");
	trace_u64(&l, 3);
	trace_emit(&l);
	read_line(got, sizeof(got));
	assert_string_equal(got,
		"ldmesh[4711] connect fd=5 10.96.0.10:80 -> 10.244.1.5:8080 "
		"svc=default/backend ep=2/3\n");

	fx_ip(vip, "fd00:96::20");
	trace_begin(&l, "connect fd=");
	trace_i64(&l, -1);
	trace_str(&l, " ");
	trace_ipport(&l, vip, 443);
	trace_str(&l, " pass");
	trace_emit(&l);
	read_line(got, sizeof(got));
	assert_string_equal(got, "ldmesh[4711] connect fd=-1 [fd00:96::20]:443 pass\n");
}

static void test_numbers(void **state)
{
	struct trace_line l;

	trace_begin(&l, "");
	trace_u64(&l, 0);
	trace_str(&l, " ");
	trace_u64(&l, UINT64_MAX);
	trace_str(&l, " ");
	trace_i64(&l, INT64_MIN);
	trace_str(&l, " ");
	trace_hex(&l, 0xdeadbeef);
	trace_finish(&l);
	assert_string_equal(l.buf,
		"ldmesh[4711] 0 18446744073709551615 -9223372036854775808 deadbeef\n");
}

static void test_truncation(void **state)
{
	struct trace_line l;
	char big[2000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	trace_begin(&l, "getaddrinfo ");
	trace_str(&l, big);
	trace_str(&l, " more");
	assert_int_equal(trace_finish(&l), TRACE_LINE_MAX - 1);
	assert_memory_equal(l.buf + TRACE_LINE_MAX - 5, "...\n", 5);
	assert_null(strstr(l.buf, "more"));
}

static void test_table_events(void **state)
{
	char got[1024];

	trace_table_event(NULL, LDMESH_TABLE_SWITCHED, 42, NULL);
	read_line(got, sizeof(got));
	assert_string_equal(got, "ldmesh[4711] table gen=42 switched\n");
	trace_table_event(NULL, LDMESH_TABLE_AHEAD, 44, "");
	read_line(got, sizeof(got));
	assert_string_equal(got, "ldmesh[4711] table gen=44 mapped ahead (announced, not current yet)\n");
	trace_table_event(NULL, LDMESH_TABLE_AHEAD, 45, "warmed for 2 keys this process looked up");
	read_line(got, sizeof(got));
	assert_string_equal(got, "ldmesh[4711] table gen=45 mapped ahead (announced, not current yet), "
				 "warmed for 2 keys this process looked up\n");
	trace_table_event(NULL, LDMESH_TABLE_SWITCHED, 44, "mapped ahead");
	read_line(got, sizeof(got));
	assert_string_equal(got, "ldmesh[4711] table gen=44 switched (mapped ahead)\n");
	trace_table_event(NULL, LDMESH_TABLE_REFUSED, 43, "bad checksum");
	read_line(got, sizeof(got));
	assert_string_equal(got, "ldmesh[4711] table gen=43 refused: bad checksum\n");
	trace_table_event(NULL, LDMESH_TABLE_MISSING, 0,
			  "/dev/shm/ldmesh/control: No such file or directory");
	read_line(got, sizeof(got));
	assert_string_equal(got, "ldmesh[4711] table missing: /dev/shm/ldmesh/control: "
				 "No such file or directory\n");
}

static void test_errno_kept_and_off(void **state)
{
	struct trace_line l;

	errno = EADDRINUSE;
	trace_begin(&l, "x");
	trace_emit(&l);
	assert_int_equal(errno, EADDRINUSE);
	{
		char got[64];
		read_line(got, sizeof(got));
		assert_string_equal(got, "ldmesh[4711] x\n");
	}
	assert_true(trace_on());
	trace_set_fd(-1, 4711);
	assert_false(trace_on());
	trace_set_fd(pipefd[1], 4711);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_format),
		cmocka_unit_test(test_connect_line),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_table_events),
		cmocka_unit_test(test_errno_kept_and_off),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
