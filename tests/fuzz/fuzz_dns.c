/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: what a DNS client (or anything on the network) sends
 * ldmesh-dns, through the code the server runs on it: dns_handle (the
 * header and question checks, libldns's parse, the cluster answer from a
 * fixed table with a ClusterIP, a headless and an ExternalName Service,
 * the reply built and cut to the UDP limit), both as UDP and TCP; then the
 * same bytes as an upstream's answer through the cache (dns_cache_ttl's
 * walk over every record, put, get).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "cache.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DNS_MSG_MAX];
	static struct dns_cache *cache;
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
		if (dns_handle(fz__table(), buf, size, tcp, size, out, sizeof(out), &n, &info) ==
		    DNS_FORWARD) {
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
	/* no table: every well-formed query is forwarded */
	fz_sink += dns_handle(NULL, buf, size, false, 0, out, sizeof(out), &n, &info);
	free(buf);
	return 0;
}
