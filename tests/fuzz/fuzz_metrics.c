/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a counters datagram (ldmesh/report.h) as any process
 * may send it to the agent's report socket, added up (metrics_ingest, the
 * agent's own checks) into a store with a small series cap, then the
 * whole exposition rendered: every label a sender controls goes through
 * the escaping, every count through the sums. Every 64 inputs the store
 * is expired and started afresh, so the cap and removal are reached too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Half the VIPs are "Services" (those whose last byte is even), so both
 * label shapes are rendered. */
static bool fz__resolve(void *ctx, const uint8_t vip[16], uint16_t port, uint8_t protocol,
			struct metrics_service *out)
{
	(void)ctx;
	(void)protocol;
	if (vip[15] & 1)
		return false;
	memcpy(out->ns, "ns", 3);
	memcpy(out->name, "svc", 4);
	out->port[0] = (char)('0' + port % 10);
	memcpy(out->fqdn, "svc.ns.svc.cluster.local", 25);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct metrics m;
	static unsigned runs;
	struct metrics_agent_info ai = { .generation = 1 };
	struct metrics_buf b = { 0 };

	if (!m.buckets && metrics_init(&m, 16) < 0)
		abort();
	(void)metrics_ingest(&m, data, size, runs, fz__resolve, NULL);
	metrics_render(&m, &ai, &b);
	/* the text is one sample or comment a line, never a stray byte */
	for (size_t i = 0; i < b.len; i++)
		if (b.p[i] != '\n' && (b.p[i] < 0x20 || b.p[i] > 0x7e))
			abort();
	metrics_buf_free(&b);
	if (++runs % 64 == 0) {
		metrics_expire(&m, runs, 0);
		metrics_fini(&m);
	}
	return 0;
}
