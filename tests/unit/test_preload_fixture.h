/* SPDX-License-Identifier: MIT */
/*
 * A small cluster for the preload's unit tests, built with the agent's own
 * snapshot writer and read back through ldmesh_snap_init, so the tests see
 * exactly what a pod would map. Header-only: each test_preload_*.c is its
 * own executable.
 */
#ifndef LDMESH_TEST_PRELOAD_FIXTURE_H
#define LDMESH_TEST_PRELOAD_FIXTURE_H

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/reader.h"
#include "snap_build.h"
#include "testutil.h"

static inline void fx_ip(uint8_t out[16], const char *text)
{
	struct in_addr a4;

	memset(out, 0, 16);
	if (inet_pton(AF_INET, text, &a4) == 1) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
	} else if (inet_pton(AF_INET6, text, out) != 1) {
		abort();
	}
}

#define FX_EP(ip_, flags_, host_, ports_)                                  \
	{ .flags = (flags_), .hostname = (host_), .ports = (ports_),       \
	  .addr = { 0 }, .node = NULL, .zone = NULL, .target = NULL,       \
	  .zone_hints = NULL }

struct fx {
	void *bytes;
	size_t size;
	struct ldmesh_snap snap;
};

/*
 * default/backend     10.96.0.10  80/TCP->8080 (named "http"), 53/UDP->5353;
 *                     3 ready v4 pods .1.5 .1.6 .2.7
 * default/empty       10.96.0.11  80/TCP, no endpoints
 * other/db            10.96.0.12  3306/TCP -> 10.244.4.1
 * default/dual        10.96.0.20 + fd00:96::20, 80/TCP;
 *                     pods fd00:244::1 (v6) and 10.244.5.1
 * default/v6pods      10.96.0.21  80/TCP; only pod fd00:244::2
 * default/v6only      fd00:96::30 80/TCP -> fd00:244::3
 * default/headless    None; web-0 10.244.3.1, web-1 10.244.3.2 ready,
 *                     10.244.3.3 not ready
 * default/pubheadless None, publishNotReadyAddresses; 10.244.6.1 not ready
 * default/ext         ExternalName example.com
 * default/alias       ExternalName backend.default.svc.cluster.local
 * default/sticky      10.96.0.40 80/TCP, ClientIP; pods .7.1 .7.2 .7.3
 */
static inline void fx_build(struct fx *f, uint64_t generation)
{
	static const uint16_t be_ports[] = { 8080, 5353 };
	static const uint16_t p80[] = { 80 };
	static const uint16_t p3306[] = { 3306 };
	static const struct snap_port_in backend_ports[] = {
		{ .name = "http", .port = 80, .target_port = 8080,
		  .protocol = LDMESH_PROTO_TCP },
		{ .name = "dns", .port = 53, .target_port = 5353,
		  .protocol = LDMESH_PROTO_UDP },
	};
	static const struct snap_port_in http[] = {
		{ .name = "http", .port = 80, .target_port = 80,
		  .protocol = LDMESH_PROTO_TCP },
	};
	static const struct snap_port_in mysql[] = {
		{ .name = "mysql", .port = 3306, .target_port = 3306,
		  .protocol = LDMESH_PROTO_TCP },
	};
	static struct snap_endpoint_in backend_eps[] = {
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, NULL, be_ports),
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, NULL, be_ports),
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, NULL, be_ports),
	};
	static struct snap_endpoint_in db_eps[] = {
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, NULL, p3306),
	};
	static struct snap_endpoint_in dual_eps[] = {
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, NULL, p80),
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, NULL, p80),
	};
	static struct snap_endpoint_in v6pods_eps[] = {
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, NULL, p80),
	};
	static struct snap_endpoint_in v6only_eps[] = {
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, NULL, p80),
	};
	static struct snap_endpoint_in headless_eps[] = {
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, "web-0", p80),
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, "web-1", p80),
		FX_EP(0, 0, "web-2", p80),
	};
	static struct snap_endpoint_in pub_eps[] = {
		FX_EP(0, 0, NULL, p80),
	};
	static struct snap_endpoint_in sticky_eps[] = {
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, NULL, p80),
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, NULL, p80),
		FX_EP(0, LDMESH_EP_F_READY | LDMESH_EP_F_SERVING, NULL, p80),
	};
	static struct snap_service_in svcs[11];
	struct snap_input in;
	char why[128];
	int i = 0;

	fx_ip(backend_eps[0].addr, "10.244.1.5");
	fx_ip(backend_eps[1].addr, "10.244.1.6");
	fx_ip(backend_eps[2].addr, "10.244.2.7");
	fx_ip(db_eps[0].addr, "10.244.4.1");
	fx_ip(dual_eps[0].addr, "fd00:244::1");
	fx_ip(dual_eps[1].addr, "10.244.5.1");
	fx_ip(v6pods_eps[0].addr, "fd00:244::2");
	fx_ip(v6only_eps[0].addr, "fd00:244::3");
	fx_ip(headless_eps[0].addr, "10.244.3.1");
	fx_ip(headless_eps[1].addr, "10.244.3.2");
	fx_ip(headless_eps[2].addr, "10.244.3.3");
	fx_ip(pub_eps[0].addr, "10.244.6.1");
	fx_ip(sticky_eps[0].addr, "10.244.7.1");
	fx_ip(sticky_eps[1].addr, "10.244.7.2");
	fx_ip(sticky_eps[2].addr, "10.244.7.3");

	memset(svcs, 0, sizeof(svcs));
	svcs[i] = (struct snap_service_in){ .ns = "default", .name = "backend",
		.n_cluster_ips = 1, .ports = backend_ports, .n_ports = 2,
		.endpoints = backend_eps, .n_endpoints = 3 };
	fx_ip(svcs[i++].cluster_ips[0], "10.96.0.10");
	svcs[i] = (struct snap_service_in){ .ns = "default", .name = "empty",
		.n_cluster_ips = 1, .ports = http, .n_ports = 1 };
	fx_ip(svcs[i++].cluster_ips[0], "10.96.0.11");
	svcs[i] = (struct snap_service_in){ .ns = "other", .name = "db",
		.n_cluster_ips = 1, .ports = mysql, .n_ports = 1,
		.endpoints = db_eps, .n_endpoints = 1 };
	fx_ip(svcs[i++].cluster_ips[0], "10.96.0.12");
	svcs[i] = (struct snap_service_in){ .ns = "default", .name = "dual",
		.n_cluster_ips = 2, .ports = http, .n_ports = 1,
		.endpoints = dual_eps, .n_endpoints = 2 };
	fx_ip(svcs[i].cluster_ips[0], "10.96.0.20");
	fx_ip(svcs[i++].cluster_ips[1], "fd00:96::20");
	svcs[i] = (struct snap_service_in){ .ns = "default", .name = "v6pods",
		.n_cluster_ips = 1, .ports = http, .n_ports = 1,
		.endpoints = v6pods_eps, .n_endpoints = 1 };
	fx_ip(svcs[i++].cluster_ips[0], "10.96.0.21");
	svcs[i] = (struct snap_service_in){ .ns = "default", .name = "v6only",
		.n_cluster_ips = 1, .ports = http, .n_ports = 1,
		.endpoints = v6only_eps, .n_endpoints = 1 };
	fx_ip(svcs[i++].cluster_ips[0], "fd00:96::30");
	svcs[i++] = (struct snap_service_in){ .ns = "default", .name = "headless",
		.flags = LDMESH_SVC_F_HEADLESS, .ports = http, .n_ports = 1,
		.endpoints = headless_eps, .n_endpoints = 3 };
	svcs[i++] = (struct snap_service_in){ .ns = "default",
		.name = "pubheadless",
		.flags = LDMESH_SVC_F_HEADLESS | LDMESH_SVC_F_PUBLISH_NOT_READY,
		.ports = http, .n_ports = 1, .endpoints = pub_eps,
		.n_endpoints = 1 };
	svcs[i++] = (struct snap_service_in){ .ns = "default", .name = "ext",
		.type = LDMESH_SVC_EXTERNAL_NAME, .external_name = "Example.COM." };
	svcs[i++] = (struct snap_service_in){ .ns = "default", .name = "alias",
		.type = LDMESH_SVC_EXTERNAL_NAME,
		.external_name = "backend.default.svc.cluster.local" };
	svcs[i] = (struct snap_service_in){ .ns = "default", .name = "sticky",
		.flags = LDMESH_SVC_F_AFFINITY_CLIENT_IP,
		.affinity_timeout_s = 10800, .n_cluster_ips = 1, .ports = http,
		.n_ports = 1, .endpoints = sticky_eps, .n_endpoints = 3 };
	fx_ip(svcs[i++].cluster_ips[0], "10.96.0.40");

	memset(&in, 0, sizeof(in));
	in.cluster_domain = "cluster.local";
	in.generation = generation;
	in.services = svcs;
	in.n_services = (size_t)i;
	fx_ip(in.service_cidr, "10.96.0.0");
	in.service_cidr_prefix = 96 + 12;
	if (snap_build(&in, &f->bytes, &f->size) != 0)
		abort();
	if (tu_snap_init(&f->snap, f->bytes, f->size, why, sizeof(why)) != 0)
		abort();
}

static inline void fx_free(struct fx *f)
{
	free(f->bytes);
	f->bytes = NULL;
}

#endif
