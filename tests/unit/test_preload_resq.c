/* SPDX-License-Identifier: MIT */
/*
 * preload/resq.c: the names glibc's res_search tries, in its order, and
 * the contracts a reply is handed over with (glibc's, musl's). The replies
 * themselves are ldmesh-dns's (test_dns_wire); test_res_query.sh checks
 * all of it against glibc talking to ldmesh-dns over the network.
 */
#include <errno.h>
#include <netdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "resq.h"
#include "test_preload_fixture.h"

static char *const search3[] = { "default.svc.cluster.local", "svc.cluster.local",
				 "cluster.local", NULL };

/* The plan as "name|domain" strings, comma-separated, "!" marking the
 * first try as is. */
static const char *plan_str(const char *name, unsigned ndots, bool defnames, bool dnsrch,
			    bool notld, char *const *list)
{
	static char out[1024];
	struct resq_search p;
	char full[RESQ_NAME_MAX];

	resq_search_plan(name, ndots, defnames, dnsrch, notld, list, 6, &p);
	out[0] = 0;
	for (unsigned i = 0; i < p.n; i++) {
		if (i)
			strcat(out, ",");
		if (p.c[i].as_is_first)
			strcat(out, "!");
		strcat(out, resq_search_name(&p, i, full) ? full : "<long>");
	}
	return out;
}

static void test_search_order(void **state)
{
	(void)state;
	/* fewer dots than ndots: the search list, then the name */
	assert_string_equal(plan_str("backend", 5, true, true, false, search3),
			    "backend.default.svc.cluster.local,backend.svc.cluster.local,"
			    "backend.cluster.local,backend");
	/* RES_NOTLDQUERY: a name without dots is not tried as is */
	assert_string_equal(plan_str("backend", 5, true, true, true, search3),
			    "backend.default.svc.cluster.local,backend.svc.cluster.local,"
			    "backend.cluster.local");
	/* ndots dots or more: as is first, then the list, not as is again */
	assert_string_equal(plan_str("a.b.c.d.e", 4, true, true, false, search3),
			    "!a.b.c.d.e,a.b.c.d.e.default.svc.cluster.local,"
			    "a.b.c.d.e.svc.cluster.local,a.b.c.d.e.cluster.local");
	/* a trailing dot: that one try, its dot dropped */
	assert_string_equal(plan_str("backend.", 5, true, true, false, search3), "!backend");
	/* dots without RES_DNSRCH: no search */
	assert_string_equal(plan_str("db.data", 5, true, false, false, search3), "db.data");
	/* no dots, RES_DEFNAMES without RES_DNSRCH: the first domain only */
	assert_string_equal(plan_str("web", 5, true, false, false, search3),
			    "web.default.svc.cluster.local,web");
}

static void test_search_root_and_length(void **state)
{
	char *const rooted[] = { "cluster.local", ".", NULL };
	char longname[1100];

	(void)state;
	/* the root on the list stands for the name as is */
	assert_string_equal(plan_str("web", 1, true, true, false, rooted),
			    "web.cluster.local,web.");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_string_equal(plan_str(longname, 5, true, true, false, search3),
			    "<long>,<long>,<long>,<long>");
}

/* A reply of `len` bytes: question "a." A IN, `an` answers counted,
 * rcode; the rest zeros. */
static void reply(struct resq_reply *r, size_t len, unsigned rcode, unsigned an, bool tcp)
{
	static const uint8_t q[] = { 1, 'a', 0, 0, 1, 0, 1 };

	memset(r, 0, sizeof(*r));
	r->m[2] = 0x81;
	r->m[3] = (uint8_t)(0x80 | rcode);
	r->m[5] = 1;
	r->m[7] = (uint8_t)an;
	memcpy(r->m + 12, q, sizeof(q));
	r->len = len;
	r->question_end = 12 + sizeof(q);
	r->via_tcp = tcp;
}

static void test_glibc_contract(void **state)
{
	unsigned char ans[2048];
	struct resq_reply r;
	struct resq_result res;

	(void)state;
	reply(&r, 100, 0, 1, false);
	res = resq_deliver_glibc(&r, ans, sizeof(ans));
	assert_int_equal(res.ret, 100);
	assert_int_equal(res.herr, -1);
	assert_int_equal(res.err, 0);
	/* UDP cut: what fits */
	res = resq_deliver_glibc(&r, ans, 30);
	assert_int_equal(res.ret, 30);
	assert_int_equal(res.err, 0);
	/* ... the question's name cut: still taken, EMSGSIZE left behind */
	res = resq_deliver_glibc(&r, ans, 13);
	assert_int_equal(res.ret, 13);
	assert_int_equal(res.err, EMSGSIZE);
	/* below a header */
	res = resq_deliver_glibc(&r, ans, 11);
	assert_int_equal(res.ret, -1);
	assert_int_equal(res.herr, TRY_AGAIN);
	assert_int_equal(res.err, EINVAL);
	/* TCP cut: the full length, TC set in the caller's copy only */
	reply(&r, 900, 0, 40, true);
	res = resq_deliver_glibc(&r, ans, 100);
	assert_int_equal(res.ret, 900);
	assert_true(ans[2] & 0x02);
	assert_false(r.m[2] & 0x02);
	/* rcodes */
	reply(&r, 60, 3, 0, false);
	res = resq_deliver_glibc(&r, ans, sizeof(ans));
	assert_int_equal(res.ret, -1);
	assert_int_equal(res.herr, HOST_NOT_FOUND);
	reply(&r, 60, 0, 0, false);
	res = resq_deliver_glibc(&r, ans, sizeof(ans));
	assert_int_equal(res.ret, -1);
	assert_int_equal(res.herr, NO_DATA);
}

static void test_musl_contract(void **state)
{
	unsigned char ans[64];
	struct resq_reply r;
	struct resq_result res;

	(void)state;
	reply(&r, 300, 0, 2, false);
	res = resq_deliver_musl(&r, ans, 40);
	assert_int_equal(res.ret, 40);
	assert_int_equal(res.herr, -1);
	res = resq_deliver_musl(&r, ans, 11);
	assert_int_equal(res.ret, -1);
	assert_int_equal(res.herr, TRY_AGAIN);
	reply(&r, 60, 3, 0, false);
	res = resq_deliver_musl(&r, ans, sizeof(ans));
	assert_int_equal(res.ret, -1);
	assert_int_equal(res.herr, HOST_NOT_FOUND);
}

/* Which names the table answers, and what nothing in a name can do. */
static void test_answer_edges(void **state)
{
	const struct resq_opts o = { .rd = true, .tcp = true };
	char longname[400];
	struct resq_reply r;
	struct fx f;

	(void)state;
	fx_build(&f, 42);
	assert_true(resq_answer(&f.snap, "BackEnd.Default.svc.cluster.local", 1, 1, &o, 512, 7,
				&r));
	assert_int_equal(r.m[3] & 15, 0);
	assert_int_equal(r.m[7], 1);
	assert_false(r.via_tcp);
	assert_int_equal(r.generation, 42);
	/* the question as the caller spelt it */
	assert_memory_equal(r.m + 13, "BackEnd", 7);
	/* a name the complete table lacks: NXDOMAIN */
	assert_true(resq_answer(&f.snap, "nope.default.svc.cluster.local", 1, 1, &o, 512, 7, &r));
	assert_int_equal(r.m[3] & 15, 3);
	/* an ExternalName whose target is outside: the resolver's */
	assert_false(resq_answer(&f.snap, "ext.default.svc.cluster.local", 1, 1, &o, 512, 7, &r));
	/* not the cluster's, or not a name as we write them */
	assert_false(resq_answer(&f.snap, "example.org", 1, 1, &o, 512, 7, &r));
	assert_false(resq_answer(&f.snap, "a..default.svc.cluster.local", 1, 1, &o, 512, 7, &r));
	assert_false(resq_answer(&f.snap, "x\\.y.default.svc.cluster.local", 1, 1, &o, 512, 7, &r));
	assert_false(resq_answer(&f.snap, "", 1, 1, &o, 512, 7, &r));
	assert_false(resq_answer(&f.snap, ".", 1, 1, &o, 512, 7, &r));
	assert_false(resq_answer(&f.snap, NULL, 1, 1, &o, 512, 7, &r));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_false(resq_answer(&f.snap, longname, 1, 1, &o, 512, 7, &r));
	/* class CH, and types and classes no query can carry */
	assert_false(resq_answer(&f.snap, "backend.default.svc.cluster.local", 3, 1, &o, 512, 7,
				 &r));
	assert_false(resq_answer(&f.snap, "backend.default.svc.cluster.local", 1, 0x10000, &o, 512,
				 7, &r));
	assert_false(resq_answer(&f.snap, "backend.default.svc.cluster.local", -1, 1, &o, 512, 7,
				 &r));
	assert_true(resq_owns(&f.snap, "_http._tcp.backend.default.svc.cluster.local", 1, 33));
	assert_false(resq_owns(&f.snap, "example.org", 1, 1));
	assert_false(resq_owns(NULL, "backend.default.svc.cluster.local", 1, 1));
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_search_order),
		cmocka_unit_test(test_search_root_and_length),
		cmocka_unit_test(test_glibc_contract),
		cmocka_unit_test(test_musl_contract),
		cmocka_unit_test(test_answer_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
