/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the snapshot header check, then every read a reader
 * makes (tests/snap_exercise.h: each record through the checked accessors,
 * each string, every index slot looked up by its key, backend choice, the
 * preload's name and route paths) on whatever the header check accepts.
 * Format 2 checks only the header when mapping, so these reads are the
 * whole defence: ASan turns any stray read into a crash, a loop without
 * bound into a timeout.
 *
 * Random bytes almost never carry a valid header checksum, so each input is
 * tried twice: as given, and with total_size and the header checksum
 * patched in, which lets the fuzzer reach everything behind the header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "ldmesh/reader.h"
#include "snap_build.h"
#include "../snap_exercise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint64_t fz_sink;

/* A fixed base (generation 1, one service with an endpoint and a per-pod
 * name) under any input that says it is a delta over generation 1, so
 * the base-layer paths and the delta's shadows meet fuzzed bytes. Built
 * once per (domain, node) pair the input names; the link refuses others. */
static void fz__link(struct ldmesh_snap *s, struct ldmesh_snap *base)
{
	static const struct snap_port_in port = { .port = 80, .target_port = 8080,
						   .protocol = LDMESH_PROTO_TCP };
	static const uint16_t ep_port = 8080;
	static char domain[LDMESH_STR_MAX + 1] = "", node[LDMESH_STR_MAX + 1] = "";
	static void *bytes;
	static size_t size;
	struct snap_endpoint_in ep = { .addr = { [10] = 0xff, [11] = 0xff, 10, 244, 1, 5 },
				       .flags = LDMESH_EP_F_READY, .hostname = "p0",
				       .ports = &ep_port };
	struct snap_service_in svc = { .ns = "default", .name = "backend", .n_cluster_ips = 1,
				       .cluster_ips = { { [10] = 0xff, [11] = 0xff, 10, 96, 0, 10 } },
				       .flags = LDMESH_SVC_F_AFFINITY_CLIENT_IP,
				       .ports = &port, .n_ports = 1, .endpoints = &ep, .n_endpoints = 1 };
	char d[LDMESH_STR_MAX + 1], n[LDMESH_STR_MAX + 1];

	if (s->base_generation != 1)
		return;
	ldmesh_snap_strcpy(s, s->cluster_domain, d, sizeof(d));
	ldmesh_snap_strcpy(s, s->node_name, n, sizeof(n));
	if (!bytes || strcmp(d, domain) || strcmp(n, node)) {
		struct snap_input in = { .cluster_domain = d, .node_name = n, .generation = 1,
					 .services = &svc, .n_services = 1 };
		free(bytes);
		bytes = NULL;
		if (snap_build(&in, &bytes, &size))
			return;
		strcpy(domain, d);
		strcpy(node, n);
	}
	if (ldmesh_snap_init(base, bytes, size, NULL) == 0)
		ldmesh_snap_link(s, base, NULL);
}

static void fz__try(const uint8_t *buf, size_t size)
{
	struct ldmesh_snap s, base;

	if (ldmesh_snap_init(&s, buf, size, NULL) == 0) {
		fz__link(&s, &base);
		struct ldmesh_name_slot miss;

		fz_sink += exercise_snap(&s, 0, UINT32_MAX);
		/* a miss on the empty name */
		fz_sink += ldmesh_snap_find_name(&s, "", 0, &miss);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf;

	/* Snapshots are mmapped, so page-aligned; the structs need 8, which
	 * malloc gives (16). An exact-size copy puts ASan's redzone right
	 * after the last byte, where libFuzzer's own buffer would not. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	fz__try(buf, size);
	if (size >= LDMESH_SNAP_HEADER_SIZE) {
		uint64_t total = size, sum;

		memcpy(buf + LDMESH_SNAP_OFF_TOTAL_SIZE, &total, sizeof(total));
		sum = ldmesh_hash64(buf + LDMESH_SNAP_OFF_TOTAL_SIZE,
				    LDMESH_SNAP_HEADER_SIZE - LDMESH_SNAP_OFF_TOTAL_SIZE, 0);
		memcpy(buf + LDMESH_SNAP_OFF_HEADER_CHECKSUM, &sum, sizeof(sum));
		fz__try(buf, size);
		/* and as a delta over the fixed base */
		if (size >= LDMESH_SNAP_HEADER_SIZE) {
			struct ldmesh_snap_header h;

			memcpy(&h, buf, sizeof(h));
			h.base_generation = 1;
			if (h.generation < 2)
				h.generation = 2;
			ldmesh_snap_header_seal(buf, &h);
			fz__try(buf, size);
		}
	}
	free(buf);
	return 0;
}
