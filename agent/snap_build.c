/* SPDX-License-Identifier: MIT */
/*
 * Snapshot builder. Two passes: first every record goes into temporary
 * arrays (strings interned on the way, endpoints ordered for this node),
 * then the sizes are known, so the file is laid out once, indexes filled,
 * and the checksum taken over the finished bytes.
 */
#include "snap_build.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"
#include "strpool.h"

struct build {
	const struct snap_input *in;
	struct strpool pool;
	struct ldmesh_service *services;
	struct ldmesh_port *ports;
	struct ldmesh_endpoint *endpoints;
	uint16_t *endpoint_ports;
	uint32_t *affinity;
	size_t n_ports, n_endpoints, n_endpoint_ports, n_affinity;
	size_t cap_affinity;
	/* index keys, collected before the index sizes are known */
	struct ldmesh_vip_slot *vips;
	size_t n_vips;
	struct ldmesh_name_slot *names;
	size_t n_names;
};

static int build__str(struct build *b, const char *s, ldmesh_str_t *ref)
{
	return strpool_add_cstr(&b->pool, s, ref);
}

static bool build__eligible(const struct build *b, const struct snap_service_in *s,
			    const struct snap_endpoint_in *e)
{
	/* internalTrafficPolicy: Local keeps traffic on this node. Without
	 * --node the agent cannot tell which node it is, so the policy is not
	 * applied (documented in the README). */
	if (!(s->flags & LDMESH_SVC_F_INTERNAL_LOCAL) || !b->in->node_name ||
	    !*b->in->node_name)
		return true;
	return e->node && !strcmp(e->node, b->in->node_name);
}

enum { BUILD_CHOSEN, BUILD_FALLBACK, BUILD_SHOWN };

static int build__rank(const struct build *b, const struct snap_service_in *s,
		       const struct snap_endpoint_in *e)
{
	bool ready = (e->flags & LDMESH_EP_F_READY) ||
		     (s->flags & LDMESH_SVC_F_PUBLISH_NOT_READY);

	if (!build__eligible(b, s, e))
		return BUILD_SHOWN;
	if (ready)
		return BUILD_CHOSEN;
	/* kube-proxy's fallback: serving endpoints of terminating pods carry
	 * traffic only when no endpoint is ready (KEP-1669). */
	if ((e->flags & LDMESH_EP_F_SERVING) && (e->flags & LDMESH_EP_F_TERMINATING))
		return BUILD_FALLBACK;
	return BUILD_SHOWN;
}

/* Maglev lookup-table sizes: primes well above the backend count so each
 * backend owns ~M/N entries and a scale event moves about 1/N of them. */
static const uint32_t build__maglev_primes[] = { 251, 1021, 4093, 16381, 65521 };

static uint32_t build__maglev_size(uint32_t n)
{
	for (size_t i = 0; i < sizeof(build__maglev_primes) / 4; i++)
		if (build__maglev_primes[i] >= 16 * n)
			return build__maglev_primes[i];
	return build__maglev_primes[sizeof(build__maglev_primes) / 4 - 1];
}

/* Fill `table` (size m) from the n chosen endpoints: each endpoint walks its
 * own permutation (offset, skip derived from its address, so the same pod
 * keeps the same preferences across snapshots) claiming free entries in
 * turn (Eisenbud et al., "Maglev", NSDI 2016, section 3.4). */
static int build__maglev(const struct ldmesh_endpoint *eps, uint32_t n,
			 uint32_t *table, uint32_t m)
{
	uint32_t *next = calloc(n, sizeof(*next));
	uint32_t *offset = calloc(n, sizeof(*offset));
	uint32_t *skip = calloc(n, sizeof(*skip));
	uint32_t filled = 0;
	int err = -ENOMEM;

	if (!next || !offset || !skip)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t h = ldmesh_hash64(eps[i].addr, 16, 0);
		offset[i] = (uint32_t)(h % m);
		skip[i] = (uint32_t)((h >> 32) % (m - 1)) + 1;
	}
	for (uint32_t j = 0; j < m; j++)
		table[j] = LDMESH_NONE;
	while (filled < m) {
		for (uint32_t i = 0; i < n && filled < m; i++) {
			uint32_t c;
			do {
				c = (uint32_t)((offset[i] + (uint64_t)next[i] * skip[i]) % m);
				next[i]++;
			} while (table[c] != LDMESH_NONE);
			table[c] = i;
			filled++;
		}
	}
	err = 0;
out:
	free(next);
	free(offset);
	free(skip);
	return err;
}

static int build__name_key(struct build *b, const char *first, const char *svc,
			   const char *ns, uint32_t service, uint32_t endpoint)
{
	char fqdn[LDMESH_STR_MAX + 2];
	struct ldmesh_name_slot *slot = &b->names[b->n_names];
	int len;

	if (first)
		len = snprintf(fqdn, sizeof(fqdn), "%s.%s.%s.svc.%s", first, svc, ns,
			       b->in->cluster_domain);
	else
		len = snprintf(fqdn, sizeof(fqdn), "%s.%s.svc.%s", svc, ns,
			       b->in->cluster_domain);
	/* A name longer than DNS allows can never be asked for. */
	if (len < 0 || len > LDMESH_STR_MAX)
		return 0;
	for (int i = 0; i < len; i++)
		if (fqdn[i] >= 'A' && fqdn[i] <= 'Z')
			fqdn[i] = (char)(fqdn[i] - 'A' + 'a');
	slot->hash = ldmesh_hash64(fqdn, (size_t)len, 0);
	slot->service = service;
	slot->endpoint = endpoint;
	b->n_names++;
	return strpool_add(&b->pool, fqdn, (size_t)len, &slot->fqdn);
}

static void build__vip_key(struct build *b, const uint8_t addr[16],
			   const struct ldmesh_port *p, uint8_t kind,
			   uint32_t service, uint32_t port_index)
{
	struct ldmesh_vip_slot *slot = &b->vips[b->n_vips++];

	memcpy(slot->addr, addr, 16);
	slot->port = p->port;
	slot->protocol = p->protocol;
	slot->kind = kind;
	slot->service = service;
	slot->port_index = port_index;
}

static int build__endpoint(struct build *b, const struct snap_endpoint_in *e,
			   struct ldmesh_endpoint *out)
{
	int err;

	memcpy(out->addr, e->addr, 16);
	out->flags = e->flags & (LDMESH_EP_F_READY | LDMESH_EP_F_SERVING |
				 LDMESH_EP_F_TERMINATING);
	if (e->node && b->in->node_name && *b->in->node_name &&
	    !strcmp(e->node, b->in->node_name))
		out->flags |= LDMESH_EP_F_LOCAL;
	if ((err = build__str(b, e->node, &out->node)) ||
	    (err = build__str(b, e->zone, &out->zone)) ||
	    (err = build__str(b, e->hostname, &out->hostname)) ||
	    (err = build__str(b, e->target, &out->target)))
		return err;
	return build__str(b, e->zone_hints, &out->zone_hints);
}

static int build__service(struct build *b, uint32_t idx)
{
	const struct snap_service_in *s = &b->in->services[idx];
	struct ldmesh_service *out = &b->services[idx];
	uint32_t counts[3] = { 0, 0, 0 };
	int err;

	if ((err = build__str(b, s->ns, &out->ns)) ||
	    (err = build__str(b, s->name, &out->name)) ||
	    (err = build__str(b, s->external_name, &out->external_name)))
		return err;
	out->type = s->type;
	out->flags = s->flags;
	out->affinity_timeout_s = s->affinity_timeout_s;
	out->ip_count = s->n_cluster_ips > LDMESH_MAX_CLUSTER_IPS ?
				LDMESH_MAX_CLUSTER_IPS : s->n_cluster_ips;
	memcpy(out->cluster_ips, s->cluster_ips, sizeof(out->cluster_ips));

	out->first_port = (uint32_t)b->n_ports;
	out->port_count = (uint32_t)s->n_ports;
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct snap_port_in *p = &s->ports[i];
		struct ldmesh_port *o = &b->ports[b->n_ports++];
		if ((err = build__str(b, p->name, &o->name)) ||
		    (err = build__str(b, p->target_port_name, &o->target_port_name)) ||
		    (err = build__str(b, p->app_protocol, &o->app_protocol)))
			return err;
		o->port = p->port;
		o->target_port = p->target_port;
		o->node_port = p->node_port;
		o->protocol = p->protocol;
		for (uint8_t k = 0; k < out->ip_count; k++)
			build__vip_key(b, out->cluster_ips[k], o, LDMESH_VIP_CLUSTER_IP,
				       idx, (uint32_t)i);
		for (size_t k = 0; k < s->n_external_ips; k++)
			build__vip_key(b, s->external_ips[k], o, LDMESH_VIP_EXTERNAL_IP,
				       idx, (uint32_t)i);
	}

	/* Endpoints in rank order (a stable three-way partition keeps the
	 * input order inside each rank, so snapshots are reproducible). */
	out->first_endpoint = (uint32_t)b->n_endpoints;
	out->endpoint_count = (uint32_t)s->n_endpoints;
	out->first_endpoint_port = (uint32_t)b->n_endpoint_ports;
	for (int rank = BUILD_CHOSEN; rank <= BUILD_SHOWN; rank++) {
		for (size_t i = 0; i < s->n_endpoints; i++) {
			const struct snap_endpoint_in *e = &s->endpoints[i];
			if (build__rank(b, s, e) != rank)
				continue;
			if ((err = build__endpoint(b, e, &b->endpoints[b->n_endpoints++])))
				return err;
			for (size_t p = 0; p < s->n_ports; p++)
				b->endpoint_ports[b->n_endpoint_ports++] = e->ports ? e->ports[p] : 0;
			counts[rank]++;
		}
	}
	out->ready_count = counts[BUILD_CHOSEN];
	out->fallback_count = counts[BUILD_FALLBACK];

	if ((s->flags & LDMESH_SVC_F_AFFINITY_CLIENT_IP) && out->ready_count) {
		uint32_t m = build__maglev_size(out->ready_count);
		if (b->n_affinity + m > b->cap_affinity) {
			size_t cap = (b->cap_affinity + m) * 2;
			uint32_t *a = realloc(b->affinity, cap * sizeof(*a));
			if (!a)
				return -ENOMEM;
			b->affinity = a;
			b->cap_affinity = cap;
		}
		err = build__maglev(&b->endpoints[out->first_endpoint], out->ready_count,
				    b->affinity + b->n_affinity, m);
		if (err)
			return err;
		out->affinity_offset = (uint32_t)b->n_affinity;
		out->affinity_size = m;
		b->n_affinity += m;
	}

	if (!s->name || !*s->name)
		return 0;
	if ((err = build__name_key(b, NULL, s->name, s->ns, idx, LDMESH_NONE)))
		return err;
	if (!(s->flags & LDMESH_SVC_F_HEADLESS))
		return 0;
	/* Headless services publish per-pod names (StatefulSet pods, and pods
	 * with spec.hostname + spec.subdomain) as kube-dns does. */
	for (uint32_t i = 0; i < out->endpoint_count; i++) {
		const struct ldmesh_endpoint *e = &b->endpoints[out->first_endpoint + i];
		const char *host = b->pool.data + e->hostname + 1;
		if (*host && (err = build__name_key(b, host, s->name, s->ns, idx,
						     out->first_endpoint + i)))
			return err;
	}
	return 0;
}

static uint32_t build__pow2(size_t keys)
{
	uint32_t n = 1;

	if (!keys)
		return 0;
	/* At most half full: linear probing stays short. */
	while (n < keys * 2)
		n <<= 1;
	return n;
}

static uint32_t build__place_vips(const struct build *b, struct ldmesh_vip_slot *slots,
				  uint32_t n)
{
	uint32_t max_probe = 0;

	for (uint32_t i = 0; i < n; i++)
		slots[i].service = LDMESH_NONE;
	for (size_t k = 0; k < b->n_vips; k++) {
		const struct ldmesh_vip_slot *key = &b->vips[k];
		uint32_t i = (uint32_t)ldmesh_vip_hash(key->addr, key->port, key->protocol) & (n - 1);
		uint32_t probe = 1;
		for (;; i = (i + 1) & (n - 1), probe++) {
			if (slots[i].service == LDMESH_NONE)
				break;
			if (slots[i].port == key->port && slots[i].protocol == key->protocol &&
			    !memcmp(slots[i].addr, key->addr, 16))
				goto next; /* claimed by an earlier service */
		}
		slots[i] = *key;
		if (probe > max_probe)
			max_probe = probe;
next:;
	}
	return max_probe;
}

static uint32_t build__place_names(const struct build *b, struct ldmesh_name_slot *slots,
				   uint32_t n)
{
	uint32_t max_probe = 0;

	for (uint32_t i = 0; i < n; i++)
		slots[i].service = LDMESH_NONE;
	for (size_t k = 0; k < b->n_names; k++) {
		const struct ldmesh_name_slot *key = &b->names[k];
		uint32_t i = (uint32_t)key->hash & (n - 1), probe = 1;
		for (;; i = (i + 1) & (n - 1), probe++) {
			if (slots[i].service == LDMESH_NONE)
				break;
			if (slots[i].fqdn == key->fqdn) /* interned: same name */
				goto next;
		}
		slots[i] = *key;
		if (probe > max_probe)
			max_probe = probe;
next:;
	}
	return max_probe;
}

static uint64_t build__align8(uint64_t v)
{
	return (v + 7) & ~(uint64_t)7;
}

static int build__layout(struct build *b, void **out, size_t *out_size)
{
	const struct snap_input *in = b->in;
	struct ldmesh_snap_header h = { 0 };
	const void *src[LDMESH_SEC_COUNT];
	uint64_t off;
	uint8_t *file;

	uint32_t counts[LDMESH_SEC_COUNT] = {
		[LDMESH_SEC_STRINGS] = (uint32_t)b->pool.len,
		[LDMESH_SEC_SERVICES] = (uint32_t)in->n_services,
		[LDMESH_SEC_PORTS] = (uint32_t)b->n_ports,
		[LDMESH_SEC_ENDPOINTS] = (uint32_t)b->n_endpoints,
		[LDMESH_SEC_ENDPOINT_PORTS] = (uint32_t)b->n_endpoint_ports,
		[LDMESH_SEC_VIP_INDEX] = build__pow2(b->n_vips),
		[LDMESH_SEC_NAME_INDEX] = build__pow2(b->n_names),
		[LDMESH_SEC_AFFINITY] = (uint32_t)b->n_affinity,
	};
	static const uint32_t sizes[LDMESH_SEC_COUNT] = {
		1, sizeof(struct ldmesh_service), sizeof(struct ldmesh_port),
		sizeof(struct ldmesh_endpoint), sizeof(uint16_t),
		sizeof(struct ldmesh_vip_slot), sizeof(struct ldmesh_name_slot),
		sizeof(uint32_t),
	};
	src[LDMESH_SEC_STRINGS] = b->pool.data;
	src[LDMESH_SEC_SERVICES] = b->services;
	src[LDMESH_SEC_PORTS] = b->ports;
	src[LDMESH_SEC_ENDPOINTS] = b->endpoints;
	src[LDMESH_SEC_ENDPOINT_PORTS] = b->endpoint_ports;
	src[LDMESH_SEC_VIP_INDEX] = NULL;
	src[LDMESH_SEC_NAME_INDEX] = NULL;
	src[LDMESH_SEC_AFFINITY] = b->affinity;

	off = sizeof(h);
	for (int i = 0; i < LDMESH_SEC_COUNT; i++) {
		off = build__align8(off);
		h.sections[i].offset = off;
		h.sections[i].count = counts[i];
		h.sections[i].entry_size = sizes[i];
		h.sections[i].size = (uint64_t)counts[i] * sizes[i];
		off += h.sections[i].size;
	}
	if (off > UINT32_MAX * 4ULL)
		return -E2BIG;
	file = calloc(1, off);
	if (!file)
		return -ENOMEM;
	for (int i = 0; i < LDMESH_SEC_COUNT; i++)
		if (src[i] && h.sections[i].size)
			memcpy(file + h.sections[i].offset, src[i], h.sections[i].size);
	h.vip_max_probe = build__place_vips(
		b, (void *)(file + h.sections[LDMESH_SEC_VIP_INDEX].offset),
		counts[LDMESH_SEC_VIP_INDEX]);
	h.name_max_probe = build__place_names(
		b, (void *)(file + h.sections[LDMESH_SEC_NAME_INDEX].offset),
		counts[LDMESH_SEC_NAME_INDEX]);

	h.magic = LDMESH_SNAP_MAGIC;
	h.version_major = LDMESH_SNAP_VERSION_MAJOR;
	h.version_minor = LDMESH_SNAP_VERSION_MINOR;
	h.total_size = off;
	h.header_size = sizeof(h);
	h.generation = in->generation;
	h.created_unix_ns = in->created_unix_ns;
	memcpy(h.service_cidr, in->service_cidr, 16);
	h.service_cidr_prefix = in->service_cidr_prefix;
	/* Header strings were interned first (see snap_build), so their
	 * references are final. */
	strpool_add_cstr(&b->pool, in->cluster_domain, &h.cluster_domain);
	strpool_add_cstr(&b->pool, in->node_name, &h.node_name);
	memcpy(file, &h, sizeof(h));
	h.checksum = ldmesh_hash64(file + 16, off - 16, 0);
	memcpy(file + 8, &h.checksum, sizeof(h.checksum));
	*out = file;
	*out_size = off;
	return 0;
}

static void build__free(struct build *b)
{
	strpool_free(&b->pool);
	free(b->services);
	free(b->ports);
	free(b->endpoints);
	free(b->endpoint_ports);
	free(b->affinity);
	free(b->vips);
	free(b->names);
}

int snap_build(const struct snap_input *in, void **out, size_t *out_size)
{
	struct build b = { .in = in };
	size_t n_ports = 0, n_eps = 0, n_cells = 0, n_vips = 0, n_names = 0;
	ldmesh_str_t ignored;
	int err;

	if ((err = strpool_init(&b.pool)))
		return err;
	/* The header's strings first, so build__layout finds them interned. */
	if ((err = strpool_add_cstr(&b.pool, in->cluster_domain, &ignored)) ||
	    (err = strpool_add_cstr(&b.pool, in->node_name, &ignored)))
		goto out;

	for (size_t i = 0; i < in->n_services; i++) {
		const struct snap_service_in *s = &in->services[i];
		n_ports += s->n_ports;
		n_eps += s->n_endpoints;
		n_cells += s->n_endpoints * s->n_ports;
		n_vips += s->n_ports * ((s->n_cluster_ips > LDMESH_MAX_CLUSTER_IPS ?
					LDMESH_MAX_CLUSTER_IPS : s->n_cluster_ips) +
				       s->n_external_ips);
		n_names += 1 + ((s->flags & LDMESH_SVC_F_HEADLESS) ? s->n_endpoints : 0);
	}
	if (in->n_services > UINT32_MAX / 2 || n_eps > UINT32_MAX / 2 ||
	    n_cells > UINT32_MAX / 2 || n_vips > UINT32_MAX / 4 ||
	    n_names > UINT32_MAX / 4) {
		err = -E2BIG;
		goto out;
	}
	b.services = calloc(in->n_services + 1, sizeof(*b.services));
	b.ports = calloc(n_ports + 1, sizeof(*b.ports));
	b.endpoints = calloc(n_eps + 1, sizeof(*b.endpoints));
	b.endpoint_ports = calloc(n_cells + 1, sizeof(*b.endpoint_ports));
	b.vips = calloc(n_vips + 1, sizeof(*b.vips));
	b.names = calloc(n_names + 1, sizeof(*b.names));
	if (!b.services || !b.ports || !b.endpoints || !b.endpoint_ports ||
	    !b.vips || !b.names) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < in->n_services; i++)
		if ((err = build__service(&b, (uint32_t)i)))
			goto out;
	err = build__layout(&b, out, out_size);
out:
	build__free(&b);
	return err;
}
