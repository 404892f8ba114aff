/* SPDX-License-Identifier: MIT */
/*
 * A delta over its base (snapshot.h, "Bases and deltas"): linking the two
 * views, and the base layer's half of every accessor in the unified index
 * space (reader.h, "Layers"). A base record is checked against the base's
 * own counts in the copy, exactly as on the base alone, and only then are
 * its references moved up by the delta's counts; so through a delta a base
 * service answers what it answers alone, whatever either mapping says.
 * Pure functions on views; no I/O.
 */
#include <errno.h>
#include <string.h>

#include "ldmesh/reader.h"

/* Every unified index stays below this, so LDMESH_NONE and LDMESH_SHADOW
 * never name a record and a damaged reference can be kept damaged. */
#define LAYERS_LIMIT LDMESH_SHADOW

/* Never inlined, even by LTO: inlined, they would make the callers (the
 * connect path's VIP lookup and backend choice) too large to inline in
 * turn, and a base-only table would pay calls it never needed. */
#define LAYERS_OUT_OF_LINE __attribute__((noinline))

static bool layers__fits(uint32_t own, uint32_t base)
{
	return (uint64_t)own + base < LAYERS_LIMIT;
}

int ldmesh_snap_link(struct ldmesh_snap *delta, const struct ldmesh_snap *base,
		     const char **why)
{
	struct ldmesh_strv a, b;
	const char *ignored;

	if (!why)
		why = &ignored;
	*why = NULL;
	if (!delta->base_generation)
		*why = "not a delta";
	else if (base->base_generation)
		*why = "the base is itself a delta";
	else if (base->generation != delta->base_generation)
		*why = "the base is not the generation the delta names";
	else if (!layers__fits(delta->n_services, base->n_services) ||
		 !layers__fits(delta->n_ports, base->n_ports) ||
		 !layers__fits(delta->n_endpoints, base->n_endpoints) ||
		 !layers__fits(delta->n_endpoint_ports, base->n_endpoint_ports) ||
		 !layers__fits(delta->n_affinity, base->n_affinity) ||
		 !layers__fits(delta->n_splits, base->n_splits) ||
		 !layers__fits(delta->strings_size, base->strings_size))
		*why = "delta and base together too large";
	if (*why)
		return -EINVAL;
	/* The same agent's table: a base of another cluster or node would
	 * route by someone else's policy. Names are compared, not refs: the
	 * two pools are laid out independently. */
	a = ldmesh_snap_string(delta, delta->cluster_domain);
	b = ldmesh_snap_string(base, base->cluster_domain);
	if (a.len != b.len || memcmp(a.p, b.p, a.len)) {
		*why = "the base has another cluster domain";
		return -EINVAL;
	}
	a = ldmesh_snap_string(delta, delta->node_name);
	b = ldmesh_snap_string(base, base->node_name);
	if (a.len != b.len || memcmp(a.p, b.p, a.len)) {
		*why = "the base has another node name";
		return -EINVAL;
	}
	delta->base_snap = base;
	return 0;
}

/* A base index moved up by the delta's count; a bad one stays bad. */
static uint32_t layers__up(uint32_t v, uint32_t base_n, uint32_t own_n)
{
	return v < base_n ? v + own_n : LAYERS_LIMIT;
}

static ldmesh_str_t layers__str(const struct ldmesh_snap *s, ldmesh_str_t ref)
{
	return layers__up(ref, s->base_snap->strings_size, s->strings_size);
}

LAYERS_OUT_OF_LINE bool ldmesh__service_below(const struct ldmesh_snap *s, uint32_t i,
			   struct ldmesh_service *out)
{
	const struct ldmesh_snap *b = s->base_snap;
	uint32_t k = i - s->n_services;

	if (k >= b->n_services || !ldmesh__service_own(b, k, out))
		return false;
	/* checked against the base above: these sums fit (link) */
	out->first_port += s->n_ports;
	out->first_endpoint += s->n_endpoints;
	out->first_endpoint_port = layers__up(out->first_endpoint_port,
					      b->n_endpoint_ports, s->n_endpoint_ports);
	out->affinity_offset = layers__up(out->affinity_offset, b->n_affinity,
					  s->n_affinity);
	out->first_split = layers__up(out->first_split, b->n_splits, s->n_splits);
	out->ns = layers__str(s, out->ns);
	out->name = layers__str(s, out->name);
	out->external_name = layers__str(s, out->external_name);
	return true;
}

LAYERS_OUT_OF_LINE bool ldmesh__port_below(const struct ldmesh_snap *s, uint32_t i,
			struct ldmesh_port *out)
{
	const struct ldmesh_snap *b = s->base_snap;
	uint32_t k = i - s->n_ports;

	if (k >= b->n_ports)
		return false;
	LDMESH__COPY(out, &b->ports[k]);
	out->name = layers__str(s, out->name);
	out->target_port_name = layers__str(s, out->target_port_name);
	out->app_protocol = layers__str(s, out->app_protocol);
	return true;
}

LAYERS_OUT_OF_LINE bool ldmesh__endpoint_below(const struct ldmesh_snap *s, uint32_t i,
			    struct ldmesh_endpoint *out)
{
	const struct ldmesh_snap *b = s->base_snap;
	uint32_t k = i - s->n_endpoints;

	if (k >= b->n_endpoints)
		return false;
	LDMESH__COPY(out, &b->endpoints[k]);
	out->node = layers__str(s, out->node);
	out->zone = layers__str(s, out->zone);
	out->hostname = layers__str(s, out->hostname);
	out->target = layers__str(s, out->target);
	out->zone_hints = layers__str(s, out->zone_hints);
	return true;
}

LAYERS_OUT_OF_LINE bool ldmesh__split_below(const struct ldmesh_snap *s, uint64_t i,
					    struct ldmesh_split *out)
{
	const struct ldmesh_snap *b = s->base_snap;
	uint64_t k = i - s->n_splits;

	if (k >= b->n_splits)
		return false;
	LDMESH__COPY(out, &b->splits[k]);
	out->target = layers__str(s, out->target);
	return true;
}

LAYERS_OUT_OF_LINE uint16_t ldmesh__endpoint_port_below(const struct ldmesh_snap *s, uint64_t cell)
{
	const struct ldmesh_snap *b = s->base_snap;
	uint64_t k = cell - s->n_endpoint_ports;

	return k < b->n_endpoint_ports ? b->endpoint_ports[k] : 0;
}

LAYERS_OUT_OF_LINE uint32_t ldmesh__affinity_below(const struct ldmesh_snap *s, uint64_t cell)
{
	const struct ldmesh_snap *b = s->base_snap;
	uint64_t k = cell - s->n_affinity;

	return k < b->n_affinity ? *(const volatile uint32_t *)&b->affinity[k]
				 : LDMESH_NONE;
}

uint32_t ldmesh_snap_service_count(const struct ldmesh_snap *s)
{
	return s->n_services + (s->base_snap ? s->base_snap->n_services : 0);
}

/* Whether SUPERSEDED holds `k`. Each entry is read once; a damaged
 * (unsorted) section gives a wrong answer in at most 33 steps. */
static bool layers__superseded(const struct ldmesh_snap *s, uint32_t k)
{
	uint32_t lo = 0, hi = s->n_superseded;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t v = *(const volatile uint32_t *)&s->superseded[mid];

		if (v == k)
			return true;
		if (v < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool ldmesh_snap_service_listed(const struct ldmesh_snap *s, uint32_t i)
{
	if (i < s->n_services)
		return true;
	return i < ldmesh_snap_service_count(s) &&
	       !layers__superseded(s, i - s->n_services);
}
