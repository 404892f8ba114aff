/* SPDX-License-Identifier: MIT */
/* ldmesh-sync's watch-stream decoder and event reader (agent/sync/decode.c,
 * event.c): bytes in any chunking, events out, bad input refused with what
 * it was. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "decode.h"
#include "event.h"
#include "object.h"

struct got {
	char names[16][64];
	char types[16][16];
	unsigned n;
};

static int collect(void *ctx, struct json_object *v)
{
	struct got *g = ctx;
	struct sync_event ev;
	char err[160];

	assert_int_equal(sync_event_read(v, &ev, err, sizeof(err)), 0);
	assert_true(g->n < 16);
	snprintf(g->names[g->n], 64, "%s", ev.name ? ev.name : (ev.rv ? ev.rv : ""));
	snprintf(g->types[g->n], 16, "%s", sync_json_str(v, "type"));
	g->n++;
	return 0;
}

static const char stream[] =
	"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"metadata\":"
	"{\"name\":\"web\",\"namespace\":\"default\",\"resourceVersion\":\"5\"}}}\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Service\",\"metadata\":"
	"{\"resourceVersion\":\"9\"}}}\n"
	"  \n{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"db\","
	"\"namespace\":\"x\",\"resourceVersion\":\"12\"}}}";

/* Every chunking of the stream gives the same three events: the transfer's
 * chunks never line up with events on a real server. */
static void test_any_chunking(void **state)
{
	size_t len = strlen(stream);

	for (size_t chunk = 1; chunk <= len; chunk++) {
		struct sync_decoder d;
		struct got g = { .n = 0 };

		assert_int_equal(sync_decoder_init(&d, SYNC_EVENT_MAX), 0);
		for (size_t i = 0; i < len; i += chunk)
			assert_int_equal(sync_decoder_feed(&d, stream + i,
							   len - i < chunk ? len - i : chunk,
							   collect, &g), 0);
		assert_int_equal(sync_decoder_finish(&d), 0);
		assert_int_equal(g.n, 3);
		assert_string_equal(g.names[0], "web");
		assert_string_equal(g.types[1], "BOOKMARK");
		assert_string_equal(g.names[1], "9");
		assert_string_equal(g.names[2], "db");
		sync_decoder_free(&d);
	}
}

static int count(void *ctx, struct json_object *v)
{
	(*(unsigned *)ctx)++;
	return 0;
}

/* A number followed by garbage is refused however the stream is cut:
 * json-c 0.16 alone reads "91" then "-00}" as 91 (fuzz_watch found it). */
static void test_number_cut_by_chunk(void **state)
{
	static const char bad[] = "{\"port\": 91-00}\n";
	size_t len = strlen(bad);

	for (size_t cut = 0; cut <= len; cut++) {
		struct sync_decoder d;
		struct got g = { .n = 0 };
		int rc;

		assert_int_equal(sync_decoder_init(&d, SYNC_EVENT_MAX), 0);
		rc = sync_decoder_feed(&d, bad, cut, collect, &g);
		if (!rc)
			rc = sync_decoder_feed(&d, bad + cut, len - cut, collect, &g);
		assert_int_equal(rc, -EBADMSG);
		assert_int_equal(g.n, 0);
		sync_decoder_free(&d);
	}
}

static void test_garbage_named(void **state)
{
	struct sync_decoder d;
	unsigned n = 0;
	const char bad[] = "{\"type\":\"ADDED\",\"object\":{}}\nHTTP/1.1 200 OK\r\n";

	assert_int_equal(sync_decoder_init(&d, SYNC_EVENT_MAX), 0);
	assert_int_equal(sync_decoder_feed(&d, bad, strlen(bad), count, &n), -EBADMSG);
	assert_int_equal(n, 1);
	/* the message says where and quotes what was there */
	assert_non_null(strstr(d.err, "at byte 29"));
	assert_non_null(strstr(d.err, "\"HTTP/1.1 200 OK\\x0d\""));
	sync_decoder_free(&d);
}

static void test_truncated(void **state)
{
	struct sync_decoder d;
	unsigned n = 0;

	assert_int_equal(sync_decoder_init(&d, SYNC_EVENT_MAX), 0);
	assert_int_equal(sync_decoder_feed(&d, stream, 100, count, &n), 0);
	assert_int_equal(n, 0);
	assert_true(sync_decoder_partial(&d));
	assert_int_equal(sync_decoder_finish(&d), -EPIPE);
	assert_non_null(strstr(d.err, "after 100 of its bytes"));
	assert_false(sync_decoder_partial(&d));
	sync_decoder_free(&d);
}

/* A value past the bound is refused at the bound, whatever comes after:
 * the decoder never holds more than max_bytes of one value. */
static void test_oversized(void **state)
{
	struct sync_decoder d;
	unsigned n = 0;
	char *big = malloc(4096);

	assert_non_null(big);
	memset(big, 'a', 4096);
	memcpy(big, "{\"type\":\"ADDED\",\"object\":{\"x\":\"", 31);
	assert_int_equal(sync_decoder_init(&d, 1000), 0);
	assert_int_equal(sync_decoder_feed(&d, "\n\n", 2, count, &n), 0);
	assert_int_equal(sync_decoder_feed(&d, big, 999, count, &n), 0);
	assert_int_equal(sync_decoder_feed(&d, big + 999, 3000, count, &n), -EMSGSIZE);
	assert_non_null(strstr(d.err, "larger than 1000 bytes at byte 2"));
	assert_int_equal(n, 0);
	free(big);
	sync_decoder_free(&d);
}

static int stop(void *ctx, struct json_object *v)
{
	return 7;
}

static void test_callback_stops(void **state)
{
	struct sync_decoder d;

	assert_int_equal(sync_decoder_init(&d, SYNC_EVENT_MAX), 0);
	assert_int_equal(sync_decoder_feed(&d, stream, strlen(stream), stop, NULL), 7);
	sync_decoder_free(&d);
}

static int event_of(const char *text, struct sync_event *ev, char *err)
{
	struct json_object *v = json_tokener_parse(text);
	int ret;

	assert_non_null(v);
	ret = sync_event_read(v, ev, err, 160);
	json_object_put(v);
	return ret;
}

static void test_events(void **state)
{
	struct sync_event ev;
	char err[160];

	assert_int_equal(event_of("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
				  "\"code\":410,\"reason\":\"Expired\",\"message\":"
				  "\"too old resource version: 1 (5)\"}}", &ev, err), 0);
	assert_int_equal(ev.type, SYNC_EV_ERROR);
	assert_int_equal(ev.code, 410);
	assert_int_equal(event_of("{\"type\":\"ADDED\",\"object\":{\"metadata\":"
				  "{\"namespace\":\"a\"}}}", &ev, err), -EBADMSG);
	assert_non_null(strstr(err, "ADDED event whose object has no metadata.name"));
	assert_int_equal(event_of("{\"type\":\"ADDED\",\"object\":{\"metadata\":"
				  "{\"name\":7}}}", &ev, err), -EBADMSG);
	assert_int_equal(event_of("{\"type\":\"RENAMED\",\"object\":{}}", &ev, err), -EBADMSG);
	assert_non_null(strstr(err, "\"RENAMED\""));
	assert_int_equal(event_of("[1,2]", &ev, err), -EBADMSG);
	assert_int_equal(event_of("{\"type\":\"MODIFIED\",\"object\":\"x\"}", &ev, err), -EBADMSG);
}

static void test_render(void **state)
{
	struct json_object *o = json_tokener_parse(
		"{\"metadata\":{\"name\":\"web\",\"managedFields\":[{\"manager\":\"k\"}]},"
		"\"spec\":{\"clusterIP\":\"10.96.0.1\"}}");
	size_t len;
	const char *text = sync_object_render(o, "v1", "Service", &len);

	assert_non_null(text);
	assert_null(strstr(text, "managedFields"));
	assert_non_null(strstr(text, "\"apiVersion\":\"v1\""));
	assert_non_null(strstr(text, "\"kind\":\"Service\""));
	assert_int_equal(strlen(text), len);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_any_chunking),
		cmocka_unit_test(test_number_cut_by_chunk),
		cmocka_unit_test(test_garbage_named),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_render),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
