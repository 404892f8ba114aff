/* SPDX-License-Identifier: MIT */
#include "snap_block.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/hash.h"

struct block_strings {
	char *data;
	size_t len, cap;
};

static int block__local(struct block_strings *bs, const char *s, size_t len,
			ldmesh_str_t *ref)
{
	if (!len) {
		*ref = 0;
		return 0;
	}
	if (len > LDMESH_STR_MAX)
		return -EINVAL;
	if (bs->len + len + 2 > bs->cap) {
		size_t cap = bs->cap ? bs->cap * 2 : 256;
		while (cap < bs->len + len + 2)
			cap *= 2;
		char *d = realloc(bs->data, cap);
		if (!d)
			return -ENOMEM;
		bs->data = d;
		bs->cap = cap;
	}
	*ref = SNAP_BLOCK_LOCAL | (ldmesh_str_t)bs->len;
	bs->data[bs->len] = (char)len;
	memcpy(bs->data + bs->len + 1, s, len);
	bs->data[bs->len + 1 + len] = 0;
	bs->len += len + 2;
	return 0;
}

static int block__local_cstr(struct block_strings *bs, const char *s, ldmesh_str_t *ref)
{
	return block__local(bs, s ? s : "", s ? strlen(s) : 0, ref);
}

static bool block__is_local(const struct snap_block_ctx *ctx, const char *node)
{
	return node && ctx->node_name && *ctx->node_name && !strcmp(node, ctx->node_name);
}

enum { RANK_CHOSEN, RANK_FALLBACK, RANK_SHOWN };

static bool block__ready(const struct snap_service_in *s, const struct snap_endpoint_in *e)
{
	return (e->flags & LDMESH_EP_F_READY) || (s->flags & LDMESH_SVC_F_PUBLISH_NOT_READY);
}

/* Whether a hints.forZones list ("a,b") names `zone`. */
static bool block__hinted(const char *hints, const char *zone)
{
	size_t len = strlen(zone);

	for (const char *p = hints; p; p = strchr(p, ','), p = p ? p + 1 : NULL)
		if (!strncmp(p, zone, len) && (p[len] == ',' || !p[len]))
			return true;
	return false;
}

/*
 * kube-proxy's topology-aware routing (pkg/proxy/topology.go): a Service
 * that asks for it, on a node whose zone is known, sends to the ready
 * endpoints hinted for that zone, but only when every ready endpoint has a
 * hint and at least one is for this zone; otherwise to all ready ones.
 * internalTrafficPolicy: Local comes first; the serving-terminating
 * fallback ignores hints.
 */
static bool block__use_zone(const struct snap_block_ctx *ctx, const struct snap_service_in *s)
{
	bool for_zone = false;

	if (!(s->flags & LDMESH_SVC_F_TOPOLOGY) || !ctx->node_zone || !*ctx->node_zone ||
	    ((s->flags & LDMESH_SVC_F_INTERNAL_LOCAL) && ctx->node_name && *ctx->node_name))
		return false;
	for (size_t i = 0; i < s->n_endpoints; i++) {
		const struct snap_endpoint_in *e = &s->endpoints[i];
		if (!block__ready(s, e))
			continue;
		if (!e->zone_hints || !*e->zone_hints)
			return false;
		for_zone |= block__hinted(e->zone_hints, ctx->node_zone);
	}
	return for_zone;
}

static int block__rank(const struct snap_block_ctx *ctx, const struct snap_service_in *s,
		       const struct snap_endpoint_in *e, bool use_zone)
{
	bool ready = block__ready(s, e);

	/* internalTrafficPolicy: Local keeps traffic on this node. Without
	 * --node the agent cannot tell which node it is, so the policy is not
	 * applied (documented in the README). */
	if ((s->flags & LDMESH_SVC_F_INTERNAL_LOCAL) && ctx->node_name &&
	    *ctx->node_name && !block__is_local(ctx, e->node))
		return RANK_SHOWN;
	if (ready)
		return !use_zone || block__hinted(e->zone_hints, ctx->node_zone) ? RANK_CHOSEN
										: RANK_SHOWN;
	/* kube-proxy's fallback: serving endpoints of terminating pods carry
	 * traffic only when no endpoint is ready (KEP-1669). */
	if ((e->flags & LDMESH_EP_F_SERVING) && (e->flags & LDMESH_EP_F_TERMINATING))
		return RANK_FALLBACK;
	return RANK_SHOWN;
}

/* Maglev lookup-table sizes: primes well above the backend count so each
 * backend owns ~M/N entries and a scale event moves about 1/N of them. */
static const uint32_t block__maglev_primes[] = { 251, 1021, 4093, 16381, 65521 };
#define BLOCK_N_PRIMES (sizeof(block__maglev_primes) / sizeof(block__maglev_primes[0]))

static uint32_t block__maglev_size(uint32_t n)
{
	for (size_t i = 0; i < BLOCK_N_PRIMES; i++)
		if (block__maglev_primes[i] >= 16 * n)
			return block__maglev_primes[i];
	return block__maglev_primes[BLOCK_N_PRIMES - 1];
}

/* Fill `table` (size m) from the n chosen endpoints: each endpoint walks its
 * own permutation (offset, skip derived from its address, so the same pod
 * keeps the same preferences across snapshots) claiming free entries in
 * turn (Eisenbud et al., "Maglev", NSDI 2016, section 3.4). */
static int block__maglev(const struct ldmesh_endpoint *eps, uint32_t n,
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

static int block__name_key(const struct snap_block_ctx *ctx, struct block_strings *bs,
			   struct snap_block *b, const char *first,
			   const struct snap_service_in *s, uint32_t endpoint)
{
	char fqdn[LDMESH_STR_MAX + 2];
	struct snap_name_key *k = &b->names[b->n_names];
	int len;

	if (first)
		len = snprintf(fqdn, sizeof(fqdn), "%s.%s.%s.svc.%s", first, s->name, s->ns,
			       ctx->cluster_domain);
	else
		len = snprintf(fqdn, sizeof(fqdn), "%s.%s.svc.%s", s->name, s->ns,
			       ctx->cluster_domain);
	/* A name longer than DNS allows can never be asked for. */
	if (len < 0 || len > LDMESH_STR_MAX)
		return 0;
	for (int i = 0; i < len; i++)
		if (fqdn[i] >= 'A' && fqdn[i] <= 'Z')
			fqdn[i] = (char)(fqdn[i] - 'A' + 'a');
	k->hash = ldmesh_hash64(fqdn, (size_t)len, 0);
	k->endpoint = endpoint;
	b->n_names++;
	return block__local(bs, fqdn, (size_t)len, &k->fqdn);
}

static void block__vip_key(struct snap_block *b, const uint8_t addr[16],
			   const struct ldmesh_port *p, uint8_t kind, uint32_t port_index)
{
	struct snap_vip_key *k = &b->vips[b->n_vips++];

	memcpy(k->addr, addr, 16);
	k->port = p->port;
	k->protocol = p->protocol;
	k->kind = kind;
	k->port_index = port_index;
}

static int block__endpoint(const struct snap_block_ctx *ctx, struct block_strings *bs,
			   const struct snap_endpoint_in *e, struct ldmesh_endpoint *out)
{
	int err;

	memcpy(out->addr, e->addr, 16);
	out->flags = e->flags & (LDMESH_EP_F_READY | LDMESH_EP_F_SERVING |
				 LDMESH_EP_F_TERMINATING);
	if (block__is_local(ctx, e->node))
		out->flags |= LDMESH_EP_F_LOCAL;
	/* Node, zone and hint names repeat across services: shared. A pod's
	 * name and hostname are its own: local. */
	if ((err = strpool_add_cstr(ctx->shared, e->node, &out->node)) ||
	    (err = strpool_add_cstr(ctx->shared, e->zone, &out->zone)) ||
	    (err = strpool_add_cstr(ctx->shared, e->zone_hints, &out->zone_hints)) ||
	    (err = block__local_cstr(bs, e->hostname, &out->hostname)))
		return err;
	return block__local_cstr(bs, e->target, &out->target);
}

static int block__records(const struct snap_block_ctx *ctx, const struct snap_service_in *s,
			  struct snap_block *b, struct block_strings *bs)
{
	bool use_zone = block__use_zone(ctx, s);
	struct ldmesh_service *out = &b->svc;
	uint32_t counts[3] = { 0, 0, 0 }, n_ips;
	int err;

	if ((err = block__local_cstr(bs, s->ns, &out->ns)) ||
	    (err = block__local_cstr(bs, s->name, &out->name)) ||
	    (err = block__local_cstr(bs, s->external_name, &out->external_name)))
		return err;
	out->type = s->type;
	out->flags = (uint16_t)(s->flags | (use_zone ? LDMESH_SVC_F_ZONE_CHOSEN : 0));
	out->affinity_timeout_s = s->affinity_timeout_s;
	n_ips = s->n_cluster_ips > LDMESH_MAX_CLUSTER_IPS ? LDMESH_MAX_CLUSTER_IPS : s->n_cluster_ips;
	out->ip_count = (uint8_t)n_ips;
	memcpy(out->cluster_ips, s->cluster_ips, sizeof(out->cluster_ips));
	out->port_count = (uint32_t)s->n_ports;
	for (size_t i = 0; i < s->n_ports; i++) {
		const struct snap_port_in *p = &s->ports[i];
		struct ldmesh_port *o = &b->ports[i];
		if ((err = block__local_cstr(bs, p->name, &o->name)) ||
		    (err = block__local_cstr(bs, p->target_port_name, &o->target_port_name)) ||
		    (err = block__local_cstr(bs, p->app_protocol, &o->app_protocol)))
			return err;
		o->port = p->port;
		o->target_port = p->target_port;
		o->node_port = p->node_port;
		o->protocol = p->protocol;
		for (uint32_t k = 0; k < n_ips; k++)
			block__vip_key(b, out->cluster_ips[k], o, LDMESH_VIP_CLUSTER_IP, (uint32_t)i);
		for (size_t k = 0; k < s->n_external_ips; k++)
			block__vip_key(b, s->external_ips[k], o, LDMESH_VIP_EXTERNAL_IP, (uint32_t)i);
		for (size_t k = 0; k < s->n_lb_ips; k++)
			block__vip_key(b, s->lb_ips[k], o, LDMESH_VIP_LOAD_BALANCER, (uint32_t)i);
	}
	/* Endpoints in rank order (a stable three-way partition keeps the
	 * input order inside each rank, so snapshots are reproducible). */
	out->endpoint_count = (uint32_t)s->n_endpoints;
	for (int rank = RANK_CHOSEN, n = 0; rank <= RANK_SHOWN; rank++) {
		for (size_t i = 0; i < s->n_endpoints; i++) {
			const struct snap_endpoint_in *e = &s->endpoints[i];
			if (block__rank(ctx, s, e, use_zone) != rank)
				continue;
			if ((err = block__endpoint(ctx, bs, e, &b->eps[n])))
				return err;
			for (size_t p = 0; p < s->n_ports; p++)
				b->ep_ports[(size_t)n * s->n_ports + p] = e->ports ? e->ports[p] : 0;
			n++;
			counts[rank]++;
		}
	}
	out->ready_count = counts[RANK_CHOSEN];
	out->fallback_count = counts[RANK_FALLBACK];
	return 0;
}

static int block__names(const struct snap_block_ctx *ctx, const struct snap_service_in *s,
			struct snap_block *b, struct block_strings *bs)
{
	int err;

	if (!s->name || !*s->name)
		return 0;
	if ((err = block__name_key(ctx, bs, b, NULL, s, LDMESH_NONE)))
		return err;
	if (!(s->flags & LDMESH_SVC_F_HEADLESS))
		return 0;
	/* Headless services publish per-pod names (StatefulSet pods, and pods
	 * with spec.hostname + spec.subdomain) as kube-dns does. */
	for (uint32_t i = 0; i < b->svc.endpoint_count; i++) {
		ldmesh_str_t h = b->eps[i].hostname;
		if (h && (err = block__name_key(ctx, bs, b, bs->data + (h & ~SNAP_BLOCK_LOCAL) + 1,
						 s, i)))
			return err;
	}
	return 0;
}

int snap_block_build(const struct snap_block_ctx *ctx,
		     const struct snap_service_in *s, struct snap_block *b)
{
	struct block_strings bs = { .data = NULL };
	size_t n_ips = (s->n_cluster_ips > LDMESH_MAX_CLUSTER_IPS ? LDMESH_MAX_CLUSTER_IPS
								   : s->n_cluster_ips) +
		       s->n_external_ips + s->n_lb_ips;
	size_t n_names = 1 + ((s->flags & LDMESH_SVC_F_HEADLESS) ? s->n_endpoints : 0);
	int err = -ENOMEM;

	memset(b, 0, sizeof(*b));
	b->ports = calloc(s->n_ports + 1, sizeof(*b->ports));
	b->eps = calloc(s->n_endpoints + 1, sizeof(*b->eps));
	b->ep_ports = calloc(s->n_endpoints * s->n_ports + 1, sizeof(*b->ep_ports));
	b->vips = calloc(n_ips * s->n_ports + 1, sizeof(*b->vips));
	b->names = calloc(n_names, sizeof(*b->names));
	if (!b->ports || !b->eps || !b->ep_ports || !b->vips || !b->names)
		goto fail;
	if ((err = block__records(ctx, s, b, &bs)) || (err = block__names(ctx, s, b, &bs)))
		goto fail;
	if ((s->flags & LDMESH_SVC_F_AFFINITY_CLIENT_IP) && b->svc.ready_count) {
		uint32_t m = block__maglev_size(b->svc.ready_count);
		err = -ENOMEM;
		b->affinity = malloc(m * sizeof(*b->affinity));
		if (!b->affinity || (err = block__maglev(b->eps, b->svc.ready_count, b->affinity, m)))
			goto fail;
		b->svc.affinity_size = m;
	}
	if (bs.len > SNAP_BLOCK_LOCAL - 1) {
		err = -E2BIG;
		goto fail;
	}
	b->strings = bs.data;
	b->strings_len = (uint32_t)bs.len;
	return 0;
fail:
	free(bs.data);
	snap_block_free(b);
	return err;
}

void snap_block_free(struct snap_block *b)
{
	free(b->ports);
	free(b->eps);
	free(b->ep_ports);
	free(b->affinity);
	free(b->vips);
	free(b->names);
	free(b->strings);
	memset(b, 0, sizeof(*b));
}
