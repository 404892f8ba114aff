/* SPDX-License-Identifier: MIT */
/* The agent's log formatter: RFC 3339 times, JSON that any parser takes
 * (escapes, bytes that are not UTF-8, cut lines), and the position of a
 * manifest problem as fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

/* 2026-12-08T01:02:03.045Z */
static const struct timespec T = { .tv_sec = 1796691723, .tv_nsec = 45999999 };

static void test_time_rfc3339(void **state)
{
	char buf[40];
	struct timespec epoch = { 0, 999999999 };

	assert_int_equal(log_format_time(buf, sizeof(buf), &T), 24);
	/* milliseconds are truncated, never rounded into the next second */
	assert_string_equal(buf, "2026-12-08T01:02:03.045Z");
	log_format_time(buf, sizeof(buf), &epoch);
	assert_string_equal(buf, "1970-01-01T00:00:00.999Z");
}

static void test_text_line(void **state)
{
	char out[LOG_LINE_MAX];
	size_t n = log_format_line(out, sizeof(out), LOG_FORMAT_TEXT, &T, LOG_ERROR,
				   "ldmesh-agent", "a.yaml:3:1: bad\nsecond", true);

	/* one event, one line: the newline inside is shown, not written */
	assert_string_equal(out, "2026-12-08T01:02:03.045Z error ldmesh-agent: a.yaml:3:1: bad\\x0asecond\n");
	assert_int_equal(n, strlen(out));
	log_format_line(out, sizeof(out), LOG_FORMAT_TEXT, &T, LOG_WARN, "ldmesh-sync", "x", false);
	assert_string_equal(out, "2026-12-08T01:02:03.045Z warn ldmesh-sync: x\n");
}

static void test_json_escapes(void **state)
{
	char out[256];
	size_t n = 0;

	out[0] = 0;
	assert_true(log_json_escape(out, &n, sizeof(out), "q\"b\\n\n\t\x01\x7f", 9));
	assert_string_equal(out, "q\\\"b\\\\n\\n\\t\\u0001\\u007f");
	/* well-formed UTF-8 passes as it is */
	n = 0;
	assert_true(log_json_escape(out, &n, sizeof(out), "caf\xc3\xa9 \xe2\x82\xac", 9));
	assert_string_equal(out, "caf\xc3\xa9 \xe2\x82\xac");
	/* a lone continuation byte, an overlong '/', a surrogate, a cut
	 * sequence: each byte that is not text becomes U+FFFD */
	n = 0;
	assert_true(log_json_escape(out, &n, sizeof(out), "\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82", 11));
	assert_string_equal(out, "\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd");
	/* what does not fit is not half-written */
	n = 0;
	assert_false(log_json_escape(out, &n, 4, "ab\"", 3));
	assert_string_equal(out, "ab");
}

static void test_json_line(void **state)
{
	char out[LOG_LINE_MAX];

	log_format_line(out, sizeof(out), LOG_FORMAT_JSON, &T, LOG_INFO, "ldmesh-agent",
			"published generation 3 (base): 1 services", true);
	assert_string_equal(out, "{\"time\":\"2026-12-08T01:02:03.045Z\",\"level\":\"info\","
				 "\"program\":\"ldmesh-agent\","
				 "\"msg\":\"published generation 3 (base): 1 services\"}\n");
	log_format_line(out, sizeof(out), LOG_FORMAT_JSON, &T, LOG_ERROR, "ldmesh-agent",
			"m/a b:1.yaml:4:12: did not find \"}\"", true);
	assert_string_equal(out, "{\"time\":\"2026-12-08T01:02:03.045Z\",\"level\":\"error\","
				 "\"program\":\"ldmesh-agent\",\"file\":\"m/a b:1.yaml\",\"line\":4,"
				 "\"col\":12,\"msg\":\"did not find \\\"}\\\"\"}\n");
	log_format_line(out, sizeof(out), LOG_FORMAT_JSON, &T, LOG_WARN, "ldmesh-agent",
			"m/a.yaml:7: warning: x", true);
	assert_non_null(strstr(out, "\"file\":\"m/a.yaml\",\"line\":7,\"msg\":\"warning: x\"}"));
	/* only a diag's line is read for a position */
	log_format_line(out, sizeof(out), LOG_FORMAT_JSON, &T, LOG_INFO, "p", "a:1: b", false);
	assert_non_null(strstr(out, "\"msg\":\"a:1: b\"}"));
}

static void test_long_line_stays_whole(void **state)
{
	static char msg[3 * LOG_LINE_MAX];
	char out[LOG_LINE_MAX];
	size_t n;

	memset(msg, '"', sizeof(msg) - 1);
	n = log_format_line(out, sizeof(out), LOG_FORMAT_JSON, &T, LOG_ERROR, "p", msg, false);
	assert_true(n < sizeof(out));
	assert_int_equal(n, strlen(out));
	assert_memory_equal(out + n - 6, "...\"}\n", 6);
	memset(msg, 'x', sizeof(msg) - 1);
	n = log_format_line(out, sizeof(out), LOG_FORMAT_TEXT, &T, LOG_ERROR, "p", msg, false);
	assert_true(n < sizeof(out));
	assert_memory_equal(out + n - 4, "...\n", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_rfc3339),
		cmocka_unit_test(test_text_line),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_json_line),
		cmocka_unit_test(test_long_line_stays_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
