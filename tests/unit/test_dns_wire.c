/* SPDX-License-Identifier: MIT */
/*
 * ldmesh-dns's codec and answers (preload/dnsanswer/): known queries against a
 * fixed table, each reply read back by libldns (the reference codec) and
 * its records compared as ldns prints them; truncation at the client's
 * UDP limit; the cache's TTLs, rewriting and bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <ldns/ldns.h>

#include "answer.h"
#include "cache.h"
#include "rindex.h"
#include "ldmesh/reader.h"
#include "snap_build.h"

#define V4(a, b, c, d) { [10] = 0xff, [11] = 0xff, a, b, c, d }
#define MANY 100

static struct ldmesh_snap table;
static void *table_bytes;
/* the index by address ask() passes: NULL, scans, or one (rindex.h) */
static struct dns_rindex **ask_ri;

static int setup(void **state)
{
	static const struct snap_port_in http = { .name = "http", .port = 80, .target_port = 8080,
						  .protocol = LDMESH_PROTO_TCP };
	static uint16_t ports[MANY];
	static struct snap_endpoint_in eps[MANY];
	struct snap_service_in svcs[] = {
		{ .ns = "default", .name = "backend", .n_cluster_ips = 1,
		  .cluster_ips = { V4(10, 96, 0, 10) }, .ports = &http, .n_ports = 1 },
		{ .ns = "default", .name = "db", .flags = LDMESH_SVC_F_HEADLESS, .ports = &http,
		  .n_ports = 1, .endpoints = eps, .n_endpoints = 2 },
		{ .ns = "default", .name = "many", .flags = LDMESH_SVC_F_HEADLESS, .ports = &http,
		  .n_ports = 1, .endpoints = eps, .n_endpoints = MANY },
	};
	struct snap_input in = { .cluster_domain = "cluster.local", .generation = 7,
				 .service_cidr = V4(10, 96, 0, 0), .service_cidr_prefix = 108,
				 .services = svcs, .n_services = 3 };
	size_t n;

	(void)state;
	for (int i = 0; i < MANY; i++) {
		uint8_t a[16] = V4(10, 244, 1, (uint8_t)(i + 1));

		ports[i] = 8080;
		memcpy(eps[i].addr, a, 16);
		eps[i].flags = LDMESH_EP_F_READY;
		eps[i].ports = &ports[i];
	}
	eps[0].hostname = "p0";
	if (snap_build(&in, &table_bytes, &n) || ldmesh_snap_init(&table, table_bytes, n, NULL))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(table_bytes);
	return 0;
}

/* Ask `name` `type` (UDP with EDNS when `edns`, else TCP); the reply as
 * ldns reads it (asserting it can). */
static ldns_pkt *ask(const char *name, ldns_rr_type type, bool tcp, bool edns, size_t *len)
{
	static uint8_t out[DNS_MSG_MAX];
	ldns_rdf *qn = NULL;
	ldns_pkt *q, *r = NULL;
	struct dns_query_info info;
	uint8_t *w = NULL;
	size_t wl = 0, n = 0;

	assert_int_equal(ldns_str2rdf_dname(&qn, name), LDNS_STATUS_OK);
	q = ldns_pkt_query_new(qn, type, LDNS_RR_CLASS_IN, LDNS_RD);
	ldns_pkt_set_id(q, 0x4242);
	if (edns)
		ldns_pkt_set_edns_udp_size(q, 1232);
	assert_int_equal(ldns_pkt2wire(&w, q, &wl), LDNS_STATUS_OK);
	assert_int_equal(dns_handle_indexed(&table, ask_ri, w, wl, tcp, 0, out, sizeof(out), &n,
					    &info),
			 DNS_REPLY);
	assert_int_equal(ldns_wire2pkt(&r, out, n), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(r), 0x4242);
	if (len)
		*len = n;
	free(w);
	ldns_pkt_free(q);
	return r;
}

/* A section as ldns prints it, records sorted (answer order is random
 * for headless Services). */
static char *section(const ldns_rr_list *l)
{
	static char buf[16384];
	char *lines[256];
	size_t n = ldns_rr_list_rr_count(l), off = 0;

	assert_true(n < 256);
	for (size_t i = 0; i < n; i++)
		lines[i] = ldns_rr2str(ldns_rr_list_rr(l, i));
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(lines[i], lines[j]) > 0) {
				char *t = lines[i];
				lines[i] = lines[j];
				lines[j] = t;
			}
	buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s", lines[i]);
		free(lines[i]);
	}
	return buf;
}

static void test_a(void **state)
{
	ldns_pkt *r = ask("BaCkEnD.default.svc.cluster.local", LDNS_RR_TYPE_A, false, false, NULL);

	(void)state;
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(r));
	/* the owner as the client spelt it (0x20) */
	assert_string_equal(section(ldns_pkt_answer(r)),
			    "BaCkEnD.default.svc.cluster.local.\t5\tIN\tA\t10.96.0.10\n");
	ldns_pkt_free(r);
}

static void test_srv_headless(void **state)
{
	ldns_pkt *r = ask("_http._tcp.db.default.svc.cluster.local", LDNS_RR_TYPE_SRV, false, true,
			  NULL);

	(void)state;
	assert_string_equal(section(ldns_pkt_answer(r)),
			    "_http._tcp.db.default.svc.cluster.local.\t5\tIN\tSRV\t0 100 8080 "
			    "10-244-1-2.db.default.svc.cluster.local.\n"
			    "_http._tcp.db.default.svc.cluster.local.\t5\tIN\tSRV\t0 100 8080 "
			    "p0.db.default.svc.cluster.local.\n");
	assert_string_equal(section(ldns_pkt_additional(r)),
			    "10-244-1-2.db.default.svc.cluster.local.\t5\tIN\tA\t10.244.1.2\n"
			    "p0.db.default.svc.cluster.local.\t5\tIN\tA\t10.244.1.1\n");
	assert_int_equal(ldns_pkt_edns_udp_size(r), DNS_EDNS_SIZE);
	ldns_pkt_free(r);
}

static void test_ptr(void **state)
{
	ldns_pkt *r = ask("1.1.244.10.in-addr.arpa", LDNS_RR_TYPE_PTR, false, false, NULL);

	(void)state;
	assert_string_equal(section(ldns_pkt_answer(r)),
			    "1.1.244.10.in-addr.arpa.\t5\tIN\tPTR\tp0.db.default.svc.cluster.local.\n"
			    "1.1.244.10.in-addr.arpa.\t5\tIN\tPTR\tp0.many.default.svc.cluster.local.\n");
	ldns_pkt_free(r);
	r = ask("10.0.96.10.in-addr.arpa", LDNS_RR_TYPE_PTR, false, false, NULL);
	assert_string_equal(section(ldns_pkt_answer(r)),
			    "10.0.96.10.in-addr.arpa.\t5\tIN\tPTR\tbackend.default.svc.cluster.local.\n");
	ldns_pkt_free(r);
	/* in the service range, unknown to a complete table */
	r = ask("99.0.96.10.in-addr.arpa", LDNS_RR_TYPE_PTR, false, false, NULL);
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(r);
}

/* The same answers through the index by address, built on first use. */
static void test_ptr_indexed(void **state)
{
	struct dns_rindex *ri = NULL;

	ask_ri = &ri;
	test_ptr(state);
	assert_non_null(ri);
	assert_true(dns_rindex_of(ri, &table));
	ask_ri = NULL;
	dns_rindex_free(ri);
}

static void test_nxdomain_soa(void **state)
{
	ldns_pkt *r = ask("nope.default.svc.cluster.local", LDNS_RR_TYPE_A, false, false, NULL);

	(void)state;
	assert_int_equal(ldns_pkt_get_rcode(r), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(r), 0);
	assert_string_equal(section(ldns_pkt_authority(r)),
			    "cluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. "
			    "hostmaster.cluster.local. 7 7200 1800 86400 5\n");
	ldns_pkt_free(r);
}

static void test_truncation(void **state)
{
	size_t len;
	ldns_pkt *r = ask("many.default.svc.cluster.local", LDNS_RR_TYPE_A, false, false, &len);

	(void)state;
	/* 100 A records do not fit 512 bytes: TC, for the client to retry
	 * over TCP */
	assert_true(ldns_pkt_tc(r));
	assert_true(len <= DNS_UDP_PLAIN);
	ldns_pkt_free(r);
	r = ask("many.default.svc.cluster.local", LDNS_RR_TYPE_A, true, false, &len);
	assert_false(ldns_pkt_tc(r));
	assert_int_equal(ldns_pkt_ancount(r), MANY);
	ldns_pkt_free(r);
}

/* ---- the cache ------------------------------------------------------------ */

static size_t wire_of(ldns_pkt *p, uint8_t *out)
{
	uint8_t *w = NULL;
	size_t n = 0;

	assert_int_equal(ldns_pkt2wire(&w, p, &n), LDNS_STATUS_OK);
	memcpy(out, w, n);
	free(w);
	return n;
}

static void test_cache(void **state)
{
	static uint8_t q[512], resp[512], out[512];
	ldns_rdf *qn = NULL;
	ldns_rr *rr = NULL;
	ldns_pkt *p, *r = NULL;
	struct dns_cache *c;
	struct dns_query_info info;
	size_t ql, rl, n;

	(void)state;
	assert_int_equal(dns_cache_new(&c, 2, 1 << 20), 0);
	ldns_str2rdf_dname(&qn, "WwW.example.org");
	p = ldns_pkt_query_new(qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
	ldns_pkt_set_id(p, 7);
	ql = wire_of(p, q);
	assert_int_equal(dns_handle(NULL, q, ql, false, 0, out, sizeof(out), &n, &info), DNS_FORWARD);
	/* the upstream's answer: TTL 300 */
	ldns_pkt_set_qr(p, true);
	ldns_rr_new_frm_str(&rr, "www.example.org. 300 IN A 192.0.2.7", 0, NULL, NULL);
	ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	rl = wire_of(p, resp);
	assert_int_equal(dns_cache_get(c, &info, 100, out, sizeof(out)), 0);
	dns_cache_put(c, &info, resp, rl, 100);
	/* asked again 100 s later, as "www.EXAMPLE.org", ID 9 */
	ldns_pkt_free(p);
	qn = NULL;
	ldns_str2rdf_dname(&qn, "www.EXAMPLE.org");
	p = ldns_pkt_query_new(qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
	ldns_pkt_set_id(p, 9);
	ql = wire_of(p, q);
	assert_int_equal(dns_handle(NULL, q, ql, false, 0, out, sizeof(out), &n, &info), DNS_FORWARD);
	n = dns_cache_get(c, &info, 200, out, sizeof(out));
	assert_int_equal(n, rl);
	assert_int_equal(ldns_wire2pkt(&r, out, n), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(r), 9);
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(r), 0)), 200);
	{
		char *qs = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(r), 0)));
		assert_string_equal(qs, "www.EXAMPLE.org.");
		free(qs);
	}
	ldns_pkt_free(r);
	/* expired at 400 */
	assert_int_equal(dns_cache_get(c, &info, 400, out, sizeof(out)), 0);
	assert_int_equal(dns_cache_entries(c), 0);
	ldns_pkt_free(p);
	dns_cache_free(c);
}

static void test_cache_negative(void **state)
{
	static uint8_t resp[512];
	uint16_t offs[8];
	size_t n_offs, rl;
	ldns_rdf *qn = NULL;
	ldns_rr *soa = NULL;
	ldns_pkt *p;

	(void)state;
	ldns_str2rdf_dname(&qn, "nope.example.org");
	p = ldns_pkt_query_new(qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, LDNS_RCODE_NXDOMAIN);
	ldns_rr_new_frm_str(&soa, "example.org. 600 IN SOA ns. host. 1 2 3 4 60", 0, NULL, NULL);
	ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, soa);
	rl = wire_of(p, resp);
	/* RFC 2308: the smaller of the SOA's TTL and its minimum */
	assert_int_equal(dns_cache_ttl(resp, rl, offs, 8, &n_offs), 60);
	assert_int_equal(n_offs, 1);
	/* SERVFAIL is never kept */
	resp[3] = (uint8_t)((resp[3] & 0xf0) | 2);
	assert_int_equal(dns_cache_ttl(resp, rl, offs, 8, &n_offs), -1);
	ldns_pkt_free(p);
}

/* A cache of two keeps two, however many names are put: the least
 * recently used goes. */
static void test_cache_bound(void **state)
{
	static const char *const names[] = { "a.example.org", "b.example.org", "c.example.org" };
	static uint8_t q[3][512], resp[512], out[512];
	struct dns_query_info info[3];
	struct dns_cache *c;
	size_t n;

	(void)state;
	assert_int_equal(dns_cache_new(&c, 2, 1 << 20), 0);
	for (int i = 0; i < 3; i++) {
		ldns_rdf *qn = NULL;
		ldns_rr *rr = NULL;
		ldns_pkt *p;
		char text[64];
		size_t ql;

		ldns_str2rdf_dname(&qn, names[i]);
		p = ldns_pkt_query_new(qn, LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD);
		ql = wire_of(p, q[i]);
		assert_int_equal(dns_handle(NULL, q[i], ql, false, 0, out, sizeof(out), &n, &info[i]),
				 DNS_FORWARD);
		ldns_pkt_set_qr(p, true);
		snprintf(text, sizeof(text), "%s. 300 IN A 192.0.2.%d", names[i], i + 1);
		ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
		dns_cache_put(c, &info[i], resp, wire_of(p, resp), 0);
		ldns_pkt_free(p);
		if (i == 1) /* a used again: b is now the oldest */
			assert_int_not_equal(dns_cache_get(c, &info[0], 1, out, sizeof(out)), 0);
	}
	assert_int_equal(dns_cache_entries(c), 2);
	assert_int_not_equal(dns_cache_get(c, &info[0], 1, out, sizeof(out)), 0);
	assert_int_equal(dns_cache_get(c, &info[1], 1, out, sizeof(out)), 0);
	assert_int_not_equal(dns_cache_get(c, &info[2], 1, out, sizeof(out)), 0);
	dns_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a),
		cmocka_unit_test(test_srv_headless),
		cmocka_unit_test(test_ptr),
		cmocka_unit_test(test_ptr_indexed),
		cmocka_unit_test(test_nxdomain_soa),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_negative),
		cmocka_unit_test(test_cache_bound),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
