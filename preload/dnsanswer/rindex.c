/* SPDX-License-Identifier: MIT */
#include "rindex.h"

#include <errno.h>
#include <stdlib.h>

#include "ldmesh/hash.h"

struct dns_rentry {
	uint32_t hash;     /* of the address; 0 marks an empty slot */
	uint32_t service;
	uint32_t endpoint; /* LDMESH_NONE: a ClusterIP */
};

struct dns_rindex {
	uint64_t generation, created_unix_ns;
	uint32_t mask;
	struct dns_rentry *slots;
};

static uint32_t dns__ahash(const uint8_t a[16])
{
	uint32_t h = (uint32_t)ldmesh_hash64(a, 16, 0);

	return h ? h : 1;
}

static bool dns__eligible(const struct ldmesh_service *svc, const struct ldmesh_endpoint *ep)
{
	return (svc->flags & LDMESH_SVC_F_PUBLISH_NOT_READY) || (ep->flags & LDMESH_EP_F_READY);
}

static void dns__insert(struct dns_rindex *ri, const uint8_t a[16], uint32_t svc, uint32_t ep)
{
	uint32_t h = dns__ahash(a), i = h & ri->mask;

	while (ri->slots[i].hash)
		i = (i + 1) & ri->mask;
	ri->slots[i] = (struct dns_rentry){ h, svc, ep };
}

/* One pass over the table: `ri` NULL counts, else inserts. */
static uint64_t dns__walk(const struct ldmesh_snap *s, struct dns_rindex *ri)
{
	uint32_t n = ldmesh_snap_service_count(s);
	uint64_t count = 0;

	for (uint32_t i = 0; i < n; i++) {
		struct ldmesh_service svc;

		if (!ldmesh_snap_service(s, i, &svc) || !ldmesh_snap_service_listed(s, i))
			continue;
		for (unsigned k = 0; k < svc.ip_count && k < LDMESH_MAX_CLUSTER_IPS; k++, count++)
			if (ri)
				dns__insert(ri, svc.cluster_ips[k], i, LDMESH_NONE);
		for (uint32_t k = 0; k < svc.endpoint_count; k++) {
			struct ldmesh_endpoint ep;

			if (!ldmesh_snap_endpoint(s, svc.first_endpoint + k, &ep) ||
			    !dns__eligible(&svc, &ep))
				continue;
			count++;
			if (ri)
				dns__insert(ri, ep.addr, i, svc.first_endpoint + k);
		}
		/* a damaged table may count more the second time: stop at
		 * what was sized */
		if (ri && count > ri->mask / 2)
			break;
	}
	return count;
}

int dns_rindex_build(const struct ldmesh_snap *s, struct dns_rindex **out)
{
	uint64_t n = dns__walk(s, NULL);
	struct dns_rindex *ri;
	uint32_t size = 16;

	if (n > DNS_RINDEX_MAX)
		return -E2BIG;
	while (size < 2 * n) /* at most half full: short probes */
		size <<= 1;
	ri = calloc(1, sizeof(*ri));
	if (!ri || !(ri->slots = calloc(size, sizeof(*ri->slots)))) {
		free(ri);
		return -ENOMEM;
	}
	ri->mask = size - 1;
	ri->generation = s->generation;
	ri->created_unix_ns = s->created_unix_ns;
	dns__walk(s, ri);
	*out = ri;
	return 0;
}

void dns_rindex_free(struct dns_rindex *ri)
{
	if (!ri)
		return;
	free(ri->slots);
	free(ri);
}

bool dns_rindex_of(const struct dns_rindex *ri, const struct ldmesh_snap *s)
{
	return ri && ri->generation == s->generation && ri->created_unix_ns == s->created_unix_ns;
}

unsigned dns_rindex_find(const struct dns_rindex *ri, const uint8_t a[16], uint32_t *svc,
			 uint32_t *ep, unsigned max)
{
	uint32_t h = dns__ahash(a), i = h & ri->mask;
	unsigned n = 0;

	for (; ri->slots[i].hash && n < max; i = (i + 1) & ri->mask)
		if (ri->slots[i].hash == h) {
			svc[n] = ri->slots[i].service;
			ep[n++] = ri->slots[i].endpoint;
		}
	return n;
}
