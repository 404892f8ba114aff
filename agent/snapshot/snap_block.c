/* SPDX-License-Identifier: MIT */
#include "snap_block.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ldmesh/arpa.h"
#include "ldmesh/hash.h"

struct block_strings {
	char *data;
	size_t len, cap;
};

/* A block being built, in the scratch arrays; packed into one allocation
 * when done. */
struct block_draft {
	struct ldmesh_service svc;
	struct ldmesh_port *ports;
	struct ldmesh_endpoint *eps;
	uint16_t *ep_ports;
	uint32_t *affinity;
	struct ldmesh_split *splits;
	struct snap_vip_key *vips;
	uint32_t n_vips;
	struct snap_name_key *names;
	uint32_t n_names;
};

static int block__reserve(void *arrayp, size_t *cap, size_t n, size_t elem)
{
	void **array = arrayp, *grown;
	size_t c = *cap ? *cap : 16;

	/* never NULL once reserved, even for nothing: the draft clears its
	 * arrays with memset, which must not be handed NULL */
	if (n <= *cap && *array)
		return 0;
	while (c < n)
		c *= 2;
	if (c > SIZE_MAX / elem || !(grown = realloc(*array, c * elem)))
		return -ENOMEM;
	*array = grown;
	*cap = c;
	return 0;
}

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
	bs->len += snap_local_put(bs->data + bs->len, s, (uint8_t)len);
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

/* Ejected endpoints (LDMESH_EP_F_EJECTED) come after the fallback ones:
 * never chosen, and never the fallback either (a Service whose ready
 * endpoints are all ejected uses them all instead, block__ejected). */
enum { RANK_CHOSEN, RANK_FALLBACK, RANK_EJECTED, RANK_SHOWN };

int snap_ejected_cmp(const void *a, const void *b)
{
	const struct snap_ejected_backend *x = a, *y = b;
	int c = memcmp(x->addr, y->addr, 16);

	return c ? c : (x->port > y->port) - (x->port < y->port);
}

/* The first ejected backend at `addr`, or NULL. */
static const struct snap_ejected_backend *block__ejected_at(const struct snap_ejected *ej,
							    const uint8_t addr[16])
{
	size_t lo = 0, hi = ej->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(ej->v[mid].addr, addr, 16) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ej->n && !memcmp(ej->v[lo].addr, addr, 16) ? &ej->v[lo] : NULL;
}

/* Whether `e` is a backend ejected: its address with one of the ports it
 * serves for `s`. A hash of the matches into *salt. */
static bool block__is_ejected(const struct snap_ejected *ej, const struct snap_service_in *s,
			      const struct snap_endpoint_in *e, uint64_t *salt)
{
	const struct snap_ejected_backend *b = ej && ej->n ? block__ejected_at(ej, e->addr) : NULL;
	bool hit = false;

	for (; b && b < ej->v + ej->n && !memcmp(b->addr, e->addr, 16); b++)
		for (size_t p = 0; p < s->n_ports && e->ports; p++)
			if (e->ports[p] == b->port) {
				*salt = ldmesh_hash64(b, sizeof(*b), *salt);
				hit = true;
			}
	return hit;
}

uint64_t snap_block_key(const struct snap_block_ctx *ctx, const struct snap_service_in *s)
{
	uint64_t salt = 0;
	bool any = false;

	if (!s->cache_key || !ctx->ejected || !ctx->ejected->n)
		return s->cache_key;
	for (size_t i = 0; i < s->n_endpoints; i++)
		any |= block__is_ejected(ctx->ejected, s, &s->endpoints[i], &salt);
	if (!any)
		return s->cache_key;
	salt = ldmesh_hash64(&ctx->ejected->max_percent, sizeof(unsigned), salt);
	return ldmesh__fmix(s->cache_key ^ salt) | 1; /* never 0, "no key" */
}

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
static int block__maglev(struct snap_block_scratch *sc, const struct ldmesh_endpoint *eps,
			 uint32_t n, uint32_t *table, uint32_t m)
{
	uint32_t *next, *offset, *skip, filled = 0;
	int err = block__reserve(&sc->maglev, &sc->cap_maglev, (size_t)n * 3, sizeof(uint32_t));

	if (err)
		return err;
	next = sc->maglev;
	offset = next + n;
	skip = offset + n;
	memset(next, 0, n * sizeof(*next));
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
	return 0;
}

/* Add `fqdn` (lower case, `len` bytes) naming the service or `endpoint`. */
static int block__name_put(struct block_strings *bs, struct block_draft *b, const char *fqdn,
			   size_t len, uint32_t endpoint)
{
	struct snap_name_key *k = &b->names[b->n_names];

	k->hash = ldmesh_hash64(fqdn, len, 0);
	k->endpoint = endpoint;
	b->n_names++;
	return block__local(bs, fqdn, len, &k->fqdn);
}

static int block__name_key(const struct snap_block_ctx *ctx, struct block_strings *bs,
			   struct block_draft *b, const char *first,
			   const struct snap_service_in *s, uint32_t endpoint)
{
	char fqdn[LDMESH_STR_MAX + 2];
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
	return block__name_put(bs, b, fqdn, (size_t)len, endpoint);
}

/* The reverse name of `addr` (ldmesh/arpa.h) naming the service or one of
 * its endpoints. */
static int block__reverse_key(struct block_strings *bs, struct block_draft *b,
			      const uint8_t addr[16], uint32_t endpoint)
{
	char arpa[LDMESH_ARPA_MAX + 1];

	return block__name_put(bs, b, arpa, ldmesh_arpa_name(addr, arpa), endpoint);
}

static void block__vip_key(struct block_draft *b, const uint8_t addr[16],
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

/*
 * Which chosen endpoints are ordered out as ejected: those of a backend the
 * agent's probe found failing, in input order, at most max_percent of the
 * Service's chosen endpoints (Envoy's max_ejection_percent), and none when
 * every chosen one is ejected (Envoy's panic threshold: a backend that may
 * answer is better than none). Returns the input index before which they
 * are (0: none).
 */
static size_t block__eject_until(const struct snap_block_ctx *ctx,
				 const struct snap_service_in *s, bool use_zone)
{
	size_t chosen = 0, hit = 0, allowed, taken = 0, until = 0;
	uint64_t salt = 0;

	if (!ctx->ejected || !ctx->ejected->n)
		return 0;
	for (size_t i = 0; i < s->n_endpoints; i++)
		if (block__rank(ctx, s, &s->endpoints[i], use_zone) == RANK_CHOSEN) {
			chosen++;
			hit += block__is_ejected(ctx->ejected, s, &s->endpoints[i], &salt);
		}
	if (!hit || hit == chosen)
		return 0;
	allowed = chosen * ctx->ejected->max_percent / 100;
	if (allowed >= chosen)
		allowed = chosen - 1;
	for (size_t i = 0; i < s->n_endpoints && taken < allowed; i++)
		if (block__rank(ctx, s, &s->endpoints[i], use_zone) == RANK_CHOSEN &&
		    block__is_ejected(ctx->ejected, s, &s->endpoints[i], &salt)) {
			taken++;
			until = i + 1;
		}
	return until;
}

static int block__records(const struct snap_block_ctx *ctx, const struct snap_service_in *s,
			  struct block_draft *b, struct block_strings *bs)
{
	bool use_zone = block__use_zone(ctx, s);
	struct ldmesh_service *out = &b->svc;
	uint32_t counts[4] = { 0, 0, 0, 0 }, n_ips;
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
	/* Endpoints in rank order (a stable partition keeps the input order
	 * inside each rank, so snapshots are reproducible). */
	out->endpoint_count = (uint32_t)s->n_endpoints;
	size_t eject_until = block__eject_until(ctx, s, use_zone);
	for (int rank = RANK_CHOSEN, n = 0; rank <= RANK_SHOWN; rank++) {
		for (size_t i = 0; i < s->n_endpoints; i++) {
			const struct snap_endpoint_in *e = &s->endpoints[i];
			int r = block__rank(ctx, s, e, use_zone);
			uint64_t salt = 0;

			if (r == RANK_CHOSEN && i < eject_until &&
			    block__is_ejected(ctx->ejected, s, e, &salt))
				r = RANK_EJECTED;
			if (r != rank)
				continue;
			if ((err = block__endpoint(ctx, bs, e, &b->eps[n])))
				return err;
			if (r == RANK_EJECTED)
				b->eps[n].flags |= LDMESH_EP_F_EJECTED;
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
			struct block_draft *b, struct block_strings *bs)
{
	int err;

	if (!s->name || !*s->name)
		return 0;
	if ((err = block__name_key(ctx, bs, b, NULL, s, LDMESH_NONE)))
		return err;
	if (!(s->flags & LDMESH_SVC_F_HEADLESS)) {
		/* PTR: a ClusterIP names its service */
		for (uint32_t i = 0; i < b->svc.ip_count && i < LDMESH_MAX_CLUSTER_IPS; i++)
			if ((err = block__reverse_key(bs, b, b->svc.cluster_ips[i], LDMESH_NONE)))
				return err;
		return 0;
	}
	/* Headless services publish per-pod names (StatefulSet pods, and pods
	 * with spec.hostname + spec.subdomain) as kube-dns does, and a PTR
	 * for the address of each endpoint DNS lists (ready, or every one
	 * with publishNotReadyAddresses). */
	for (uint32_t i = 0; i < b->svc.endpoint_count; i++) {
		ldmesh_str_t h = b->eps[i].hostname;
		if (h && (err = block__name_key(ctx, bs, b, bs->data + (h & ~SNAP_BLOCK_LOCAL) + 1,
						 s, i)))
			return err;
		if (((b->eps[i].flags & LDMESH_EP_F_READY) ||
		     (s->flags & LDMESH_SVC_F_PUBLISH_NOT_READY)) &&
		    (err = block__reverse_key(bs, b, b->eps[i].addr, i)))
			return err;
	}
	return 0;
}

/* Size the scratch arrays for `s` and clear the parts it will use, so
 * padding and unused fields hash the same every time. */
static int block__draft(struct snap_block_scratch *sc, const struct snap_service_in *s,
			struct block_draft *d)
{
	size_t n_ips = (s->n_cluster_ips > LDMESH_MAX_CLUSTER_IPS ? LDMESH_MAX_CLUSTER_IPS
								   : s->n_cluster_ips) +
		       s->n_external_ips + s->n_lb_ips;
	/* the name, then a reverse name per ClusterIP; headless: a host name
	 * and a reverse name per endpoint */
	size_t n_names = 1 + ((s->flags & LDMESH_SVC_F_HEADLESS) ? 2 * s->n_endpoints
								  : LDMESH_MAX_CLUSTER_IPS);
	size_t cells = s->n_endpoints * s->n_ports;
	int err;

	if ((err = block__reserve(&sc->ports, &sc->cap_ports, s->n_ports, sizeof(*sc->ports))) ||
	    (err = block__reserve(&sc->eps, &sc->cap_eps, s->n_endpoints, sizeof(*sc->eps))) ||
	    (err = block__reserve(&sc->ep_ports, &sc->cap_ep_ports, cells, sizeof(*sc->ep_ports))) ||
	    (err = block__reserve(&sc->vips, &sc->cap_vips, n_ips * s->n_ports, sizeof(*sc->vips))) ||
	    (err = block__reserve(&sc->names, &sc->cap_names, n_names, sizeof(*sc->names))))
		return err;
	memset(d, 0, sizeof(*d));
	d->ports = sc->ports;
	d->eps = sc->eps;
	d->ep_ports = sc->ep_ports;
	d->vips = sc->vips;
	d->names = sc->names;
	memset(d->ports, 0, s->n_ports * sizeof(*d->ports));
	memset(d->eps, 0, s->n_endpoints * sizeof(*d->eps));
	memset(d->vips, 0, n_ips * s->n_ports * sizeof(*d->vips));
	memset(d->names, 0, n_names * sizeof(*d->names));
	return 0;
}

static int block__affinity(struct snap_block_scratch *sc, struct block_draft *d)
{
	uint32_t m = block__maglev_size(d->svc.ready_count);
	int err = block__reserve(&sc->affinity, &sc->cap_affinity, m, sizeof(uint32_t));

	if (err || (err = block__maglev(sc, d->eps, d->svc.ready_count, sc->affinity, m)))
		return err;
	d->affinity = sc->affinity;
	d->svc.affinity_size = m;
	return 0;
}

/* The route's backendRefs, targets as local strings (3.5). */
static int block__splits(struct snap_block_scratch *sc, const struct snap_service_in *s,
			 struct block_draft *d, struct block_strings *bs)
{
	uint32_t n = s->n_splits > LDMESH_SPLITS_MAX ? LDMESH_SPLITS_MAX : s->n_splits;
	int err = block__reserve(&sc->splits, &sc->cap_splits, n, sizeof(*sc->splits));

	for (uint32_t i = 0; !err && i < n; i++) {
		const struct snap_split_in *in = &s->splits[i];
		struct ldmesh_split *o = &sc->splits[i];

		*o = (struct ldmesh_split){ .weight = in->weight, .port = in->port,
					    .parent_port = in->parent_port };
		err = block__local_cstr(bs, in->target, &o->target);
	}
	if (err)
		return err;
	d->splits = sc->splits;
	d->svc.split_count = n;
	return 0;
}

/* One allocation: the header, then each array in the order the accessors
 * (snap_block.h) walk them; every array's size keeps the next aligned. */
static int block__pack(const struct block_draft *d, const struct block_strings *bs,
		       struct snap_block **out)
{
	size_t cells = (size_t)d->svc.endpoint_count * d->svc.port_count;
	const struct { const void *p; size_t len; } parts[] = {
		{ d->names, d->n_names * sizeof(*d->names) },
		{ d->vips, d->n_vips * sizeof(*d->vips) },
		{ d->ports, d->svc.port_count * sizeof(*d->ports) },
		{ d->eps, d->svc.endpoint_count * sizeof(*d->eps) },
		{ d->affinity, d->svc.affinity_size * sizeof(uint32_t) },
		{ d->splits, d->svc.split_count * sizeof(*d->splits) },
		{ d->ep_ports, cells * sizeof(uint16_t) },
		{ bs->data, bs->len },
	};
	size_t size = sizeof(struct snap_block);
	struct snap_block *b;
	uint8_t *at;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		size += parts[i].len;
	if (!(b = malloc(size)))
		return -ENOMEM;
	*b = (struct snap_block){ .refs = 1, .n_vips = d->n_vips, .n_names = d->n_names,
				  .strings_len = (uint32_t)bs->len, .svc = d->svc };
	at = (uint8_t *)b->data;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (parts[i].len)
			memcpy(at, parts[i].p, parts[i].len);
		at += parts[i].len;
	}
	b->content = ldmesh_hash64(&b->svc, size - offsetof(struct snap_block, svc), 0);
	*out = b;
	return 0;
}

int snap_block_build(const struct snap_block_ctx *ctx,
		     const struct snap_service_in *s, struct snap_block **out)
{
	struct snap_block_scratch *sc = ctx->scratch;
	struct block_strings bs = { .data = sc->strings, .cap = sc->cap_strings };
	struct block_draft d;
	int err;

	if ((err = block__draft(sc, s, &d)))
		return err;
	err = block__records(ctx, s, &d, &bs);
	if (!err)
		err = block__names(ctx, s, &d, &bs);
	/* the strings array may have moved while growing: keep it for the
	 * next block either way */
	sc->strings = bs.data;
	sc->cap_strings = bs.cap;
	if (!err && (s->flags & LDMESH_SVC_F_AFFINITY_CLIENT_IP) && d.svc.ready_count)
		err = block__affinity(sc, &d);
	if (!err && s->n_splits)
		err = block__splits(sc, s, &d, &bs);
	sc->strings = bs.data;
	sc->cap_strings = bs.cap;
	if (!err && bs.len > SNAP_BLOCK_LOCAL - 1)
		err = -E2BIG;
	return err ? err : block__pack(&d, &bs, out);
}

/* The local strings a shadow keeps: namespace, name, then every index
 * name's FQDN, in the block's length-prefixed form. */
static size_t shadow__strings_len(const struct snap_block *b)
{
	const struct snap_name_key *names = snap_block_names(b);
	size_t len = 0;
	uint8_t n;

	snap_block_str(b, b->svc.ns, &n);
	len += n + 2u;
	snap_block_str(b, b->svc.name, &n);
	len += n + 2u;
	for (uint32_t k = 0; k < b->n_names; k++) {
		snap_block_str(b, names[k].fqdn, &n);
		len += n + 2u;
	}
	return len;
}

size_t snap_shadow_size(const struct snap_block *b)
{
	size_t size = sizeof(struct snap_shadow) + b->n_vips * sizeof(struct snap_vip_key) +
		      b->n_names * sizeof(struct snap_name_key) + shadow__strings_len(b);

	return (size + 7) & ~(size_t)7;
}

/* Copy a local string of `b` to the end of `strings` (*len bytes so far). */
static ldmesh_str_t shadow__copy_str(const struct snap_block *b, ldmesh_str_t ref,
				     char *strings, uint32_t *len)
{
	uint8_t n;
	const char *p = snap_block_str(b, ref, &n);
	ldmesh_str_t at = SNAP_BLOCK_LOCAL | *len;

	*len += (uint32_t)snap_local_put(strings + *len, p, n);
	return at;
}

void snap_shadow_write(const struct snap_block *b, struct snap_shadow *out)
{
	struct snap_vip_key *vips = (struct snap_vip_key *)out->data;
	struct snap_name_key *names = (struct snap_name_key *)(vips + b->n_vips);
	char *strings = (char *)(names + b->n_names);
	uint32_t len = 0;

	*out = (struct snap_shadow){ .key = b->key, .content = b->content,
				     .n_vips = b->n_vips, .n_names = b->n_names };
	memcpy(vips, snap_block_vips(b), b->n_vips * sizeof(*vips));
	memcpy(names, snap_block_names(b), b->n_names * sizeof(*names));
	shadow__copy_str(b, b->svc.ns, strings, &len);
	shadow__copy_str(b, b->svc.name, strings, &len);
	for (uint32_t k = 0; k < b->n_names; k++)
		names[k].fqdn = shadow__copy_str(b, names[k].fqdn, strings, &len);
}

void snap_block_unref(struct snap_block *b)
{
	if (b && !--b->refs)
		free(b);
}

void snap_block_scratch_free(struct snap_block_scratch *s)
{
	free(s->ports);
	free(s->eps);
	free(s->ep_ports);
	free(s->affinity);
	free(s->splits);
	free(s->maglev);
	free(s->vips);
	free(s->names);
	free(s->strings);
	memset(s, 0, sizeof(*s));
}
