/* SPDX-License-Identifier: MIT */
/* getaddrinfo results built from table answers: service and socket-type
 * expansion with glibc's codes, family selection (AF_UNSPEC, AF_INET,
 * AF_INET6 with and without AI_V4MAPPED/AI_ALL), canonical names, and
 * freeaddrinfo telling our lists from glibc's. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gai.h"
#include "lookup.h"
#include "real.h"
#include "test_preload_fixture.h"

static struct addrinfo hints(int family, int socktype, int protocol, int flags)
{
	struct addrinfo h;
	memset(&h, 0, sizeof(h));
	h.ai_family = family;
	h.ai_socktype = socktype;
	h.ai_protocol = protocol;
	h.ai_flags = flags;
	return h;
}

/* "st/proto/port st/proto/port ..." */
static int tuples(const char *service, struct addrinfo h, char *out, size_t cap)
{
	struct gai_tuple t[GAI_MAX_TUPLES];
	unsigned n = 0;
	int rc = gai_service(service, &h, t, &n);

	out[0] = 0;
	for (unsigned i = 0; !rc && i < n; i++) {
		char one[32];
		snprintf(one, sizeof(one), "%s%d/%d/%u", i ? " " : "",
			 t[i].socktype, t[i].protocol, t[i].port);
		strncat(out, one, cap - strlen(out) - 1);
	}
	return rc;
}

static void test_service_expansion(void **state)
{
	char out[256];

	/* no socktype/protocol: tcp, udp and raw, as glibc */
	assert_int_equal(tuples(NULL, hints(0, 0, 0, 0), out, sizeof(out)), 0);
	assert_string_equal(out, "1/6/0 2/17/0 3/0/0");
	assert_int_equal(tuples("", hints(0, 0, 0, 0), out, sizeof(out)), 0);
	assert_string_equal(out, "1/6/0 2/17/0 3/0/0");
	assert_int_equal(tuples("8080", hints(0, 0, 0, 0), out, sizeof(out)), 0);
	assert_string_equal(out, "1/6/8080 2/17/8080 3/0/8080");
	/* a named service only where /etc/services has it (http: tcp) */
	assert_int_equal(tuples("http", hints(0, 0, 0, 0), out, sizeof(out)), 0);
	assert_string_equal(out, "1/6/80");
	assert_int_equal(tuples("domain", hints(0, 0, 0, 0), out, sizeof(out)), 0);
	assert_string_equal(out, "1/6/53 2/17/53");

	assert_int_equal(tuples("80", hints(0, SOCK_STREAM, 0, 0), out, sizeof(out)), 0);
	assert_string_equal(out, "1/6/80");
	assert_int_equal(tuples("80", hints(0, SOCK_DGRAM, 0, 0), out, sizeof(out)), 0);
	assert_string_equal(out, "2/17/80");
	assert_int_equal(tuples("80", hints(0, 0, IPPROTO_UDP, 0), out, sizeof(out)), 0);
	assert_string_equal(out, "2/17/80");
	assert_int_equal(tuples("80", hints(0, SOCK_STREAM, IPPROTO_SCTP, 0), out, sizeof(out)), 0);
	assert_string_equal(out, "1/132/80");
	/* raw takes any protocol but no port */
	assert_int_equal(tuples(NULL, hints(0, SOCK_RAW, 200, 0), out, sizeof(out)), 0);
	assert_string_equal(out, "3/200/0");

	/* the errors, glibc's */
	assert_int_equal(tuples("http", hints(0, 0, 0, AI_NUMERICSERV), out, sizeof(out)), EAI_NONAME);
	assert_int_equal(tuples("nosuchservice", hints(0, 0, 0, 0), out, sizeof(out)), EAI_SERVICE);
	assert_int_equal(tuples("http", hints(0, SOCK_DGRAM, 0, 0), out, sizeof(out)), EAI_SERVICE);
	assert_int_equal(tuples("80", hints(0, SOCK_RAW, 0, 0), out, sizeof(out)), EAI_SERVICE);
	assert_int_equal(tuples("80", hints(0, 77, 0, 0), out, sizeof(out)), EAI_SOCKTYPE);
	assert_int_equal(tuples("80", hints(0, SOCK_STREAM, IPPROTO_UDP, 0), out, sizeof(out)), EAI_SOCKTYPE);
	/* an unknown protocol can only be raw, which carries no port */
	assert_int_equal(tuples("80", hints(0, 0, 200, 0), out, sizeof(out)), EAI_SERVICE);
}

/* one found lookup for `name` on the fixture */
static void lookup(const char *name, struct lookup_result *r)
{
	static struct fx f;
	struct preload_config c;

	if (!f.bytes)
		fx_build(&f, 7);
	config_defaults(&c);
	lookup_name(&f.snap, &c, name, 0, r);
	assert_int_equal(r->status, LOOKUP_FOUND);
}

/* "family:addr:port/socktype ..." of a built list */
static void render(const struct addrinfo *ai, char *out, size_t cap)
{
	out[0] = 0;
	for (; ai; ai = ai->ai_next) {
		char a[64], one[128];
		unsigned port;

		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *in = (const void *)ai->ai_addr;
			assert_int_equal(ai->ai_addrlen, sizeof(*in));
			assert_int_equal(in->sin_family, AF_INET);
			inet_ntop(AF_INET, &in->sin_addr, a, sizeof(a));
			port = ntohs(in->sin_port);
		} else {
			const struct sockaddr_in6 *in6 = (const void *)ai->ai_addr;
			assert_int_equal(ai->ai_family, AF_INET6);
			assert_int_equal(ai->ai_addrlen, sizeof(*in6));
			assert_int_equal(in6->sin6_family, AF_INET6);
			inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
			port = ntohs(in6->sin6_port);
		}
		snprintf(one, sizeof(one), "%s%d:%s:%u/%d", out[0] ? " " : "",
			 ai->ai_family == AF_INET ? 4 : 6, a, port, ai->ai_socktype);
		strncat(out, one, cap - strlen(out) - 1);
	}
}

static int build(const char *name, int family, int flags, const char *service,
		 int socktype, char *out, size_t cap)
{
	struct lookup_result r;
	struct addrinfo h = hints(family, socktype, 0, flags), *res = NULL;
	struct gai_tuple t[GAI_MAX_TUPLES];
	unsigned nt;
	int rc;

	lookup(name, &r);
	rc = gai_service(service, &h, t, &nt);
	assert_int_equal(rc, 0);
	rc = gai_build(&r, family, flags, t, nt, &res);
	out[0] = 0;
	if (rc == 0) {
		assert_true(gai_is_ours(res));
		assert_int_equal(res->ai_flags, flags);
		if (flags & AI_CANONNAME) {
			assert_non_null(res->ai_canonname);
			assert_string_equal(res->ai_canonname, r.canon);
		} else {
			assert_null(res->ai_canonname);
		}
		if (res->ai_next)
			assert_null(res->ai_next->ai_canonname);
		render(res, out, cap);
		gai_free(res);
	}
	return rc;
}

static void test_families(void **state)
{
	char out[1024];

	/* v4-only service */
	assert_int_equal(build("backend", AF_UNSPEC, 0, "80", SOCK_STREAM, out, sizeof(out)), 0);
	assert_string_equal(out, "4:10.96.0.10:80/1");
	assert_int_equal(build("backend", AF_INET, 0, "80", SOCK_STREAM, out, sizeof(out)), 0);
	assert_string_equal(out, "4:10.96.0.10:80/1");
	assert_int_equal(build("backend", AF_INET6, 0, "80", SOCK_STREAM, out, sizeof(out)), EAI_NODATA);
	assert_int_equal(build("backend", AF_INET6, AI_V4MAPPED, "80", SOCK_STREAM, out, sizeof(out)), 0);
	assert_string_equal(out, "6:::ffff:10.96.0.10:80/1");
	/* AI_V4MAPPED means nothing for AF_UNSPEC */
	assert_int_equal(build("backend", AF_UNSPEC, AI_V4MAPPED, "80", SOCK_STREAM, out, sizeof(out)), 0);
	assert_string_equal(out, "4:10.96.0.10:80/1");

	/* dual-stack: both for AF_UNSPEC, one each otherwise */
	assert_int_equal(build("dual", AF_UNSPEC, AI_CANONNAME, "80", SOCK_STREAM, out, sizeof(out)), 0);
	assert_string_equal(out, "4:10.96.0.20:80/1 6:fd00:96::20:80/1");
	assert_int_equal(build("dual", AF_INET, 0, "80", SOCK_STREAM, out, sizeof(out)), 0);
	assert_string_equal(out, "4:10.96.0.20:80/1");
	assert_int_equal(build("dual", AF_INET6, 0, "80", SOCK_STREAM, out, sizeof(out)), 0);
	assert_string_equal(out, "6:fd00:96::20:80/1");
	/* with a v6 address, AI_V4MAPPED adds nothing, unless AI_ALL */
	assert_int_equal(build("dual", AF_INET6, AI_V4MAPPED, "80", SOCK_STREAM, out, sizeof(out)), 0);
	assert_string_equal(out, "6:fd00:96::20:80/1");
	assert_int_equal(build("dual", AF_INET6, AI_V4MAPPED | AI_ALL, "80", SOCK_STREAM, out, sizeof(out)), 0);
	assert_string_equal(out, "6:fd00:96::20:80/1 6:::ffff:10.96.0.20:80/1");

	/* v6-only service */
	assert_int_equal(build("v6only", AF_INET, 0, NULL, SOCK_STREAM, out, sizeof(out)), EAI_NODATA);
	assert_int_equal(build("v6only", AF_INET6, 0, NULL, SOCK_STREAM, out, sizeof(out)), 0);
	assert_string_equal(out, "6:fd00:96::30:0/1");

	/* per address, every socket type, in glibc's order */
	assert_int_equal(build("dual", AF_UNSPEC, 0, "53", 0, out, sizeof(out)), 0);
	assert_string_equal(out,
		"4:10.96.0.20:53/1 4:10.96.0.20:53/2 4:10.96.0.20:53/3 "
		"6:fd00:96::20:53/1 6:fd00:96::20:53/2 6:fd00:96::20:53/3");

	/* headless: the pod IPs, canonname the FQDN */
	assert_int_equal(build("web-0.headless", AF_INET, AI_CANONNAME, "http", 0, out, sizeof(out)), 0);
	assert_string_equal(out, "4:10.244.3.1:80/1");
}

static void test_free_both_kinds(void **state)
{
	struct lookup_result r;
	struct addrinfo h = hints(AF_INET, SOCK_STREAM, 0, AI_NUMERICHOST), *libc = NULL, *ours = NULL;
	struct gai_tuple t[GAI_MAX_TUPLES];
	unsigned nt;

	real_init();
	/* a glibc list (numeric: no resolver traffic) is never ours */
	assert_int_equal(real.getaddrinfo("127.0.0.1", "80", &h, &libc), 0);
	assert_false(gai_is_ours(libc));
	assert_ptr_equal(libc->ai_addr, (struct sockaddr *)(libc + 1));
	real.freeaddrinfo(libc);

	lookup("dual", &r);
	h = hints(AF_UNSPEC, 0, 0, AI_CANONNAME);
	assert_int_equal(gai_service("80", &h, t, &nt), 0);
	assert_int_equal(gai_build(&r, AF_UNSPEC, AI_CANONNAME, t, nt, &ours), 0);
	assert_true(gai_is_ours(ours));
	/* only the head is the allocation; a later node is not a list head */
	assert_false(gai_is_ours(ours->ai_next));
	assert_false(gai_is_ours(NULL));
	gai_free(ours); /* one free releases all six nodes (ASan/valgrind) */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_expansion),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_free_both_kinds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
