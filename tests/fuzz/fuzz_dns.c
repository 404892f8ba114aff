/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: what a DNS client (or anything on the network) sends
 * ldmesh-dns, through the code the server runs on it: dns_handle (the
 * header and question checks, libldns's parse, the cluster answer from a
 * fixed table with a ClusterIP, a headless and an ExternalName Service,
 * the reply built and cut to the UDP limit), both as UDP and TCP; then the
 * same bytes as an upstream's answer through the cache (dns_cache_ttl's
 * walk over every record, put, get).
 *
 * Differential against libldns (the reference codec, wire.h): every reply
 * ldmesh-dns's writer makes must parse with ldns_wire2pkt and say what the
 * writer meant (the question, the rcode, the section counts); a query both
 * parsers accept must read the same to both (question, EDNS size, DO).
 * A disagreement aborts, which libFuzzer reports as a crash.
 */
#include <ldns/ldns.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "cache.h"
#include "wire.h"
#include "ldmesh/reader.h"
#include "snap_build.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t fz_sink;

#define V4(a, b, c, d) { [10] = 0xff, [11] = 0xff, a, b, c, d }

static const struct ldmesh_snap *fz__table(void)
{
	static struct ldmesh_snap s;
	static void *bytes;
	static const struct snap_port_in http = { .name = "http", .port = 80, .target_port = 8080,
						  .protocol = LDMESH_PROTO_TCP };
	static const uint16_t ep_port = 8080;
	static const struct snap_endpoint_in eps[] = {
		{ .addr = V4(10, 244, 1, 5), .flags = LDMESH_EP_F_READY, .hostname = "p0",
		  .ports = &ep_port },
		{ .addr = V4(10, 244, 1, 6), .flags = LDMESH_EP_F_READY, .ports = &ep_port },
		{ .addr = { 0xfd, [15] = 7 }, .flags = LDMESH_EP_F_SERVING, .ports = &ep_port },
	};
	static const struct snap_service_in svcs[] = {
		{ .ns = "default", .name = "backend", .n_cluster_ips = 2,
		  .cluster_ips = { V4(10, 96, 0, 10), { 0xfd, [15] = 0x10 } }, .ports = &http,
		  .n_ports = 1, .endpoints = eps, .n_endpoints = 1 },
		{ .ns = "default", .name = "db", .flags = LDMESH_SVC_F_HEADLESS, .ports = &http,
		  .n_ports = 1, .endpoints = eps, .n_endpoints = 3 },
		{ .ns = "default", .name = "ext", .type = LDMESH_SVC_EXTERNAL_NAME,
		  .external_name = "example.org" },
	};
	size_t n;

	if (!bytes) {
		struct snap_input in = { .cluster_domain = "cluster.local", .generation = 1,
					 .service_cidr = V4(10, 96, 0, 0),
					 .service_cidr_prefix = 96 + 12,
					 .services = svcs, .n_services = 3 };
		if (snap_build(&in, &bytes, &n) || ldmesh_snap_init(&s, bytes, n, NULL))
			abort(); /* the fixed table must build */
	}
	return &s;
}

static void fz__fail(const char *what)
{
	fprintf(stderr, "fuzz_dns: ldns disagrees: %s\n", what);
	abort();
}

static uint16_t fz__get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Our reply, read by ldns. */
static void fz__check_reply(const uint8_t *r, size_t n, const struct dns_query_info *info)
{
	ldns_pkt *p = NULL;

	if (ldns_wire2pkt(&p, r, n) != LDNS_STATUS_OK)
		fz__fail("a reply it cannot parse");
	if (ldns_pkt_get_rcode(p) != (r[3] & 15u))
		fz__fail("rcode");
	if (ldns_pkt_ancount(p) != fz__get16(r + 6) || ldns_pkt_nscount(p) != fz__get16(r + 8) ||
	    ldns_pkt_id(p) != info->id || !ldns_pkt_qr(p))
		fz__fail("header");
	if (info->question_len) {
		ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
		uint8_t *w = NULL;
		size_t wl = 0;

		if (!q || ldns_rr_get_type(q) != info->qtype ||
		    ldns_rr_get_class(q) != info->qclass ||
		    ldns_rdf2wire(&w, ldns_rr_owner(q), &wl) != LDNS_STATUS_OK ||
		    wl != info->question_len - 4 || memcmp(w, info->question, wl))
			fz__fail("question");
		free(w);
	}
	ldns_pkt_free(p);
}

/* The query, read by both. */
static void fz__check_query(const uint8_t *q, size_t n, const struct dns_query_info *info)
{
	ldns_pkt *p = NULL;

	if (ldns_wire2pkt(&p, q, n) != LDNS_STATUS_OK)
		return; /* ldns is stricter on records a query has no use for */
	if (ldns_pkt_edns(p) != info->edns ||
	    (info->edns && (ldns_pkt_edns_do(p) != info->do_bit ||
			    (ldns_pkt_edns_udp_size(p) >= DNS_UDP_PLAIN &&
			     ldns_pkt_edns_udp_size(p) != info->udp_size))))
		fz__fail("EDNS");
	ldns_pkt_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DNS_MSG_MAX];
	static struct dns_cache *cache;
	static struct dns_rindex *ri;
	struct dns_query_info info;
	uint8_t *buf = malloc(size ? size : 1);
	size_t n;

	if (!buf)
		return 0;
	/* an exact-size copy: ASan's redzone right behind the last byte */
	memcpy(buf, data, size);
	if (!cache && dns_cache_new(&cache, 64, 1 << 20))
		abort();
	for (int tcp = 0; tcp < 2; tcp++) {
		/* TCP through the index by address, UDP by the scan */
		enum dns_verdict v = dns_handle_indexed(fz__table(), tcp ? &ri : NULL, buf, size, tcp,
							size, out, sizeof(out), &n, &info);

		if (v == DNS_REPLY && n)
			fz__check_reply(out, n, &info);
		if (v == DNS_FORWARD || (v == DNS_REPLY && (out[3] & 15) != DNS_RC_FORMERR))
			fz__check_query(buf, size, &info);
		if (v == DNS_FORWARD) {
			/* as the server: the cache asked, the input kept as if the
			 * upstream had said it, asked again */
			fz_sink += dns_cache_get(cache, &info, 1, out, sizeof(out));
			dns_cache_put(cache, &info, buf, size, 1);
			fz_sink += dns_cache_get(cache, &info, 2, out, sizeof(out));
		}
		fz_sink += n;
	}
	{ /* the bytes as an upstream's answer: the walk over its records */
		uint16_t offs[64];
		size_t n_offs;

		fz_sink += (size_t)dns_cache_ttl(buf, size, offs, 64, &n_offs);
	}
	{ /* the bytes as the upstream's answer to an ExternalName's target,
	   * spliced behind its CNAME: ldns must read the result */
		static const uint8_t ext_q[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
			3, 'e', 'x', 't', 7, 'd', 'e', 'f', 'a', 'u', 'l', 't', 3, 's', 'v', 'c',
			7, 'c', 'l', 'u', 's', 't', 'e', 'r', 5, 'l', 'o', 'c', 'a', 'l', 0,
			0, 1, 0, 1 };
		static uint8_t prefix[512], spliced[DNS_MSG_MAX];
		static size_t prefix_len;
		size_t k;

		if (!prefix_len &&
		    (dns_handle(fz__table(), ext_q, sizeof(ext_q), false, 0, prefix, sizeof(prefix),
				&prefix_len, &info) != DNS_REPLY || !info.chase))
			abort(); /* the fixed table's ExternalName must chase */
		k = dns_wire_splice(spliced, sizeof(spliced), prefix, prefix_len, buf, size);
		if (k) {
			ldns_pkt *p = NULL;

			if (ldns_wire2pkt(&p, spliced, k) != LDNS_STATUS_OK)
				fz__fail("a spliced reply it cannot parse");
			ldns_pkt_free(p);
		}
	}
	/* no table: every well-formed query is forwarded */
	fz_sink += dns_handle(NULL, buf, size, false, 0, out, sizeof(out), &n, &info);
	free(buf);
	return 0;
}
